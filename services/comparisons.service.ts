import type { Context, ServiceSchema } from "moleculer";
import { z } from "zod";
import { COMPARISON_TYPES, type CompareInput, type CompareOutput, type CompareProfile } from "../agents/compare";
import { ARCHETYPES, CATALOGUE_VERSION, CATEGORIES, archetype } from "../agents/catalogue/celebrities";
import { estimatedMinor } from "../agents/workflow/pipelines";
import { ClientError, forbidden, notFound, unauthorized, validation } from "../lib/errors";
import { analysisProfile, archetypeProfile, indexVectors, scoresOf, since, TIME_RANGES, type AnalysisLike, type StoredVector, type TimeRange } from "../lib/compare/profiles";
import type { Meta } from "../types/meta";

const Id = z.string().min(1).max(64);
const Score = z.number().finite().min(0).max(10);

/** `current_analysis` is whatever the client holds (a FinalAnalysisResponse): only these fields are read. */
const CurrentAnalysis = z.object({ analysis_id: Id.optional(), media_id: Id.optional(), overall_score: Score.nullish(), style_score: Score.nullish(), presence_score: Score.nullish() });

export const CompareRequest = z
	.object({
		user_id: z.string().max(64).optional(),
		media_id: Id.optional(),
		current_analysis: CurrentAnalysis.optional(),
		comparison_type: z.enum(COMPARISON_TYPES),
		target_id: Id.optional(),
		time_range: z.enum(Object.keys(TIME_RANGES) as [TimeRange, ...TimeRange[]]).default("3_months")
	})
	.refine(v => v.media_id || v.current_analysis, { message: "media_id or current_analysis is required", path: ["media_id"] })
	.refine(v => v.comparison_type !== "peer" || v.target_id, { message: "target_id (the peer's user id) is required for a peer comparison", path: ["target_id"] });
type CompareRequest = z.infer<typeof CompareRequest>;

type Ctx<P> = Context<P, Meta>;

interface Current {
	profile: CompareProfile;
	media_id: string | null;
	analysis_id: string | null;
}

interface Methods {
	caller(ctx: Ctx<unknown>, claimed?: string): string;
	current(ctx: Ctx<CompareRequest>, userId: string): Promise<Current>;
	vectorsOf(ctx: Ctx<unknown>, userId: string, mediaId?: string): Promise<ReturnType<typeof indexVectors>>;
	targets(ctx: Ctx<CompareRequest>, userId: string, cur: Current): Promise<{ targets: CompareProfile[]; meta: Record<string, unknown> }>;
}

/**
 * Comparisons (SPEC §3): `POST /analysis/compare` against a style archetype, the caller's past
 * self or an opted-in peer, and the archetype catalogue. It loads the caller's own data (and a
 * peer's public style/text vectors and scores — never face descriptors) and asks agent.compare.
 * Nothing is stored here, so there is nothing to erase.
 */
