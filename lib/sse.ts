import { createHmac, randomBytes } from "node:crypto";
import { PassThrough } from "node:stream";
import { ClientError } from "./errors";
import { UrlSigner } from "./signing";

/** One server-sent event (with an `id:` line when given). */
export function sseFrame(event: string, data: unknown, id?: string): string {
	return (id ? `id: ${id.replace(/[\r\n]/g, "")}\n` : "") + `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Response meta of an action that answers a server-sent-events stream through moleculer-web. */
export const SSE_HEADERS = { "Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no" } as const;
export const SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8";

/** The ctx.meta fields moleculer-web reads an action's response type and headers from. */
export interface EventStreamMeta {
	$responseType?: string;
	$responseHeaders?: Record<string, string>;
}

/** Makes an action's answer an event stream. */
export function asEventStream(meta: EventStreamMeta): void {
	meta.$responseType = SSE_CONTENT_TYPE;
	meta.$responseHeaders = { ...SSE_HEADERS };
}

interface Channel {
	keys: string[];
	stream: PassThrough;
	opened: number;
	forget(): void;
}

/**
 * The open server-sent-event streams of this node, each under one or more keys (a user id; a job
 * id and its analysis id): keep-alive comments, a maximum lifetime (EventSource reconnects on its
 * own), a cap of streams per first key (the oldest is closed), and forgetting a stream when the
 * client goes away (the gateway destroys it) or it is ended. Every node holds its own connections:
 * cluster-wide delivery is a broadcast event that each node's service hands to `send`.
 */
export class SseChannels {
	private readonly byKey = new Map<string, Set<Channel>>();

	constructor(private readonly opts: { keepAliveMs?: number; maxLifetimeMs?: number; maxPerKey?: number } = {}) {}

	open(key: string | string[]): PassThrough {
		const { keepAliveMs = 15_000, maxLifetimeMs = 30 * 60_000, maxPerKey = 5 } = this.opts;
		const keys = [...new Set([key].flat())];
		const first = this.byKey.get(keys[0]);
		while (first && first.size >= maxPerKey) {
			const oldest = [...first].sort((a, b) => a.opened - b.opened)[0];
			oldest.forget();
			oldest.stream.end();
		}
		const stream = new PassThrough();
		const ping = setInterval(() => stream.writableEnded || stream.write(": keep-alive\n\n"), keepAliveMs);
		const limit = setTimeout(() => stream.end(), maxLifetimeMs);
		ping.unref();
		limit.unref();
		const ch: Channel = {
			keys,
			stream,
			opened: Date.now(),
			forget: () => {
				clearInterval(ping);
				clearTimeout(limit);
				for (const k of keys) {
					const s = this.byKey.get(k);
					s?.delete(ch);
					if (s?.size === 0) this.byKey.delete(k);
				}
			}
		};
		for (const k of keys) this.byKey.set(k, (this.byKey.get(k) ?? new Set<Channel>()).add(ch));
		stream.once("close", ch.forget);
		stream.once("finish", ch.forget);
		return stream;
	}

	/**
	 * Writes one event to every open stream under `key`; `last` ends them after it (a job that
	 * finished). Answers how many got it.
	 */
	send(key: string, event: string, data: unknown, opts: { id?: string; last?: boolean } = {}): number {
		const frame = sseFrame(event, data, opts.id);
		let sent = 0;
		for (const ch of [...(this.byKey.get(key) ?? [])]) {
			if (ch.stream.writableEnded) continue;
			ch.stream.write(frame);
			sent++;
			if (opts.last) {
				ch.forget();
				ch.stream.end();
			}
		}
		return sent;
	}

	/** Ends every stream under `key` (an erased account). */
	end(key: string): void {
		for (const ch of [...(this.byKey.get(key) ?? [])]) ch.stream.end();
	}

	/** Open streams under `key`, or on this node. */
	count(key?: string): number {
		if (key !== undefined) return this.byKey.get(key)?.size ?? 0;
		const all = new Set<Channel>();
		for (const s of this.byKey.values()) for (const ch of s) all.add(ch);
		return all.size;
	}

	close(): void {
		for (const s of [...this.byKey.values()]) for (const ch of [...s]) ch.stream.end();
	}
}

const PREFIX = "st1";
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64url");

/**
 * Short-lived, single-purpose tokens for an EventSource, which cannot send an Authorization
 * header and puts the token in the query string instead. HMAC-signed with a key derived from
 * the gateway's signing secret for this purpose only, bound to one method and path and to the
 * user: useless as an access token, as a file URL signature, or for any other stream. The
 * service also makes each token single-use (`UsedNonces`): URLs end up in proxy and gateway logs,
 * and a used or expired token is worth nothing there.
 * Format: `st1.<base64url user id>.<expiry unix s>.<nonce>.<signature>`.
 */
export class StreamTokens {
	private readonly signer: UrlSigner;

	constructor(
		secret: Buffer,
		private readonly ttlS: number,
		private readonly path: string
	) {
		this.signer = new UrlSigner(createHmac("sha256", secret).update(`lifemirror:sse-stream-token:v1:${path}`).digest());
	}

	issue(userId: string, now = Date.now()): { token: string; expires_in: number; expires_at: string } {
		const exp = Math.floor(now / 1000) + this.ttlS;
		const nonce = randomBytes(9).toString("base64url");
		const sig = this.signer.sign("GET", this.path, exp, { sub: userId, nonce });
		return { token: [PREFIX, b64(userId), exp, nonce, sig].join("."), expires_in: this.ttlS, expires_at: new Date(exp * 1000).toISOString() };
	}

	/**
	 * The user the token was issued to, its nonce and expiry (unix s); INVALID_TOKEN when it is
	 * malformed, tampered with or expired. The caller makes it single-use by consuming the nonce.
	 */
	verify(token: string, now = Date.now()): { sub: string; nonce: string; exp: number } {
		const parts = typeof token === "string" && token.length <= 512 ? token.split(".") : [];
		if (parts.length === 5 && parts[0] === PREFIX && /^\d{1,12}$/.test(parts[2]) && /^[A-Za-z0-9_-]{1,32}$/.test(parts[3])) {
			const sub = Buffer.from(parts[1], "base64url").toString("utf8");
			if (sub && b64(sub) === parts[1] && this.signer.verify("GET", this.path, parts[2], parts[4], { sub, nonce: parts[3] }, now))
				return { sub, nonce: parts[3], exp: Number(parts[2]) };
		}
		throw invalidStreamToken();
	}
}

export const invalidStreamToken = () => new ClientError("INVALID_TOKEN", "Invalid or expired stream token");

/**
 * Nonces of stream tokens already used, until they expire: in Redis when given (every gateway
 * sees a use), else in this process. `consume` answers false for a second use.
 */
export class UsedNonces {
	private readonly local = new Map<string, number>();

	constructor(private readonly redis: { set(key: string, value: string, px: "PX", ms: number, nx: "NX"): Promise<string | null> } | null, private readonly prefix: string) {}

	async consume(nonce: string, expS: number, now = Date.now()): Promise<boolean> {
		const ttlMs = Math.max(1000, expS * 1000 - now + 1000);
		if (this.redis) return (await this.redis.set(`${this.prefix}${nonce}`, "1", "PX", ttlMs, "NX")) === "OK";
		for (const [n, until] of this.local) if (until < now) this.local.delete(n);
		if (this.local.has(nonce)) return false;
		this.local.set(nonce, now + ttlMs);
		return true;
	}
}
