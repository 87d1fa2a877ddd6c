import fs from "node:fs";
import { ServiceBroker, type Context } from "moleculer";
import { redisOptions } from "../../lib/redis";
import { HANDBACK_WAIT_MS } from "../../lib/shutdown";
import { realPhoto, uploadForm } from "../factories/images";
import { registerUser } from "../factories/users";
import { NODE_BIN, REDIS_URL, cleanRedis, clusterEnv, freePort, killAllSpawned, sleep, spawnNode, uniqueNamespace, waitFor, waitForNodes, waitForStatus, type NodeProcess } from "../helpers/cluster";
import { http, tempDir } from "../helpers/node";

/**
 * A rolling restart under load, on real processes (`node dist/bin/lifemirror-node.js`, Redis
 * transporter): a gateway and two workers run a steady stream of async analyses; each worker in
 * turn gets SIGTERM in the middle of an analysis and a replacement is started. SIGTERM drains:
 * the node stops taking work, lets what runs finish within SHUTDOWN_TIMEOUT_MS, hands back what
 * is still running after that (the job is retried on another worker and resumes from the
 * checkpoints), then exits 0. worker-a has a long grace period (its analyses finish there),
 * worker-b a tiny one (its analyses are handed back). Every job completes; none fails or is lost.
 * Needs `npm run build`.
 */


const namespace = uniqueNamespace("lm-rolling");
const dirs: string[] = [];
let probe: ServiceBroker;
/** analysis id → node ids that sent progress for it, and who completed it. */
const startedOn = new Map<string, Set<string>>();
const completedBy = new Map<string, string>();
const progress: { analysis_id: string; node: string; status: string; from: string }[] = [];

