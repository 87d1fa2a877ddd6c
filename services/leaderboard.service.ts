import type { Context, ServiceSchema } from "moleculer";
import { z } from "zod";
import { config } from "../lib/config";
import { dbMixin, type DbMethods } from "../mixins/db.mixin";
import type { AnalysisDoc } from "./analyses.service";
import { analysisMinor, heldReasons } from "../agents/public-feed";
import type { PublicProfile } from "./users.service";

/**
 * The leaderboard (`GET /public/leaderboard`, no auth). It keeps one score record per completed
 * analysis (from `analysis.completed`) and a snapshot per category × period, rebuilt on events
 * (debounced) and every LEADERBOARD_REFRESH_S (periods roll). Opted-in adults only: a user with
 * any analysis estimating them under 18 never appears, nor does anyone who is not public now
 * (checked when building and again when reading). An analysis the guardrails flagged is held
 * out, as in the feed.
 *
 * Scores (0–10, from the FinalAnalysisResponse): `overall`, `style`, `presence` = the user's
 * best score of that kind among their analyses completed in the period; `improvement` = their
 * newest overall score minus their oldest in the period (two analyses or more), may be negative.
 * Order (total, stable): score desc, then the earlier achievement (when the best was first
 * reached; for improvement, the newest analysis), then user_id. Ranks are positions 1…n.
 * percentile (1–99) = 100·(below + ½·equal)/n among every ranked user of that board.
 */

export const CATEGORIES = ["overall", "style", "presence", "improvement"] as const;
export const PERIODS = ["week", "month", "all"] as const;
export type Category = (typeof CATEGORIES)[number];
export type Period = (typeof PERIODS)[number];
const PERIOD_MS: Record<Period, number> = { week: 7 * 86_400_000, month: 30 * 86_400_000, all: Infinity };
/** Rows kept per snapshot (the largest `limit`). */
export const SNAPSHOT_SIZE = 50;

export interface ScoreDoc {
	_id: string;
	kind: "score";
	user_id: string;
	media_id: string;
	completed_at: string;
	overall: number | null;
	style: number | null;
	presence: number | null;
	minor: boolean;
	/** The guardrails flagged the analysis (held from the public, as in the feed). */
	held?: boolean;
}

export interface Row {
	rank: number;
	user_id: string;
	alias: string;
	percentile: number;
	score: number;
	tags: string[];
	last_upload: string | null;
}

interface SnapshotDoc {
	_id: string;
	kind: "snapshot";
	items: Row[];
	computed_at: string;
}

export interface Ranked {
	user_id: string;
	score: number;
	achieved_at: string;
	percentile: number;
}

/** One board from score records (already limited to opted-in adults and to the period). */
export function rankBoard(scores: Pick<ScoreDoc, "user_id" | "completed_at" | "overall" | "style" | "presence">[], category: Category): Ranked[] {
	const byUser = new Map<string, typeof scores>();
	for (const s of scores) byUser.set(s.user_id, [...(byUser.get(s.user_id) ?? []), s]);
	const rows: Omit<Ranked, "percentile">[] = [];
	for (const [user_id, docs] of byUser) {
		if (category === "improvement") {
			const seq = docs.filter(d => d.overall !== null).sort((a, b) => a.completed_at.localeCompare(b.completed_at));
			if (seq.length < 2) continue;
			rows.push({ user_id, score: Math.round((seq[seq.length - 1].overall! - seq[0].overall!) * 100) / 100, achieved_at: seq[seq.length - 1].completed_at });
			continue;
		}
		const vals = docs.filter(d => d[category] !== null);
		if (!vals.length) continue;
		const best = Math.max(...vals.map(d => d[category]!));
		const achieved = vals.filter(d => d[category] === best).map(d => d.completed_at).sort()[0];
		rows.push({ user_id, score: best, achieved_at: achieved });
	}
	rows.sort((a, b) => b.score - a.score || a.achieved_at.localeCompare(b.achieved_at) || (a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : 0));
	const n = rows.length;
	return rows.map(r => {
		const below = rows.filter(x => x.score < r.score).length;
		const equal = rows.filter(x => x.score === r.score).length;
		return { ...r, percentile: Math.min(99, Math.max(1, Math.round((100 * (below + equal / 2)) / n))) };
	});
}

const Params = z.object({
	limit: z.coerce.number().int().min(1).max(SNAPSHOT_SIZE).default(10),
	category: z.enum(CATEGORIES).default("overall"),
	period: z.enum(PERIODS).default("week")
});
type Params = z.output<typeof Params>;

interface MediaSummary {
	media_id: string;
	created_at: string;
	perception: { social?: { summary_text?: string; tags?: string[] } } | null;
}

