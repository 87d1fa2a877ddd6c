import type { Context, Service, ServiceSchema } from "moleculer";
import { z } from "zod";
import { HISTORY_LIMIT, type HistoryOutput } from "../agents/perception-history";
import { fixitInputFrom, guardGoal, minorIn, recentAnalysesOf, vibeInputFrom, type MediaSummary, type StoredAnalysis } from "../agents/workflow/insights";
import { ClientError, notFound, unauthorized, validation } from "../lib/errors";
import type { Meta } from "../types/meta";
import type { PublicProfile } from "./users.service";

const Id = z.string().min(1).max(64);
const RecentLimit = z.coerce.number().int().min(1).max(20).default(5);
const Goal = z.string().max(500);
/** `true`/`false` as JSON or as a query string (`z.coerce.boolean` would read "false" as true). */
const Flag = z.union([z.boolean(), z.enum(["true", "false", "1", "0"]).transform(v => v === "true" || v === "1")]).default(false);

const HistoryInput = z.object({ user_id: Id.optional() });
const FixitInput = z.object({ media_id: Id.optional(), recent_limit: RecentLimit, with_reverse_analysis: Flag, goal: Goal.optional(), user_id: Id.optional() });
const GoalInput = z.object({ goal: Goal, recent_limit: RecentLimit, user_id: Id.optional() });
const VibeInput = z.object({ recent_limit: RecentLimit, user_id: Id.optional() });

/** Bounds staleness where a node's memory cacher missed an invalidation (another node got the event). */
const CACHE_TTL_S = 300;
const SOCIAL_GRAPH = "agent.social_graph.run";

type Ctx<P> = Context<P, Meta>;
type Obj = Record<string, unknown>;
/** What a user has stored: newest perceptions, newest completed analyses. */
interface Stored {
	media: MediaSummary[];
	analyses: StoredAnalysis[];
}

interface Methods {
	caller(ctx: Ctx<{ user_id?: string }>): string;
	stored(ctx: Ctx<unknown>, userId: string, limit: number): Promise<Stored>;
	goalOf(goal: string | undefined): string;
	fixit(ctx: Ctx<unknown>, userId: string, latest: StoredAnalysis | null, newest: MediaSummary | undefined): Promise<Obj>;
	reverse(ctx: Ctx<unknown>, goal: string, s: Stored, limit: number): Promise<Obj>;
	socialPosition(ctx: Ctx<unknown>, userId: string): Promise<{ value: Obj | null; warning: string | null }>;
}

/**
 * What a user's stored data says beyond one analysis (SPEC §3): perception history (their own,
 * or the public part of an opted-in user's), fixit suggestions, goal-driven reverse analysis,
 * the vibe reading and the comprehensive profile. The agents do the reading; this service
 * gathers the stored perceptions and analyses (agents/workflow/insights.ts shapes them) and
 * decides who may see what. Profile reads are cached per user and cleaned on the events that
 * change them (histories are cached by agent.perception_history).
 */
