import { z } from "zod";
import { defineAgent } from "./agent";

/**
 * The notification agent: turns one event (an analysis finished, someone followed) or the
 * periodic sweep (inactivity, the week's summary, percentile moves, similar users' posts) into
 * notifications `{type, title, message, metadata}` in a kind, non-judgemental voice. Pure: the
 * service gathers the facts (its own dedupe history included) and stores what comes out.
 *
 * Dedupe: every notification carries a `dedupe_key` the store keeps unique per user, and the
 * agent reads the user's recent notifications: one `analysis_ready` per analysis, one
 * `new_follower` per follower, at most one `improvement_reminder` per 14 days, one
 * `weekly_summary` per ISO week, one `percentile_update` per day, one `similar_user_activity`
 * per day (and never twice for the same post).
 */

/** The kinds a user can switch off in their preferences. */
export const PREFERENCE_TYPES = ["analysis_ready", "new_follower", "improvement_reminder", "percentile_update", "similar_user_activity", "weekly_summary"] as const;
/** Notices the user cannot switch off: the retention policy's warning before an inactive account is erased. */
export const MANDATORY_TYPES = ["account_inactive"] as const;
export const NOTIFICATION_TYPES = [...PREFERENCE_TYPES, ...MANDATORY_TYPES] as const;
type PreferenceType = (typeof PREFERENCE_TYPES)[number];
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

const DAY_MS = 24 * 3600_000;
/** No upload for this long → an improvement reminder (and at most one per this period). */
export const REMINDER_AFTER_DAYS = 14;
/** A similar user's post counts as news for this long. */
export const SIMILAR_ACTIVITY_DAYS = 2;
/** A percentile move smaller than this is noise, not news. */
export const PERCENTILE_MIN_CHANGE = 5;

const Id = z.string().min(1).max(64);
const Iso = z.string().min(1).max(40);
const Alias = z.string().max(100).nullish();

export const Preferences = z.object(Object.fromEntries(PREFERENCE_TYPES.map(t => [t, z.boolean()])) as Record<PreferenceType, z.ZodBoolean>);
export type Preferences = z.infer<typeof Preferences>;
export const DEFAULT_PREFERENCES: Preferences = Object.fromEntries(PREFERENCE_TYPES.map(t => [t, true])) as Preferences;

const Trigger = z.discriminatedUnion("trigger", [
	z.object({ trigger: z.literal("analysis_completed"), analysis_id: Id, media_id: Id.nullish(), overall_score: z.number().min(0).max(10).nullish() }),
	z.object({ trigger: z.literal("followed"), follower_id: Id, follower_alias: Alias }),
	/** Retention: the account has been inactive since `last_active_at` and will be erased on `erase_after` unless the user signs in. */
	z.object({ trigger: z.literal("inactive"), last_active_at: Iso, erase_after: Iso }),
	z.object({
		trigger: z.literal("sweep"),
		/** The newest upload, or null when there is none. */
		last_upload_at: Iso.nullable(),
		registered_at: Iso.nullish(),
		/** The last 7 days. */
		week: z.object({ analyses: z.number().int().min(0), uploads: z.number().int().min(0), average_score: z.number().min(0).max(10).nullish(), best_score: z.number().min(0).max(10).nullish() }),
		/** The social-graph percentile now and the one last notified (or first seen); null without a social graph. */
		percentile: z.object({ current: z.number().min(0).max(100), previous: z.number().min(0).max(100).nullable() }).nullish(),
		/** Posts of similar (opted-in) users, any age: the agent keeps those of the last 2 days. */
		similar_activity: z.array(z.object({ user_id: Id, alias: Alias, media_id: Id, created_at: Iso })).max(50).default([])
	})
]);

export const NotificationInput = z.object({
	user_id: Id,
	preferences: Preferences.default(DEFAULT_PREFERENCES),
	/** The user's notifications of the last 30 days or so: what dedupe reads. */
	recent: z.array(z.object({ type: z.enum(NOTIFICATION_TYPES), created_at: Iso, dedupe_key: z.string().max(200) })).max(1000).default([]),
	event: Trigger
});
export type NotificationInput = z.input<typeof NotificationInput>;

