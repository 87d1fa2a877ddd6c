import fs from "node:fs";
import path from "node:path";
import { FaceInput } from "../../agents/face";
import { FashionInput } from "../../agents/fashion";
import { PostureInput } from "../../agents/posture";
import { EmbedderInput } from "../../agents/embedder";
import { BioInput } from "../../agents/bio";
import { AggregatorInput } from "../../agents/aggregator";
import { FormatterInput } from "../../agents/formatter";
import { SocialInput } from "../../agents/social-perception";
import { FixitInput } from "../../agents/fixit";
import { VibeInput } from "../../agents/vibe-analysis";
import { CONSENT_DEFAULTS, resolveConsent, AnalyzeRequest } from "../../agents/workflow/consent";
import { executeGraph } from "../../agents/workflow/execute";
import { compileGraph, GraphError } from "../../agents/workflow/graph";
import { AGGREGATOR_ACTION, estimatedMinor, pipelines, PIPELINES, PIPELINE_VERSIONS, SPECIALIZED_NODES, stateFromCheckpoints } from "../../agents/workflow/pipelines";
import { HISTORY_LIMIT } from "../../agents/perception-history";
import { GraphInput } from "../../agents/social-graph";
import { checkpointOutput, enhancedEnvelope, finalResponse, historyView, hybridEnvelope, reportText, specializedOf, versionsOf, type ReportInput } from "../../agents/workflow/report";
import type { VisionResult } from "../../agents/providers/vision/types";

const T = { visionMs: 30_000, agentMs: 20_000 };
const defs = pipelines(T);
/** The actions this build ships: every agent service file, the vision pass, the in-process aggregator. */
const shipped = new Set([
	"vision.analyze",
	AGGREGATOR_ACTION,
	...fs.readdirSync(path.join(__dirname, "..", "..", "services", "agents")).map(f => `agent.${f.replace(/\.service\.ts$/, "")}.run`)
]);

const vision: VisionResult = {
	content_hash: "a".repeat(64),
	width: 400,
	height: 600,
	faces: [],
	bodies: [],
	objects: [{ label: "person", score: 0.9, box: [10, 10, 100, 300] }],
	quality: { width: 400, height: 600, brightness: 0.5, contrast: 0.2, sharpness: 20, blurry: false, too_dark: false, too_bright: false },
	biometric: false,
	provider: "local",
	model_version: "human-3.3.6",
	inference_ms: 100
};

