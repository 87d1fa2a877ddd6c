import { registerUser } from "../factories/users";
import { cleanRedis, clusterEnv, uniqueNamespace } from "../helpers/cluster";
import { http, startNode, tempDir, type TestNode } from "../helpers/node";
import { openSse } from "../helpers/sse";
import { waitFor } from "../helpers/wait";
import { steeredOrchestrator } from "../helpers/fake-orchestrator";

/** Jobs on BullMQ across two nodes: the status and the progress stream follow a job that runs elsewhere. */

const orchestrator = steeredOrchestrator((analysis_id, nodeID) => ({ analysis_id, ran_on: nodeID }));
const { gates, owners } = orchestrator;

const namespace = uniqueNamespace("lmt-jobs");
const nodes: TestNode[] = [];

afterAll(async () => {
	for (const n of nodes.reverse()) await n.stop();
	await cleanRedis(namespace);
});

it("runs a job on a worker node while the gateway answers its status and streams its progress", async () => {
	const dataDir = tempDir();
	const env = clusterEnv(namespace, { DATA_DIR: dataDir, LOG_LEVEL: "error", JOB_BACKOFF_MS: "10" });
	const gateway = await startNode({ services: ["api", "users", "auth", "jobs"], env, broker: { nodeID: "gateway-1" } });
	nodes.push(gateway);
	const worker = await startNode({ services: ["jobs"], env, broker: { nodeID: "worker-1" } });
	nodes.push(worker);
	worker.broker.createService(orchestrator.schema);
	await gateway.broker.waitForServices(["orchestrator"], 10_000);

	const request = http(gateway.url);
	const user = await registerUser(request);
	const me = await request("GET", "/auth/me", { token: user.access_token });
	owners.set("c-1", me.body.id);
	const { job_id } = await gateway.broker.call<{ job_id: string }, object>("jobs.enqueue", { job: { kind: "analysis", analysis_id: "c-1" }, user_id: me.body.id });
	await waitFor(() => gates.has("c-1"), 10_000);
	expect((await request("GET", `/analysis/jobs/${job_id}`, { token: user.access_token })).body).toMatchObject({ job_id, status: "running" });

	const sse = await openSse(`${gateway.url}/analysis/jobs/${job_id}/events`, user.access_token);
	try {
		expect(await sse.next()).toEqual({ event: "progress", data: expect.objectContaining({ job_id, status: "running" }) });
		gates.get("c-1")!();
		expect(await sse.next()).toEqual({ event: "progress", data: expect.objectContaining({ node: "vision", status: "finished" }) });
		expect(await sse.next()).toEqual({ event: "completed", data: expect.objectContaining({ analysis_id: "c-1", status: "completed" }) });
		expect(await sse.next()).toBeNull();
	} finally {
		sse.close();
	}
	const done = await waitFor(async () => {
		const r = await request("GET", `/analysis/jobs/${job_id}`, { token: user.access_token });
		return r.body.status === "completed" ? r.body : null;
	}, 10_000);
	expect(done.result).toEqual({ analysis_id: "c-1", ran_on: "worker-1" });
	const counts = await worker.broker.call<Record<string, { completed: number }>, object>("jobs.counts", { queue: "analysis" });
	expect(counts.analysis.completed).toBe(1);
});
