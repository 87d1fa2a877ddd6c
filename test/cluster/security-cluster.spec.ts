import fs from "node:fs";
import { registerUser } from "../factories/users";
import { cleanRedis, clusterEnv, uniqueNamespace, waitForNodes } from "../helpers/cluster";
import { http, startNode, tempDir, type TestNode } from "../helpers/node";

/**
 * Two gateway nodes on the real Redis transporter, each running the API, the API key and the
 * audit services over one shared NeDB store (safe in one process), each with its own memory cacher.
 */
describe("API keys and the audit log across gateway nodes", () => {
	let dataDir: string;
	const SERVICES = ["api", "users", "auth", "storage", "media", "apikeys", "audit"];
	let namespace: string;
	let nodes: TestNode[];

	beforeEach(async () => {
		namespace = uniqueNamespace("lm-sec");
		dataDir = tempDir("lm-sec-cluster-");
		nodes = [];
		for (const id of ["gw-a", "gw-b"])
			nodes.push(
				await startNode({
					services: SERVICES,
					env: clusterEnv(namespace, { DATA_DIR: dataDir, LOG_LEVEL: "error", CACHER: "memory", RATE_LIMITS: "auth=10000/60,default=10000/60" }),
					broker: { nodeID: id }
				})
			);
		await waitForNodes(nodes[0].broker, "apikeys", ["gw-a", "gw-b"]);
		await waitForNodes(nodes[1].broker, "audit", ["gw-a", "gw-b"]);
	});

	afterEach(async () => {
		for (const n of nodes) await n.stop();
		await cleanRedis(namespace);
		fs.rmSync(dataDir, { recursive: true, force: true });
	});

	it("a key revoked through one gateway stops working at once on the other, whose lookup was cached", async () => {
		const [a, b] = nodes.map(n => http(n.url));
		const user = await registerUser(a);
		const created = await a("POST", "/auth/api-keys", { token: user.access_token, body: { name: "svc", scopes: ["read"] } });
		expect(created.status).toBe(201);
		const key = created.body.key as string;
		expect((await a("GET", "/media", { headers: { "x-api-key": key } })).status).toBe(200);
		expect((await b("GET", "/media", { headers: { "x-api-key": key } })).status).toBe(200);

		expect((await b("DELETE", `/auth/api-keys/${created.body.id}`, { token: user.access_token })).status).toBe(200);
		// The broadcast reaches the other node within a moment; no TTL wait.
		const deadline = Date.now() + 1000;
		let status = 0;
		while (Date.now() < deadline && (status = (await a("GET", "/media", { headers: { "x-api-key": key } })).status) !== 401) await new Promise(r => setTimeout(r, 20));
		expect(status).toBe(401);
		expect((await b("GET", "/media", { headers: { "x-api-key": key } })).status).toBe(401);
	});

	it("each node appends to its own chain; verification from either node checks both", async () => {
		await Promise.all(
			nodes.flatMap(n => Array.from({ length: 15 }, (_, i) => n.broker.call("audit.record", { type: "test.cluster", subject_id: `u${i}` })))
		);
		for (const n of nodes) {
			const v = await n.broker.call<{ ok: boolean; entries: number; chains: { chain: string; entries: number; ok: boolean }[] }, object>("audit.verify", {});
			expect(v.ok).toBe(true);
			expect(v.chains).toEqual([expect.objectContaining({ chain: "gw-a", entries: 15, ok: true }), expect.objectContaining({ chain: "gw-b", entries: 15, ok: true })]);
		}
		const svc = nodes[0].broker.getLocalService("audit") as unknown as { dbFind<T>(q: object): Promise<T[]>; dbUpdate(id: string, s: object): Promise<unknown> };
		const [victim] = await svc.dbFind<{ _id: string }>({ query: { chain: "gw-b", seq: 7 } });
		await svc.dbUpdate(victim._id, { subject_id: "someone-else" });
		expect(await nodes[0].broker.call("audit.verify", {})).toMatchObject({ ok: false, first_bad_chain: "gw-b", first_bad_seq: 7 });
	});
});
