import { createHash } from "node:crypto";
import type { Context, Middleware, ServiceBroker } from "moleculer";
import { config } from "../config";
import { unauthorized } from "../errors";

/** Emitted after a service's `user.erased` handler finished (its data gone, its store compacted). */
export const ERASURE_ACKED = "privacy.erasure_acked";
/** Emitted when a service's `user.erased` handler threw: the privacy service sends the erasure again later. */
export const ERASURE_FAILED = "privacy.erasure_failed";

export interface ErasedEvent {
	user_id: string;
	erasure_id?: string;
	/** 1, then 2 (the same erasure once more, after work in flight had time to end). */
	round?: number;
}

/** Broadcast when an account is disabled (erasure): gateways refuse its still-valid access tokens. */
export const USER_DEACTIVATED = "user.deactivated";

/** Per broker: disabled account id → until when its access tokens must be refused (their longest remaining life). */
const revokedBy = new WeakMap<object, Map<string, number>>();
function revokedOf(broker: object): Map<string, number> {
	let m = revokedBy.get(broker);
	if (!m) revokedBy.set(broker, (m = new Map()));
	return m;
}

/** The erasure record keeps no personal data: only this digest of the account id. */
export const subjectHash = (userId: string) => createHash("sha256").update(`lifemirror-erasure\0${userId}`).digest("hex");

/** A service's group name as a field key (no dots or `$` in stored keys). */
export const ackKey = (group: string) => group.replace(/[.$]/g, "_");

interface NedbLike {
	compactDatafileAsync?(): Promise<void>;
}

/**
 * NeDB appends every write to its file, so a removed record stays readable on disk until the
 * file is compacted (hourly). An erasure compacts the service's store at once. MongoDB removes
 * in place: nothing to do.
 */
export async function compactStore(service: unknown): Promise<void> {
	const db = (service as { adapter?: { db?: NedbLike } } | undefined)?.adapter?.db;
	if (db && typeof db.compactDatafileAsync === "function") await db.compactDatafileAsync();
}

type EventDef = { name: string; group?: string; service?: { name: string } };
type Handler = (ctx: Context<unknown>) => Promise<unknown> | unknown;

/**
 * Wraps every local `user.erased` handler on every node: when it returns, the service's store
 * is compacted (in the last round) and `privacy.erasure_acked {erasure_id, service}` is emitted; when it throws,
 * `privacy.erasure_failed`. So the privacy service learns that each subscriber has finished
 * without any service having to remember to say so, and never claims completion before.
 */
export const ErasureAckMiddleware = {
	name: "ErasureAck",

	/**
	 * Access tokens are verified by the gateway alone and live until they expire. The gateway
	 * service (`api`) gets a `user.deactivated` handler (a broadcast: every gateway node hears it),
	 * and the calls it makes for an HTTP request of a disabled account are refused with 401 for
	 * as long as that account's tokens could still be valid.
	 */
	serviceCreating(service: { broker: ServiceBroker }, schema: { name?: string; events?: Record<string, unknown> }) {
		if (schema.name !== "api") return;
		const broker = service.broker;
		schema.events = {
			...schema.events,
			[USER_DEACTIVATED]: {
				handler(ctx: Context<{ user_id?: string }>) {
					if (typeof ctx.params?.user_id !== "string") return;
					const m = revokedOf(broker);
					const now = Date.now();
					for (const [id, until] of m) if (until <= now) m.delete(id);
					m.set(ctx.params.user_id, now + config().auth.accessTtlS * 1000);
				}
			}
		};
	},

	call(next: (action: string, params: unknown, opts?: { parentCtx?: Context<unknown, { userId?: string }> }) => Promise<unknown>) {
		return (action: string, params: unknown, opts?: { parentCtx?: Context<unknown, { userId?: string }> }) => {
			const parent = opts?.parentCtx;
			const userId = parent?.meta?.userId;
			if (userId && parent?.action?.name === "api.rest") {
				const until = revokedBy.get(parent.broker)?.get(userId);
				if (until && until > Date.now()) return Promise.reject(unauthorized("Account not found or disabled"));
			}
			return next(action, params, opts);
		};
	},

	localEvent(next: Handler, event: EventDef) {
		if (event.name !== "user.erased") return next;
		const group = event.group ?? event.service?.name ?? "unknown";
		return async (ctx: Context<unknown>) => {
			const p = (ctx.params ?? {}) as ErasedEvent;
			try {
				await next(ctx);
				// Round 2 rewrites the file anyway: compacting in round 1 too would only double the (fsync'd) writes.
				if (p.round !== 1) await compactStore(event.service);
			} catch (err) {
				if (p.erasure_id) await ctx.broker.emit(ERASURE_FAILED, { erasure_id: p.erasure_id, service: group, error: String((err as Error)?.message ?? err).slice(0, 200) });
				throw err;
			}
			if (p.erasure_id) await ctx.broker.emit(ERASURE_ACKED, { erasure_id: p.erasure_id, service: group, round: p.round ?? 1 });
		};
	}
} as unknown as Middleware;