const InsightsService: ServiceSchema<Record<string, never>, Methods> = {
	name: "insights",

	actions: {
		/** GET /history/{user_id}, GET /history/perception-history?user_id — self, or the public part of an opted-in adult. */
		history: {
			input: HistoryInput,
			async handler(ctx: Ctx<z.infer<typeof HistoryInput>>) {
				const me = ctx.meta.userId;
				if (!me) throw unauthorized();
				const target = ctx.params.user_id ?? me;
				if (target !== me) {
					// Public only for an opted-in adult: an estimated minor is never shown to others (SPEC §5).
					const [profile] = await ctx.call<PublicProfile[], object>("users.publicProfiles", { ids: [target] });
					if (!profile?.opt_in) throw notFound("User");
					const theirs = await ctx.call<{ items: StoredAnalysis[] }, object>("analyses.listForUser", { user_id: target, status: "completed", limit: 20 });
					if (theirs.items.some(minorIn)) throw notFound("User");
				}
				const h = await ctx.call<HistoryOutput, object>("agent.perception_history.run", { user_id: target, limit: HISTORY_LIMIT });
				if (target === me) return { user_id: me, ...h };
				const { trend_summary, score_trend, improvement_tags, decline_tags, trend, sample_size } = h;
				return { user_id: target, trend_summary, score_trend, improvement_tags, decline_tags, trend, sample_size };
			}
		},

		/** GET /improvement/fixit-suggestions — for one of the caller's media, or their newest; a reverse analysis on request. */
		fixitSuggestions: {
			input: FixitInput,
			async handler(ctx: Ctx<z.infer<typeof FixitInput>>) {
				const me = this.caller(ctx);
				const { media_id, recent_limit, with_reverse_analysis } = ctx.params;
				if (with_reverse_analysis && !ctx.params.goal?.trim()) throw validation([{ field: "goal", message: "is required when with_reverse_analysis is true" }]);
				const goal = with_reverse_analysis ? this.goalOf(ctx.params.goal) : null;
				const s = await this.stored(ctx, me, recent_limit);
				let latest = s.analyses[0] ?? null;
				let newest = s.media[0];
				if (media_id) {
					await ctx.call("media.get", { id: media_id });
					const h = await ctx.call<{ items: StoredAnalysis[] }, object>("analyses.history", { media_id, user_id: me, limit: 1 });
					latest = h.items[0] ?? null;
					[newest] = await ctx.call<MediaSummary[], object>("media.summaries", { ids: [media_id], limit: 1 });
				} else if (!newest) throw notFound("Media");
				const f = await this.fixit(ctx, me, latest, newest);
				return {
					fixit_suggestions: { quick_tips: f.quick_tips, detailed_plan: f.detailed_plan, focus_areas: f.focus_areas },
					reverse_analysis: goal ? await this.reverse(ctx, goal, s, recent_limit) : null
				};
			}
		},

		/** POST /analysis/reverse-goal — flat and enveloped. */
		reverseGoal: {
			rateClass: "goal",
			input: GoalInput,
			async handler(ctx: Ctx<z.infer<typeof GoalInput>>) {
				const me = this.caller(ctx);
				const goal = this.goalOf(ctx.params.goal);
				const r = await this.reverse(ctx, goal, await this.stored(ctx, me, ctx.params.recent_limit), ctx.params.recent_limit);
				const data = { goal: r.goal, recommended_changes: r.recommended_changes, avoid_list: r.avoid_list, action_plan: r.action_plan };
				return { ...data, success: true, data };
			}
		},

		/** GET or POST /analysis/reverse-analysis — the agent's output, flat. */
		reverseAnalysis: {
			rateClass: "goal",
			input: GoalInput,
			async handler(ctx: Ctx<z.infer<typeof GoalInput>>) {
				const me = this.caller(ctx);
				const goal = this.goalOf(ctx.params.goal);
				return this.reverse(ctx, goal, await this.stored(ctx, me, ctx.params.recent_limit), ctx.params.recent_limit);
			}
		},

		/** GET or POST /analysis/vibe-analysis — the agent's output, flat; 404 without media, or before any of it was read. */
		vibeAnalysis: {
			input: VibeInput,
			async handler(ctx: Ctx<z.infer<typeof VibeInput>>) {
				const me = this.caller(ctx);
				const s = await this.stored(ctx, me, ctx.params.recent_limit);
				if (!s.media.length && !s.analyses.length) throw notFound("Media");
				if (!readable(s)) throw notFound("Perception");
				return ctx.call("agent.vibe_analysis.run", vibeInputFrom(s.analyses[0] ?? null, s.media, ctx.params.recent_limit));
			}
		},

		/** GET /analysis/profile/comprehensive — history, current vibe, social position, suggestions. Cached per user. */
		profile: {
			rateClass: "profile",
			input: z.object({}),
			cache: { keys: ["#userId"], ttl: CACHE_TTL_S },
			async handler(ctx: Ctx<object>) {
				const me = this.caller(ctx);
				const s = await this.stored(ctx, me, 5);
				const has = s.media.length > 0 || s.analyses.length > 0;
				const warnings: string[] = [];
				const part = <T>(p: Promise<T>, what: string) =>
					p.catch((err: Error) => {
						warnings.push(`${what} could not be read (${err.message}).`);
						return null;
					});
				const [history, current_vibe, improvement_suggestions, social] = await Promise.all([
					part(ctx.call<HistoryOutput, object>("agent.perception_history.run", { user_id: me, limit: HISTORY_LIMIT }), "history"),
					readable(s) ? part(ctx.call<Obj, object>("agent.vibe_analysis.run", vibeInputFrom(s.analyses[0] ?? null, s.media, 5)), "current_vibe") : null,
					has ? part(this.fixit(ctx, me, s.analyses[0] ?? null, s.media[0]), "improvement_suggestions") : null,
					this.socialPosition(ctx, me)
				]);
				if (!has) warnings.push("No photos yet: upload one to get a vibe reading and suggestions.");
				if (social.warning) warnings.push(social.warning);
				return {
					user_id: me,
					profile_components: { history, current_vibe, social_position: social.value, improvement_suggestions },
					generated_at: new Date().toISOString(),
					warnings
				};
			}
		}
	},

	events: {
		"analysis.completed": { handler: forget },
		"media.perceived": { handler: forget },
		"media.deleted": { handler: forget },
		"user.erased": { handler: forget },
		"user.updated": { handler: forget }
	},

	methods: {
		/** The caller; a `user_id` the frontend sends may only name them (SPEC §3). */
		caller(ctx: Ctx<{ user_id?: string }>) {
			const me = ctx.meta.userId;
			if (!me) throw unauthorized();
			const claimed = (ctx.params as { user_id?: string } | undefined)?.user_id;
			if (claimed !== undefined && claimed !== me) throw new ClientError("FORBIDDEN", "user_id must be your own");
			return me;
		},

		async stored(ctx: Ctx<unknown>, userId: string, limit: number) {
			const [media, analyses] = await Promise.all([
				ctx.call<MediaSummary[], object>("media.summaries", { user_id: userId, limit }),
				ctx.call<{ items: StoredAnalysis[] }, object>("analyses.listForUser", { user_id: userId, status: "completed", limit })
			]);
			return { media, analyses: analyses.items };
		},

		goalOf(goal: string | undefined) {
			const text = goal?.trim() ? guardGoal(goal) : null;
			if (!text) throw validation([{ field: "goal", message: "must be 3–500 characters and pass the content checks" }], "The goal cannot be used");
			return text;
		},

		/** fixit over the latest analysis and newest perception; areas the history shows improving stay out of focus. */
		async fixit(ctx: Ctx<unknown>, userId: string, latest: StoredAnalysis | null, newest: MediaSummary | undefined) {
			const history = await ctx.call<HistoryOutput, object>("agent.perception_history.run", { user_id: userId, limit: HISTORY_LIMIT }).catch(() => null);
			return ctx.call<Obj, object>("agent.fixit.run", fixitInputFrom(latest, newest, history?.improvement_tags ?? []));
		},

		reverse(ctx: Ctx<unknown>, goal: string, s: Stored, limit: number) {
			return ctx.call<Obj, object>("agent.reverse_analysis.run", { goal, recent_analyses: recentAnalysesOf(s.analyses, s.media, limit), minor: s.analyses.some(minorIn) });
		},

		/** The social graph when the agent runs somewhere and the user opted in; otherwise null and why. */
		async socialPosition(ctx: Ctx<unknown>, userId: string) {
			if (!this.broker.registry.getActionEndpoints(SOCIAL_GRAPH)?.hasAvailable())
				return { value: null, warning: "The social position is not available on this deployment." };
			const [profile] = await ctx.call<PublicProfile[], object>("users.publicProfiles", { ids: [userId] });
			if (!profile?.opt_in) return { value: null, warning: "Opt in to public analysis to see your social position." };
			try {
				return { value: await ctx.call<Obj, object>(SOCIAL_GRAPH, { user_id: userId }), warning: null };
			} catch (err) {
				return { value: null, warning: `The social position could not be read (${(err as Error).message}).` };
			}
		}
	}
};

/** Something the vibe reading can use: a completed analysis or a stored perception (the post-ingest job may not have run yet). */
const readable = (s: Stored) => s.analyses.length > 0 || s.media.some(m => m.perception);

/** Drops the event's user's cached profile (the key built by the cacher's own keygen, as for the request). */
async function forget(this: Service, ctx: Context<{ user_id?: string }>) {
	const id = ctx.params.user_id;
	const cacher = this.broker.cacher;
	if (!cacher || typeof id !== "string" || !/^[\w-]{1,64}$/.test(id)) return;
	await cacher.clean(cacher.getCacheKey({ name: `${this.name}.profile` } as never, { keys: ["#userId"] } as never, { meta: { userId: id } } as never));
}

export default InsightsService;
