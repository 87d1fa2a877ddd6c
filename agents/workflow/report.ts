import { z } from "zod";
import type { NodeRecord } from "./execute";
import type { Consent } from "./pipelines";

/**
 * Pure response shaping for the analysis endpoints (SPEC §3): the FinalAnalysisResponse from a
 * finished run, the enhanced and hybrid envelopes, the history view and the stored-analysis
 * view. No I/O here: the orchestrator and the analysis service call these.
 */

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | null => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : null);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);

export interface NodeVersions {
	agent: string | null;
	model: string | null;
	prompt: string | null;
	graph: string;
}

/** Which agent, model and prompt version produced a node's output (recorded on every checkpoint). */
export function versionsOf(output: unknown, agentVersion: string | null, graphVersion: string): NodeVersions {
	const o = obj(output) ?? {};
	const s = (v: unknown) => (typeof v === "string" ? v : null);
	return {
		agent: agentVersion,
		model: s(o.model) ?? s(o.model_version) ?? s(o.version) ?? (o.provider ? s(o.provider) : null),
		prompt: s(o.prompt_version),
		graph: graphVersion
	};
}

/**
 * What a checkpoint keeps of a node's output: small and free of bulky or biometric data. The
 * vision pass is kept as a reference only (it is cached by content hash, so a resumed run asks
 * for it again at no cost); the embedder's vectors live in the embeddings store, not here.
 */
export function checkpointOutput(node: string, output: unknown): { output: unknown; resumable: boolean } {
	const o = obj(output);
	if (node === "vision" && o)
		return {
			output: { ref: "vision", content_hash: o.content_hash, provider: o.provider, model_version: o.model_version, biometric: o.biometric, width: o.width, height: o.height, inference_ms: o.inference_ms },
			resumable: false
		};
	if (node === "embedder" && o) return { output: { dims: o.dims, versions: o.versions, warnings: o.warnings, version: o.version }, resumable: true };
	return { output, resumable: true };
}

/** The report text the output rails check (the formatter's fields, with the mandatory disclaimers). */
export const ReportText = z.object({
	summary: z.string().min(1),
	key_insights: z.array(z.string()),
	recommendations: z.array(z.string()),
	disclaimers: z.array(z.string())
});
export type ReportText = z.infer<typeof ReportText>;

/** The formatter's text, or the aggregate's own sentences when the formatter did not run. */
export function reportText(formatter: unknown, aggregate: unknown): Omit<ReportText, "disclaimers"> {
	const f = obj(formatter);
	if (f && typeof f.summary === "string") return { summary: f.summary, key_insights: strings(f.key_insights), recommendations: strings(f.recommendations) };
	const a = obj(aggregate) ?? {};
	return {
		summary: typeof a.explanation === "string" && a.explanation ? a.explanation : "The analysis finished, but the report text could not be written.",
		key_insights: strings(a.key_strengths),
		recommendations: strings(a.improvement_areas)
	};
}

export interface ReportInput {
	analysis_id: string;
	media_id: string;
	pipeline: string;
	graph_version: string;
	timestamp: string;
	consent: Consent;
	state: Obj;
	nodes: Record<string, NodeRecord>;
	versions: Record<string, NodeVersions>;
	text: ReportText;
	/** Warnings from the input and output rails. */
	warnings: string[];
	total_ms: number;
	/** A video: the keyframe analysed (its best) and the others, by index and time (SPEC §2). */
	keyframes?: VideoKeyframes | null;
}

export interface VideoKeyframes {
	analysed: { index: number; time_s: number };
	others: { index: number; time_s: number }[];
}

/** Which keyframe of a video was analysed and which others it has, from the media record; null for an image. */
export function videoKeyframes(media: { media_type?: string; keyframes?: { time_s: number; best?: boolean }[] } | null | undefined): VideoKeyframes | null {
	if (media?.media_type !== "video" || !media.keyframes?.length) return null;
	const frames = media.keyframes.map((k, index) => ({ index, time_s: k.time_s, best: k.best === true }));
	const best = frames.find(f => f.best) ?? frames[0];
	return { analysed: { index: best.index, time_s: best.time_s }, others: frames.filter(f => f !== best).map(f => ({ index: f.index, time_s: f.time_s })) };
}

