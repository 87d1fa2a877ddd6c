import type { Context, Middleware, ServiceSchema } from "moleculer";
import { DISCLAIMERS } from "../../agents/guardrails";
import { RequestScopeMiddleware } from "../../lib/request-scope";
import { resolveConsent } from "../../agents/workflow/consent";
import { requestHash } from "../../services/analysis.service";
import { PIPELINE_VERSIONS, type PipelineName } from "../../agents/workflow/pipelines";
import { http, startNode, type Http, type TestNode } from "../helpers/node";
import { registerUser } from "../factories/users";
import { freePort, realPhoto, uploadForm } from "../factories/images";

/**
 * The analysis endpoints end to end: real HTTP, real photos, the real vision pass (built into
 * dist/ by `npm run build`) and the local providers of every agent.
 */


/** Counts every local action call by name (to prove an agent was never called). */
const calls: Record<string, number> = {};
const CallCounter: Middleware = {
	name: "CallCounter",
	localAction(next: (ctx: Context) => Promise<unknown>, action: { name: string }) {
		return (ctx: Context) => {
			calls[action.name] = (calls[action.name] ?? 0) + 1;
			return next(ctx);
		};
	}
} as Middleware;

const BIO = "Trail runner and amateur photographer. I love cooking for friends and learning new languages.";
const CORE_NODES = ["vision", "face", "fashion", "posture", "bio", "embedder", "aggregator", "formatter"];

interface User {
	id: string;
	token: string;
}

const score = (v: unknown) => {
	expect(typeof v).toBe("number");
	expect(v).toBeGreaterThanOrEqual(0);
	expect(v).toBeLessThanOrEqual(10);
};

/** Every field of a FinalAnalysisResponse (SPEC §3), types and ranges. */
function expectFinal(r: any, media_id: string, pipeline: string) {
	expect(r.media_id).toBe(media_id);
	expect(typeof r.analysis_id).toBe("string");
	expect(Number.isNaN(Date.parse(r.timestamp))).toBe(false);
	score(r.overall_score);
	score(r.style_score);
	score(r.presence_score);
	expect(typeof r.summary).toBe("string");
	expect(r.summary.length).toBeGreaterThan(20);
	for (const k of ["key_insights", "recommendations"]) {
		expect(r[k].length).toBeGreaterThanOrEqual(3);
		expect(r[k].length).toBeLessThanOrEqual(5);
		for (const s of r[k]) expect(typeof s).toBe("string");
	}
	expect(r.confidence).toBeGreaterThan(0);
	expect(r.confidence).toBeLessThanOrEqual(1);
	const pm = r.processing_metadata;
	expect(pm.pipeline).toBe(pipeline);
	expect(pm.graph_version).toBe(PIPELINE_VERSIONS[pipeline as PipelineName]);
	expect(Array.isArray(pm.agents_run)).toBe(true);
	for (const s of [...pm.agents_skipped, ...pm.agents_failed]) expect([typeof s.agent, typeof s.reason]).toEqual(["string", "string"]);
	for (const id of pm.agents_run) {
		expect(typeof pm.timings[id]).toBe("number");
		expect(pm.versions[id].graph).toBe(PIPELINE_VERSIONS[pipeline as PipelineName]);
	}
	expect(typeof pm.timings.total_ms).toBe("number");
	expect(Array.isArray(r.warnings)).toBe(true);
	expect(r.disclaimers).toEqual(expect.arrayContaining([DISCLAIMERS.entertainment, DISCLAIMERS.estimates]));
	expect(r.langsmith_run_id).toBeNull();
}