const ComparisonsService: ServiceSchema<Record<string, never>, Methods> = {
	name: "comparisons",

	actions: {
		/** GET /analysis/celebrities — the built-in catalogue of style archetypes (no real people). */
		celebrities: {
			auth: "optional",
			input: z.object({}),
			handler() {
				return {
					celebrities: ARCHETYPES.map(a => ({ id: a.id, name: a.name, category: a.category, description: a.description })),
					total: ARCHETYPES.length,
					categories: [...CATEGORIES]
				};
			}
		},

		/** POST /analysis/compare → ComparisonResult + comparison_type, target_id, target_name, comparison_metadata. */
		compare: {
			flag: "comparisons",
			rateClass: "compare",
			input: CompareRequest,
			async handler(ctx: Ctx<CompareRequest>) {
				const p = ctx.params;
				const userId = this.caller(ctx, p.user_id);
				const cur = await this.current(ctx, userId);
				const { targets, meta } = await this.targets(ctx, userId, cur);
				const input: CompareInput = { comparison_type: p.comparison_type, current: cur.profile, targets, target_id: p.comparison_type === "past_self" ? null : (p.target_id ?? null) };
				const out = await ctx.call<CompareOutput, CompareInput>("agent.compare.run", input);
				const { matches, basis, compared_count, version, target_id, target_name, ...result } = out;
				return {
					comparison_type: p.comparison_type,
					target_id,
					target_name,
					...result,
					comparison_metadata: {
						...meta,
						current: { media_id: cur.media_id, analysis_id: cur.analysis_id },
						basis,
						compared_count,
						// A peer's other candidates are not the caller's business; archetypes and their own past are.
						top_matches: p.comparison_type === "peer" ? [] : matches,
						agent_version: version,
						generated_at: new Date().toISOString()
					}
				};
			}
		}
	},

	methods: {
		caller(ctx: Ctx<unknown>, claimed?: string) {
			const id = ctx.meta.userId;
			if (!id) throw unauthorized();
			if (claimed !== undefined && claimed !== id) throw forbidden("user_id must be your own");
			return id;
		},

		async vectorsOf(ctx: Ctx<unknown>, userId: string, mediaId?: string) {
			const { items } = await ctx.call<{ items: StoredVector[] }, object>("embeddings.listForUser", { user_id: userId, ...(mediaId ? { media_id: mediaId } : {}) });
			return indexVectors(items);
		},

		/**
		 * The caller's side: the media's latest completed analysis (scores) and its style/text
		 * vectors; an `analysis_id` in current_analysis names one of the caller's analyses; scores
		 * in current_analysis fill what is missing. A media without analysis or vectors falls back
		 * to its post-ingest social score; with nothing at all it is a 409.
		 */
		async current(ctx: Ctx<CompareRequest>, userId: string): Promise<Current> {
			const p = ctx.params;
			const ca = p.current_analysis;
			let doc: AnalysisLike | null = null;
			let mediaId = p.media_id ?? ca?.media_id ?? null;
			if (ca?.analysis_id) {
				const own = await ctx.call<AnalysisLike & { status: string }, object>("analyses.get", { id: ca.analysis_id, user_id: userId });
				if (own.status !== "completed") throw new ClientError("CONFLICT", "That analysis has not completed yet");
				doc = own;
				mediaId = own.media_id;
			} else if (mediaId) {
				await ctx.call("media.get", { id: mediaId });
				doc = (await ctx.call<{ items: AnalysisLike[] }, object>("analyses.history", { media_id: mediaId, user_id: userId, limit: 1 })).items[0] ?? null;
			}
			const vectors = mediaId ? (await this.vectorsOf(ctx, userId, mediaId)).of(doc?._id, mediaId) : { style: null, text: null };
			const stored = scoresOf(doc?.result);
			const scores = { overall: stored.overall ?? ca?.overall_score ?? null, style: stored.style ?? ca?.style_score ?? null, presence: stored.presence ?? ca?.presence_score ?? null };
			if (!doc && mediaId && scores.overall === null && !vectors.style) {
				const [m] = await ctx.call<{ perception: { social?: { social_score?: number } } | null }[], object>("media.summaries", { ids: [mediaId], limit: 1 });
				const social = m?.perception?.social?.social_score;
				if (typeof social === "number") scores.overall = Math.max(0, Math.min(10, social));
			}
			if (!vectors.style && scores.overall === null && scores.style === null && scores.presence === null)
				throw new ClientError("CONFLICT", "Nothing to compare yet: analyse this media first (POST /analysis/analyze)");
			return { profile: { id: doc?._id ?? mediaId ?? "current", name: "You", style_vector: vectors.style, text_vector: vectors.text, scores, tags: [], timestamp: doc?.created_at ?? null }, media_id: mediaId, analysis_id: doc?._id ?? null };
		},

		async targets(ctx: Ctx<CompareRequest>, userId: string, cur: Current) {
			const p = ctx.params;
			if (p.comparison_type === "celebrity") {
				if (p.target_id && !archetype(p.target_id)) throw notFound("Celebrity");
				return { targets: ARCHETYPES.map(archetypeProfile), meta: { catalogue_version: CATALOGUE_VERSION, category: p.target_id ? archetype(p.target_id)!.category : null } };
			}
			if (p.comparison_type === "past_self") {
				const from = since(p.time_range);
				const { items } = await ctx.call<{ items: AnalysisLike[] }, object>("analyses.listForUser", { user_id: userId, status: "completed", limit: 100 });
				const past = items.filter(d => d.created_at >= from && d._id !== cur.analysis_id && d.media_id !== cur.media_id);
				const vectors = await this.vectorsOf(ctx, userId);
				return { targets: past.map(d => analysisProfile(d, vectors.of(d._id, d.media_id), `Your analysis of ${d.created_at.slice(0, 10)}`)), meta: { time_range: p.time_range, since: from, past_count: past.length } };
			}
			// peer: an opted-in, active user other than the caller, not an estimated minor, with a completed analysis; anything else is a 404.
			const peerId = p.target_id!;
			if (peerId === userId) throw validation([{ field: "target_id", message: "is yourself: use comparison_type past_self" }]);
			const [profile] = await ctx.call<{ user_id: string; alias: string | null; opt_in: boolean }[], object>("users.publicProfiles", { ids: [peerId] });
			if (!profile?.opt_in) throw notFound("Peer");
			// Their latest analysis; any recent one reading as a minor keeps them out altogether.
			const { items: recent } = await ctx.call<{ items: AnalysisLike[] }, object>("analyses.listForUser", { user_id: peerId, status: "completed", limit: 20 });
			const doc = recent[0];
			if (!doc || recent.some(d => estimatedMinor(d.checkpoints?.face?.output))) throw notFound("Peer");
			const vectors = await this.vectorsOf(ctx, peerId, doc.media_id);
			const name = profile.alias ?? "Anonymous";
			// The peer is named by their user id: their analysis and media ids stay theirs.
			return { targets: [{ ...analysisProfile(doc, vectors.of(doc._id, doc.media_id), name), id: peerId, timestamp: null }], meta: { peer_alias: name } };
		}
	}
};

export default ComparisonsService;
