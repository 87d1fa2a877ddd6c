import type { Context, ServiceSchema } from "moleculer";
import { z } from "zod";
import { config } from "../lib/config";
import { notFound, unauthorized } from "../lib/errors";
import { ackKey, compactStore, ERASURE_ACKED, ERASURE_FAILED, subjectHash, USER_DEACTIVATED } from "../lib/privacy/erasure";
import { buildExport } from "../lib/privacy/export";
import { createStorage, type Storage } from "../lib/storage";
import { dbMixin, type DbMethods } from "../mixins/db.mixin";
import type { Meta } from "../types/meta";

const Id = z.string().min(1).max(64);
type Status = "queued" | "running" | "finishing" | "completed" | "failed" | "expired";

/** One erasure or export request. An erasure keeps the account id only while it runs; then just its digest. */
interface RequestDoc {
	_id: string;
	kind: "erasure" | "export";
	status: Status;
	user_id?: string;
	subject_hash?: string;
	/** Erasure: the services that hold user data (subscribers of `user.erased`), and when each confirmed. */
	participants?: string[];
	acks?: Record<string, string>;
	/** 1: the erasure; 2: the same again once work in flight at the time had time to end (it may have written after round 1). */
	round?: 1 | 2;
	/** The round last sent, and when the next one is due. */
	sent_round?: number;
	next_at?: string;
	attempts?: number;
	last_sent_at?: string;
	/** Export: where the archive is, until when it can be downloaded. */
	storage_key?: string | null;
	expires_at?: string | null;
	error?: string | null;
	created_at: string;
	completed_at: string | null;
}

interface Methods {
	caller(ctx: Context<unknown, Meta>): string;
	beginErasure(ctx: Context, userId: string, verify?: () => Promise<unknown>): Promise<string>;
	participants(): Promise<string[]>;
	maybeFinish(id: string): Promise<void>;
	finalize(id: string): Promise<void>;
	resend(): Promise<void>;
	runExport(id: string): Promise<void>;
	sweepExports(): Promise<void>;
}

interface Vars {
	storage: Storage;
	timer: NodeJS.Timeout;
	running: Set<string>;
}

const now = () => new Date().toISOString();

/**
 * Privacy requests (GDPR Art. 17 and 20). Erasure: the account is deactivated at once, then
 * `user.erased` goes to every service holding user data; each one's handler is acknowledged by
 * the ErasureAck middleware (lib/privacy/erasure.ts) and the erasure is `completed` only when
 * every expected service has confirmed — those missing are sent the event again. Export: an
 * `export` job (jobs service) builds a ZIP of everything held about the caller, downloadable by
 * a signed, expiring URL.
 */