afterAll(async () => {
	await killAllSpawned();
	await probe?.stop();
	await cleanRedis(namespace);
	for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function launch(name: string, env: Record<string, string>): Promise<{ proc: NodeProcess; url: string }> {
	const dataDir = tempDir(`lm-rolling-${name}-`);
	dirs.push(dataDir);
	const port = await freePort();
	const proc = spawnNode(name, clusterEnv(namespace, { DATA_DIR: dataDir, PORT: String(port), HOST: "127.0.0.1", NODE_ID: name, CACHER: REDIS_URL, LOG_LEVEL: "warn", ...env }));
	return { proc, url: `http://127.0.0.1:${port}` };
}

const GRACE_A_MS = 20_000;
const GRACE_B_MS = 300;
const worker = (name: string, graceMs = GRACE_A_MS) => launch(name, { ROLE: "worker", VISION_THREADS: "1", AGENT_TIMEOUT_MS: "10000", SHUTDOWN_TIMEOUT_MS: String(graceMs) });

/** Analyses started on `node` and not completed yet. */
const inFlightOn = (node: string) => [...startedOn].filter(([id, nodes]) => nodes.has(node) && !completedBy.has(id)).map(([id]) => id);

it("gateway + two workers under steady load: each worker is SIGTERMed mid-analysis and replaced; every job completes, none lost, none failed", async () => {
	const started = Date.now();
	if (!fs.existsSync(NODE_BIN)) throw new Error(`${NODE_BIN} is missing: run \`npm run build\` first`);

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
		name: "rolling-probe",
		events: {
			"analysis.progress"(ctx: Context<{ analysis_id: string; node: string; status: string }>) {
				progress.push({ analysis_id: ctx.params.analysis_id, node: ctx.params.node, status: ctx.params.status, from: ctx.nodeID! });
				const set = startedOn.get(ctx.params.analysis_id) ?? new Set<string>();
				set.add(ctx.nodeID!);
				startedOn.set(ctx.params.analysis_id, set);
			},
			"analysis.completed"(ctx: Context<{ analysis_id: string }>) {
				completedBy.set(ctx.params.analysis_id, ctx.nodeID!);
			}
		}
	});
	await probe.start();

	const gateway = await launch("gw-1", {
		ROLE: "gateway",
		JOB_CONCURRENCY: "4",
		JOB_ATTEMPTS: "4",
		JOB_BACKOFF_MS: "200",
		RATE_LIMITS: "default=100000/60,upload=1000/60,analyze=1000/60,enhanced=1000/60,auth=1000/60"
	});
	const a = await worker("worker-a", GRACE_A_MS);
	const b = await worker("worker-b", GRACE_B_MS);
	await waitForStatus(`${gateway.url}/ready`, 200, { proc: gateway.proc, timeoutMs: 30_000 });
	await waitForNodes(probe, "orchestrator", ["worker-a", "worker-b"], 30_000);
	await waitForNodes(probe, "agent.formatter", ["worker-a", "worker-b"], 30_000);
	const request = http(gateway.url);
	const users = await Promise.all([0, 1].map(async () => (await registerUser(request)).access_token as string));

	// The photos first (their post-ingest perceptions run on the workers too).
	const TOTAL = 16;
	const media: { token: string; media_id: string }[] = [];
	for (let i = 0; i < TOTAL; i++) {
		const token = users[i % users.length];
		const res = await uploadForm(gateway.url, token, await realPhoto(222), { type: "image/jpeg" });
		expect(res.status).toBe(200);
		media.push({ token, media_id: res.body.media_id });
	}
	const setupMs = Date.now() - started;

	// A steady load: one analysis submitted every 400 ms while the workers are restarted.
	const jobs: { token: string; media_id: string; job_id: string; analysis_id: string }[] = [];
	const submitting = (async () => {
		for (const m of media) {
			const res = await request("POST", "/analysis/analyze?async=true", { token: m.token, body: { media_id: m.media_id } });
			expect(res.status).toBe(202);
			jobs.push({ ...m, job_id: res.body.job_id, analysis_id: res.body.analysis_id });
			await sleep(400);
		}
	})();

	/** SIGTERMs `proc` once `name` runs an analysis, starts `replacement`; answers how long the stop took and what was in flight. */
	async function restart(proc: NodeProcess, name: string, replacement: string, graceMs: number) {
		await waitFor(`an analysis running on ${name}`, () => inFlightOn(name).length > 0, 60_000, 50);
		const inFlight = inFlightOn(name);
		const t0 = Date.now();
		proc.child.kill("SIGTERM");
		const next = await worker(replacement, GRACE_A_MS);
		const exit = await proc.exited;
		const stopMs = Date.now() - t0;
		expect({ name, exit }).toEqual({ name, exit: { code: 0, signal: null } });
		// Within the grace period, plus at most the hand-back wait (running graph nodes and short calls end), plus the stop itself.
		expect(stopMs).toBeLessThan(graceMs + HANDBACK_WAIT_MS + 3_000);
		return { next, inFlight, stopMs };
	}

	const first = await restart(a.proc, "worker-a", "worker-c", GRACE_A_MS);
	await waitForNodes(probe, "orchestrator", ["worker-b", "worker-c"], 30_000);
	await waitForNodes(probe, "agent.formatter", ["worker-b", "worker-c"], 30_000);
	const second = await restart(b.proc, "worker-b", "worker-d", GRACE_B_MS);
	await submitting;
	expect(jobs.length).toBe(TOTAL);
	expect(new Set(jobs.map(j => j.job_id)).size).toBe(TOTAL);

	// Every job completes (none failed, none lost), with a full report.
	const results = (await waitFor(
		`${TOTAL} jobs to complete`,
		async () => {
			const st = await Promise.all(jobs.map(j => request("GET", `/analysis/jobs/${j.job_id}`, { token: j.token })));
			const bad = st.find(r => r.status !== 200 || r.body.status === "failed" || r.body.status === "cancelled");
			if (bad) throw new Error(`a job ended badly: ${JSON.stringify(bad.body)}`);
			return st.every(r => r.body.status === "completed") ? st.map(r => r.body) : null;
		},
		90_000,
		300
	))!;
	results.forEach((r, i) => {
		expect(r.result.media_id).toBe(jobs[i].media_id);
		expect(typeof r.result.overall_score).toBe("number");
		// Nothing degraded by a stopping worker: no failed agent, no partial-report warning.
		expect({ job: r.job_id, failed: r.result.processing_metadata.agents_failed, warnings: r.result.warnings }).toEqual({ job: r.job_id, failed: [], warnings: [] });
	});

	// worker-a (long grace) finished its running analyses itself before leaving.
	for (const id of first.inFlight) expect({ id, by: completedBy.get(id) }).toEqual({ id, by: "worker-a" });
	// worker-b (tiny grace) handed its running analyses back: another worker finished them, in a later
	// job attempt, resuming from what worker-b had checkpointed.
	let resumed = 0;
	for (const id of second.inFlight) {
		const j = results[jobs.findIndex(x => x.analysis_id === id)];
		if (completedBy.get(id) === "worker-b") continue; // it finished within the tiny grace period
		expect({ id, by: completedBy.get(id), attempts: j.attempts >= 2 }).toEqual({ id, by: expect.stringMatching(/^worker-[cd]$/), attempts: true });
		const doc = await probe.call<any, object>("analyses.get", { id });
		resumed += (doc.result.processing_metadata.resumed_nodes ?? []).length;
		// No started work was thrown away: every graph node worker-b had started for it, it finished and
		// checkpointed before leaving (run there, done, resumed by the next attempt, not run again).
		const startedOnB = new Set(progress.filter(p => p.analysis_id === id && p.from === "worker-b" && p.status === "started" && p.node !== "vision").map(p => p.node));
		for (const node of startedOnB) expect({ id, node, rec: doc.nodes[node] }).toEqual({ id, node, rec: expect.objectContaining({ status: "done", node_id: "worker-b", runs: 1 }) });
		// …and nothing that finished ran twice (a node skipped for want of an input may run again once it has it).
		for (const [node, rec] of Object.entries(doc.nodes as Record<string, { runs?: number; status: string }>)) if (node !== "vision" && rec.status === "done" && !(rec.runs === 1)) {
			const skippedBefore = progress.some(p => p.analysis_id === id && p.node === node && p.status === "skipped");
			expect({ id, node, runs: rec.runs, skippedBefore }).toEqual({ id, node, runs: 2, skippedBefore: true });
		}
	}
	const handedBack = second.inFlight.filter(id => completedBy.get(id) !== "worker-b").length;
	expect(handedBack).toBeGreaterThanOrEqual(1);
	// Both replacements took work.
	const completers = jobs.map(j => completedBy.get(j.analysis_id));
	expect(completers.filter(n => n === "worker-c").length).toBeGreaterThanOrEqual(1);

	// eslint-disable-next-line no-console
	console.log(
		`rolling restart: setup ${setupMs} ms; worker-a stopped in ${first.stopMs} ms finishing ${first.inFlight.length} analyses; ` +
			`worker-b stopped in ${second.stopMs} ms handing back ${handedBack} (${resumed} nodes resumed elsewhere); ` +
			`completed by ${JSON.stringify(Object.fromEntries(["worker-a", "worker-b", "worker-c", "worker-d"].map(n => [n, completers.filter(c => c === n).length])))}; total ${Date.now() - started} ms`
	);
}, 180_000);