export const NotificationDraft = z.object({
	type: z.enum(NOTIFICATION_TYPES),
	title: z.string().min(1).max(120),
	message: z.string().min(1).max(500),
	metadata: z.record(z.string(), z.unknown()),
	/** Unique per user in the store; a second insert with the same key is dropped. */
	dedupe_key: z.string().min(1).max(200),
	/** Another user the notification is about (follower, similar user): erased with them. */
	actor_id: Id.nullable()
});
export type NotificationDraft = z.infer<typeof NotificationDraft>;

export const NotificationOutput = z.object({ notifications: z.array(NotificationDraft) });

export interface NotificationDeps {
	now(): Date;
}

/** `2026-W48`: the ISO 8601 week (Monday first; week 1 holds the year's first Thursday), in UTC. */
export function isoWeek(d: Date): string {
	const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
	const dow = t.getUTCDay() || 7;
	t.setUTCDate(t.getUTCDate() + 4 - dow);
	const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
	const week = Math.ceil(((t.getTime() - yearStart) / DAY_MS + 1) / 7);
	return `${t.getUTCFullYear()}-W${String(week).padStart(2, "0")}`;
}

function ordinal(n: number): string {
	const r = Math.round(n);
	const s = r % 100 >= 11 && r % 100 <= 13 ? "th" : (["th", "st", "nd", "rd"][r % 10] ?? "th");
	return `${r}${s}`;
}

const round1 = (n: number) => Math.round(n * 10) / 10;
const nameOf = (alias: string | null | undefined) => (alias && alias.trim() ? alias.trim() : "Someone");

type Event = z.output<typeof Trigger>;
type Recent = z.output<typeof NotificationInput>["recent"];

function since(recent: Recent, type: NotificationType, now: Date): number {
	const times = recent.filter(r => r.type === type).map(r => Date.parse(r.created_at)).filter(Number.isFinite);
	return times.length ? now.getTime() - Math.max(...times) : Infinity;
}

function drafts(userId: string, e: Event, recent: Recent, now: Date): NotificationDraft[] {
	switch (e.trigger) {
		case "analysis_completed":
			return [
				{
					type: "analysis_ready",
					title: "Your analysis is ready",
					message: "Your new analysis is ready. Have a look at what stands out and a few ideas you might like to try.",
					metadata: { analysis_id: e.analysis_id, media_id: e.media_id ?? null, ...(typeof e.overall_score === "number" ? { overall_score: e.overall_score } : {}) },
					dedupe_key: `analysis_ready:${e.analysis_id}`,
					actor_id: null
				}
			];
		case "inactive":
			return [
				{
					type: "account_inactive",
					title: "Your account will be deleted soon",
					message: `You have not signed in since ${e.last_active_at.slice(0, 10)}. Under our retention policy your account and all its data will be deleted on ${e.erase_after.slice(0, 10)} unless you sign in before then.`,
					metadata: { last_active_at: e.last_active_at, erase_after: e.erase_after },
					dedupe_key: `account_inactive:${e.last_active_at}`,
					actor_id: null
				}
			];
		case "followed":
			if (e.follower_id === userId) return [];
			return [
				{
					type: "new_follower",
					title: "You have a new follower",
					message: `${nameOf(e.follower_alias)} started following you.`,
					metadata: { follower_id: e.follower_id, alias: e.follower_alias ?? null },
					dedupe_key: `new_follower:${e.follower_id}`,
					actor_id: e.follower_id
				}
			];
		case "sweep":
			return sweepDrafts(e, recent, now);
	}
}