interface Methods {
	publicProfiles(ctx: Context | null, ids: string[]): Promise<Map<string, PublicProfile>>;
	build(category: Category, period: Period, scores: ScoreDoc[], profiles: Map<string, PublicProfile>): Promise<Row[]>;
	rebuild(): Promise<void>;
	schedule(): void;
}

interface Vars {
	timer: NodeJS.Timeout | null;
	debounce: NodeJS.Timeout | null;
	rebuilding: Promise<void> | null;
}

const snapshotId = (c: Category, p: Period) => `snapshot:${c}:${p}`;

const LeaderboardService: ServiceSchema<Record<string, never>, Methods & DbMethods, Vars> = {
	name: "leaderboard",
	mixins: [dbMixin("leaderboard", { indexes: [{ fields: ["user_id"] }, { fields: ["kind"] }, { fields: ["media_id"] }] })],

	merged(schema) {
		(schema.actions as Record<string, { cache?: unknown }>).board.cache = { keys: ["category", "period"], ttl: config().social.cacheTtlS };
	},

	actions: {
		/** GET /public/leaderboard */
		get: {
			auth: "none",
			rateClass: "public",
			input: Params,
			async handler(ctx: Context<Params>) {
				const { limit, category, period } = ctx.params;
				const snap = await ctx.call<{ items: Row[]; computed_at: string | null }, object>("leaderboard.board", { category, period });
				// Who is public is read afresh on every request, never from the cache: someone who just left is gone at once.
				const profiles = await this.publicProfiles(ctx, snap.items.map(r => r.user_id));
				const items = snap.items
					.filter(r => profiles.get(r.user_id)?.opt_in)
					.slice(0, limit)
					.map((r, i) => ({ ...r, rank: i + 1, alias: profiles.get(r.user_id)?.alias ?? "Anonymous" }));
				return { items, category, period, computed_at: snap.computed_at };
			}
		},

		/** Internal, cached: one snapshot (built on first use). */
		board: {
			visibility: "public",
			input: z.object({ category: z.enum(CATEGORIES), period: z.enum(PERIODS) }),
			async handler(ctx: Context<{ category: Category; period: Period }>) {
				const id = snapshotId(ctx.params.category, ctx.params.period);
				let snap = await this.dbGet<SnapshotDoc>(id);
				if (!snap) {
					await this.rebuild();
					snap = await this.dbGet<SnapshotDoc>(id);
				}
				return { items: snap?.items ?? [], computed_at: snap?.computed_at ?? null };
			}
		},

		/** Internal: rebuild every snapshot now (operators, tests). */
		refresh: {
			visibility: "public",
			async handler() {
				await this.rebuild();
				return { ok: true };
			}
		},

		/** GDPR export: the user's leaderboard scores (one per completed analysis). */
		exportUser: {
			visibility: "public",
			input: z.object({ user_id: z.string().min(1).max(64) }),
			async handler(ctx: Context<{ user_id: string }>) {
				const docs = await this.dbFind<ScoreDoc>({ query: { kind: "score", user_id: ctx.params.user_id }, sort: ["completed_at"] });
				return { scores: docs.map(({ _id, kind: _k, ...d }) => ({ analysis_id: _id, ...d })) };
			}
		}
	},

	events: {
		async "analysis.completed"(ctx: Context<{ analysis_id: string; user_id: string }>) {
			const { analysis_id, user_id } = ctx.params ?? {};
			if (typeof analysis_id !== "string" || typeof user_id !== "string") return;
			const a = await ctx.call<AnalysisDoc, object>("analyses.get", { id: analysis_id, user_id }).catch(() => null);
			if (!a || a.status !== "completed") return;
			const r = (a.result ?? {}) as Record<string, unknown>;
			const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);
			const doc = { kind: "score" as const, user_id, media_id: a.media_id, completed_at: a.updated_at, overall: num(r.overall_score), style: num(r.style_score), presence: num(r.presence_score), minor: analysisMinor(a), held: heldReasons([], a).length > 0 };
			if (await this.dbGet(a._id)) await this.dbUpdate(a._id, doc);
			else await this.dbInsert({ _id: a._id, ...doc }).catch(() => this.dbUpdate(a._id, doc));
			this.schedule();
		},
		"media.perceived"() {
			this.schedule();
		},
		/** Retention removed an old analysis: its score leaves the boards. */
		async "analysis.expired"(ctx: Context<{ analysis_id: string }>) {
			if (typeof ctx.params?.analysis_id !== "string") return;
			await this.dbRemove(ctx.params.analysis_id).catch(() => undefined);
			this.schedule();
		},
		async "media.deleted"(ctx: Context<{ media_id: string }>) {
			if (typeof ctx.params?.media_id !== "string") return;
			await this.dbRemoveMany({ kind: "score", media_id: ctx.params.media_id });
			await this.rebuild();
		},
		async "user.erased"(ctx: Context<{ user_id: string }>) {
			if (typeof ctx.params?.user_id !== "string") return;
			await this.dbRemoveMany({ kind: "score", user_id: ctx.params.user_id });
			await this.broker.cacher?.clean("leaderboard.**");
			await this.rebuild();
		},
		async "user.updated"(ctx: Context<{ changed?: string[] }>) {
			const changed = ctx.params?.changed ?? [];
			if (!changed.includes("opt_in_public_analysis") && !changed.includes("public_alias")) return;
			await this.broker.cacher?.clean("leaderboard.**");
			await this.rebuild();
		},
		async "consent.changed"(ctx: Context<{ changed?: string[] }>) {
			if (!(ctx.params?.changed ?? []).includes("public_sharing")) return;
			await this.broker.cacher?.clean("leaderboard.**");
			await this.rebuild();
		}
	},

	methods: {
		async publicProfiles(ctx: Context | null, ids: string[]) {
			const out = new Map<string, PublicProfile>();
			const unique = [...new Set(ids)];
			for (let i = 0; i < unique.length; i += 1000) {
				const ask = { ids: unique.slice(i, i + 1000) };
				const list = await (ctx ? ctx.call<PublicProfile[], object>("users.publicProfiles", ask) : this.broker.call<PublicProfile[], object>("users.publicProfiles", ask));
				for (const p of list) out.set(p.user_id, p);
			}
			return out;
		},

		async build(category: Category, period: Period, scores: ScoreDoc[], profiles: Map<string, PublicProfile>) {
			const since = Date.now() - PERIOD_MS[period];
			const ranked = rankBoard(scores.filter(s => profiles.get(s.user_id)?.opt_in && Date.parse(s.completed_at) >= since), category).slice(0, SNAPSHOT_SIZE);
			return Promise.all(
				ranked.map(async (r, i) => {
					const media = await this.broker.call<MediaSummary[], object>("media.summaries", { user_id: r.user_id, limit: 5 }).catch(() => [] as MediaSummary[]);
					// The newest perception with tags whose text the guardrails do not flag.
					const shown = media.find(m => m.perception?.social?.tags?.length && !heldReasons([m.perception.social.summary_text ?? "", ...m.perception.social.tags]).length);
					const tags = shown?.perception?.social?.tags ?? [];
					return { rank: i + 1, user_id: r.user_id, alias: profiles.get(r.user_id)?.alias ?? "Anonymous", percentile: r.percentile, score: r.score, tags: tags.slice(0, 5), last_upload: media[0]?.created_at ?? null };
				})
			);
		},

		/** Every snapshot from the score records; concurrent calls share one run, a call during a run queues one more. */
		async rebuild() {
			const run = async () => {
				const scores = await this.dbFind<ScoreDoc>({ query: { kind: "score" } });
				const minors = new Set(scores.filter(s => s.minor).map(s => s.user_id));
				const adults = scores.filter(s => !minors.has(s.user_id) && !s.held);
				const profiles = await this.publicProfiles(null, adults.map(s => s.user_id));
				const at = new Date().toISOString();
				for (const c of CATEGORIES)
					for (const p of PERIODS) {
						const items = await this.build(c, p, adults, profiles);
						const id = snapshotId(c, p);
						if (await this.dbGet(id)) await this.dbUpdate(id, { items, computed_at: at });
						else await this.dbInsert({ _id: id, kind: "snapshot", items, computed_at: at }).catch(() => this.dbUpdate(id, { items, computed_at: at }));
					}
				await this.broker.cacher?.clean("leaderboard.**");
			};
			const previous = this.rebuilding ?? Promise.resolve();
			const next = previous.catch(() => undefined).then(run);
			this.rebuilding = next;
			try {
				await next;
			} finally {
				if (this.rebuilding === next) this.rebuilding = null;
			}
		},

		/** Coalesces a burst of events (a benchmark's analyses) into one rebuild. */
		schedule() {
			if (this.debounce) return;
			this.debounce = setTimeout(() => {
				this.debounce = null;
				this.rebuild().catch(err => this.logger.warn("leaderboard rebuild failed:", err));
			}, 200);
		}
	},

	created() {
		this.timer = null;
		this.debounce = null;
		this.rebuilding = null;
	},

	async started() {
		this.timer = setInterval(() => this.rebuild().catch(err => this.logger.warn("leaderboard rebuild failed:", err)), config().social.leaderboardRefreshS * 1000);
		this.timer.unref();
	},

	async stopped() {
		if (this.timer) clearInterval(this.timer);
		if (this.debounce) clearTimeout(this.debounce);
		await this.rebuilding?.catch(() => undefined);
	}
};

export default LeaderboardService;