/** Section nodes of the detailed analysis and the purpose that gates each. */
const SECTIONS: [string, keyof Consent][] = [
	["face", "face_analysis"],
	["fashion", "fashion_analysis"],
	["posture", "posture_analysis"],
	["bio", "bio_analysis"]
];

/** A failed optional node's warning (also rebuilt for nodes restored from a checkpoint). */
export function nodeWarnings(nodes: Record<string, NodeRecord>): string[] {
	return Object.entries(nodes)
		.filter(([, r]) => r.status === "failed")
		.map(([id, r]) => `${id} could not be completed (${r.reason ?? "failed"}); the report is partial.`);
}

/** Node records as users see them: which broker node ran each (a host name) stays internal; the run and run count are shown. */
export function publicNodes(nodes: Record<string, unknown>): Record<string, unknown> {
	return Object.fromEntries(Object.entries(nodes).map(([id, n]) => {
		const { node_id: _internal, ...rest } = (obj(n) ?? {}) as Obj;
		return [id, rest];
	}));
}

function processingMetadata(r: ReportInput) {
	const entries = Object.entries(r.nodes);
	return {
		pipeline: r.pipeline,
		graph_version: r.graph_version,
		agents_run: entries.filter(([, n]) => n.status === "done").map(([id]) => id),
		agents_skipped: entries.filter(([, n]) => n.status === "skipped").map(([id, n]) => ({ agent: id, reason: n.reason ?? "skipped" })),
		agents_failed: entries.filter(([, n]) => n.status === "failed").map(([id, n]) => ({ agent: id, reason: n.reason ?? "failed", attempts: n.attempts })),
		versions: r.versions,
		timings: { ...Object.fromEntries(entries.map(([id, n]) => [id, n.ms])), total_ms: r.total_ms },
		resumed_nodes: entries.filter(([, n]) => n.resumed).map(([id]) => id),
		...(r.keyframes ? { keyframes: r.keyframes } : {})
	};
}

function detailedAnalysis(r: ReportInput): Obj | null {
	if (!r.consent.detailed_analysis) return null;
	const out: Obj = {};
	for (const [node, purpose] of SECTIONS) if (r.consent[purpose] && r.nodes[node]?.status === "done" && obj(r.state[node])) out[node] = r.state[node];
	if (r.consent.technical_metadata) {
		const v = obj(r.state.vision) ?? {};
		out.metadata = {
			vision: { provider: v.provider ?? null, model_version: v.model_version ?? null, width: v.width ?? null, height: v.height ?? null, inference_ms: v.inference_ms ?? null },
			nodes: publicNodes(r.nodes),
			aggregate: obj(r.state.aggregate) ? { scores: (r.state.aggregate as Obj).scores, components: (r.state.aggregate as Obj).components } : null
		};
		out.langsmith_run_ids = Object.fromEntries(Object.keys(r.nodes).map(id => [id, null]));
	}
	return out;
}

/** The FinalAnalysisResponse of SPEC §3. Optional scores are left out (not null) when not measured or not allowed. */
export function finalResponse(r: ReportInput): Obj {
	const a = obj(r.state.aggregate) ?? {};
	const score = (v: unknown) => (typeof v === "number" ? v : undefined);
	const out: Obj = {
		media_id: r.media_id,
		analysis_id: r.analysis_id,
		timestamp: r.timestamp,
		overall_score: score(a.overall_score) ?? 0
	};
	if (r.consent.biometric_analysis && score(a.attractiveness_score) !== undefined) out.attractiveness_score = a.attractiveness_score;
	if (score(a.style_score) !== undefined) out.style_score = a.style_score;
	if (score(a.presence_score) !== undefined) out.presence_score = a.presence_score;
	return {
		...out,
		summary: r.text.summary,
		key_insights: r.text.key_insights,
		recommendations: r.text.recommendations,
		detailed_analysis: detailedAnalysis(r),
		confidence: score(a.confidence) ?? 0,
		processing_metadata: processingMetadata(r),
		warnings: [...new Set([...r.warnings, ...nodeWarnings(r.nodes)])],
		disclaimers: r.text.disclaimers,
		langsmith_run_id: null
	};
}