function sweepDrafts(e: Extract<Event, { trigger: "sweep" }>, recent: Recent, now: Date): NotificationDraft[] {
	const out: NotificationDraft[] = [];
	const t = now.getTime();
	const day = now.toISOString().slice(0, 10);

	const lastActive = e.last_upload_at ?? e.registered_at ?? null;
	const idleMs = lastActive ? t - Date.parse(lastActive) : NaN;
	const reminderMs = REMINDER_AFTER_DAYS * DAY_MS;
	if (idleMs >= reminderMs && since(recent, "improvement_reminder", now) >= reminderMs)
		out.push({
			type: "improvement_reminder",
			title: "Ready for a fresh look?",
			message: e.last_upload_at
				? "It has been a little while since your last photo. Whenever you feel like it, a new one shows how your style and presence are coming along."
				: "Whenever you feel like it, upload a photo to see how you come across and get a few friendly ideas.",
			metadata: { days_since_last_upload: e.last_upload_at ? Math.floor(idleMs / DAY_MS) : null },
			dedupe_key: `improvement_reminder:${Math.floor(t / reminderMs)}`,
			actor_id: null
		});

	const week = isoWeek(now);
	if (e.week.analyses + e.week.uploads > 0) {
		const parts = [`This week you shared ${e.week.uploads} photo${e.week.uploads === 1 ? "" : "s"} and ran ${e.week.analyses} analys${e.week.analyses === 1 ? "is" : "es"}.`];
		if (typeof e.week.average_score === "number") parts.push(`Your average overall score was ${round1(e.week.average_score)}/10.`);
		parts.push("Keep exploring what feels like you.");
		out.push({
			type: "weekly_summary",
			title: "Your week on LifeMirror",
			message: parts.join(" "),
			metadata: { week, analyses: e.week.analyses, uploads: e.week.uploads, average_score: e.week.average_score ?? null, best_score: e.week.best_score ?? null },
			dedupe_key: `weekly_summary:${week}`,
			actor_id: null
		});
	}

	const p = e.percentile;
	if (p && p.previous !== null && Math.abs(p.current - p.previous) >= PERCENTILE_MIN_CHANGE) {
		const up = p.current > p.previous;
		out.push({
			type: "percentile_update",
			title: up ? "Your standing went up" : "Your standing shifted",
			message: up
				? `You are now around the ${ordinal(p.current)} percentile, up from the ${ordinal(p.previous)}. Nice momentum!`
				: `You are now around the ${ordinal(p.current)} percentile (it was the ${ordinal(p.previous)}). Percentiles move as new people join; a fresh photo keeps yours current.`,
			metadata: { percentile: Math.round(p.current), previous_percentile: Math.round(p.previous), direction: up ? "up" : "down" },
			dedupe_key: `percentile_update:${day}`,
			actor_id: null
		});
	}

	const fresh = e.similar_activity
		.filter(a => t - Date.parse(a.created_at) <= SIMILAR_ACTIVITY_DAYS * DAY_MS && Date.parse(a.created_at) <= t)
		.sort((a, b) => b.created_at.localeCompare(a.created_at));
	const seen = new Set(recent.map(r => r.dedupe_key));
	const post = fresh.find(a => !seen.has(`similar_user_activity:${a.media_id}`));
	if (post && since(recent, "similar_user_activity", now) >= DAY_MS)
		out.push({
			type: "similar_user_activity",
			title: "New from someone with a similar vibe",
			message: `${nameOf(post.alias)} shared a new photo. Different takes on a similar style can spark fresh ideas.`,
			metadata: { user_id: post.user_id, alias: post.alias ?? null, media_id: post.media_id },
			dedupe_key: `similar_user_activity:${post.media_id}`,
			actor_id: post.user_id
		});
	return out;
}

export const notification = defineAgent({
	name: "notification",
	version: "1.0.0",
	input: NotificationInput,
	output: NotificationOutput,
	async run(input, deps: NotificationDeps) {
		const now = deps.now();
		const seen = new Set(input.recent.map(r => r.dedupe_key));
		const notifications = drafts(input.user_id, input.event, input.recent, now).filter(d => ((MANDATORY_TYPES as readonly string[]).includes(d.type) || input.preferences[d.type as PreferenceType]) && !seen.has(d.dedupe_key));
		return { notifications };
	}
});
