import { http, startNode, type TestNode } from "../helpers/node";
import { registerUser } from "../factories/users";

describe("embedded backend smoke", () => {
	let node: TestNode;
	beforeAll(async () => {
		node = await startNode({ services: ["api", "users", "auth"] });
	});
	afterAll(() => node.stop());

	it("answers /health and serves the auth flow", async () => {
		const request = http(node.url);
		expect((await request("GET", "/health")).body).toEqual({ status: "ok" });
		const user = await registerUser(request);
		const me = await request("GET", "/auth/me", { token: user.access_token });
		expect(me.status).toBe(200);
		expect(me.body.email).toBe(user.email);
	});
});
