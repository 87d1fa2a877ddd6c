import { randomInt } from "node:crypto";
import type { Context, ServiceSchema } from "moleculer";
import { z } from "zod";
import { analysisMinor, heldReasons, rankFeed, SORTS, type FeedEntry } from "../agents/public-feed";
import { config } from "../lib/config";
import { validation } from "../lib/errors";
import { dbMixin, type DbMethods } from "../mixins/db.mixin";
import type { AnalysisDoc } from "./analyses.service";
import type { PublicProfile } from "./users.service";

/**
 * The public feed (`GET /public/feed`, no auth). Entries (one per media) are written from events
 * only: `media.perceived` (the post-ingest perception) and `analysis.completed` (its scores),
 * and only for owners who opted in. An estimated minor's entries are kept out, flagged text is
 * held (stored, never shown), and a user who leaves public analysis, deletes a media or is
 * erased is removed at once. Ranking and paging are agents/public-feed.ts; thumbnails are
 * signed when read (never stored). Reads go through the cacher and events clean it.
 */

/** Entries ranked per read: the newest this many (a feed of recent photos, not an archive). */
export const FEED_CANDIDATES = 5000;

export interface FeedDoc {
	_id: string;
	media_id: string;
	user_id: string;
	alias: string | null;
	created_at: string;
	inserted_at: string;
	summary_text: string;
	tags: string[];
	social_score: number | null;
	score: number | null;
	analysis_id: string | null;
	engagement: number;
	minor: boolean;
	held: boolean;
	held_reasons: string[];
}

interface MediaSummary {
	media_id: string;
	user_id: string;
	created_at: string;
	thumbnail_url: string;
	perception: { social?: { summary_text?: string; tags?: string[]; social_score?: number } } | null;
}

const CursorBody = z.object({
	v: z.literal(1),
	s: z.enum(SORTS),
	a: z.iso.datetime(),
	r: z.number().int().min(0),
	k: z.array(z.union([z.number(), z.string().max(200)])).min(1).max(4)
});
type CursorBody = z.infer<typeof CursorBody>;

const Cursor = z
	.string()
	.max(1000)
	.transform((v, ctx) => {
		try {
			return CursorBody.parse(JSON.parse(Buffer.from(v, "base64url").toString("utf8")));
		} catch {
			ctx.addIssue({ code: "custom", message: "is not a cursor this API issued" });
			return z.NEVER;
		}
	});

const Tag = z.string().trim().min(1).max(40);
export const FeedParams = z.object({
	limit: z.coerce.number().int().min(1).max(100).default(20),
	offset: z.coerce.number().int().min(0).max(10_000).optional(),
	cursor: Cursor.optional(),
	days: z.coerce.number().int().min(1).max(3650).optional(),
	min_percentile: z.coerce.number().min(0).max(100).optional(),
	tags: z.union([Tag, z.array(Tag).max(10)]).optional().transform(t => (t === undefined ? [] : Array.isArray(t) ? t : [t])),
	search: z.string().trim().max(100).optional(),
	sort_by: z.enum(SORTS).optional()
});
type FeedParams = z.output<typeof FeedParams>;

/** What one ranked page depends on (the cursor's parts, the filters); the cache key is made of exactly these. */
const PageParams = z.object({
	sort: z.enum(SORTS),
	as_of: z.string().max(40).optional(),
	seed: z.number().int().min(0).optional(),
	after: CursorBody.shape.k.optional(),
	limit: z.number().int().min(1).max(100),
	offset: z.number().int().min(0).max(10_000).default(0),
	days: z.number().int().min(1).max(3650).optional(),
	min_percentile: z.number().min(0).max(100).optional(),
	tags: z.array(z.string().max(40)).max(10).default([]),
	search: z.string().max(100).optional()
});
type PageParams = z.input<typeof PageParams>;
const PAGE_KEYS = Object.keys(PageParams.shape);

interface PageItem {
	user_id: string;
	alias: string;
	media_id: string;
	thumbnail_url: string;
	created_at: string;
	perception: { summary_text: string; tags: string[]; social_score: number | null; percentile: number };
}

interface Vars {
	/** The shown candidates as last loaded (shared by concurrent page builds), and when. */
	loaded: { at: number; entries: Promise<FeedEntry[]> } | null;
}

