import { flagList, flagOn, type Flags } from "../../lib/flags";
import { http, startNode, type TestNode } from "../helpers/node";
import { registerUser } from "../factories/users";

const parse = (text?: string) => flagList.parse(text) as Flags;

describe("flags over HTTP", () => {
	let node: TestNode;
	const admin = `admin-${Date.now()}@example.com`;
	const inside = "user-123";

	beforeAll(async () => {
		node = await startNode({
			services: ["api", "users", "auth", "flags", "feed", "audit"],
			env: { FLAGS: "public_feed=off,enhanced_pipeline=30%", ADMIN_EMAILS: admin, RATE_LIMITS: "auth=1000/60" }
		});
	});
	afterAll(() => node.stop());

	it("a flag that is off answers 403 FEATURE_DISABLED on its route", async () => {
		const res = await http(node.url)("GET", "/public/feed");
		expect(res.status).toBe(403);
		expect(res.body).toMatchObject({ error_code: "FEATURE_DISABLED", details: { flag: "public_feed" } });
	});

	it("GET /admin/flags lists the flags for admins (and per user), and refuses everyone else", async () => {
		const request = http(node.url);
		const user = await registerUser(request);
		expect((await request("GET", "/admin/flags", { token: user.access_token })).status).toBe(403);
		expect((await request("GET", "/admin/flags")).status).toBe(401);
		const boss = await registerUser(request, { email: admin });
		const res = await request("GET", `/admin/flags?user_id=${inside}`, { token: boss.access_token });
		expect(res.status).toBe(200);
		expect(res.body.flags).toEqual(expect.arrayContaining([{ name: "public_feed", percent: 0, on: false }, { name: "enhanced_pipeline", percent: 30, on: flagOn(parse("enhanced_pipeline=30%"), "enhanced_pipeline", inside) }]));
	});
});
