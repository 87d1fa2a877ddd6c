import { randomUUID } from "node:crypto";
import type { Context, ServiceSchema } from "moleculer";
import { z } from "zod";
import type { VibeCompareInput, VibeCompareOutput, VibeSide } from "../agents/vibe-compare";
import { ClientError, forbidden, notFound, unauthorized, validation } from "../lib/errors";
import type { StoredPerception } from "../lib/jobs/ingest";
import { scoresOf, type AnalysisLike } from "../lib/compare/profiles";
import type { Meta } from "../types/meta";

const Id = z.string().min(1).max(64);
export const PairInput = z.object({ media_id_1: Id, media_id_2: Id, user_id: z.string().max(64).optional() });
type PairInput = z.infer<typeof PairInput>;
const RunInput = z.object({ media_id_1: Id, media_id_2: Id, user_id: Id });
type RunInput = z.infer<typeof RunInput>;

interface Summary {
	media_id: string;
	user_id: string;
	perception: StoredPerception | null;
}

export type VibeResult = Pick<VibeCompareOutput, "summary" | "better_media_id" | "comparison_tags" | "score_difference">;

interface Methods {
	pair(ctx: Context<unknown, Meta>, p: PairInput): { userId: string; ids: [string, string] };
	run(ctx: Context<unknown, Meta>, userId: string, ids: [string, string]): Promise<VibeResult & Record<string, unknown>>;
	envelope(r: VibeResult & Record<string, unknown>): Record<string, unknown>;
}

/**
 * Vibe comparison of two of the caller's media (SPEC §3): `POST /analysis/compare-media`,
 * `GET /compare/vibe-comparison` and its async form (a `vibe_compare` job on the jobs service).
 * Reads the stored post-ingest perceptions and the latest analyses; stores nothing itself.
 */
const VibeComparisonService: ServiceSchema<Record<string, never>, Methods> = {
	name: "vibe_comparison",

	actions: {
		/** POST /analysis/compare-media (body or query) and GET /compare/vibe-comparison → flat + envelope. */
		compareMedia: {
			flag: "comparisons",
			rateClass: "compare",
			input: PairInput,
			async handler(ctx: Context<PairInput, Meta>) {
				const { userId, ids } = this.pair(ctx, ctx.params);
				return this.envelope(await this.run(ctx, userId, ids));
			}
		},

		/** POST /compare/vibe-comparison/async → {status:"queued", job_id, media_id_1, media_id_2}; the result at GET /analysis/jobs/{id}. */
		vibeComparisonAsync: {
			flag: "comparisons",
			rateClass: "compare",
			input: PairInput,
			async handler(ctx: Context<PairInput, Meta>) {
				const { userId, ids } = this.pair(ctx, ctx.params);
				// Ownership now (404 at once), not only when the job runs.
				const docs = await ctx.call<Summary[], object>("media.summaries", { ids, limit: 2 });
				for (const id of ids) if (!docs.some(d => d.media_id === id && d.user_id === userId)) throw notFound("Media");
				const job = { kind: "vibe_compare" as const, media_id_1: ids[0], media_id_2: ids[1], user_id: userId };
				// A fresh key per request: the perceptions may have changed since an earlier job of the same pair.
				const { job_id } = await ctx.call<{ job_id: string }, object>("jobs.enqueue", { job, user_id: userId, idempotency_key: randomUUID() });
				return { status: "queued", job_id, media_id_1: ids[0], media_id_2: ids[1] };
			}
		},

		/** Internal: the job's work (ownership checked against `user_id`). */
		run: {
			visibility: "public",
			input: RunInput,
			async handler(ctx: Context<RunInput, Meta>) {
				return this.envelope(await this.run(ctx, ctx.params.user_id, [ctx.params.media_id_1, ctx.params.media_id_2]));
			}
		}
	},

	methods: {
		pair(ctx: Context<unknown, Meta>, p: PairInput) {
			const userId = ctx.meta.userId;
			if (!userId) throw unauthorized();
			if (p.user_id !== undefined && p.user_id !== userId) throw forbidden("user_id must be your own");
			if (p.media_id_1 === p.media_id_2) throw validation([{ field: "media_id_2", message: "must name a different media than media_id_1" }]);
			return { userId, ids: [p.media_id_1, p.media_id_2] };
		},

		async run(ctx: Context<unknown, Meta>, userId: string, ids: [string, string]) {
			const docs = await ctx.call<Summary[], object>("media.summaries", { ids, limit: 2 });
			const sides = await Promise.all(
				ids.map(async (id): Promise<VibeSide> => {
					const d = docs.find(x => x.media_id === id);
					if (!d || d.user_id !== userId) throw notFound("Media");
					const [a] = (await ctx.call<{ items: AnalysisLike[] }, object>("analyses.history", { media_id: id, user_id: userId, limit: 1 })).items;
					const s = scoresOf(a?.result);
					const p = d.perception;
					if (!p && s.overall === null) throw new ClientError("CONFLICT", "A media has not been perceived yet: try again in a moment");
					return {
						media_id: id,
						social: p ? { summary_text: p.social.summary_text, tags: p.social.tags, social_score: p.social.social_score } : null,
						analysis: s.overall !== null ? { overall_score: s.overall, style_score: s.style, presence_score: s.presence } : null,
						quality: p?.quality ?? null,
						faces: p ? p.faces.length : null
					};
				})
			);
			return ctx.call<VibeCompareOutput, VibeCompareInput>("agent.vibe_compare.run", { media_1: sides[0], media_2: sides[1] });
		},

		envelope(r: VibeResult & Record<string, unknown>) {
			const flat = { summary: r.summary, better_media_id: r.better_media_id, comparison_tags: r.comparison_tags, score_difference: r.score_difference };
			return { ...flat, success: true, data: flat, scores: r.scores, basis: r.basis };
		}
	}
};

export default VibeComparisonService;
