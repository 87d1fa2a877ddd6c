import { randomUUID } from "node:crypto";
import Redis from "ioredis";
import type { Context, ServiceSchema } from "moleculer";
import { z } from "zod";
import { DEFAULT_PREFERENCES, NotificationInput, PREFERENCE_TYPES, notification, type NotificationDraft, type Preferences } from "../agents/notification";
import { runAgent } from "../agents/agent";
import { analysisMinor, type AnalysisFacts } from "../agents/public-feed";
import type { GraphOutput } from "../agents/social-graph";
import { config } from "../lib/config";
import { forbidden, notFound, unauthorized, validation } from "../lib/errors";
import { redisOptions } from "../lib/redis";
import { dbMixin, type DbMethods } from "../mixins/db.mixin";
import type { Meta } from "../types/meta";

/**
 * Notifications: the store (one collection: notification records and one settings record per
 * user — preferences and the activity the sweep reads), the routes and the periodic sweep. The
 * rules live in the pure `notification` agent, run here in-process: its input is this service's
 * own dedupe history, and creating a notification must not wait on a worker. Each new one is
 * broadcast as `notification.created`; the realtime push is services/notification-stream.service.ts.
 */

const Id = z.string().min(1).max(64);
const DAY_MS = 24 * 3600_000;
const flag = z.preprocess(v => (v === "true" || v === "1" ? true : v === "false" || v === "0" || v === "" ? false : v), z.boolean());

const ListInput = z.object({
	unread_only: flag.default(false),
	cursor: z.string().max(300).optional(),
	limit: z.coerce.number().int().min(1).max(100).default(20)
});
const LegacyListInput = z.object({ user_id: z.string().max(64).optional(), limit: z.coerce.number().int().min(1).max(200).default(100) });
const PrefsInput = z.object(Object.fromEntries(PREFERENCE_TYPES.map(t => [t, z.boolean().optional()])) as Record<(typeof PREFERENCE_TYPES)[number], z.ZodOptional<z.ZodBoolean>>);

export interface NotificationDoc {
	_id: string;
	doc: "n";
	user_id: string;
	type: NotificationDraft["type"];
	title: string;
	message: string;
	metadata: Record<string, unknown>;
	is_read: boolean;
	created_at: string;
	/** `created_at|_id`: the stable order newest first, and the cursor's position. */
	sort_key: string;
	/** `<user>:<agent key>`, unique: a notification is never stored twice. */
	dedupe_key: string;
	actor_id?: string | null;
}

interface SettingsDoc {
	_id: string;
	doc: "s";
	user_id: string;
	preferences?: Partial<Preferences>;
	registered_at?: string | null;
	last_upload_at?: string | null;
	last_percentile?: number | null;
}

export const notificationView = (d: NotificationDoc) => ({ id: d._id, type: d.type, title: d.title, message: d.message, metadata: d.metadata ?? {}, is_read: d.is_read, created_at: d.created_at });
export type NotificationView = ReturnType<typeof notificationView>;

const settingsId = (userId: string) => `settings:${userId}`;
const encodeCursor = (d: NotificationDoc) => Buffer.from(`${d.is_read ? 1 : 0}|${d.sort_key}`).toString("base64url");
function decodeCursor(c: string): { seg: 0 | 1; key: string } {
	const m = /^([01])\|(\d{4}-\d\d-\d\dT[\d:.]+Z\|[A-Za-z0-9-]{1,64})$/.exec(Buffer.from(c, "base64url").toString("utf8"));
	if (!m) throw validation([{ field: "cursor", message: "is not a cursor this API returned" }]);
	return { seg: m[1] === "1" ? 1 : 0, key: m[2] };
}

type SweepEvent = Extract<z.input<typeof NotificationInput>["event"], { trigger: "sweep" }>;

interface Methods {
	caller(ctx: Context<unknown, Meta>, claimed?: string): string;
	settingsOf(userId: string): Promise<SettingsDoc | null>;
	track(userId: string, set: Partial<SettingsDoc>): Promise<void>;
	produce(userId: string, event: z.input<typeof NotificationInput>["event"]): Promise<NotificationView[]>;
	page(userId: string, unreadOnly: boolean, cursor: string | undefined, limit: number): Promise<{ items: NotificationDoc[]; next: string | null }>;
	markRead(ctx: Context<{ id: string }, Meta>): Promise<void>;
	sweepFacts(userId: string): Promise<SweepEvent>;
	sweepUser(userId: string): Promise<number>;
	sweepAll(): Promise<{ users: number; created: number }>;
	tick(): Promise<void>;
	tryCall<T>(action: string, params: object): Promise<T | null>;
}

