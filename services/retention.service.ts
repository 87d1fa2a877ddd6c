import Redis from "ioredis";
import type { Context, ServiceSchema } from "moleculer";
import { z } from "zod";
import { config } from "../lib/config";
import { redisOptions } from "../lib/redis";
import { dbMixin, type DbMethods } from "../mixins/db.mixin";

/**
 * Retention (SPEC §5): the limits of `RETENTION_*`, enforced by a sweep every
 * `RETENTION_SWEEP_S` (one node per period in a cluster: a Redis `SET NX` on the period).
 *
 * - originals older than `RETENTION_ORIGINALS_DAYS`: their full-size files go (media keeps the
 *   record, the thumbnail and the perception);
 * - analyses older than `RETENTION_ANALYSES_MONTHS`: deleted with their checkpoints
 *   (`analysis.expired` removes their vectors and leaderboard scores);
 * - accounts with no sign-in for `RETENTION_INACTIVE_MONTHS`: first a notice (a notification
 *   the user cannot switch off) saying when; still inactive `RETENTION_NOTICE_DAYS` later, the
 *   account is erased through the privacy service like a user's own request. Signing in in
 *   between clears the notice.
 *
 * The clock is a parameter of `sweep` (`now`), so the policy is tested with a fake clock.
 */

interface NoticeDoc {
	/** The user id. */
	_id: string;
	last_active_at: string;
	noticed_at: string;
	erase_after: string;
}

export interface SweepResult {
	at: string;
	originals_expired: number;
	analyses_expired: number;
	notices_sent: number;
	accounts_erased: number;
}

const DAY_MS = 86_400_000;

/** `now` minus whole calendar months (UTC). */
export function monthsBefore(now: Date, months: number): Date {
	const d = new Date(now.getTime());
	d.setUTCMonth(d.getUTCMonth() - months);
	return d;
}

interface Methods {
	sweep(now: Date): Promise<SweepResult>;
	tick(): Promise<void>;
}

interface Vars {
	timer: NodeJS.Timeout | null;
	redis: Redis | null;
	sweeping: boolean;
}

const RetentionService: ServiceSchema<Record<string, never>, Methods & DbMethods, Vars> = {
	name: "retention",
	mixins: [dbMixin("retention_notices")],

	actions: {
		/** Operators (`lm-retention`) and tests: run the sweep now, optionally as of another time. */
		sweep: {
			visibility: "public",
			input: z.object({ now: z.iso.datetime().optional() }),
			handler(ctx: Context<{ now?: string }>) {
				return this.sweep(ctx.params.now ? new Date(ctx.params.now) : new Date());
			}
		}
	},

	events: {
		/** Signing in again lifts a pending notice. */
		async "auth.login"(ctx: Context<{ user_id?: string }>) {
			if (typeof ctx.params?.user_id === "string") await this.dbRemove(ctx.params.user_id).catch(() => false);
		},
		async "user.erased"(ctx: Context<{ user_id: string }>) {
			await this.dbRemove(ctx.params.user_id).catch(() => false);
		}
	},

	methods: {
		async sweep(now) {
			const r = config().retention;
			const out: SweepResult = { at: now.toISOString(), originals_expired: 0, analyses_expired: 0, notices_sent: 0, accounts_erased: 0 };
			if (r.originalsDays > 0) {
				const before = new Date(now.getTime() - r.originalsDays * DAY_MS).toISOString();
				out.originals_expired = (await this.broker.call<{ expired: number }, object>("media.expireOriginals", { before })).expired;
			}
			if (r.analysesMonths > 0) {
				const before = monthsBefore(now, r.analysesMonths).toISOString();
				out.analyses_expired = (await this.broker.call<{ expired: number }, object>("analyses.expire", { before })).expired;
			}
			if (r.inactiveMonths > 0) {
				const before = monthsBefore(now, r.inactiveMonths).toISOString();
				const inactive = await this.broker.call<{ user_id: string; last_active_at: string }[], object>("users.inactiveSince", { before });
				for (const u of inactive) {
					const notice = await this.dbGet<NoticeDoc>(u.user_id);
					// A notice for an earlier stretch of inactivity (the user came back since) does not count.
					if (!notice || notice.last_active_at !== u.last_active_at) {
						const erase_after = new Date(now.getTime() + r.noticeDays * DAY_MS).toISOString();
						await this.broker.call("notifications.notifyInactive", { user_id: u.user_id, last_active_at: u.last_active_at, erase_after });
						const doc = { last_active_at: u.last_active_at, noticed_at: now.toISOString(), erase_after };
						if (notice) await this.dbUpdate(u.user_id, doc);
						else await this.dbInsert({ _id: u.user_id, ...doc });
						out.notices_sent++;
					} else if (now.toISOString() >= notice.erase_after) {
						await this.broker.call("privacy.eraseUser", { user_id: u.user_id });
						await this.dbRemove(u.user_id);
						out.accounts_erased++;
					}
				}
			}
			this.logger.info(`retention sweep: ${JSON.stringify(out)}`);
			return out;
		},

		/** One period of the timer: in a cluster only the node that takes the period's lock sweeps. */
		async tick() {
			if (this.sweeping) return;
			const periodMs = config().retention.sweepS * 1000;
			if (this.redis) {
				const slot = Math.floor(Date.now() / periodMs);
				const won = await this.redis.set(`${config().namespace}:retention:sweep:${slot}`, this.broker.nodeID, "PX", periodMs, "NX").catch(() => null);
				if (won !== "OK") return;
			}
			this.sweeping = true;
			try {
				await this.sweep(new Date());
			} catch (err) {
				this.logger.warn("retention sweep failed (it runs again next period):", (err as Error).message);
			} finally {
				this.sweeping = false;
			}
		}
	},

	created() {
		this.timer = null;
		this.redis = null;
		this.sweeping = false;
	},

	started() {
		const c = config();
		if (c.retention.sweepS <= 0) return;
		if (c.redis.url && c.broker.transporter) this.redis = new Redis({ ...redisOptions(c.redis.url), lazyConnect: true, maxRetriesPerRequest: 2 });
		this.timer = setInterval(() => void this.tick(), c.retention.sweepS * 1000);
		this.timer.unref();
	},

	async stopped() {
		if (this.timer) clearInterval(this.timer);
		await this.redis?.quit().catch(() => undefined);
	}
};

export default RetentionService;
