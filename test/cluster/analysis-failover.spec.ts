import fs from "node:fs";
import { ServiceBroker, type Context } from "moleculer";
import { redisOptions } from "../../lib/redis";
import { realPhoto, uploadForm } from "../factories/images";
import { registerUser } from "../factories/users";
import { NODE_BIN, REDIS_URL, cleanRedis, clusterEnv, freePort, killAllSpawned, spawnNode, uniqueNamespace, waitFor, waitForNodes, waitForStatus, type NodeProcess } from "../helpers/cluster";
import { http, tempDir } from "../helpers/node";

/**
 * Async analyses on a real cluster: `node dist/bin/lifemirror-node.js` processes on the Redis
 * transporter — one gateway (ROLE=gateway: HTTP, stores, the BullMQ job queues) and worker
 * processes (ROLE=worker: orchestrator, vision pass, agents). A worker is killed with SIGKILL
 * while it runs analyses: every job still completes on the other worker, which resumes each
 * interrupted analysis from its checkpoints (no finished node runs again), and a worker that
 * joins late takes work. A probe broker in this process listens to the progress events.
 * Needs `npm run build`.
 */


interface Progress {
	analysis_id: string;
	node: string;
	status: string;
	from: string;
}

interface NodeRec {
	status: string;
	node_id?: string;
	run?: number;
	runs?: number;
	resumed?: boolean;
}

const namespace = uniqueNamespace("lm-failover");
const dirs: string[] = [];
let probe: ServiceBroker;
const progress: Progress[] = [];
const completedBy = new Map<string, string>();
const completedAt = new Map<string, number>();
/** Called on every progress event (the kill trigger is installed here). */
let onProgress: (p: Progress) => void = () => undefined;