interface Vars {
	/** Cluster mode: the sweep lock. */
	redis: Redis | null;
	timer: NodeJS.Timeout | null;
	/** Sweeps this node ran (the cluster test counts them). */
	sweepsRun: number;
	sweeping: boolean;
}

const NotificationsService: ServiceSchema<Record<string, never>, Methods & DbMethods, Vars> = {
	name: "notifications",
	mixins: [dbMixin("notifications", { indexes: [{ fields: ["user_id"] }, { fields: ["dedupe_key"], unique: true, sparse: true }, { fields: ["actor_id"], sparse: true }, { fields: ["user_id", "doc", "is_read", "sort_key"] }] })],

	actions: {
		/** GET /notifications — unread first, then newest; a cursor that stays put under new inserts. */
		list: {
			input: ListInput,
			async handler(ctx: Context<z.infer<typeof ListInput>, Meta>) {
				const userId = this.caller(ctx);
				const { items, next } = await this.page(userId, ctx.params.unread_only, ctx.params.cursor, ctx.params.limit);
				const unread_count = await this.dbCount({ doc: "n", user_id: userId, is_read: false });
				return { items: items.map(notificationView), next_cursor: next, unread_count };
			}
		},

		/** GET /notifications/notifications — the original's route: a bare array, newest first. */
		legacyList: {
			input: LegacyListInput,
			async handler(ctx: Context<z.infer<typeof LegacyListInput>, Meta>) {
				const userId = this.caller(ctx, ctx.params.user_id);
				const docs = await this.dbFind<NotificationDoc>({ query: { doc: "n", user_id: userId }, sort: ["-sort_key"], limit: ctx.params.limit });
				return docs.map(notificationView);
			}
		},

		/** GET /notifications/notifications/unread — the original's route: unread only, newest first. */
		legacyUnread: {
			input: LegacyListInput,
			async handler(ctx: Context<z.infer<typeof LegacyListInput>, Meta>) {
				const userId = this.caller(ctx, ctx.params.user_id);
				const docs = await this.dbFind<NotificationDoc>({ query: { doc: "n", user_id: userId, is_read: false }, sort: ["-sort_key"], limit: ctx.params.limit });
				return docs.map(notificationView);
			}
		},

		/** POST /notifications/:id/read — owner only (404 for anyone else). */
		read: {
			input: z.object({ id: Id }),
			async handler(ctx: Context<{ id: string }, Meta>) {
				await this.markRead(ctx);
				return { status: "read", id: ctx.params.id };
			}
		},

		/** PATCH /notifications/notifications/:id/mark-read — the original's answer. */
		legacyMarkRead: {
			input: z.object({ id: Id }),
			async handler(ctx: Context<{ id: string }, Meta>) {
				await this.markRead(ctx);
				return { status: "success", message: "Notification marked as read" };
			}
		},

		/** POST /notifications/read-all */
		readAll: {
			input: z.object({}),
			async handler(ctx: Context<unknown, Meta>) {
				const updated = await this.dbUpdateMany({ doc: "n", user_id: this.caller(ctx), is_read: false }, { is_read: true });
				return { status: "read", updated };
			}
		},

		/** GET /notifications/preferences — every kind, on unless turned off. */
		preferences: {
			input: z.object({}),
			async handler(ctx: Context<unknown, Meta>): Promise<Preferences> {
				return { ...DEFAULT_PREFERENCES, ...(await this.settingsOf(this.caller(ctx)))?.preferences };
			}
		},

		/** PUT /notifications/preferences — `{analysis_ready: false, …}`; a kind turned off is not created. */
		setPreferences: {
			input: PrefsInput,
			async handler(ctx: Context<z.infer<typeof PrefsInput>, Meta>): Promise<Preferences> {
				const userId = this.caller(ctx);
				const merged = { ...DEFAULT_PREFERENCES, ...(await this.settingsOf(userId))?.preferences, ...Object.fromEntries(Object.entries(ctx.params).filter(([, v]) => typeof v === "boolean")) };
				await this.track(userId, { preferences: merged });
				return merged;
			}
		},

		/** POST /analysis/notifications/generate — the sweep's checks for the caller, now (flat + envelope). */
		generate: {
			rateClass: "notify",
			input: z.object({ user_id: z.string().max(64).optional() }),
			async handler(ctx: Context<{ user_id?: string }, Meta>) {
				const created = await this.sweepUser(this.caller(ctx, ctx.params.user_id));
				const flat = { status: "notifications checked", created };
				return { ...flat, success: true, data: flat };
			}
		},

		/** Internal (the stream's `ready` event): the user's unread count. */
		unreadCount: {
			visibility: "public",
			input: z.object({ user_id: Id }),
			handler(ctx: Context<{ user_id: string }>) {
				return this.dbCount({ doc: "n", user_id: ctx.params.user_id, is_read: false });
			}
		},

		/** Operators: run the sweep over every known user now (the timer does this every NOTIFICATION_SWEEP_S). */
		sweep: {
			visibility: "public",
			handler() {
				return this.sweepAll();
			}
		},

		/** Internal (retention): the notice that an inactive account will be erased; it cannot be switched off. */
		notifyInactive: {
			visibility: "public",
			input: z.object({ user_id: z.string().min(1).max(64), last_active_at: z.string().max(40), erase_after: z.string().max(40) }),
			async handler(ctx: Context<{ user_id: string; last_active_at: string; erase_after: string }>) {
				const { user_id, last_active_at, erase_after } = ctx.params;
				return { created: (await this.produce(user_id, { trigger: "inactive", last_active_at, erase_after })).length };
			}
		}
	},

	events: {
		async "analysis.completed"(ctx: Context<{ analysis_id: string; user_id: string; media_id?: string }>) {
			const p = ctx.params;
			const analysis = await this.tryCall<{ result?: { overall_score?: unknown } | null }>("analyses.get", { id: p.analysis_id, user_id: p.user_id });
			const score = analysis?.result?.overall_score;
			await this.produce(p.user_id, { trigger: "analysis_completed", analysis_id: p.analysis_id, media_id: p.media_id ?? null, overall_score: typeof score === "number" ? score : null });
		},

		async "user.followed"(ctx: Context<{ follower_id: string; followee_id: string }>) {
			const { follower_id, followee_id } = ctx.params;
			const profiles = await this.tryCall<{ user_id: string; alias: string | null }[]>("users.publicProfiles", { ids: [follower_id] });
			await this.produce(followee_id, { trigger: "followed", follower_id, follower_alias: profiles?.[0]?.alias ?? null });
		},

		async "user.registered"(ctx: Context<{ user_id: string }>) {
			await this.track(ctx.params.user_id, { registered_at: new Date().toISOString() });
		},

		async "media.created"(ctx: Context<{ user_id: string }>) {
			await this.track(ctx.params.user_id, { last_upload_at: new Date().toISOString() });
		},

		/** A deleted media: the notifications pointing at it (its analysis, a similar user's post) go too. */
		async "media.deleted"(ctx: Context<{ media_id: string }>) {
			await this.dbRemoveMany({ doc: "n", "metadata.media_id": ctx.params.media_id });
		},

		/** A user who is no longer public is not named in anyone's notifications, and their posts are no news. */
		async "user.updated"(ctx: Context<{ user_id: string; changed?: string[] }>) {
			if (!(ctx.params.changed ?? []).some(c => c === "opt_in_public_analysis" || c === "public_alias")) return;
			const [p] = (await this.tryCall<{ opt_in: boolean; alias: string | null }[]>("users.publicProfiles", { ids: [ctx.params.user_id] })) ?? [];
			if (!p || p.opt_in) return;
			await this.dbRemoveMany({ doc: "n", type: "similar_user_activity", actor_id: ctx.params.user_id });
			await this.dbUpdateMany({ doc: "n", type: "new_follower", actor_id: ctx.params.user_id }, { message: "Someone started following you.", "metadata.alias": null });
		},

		/** Erasure: the user's notifications and settings, and notifications about them (a follow, a post). */
		async "user.erased"(ctx: Context<{ user_id: string }>) {
			const id = ctx.params.user_id;
			await this.dbRemoveMany({ user_id: id });
			await this.dbRemoveMany({ actor_id: id });
		}
	},

	methods: {
		caller(ctx, claimed) {
			const id = ctx.meta.userId;
			if (!id) throw unauthorized();
			if (claimed !== undefined && claimed !== "" && claimed !== id) throw forbidden("user_id must be your own");
			return id;
		},

		settingsOf(userId) {
			return this.dbGet<SettingsDoc>(settingsId(userId));
		},

		async track(userId, set) {
			const updated = await this.dbUpdate(settingsId(userId), set);
			if (updated) return;
			try {
				await this.dbInsert({ _id: settingsId(userId), doc: "s", user_id: userId, ...set });
			} catch (err) {
				// Two first events at once: the other insert won, so update it.
				if ((err as { type?: string }).type !== "CONFLICT") throw err;
				await this.dbUpdate(settingsId(userId), set);
			}
		},

		/** Runs the agent on one event for one user, stores what it makes and broadcasts each new one. */
		async produce(userId, event) {
			const since = new Date(Date.now() - 30 * DAY_MS).toISOString();
			const [settings, recent] = await Promise.all([
				this.settingsOf(userId),
				this.dbFind<NotificationDoc>({ query: { doc: "n", user_id: userId, created_at: { $gte: since } }, sort: ["-sort_key"], limit: 1000 })
			]);
			const out = await runAgent(
				notification,
				{
					user_id: userId,
					preferences: { ...DEFAULT_PREFERENCES, ...settings?.preferences },
					recent: recent.map(r => ({ type: r.type, created_at: r.created_at, dedupe_key: r.dedupe_key.slice(userId.length + 1) })),
					event
				},
				{ now: () => new Date() }
			);
			const created: NotificationView[] = [];
			for (const d of out.notifications) {
				const _id = randomUUID();
				const at = new Date().toISOString();
				try {
					const doc = await this.dbInsert<Omit<NotificationDoc, "_id"> & { _id: string }>({
						_id, doc: "n", user_id: userId, type: d.type, title: d.title, message: d.message, metadata: d.metadata, is_read: false,
						created_at: at, sort_key: `${at}|${_id}`, dedupe_key: `${userId}:${d.dedupe_key}`, actor_id: d.actor_id ?? undefined
					});
					created.push(notificationView(doc));
				} catch (err) {
					if ((err as { type?: string }).type === "CONFLICT") continue; // made already (a redelivered event, a concurrent sweep)
					throw err;
				}
			}
			for (const n of created) await this.broker.broadcast("notification.created", { user_id: userId, notification: n });
			return created;
		},

		/** Unread (segment 0) then read (segment 1), each newest first by `sort_key`; the cursor names the last item's place. */
		async page(userId, unreadOnly, cursor, limit) {
			const from = cursor ? decodeCursor(cursor) : null;
			const out: NotificationDoc[] = [];
			for (const seg of unreadOnly ? [0] : [0, 1]) {
				if (from && seg < from.seg) continue;
				const query: Record<string, unknown> = { doc: "n", user_id: userId, is_read: seg === 1 };
				if (from && seg === from.seg) query.sort_key = { $lt: from.key };
				out.push(...(await this.dbFind<NotificationDoc>({ query, sort: ["-sort_key"], limit: limit + 1 - out.length })));
				if (out.length > limit) break;
			}
			const items = out.slice(0, limit);
			return { items, next: out.length > limit ? encodeCursor(items[items.length - 1]) : null };
		},

		async markRead(ctx) {
			const userId = this.caller(ctx);
			const doc = await this.dbGet<NotificationDoc>(ctx.params.id);
			if (!doc || doc.doc !== "n" || doc.user_id !== userId) throw notFound("Notification");
			if (!doc.is_read) await this.dbUpdate(doc._id, { is_read: true });
		},

		/** What the sweep rules read about one user, from the services that own it (each optional). */
		async sweepFacts(userId) {
			const now = Date.now();
			const weekAgo = new Date(now - 7 * DAY_MS).toISOString();
			const settings = await this.settingsOf(userId);
			const media = await this.tryCall<{ created_at: string }[]>("media.summaries", { user_id: userId, limit: 50, since: weekAgo });
			const newest = media?.length ? media : await this.tryCall<{ created_at: string }[]>("media.summaries", { user_id: userId, limit: 1 });
			const analyses = await this.tryCall<{ items: (AnalysisFacts & { created_at: string; result?: { overall_score?: unknown } | null })[] }>("analyses.listForUser", { user_id: userId, status: "completed", limit: 100 });
			const scores = (analyses?.items ?? []).filter(a => a.created_at >= weekAgo).map(a => a.result?.overall_score).filter((s): s is number => typeof s === "number");
			const weekAnalyses = (analyses?.items ?? []).filter(a => a.created_at >= weekAgo).length;
			// The social part only for an opted-in adult (the graph reads opted-in adults only).
			const [me] = (await this.tryCall<{ opt_in: boolean }[]>("users.publicProfiles", { ids: [userId] })) ?? [];
			const minor = (analyses?.items ?? []).some(analysisMinor);
			const graph = me?.opt_in && !minor ? await this.tryCall<GraphOutput>("agent.social_graph.run", { user_id: userId }) : null;
			const twoDaysAgo = new Date(now - 2 * DAY_MS).toISOString();
			const similar = await Promise.all(
				(graph?.similar_users ?? []).map(async u => {
					const [post] = (await this.tryCall<{ media_id: string; created_at: string }[]>("media.summaries", { user_id: u.user_id, since: twoDaysAgo, limit: 1 })) ?? [];
					return post ? { user_id: u.user_id, alias: u.alias, media_id: post.media_id, created_at: post.created_at } : null;
				})
			);
			return {
				trigger: "sweep",
				last_upload_at: newest?.[0]?.created_at ?? settings?.last_upload_at ?? null,
				registered_at: settings?.registered_at ?? null,
				week: {
					analyses: weekAnalyses,
					uploads: media ? media.length : 0,
					average_score: scores.length ? scores.reduce((a, b) => a + b, 0) / scores.length : null,
					best_score: scores.length ? Math.max(...scores) : null
				},
				percentile: graph ? { current: graph.percentile.overall, previous: settings?.last_percentile ?? null } : null,
				similar_activity: similar.filter(a => a !== null)
			};
		},

		/** The sweep's checks for one user; the percentile is remembered when first seen and when a change was told. */
		async sweepUser(userId) {
			const facts = await this.sweepFacts(userId);
			const made = await this.produce(userId, facts);
			const p = facts.percentile;
			if (p && (p.previous === null || made.some(n => n.type === "percentile_update"))) await this.track(userId, { last_percentile: p.current });
			return made.length;
		},

		/** Every user this service knows (a settings record: registered, uploaded, set preferences), in pages. */
		async sweepAll() {
			let users = 0;
			let created = 0;
			let after = "";
			for (;;) {
				const batch = await this.dbFind<SettingsDoc>({ query: { doc: "s", _id: { $gt: after } }, sort: ["_id"], limit: 200 });
				for (const s of batch) {
					users++;
					try {
						created += await this.sweepUser(s.user_id);
					} catch (err) {
						this.logger.warn(`notification sweep failed for a user: ${(err as Error).message}`);
					}
				}
				if (batch.length < 200) break;
				after = batch[batch.length - 1]._id;
			}
			this.sweepsRun++;
			return { users, created };
		},

		/**
		 * One period of the timer. In a cluster every node's timer fires, but only the node that
		 * takes the period's Redis lock (`SET NX` on `<namespace>:notifications:sweep:<period>`,
		 * expiring with the period) sweeps; without Redis (embedded) the one node sweeps.
		 */
		async tick() {
			if (this.sweeping) return; // the last period's sweep is still walking the users
			const periodMs = config().notifications.sweepS * 1000;
			if (this.redis) {
				const slot = Math.floor(Date.now() / periodMs);
				const won = await this.redis.set(`${config().namespace}:notifications:sweep:${slot}`, this.broker.nodeID, "PX", periodMs, "NX");
				if (won !== "OK") return;
			}
			this.sweeping = true;
			try {
				const { users, created } = await this.sweepAll();
				this.logger.info(`notification sweep: ${users} users, ${created} notifications`);
			} finally {
				this.sweeping = false;
			}
		},

		/** A call to a service that may not run in this deployment: null when it is missing or fails. */
		async tryCall(action, params) {
			if (!this.broker.registry.getActionEndpoints(action)?.hasAvailable()) return null;
			try {
				return await this.broker.call(action, params);
			} catch (err) {
				this.logger.debug(`${action} unavailable for notifications: ${(err as Error).message}`);
				return null;
			}
		}
	},

	created() {
		this.redis = null;
		this.timer = null;
		this.sweepsRun = 0;
		this.sweeping = false;
	},

	started() {
		const c = config();
		if (c.redis.url && c.broker.transporter) this.redis = new Redis({ ...redisOptions(c.redis.url), lazyConnect: true, maxRetriesPerRequest: 2 });
		if (c.notifications.sweepS <= 0) return;
		this.timer = setInterval(() => this.tick().catch(err => this.logger.warn(`notification sweep failed: ${(err as Error).message}`)), c.notifications.sweepS * 1000);
		this.timer.unref();
	},

	async stopped() {
		if (this.timer) clearInterval(this.timer);
		this.timer = null;
		// A lazy client that never connected is simply dropped (quit would connect first).
		if (this.redis?.status === "wait") this.redis.disconnect();
		else if (this.redis) await this.redis.quit().catch(() => undefined);
		this.redis = null;
	}
};

export default NotificationsService;