describe("pipelines", () => {
	it.each(PIPELINES)("%s compiles against the shipped actions, with its version", name => {
		const g = compileGraph(defs[name], a => shipped.has(a));
		expect(g.version).toBe(PIPELINE_VERSIONS[name]);
		expect(g.order[0]).toMatch(/vision|bio/);
		expect(g.order.indexOf("aggregator")).toBeLessThan(g.order.indexOf("formatter"));
		expect(g.byId.get("vision")!.required).toBe(true);
		for (const id of ["face", "fashion", "posture", "bio", "embedder", "formatter"]) expect(g.byId.get(id)!.required).toBe(false);
		expect(["face", "fashion", "posture", "bio"].map(id => g.byId.get(id)!.consent)).toEqual(["face_analysis", "fashion_analysis", "posture_analysis", "bio_analysis"]);
	});

	it("enhanced and hybrid add the specialized agents; core has none of them", () => {
		const ids = (n: keyof typeof defs) => defs[n].nodes.map(x => x.id);
		expect(ids("core")).not.toContain("fixit");
		for (const n of ["enhanced", "hybrid"] as const) {
			expect(ids(n)).toEqual(expect.arrayContaining([...SPECIALIZED_NODES]));
			expect(defs[n].nodes.filter(x => (SPECIALIZED_NODES as readonly string[]).includes(x.id)).every(x => !x.required)).toBe(true);
			// The history's improvement tags feed fixit: the history runs first.
			const g = compileGraph(defs[n]);
			expect(g.order.indexOf("perception_history")).toBeLessThan(g.order.indexOf("fixit"));
		}
		expect(SPECIALIZED_NODES).toEqual(expect.arrayContaining(["perception_history", "social_graph"]));
		expect(defs.enhanced.nodes.find(x => x.id === "social_graph")!.retries).toBe(0);
		expect(ids("core")).not.toContain("perception_history");
		expect([PIPELINE_VERSIONS.enhanced, PIPELINE_VERSIONS.hybrid]).toEqual(["enhanced@1.1.0", "hybrid@1.1.0"]);
	});

	it("a graph naming an agent this build does not ship is refused at compile time", () => {
		const bad = { ...defs.core, nodes: defs.core.nodes.map(n => (n.id === "face" ? { ...n, action: "agent.facez.run" } : n)) };
		expect(() => compileGraph(bad, a => shipped.has(a))).toThrow(GraphError);
	});

	it("every node's input, built from a plausible state, satisfies its agent's input schema", () => {
		const state: Record<string, unknown> = {
			media_id: "m1",
			user_id: "u1",
			analysis_id: "a1",
			consent: CONSENT_DEFAULTS,
			bio_text: "I run, cook and take photos of old buildings.",
			vision,
			face: { faces: [{ expression: "happy", emotions: { happy: 0.9 }, is_subject: true, age: null }], quality: vision.quality, confidence: 0.8 },
			fashion: { style: "casual", palette: [{ name: "navy", share: 0.6 }], harmony: "neutral", overall_rating: 6.5, confidence: 0.7 },
			posture: { alignment_score: 7, tips: ["Keep your shoulders relaxed."], metrics: { openness: 0.6 }, confidence: 0.8 },
			bio: { vibe_summary: "Warm and curious.", strengths: ["curious"], weaknesses: [], improvements: [], confidence: 0.6, features: { sentiment: 0.5 } }
		};
		const g = defs.enhanced;
		const node = (id: string) => g.nodes.find(n => n.id === id)!;
		expect(FaceInput.safeParse(node("face").input(state)).success).toBe(true);
		expect(FashionInput.safeParse(node("fashion").input(state)).success).toBe(true);
		expect(PostureInput.safeParse(node("posture").input(state)).success).toBe(true);
		expect(EmbedderInput.safeParse(node("embedder").input(state)).success).toBe(true);
		expect(BioInput.safeParse(node("bio").input(state)).success).toBe(true);
		expect(AggregatorInput.safeParse(node("aggregator").input(state)).success).toBe(true);
		expect(node("vision").input(state)).toEqual({ media_id: "m1", user_id: "u1", biometric: false });
		state.aggregate = { overall_score: 6, style_score: 6, presence_score: 7, confidence: 0.6, key_strengths: [], improvement_areas: ["There is room to grow in your outfit (5/10)."], components: { face: { score: 7 } } };
		expect(FormatterInput.safeParse(node("formatter").input(state)).success).toBe(true);
		expect(SocialInput.safeParse(node("social_perception").input(state)).success).toBe(true);
		state.social_perception = { social_score: 7, tags: ["approachable", "calm", "tidy"] };
		expect(FixitInput.safeParse(node("fixit").input(state)).success).toBe(true);
		expect(VibeInput.safeParse(node("vibe_analysis").input(state)).success).toBe(true);
		expect(node("perception_history").input(state)).toEqual({ user_id: "u1", limit: HISTORY_LIMIT });
		expect(GraphInput.safeParse(node("social_graph").input(state)).success).toBe(true);
		expect((node("fixit").input(state) as { improved_areas: string[] }).improved_areas).toEqual([]);
		state.perception_history = { improvement_tags: ["confident", "warm"], decline_tags: [] };
		expect(FixitInput.parse(node("fixit").input(state)).improved_areas).toEqual(["confident", "warm"]);
		// Without bio consent neither the embedder nor the vibe reading sees the bio.
		const noBio = { ...state, consent: { ...CONSENT_DEFAULTS, bio_analysis: false } };
		expect((node("embedder").input(noBio) as { bio_text?: string }).bio_text).toBeUndefined();
		expect((node("vibe_analysis").input(noBio) as { bio_text?: string }).bio_text).toBeUndefined();
	});

	it("runs the core graph with fakes: consent gates skip, an optional failure is a warning, the run goes on", async () => {
		const g = compileGraph(defs.core);
		const called: string[] = [];
		const run = await executeGraph(
			g,
			{ media_id: "m", user_id: "u", analysis_id: "a", consent: { ...CONSENT_DEFAULTS, face_analysis: false } },
			{
				consented: p => resolveConsent({ face_analysis: false })[p as keyof typeof CONSENT_DEFAULTS],
				invoke: async n => {
					called.push(n.id);
					if (n.id === "fashion") throw new Error("boom");
					return n.id === "vision" ? vision : { ok: n.id };
				}
			}
		);
		expect(run.failed).toBeNull();
		expect(called).not.toContain("face");
		expect(run.nodes.face).toMatchObject({ status: "skipped", reason: "no face_analysis consent" });
		expect(run.nodes.bio).toMatchObject({ status: "skipped", reason: "no input: bio_text" });
		expect(run.nodes.fashion.status).toBe("failed");
		expect(run.nodes.formatter.status).toBe("done");
		expect(run.warnings).toEqual([expect.stringMatching(/^fashion could not be completed/)]);
	});

	it("enhanced with fakes: social_graph's 403 (not opted in) skips the node with its reason, a null section, never a failed run", async () => {
		const g = compileGraph(defs.enhanced);
		const history = { trend_summary: "Holding steady.", score_trend: [], improvement_tags: ["confident"], decline_tags: [], trend: "stable" };
		let fixitInput: any;
		const run = await executeGraph(
			g,
			{ media_id: "m", user_id: "u", analysis_id: "a", consent: CONSENT_DEFAULTS },
			{
				consented: () => true,
				invoke: async (n, params) => {
					if (n.id === "social_graph") throw Object.assign(new Error("The social graph is only for users who opted in to public analysis"), { type: "FORBIDDEN", code: 403, retryable: false });
					if (n.id === "fixit") fixitInput = params;
					if (n.id === "vision") return vision;
					if (n.id === "perception_history") return history;
					return { ok: n.id };
				}
			}
		);
		expect(run.failed).toBeNull();
		expect(run.nodes.social_graph).toMatchObject({ status: "skipped", attempts: 1, reason: expect.stringMatching(/^not permitted: The social graph is only for users who opted in/) });
		expect(run.warnings).toEqual([]);
		expect(fixitInput.improved_areas).toEqual(["confident"]);
		const specialized = specializedOf(run.state, run.nodes, [...SPECIALIZED_NODES]);
		expect(specialized.social_graph).toEqual({ error: expect.stringMatching(/opted in/) });
		const e = enhancedEnvelope({}, specialized, "u", "t") as any;
		expect(e.specialized_analysis.perception_history).toEqual(history);
		expect(e.specialized_analysis.social_graph).toBeNull();
		expect((hybridEnvelope({}, specialized, "u", "t") as any).enhancements.social_graph).toEqual({ error: expect.stringMatching(/opted in/) });
	});

	it("estimates a minor from the subject's age only", () => {
		expect(estimatedMinor({ faces: [{ is_subject: true, age: 16 }] })).toBe(true);
		expect(estimatedMinor({ faces: [{ is_subject: true, age: null }] })).toBe(false);
		expect(estimatedMinor(undefined)).toBe(false);
	});

	it("rebuilds a run's state from its checkpoints", () => {
		const s = stateFromCheckpoints({ aggregator: { output: { overall_score: 5 } }, posture: { output: { alignment_score: 6 } }, ghost: { output: 1 } }, CONSENT_DEFAULTS);
		expect(s).toEqual({ consent: CONSENT_DEFAULTS, aggregate: { overall_score: 5 }, posture: { alignment_score: 6 } });
	});
});

