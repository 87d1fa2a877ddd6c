import { z } from "zod";
import { defineAgent } from "./agent";
import { STYLE_DIM } from "./embedder";
import { clamp, round } from "./shared";
import { TEXT_DIM, cosine, textVector, tokens } from "./vectors";

/**
 * memory: ranks a user's past analyses against a query. Pure: the service hands it the
 * caller's own analyses (with their stored style/text vectors) and it ranks them.
 * - text query: similarity = 0.5 · cosine(text vector of the query, text vector of the
 *   analysis's words) + 0.5 · the share of the query's keywords found in those words; the
 *   analysis's words are its summary, insights, recommendations and labels, and its bio's stored
 *   text vector counts too (the higher cosine of the two). `query_type: "vector_search"`.
 * - vector query: cosine against the stored vector of the same kind (style: STYLE_DIM numbers,
 *   text: TEXT_DIM), clamped to [0, 1]. `vector_search`.
 * - no query: newest first, `structured_search`, similarity 1.
 * Then `min_similarity`, one result per media (its best analysis), ties newest first then by id.
 */

export const MEMORY_VERSION = "1.0.0";

const Vec = z.array(z.number().finite()).max(4096);
export const MemoryItem = z.object({
	analysis_id: z.string().min(1).max(64),
	media_id: z.string().min(1).max(64),
	timestamp: z.string().max(40),
	/** The words of the analysis (summary, insights, recommendations, labels). */
	text: z.string().max(50_000).default(""),
	style_vector: Vec.nullish(),
	text_vector: Vec.nullish()
});
export type MemoryItem = z.input<typeof MemoryItem>;

export const MemoryInput = z.object({
	query_text: z.string().max(1000).nullish(),
	query_vector: Vec.nullish(),
	items: z.array(MemoryItem).max(5000),
	limit: z.number().int().min(1).max(50).default(10),
	min_similarity: z.number().min(0).max(1).default(0.1)
});
export type MemoryInput = z.input<typeof MemoryInput>;

export const MemoryOutput = z.object({
	query_type: z.enum(["vector_search", "structured_search"]),
	vector_kind: z.enum(["style", "text"]).nullable(),
	results: z.array(
		z.object({
			analysis_id: z.string(),
			media_id: z.string(),
			similarity_score: z.number().min(0).max(1),
			timestamp: z.string(),
			keyword_matches: z.array(z.string())
		})
	),
	/** Candidates scored (before min_similarity, dedupe and limit). */
	considered: z.number().int().min(0),
	keywords: z.array(z.string()),
	version: z.string()
});
export type MemoryOutput = z.infer<typeof MemoryOutput>;

/** Which stored vector a query vector is compared with, by its dimension; null for any other length. */
export function vectorKind(dim: number): "style" | "text" | null {
	return dim === STYLE_DIM ? "style" : dim === TEXT_DIM ? "text" : null;
}

const STOP = new Set("a an the and or but of to in on at by for with from as is am are was were be my me i you your it its this that these those so very just do did not no more most".split(" "));

/** The query's keywords: lower-cased words of two letters or more, stopwords out, deduplicated. */
export function keywordsOf(text: string): string[] {
	return [...new Set(tokens(text).filter(t => t.length >= 2 && !STOP.has(t)))].slice(0, 30);
}

/** A keyword matches a word equal to it or sharing a 4+ letter stem (confident ~ confidence). */
function matches(keyword: string, words: Set<string>, list: string[]): boolean {
	if (words.has(keyword)) return true;
	if (keyword.length < 4) return false;
	const stem = keyword.slice(0, Math.max(4, keyword.length - 3));
	return list.some(w => w.length >= 4 && w.startsWith(stem));
}

const memory = defineAgent({
	name: "memory",
	version: MEMORY_VERSION,
	input: MemoryInput,
	output: MemoryOutput,
	async run(input: z.output<typeof MemoryInput>): Promise<MemoryOutput> {
		const text = input.query_text?.trim() ?? "";
		const qv = input.query_vector?.length ? input.query_vector : null;
		const kind = qv ? vectorKind(qv.length) : null;
		if (qv && !kind) throw new RangeError(`query_vector must have ${STYLE_DIM} (style) or ${TEXT_DIM} (text) numbers`);
		const keywords = text ? keywordsOf(text) : [];
		const tq = text ? textVector(text) : null;

		let scored: { item: z.output<typeof MemoryItem>; score: number; kw: string[] }[];
		if (qv && kind) {
			scored = input.items.flatMap(item => {
				const v = kind === "style" ? item.style_vector : item.text_vector;
				return v && v.length === qv.length ? [{ item, score: clamp(cosine(qv, v), 0, 1), kw: [] }] : [];
			});
		} else if (tq) {
			scored = input.items.map(item => {
				const list = tokens(item.text);
				const words = new Set(list);
				const kw = keywords.filter(k => matches(k, words, list));
				const own = list.length ? cosine(tq, textVector(item.text)) : 0;
				const bio = item.text_vector?.length === TEXT_DIM ? cosine(tq, item.text_vector) : 0;
				const vec = clamp(Math.max(own, bio), 0, 1);
				const share = keywords.length ? kw.length / keywords.length : 0;
				return { item, score: clamp(0.5 * vec + 0.5 * share, 0, 1), kw };
			});
		} else scored = input.items.map(item => ({ item, score: 1, kw: [] }));

		const considered = scored.length;
		const structured = !qv && !tq;
		const sorted = scored
			.map(s => ({ ...s, score: round(s.score, 4) }))
			.filter(s => structured || s.score >= input.min_similarity)
			.sort((x, y) => y.score - x.score || y.item.timestamp.localeCompare(x.item.timestamp) || x.item.analysis_id.localeCompare(y.item.analysis_id));
		const seen = new Set<string>();
		const results = [];
		for (const s of sorted) {
			if (seen.has(s.item.media_id)) continue;
			seen.add(s.item.media_id);
			results.push({ analysis_id: s.item.analysis_id, media_id: s.item.media_id, similarity_score: s.score, timestamp: s.item.timestamp, keyword_matches: s.kw });
			if (results.length >= input.limit) break;
		}
		return { query_type: structured ? "structured_search" : "vector_search", vector_kind: kind ?? (tq ? "text" : null), results, considered, keywords, version: MEMORY_VERSION };
	}
});

export default memory;