/** The specialized agents' outputs: each output, or `{error}` when it was skipped or failed. */
export function specializedOf(state: Obj, nodes: Record<string, NodeRecord>, ids: string[]): Obj {
	return Object.fromEntries(ids.map(id => [id, nodes[id]?.status === "done" ? state[id] : { error: nodes[id]?.reason ?? "did not run" }]));
}

const orNull = (v: unknown) => (obj(v) && !("error" in (v as Obj)) ? v : null);

export function enhancedEnvelope(result: Obj, specialized: Obj, userId: string, at: string): Obj {
	return {
		success: true,
		core_analysis: result,
		specialized_analysis: {
			fixit_suggestions: orNull(specialized.fixit),
			vibe_analysis: orNull(specialized.vibe_analysis),
			perception_history: orNull(specialized.perception_history),
			// Null when the node did not run or failed; a user who has not opted in is skipped (403), processing_metadata says why.
			social_graph: orNull(specialized.social_graph),
			social_perception: orNull(specialized.social_perception)
		},
		metadata: { processing_mode: "enhanced_hybrid", user_id: userId, analysis_timestamp: at }
	};
}

export function hybridEnvelope(result: Obj, specialized: Obj, userId: string, at: string): Obj {
	return {
		success: true,
		core_analysis: result,
		social_analysis: specialized.social_perception ?? { error: "did not run" },
		enhancements: {
			fixit_suggestions: specialized.fixit ?? { error: "did not run" },
			vibe_analysis: specialized.vibe_analysis ?? { error: "did not run" },
			perception_history: specialized.perception_history ?? { error: "did not run" },
			social_graph: specialized.social_graph ?? { error: "did not run" }
		},
		metadata: { processing_mode: "enhanced_graph", user_id: userId, execution_timestamp: at }
	};
}

interface StoredAnalysis {
	_id: string;
	media_id: string;
	pipeline: string;
	created_at: string;
	result: Obj | null;
}

/** GET /analysis/{media_id}/history. */
export function historyView(mediaId: string, items: StoredAnalysis[], total: number): Obj {
	return {
		media_id: mediaId,
		analysis_count: total,
		history: items.map(d => ({
			timestamp: (d.result?.timestamp as string | undefined) ?? d.created_at,
			analysis_id: d._id,
			pipeline: d.pipeline,
			summary: {
				overall_score: d.result?.overall_score ?? null,
				confidence: d.result?.confidence ?? null,
				key_insights: strings(d.result?.key_insights).slice(0, 3)
			}
		})),
		latest_analysis: items[0]?.result ?? null
	};
}

/** GET /analysis/{id}: the stored run, its checkpoints as versions only (outputs are in the result). */
export function analysisView(d: StoredAnalysis & Obj): Obj {
	const checkpoints = obj(d.checkpoints) ?? {};
	return {
		analysis_id: d._id,
		media_id: d.media_id,
		pipeline: d.pipeline,
		graph_version: d.graph_version,
		status: d.status,
		progress: d.progress,
		nodes: publicNodes(obj(d.nodes) ?? {}),
		checkpoints: Object.fromEntries(Object.entries(checkpoints).map(([k, c]) => [k, { versions: obj(c)?.versions ?? null, at: obj(c)?.at ?? null }])),
		result: d.result,
		specialized: d.specialized ?? null,
		error: d.error ?? null,
		created_at: d.created_at,
		updated_at: d.updated_at
	};
}
