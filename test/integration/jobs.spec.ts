import { registerUser, type TestUser } from "../factories/users";
import { http, startNode, type Http, type TestNode } from "../helpers/node";
import { openSse } from "../helpers/sse";
import { waitFor } from "../helpers/wait";
import { steeredOrchestrator } from "../helpers/fake-orchestrator";

/** Async jobs over HTTP in embedded mode (in-process queue), with a fake orchestrator the test steers. */

const orchestrator = steeredOrchestrator(analysis_id => ({ analysis_id, overall_score: 7.5 }));
const { gates, owners, runs } = orchestrator;

let node: TestNode;
let request: Http;
let alice: TestUser & { id: string };
let bob: TestUser & { id: string };

async function user(): Promise<TestUser & { id: string }> {
	const u = await registerUser(request);
	const me = await request("GET", "/auth/me", { token: u.access_token });
	return { ...u, id: me.body.id };
}

async function enqueue(analysisId: string, owner = alice, idempotency_key?: string): Promise<string> {
	owners.set(analysisId, owner.id);
	const out = await node.broker.call<{ job_id: string }, object>("jobs.enqueue", {
		job: { kind: "analysis", analysis_id: analysisId },
		user_id: owner.id,
		...(idempotency_key ? { idempotency_key } : {})
	});
	return out.job_id;
}

const status = (id: string, token = alice.access_token) => request("GET", `/analysis/jobs/${id}`, { token });
const release = (analysisId: string) => waitFor(() => gates.get(analysisId)).then(go => go());

beforeAll(async () => {
	node = await startNode({ services: ["api", "users", "auth", "jobs"], env: { JOB_CONCURRENCY: "1", JOB_ATTEMPTS: "2", JOB_BACKOFF_MS: "10" } });
	node.broker.createService(orchestrator.schema);
	await node.broker.waitForServices(["orchestrator"]);
	request = http(node.url);
	alice = await user();
	bob = await user();
});
afterAll(() => node.stop());
beforeEach(() => {
	runs.length = 0;
});

