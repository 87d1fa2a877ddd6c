import { HISTORY_LIMIT } from "../perception-history";
import type { GraphDef, NodeDef, State } from "./graph";

/**
 * The three analysis pipelines of SPEC §2, declared from one set of node definitions.
 *
 * State inputs: `media_id`, `user_id`, `analysis_id`, `consent` (the resolved purposes, see
 * ./consent.ts) and `bio_text` (the guarded bio, absent when none was sent or it was refused).
 *
 * - `vision` (required) is the shared vision pass; its failure fails the run.
 * - `face`, `fashion`, `posture`, `bio`, `embedder` run in parallel, each optional, the first
 *   four behind their consent purpose. `bio` waits for no one (it reads only the text).
 * - `aggregator` is a pure agent (agents/aggregator.ts): it runs inside the orchestrator as a
 *   `local.*` action (no broker hop, nothing to deploy), see LOCAL_ACTIONS in the orchestrator.
 * - `formatter` writes the report text; optional: without it the report falls back to the
 *   aggregate's own sentences and says so in `warnings`.
 * - `enhanced` and `hybrid` add `social_perception`, `fixit`, `vibe_analysis` and
 *   `perception_history` (the user's trend over their stored perceptions; its improvement
 *   tags keep recently improved areas out of fixit's focus) and `social_graph` (the user's
 *   position among opted-in users; 403 for a user who has not opted in). All optional: a
 *   failure is a warning and a null/`{error}` section, never a failed run.
 *
 * Nodes read the sections they merely use (face, fashion, … for the aggregator) from the state
 * in `input()`, not in `reads`: `reads` lists what a node cannot run without (the executor
 * skips a node whose `reads` are missing), edges give the order.
 */

export type PipelineName = "core" | "enhanced" | "hybrid";
export const PIPELINES: readonly PipelineName[] = ["core", "enhanced", "hybrid"];

/** The consent purposes of SPEC §3 as they sit in the state's `consent`. */
export interface Consent {
	face_analysis: boolean;
	fashion_analysis: boolean;
	posture_analysis: boolean;
	bio_analysis: boolean;
	detailed_analysis: boolean;
	biometric_analysis: boolean;
	technical_metadata: boolean;
}

export interface Timeouts {
	visionMs: number;
	agentMs: number;
}

/** The node timeouts a node's config gives (the vision pass: two attempts of a remote provider plus the local fallback). */
export function pipelineTimeouts(c: { vision: { timeoutMs: number }; agents: { timeoutMs: number } }): Timeouts {
	return { visionMs: c.vision.timeoutMs * 2 + 10_000, agentMs: c.agents.timeoutMs };
}

export const PIPELINE_VERSIONS: Record<PipelineName, string> = { core: "core@1.0.0", enhanced: "enhanced@1.1.0", hybrid: "hybrid@1.1.0" };

/** The specialized nodes of `enhanced` and `hybrid`: their outputs (or `{error}`) are the run's `specialized`. */
export const SPECIALIZED_NODES = ["social_perception", "fixit", "vibe_analysis", "perception_history", "social_graph"] as const;

export const AGGREGATOR_ACTION = "local.aggregator";

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | null => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : null);
const consentOf = (s: State) => s.consent as Consent;
const ids = (s: State) => ({ media_id: s.media_id as string, user_id: s.user_id as string });

/** Estimated minor: the subject face's age estimate (only present with biometric consent) is under 18. */
export function estimatedMinor(face: unknown): boolean {
	const faces = (obj(face)?.faces as Obj[] | undefined) ?? [];
	const subject = faces.find(f => f.is_subject) ?? faces[0];
	return typeof subject?.age === "number" && subject.age < 18;
}

/** The section outputs the aggregator, formatter and social_perception read (null when absent). */
export function sectionsOf(s: State) {
	return { face: obj(s.face), fashion: obj(s.fashion), posture: obj(s.posture), bio: obj(s.bio) };
}

function nodes(t: Timeouts): Record<string, NodeDef> {
	const agent = (id: string, over: Partial<NodeDef> & Pick<NodeDef, "reads" | "input">): NodeDef => ({
		id,
		action: `agent.${id}.run`,
		writes: id,
		required: false,
		timeoutMs: t.agentMs,
		retries: 1,
		...over
	});
	return {
		vision: {
			id: "vision",
			action: "vision.analyze",
			reads: ["media_id", "user_id", "consent"],
			writes: "vision",
			input: s => ({ ...ids(s), biometric: consentOf(s).biometric_analysis }),
			required: true,
			timeoutMs: t.visionMs,
			retries: 1
		},
		face: agent("face", {
			consent: "face_analysis",
			reads: ["vision"],
			input: s => ({ vision: s.vision, ...ids(s), consent: { face: true, biometric: consentOf(s).biometric_analysis } })
		}),
		fashion: agent("fashion", { consent: "fashion_analysis", reads: ["vision"], input: s => ({ vision: s.vision, ...ids(s), consent: { fashion: true } }) }),
		posture: agent("posture", { consent: "posture_analysis", reads: ["vision"], input: s => ({ vision: s.vision, ...ids(s), consent: { posture: true } }) }),
		bio: agent("bio", { consent: "bio_analysis", reads: ["bio_text"], input: s => ({ text: s.bio_text }) }),
		embedder: agent("embedder", {
			reads: ["vision"],
			input: s => ({
				vision: s.vision,
				...ids(s),
				analysis_id: s.analysis_id,
				bio_text: consentOf(s).bio_analysis ? s.bio_text : undefined,
				consent: { biometric: consentOf(s).biometric_analysis }
			})
		}),
		aggregator: {
			id: "aggregator",
			action: AGGREGATOR_ACTION,
			reads: ["vision", "consent"],
			writes: "aggregate",
			input: s => ({ ...sectionsOf(s), consent: { biometric: consentOf(s).biometric_analysis }, minor: estimatedMinor(s.face) }),
			required: true,
			timeoutMs: 5000,
			retries: 0
		},
		formatter: agent("formatter", {
			reads: ["aggregate"],
			input: s => ({
				aggregate: s.aggregate,
				sections: sectionsOf(s),
				flags: { minor: estimatedMinor(s.face), biometric: consentOf(s).biometric_analysis, emotion_shown: emotionShown(s) }
			})
		}),
		social_perception: agent("social_perception", {
			reads: ["vision"],
			input: s => {
				const { face, fashion, posture } = sectionsOf(s);
				const vision = s.vision as { objects: unknown[]; quality: unknown };
				return { faces: face?.faces ?? [], posture, fashion, quality: vision.quality, objects: vision.objects.slice(0, 100), minor: estimatedMinor(s.face) };
			}
		}),
		fixit: agent("fixit", { reads: ["aggregate"], input: fixitInput }),
		vibe_analysis: agent("vibe_analysis", { reads: ["vision"], input: vibeInput }),
		perception_history: agent("perception_history", { reads: ["user_id"], input: s => ({ user_id: s.user_id, limit: HISTORY_LIMIT }) }),
		// Answers 403 for a user who has not opted in to public analysis: a failed optional node (null section + warning), not retried.
		social_graph: agent("social_graph", { reads: ["user_id"], input: s => ({ user_id: s.user_id }), retries: 0 })
	};
}

