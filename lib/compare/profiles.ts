import type { CompareProfile } from "../../agents/compare";
import type { Archetype } from "../../agents/catalogue/celebrities";
import type { MemoryItem } from "../../agents/memory";

/**
 * Shaping stored records into the inputs of the compare and memory agents. Only style and text
 * vectors are ever read here: face descriptors never take part in a comparison or a search.
 */

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | null => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : null);
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) && v >= 0 && v <= 10 ? v : null);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);

export interface StoredVector {
	media_id: string;
	analysis_id: string | null;
	kind: string;
	vector: number[];
	created_at: string;
}

/** The analysis fields the comparisons read (a subset of services/analyses.service AnalysisDoc). */
export interface AnalysisLike {
	_id: string;
	media_id: string;
	pipeline: string;
	created_at: string;
	result: Obj | null;
	checkpoints?: Record<string, { output?: unknown }>;
}

export interface VectorPair {
	style: number[] | null;
	text: number[] | null;
}

/**
 * Style and text vectors by analysis id, and by media id (the newest of the media, for a media
 * whose analysis left none of its own). Vectors arrive newest first; the first one wins.
 */
export function indexVectors(items: StoredVector[]) {
	const byAnalysis = new Map<string, VectorPair>();
	const byMedia = new Map<string, VectorPair>();
	const put = (m: Map<string, VectorPair>, key: string, v: StoredVector) => {
		const pair = m.get(key) ?? { style: null, text: null };
		if (v.kind === "style" && !pair.style) pair.style = v.vector;
		if (v.kind === "text" && !pair.text) pair.text = v.vector;
		m.set(key, pair);
	};
	for (const v of items) {
		if (v.kind !== "style" && v.kind !== "text") continue;
		if (v.analysis_id) put(byAnalysis, v.analysis_id, v);
		put(byMedia, v.media_id, v);
	}
	return {
		of(analysisId: string | null | undefined, mediaId: string | null | undefined): VectorPair {
			const a = analysisId ? byAnalysis.get(analysisId) : undefined;
			const m = mediaId ? byMedia.get(mediaId) : undefined;
			return { style: a?.style ?? m?.style ?? null, text: a?.text ?? m?.text ?? null };
		}
	};
}

export function scoresOf(result: Obj | null | undefined) {
	const r = result ?? {};
	return { overall: num(r.overall_score), style: num(r.style_score), presence: num(r.presence_score) };
}

export function analysisProfile(doc: AnalysisLike, vectors: VectorPair, name: string): CompareProfile {
	return { id: doc._id, name, style_vector: vectors.style, text_vector: vectors.text, scores: scoresOf(doc.result), tags: [], timestamp: doc.created_at };
}

export function archetypeProfile(a: Archetype): CompareProfile {
	return { id: a.id, name: a.name, style_vector: a.style_vector, text_vector: null, scores: { style: a.scores.style, presence: a.scores.presence, overall: null }, tags: a.tags };
}

/** The words of an analysis a text search reads: report text and the labels of its sections. */
export function analysisText(doc: AnalysisLike): string {
	const r = doc.result ?? {};
	const cp = doc.checkpoints ?? {};
	const out = (node: string) => obj(cp[node]?.output) ?? {};
	const parts = [
		typeof r.summary === "string" ? r.summary : "",
		...strings(r.key_insights),
		...strings(r.recommendations),
		typeof out("fashion").style === "string" ? (out("fashion").style as string) : "",
		typeof out("bio").vibe_summary === "string" ? (out("bio").vibe_summary as string) : "",
		...strings(out("bio").strengths),
		...strings(out("posture").tips)
	];
	return parts.filter(Boolean).join("\n").slice(0, 50_000);
}

/** The sections (face, fashion, posture, bio) a stored analysis has. */
export function sectionsOf(doc: AnalysisLike): string[] {
	const cp = doc.checkpoints ?? {};
	return ["face", "fashion", "posture", "bio"].filter(s => cp[s]?.output !== undefined && cp[s]?.output !== null);
}

export function memoryItem(doc: AnalysisLike, vectors: VectorPair): MemoryItem {
	return { analysis_id: doc._id, media_id: doc.media_id, timestamp: doc.created_at, text: analysisText(doc), style_vector: vectors.style, text_vector: vectors.text };
}

/** What a search result shows of an analysis. */
export function analysisSummary(doc: AnalysisLike) {
	const r = doc.result ?? {};
	const s = scoresOf(r);
	return {
		analysis_id: doc._id,
		pipeline: doc.pipeline,
		overall_score: s.overall,
		style_score: s.style,
		presence_score: s.presence,
		summary: typeof r.summary === "string" ? r.summary : null,
		key_insights: strings(r.key_insights).slice(0, 3)
	};
}

export const TIME_RANGES = { "1_month": 30, "3_months": 91, "1_year": 365 } as const;
export type TimeRange = keyof typeof TIME_RANGES;

export function since(range: TimeRange, now = Date.now()): string {
	return new Date(now - TIME_RANGES[range] * 86_400_000).toISOString();
}
