import type { Context, ServiceSchema } from "moleculer";
import { z } from "zod";
import { STYLE_DIM } from "../agents/embedder";
import { vectorKind, type MemoryInput, type MemoryOutput } from "../agents/memory";
import { TEXT_DIM } from "../agents/vectors";
import { forbidden, unauthorized, validation } from "../lib/errors";
import { analysisSummary, indexVectors, memoryItem, sectionsOf, type AnalysisLike, type StoredVector } from "../lib/compare/profiles";
import type { Meta } from "../types/meta";

const IsoDate = z
	.string()
	.min(4)
	.max(40)
	.refine(s => !Number.isNaN(Date.parse(s)), { message: "must be an ISO date" });
const ANALYSIS_TYPES = ["core", "enhanced", "hybrid", "face", "fashion", "posture", "bio"] as const;

export const SearchRequest = z
	.object({
		user_id: z.string().max(64).optional(),
		query_text: z.string().max(1000).optional(),
		/** A style (STYLE_DIM) or text (TEXT_DIM) vector; JSON has no NaN or Infinity, and strings are refused. */
		query_vector: z.array(z.number().finite()).max(4096).optional(),
		date_range: z.object({ start: IsoDate.optional(), end: IsoDate.optional() }).optional(),
		limit: z.number().int().min(1).max(50).default(10),
		min_similarity: z.number().min(0).max(1).default(0.1),
		analysis_types: z.array(z.enum(ANALYSIS_TYPES)).max(ANALYSIS_TYPES.length).optional()
	})
	.refine(v => !v.date_range?.start || !v.date_range?.end || Date.parse(v.date_range.start) <= Date.parse(v.date_range.end), { message: "start must not be after end", path: ["date_range", "start"] });
type SearchRequest = z.infer<typeof SearchRequest>;

/** The newest completed analyses searched (analyses.listForUser's page). */
const SEARCH_WINDOW = 100;

interface MediaView {
	storage_url: string;
	thumbnail_url: string | null;
}

/**
 * Memory search (SPEC §3 `POST /analysis/search`): over the caller's own completed analyses
 * only — by text (text vector + keywords), by a style or text vector, by date range and type,
 * or newest first with no query. agent.memory ranks; URLs are signed at read time. Nothing is
 * stored here (the vectors live in embeddings, which erases them with the user and the media).
 */
const SearchService: ServiceSchema = {
	name: "search",

	actions: {
		query: {
			rateClass: "search",
			input: SearchRequest,
			async handler(ctx: Context<SearchRequest, Meta>) {
				const p = ctx.params;
				const userId = ctx.meta.userId;
				if (!userId) throw unauthorized();
				if (p.user_id !== undefined && p.user_id !== userId) throw forbidden("user_id must be your own");
				if (p.query_vector?.length && !vectorKind(p.query_vector.length))
					throw validation([{ field: "query_vector", message: `must have ${STYLE_DIM} (style) or ${TEXT_DIM} (text) numbers, not ${p.query_vector.length}` }]);

				const { items } = await ctx.call<{ items: (AnalysisLike & { created_at: string })[] }, object>("analyses.listForUser", { user_id: userId, status: "completed", limit: SEARCH_WINDOW });
				const start = p.date_range?.start ? new Date(p.date_range.start).toISOString() : null;
				const end = p.date_range?.end ? new Date(p.date_range.end).toISOString() : null;
				const types = p.analysis_types?.length ? new Set<string>(p.analysis_types) : null;
				const docs = items.filter(
					d => (!start || d.created_at >= start) && (!end || d.created_at <= end) && (!types || types.has(d.pipeline) || sectionsOf(d).some(s => types.has(s)))
				);
				const vectors = indexVectors((await ctx.call<{ items: StoredVector[] }, object>("embeddings.listForUser", { user_id: userId })).items);
				const ranked = await ctx.call<MemoryOutput, MemoryInput>("agent.memory.run", {
					query_text: p.query_text ?? null,
					query_vector: p.query_vector?.length ? p.query_vector : null,
					items: docs.map(d => memoryItem(d, vectors.of(d._id, d.media_id))),
					limit: p.limit,
					min_similarity: p.min_similarity
				});

				const byId = new Map(docs.map(d => [d._id, d]));
				const results = (
					await Promise.all(
						ranked.results.map(async r => {
							// The caller's own media (media.get checks it again) with freshly signed URLs; a media deleted meanwhile drops out.
							const media = await ctx.call<MediaView, object>("media.get", { id: r.media_id }).catch((err: { code?: number }) => (err.code === 404 ? null : Promise.reject(err)));
							if (!media) return null;
							return {
								media_id: r.media_id,
								similarity_score: r.similarity_score,
								timestamp: r.timestamp,
								analysis_summary: { ...analysisSummary(byId.get(r.analysis_id)!), keyword_matches: r.keyword_matches },
								media_url: media.storage_url,
								thumbnail_url: media.thumbnail_url
							};
						})
					)
				).filter(r => r !== null);
				return {
					query_type: ranked.query_type,
					total_results: results.length,
					results,
					search_metadata: {
						vector_kind: ranked.vector_kind,
						keywords: ranked.keywords,
						candidates: ranked.considered,
						searched_analyses: docs.length,
						search_window: SEARCH_WINDOW,
						limit: p.limit,
						min_similarity: p.min_similarity,
						date_range: p.date_range ?? null,
						analysis_types: p.analysis_types ?? null,
						agent_version: ranked.version,
						searched_at: new Date().toISOString()
					}
				};
			}
		}
	}
};

export default SearchService;