const PrivacyService: ServiceSchema<Record<string, never>, Methods & DbMethods, Vars> = {
	name: "privacy",
	mixins: [dbMixin("privacy", { indexes: [{ fields: ["user_id"] }, { fields: ["subject_hash"] }, { fields: ["status"] }] })],

	actions: {
		/** DELETE /auth/me → 202 {erasure_id}: the account is disabled now and erased everywhere. */
		erase: {
			summary: "Erase my account and all my data (202 with an erasure id)",
			input: z.object({}),
			async handler(ctx: Context<unknown, Meta & { $statusCode?: number }>) {
				const userId = this.caller(ctx);
				// 401 for an account already gone (unless its erasure is still running: that one is the answer).
				const erasure_id = await this.beginErasure(ctx, userId, () => ctx.call("users.me", {}, { meta: ctx.meta }));
				ctx.meta.$statusCode = 202;
				return { erasure_id };
			}
		},

		/** Internal (retention: an inactive account past its notice): the same erasure, started by the system. */
		eraseUser: {
			visibility: "public",
			input: z.object({ user_id: z.string().min(1).max(64) }),
			async handler(ctx: Context<{ user_id: string }>) {
				return { erasure_id: await this.beginErasure(ctx, ctx.params.user_id) };
			}
		},

		/** GET /privacy/erasure/{id} → {status, completed_at}. The id is an unguessable capability: the account it names is gone. */
		erasureStatus: {
			summary: "Status of an erasure: running or completed, and when",
			auth: "none",
			rateClass: "public",
			input: z.object({ id: Id }),
			async handler(ctx: Context<{ id: string }>) {
				const doc = await this.dbGet<RequestDoc>(ctx.params.id);
				if (!doc || doc.kind !== "erasure") throw notFound("Erasure");
				return { erasure_id: doc._id, status: doc.status === "completed" ? "completed" : "running", requested_at: doc.created_at, completed_at: doc.completed_at };
			}
		},

		/** POST /privacy/export → 202 {export_id}; the archive is built in the background. */
		export: {
			summary: "Export everything held about me as a ZIP (202 with an export id)",
			rateClass: "export",
			input: z.object({}),
			async handler(ctx: Context<unknown, Meta & { $statusCode?: number }>) {
				const userId = this.caller(ctx);
				const doc = await this.dbInsert<Omit<RequestDoc, "_id">>({ kind: "export", status: "queued", user_id: userId, storage_key: null, expires_at: null, error: null, created_at: now(), completed_at: null });
				ctx.emit("privacy.export_requested", { user_id: userId, export_id: doc._id });
				try {
					await ctx.call("jobs.enqueue", { job: { kind: "export", export_id: doc._id, user_id: userId }, user_id: userId });
				} catch (err) {
					await this.dbUpdate(doc._id, { status: "failed", error: "The export could not be queued; please ask again." });
					throw err;
				}
				ctx.meta.$statusCode = 202;
				return { export_id: doc._id, status: "queued" };
			}
		},

		/** GET /privacy/export/{id} → {status, download_url}: the owner's only (404 for anyone else). */
		exportStatus: {
			summary: "Status of my export, with a signed, expiring download URL when completed",
			input: z.object({ id: Id }),
			async handler(ctx: Context<{ id: string }, Meta>) {
				const userId = this.caller(ctx);
				const doc = await this.dbGet<RequestDoc>(ctx.params.id);
				if (!doc || doc.kind !== "export" || doc.user_id !== userId) throw notFound("Export");
				const left = doc.expires_at ? Math.floor((Date.parse(doc.expires_at) - Date.now()) / 1000) : 0;
				const status: Status = doc.status === "completed" && left < 1 ? "expired" : doc.status;
				const download_url = status === "completed" && doc.storage_key ? await this.storage.downloadUrl(doc.storage_key, left) : null;
				return { export_id: doc._id, status, download_url, expires_at: status === "completed" ? doc.expires_at : null, created_at: doc.created_at, completed_at: doc.completed_at, error: doc.error ?? null };
			}
		},

		/** Internal: the export job's handler (jobs service). Throws on failure, so the queue retries it. */
		buildExport: {
			visibility: "public",
			input: z.object({ export_id: Id, attempt: z.number().int().min(1).optional() }),
			timeout: 0,
			async handler(ctx: Context<{ export_id: string }>) {
				await this.runExport(ctx.params.export_id);
				return { export_id: ctx.params.export_id };
			}
		},
	},

	events: {
		/** This service's own data of the user: export records and archives. */
		async "user.erased"(ctx: Context<{ user_id: string }>) {
			for (const doc of await this.dbFind<RequestDoc>({ query: { kind: "export", user_id: ctx.params.user_id } }))
				if (doc.storage_key) await this.storage.delete(doc.storage_key);
			for (const key of await this.storage.list(`exports/${ctx.params.user_id}/`)) await this.storage.delete(key);
			await this.dbRemoveMany({ kind: "export", user_id: ctx.params.user_id });
		},

		async [ERASURE_ACKED](ctx: Context<{ erasure_id: string; service: string; round?: number }>) {
			const { erasure_id, service, round } = ctx.params;
			// One field per service and round: concurrent acknowledgements never overwrite each other.
			if (!(await this.dbUpdate(erasure_id, { [`acks.${round === 2 ? 2 : 1}_${ackKey(service)}`]: now() }))) return;
			await this.maybeFinish(erasure_id);
		},

		[ERASURE_FAILED](ctx: Context<{ erasure_id: string; service: string; error: string }>) {
			this.logger.warn(`erasure ${ctx.params.erasure_id}: ${ctx.params.service} failed (${ctx.params.error}); it is sent again in ${config().privacy.erasureRetryS}s`);
		}
	},

	methods: {
		/** Disables the account at once and sends `user.erased` everywhere; an erasure already running is the answer. */
		async beginErasure(ctx: Context, userId: string, verify?: () => Promise<unknown>) {
			const subject = subjectHash(userId);
			const open = await this.dbFindOne<RequestDoc>({ kind: "erasure", subject_hash: subject, status: "running" });
			if (open) return open._id;
			await verify?.();
			const at = now();
			const doc = await this.dbInsert<Omit<RequestDoc, "_id">>({
				kind: "erasure", status: "running", user_id: userId, subject_hash: subject, participants: await this.participants(),
				acks: {}, round: 1, sent_round: 1, attempts: 1, last_sent_at: at, created_at: at, completed_at: null
			});
			await ctx.call("users.deactivate", { id: userId });
			await ctx.broadcast(USER_DEACTIVATED, { user_id: userId });
			ctx.emit("user.erased", { user_id: userId, erasure_id: doc._id, round: 1 });
			return doc._id;
		},

		caller(ctx: Context<unknown, Meta>) {
			if (!ctx.meta.userId) throw unauthorized();
			return ctx.meta.userId;
		},

		/**
		 * Who must confirm: every group subscribed to `user.erased` now, plus those of the last
		 * completed erasure (a data service that is down right now is still waited for).
		 */
		async participants() {
			const [last] = await this.dbFind<RequestDoc>({ query: { kind: "erasure", status: "completed" }, sort: ["-completed_at"], limit: 1 });
			return [...new Set([...this.broker.getEventGroups("user.erased"), ...(last?.participants ?? [])])].sort();
		},

		/**
		 * Every participant confirmed round 1: round 2 is due after ERASURE_RETRY_S (an analysis or a
		 * job step in flight may have written after round 1). Round 2 confirmed: the caches go (they
		 * may hold anything of the user), the erasure is completed and the record forgets the account id.
		 */
		async maybeFinish(id: string) {
			const doc = await this.dbGet<RequestDoc>(id);
			const round = doc?.round ?? 1;
			if (!doc || doc.status !== "running" || !(doc.participants ?? []).every(s => doc.acks?.[`${round}_${ackKey(s)}`])) return;
			if (round === 1) {
				if (await this.dbUpdateMany({ _id: id, status: "running", round: 1 }, { round: 2, next_at: new Date(Date.now() + config().privacy.erasureRetryS * 1000).toISOString() }))
					this.logger.info(`erasure ${id}: round 1 confirmed by all ${doc.participants?.length} services; round 2 in ${config().privacy.erasureRetryS}s`);
				return;
			}
			// Claimed by one caller; `completed` is written last, so nobody sees it before the cleanup is done.
			if ((await this.dbUpdateMany({ _id: id, status: "running", round: 2 }, { status: "finishing", last_sent_at: now() })) !== 1) return;
			await this.finalize(id);
			this.broker.emit("privacy.erasure_completed", { user_id: doc.user_id, erasure_id: id });
			this.logger.info(`erasure ${id} completed (${doc.participants?.length} services)`);
		},

		/** The end of an erasure: caches cleared, the account id forgotten and compacted away, then `completed`. Idempotent. */
		async finalize(id: string) {
			await this.broker.cacher?.clean();
			await this.dbUpdate(id, { user_id: undefined, last_sent_at: undefined, next_at: undefined });
			await compactStore(this);
			await this.dbUpdate(id, { status: "completed", completed_at: now() });
		},

		/** Sends round 2 when due; services that have not confirmed a round within ERASURE_RETRY_S get it again. */
		async resend() {
			const retryMs = config().privacy.erasureRetryS * 1000;
			// A finish interrupted (a crash between the claim and `completed`) is done again.
			for (const doc of await this.dbFind<RequestDoc>({ query: { kind: "erasure", status: "finishing" } }))
				if (Date.now() - Date.parse(doc.last_sent_at ?? doc.created_at) >= retryMs) await this.finalize(doc._id);
			for (const doc of await this.dbFind<RequestDoc>({ query: { kind: "erasure", status: "running" } })) {
				if (!doc.user_id) continue;
				const round = doc.round ?? 1;
				const payload = { user_id: doc.user_id, erasure_id: doc._id, round };
				if ((doc.sent_round ?? 1) < round) {
					if (Date.now() < Date.parse(doc.next_at ?? doc.created_at)) continue;
					await this.dbUpdate(doc._id, { sent_round: round, last_sent_at: now() });
					await this.broker.emit("user.erased", payload);
					continue;
				}
				if (Date.now() - Date.parse(doc.last_sent_at ?? doc.created_at) < retryMs) continue;
				const missing = (doc.participants ?? []).filter(s => !doc.acks?.[`${round}_${ackKey(s)}`]);
				if (!missing.length) {
					await this.maybeFinish(doc._id);
					continue;
				}
				await this.dbUpdate(doc._id, { last_sent_at: now(), attempts: (doc.attempts ?? 1) + 1 });
				this.logger.warn(`erasure ${doc._id}: sending round ${round} again to ${missing.join(", ")}`);
				await this.broker.emit("user.erased", payload, { groups: missing });
			}
		},

		/** The export job: builds the archive, stores it, and answers it by a signed URL until it expires. */
		async runExport(id: string) {
			if (this.running.has(id)) return;
			this.running.add(id);
			try {
				const doc = await this.dbGet<RequestDoc>(id);
				if (!doc?.user_id || doc.status === "completed" || doc.status === "expired") return;
				const userId = doc.user_id;
				await this.dbUpdate(id, { status: "running" });
				const exporters = (this.broker.registry.getActionList({ onlyAvailable: true, skipInternal: true }) as { name: string }[]).map(a => a.name).filter(n => n.endsWith(".exportUser"));
				const archive = await buildExport(userId, id, {
					call: (action, params) => this.broker.call(action, params, { meta: { userId, roles: ["user"] } }),
					exporters: [...new Set(exporters)],
					listFiles: prefix => this.storage.list(prefix),
					readFile: key => this.storage.get(key)
				});
				const key = `exports/${userId}/${id}.zip`;
				await this.storage.put(key, archive, "application/zip");
				const at = new Date();
				const expires_at = new Date(at.getTime() + config().privacy.exportUrlTtlS * 1000).toISOString();
				// The account may have been erased while the archive was built: then it must not stay.
				if (!(await this.dbUpdate(id, { status: "completed", storage_key: key, completed_at: at.toISOString(), expires_at }))) await this.storage.delete(key);
				else this.broker.emit("privacy.export_completed", { user_id: userId, export_id: id });
			} catch (err) {
				// Failed for now: a retry of the job sets it running again; after the last attempt it stays failed.
				this.logger.warn(`export ${id} failed: ${(err as Error).message}`);
				await this.dbUpdate(id, { status: "failed", error: "The export could not be built; please ask again." }).catch(() => undefined);
				throw err;
			} finally {
				this.running.delete(id);
			}
		},

		/** Archives past their download window are deleted. */
		async sweepExports() {
			for (const doc of await this.dbFind<RequestDoc>({ query: { kind: "export", status: "completed", expires_at: { $lt: now() } } })) {
				if (doc.storage_key) await this.storage.delete(doc.storage_key);
				await this.dbUpdate(doc._id, { status: "expired", storage_key: null });
			}
		}
	},

	created() {
		this.storage = createStorage(config()).storage;
		this.running = new Set();
	},

	async started() {
		// Exports whose job was lost (an in-process queue does not survive a restart) are queued again (same job id: no duplicates).
		void this.broker
			.waitForServices("jobs", 60_000)
			.then(async () => {
				for (const doc of await this.dbFind<RequestDoc>({ query: { kind: "export", status: { $in: ["queued", "running"] } } }))
					await this.broker.call("jobs.enqueue", { job: { kind: "export", export_id: doc._id, user_id: doc.user_id }, user_id: doc.user_id });
			})
			.catch(err => this.logger.warn("unfinished exports not queued again:", (err as Error).message));
		// Erasures are checked for missing confirmations, expired archives deleted.
		const tickMs = Math.max(1000, Math.min(60_000, (config().privacy.erasureRetryS * 1000) / 2));
		this.timer = setInterval(() => {
			void this.resend().catch(err => this.logger.warn("erasure resend failed:", err));
			void this.sweepExports().catch(err => this.logger.warn("export sweep failed:", err));
		}, tickMs);
		this.timer.unref();
	},

	stopped() {
		clearInterval(this.timer);
	}
};

export default PrivacyService;