afterAll(async () => {
	await killAllSpawned();
	await probe?.stop();
	await cleanRedis(namespace);
	for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function launch(name: string, env: Record<string, string>): Promise<{ proc: NodeProcess; url: string }> {
	const dataDir = tempDir(`lm-failover-${name}-`);
	dirs.push(dataDir);
	const port = await freePort();
	const proc = spawnNode(
		name,
		clusterEnv(namespace, { DATA_DIR: dataDir, PORT: String(port), HOST: "127.0.0.1", NODE_ID: name, CACHER: REDIS_URL, LOG_LEVEL: "error", ...env })
	);
	return { proc, url: `http://127.0.0.1:${port}` };
}

const worker = (name: string) => launch(name, { ROLE: "worker", VISION_THREADS: "1", AGENT_TIMEOUT_MS: "10000" });

/** Every field of a FinalAnalysisResponse (SPEC §3) with its type and range. */
function expectFinal(r: any, media_id: string) {
	expect(r.media_id).toBe(media_id);
	expect(typeof r.analysis_id).toBe("string");
	expect(Number.isNaN(Date.parse(r.timestamp))).toBe(false);
	for (const k of ["overall_score", "style_score", "presence_score"]) {
		expect(typeof r[k]).toBe("number");
		expect(r[k]).toBeGreaterThanOrEqual(0);
		expect(r[k]).toBeLessThanOrEqual(10);
	}
	expect(r.summary.length).toBeGreaterThan(20);
	for (const k of ["key_insights", "recommendations"]) {
		expect(r[k].length).toBeGreaterThanOrEqual(3);
		for (const s of r[k]) expect(typeof s).toBe("string");
	}
	expect(r.confidence).toBeGreaterThan(0);
	expect(r.confidence).toBeLessThanOrEqual(1);
	expect(r.detailed_analysis).toEqual(expect.any(Object));
	expect(r.processing_metadata).toMatchObject({ pipeline: "core", agents_run: expect.any(Array), agents_skipped: expect.any(Array), agents_failed: [], versions: expect.any(Object) });
	expect(typeof r.processing_metadata.timings.total_ms).toBe("number");
	expect(r.warnings).toEqual([]);
	expect(r.disclaimers.length).toBeGreaterThan(0);
	expect(r.langsmith_run_id).toBeNull();
}

it("gateway + two worker processes: 20 async analyses survive a SIGKILLed worker, resume from checkpoints, and a late worker takes work", async () => {
	const started = Date.now();
	if (!fs.existsSync(NODE_BIN)) throw new Error(`${NODE_BIN} is missing: run \`npm run build\` first`);

	// The probe: a plain broker of the namespace that only listens (its own group, so it gets every event).
	probe = new ServiceBroker({
		namespace,
		nodeID: `probe-${process.pid}`,
		transporter: { type: "Redis", options: redisOptions(REDIS_URL) },
		serializer: "JSONExt",
		heartbeatInterval: 1,
		heartbeatTimeout: 3,
		logger: false
	});
	probe.createService({
		name: "failover-probe",
		events: {
			"analysis.progress"(ctx: Context<{ analysis_id: string; node: string; status: string }>) {
				const p = { analysis_id: ctx.params.analysis_id, node: ctx.params.node, status: ctx.params.status, from: ctx.nodeID! };
				progress.push(p);
				onProgress(p);
			},
			"analysis.completed"(ctx: Context<{ analysis_id: string }>) {
				completedBy.set(ctx.params.analysis_id, ctx.nodeID!);
				completedAt.set(ctx.params.analysis_id, Date.now());
			}
		}
	});
	await probe.start();

	const gateway = await launch("gw-1", {
		ROLE: "gateway",
		JOB_CONCURRENCY: "6",
		JOB_ATTEMPTS: "4",
		JOB_BACKOFF_MS: "200",
		RATE_LIMITS: "default=100000/60,upload=1000/60,analyze=1000/60,enhanced=1000/60,auth=1000/60"
	});
	const [a, b] = await Promise.all([worker("worker-a"), worker("worker-b")]);
	await waitForStatus(`${gateway.url}/ready`, 200, { proc: gateway.proc, timeoutMs: 30_000 });
	await waitForNodes(probe, "orchestrator", ["worker-a", "worker-b"], 30_000);
	await waitForNodes(probe, "agent.formatter", ["worker-a", "worker-b"], 30_000);
	const request = http(gateway.url);

	const users = await Promise.all([0, 1].map(async () => {
		const u = await registerUser(request);
		return u.access_token;
	}));

	/** Uploads `n` photos (spread over the users) and waits for their post-ingest perception (the vision pass, cached). */
	async function uploadAll(n: number): Promise<{ token: string; media_id: string }[]> {
		const out: { token: string; media_id: string }[] = [];
		for (let i = 0; i < n; i++) {
			const token = users[i % users.length];
			const res = await uploadForm(gateway.url, token, await realPhoto(296), { type: "image/jpeg" });
			expect(res.status).toBe(200);
			out.push({ token, media_id: res.body.media_id });
		}
		await waitFor(
			"the post-ingest perceptions",
			async () => {
				const st = await Promise.all(out.map(m => request("GET", `/media/media/${m.media_id}/perception`, { token: m.token })));
				return st.every(r => r.status === 200);
			},
			180_000,
			250
		);
		return out;
	}

	const submit = async (m: { token: string; media_id: string }) => {
		const res = await request("POST", "/analysis/analyze?async=true", { token: m.token, body: { media_id: m.media_id } });
		expect(res.status).toBe(202);
		return { ...m, job_id: res.body.job_id as string, analysis_id: res.body.analysis_id as string };
	};

	async function finished(jobs: { token: string; job_id: string }[], timeoutMs: number): Promise<any[]> {
		return (await waitFor(
			`${jobs.length} jobs to complete`,
			async () => {
				const st = await Promise.all(jobs.map(j => request("GET", `/analysis/jobs/${j.job_id}`, { token: j.token })));
				const failed = st.find(r => r.body.status === "failed" || r.body.status === "cancelled");
				if (failed) throw new Error(`a job ended ${failed.body.status}: ${JSON.stringify(failed.body)}`);
				return st.every(r => r.body.status === "completed") ? st.map(r => r.body) : null;
			},
			timeoutMs,
			300
		))!;
	}

	const media = await uploadAll(20);
	const setupMs = Date.now() - started;

	// The trigger: once both workers have completed analyses, the first section node that worker-a
	// finishes while its analysis is still going kills worker-a at once (SIGKILL: no goodbye).
	let killedAt = 0;
	let inFlightOnA: string[] = [];
	const doneOn = (node: string) => [...completedBy.values()].filter(n => n === node).length;
	onProgress = p => {
		if (killedAt || p.from !== "worker-a" || p.status !== "done" || !["face", "fashion", "posture"].includes(p.node)) return;
		if (doneOn("worker-a") < 2 || doneOn("worker-b") < 2 || completedBy.has(p.analysis_id)) return;
		const startedOnA = new Set(progress.filter(e => e.from === "worker-a").map(e => e.analysis_id));
		const inFlight = [...startedOnA].filter(id => !completedBy.has(id));
		// Preferably with two or more analyses going on worker-a (late in the batch, one will do).
		if (inFlight.length < 2 && completedBy.size < 12) return;
		a.proc.child.kill("SIGKILL");
		killedAt = Date.now();
		inFlightOnA = inFlight;
	};

	const jobs = await Promise.all(media.map(submit));
	expect(new Set(jobs.map(j => j.job_id)).size).toBe(20);
	const results = await finished(jobs, 90_000);
	expect(killedAt).toBeGreaterThan(0);
	expect(await a.proc.exited).toEqual({ code: null, signal: "SIGKILL" });

	// Every job completed with a full report; both workers took work.
	results.forEach((r, i) => expectFinal(r.result, jobs[i].media_id));
	const completers = jobs.map(j => completedBy.get(j.analysis_id));
	expect(completers.filter(n => n === "worker-a").length).toBeGreaterThanOrEqual(2);
	expect(completers.filter(n => n === "worker-b").length).toBeGreaterThanOrEqual(2);
	// (No completion event at all only when worker-a died between storing a report and announcing it.)
	expect(completers.every(n => n === undefined || n === "worker-a" || n === "worker-b")).toBe(true);

	// The analyses worker-a was running when it died were finished by worker-b, in a later job attempt.
	expect(inFlightOnA.length).toBeGreaterThanOrEqual(1);
	const stored = new Map<string, any>();
	for (const j of jobs) {
		const res = await request("GET", `/analysis/${j.analysis_id}`, { token: j.token });
		expect(res.status).toBe(200);
		expect(res.body.status).toBe("completed");
		// Users see each node's run and run count, not which host ran it; the record itself knows.
		expect(res.body.nodes.formatter).toMatchObject({ status: "done", runs: 1 });
		expect(res.body.nodes.formatter.node_id).toBeUndefined();
		stored.set(j.analysis_id, await probe.call("analyses.get", { id: j.analysis_id }));
	}
	let resumedNodes = 0;
	// Those worker-a was still running (not those it had stored just before its completion event got out).
	const takenOver = inFlightOnA.filter(id => completedBy.get(id) !== "worker-a" && stored.get(id).nodes.formatter?.node_id !== "worker-a");
	expect(takenOver.length).toBeGreaterThanOrEqual(1);
	for (const id of takenOver) {
		const job = results[jobs.findIndex(j => j.analysis_id === id)];
		expect(job.attempts).toBeGreaterThanOrEqual(2);
		const doc = stored.get(id);
		const nodes: Record<string, NodeRec> = doc.nodes;
		const resumed: string[] = doc.result.processing_metadata.resumed_nodes;
		for (const [name, n] of Object.entries(nodes)) {
			// What worker-a had finished (checkpointed) was resumed, not run again; the rest ran on worker-b, in a later attempt.
			if (n.node_id === "worker-a") {
				expect([name, resumed.includes(name)]).toEqual([name, true]);
				resumedNodes++;
			} else expect([name, n.node_id, n.run! >= 2]).toEqual([name, "worker-b", true]);
		}
		for (const name of resumed) expect([name, nodes[name].node_id]).toEqual([name, "worker-a"]);
	}
	// No finished node ran twice, in any analysis: each stored node result was produced once.
	// (The vision pass is the one exception by design: its checkpoint is a reference, so a resumed
	// run that still has readers of it asks the shared cache for it again.)
	for (const [id, doc] of stored) {
		for (const [name, n] of Object.entries(doc.nodes as Record<string, NodeRec>)) {
			if (name === "vision") continue;
			expect([id, name, n.runs]).toEqual([id, name, 1]);
		}
	}
	// Each finished node's "done" progress event of a completed run came once per analysis, except
	// from the killed worker (whose last events may precede a checkpoint it never wrote).
	for (const [id] of stored) {
		const dones = progress.filter(p => p.analysis_id === id && p.status === "done" && p.from !== "worker-a" && p.node !== "vision");
		expect(dones.length).toBe(new Set(dones.map(p => p.node)).size);
	}
	const failoverMs = Math.max(...jobs.map(j => completedAt.get(j.analysis_id) ?? 0)) - killedAt;
	const afterKill = jobs.map(j => (completedAt.get(j.analysis_id) ?? 0) - killedAt).filter(ms => ms > 0).sort((x, y) => x - y);

	// A worker joining late takes work: new analyses are balanced onto it.
	const c = await worker("worker-c");
	await waitForNodes(probe, "orchestrator", ["worker-b", "worker-c"], 30_000);
	await waitForNodes(probe, "agent.formatter", ["worker-b", "worker-c"], 30_000);
	const late = await Promise.all((await uploadAll(6)).map(submit));
	const lateResults = await finished(late, 90_000);
	lateResults.forEach((r, i) => expectFinal(r.result, late[i].media_id));
	const lateCompleters = late.map(j => completedBy.get(j.analysis_id));
	expect(lateCompleters.filter(n => n === "worker-c").length).toBeGreaterThanOrEqual(1);
	const cDoc = await probe.call<any, object>("analyses.get", { id: late[lateCompleters.indexOf("worker-c")].analysis_id });
	expect(cDoc.nodes.formatter).toMatchObject({ status: "done", node_id: "worker-c", run: 1, runs: 1 });
	expect(c.proc.child.exitCode).toBeNull();
	expect(b.proc.child.exitCode).toBeNull();

	// eslint-disable-next-line no-console
	console.log(
		`failover: setup ${setupMs} ms, ${inFlightOnA.length} analyses in flight on worker-a when killed, ${resumedNodes} nodes resumed from its checkpoints, ` +
			`all 20 done ${failoverMs} ms after the kill (completions at +${afterKill.join(", +")} ms); late worker took ${lateCompleters.filter(n => n === "worker-c").length}/6; total ${Date.now() - started} ms`
	);
}, 300_000);