describe("analysis endpoints", () => {
	let node: TestNode;
	let request: Http;
	let alice: User;
	let bob: User;
	const events: { name: string; params: any }[] = [];

	async function newUser(): Promise<User> {
		const u = await registerUser(request);
		const me = await request("GET", "/auth/me", { token: u.access_token });
		return { id: me.body.id, token: u.access_token };
	}

	async function upload(user: User): Promise<string> {
		const res = await uploadForm(node.url, user.token, await realPhoto(), { type: "image/jpeg" });
		expect(res.status).toBe(200);
		return res.body.media_id;
	}

	const analyze = (user: User, body: object, p = "/analysis/analyze") => request("POST", p, { token: user.token, body });

	/** Swaps the real agent.fashion for a fake for the duration of `fn`. */
	async function withFakeFashion(fake: ServiceSchema, fn: () => Promise<void>) {
		const real = node.broker.getLocalService("agent.fashion")!;
		await node.broker.destroyService(real);
		const svc = node.broker.createService(fake);
		await node.broker.waitForServices(["agent.fashion"]);
		try {
			await fn();
		} finally {
			await node.broker.destroyService(svc);
			node.broker.createService(require("../../services/agents/fashion.service").default);
			await node.broker.waitForServices(["agent.fashion"]);
		}
	}

	beforeAll(async () => {
		const port = await freePort();
		node = await startNode({
			services: [
				"api", "users", "auth", "storage", "media", "vision", "analyses", "orchestrator", "analysis", "embeddings",
				"agents/face", "agents/fashion", "agents/posture", "agents/bio", "agents/embedder", "agents/social_perception",
				"agents/fixit", "agents/vibe_analysis", "agents/formatter", "agents/reverse_analysis", "agents/perception_history", "agents/social_graph", "jobs"
			],
			env: {
				PORT: String(port),
				PUBLIC_URL: `http://127.0.0.1:${port}`,
				VISION_THREADS: "1",
				AGENT_TIMEOUT_MS: "3000",
				RATE_LIMITS: "upload=1000/60,analyze=1000/60,enhanced=1000/60,auth=1000/60"
			},
			broker: { middlewares: [RequestScopeMiddleware, CallCounter] }
		});
		node.broker.createService({
			name: "probe",
			events: {
				"analysis.progress"(ctx: Context) {
					events.push({ name: "analysis.progress", params: ctx.params });
				},
				"analysis.completed"(ctx: Context) {
					events.push({ name: "analysis.completed", params: ctx.params });
				}
			}
		});
		request = http(node.url);
		[alice, bob] = await Promise.all([newUser(), newUser()]);
	}, 60_000);

	afterAll(async () => {
		await node?.stop();
	});

	it("refuses without access: no token → 401, another user's media or analysis → 404", async () => {
		const media_id = await upload(alice);
		expect((await request("POST", "/analysis/analyze", { body: { media_id } })).status).toBe(401);
		const theirs = await analyze(bob, { media_id });
		expect([theirs.status, theirs.body.error_code]).toEqual([404, "NOT_FOUND"]);
		expect((await request("GET", `/analysis/${media_id}/history`, { token: bob.token })).status).toBe(404);
		const mine = await analyze(alice, { media_id, user_consent: { face_analysis: false } });
		expect(mine.status).toBe(200);
		expect((await request("GET", `/analysis/${mine.body.analysis_id}`, { token: bob.token })).status).toBe(404);
		expect((await request("GET", `/analysis/${mine.body.analysis_id}`, { token: alice.token })).body.status).toBe("completed");
	});

	it("core: the full FinalAnalysisResponse with default consent, checkpoints with versions, progress and completion events", async () => {
		const media_id = await upload(alice);
		const res = await analyze(alice, { media_id, bio_text: BIO, options: { recent_limit: 3, unknown_key: 1 }, role: "admin" });
		expect(res.status).toBe(200);
		const r = res.body;
		expectFinal(r, media_id, "core");
		expect([...r.processing_metadata.agents_run].sort()).toEqual([...CORE_NODES].sort());
		expect(r.warnings).toEqual([]);
		// Defaults: no biometric → no attractiveness; no technical metadata.
		expect("attractiveness_score" in r).toBe(false);
		expect(Object.keys(r.detailed_analysis).sort()).toEqual(["bio", "face", "fashion", "posture"]);
		expect(r.detailed_analysis.face.num_faces).toBeGreaterThan(0);
		expect(r.detailed_analysis.face.faces[0].age).toBeNull();
		expect(typeof r.detailed_analysis.fashion.style).toBe("string");
		expect(r.detailed_analysis.bio.vibe_summary.length).toBeGreaterThan(0);
		expect(r.disclaimers).toContain(DISCLAIMERS.emotion);
		expect(r.processing_metadata.versions.face).toMatchObject({ agent: "1.0.0", graph: "core@1.0.0" });
		expect(typeof r.processing_metadata.versions.bio.prompt).toBe("string");

		const stored = await request("GET", `/analysis/${r.analysis_id}`, { token: alice.token });
		expect(stored.status).toBe(200);
		expect(stored.body).toMatchObject({ analysis_id: r.analysis_id, media_id, pipeline: "core", status: "completed", progress: 1, result: r });
		for (const id of CORE_NODES) expect(stored.body.checkpoints[id].versions.graph).toBe("core@1.0.0");
		expect(stored.body.checkpoints.formatter.versions.prompt).toEqual(expect.any(String));
		// Checkpoints are small: the vision pass is a reference, vectors stay in the embeddings store, no image bytes.
		const doc = await node.broker.call<any, object>("analyses.get", { id: r.analysis_id });
		expect(doc.checkpoints.vision.output).toMatchObject({ ref: "vision", content_hash: expect.any(String) });
		expect(doc.checkpoints.embedder.output.vectors).toBeUndefined();
		expect(doc.content_hash).toMatch(/^[0-9a-f]{64}$/);
		expect(doc.request.options).toEqual({ recent_limit: 3 });
		expect(JSON.stringify(doc).length).toBeLessThan(200_000);

		const mine = events.filter(e => e.params.analysis_id === r.analysis_id);
		expect(mine.filter(e => e.name === "analysis.progress").map(e => `${e.params.node}:${e.params.status}`)).toEqual(expect.arrayContaining(["vision:started", "vision:done", "formatter:done"]));
		expect(mine.find(e => e.name === "analysis.completed")?.params).toEqual({ analysis_id: r.analysis_id, user_id: alice.id, media_id });
	});

	it("consent: no face consent → no face section and agent.face never called; biometric and technical metadata only when asked; detailed_analysis null without its consent", async () => {
		const media_id = await upload(alice);
		const before = calls["agent.face.run"] ?? 0;
		const noFace = await analyze(alice, { media_id, user_consent: { face_analysis: false } });
		expect(noFace.status).toBe(200);
		expectFinal(noFace.body, media_id, "core");
		expect(calls["agent.face.run"] ?? 0).toBe(before);
		expect(noFace.body.detailed_analysis.face).toBeUndefined();
		expect(noFace.body.processing_metadata.agents_skipped).toEqual(expect.arrayContaining([{ agent: "face", reason: "no face_analysis consent" }]));
		expect(noFace.body.disclaimers).not.toContain(DISCLAIMERS.emotion);

		const bio = await analyze(alice, { media_id, user_consent: { biometric_analysis: true, technical_metadata: true } });
		expect(bio.status).toBe(200);
		score(bio.body.attractiveness_score);
		expect(bio.body.detailed_analysis.metadata.vision.provider).toEqual(expect.any(String));
		expect(Object.keys(bio.body.detailed_analysis.langsmith_run_ids)).toEqual(expect.arrayContaining(["face", "vision"]));
		expect(typeof bio.body.detailed_analysis.face.faces[0].age).toBe("number");
		expect(bio.body.disclaimers).toContain(DISCLAIMERS.biometric);

		const none = await analyze(alice, { media_id, user_consent: { detailed_analysis: false } });
		expect(none.body.detailed_analysis).toBeNull();
		expect("attractiveness_score" in none.body).toBe(false);
	});

	it("an agent that throws or hangs → a partial report with a warning, never a 500", async () => {
		const media_id = await upload(alice);
		const failing = (handler: () => Promise<unknown>): ServiceSchema => ({ name: "agent.fashion", actions: { run: { visibility: "public", handler } } });
		await withFakeFashion(
			failing(async () => {
				throw new Error("fashion model exploded");
			}),
			async () => {
				const res = await analyze(alice, { media_id });
				expect(res.status).toBe(200);
				expect(res.body.detailed_analysis.fashion).toBeUndefined();
				expect(res.body.processing_metadata.agents_failed).toEqual([{ agent: "fashion", reason: "fashion model exploded", attempts: 1 }]);
				expect(res.body.warnings.join(" ")).toMatch(/fashion could not be completed/);
				score(res.body.overall_score);
			}
		);
		// A hung call is let go after the test, so the fake service can stop.
		const hung: (() => void)[] = [];
		await withFakeFashion(
			failing(() => new Promise(resolve => hung.push(() => resolve(null)))),
			async () => {
				const res = await analyze(alice, { media_id });
				expect(res.status).toBe(200);
				expect(res.body.processing_metadata.agents_failed[0]).toMatchObject({ agent: "fashion", reason: expect.stringMatching(/time/i), attempts: 2 });
				expect(res.body.warnings.join(" ")).toMatch(/fashion/);
				for (const release of hung) release();
			}
		);
	}, 30_000);

	it("enhanced and hybrid: the SPEC envelopes around a FinalAnalysisResponse", async () => {
		const media_id = await upload(alice);
		const enh = await analyze(alice, { media_id, bio_text: BIO }, "/analysis/analyze/enhanced");
		expect(enh.status).toBe(200);
		expect(enh.body.success).toBe(true);
		expectFinal(enh.body.core_analysis, media_id, "enhanced");
		const sp = enh.body.specialized_analysis;
		expect(Object.keys(sp).sort()).toEqual(["fixit_suggestions", "perception_history", "social_graph", "social_perception", "vibe_analysis"]);
		expect(sp.fixit_suggestions.quick_tips.length).toBeGreaterThan(0);
		expect(typeof sp.fixit_suggestions.detailed_plan).toBe("string");
		expect(sp.vibe_analysis.vibe_score).toBeGreaterThanOrEqual(0);
		expect(sp.vibe_analysis.vibe_score).toBeLessThanOrEqual(100);
		score(sp.social_perception.social_score);
		expect(sp.social_perception.tags.length).toBeGreaterThanOrEqual(3);
		// The history of alice's earlier photos; the social graph refuses her (not opted in): the node is skipped with its reason, a null section, not a failed run.
		expect(typeof sp.perception_history.trend_summary).toBe("string");
		expect(sp.perception_history.score_trend).toEqual(expect.any(Array));
		for (const p of sp.perception_history.score_trend) expect([typeof p.timestamp, typeof p.score]).toEqual(["string", "number"]);
		expect([sp.perception_history.improvement_tags, sp.perception_history.decline_tags]).toEqual([expect.any(Array), expect.any(Array)]);
		expect(sp.social_graph).toBeNull();
		expect(enh.body.core_analysis.warnings.join(" ")).not.toMatch(/social_graph/);
		expect(enh.body.core_analysis.processing_metadata.agents_failed).toEqual([]);
		expect(enh.body.core_analysis.processing_metadata.agents_skipped).toEqual(expect.arrayContaining([{ agent: "social_graph", reason: expect.stringMatching(/^not permitted: .*opted in/) }]));
		expect(enh.body.metadata).toEqual({ processing_mode: "enhanced_hybrid", user_id: alice.id, analysis_timestamp: expect.any(String) });

		const hyb = await analyze(alice, { media_id }, "/analysis/analyze/hybrid");
		expect(hyb.status).toBe(200);
		expect(hyb.body.success).toBe(true);
		expectFinal(hyb.body.core_analysis, media_id, "hybrid");
		expect(typeof hyb.body.social_analysis.summary_text).toBe("string");
		expect(hyb.body.enhancements.fixit_suggestions.focus_areas).toEqual(expect.any(Array));
		expect(hyb.body.enhancements.vibe_analysis.vibe_tags.length).toBeGreaterThanOrEqual(3);
		expect(hyb.body.metadata).toEqual({ processing_mode: "enhanced_graph", user_id: alice.id, execution_timestamp: expect.any(String) });
		expect(hyb.body.enhancements.perception_history.trend).toEqual(expect.any(String));
		expect(hyb.body.enhancements.social_graph).toEqual({ error: expect.stringMatching(/opted in/) });

		// An opted-in user gets their social position (a cold start with this few public users).
		const u = await registerUser(request, { opt_in_public_analysis: true, public_alias: "dana" });
		const dana = { id: (await request("GET", "/auth/me", { token: u.access_token })).body.id, token: u.access_token };
		const pub = await analyze(dana, { media_id: await upload(dana) }, "/analysis/analyze/enhanced");
		expect(pub.status).toBe(200);
		expect(pub.body.specialized_analysis.social_graph).toMatchObject({ user_id: dana.id, cold_start: true, percentile: { overall: expect.any(Number) } });
		expect(pub.body.specialized_analysis.perception_history.sample_size).toBeGreaterThanOrEqual(0);
	}, 60_000);

	it("history: newest first after two analyses, on both paths", async () => {
		const media_id = await upload(alice);
		const first = await analyze(alice, { media_id });
		const second = await analyze(alice, { media_id, bio_text: BIO });
		expect([first.status, second.status]).toEqual([200, 200]);
		const h = await request("GET", `/analysis/${media_id}/history`, { token: alice.token });
		expect(h.status).toBe(200);
		expect(h.body.media_id).toBe(media_id);
		expect(h.body.analysis_count).toBe(2);
		expect(h.body.history.map((x: any) => x.analysis_id)).toEqual([second.body.analysis_id, first.body.analysis_id]);
		for (const x of h.body.history) {
			expect(x.pipeline).toBe("core");
			score(x.summary.overall_score);
			expect(x.summary.key_insights.length).toBeLessThanOrEqual(3);
		}
		expect(h.body.latest_analysis).toEqual(second.body);
		const alias = await request("GET", `/analysis/analysis/${media_id}/history`, { token: alice.token });
		expect(alias.body).toEqual(h.body);
	}, 30_000);

	it("resumes from checkpoints: a finished node is not run again", async () => {
		const media_id = await upload(alice);
		const done = await analyze(alice, { media_id });
		const doc = await node.broker.call<any, object>("analyses.get", { id: done.body.analysis_id });
		const rec = await node.broker.call<any, object>("analyses.create", { user_id: alice.id, media_id, pipeline: "core", graph_version: "core@1.0.0", request: {} });
		for (const id of ["face", "posture"]) await node.broker.call("analyses.checkpoint", { id: rec._id, node: id, record: doc.nodes[id], output: doc.checkpoints[id].output, versions: doc.checkpoints[id].versions, progress: 0.2 });
		const [face, posture, fashion] = ["agent.face.run", "agent.posture.run", "agent.fashion.run"].map(a => calls[a] ?? 0);
		const out = await node.broker.call<any, object>("orchestrator.run", { analysis_id: rec._id });
		expect([calls["agent.face.run"], calls["agent.posture.run"], calls["agent.fashion.run"]]).toEqual([face, posture, fashion + 1]);
		expect([...out.result.processing_metadata.resumed_nodes].sort()).toEqual(["face", "posture"]);
		expect(out.result.detailed_analysis.face).toEqual(done.body.detailed_analysis.face);
		// Running a completed analysis again answers the stored report.
		expect((await node.broker.call<any, object>("orchestrator.run", { analysis_id: rec._id })).result).toEqual(out.result);
	});

	it("full-analysis: 404 without media; fixit, vibe and (with a goal) reverse analysis from the recent analyses", async () => {
		const carol = await newUser();
		const none = await request("POST", "/analysis/full-analysis", { token: carol.token });
		expect(none.status).toBe(404);
		await upload(carol);
		const res = await request("POST", "/analysis/full-analysis?goal=look%20more%20confident&recent_limit=3", { token: carol.token });
		expect(res.status).toBe(200);
		expect(res.body.fixit_suggestions.quick_tips.length).toBeGreaterThan(0);
		expect(res.body.vibe_analysis.vibe_tags.length).toBeGreaterThanOrEqual(3);
		expect(res.body.reverse_analysis.recommended_changes.length).toBeGreaterThan(0);
		const noGoal = await request("POST", "/analysis/full-analysis", { token: carol.token });
		expect(noGoal.body.reverse_analysis).toBeNull();
	}, 30_000);

	it("vision unavailable → 503 with a clear error (the run is stored as failed), never a 500", async () => {
		const media_id = await upload(alice);
		await node.broker.destroyService(node.broker.getLocalService("vision")!);
		try {
			const res = await analyze(alice, { media_id });
			expect([res.status, res.body.error_code]).toEqual([503, "SERVICE_UNAVAILABLE"]);
			const { items } = await node.broker.call<any, object>("analyses.listForUser", { user_id: alice.id, limit: 1 });
			expect(items[0]).toMatchObject({ media_id, status: "failed", error: { type: "SERVICE_UNAVAILABLE" } });
		} finally {
			node.broker.createService(require("../../services/vision.service").default);
			await node.broker.waitForServices(["vision"]);
		}
	}, 30_000);

	it("deleting the media or erasing the user deletes the analyses", async () => {
		const dave = await newUser();
		const [m1, m2] = [await upload(dave), await upload(dave)];
		expect((await analyze(dave, { media_id: m1 })).status).toBe(200);
		expect((await analyze(dave, { media_id: m2 })).status).toBe(200);
		const mine = async () => (await node.broker.call<any, object>("analyses.listForUser", { user_id: dave.id })).items.map((d: any) => d.media_id);
		expect((await mine()).sort()).toEqual([m1, m2].sort());
		expect((await request("DELETE", `/media/${m1}`, { token: dave.token })).status).toBe(200);
		await new Promise(r => setTimeout(r, 50));
		expect(await mine()).toEqual([m2]);
		await node.broker.broadcast("user.erased", { user_id: dave.id });
		await new Promise(r => setTimeout(r, 50));
		expect(await mine()).toEqual([]);
	});

	it("validates the body: a bad consent type is 422, a refused bio is 422", async () => {
		const media_id = await upload(alice);
		const bad = await analyze(alice, { media_id, user_consent: { face_analysis: "yes" } });
		expect([bad.status, bad.body.error_code]).toEqual([422, "VALIDATION"]);
		const short = await analyze(alice, { media_id, bio_text: "hi" });
		expect(short.status).toBe(422);
		expect((await analyze(alice, {})).status).toBe(422);
	});
	it("runs ?async=true as a job: 202 {job_id}, then the report through GET /analysis/jobs/{id}", async () => {
		const media_id = await upload(alice);
		const res = await request("POST", "/analysis/analyze?async=true", { token: alice.token, body: { media_id } });
		expect(res.status).toBe(202);
		expect(res.body).toMatchObject({ status: "queued", job_id: expect.any(String), analysis_id: expect.any(String) });
		let job: any;
		for (let i = 0; i < 120; i++) {
			job = (await request("GET", `/analysis/jobs/${res.body.job_id}`, { token: alice.token })).body;
			if (job.status === "completed" || job.status === "failed") break;
			await new Promise(r => setTimeout(r, 250));
		}
		expect(job.status).toBe("completed");
		expect(job.progress).toBe(100);
		expectFinal(job.result, media_id, "core");
		// Someone else's job is not theirs to see.
		expect((await request("GET", `/analysis/jobs/${res.body.job_id}`, { token: bob.token })).status).toBe(404);
	}, 60_000);
	/** Polls a job until it ends. */
	async function finished(user: User, jobId: string) {
		let job: any;
		for (let i = 0; i < 120; i++) {
			job = (await request("GET", `/analysis/jobs/${jobId}`, { token: user.token })).body;
			if (job.status === "completed" || job.status === "failed") break;
			await new Promise(r => setTimeout(r, 250));
		}
		return job;
	}

	it("idempotency: the same request within the window answers the stored report (sync) or the existing job (async); a consent, bio or option change runs again", async () => {
		const media_id = await upload(alice);
		const body = { media_id, bio_text: BIO, user_consent: { face_analysis: true, posture_analysis: true } };
		const first = await analyze(alice, body);
		expect(first.status).toBe(200);
		const stored = await node.broker.call<any, object>("analyses.get", { id: first.body.analysis_id });
		const face = calls["agent.face.run"] ?? 0;
		const vision = calls["vision.analyze"] ?? 0;
		// Same request, keys in another order: the stored report, no agent runs.
		const again = await analyze(alice, { user_consent: { posture_analysis: true, face_analysis: true }, bio_text: BIO, media_id });
		expect(again.status).toBe(200);
		expect(again.body).toEqual(first.body);
		expect([calls["agent.face.run"] ?? 0, calls["vision.analyze"] ?? 0]).toEqual([face, vision]);

		// A consent change, a bio change or an option change is a new analysis (never a stale report).
		const noFace = await analyze(alice, { ...body, user_consent: { face_analysis: false, posture_analysis: true } });
		const otherBio = await analyze(alice, { ...body, bio_text: `${BIO} Also chess.` });
		const withOptions = await analyze(alice, { ...body, options: { recent_limit: 2 } });
		const ids = [first, noFace, otherBio, withOptions].map(r => r.body.analysis_id);
		expect(new Set(ids).size).toBe(4);
		expect(noFace.body.detailed_analysis.face).toBeUndefined();
		// Another pipeline is its own analysis.
		const enh = await analyze(alice, body, "/analysis/analyze/enhanced");
		expect(enh.body.core_analysis.analysis_id).not.toBe(first.body.analysis_id);

		// Async: the first request queues a job, the same request again answers that job id.
		const a1 = await request("POST", "/analysis/analyze?async=true", { token: alice.token, body: { media_id, bio_text: BIO } });
		const a2 = await request("POST", "/analysis/analyze?async=true", { token: alice.token, body: { bio_text: BIO, media_id } });
		expect([a1.status, a2.status]).toEqual([202, 202]);
		expect(a2.body).toEqual(a1.body);
		const job = await finished(alice, a1.body.job_id);
		expect(job.status).toBe("completed");
		expect(job.result.analysis_id).toBe(a1.body.analysis_id);
		// …and after it completed, the same request sync gets that stored report, async the same job.
		const sync = await analyze(alice, { media_id, bio_text: BIO });
		expect(sync.body).toEqual(job.result);
		const a3 = await request("POST", "/analysis/analyze?async=true", { token: alice.token, body: { media_id, bio_text: BIO } });
		expect(a3.body.job_id).toBe(a1.body.job_id);
		// A completed sync run asked for async: a job that answers the stored report.
		const a4 = await request("POST", "/analysis/analyze?async=true", { token: alice.token, body });
		expect(a4.body.analysis_id).toBe(first.body.analysis_id);
		expect((await finished(alice, a4.body.job_id)).result).toEqual(first.body);

		// A sync run of the same request still in flight (no job) is not taken over by an async request: it gets its own run.
		const flying = await node.broker.call<any, object>("analyses.create", {
			user_id: alice.id, media_id, content_hash: stored.content_hash, pipeline: "core", graph_version: "core@1.0.0", status: "running",
			// The hash of what the run would record: the consent in force (nothing stored: the defaults), no bio, no options.
			request_hash: requestHash({ user_consent: resolveConsent(null), bio_text: null, options: {} }), request: {}
		});
		const a5 = await request("POST", "/analysis/analyze?async=true", { token: alice.token, body: { media_id } });
		expect(a5.status).toBe(202);
		expect(a5.body.analysis_id).not.toBe(flying._id);
		expect((await finished(alice, a5.body.job_id)).status).toBe("completed");

		// The window: nothing older than `since` is reused.
		const same = { user_id: alice.id, media_id, content_hash: stored.content_hash, pipeline: "core", graph_version: "core@1.0.0", request_hash: stored.request_hash };
		const recent = (since: string) => node.broker.call<any, object>("analyses.recent", { ...same, since });
		expect((await recent(new Date(Date.now() - 600_000).toISOString()))?._id).toBe(first.body.analysis_id);
		expect(await recent(new Date(Date.now() + 1000).toISOString())).toBeNull();
	}, 60_000);

	it("Prefer: respond-async (RFC 7240) on POST /analysis/analyze runs it as a job, like ?async=true", async () => {
		const media_id = await upload(alice);
		const res = await request("POST", "/analysis/analyze", { token: alice.token, body: { media_id }, headers: { Prefer: "wait=10, respond-async" } });
		expect(res.status).toBe(202);
		expect(res.body).toMatchObject({ status: "queued", job_id: expect.any(String), analysis_id: expect.any(String) });
		const job = await finished(alice, res.body.job_id);
		expect(job.status).toBe("completed");
		expectFinal(job.result, media_id, "core");
		// Other preferences (or none) stay synchronous.
		const sync = await request("POST", "/analysis/analyze", { token: alice.token, body: { media_id, bio_text: BIO }, headers: { Prefer: "return=minimal" } });
		expect(sync.status).toBe(200);
		expectFinal(sync.body, media_id, "core");
	}, 60_000);
});