describe("consent and the request", () => {
	it("applies the SPEC defaults: biometric and technical metadata off, the rest on", () => {
		expect(resolveConsent(undefined)).toEqual(CONSENT_DEFAULTS);
		expect(resolveConsent({ face_analysis: false }).face_analysis).toBe(false);
	});

	it("a stored withdrawal wins over the request; biometric needs an explicit yes somewhere", () => {
		expect(resolveConsent({ fashion_analysis: true }, { fashion_analysis: false }).fashion_analysis).toBe(false);
		expect(resolveConsent({ biometric_analysis: true }).biometric_analysis).toBe(true);
		expect(resolveConsent({}, { biometric_analysis: true }).biometric_analysis).toBe(true);
		expect(resolveConsent({ biometric_analysis: true }, { biometric_analysis: false }).biometric_analysis).toBe(false);
	});

	it("drops unknown keys, in options too", () => {
		const p = AnalyzeRequest.parse({ media_id: "m", role: "admin", options: { recent_limit: 2, evil: true } });
		expect(p).toEqual({ media_id: "m", options: { recent_limit: 2 } });
		expect(AnalyzeRequest.safeParse({ media_id: "m", user_consent: { face_analysis: "no" } }).success).toBe(false);
	});
});

describe("report shaping", () => {
	const base = (over: Partial<ReportInput> = {}): ReportInput => ({
		analysis_id: "a",
		media_id: "m",
		pipeline: "core",
		graph_version: "core@1.0.0",
		timestamp: "2025-01-01T00:00:00.000Z",
		consent: CONSENT_DEFAULTS,
		state: {
			vision,
			aggregate: { overall_score: 6.5, attractiveness_score: 7, style_score: 6, presence_score: 7, confidence: 0.7 },
			face: { faces: [] },
			fashion: { style: "casual" }
		},
		nodes: {
			vision: { status: "done", attempts: 1, ms: 10 },
			face: { status: "done", attempts: 1, ms: 5 },
			fashion: { status: "failed", reason: "boom", attempts: 2, ms: 5 },
			bio: { status: "skipped", reason: "no input: bio_text", attempts: 0, ms: 0 }
		},
		versions: {},
		text: { summary: "A summary.", key_insights: ["a"], recommendations: ["b"], disclaimers: ["d"] },
		warnings: [],
		total_ms: 20,
		...over
	});

	it("leaves out attractiveness without biometric consent, and the failed section, with a warning", () => {
		const r = finalResponse(base());
		expect("attractiveness_score" in r).toBe(false);
		expect(r.detailed_analysis).toEqual({ face: { faces: [] } });
		expect(r.warnings).toEqual(["fashion could not be completed (boom); the report is partial."]);
		expect(r.processing_metadata).toMatchObject({ agents_run: ["vision", "face"], agents_failed: [{ agent: "fashion", reason: "boom", attempts: 2 }], agents_skipped: [{ agent: "bio", reason: "no input: bio_text" }] });
	});

	it("detailed_analysis is null without its consent; metadata and trace ids only with technical_metadata", () => {
		expect(finalResponse(base({ consent: { ...CONSENT_DEFAULTS, detailed_analysis: false } })).detailed_analysis).toBeNull();
		const r = finalResponse(base({ consent: { ...CONSENT_DEFAULTS, technical_metadata: true, biometric_analysis: true } }));
		expect(r.attractiveness_score).toBe(7);
		expect(Object.keys(r.detailed_analysis as object).sort()).toEqual(["face", "langsmith_run_ids", "metadata"]);
	});

	it("falls back to the aggregate's sentences without the formatter", () => {
		expect(reportText(undefined, { explanation: "Scores combine posture.", key_strengths: ["x"], improvement_areas: ["y"] })).toEqual({ summary: "Scores combine posture.", key_insights: ["x"], recommendations: ["y"] });
		expect(reportText(undefined, undefined).summary).toMatch(/could not be written/);
	});

	it("keeps checkpoints small and records versions", () => {
		expect(checkpointOutput("vision", vision)).toEqual({ output: { ref: "vision", content_hash: vision.content_hash, provider: "local", model_version: "human-3.3.6", biometric: false, width: 400, height: 600, inference_ms: 100 }, resumable: false });
		expect(checkpointOutput("embedder", { vectors: { style: [1] }, dims: {}, versions: {}, warnings: [], version: "1" }).output).not.toHaveProperty("vectors");
		expect(versionsOf({ model: "local-rules", prompt_version: "p1" }, "1.0.0", "core@1.0.0")).toEqual({ agent: "1.0.0", model: "local-rules", prompt: "p1", graph: "core@1.0.0" });
	});

	it("envelopes: failed parts are null (enhanced) or {error} (hybrid)", () => {
		const history = { trend_summary: "s", score_trend: [], improvement_tags: [], decline_tags: [] };
		const spec = { fixit: { error: "boom" }, vibe_analysis: { vibe_score: 50 }, perception_history: history, social_graph: { error: "Opt in first" } };
		const e = enhancedEnvelope({}, spec, "u", "t") as any;
		expect(e.specialized_analysis).toEqual({ fixit_suggestions: null, vibe_analysis: { vibe_score: 50 }, perception_history: history, social_graph: null, social_perception: null });
		const h = hybridEnvelope({}, spec, "u", "t") as any;
		expect(h.enhancements.fixit_suggestions).toEqual({ error: "boom" });
		expect(h.enhancements.perception_history).toEqual(history);
		expect(h.enhancements.social_graph).toEqual({ error: "Opt in first" });
		expect(h.social_analysis).toEqual({ error: "did not run" });
		expect((hybridEnvelope({}, {}, "u", "t") as any).enhancements).toMatchObject({ perception_history: { error: "did not run" }, social_graph: { error: "did not run" } });
	});

	it("history: newest first, at most three insights each, the latest report", () => {
		const doc = (id: string, n: number) => ({ _id: id, media_id: "m", pipeline: "core", created_at: `2025-01-0${n}`, result: { overall_score: n, confidence: 0.5, key_insights: ["a", "b", "c", "d"], timestamp: `t${n}` } });
		const v = historyView("m", [doc("2", 2), doc("1", 1)], 2) as any;
		expect(v.history[0]).toEqual({ timestamp: "t2", analysis_id: "2", pipeline: "core", summary: { overall_score: 2, confidence: 0.5, key_insights: ["a", "b", "c"] } });
		expect(v.latest_analysis.overall_score).toBe(2);
		expect((historyView("m", [], 0) as any).latest_analysis).toBeNull();
	});
});
