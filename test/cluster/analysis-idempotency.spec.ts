import sharp from "sharp";
import { registerUser } from "../factories/users";
import { uploadForm } from "../factories/images";
import { cleanRedis, clusterEnv, uniqueNamespace } from "../helpers/cluster";
import { steeredOrchestrator } from "../helpers/fake-orchestrator";
import { http, startNode, tempDir, type TestNode } from "../helpers/node";
import { waitFor } from "../helpers/wait";

/**
 * The idempotency lock across gateway nodes: identical async analysis requests sent at the same
 * instant to two gateways (each with its own `analysis` service, the stores on a third node) answer one job and one analysis
 * — the lock is a Redis key, not a lock in one process. The orchestrator is a steered fake (the
 * jobs only need to exist), so no vision pass runs.
 */

const orchestrator = steeredOrchestrator(analysis_id => ({ analysis_id, overall_score: 7 }));
const namespace = uniqueNamespace("lmt-idem");
const nodes: TestNode[] = [];

afterAll(async () => {
	for (const release of orchestrator.gates.values()) release();
	for (const n of nodes.reverse()) await n.stop();
	await cleanRedis(namespace);
});

it("identical async requests on two gateway nodes at the same instant answer one job and one analysis", async () => {
	const env = clusterEnv(namespace, { LOG_LEVEL: "error", JOB_BACKOFF_MS: "10", RATE_LIMITS: "default=100000/60,upload=1000/60,analyze=1000/60,auth=1000/60" });
	// The stores on a node of their own: both gateways reach them over the transporter alike (no node is closer).
	const store = await startNode({ services: ["users", "auth", "storage", "media", "analyses"], env: { ...env, DATA_DIR: tempDir() }, broker: { nodeID: "store-1" } });
	nodes.push(store);
	const gw1 = await startNode({ services: ["api", "analysis", "jobs"], env: { ...env, DATA_DIR: tempDir() }, broker: { nodeID: "gw-1" } });
	nodes.push(gw1);
	const gw2 = await startNode({ services: ["api", "analysis", "jobs"], env: { ...env, DATA_DIR: tempDir() }, broker: { nodeID: "gw-2" } });
	nodes.push(gw2);
	store.broker.createService(orchestrator.schema);
	for (const gw of [gw1, gw2]) await gw.broker.waitForServices(["orchestrator", "media", "analyses", "users", "auth", "storage"], 10_000);

	const r1 = http(gw1.url);
	const r2 = http(gw2.url);
	const user = await registerUser(r1);
	const me = await r1("GET", "/auth/me", { token: user.access_token });
	const r = [r1, r2];

	// Several rounds (a new media each): in every one, six identical requests spread over both gateways at once.
	for (let round = 0; round < 4; round++) {
		const photo = await sharp({ create: { width: 64, height: 48, channels: 3, background: `#3a7${round}` } }).jpeg().toBuffer();
		const up = await uploadForm(gw1.url, user.access_token, photo, { type: "image/jpeg" });
		expect(up.status).toBe(200);
		const body = { media_id: up.body.media_id, user_consent: { bio_analysis: false } };

		const sent = await Promise.all([0, 1, 2, 3, 4, 5].map(i => r[(i + round) % 2]("POST", "/analysis/analyze?async=true", { token: user.access_token, body })));
		for (const s of sent) expect(s.status).toBe(202);
		expect(new Set(sent.map(s => s.body.job_id)).size).toBe(1);
		expect(new Set(sent.map(s => s.body.analysis_id)).size).toBe(1);
		const analysis_id = sent[0].body.analysis_id;
		const listed = await gw2.broker.call<{ items: { _id: string; media_id: string }[] }, object>("analyses.listForUser", { user_id: me.body.id, limit: 100 });
		expect(listed.items.filter(d => d.media_id === up.body.media_id).map(d => d._id)).toEqual([analysis_id]);

		// The one job runs once, on whichever node took it.
		orchestrator.owners.set(analysis_id, me.body.id);
		await waitFor(() => orchestrator.gates.has(analysis_id), 10_000);
		orchestrator.gates.get(analysis_id)!();
		await waitFor(async () => (await r2("GET", `/analysis/jobs/${sent[0].body.job_id}`, { token: user.access_token })).body.status === "completed", 10_000);
		expect(orchestrator.runs.filter(id => id === analysis_id)).toHaveLength(1);
	}
}, 60_000);