/** How long loaded candidates are reused by page builds (events drop them sooner on this node). */
const CANDIDATES_MAX_AGE_MS = 1000;

interface Methods {
	candidates(): Promise<FeedEntry[]>;
	profile(ctx: Context, userId: string): Promise<PublicProfile>;
	userIsMinor(ctx: Context, userId: string): Promise<boolean>;
	upsert(ctx: Context, media: MediaSummary, profile: PublicProfile, analysis?: AnalysisDoc | null): Promise<void>;
	backfill(ctx: Context, profile: PublicProfile): Promise<void>;
	refreshUser(ctx: Context, userId: string, backfill: boolean): Promise<void>;
	refreshEngagement(ctx: Context, userId: unknown): Promise<void>;
	changed(): Promise<void>;
}

const FeedService: ServiceSchema<Record<string, never>, Methods & DbMethods, Vars> = {
	name: "feed",
	mixins: [dbMixin("feed", { indexes: [{ fields: ["user_id"] }, { fields: ["created_at"] }] })],

	created() {
		this.loaded = null;
	},

	merged(schema) {
		(schema.actions as Record<string, { cache?: unknown }>).page.cache = { keys: PAGE_KEYS, ttl: config().social.cacheTtlS };
	},

	actions: {
		/** GET /public/feed */
		list: {
			flag: "public_feed",
			auth: "none",
			rateClass: "public",
			input: FeedParams,
			async handler(ctx: Context<FeedParams>) {
				const p = ctx.params;
				const c = p.cursor;
				if (c && p.sort_by && p.sort_by !== c.s) throw validation([{ field: "cursor", message: "was issued for another sort_by" }]);
				const page = await ctx.call<{ items: PageItem[]; next_cursor: string | null }, PageParams>("feed.page", {
					sort: c?.s ?? p.sort_by ?? "newest",
					as_of: c?.a,
					seed: c?.r,
					after: c?.k,
					limit: p.limit,
					offset: c ? 0 : (p.offset ?? 0),
					days: p.days,
					min_percentile: p.min_percentile,
					tags: p.tags,
					search: p.search
				});
				// Who is public is read afresh on every request, never from the cache: an owner who just left never shows.
				const owners = new Map((await ctx.call<PublicProfile[], object>("users.publicProfiles", { ids: [...new Set(page.items.map(i => i.user_id))] })).map(u => [u.user_id, u]));
				const items = page.items.filter(i => owners.get(i.user_id)?.opt_in).map(i => ({ ...i, alias: owners.get(i.user_id)?.alias ?? "Anonymous" }));
				return { items, next_cursor: page.next_cursor };
			}
		},

		/** Internal, cached: one ranked page with signed thumbnails (the cache lives shorter than the signatures). */
		page: {
			visibility: "public",
			input: PageParams,
			async handler(ctx: Context<PageParams>) {
				const p = ctx.params;
				const asOf = p.as_of ?? new Date().toISOString();
				const seed = p.seed ?? randomInt(0, 2 ** 31);
				const entries = await this.candidates();
				const ranked = rankFeed(entries, { sort_by: p.sort, limit: p.limit, offset: p.offset, days: p.days, min_percentile: p.min_percentile, tags: p.tags, search: p.search, after: p.after, as_of: asOf, seed });
				const media = ranked.items.length ? await ctx.call<MediaSummary[], object>("media.summaries", { ids: ranked.items.map(i => i.media_id), limit: 1000 }) : [];
				const thumbs = new Map(media.map(m => [m.media_id, m.thumbnail_url]));
				const items: PageItem[] = ranked.items
					.filter(i => thumbs.has(i.media_id))
					.map(i => ({
						user_id: i.user_id,
						alias: i.alias ?? "Anonymous",
						media_id: i.media_id,
						thumbnail_url: thumbs.get(i.media_id)!,
						created_at: i.created_at,
						perception: { summary_text: i.summary_text, tags: i.tags, social_score: i.social_score, percentile: i.percentile }
					}));
				const next = ranked.next_key ? Buffer.from(JSON.stringify({ v: 1, s: p.sort, a: asOf, r: seed, k: ranked.next_key } satisfies CursorBody)).toString("base64url") : null;
				return { items, next_cursor: next };
			}
		},

		/** GDPR export: the user's feed entries (held ones included, with why). */
		exportUser: {
			visibility: "public",
			input: z.object({ user_id: z.string().min(1).max(64) }),
			async handler(ctx: Context<{ user_id: string }>) {
				const docs = await this.dbFind<FeedDoc>({ query: { user_id: ctx.params.user_id }, sort: ["-created_at"] });
				return { entries: docs.map(({ _id, ...d }) => d) };
			}
		}
	},

	events: {
		async "media.perceived"(ctx: Context<{ media_id: string; user_id: string }>) {
			const { media_id, user_id } = ctx.params ?? {};
			if (typeof media_id !== "string" || typeof user_id !== "string") return;
			const profile = await this.profile(ctx, user_id);
			if (!profile.opt_in) return;
			const [media] = await ctx.call<MediaSummary[], object>("media.summaries", { ids: [media_id] });
			if (!media || media.user_id !== user_id) return;
			const existing = await this.dbGet<FeedDoc>(media_id);
			const analysis = existing?.analysis_id ? await ctx.call<AnalysisDoc, object>("analyses.get", { id: existing.analysis_id, user_id }).catch(() => null) : null;
			await this.upsert(ctx, media, profile, analysis);
			await this.changed();
		},

		async "analysis.completed"(ctx: Context<{ analysis_id: string; user_id: string; media_id: string }>) {
			const { analysis_id, user_id, media_id } = ctx.params ?? {};
			if (typeof analysis_id !== "string" || typeof user_id !== "string" || typeof media_id !== "string") return;
			const analysis = await ctx.call<AnalysisDoc, object>("analyses.get", { id: analysis_id, user_id }).catch(() => null);
			if (!analysis || analysis.status !== "completed") return;
			if (analysisMinor(analysis)) {
				// An estimated minor: none of their entries is shown, now or later.
				await this.dbUpdateMany({ user_id }, { minor: true });
				await this.changed();
				return;
			}
			const profile = await this.profile(ctx, user_id);
			if (!profile.opt_in) return;
			const [media] = await ctx.call<MediaSummary[], object>("media.summaries", { ids: [media_id] });
			if (!media || media.user_id !== user_id) return;
			await this.upsert(ctx, media, profile, analysis);
			await this.changed();
		},

		async "media.deleted"(ctx: Context<{ media_id: string }>) {
			if (typeof ctx.params?.media_id !== "string") return;
			if (await this.dbRemove(ctx.params.media_id)) await this.changed();
		},

		async "user.erased"(ctx: Context<{ user_id: string }>) {
			if (typeof ctx.params?.user_id !== "string") return;
			await this.dbRemoveMany({ user_id: ctx.params.user_id });
			await this.changed();
		},

		async "user.updated"(ctx: Context<{ user_id: string; changed?: string[] }>) {
			const { user_id, changed = [] } = ctx.params ?? {};
			if (typeof user_id !== "string") return;
			if (!changed.includes("opt_in_public_analysis") && !changed.includes("public_alias")) return;
			await this.refreshUser(ctx, user_id, changed.includes("opt_in_public_analysis"));
		},

		async "consent.changed"(ctx: Context<{ user_id: string; changed?: string[] }>) {
			const { user_id, changed = [] } = ctx.params ?? {};
			if (typeof user_id === "string" && changed.includes("public_sharing")) await this.refreshUser(ctx, user_id, true);
		},

		async "user.followed"(ctx: Context<{ followee_id: string }>) {
			await this.refreshEngagement(ctx, ctx.params?.followee_id);
		},

		async "user.unfollowed"(ctx: Context<{ followee_id: string }>) {
			await this.refreshEngagement(ctx, ctx.params?.followee_id);
		}
	},

	methods: {
		/** The entries that may be shown, newest first, loaded once for every page built at the same time. */
		candidates() {
			if (!this.loaded || Date.now() - this.loaded.at > CANDIDATES_MAX_AGE_MS) {
				const entries = this.dbFind<FeedDoc>({ query: { minor: false, held: false }, sort: ["-created_at"], limit: FEED_CANDIDATES }).then(docs => docs.map((d): FeedEntry => ({ ...d, id: d._id, public: true })));
				this.loaded = { at: Date.now(), entries };
				entries.catch(() => {
					if (this.loaded?.entries === entries) this.loaded = null;
				});
			}
			return this.loaded.entries;
		},

		async profile(ctx: Context, userId: string) {
			const [p] = await ctx.call<PublicProfile[], object>("users.publicProfiles", { ids: [userId] });
			return p ?? { user_id: userId, alias: null, opt_in: false };
		},

		async userIsMinor(ctx: Context, userId: string) {
			if ((await this.dbCount({ user_id: userId, minor: true })) > 0) return true;
			const { items } = await ctx.call<{ items: AnalysisDoc[] }, object>("analyses.listForUser", { user_id: userId, status: "completed", limit: 100 });
			return items.some(analysisMinor);
		},

		async upsert(ctx: Context, media: MediaSummary, profile: PublicProfile, analysis?: AnalysisDoc | null) {
			const social = media.perception?.social;
			const result = analysis?.result as { overall_score?: number; summary?: string } | null | undefined;
			const summary = social?.summary_text ?? (typeof result?.summary === "string" ? result.summary.slice(0, 600) : null);
			if (summary === null) return;
			const tags = (social?.tags ?? []).slice(0, 8);
			const socialScore = typeof social?.social_score === "number" ? social.social_score : null;
			const overall = typeof result?.overall_score === "number" ? result.overall_score : null;
			const reasons = heldReasons([summary, ...tags], analysis);
			const counts = await ctx.call<Record<string, number>, object>("follows.counts", { ids: [profile.user_id] }).catch(() => ({}) as Record<string, number>);
			const fields = {
				user_id: profile.user_id,
				alias: profile.alias,
				created_at: media.created_at,
				summary_text: summary,
				tags,
				social_score: socialScore,
				score: overall ?? socialScore,
				analysis_id: analysis?._id ?? null,
				engagement: counts[profile.user_id] ?? 0,
				minor: await this.userIsMinor(ctx, profile.user_id),
				held: reasons.length > 0,
				held_reasons: reasons
			};
			if (await this.dbGet(media.media_id)) await this.dbUpdate(media.media_id, fields);
			else {
				try {
					await this.dbInsert<FeedDoc>({ _id: media.media_id, media_id: media.media_id, inserted_at: new Date().toISOString(), ...fields });
				} catch (err) {
					if ((err as { type?: string }).type !== "CONFLICT") throw err;
					await this.dbUpdate(media.media_id, fields);
				}
			}
		},

		/** Re-reads a user's public profile: gone from the feed when not public, else the alias updated (and, when asked, their media added). */
		async refreshUser(ctx: Context, userId: string, backfill: boolean) {
			const profile = await this.profile(ctx, userId);
			if (!profile.opt_in) await this.dbRemoveMany({ user_id: userId });
			else {
				await this.dbUpdateMany({ user_id: userId }, { alias: profile.alias });
				if (backfill) await this.backfill(ctx, profile);
			}
			await this.changed();
		},

		/** A user who (re)joins public analysis: their perceived media, with their newest analysis each. */
		async backfill(ctx: Context, profile: PublicProfile) {
			const media = await ctx.call<MediaSummary[], object>("media.summaries", { user_id: profile.user_id, limit: 1000 });
			const { items } = await ctx.call<{ items: AnalysisDoc[] }, object>("analyses.listForUser", { user_id: profile.user_id, status: "completed", limit: 100 });
			if (items.some(analysisMinor)) return;
			const newest = new Map<string, AnalysisDoc>();
			for (const a of items) if (!newest.has(a.media_id)) newest.set(a.media_id, a);
			for (const m of media) if (m.perception || newest.has(m.media_id)) await this.upsert(ctx, m, profile, newest.get(m.media_id) ?? null);
		},

		async refreshEngagement(ctx: Context, userId: unknown) {
			if (typeof userId !== "string" || !(await this.dbCount({ user_id: userId }))) return;
			const counts = await ctx.call<Record<string, number>, object>("follows.counts", { ids: [userId] });
			await this.dbUpdateMany({ user_id: userId }, { engagement: counts[userId] ?? 0 });
			await this.changed();
		},

		async changed() {
			this.loaded = null;
			await this.broker.cacher?.clean("feed.**");
		}
	}
};

export default FeedService;
