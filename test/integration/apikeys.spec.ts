import fs from "node:fs";
import path from "node:path";
import type { ServiceBroker } from "moleculer";
import { registerUser, type TestUser } from "../factories/users";
import { http, startNode, type Http, type TestNode } from "../helpers/node";
import { sleep, waitFor } from "../helpers/wait";

const SERVICES = ["api", "users", "auth", "storage", "media", "apikeys", "audit"];
const ADMIN_EMAIL = "keys-admin@example.com";
const KEY_RE = /^lm_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/;
const PNG = { filename: "a.png", content_type: "image/png" };

interface KeysDb {
	dbFind<T>(q: object): Promise<T[]>;
	dbUpdate(id: string, set: object): Promise<unknown>;
}
const keysDb = (b: ServiceBroker) => b.getLocalService("apikeys") as unknown as KeysDb;
const auditOf = (b: ServiceBroker, type: string) =>
	(b.getLocalService("audit") as unknown as KeysDb).dbFind<{ type: string; subject_id: string; data: Record<string, unknown> }>({ query: { type } });

describe("API keys", () => {
	let node: TestNode;
	let request: Http;
	let owner: TestUser;
	let ownerId: string;

	beforeAll(async () => {
		node = await startNode({ services: SERVICES, env: { RATE_LIMITS: "auth=10000/60,default=10000/60", API_KEY_MAX_ACTIVE: "4", ADMIN_EMAILS: ADMIN_EMAIL } });
		request = http(node.url);
		owner = await registerUser(request);
		ownerId = (await request("GET", "/auth/me", { token: owner.access_token })).body.id;
	});
	afterAll(() => node.stop());

	const create = (body: object, token = owner.access_token) => request("POST", "/auth/api-keys", { token, body });
	const withKey = (method: string, p: string, key: string, body?: object) => request(method, p, { headers: { "x-api-key": key }, body });

	it("refuses to manage keys without a signed-in user → 401", async () => {
		expect((await request("POST", "/auth/api-keys", { body: { name: "x", scopes: ["read"] } })).status).toBe(401);
		expect((await request("GET", "/auth/api-keys")).status).toBe(401);
		expect((await request("DELETE", "/auth/api-keys/anything")).status).toBe(401);
	});

	it("creates a key shown once, lists keys without secrets, stores only a hash", async () => {
		const res = await create({ name: "ci server", scopes: ["read", "read"], expires_in_days: 30 });
		expect(res.status).toBe(201);
		expect(res.body).toEqual({
			id: expect.any(String),
			name: "ci server",
			prefix: res.body.key.slice(3, 15),
			scopes: ["read"],
			created_at: expect.any(String),
			expires_at: expect.any(String),
			revoked_at: null,
			status: "active",
			key: expect.stringMatching(KEY_RE)
		});
		expect(Date.parse(res.body.expires_at) - Date.parse(res.body.created_at)).toBe(30 * 86400_000);
		const list = await request("GET", "/auth/api-keys", { token: owner.access_token });
		expect(list.status).toBe(200);
		const listed = list.body.items.find((k: { id: string }) => k.id === res.body.id);
		expect(listed).toEqual({ ...res.body, key: undefined });
		expect(list.text).not.toContain(res.body.key.slice(16));
		expect(list.text).not.toContain("secret_hash");
		const stored = fs.readFileSync(path.join(node.dataDir, "db", "api_keys.db"), "utf8");
		expect(stored).toContain(res.body.prefix);
		expect(stored).not.toContain(res.body.key.slice(16));
		await waitFor(async () => (await auditOf(node.broker, "apikey.created")).some(e => e.data.key_id === res.body.id && e.subject_id === ownerId));
	});

	it("rejects malformed requests → 422", async () => {
		for (const body of [
			{ name: "x", scopes: ["admin"] },
			{ name: "x", scopes: [] },
			{ name: "x", scopes: "read" },
			{ name: "", scopes: ["read"] },
			{ name: "<script>", scopes: ["read"] },
			{ name: "x", scopes: ["read"], expires_in_days: 0 },
			{ name: "x", scopes: ["read"], expires_in_days: "7" },
			{ name: { $gt: "" }, scopes: ["read"] }
		])
			expect((await create(body)).status).toBe(422);
	});

	it("a read key reads (GET) as its owner and cannot write; X-API-Key and Bearer lm_… both work", async () => {
		const { key } = (await create({ name: "reader", scopes: ["read"] })).body;
		expect((await withKey("GET", "/media", key)).status).toBe(200);
		expect((await request("GET", "/media", { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
		const post = await withKey("POST", "/media/presign", key, PNG);
		expect(post.status).toBe(403);
		expect(post.body.error_code).toBe("FORBIDDEN");
	});

	it("write scopes open their own routes only; key management, the account and admin routes need a token", async () => {
		const media = (await create({ name: "uploader", scopes: ["media:write"] })).body.key;
		const analysis = (await create({ name: "analyst", scopes: ["analysis:write"] })).body.key;
		expect((await withKey("POST", "/media/presign", media, PNG)).status).toBe(200);
		expect((await withKey("POST", "/media/presign", analysis, PNG)).status).toBe(403);
		expect((await withKey("GET", "/media", media)).status).toBe(403); // no `read`
		for (const [m, p] of [["GET", "/auth/api-keys"], ["POST", "/auth/api-keys"], ["GET", "/auth/me"], ["PATCH", "/auth/me"]] as const)
			expect((await withKey(m, p, media, m === "GET" ? undefined : { name: "x", scopes: ["read"] })).status).toBe(403);

		const admin = await registerUser(request, { email: ADMIN_EMAIL, password: "Blue-Harbor-Lantern-42" });
		const adminKey = (await create({ name: "admin's", scopes: ["read"] }, admin.access_token)).body.key;
		expect((await request("GET", "/admin/audit/verify", { token: admin.access_token })).status).toBe(200);
		expect((await withKey("GET", "/admin/audit/verify", adminKey)).status).toBe(403);
	});

	it("unknown, malformed and wrong-secret keys → 401; an open route ignores a bad key", async () => {
		const prober = await registerUser(request);
		const { key, id } = (await create({ name: "probe", scopes: ["read"] }, prober.access_token)).body;
		const wrongSecret = key.slice(0, 16) + (key[16] === "A" ? "B" : "A") + key.slice(17);
		for (const bad of [wrongSecret, "lm_000000000000_" + "A".repeat(43), "lm_short", "lm_" + "x".repeat(300)]) {
			const res = await withKey("GET", "/media", bad);
			expect(res.status).toBe(401);
			expect(res.body.error_code).toBe("INVALID_TOKEN");
		}
		expect((await withKey("GET", "/health", "lm_short")).status).toBe(200);
		await waitFor(async () => (await auditOf(node.broker, "apikey.rejected")).some(e => e.data.key_id === id && e.data.reason === "bad_secret"));
		expect(fs.readFileSync(path.join(node.dataDir, "db", "audit_log.db"), "utf8")).not.toContain(key.slice(16));
	});

	it("rotation: two keys work side by side; revoking the old one stops it at once (cached lookup cleaned) and not the new", async () => {
		const other = await registerUser(request);
		const oldKey = (await create({ name: "v1", scopes: ["read"] }, other.access_token)).body;
		const newKey = (await create({ name: "v2", scopes: ["read"] }, other.access_token)).body;
		expect((await withKey("GET", "/media", oldKey.key)).status).toBe(200);
		expect((await withKey("GET", "/media", newKey.key)).status).toBe(200);

		// Another user cannot see or revoke it.
		expect((await request("DELETE", `/auth/api-keys/${oldKey.id}`, { token: owner.access_token })).status).toBe(404);
		const revoked = await request("DELETE", `/auth/api-keys/${oldKey.id}`, { token: other.access_token });
		expect(revoked.status).toBe(200);
		expect(revoked.body).toMatchObject({ id: oldKey.id, status: "revoked", revoked_at: expect.any(String) });
		expect((await withKey("GET", "/media", oldKey.key)).status).toBe(401);
		expect((await withKey("GET", "/media", newKey.key)).status).toBe(200);
		expect((await request("DELETE", `/auth/api-keys/${oldKey.id}`, { token: other.access_token })).status).toBe(200);
		const list = (await request("GET", "/auth/api-keys", { token: other.access_token })).body.items;
		expect(list.map((k: { name: string; status: string }) => [k.name, k.status])).toEqual([["v2", "active"], ["v1", "revoked"]]);
		await waitFor(async () => (await auditOf(node.broker, "apikey.revoked")).filter(e => e.data.key_id === oldKey.id).length === 1);
	});

	it("an expired key → 401, even while its lookup is cached", async () => {
		const other = await registerUser(request);
		const { key, id } = (await create({ name: "short", scopes: ["read"] }, other.access_token)).body;
		await keysDb(node.broker).dbUpdate(id, { expires_at: new Date(Date.now() + 1500).toISOString() });
		expect((await withKey("GET", "/media", key)).status).toBe(200);
		await sleep(1600);
		expect((await withKey("GET", "/media", key)).status).toBe(401);
		const listed = (await request("GET", "/auth/api-keys", { token: other.access_token })).body.items;
		expect(listed[0].status).toBe("expired");
		await waitFor(async () => (await auditOf(node.broker, "apikey.rejected")).some(e => e.data.key_id === id && e.data.reason === "expired"));
	});

	it("caps active keys per user (API_KEY_MAX_ACTIVE); a revoked one frees a slot", async () => {
		const other = await registerUser(request);
		const ids: string[] = [];
		for (let i = 0; i < 4; i++) ids.push((await create({ name: `k${i}`, scopes: ["read"] }, other.access_token)).body.id);
		const over = await create({ name: "k4", scopes: ["read"] }, other.access_token);
		expect(over.status).toBe(403);
		expect(over.body.error_code).toBe("QUOTA_EXCEEDED");
		await request("DELETE", `/auth/api-keys/${ids[0]}`, { token: other.access_token });
		expect((await create({ name: "k4", scopes: ["read"] }, other.access_token)).status).toBe(201);
	});

	it("an erased user's keys are deleted and stop working", async () => {
		const other = await registerUser(request);
		const otherId = (await request("GET", "/auth/me", { token: other.access_token })).body.id;
		const { key } = (await create({ name: "doomed", scopes: ["read"] }, other.access_token)).body;
		expect((await withKey("GET", "/media", key)).status).toBe(200);
		await node.broker.emit("user.erased", { user_id: otherId, erasure_id: "e-keys" });
		await waitFor(async () => (await keysDb(node.broker).dbFind({ query: { user_id: otherId } })).length === 0);
		expect((await withKey("GET", "/media", key)).status).toBe(401);
	});
});

describe("API keys where the apikeys service does not run", () => {
	it("a key is refused → 401 (not a 5xx), and open routes still answer", async () => {
		const node = await startNode({ services: ["api", "users", "auth"] });
		try {
			const request = http(node.url);
			const res = await request("GET", "/auth/me", { headers: { "x-api-key": "lm_0123456789ab_" + "A".repeat(43) } });
			expect(res.status).toBe(401);
			expect(res.body.error_code).toBe("INVALID_TOKEN");
			expect((await request("GET", "/health", { headers: { "x-api-key": "lm_x" } })).status).toBe(200);
		} finally {
			await node.stop();
		}
	});
});