describe("async analysis jobs", () => {
	it("refuses a status read without a token → 401", async () => {
		const id = await enqueue("a-unauth");
		expect((await request("GET", `/analysis/jobs/${id}`)).status).toBe(401);
		await release("a-unauth");
		await waitFor(async () => (await status(id)).body.status === "completed");
	});

	it("goes queued → running → completed, with progress and the result", async () => {
		const first = await enqueue("a-first");
		const second = await enqueue("a-second");
		expect(first).toBe("analysis-a-first");
		await waitFor(async () => (await status(first)).body.status === "running");
		expect((await status(second)).body).toEqual({ job_id: second, kind: "analysis", status: "queued", progress: 0, attempts: 0 });

		await release("a-first");
		const done = await waitFor(async () => {
			const r = await status(first);
			return r.body.status === "completed" ? r : null;
		});
		expect(done.status).toBe(200);
		expect(done.body).toEqual({ job_id: first, kind: "analysis", status: "completed", progress: 100, attempts: 1, result: { analysis_id: "a-first", overall_score: 7.5 } });

		await waitFor(async () => (await status(second)).body.status === "running");
		await release("a-second");
		await waitFor(async () => (await status(second)).body.status === "completed");
	});

	it("answers 404 for someone else's job, and for a job that does not exist", async () => {
		const id = await enqueue("a-private");
		const other = await status(id, bob.access_token);
		expect(other.status).toBe(404);
		expect(other.body.error_code).toBe("NOT_FOUND");
		expect((await request("POST", `/analysis/jobs/${id}/cancel`, { token: bob.access_token })).status).toBe(404);
		expect((await status("analysis-nope")).status).toBe(404);
		expect((await status("whatever")).status).toBe(404);
		await release("a-private");
		await waitFor(async () => (await status(id)).body.status === "completed");
	});

	it("is idempotent: the same analysis or idempotency key answers the same job", async () => {
		const a = await enqueue("a-idem");
		expect(await enqueue("a-idem")).toBe(a);
		const k1 = await enqueue("a-key-1", alice, "same-request");
		expect(await enqueue("a-key-2", alice, "same-request")).toBe(k1);
		expect(await enqueue("a-key-3", bob, "same-request")).not.toBe(k1);
		for (const id of ["a-idem", "a-key-1", "a-key-3"]) await release(id);
		await waitFor(async () => (await status(a)).body.status === "completed");
		expect(runs.filter(r => r === "a-idem")).toHaveLength(1);
		expect(runs).not.toContain("a-key-2");
	});

	it("cancels a queued job: it never runs; a finished job cannot be cancelled (409)", async () => {
		const blocker = await enqueue("a-blocker");
		const victim = await enqueue("a-victim");
		await waitFor(async () => (await status(blocker)).body.status === "running");
		const res = await request("POST", `/analysis/jobs/${victim}/cancel`, { token: alice.access_token });
		expect(res.status).toBe(200);
		expect(res.body).toEqual({ job_id: victim, status: "cancelled" });
		expect((await status(victim)).body).toMatchObject({ status: "cancelled", error: "cancelled" });

		await release("a-blocker");
		await waitFor(async () => (await status(blocker)).body.status === "completed");
		expect(runs).not.toContain("a-victim");
		expect((await request("POST", `/analysis/jobs/${blocker}/cancel`, { token: alice.access_token })).status).toBe(409);
	});

	it("keeps a job whose orchestrator run keeps failing as failed, with the reason", async () => {
		const id = await enqueue("broken-1");
		const failed = await waitFor(async () => {
			const r = await status(id);
			return r.body.status === "failed" ? r : null;
		});
		expect(failed.body).toMatchObject({ status: "failed", attempts: 2, error: "the orchestrator broke" });
		expect(runs).toEqual(["broken-1", "broken-1"]);
		const listed = await node.broker.call<{ job_id: string; reason: string }[], object>("jobs.failed", {});
		expect(listed).toEqual(expect.arrayContaining([expect.objectContaining({ job_id: id, reason: "the orchestrator broke", attempts: 2 })]));
	});

	it("streams progress: the last state on connect, then node events, then completion, and closes", async () => {
		const id = await enqueue("a-stream");
		await waitFor(async () => (await status(id)).body.status === "running");
		await waitFor(() => gates.has("a-stream"));
		const sse = await openSse(`${node.url}/analysis/jobs/${id}/events`, alice.access_token);
		try {
			expect(sse.status).toBe(200);
			expect(sse.headers.get("content-type")).toMatch(/^text\/event-stream/);
			const replay = await sse.next();
			expect(replay).toEqual({ event: "progress", data: expect.objectContaining({ job_id: id, status: "running", node: "vision", node_status: "started" }) });

			await release("a-stream");
			const step = await sse.next();
			expect(step).toEqual({ event: "progress", data: expect.objectContaining({ analysis_id: "a-stream", node: "vision", status: "finished" }) });
			const end = await sse.next();
			expect(end).toEqual({ event: "completed", data: expect.objectContaining({ analysis_id: "a-stream", status: "completed", media_id: "media-1" }) });
			expect(await sse.next()).toBeNull();
		} finally {
			sse.close();
		}
	});

	it("replays a finished job's end state and closes at once; someone else's stream is 404", async () => {
		const id = await enqueue("a-done");
		await release("a-done");
		await waitFor(async () => (await status(id)).body.status === "completed");
		const denied = await openSse(`${node.url}/analysis/jobs/${id}/events`, bob.access_token);
		expect(denied.status).toBe(404);
		denied.close();
		const sse = await openSse(`${node.url}/analysis/jobs/${id}/events`, alice.access_token);
		try {
			expect((await sse.next())?.data).toMatchObject({ status: "completed", progress: 100 });
			expect(await sse.next()).toEqual({ event: "completed", data: expect.objectContaining({ status: "completed", result: expect.any(Object) }) });
			expect(await sse.next()).toBeNull();
		} finally {
			sse.close();
		}
	});
});