export function vibeInput(s: State) {
	const { face, fashion, posture } = sectionsOf(s);
	const social = obj(s.social_perception);
	const faces = (face?.faces as Obj[] | undefined) ?? [];
	const subject = faces.find(f => f.is_subject) ?? faces[0];
	return {
		bio_text: consentOf(s).bio_analysis ? (s.bio_text as string | undefined) : undefined,
		vision_summary: {
			expression: (subject?.expression as string | undefined) ?? null,
			style: (fashion?.style as string | undefined) ?? null,
			alignment_score: (posture?.alignment_score as number | null | undefined) ?? null,
			social_score: (social?.social_score as number | undefined) ?? null,
			tags: (social?.tags as string[] | undefined) ?? []
		}
	};
}

/** A stored run's state rebuilt from its checkpoints (each node's output under the key it writes). */
export function stateFromCheckpoints(checkpoints: Record<string, { output: unknown }>, consent: Consent, t: Timeouts = { visionMs: 1, agentMs: 1 }): State {
	const defs = nodes(t);
	const state: State = { consent };
	for (const [id, cp] of Object.entries(checkpoints)) if (defs[id]) state[defs[id].writes] = cp.output;
	return state;
}

/** The report shows an expression read from a face: the emotion disclaimer applies. */
export function emotionShown(s: State): boolean {
	const faces = obj(s.face)?.faces;
	return Array.isArray(faces) && faces.length > 0;
}

export function fixitInput(s: State) {
	const a = obj(s.aggregate) ?? {};
	const { posture } = sectionsOf(s);
	const components = obj(a.components) ?? {};
	const score = (v: unknown) => (typeof v === "number" ? v : null);
	return {
		scores: {
			overall: score(a.overall_score),
			style: score(a.style_score),
			presence: score(a.presence_score),
			posture: score(posture?.alignment_score),
			expression: score(obj(components.face)?.score),
			bio: score(obj(components.bio)?.score),
			social: score(obj(s.social_perception)?.social_score)
		},
		weakest_areas: (a.improvement_areas as string[] | undefined) ?? [],
		tips: { posture: ((posture?.tips as string[] | undefined) ?? []).slice(0, 10) },
		improved_areas: ((obj(s.perception_history)?.improvement_tags as string[] | undefined) ?? []).slice(0, 20)
	};
}

const CORE = ["vision", "face", "fashion", "posture", "bio", "embedder", "aggregator", "formatter"];
const CORE_EDGES: [string, string][] = [
	["vision", "face"],
	["vision", "fashion"],
	["vision", "posture"],
	["vision", "embedder"],
	["face", "aggregator"],
	["fashion", "aggregator"],
	["posture", "aggregator"],
	["bio", "aggregator"],
	["aggregator", "formatter"]
];
const SPECIALIZED_EDGES: [string, string][] = [
	["face", "social_perception"],
	["fashion", "social_perception"],
	["posture", "social_perception"],
	["social_perception", "fixit"],
	["aggregator", "fixit"],
	["social_perception", "vibe_analysis"],
	["bio", "vibe_analysis"],
	["perception_history", "fixit"]
];

const INPUTS = ["media_id", "user_id", "analysis_id", "consent", "bio_text"];

/** The pipelines as data; timeouts come from the config of the node that runs them. */
export function pipelines(t: Timeouts): Record<PipelineName, GraphDef> {
	const n = nodes(t);
	const pick = (ids: string[]) => ids.map(id => n[id]);
	const specialized = [...CORE, ...SPECIALIZED_NODES];
	return {
		core: { name: "core", version: PIPELINE_VERSIONS.core, inputs: INPUTS, nodes: pick(CORE), edges: CORE_EDGES },
		enhanced: { name: "enhanced", version: PIPELINE_VERSIONS.enhanced, inputs: INPUTS, nodes: pick(specialized), edges: [...CORE_EDGES, ...SPECIALIZED_EDGES] },
		hybrid: { name: "hybrid", version: PIPELINE_VERSIONS.hybrid, inputs: INPUTS, nodes: pick(specialized), edges: [...CORE_EDGES, ...SPECIALIZED_EDGES] }
	};
}
