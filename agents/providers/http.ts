/**
 * A small HTTP client for remote AI providers (Face++, OpenAI-compatible APIs), on the
 * platform's `fetch`:
 *
 * - one deadline for the whole call, retries and waits included (`AbortSignal.timeout`), so a
 *   provider can never hold a request longer than the configured timeout;
 * - a bounded number of attempts; 429, 5xx and network errors are retried with exponential
 *   backoff and full jitter, and a `Retry-After` (seconds or an HTTP date) is honoured, unless
 *   waiting that long would pass the deadline, in which case the call fails at once;
 * - failures are `ProviderHttpError`s carrying the status and a short reason, and every
 *   message is scrubbed of the secrets the caller names (API keys never reach a log).
 *
 * It is used from `agents/`, so it imports nothing from Moleculer.
 */

export class ProviderHttpError extends Error {
	constructor(
		/** Provider name, e.g. `facepp`. */
		readonly provider: string,
		/** HTTP status, or null for a timeout / network failure / unusable reply. */
		readonly status: number | null,
		/** A short machine-friendly reason (`AUTHENTICATION_ERROR`, `timeout`, `invalid_json` …). */
		readonly reason: string,
		/** Would the same request plausibly succeed later? */
		readonly retryable: boolean,
		/** Attempts made before giving up. */
		readonly attempts: number
	) {
		super(`${provider}: ${status === null ? reason : `HTTP ${status} ${reason}`}${attempts > 1 ? ` (after ${attempts} attempts)` : ""}`);
		this.name = "ProviderHttpError";
	}
}

export interface HttpReply {
	status: number;
	headers: Headers;
	text: string;
	attempts: number;
}

export interface RetryPolicy {
	/** Attempts in total (first try included). Default 3. */
	maxAttempts?: number;
	/** First backoff; doubles on each retry. Default 250 ms. */
	baseDelayMs?: number;
	/** Longest backoff (and longest honoured `Retry-After`). Default 8 s. */
	maxDelayMs?: number;
}

export interface ProviderRequest extends RetryPolicy {
	provider: string;
	url: string;
	method?: "GET" | "POST";
	headers?: Record<string, string>;
	/** Strings and FormData can be sent again on a retry as they are. */
	body?: string | FormData;
	/** The deadline for the whole call, retries included. */
	timeoutMs: number;
	/** Values that must never appear in an error message (API keys and secrets). */
	secrets?: (string | null | undefined)[];
	/** A short reason from an error reply's body (the provider's error code); default: the status text. */
	reasonOf?(status: number, text: string): string | null;
	/** Extra retryable replies besides 429 and 5xx (Face++ signals throttling with a 403). */
	retryableReply?(status: number, text: string): boolean;
	/** Test hooks. */
	sleep?(ms: number, signal: AbortSignal): Promise<void>;
	random?(): number;
}

const DEFAULTS = { maxAttempts: 3, baseDelayMs: 250, maxDelayMs: 8000 };

/** Just the retry policy fields of an options object. */
export const policyOf = (o: RetryPolicy): RetryPolicy => ({ maxAttempts: o.maxAttempts, baseDelayMs: o.baseDelayMs, maxDelayMs: o.maxDelayMs });
const REASON_MAX = 120;

/** Replaces every secret in a text with `***`, and bounds its length. */
export function scrub(text: string, secrets: (string | null | undefined)[] = [], max = REASON_MAX): string {
	let out = text;
	for (const s of secrets) if (s && s.length >= 3) out = out.split(s).join("***");
	out = out.replace(/\s+/g, " ").trim();
	return out.length > max ? `${out.slice(0, max - 1)}…` : out;
}

/** `Retry-After` in milliseconds (delta-seconds or an HTTP date), or null. */
export function retryAfterMs(value: string | null, now = Date.now()): number | null {
	if (!value) return null;
	const v = value.trim();
	if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
	const at = Date.parse(v);
	return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** Exponential backoff with full jitter: a random wait in [0, min(max, base·2^retry)]. */
export function backoffMs(retry: number, p: Required<RetryPolicy>, random = Math.random): number {
	const cap = Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** retry);
	return Math.round(cap / 2 + (random() * cap) / 2);
}

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
	return new Promise((resolve, reject) => {
		if (signal.aborted) return reject(signal.reason);
		const t = setTimeout(() => {
			signal.removeEventListener("abort", onAbort);
			resolve();
		}, ms);
		const onAbort = () => {
			clearTimeout(t);
			reject(signal.reason);
		};
		signal.addEventListener("abort", onAbort, { once: true });
	});
}

const isTimeout = (err: unknown) => err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");

/** A network failure's short code (ECONNREFUSED, ECONNRESET, …) without addresses or payloads. */
function networkReason(err: unknown): string {
	const cause = (err as { cause?: { code?: string } })?.cause;
	const code = cause?.code ?? (err as { code?: string })?.code;
	return typeof code === "string" && /^[A-Z0-9_]{2,40}$/.test(code) ? `network error ${code}` : "network error";
}

/**
 * Sends a request; answers the first 2xx reply, or throws a `ProviderHttpError` when the
 * attempts or the deadline run out, or at once on a reply that is not worth retrying (4xx).
 */
export async function requestWithRetry(o: ProviderRequest): Promise<HttpReply> {
	const policy = {
		maxAttempts: Math.max(1, o.maxAttempts ?? DEFAULTS.maxAttempts),
		baseDelayMs: o.baseDelayMs ?? DEFAULTS.baseDelayMs,
		maxDelayMs: o.maxDelayMs ?? DEFAULTS.maxDelayMs
	};
	const sleep = o.sleep ?? defaultSleep;
	const random = o.random ?? Math.random;
	const deadline = AbortSignal.timeout(o.timeoutMs);
	const endsAt = Date.now() + o.timeoutMs;
	const fail = (status: number | null, reason: string, retryable: boolean, attempts: number) =>
		new ProviderHttpError(o.provider, status, scrub(reason, o.secrets), retryable, attempts);
	const timedOut = (attempts: number) => fail(null, `timeout after ${o.timeoutMs} ms`, true, attempts);

	for (let attempt = 1; ; attempt++) {
		let wait: number;
		let last: ProviderHttpError;
		try {
			const res = await fetch(o.url, { method: o.method ?? "POST", headers: o.headers, body: o.body, signal: deadline, redirect: "error" });
			const text = await res.text();
			if (res.ok) return { status: res.status, headers: res.headers, text, attempts: attempt };
			const reason = o.reasonOf?.(res.status, text) ?? (res.statusText || "error");
			const retryable = res.status === 429 || res.status >= 500 || (o.retryableReply?.(res.status, text) ?? false);
			last = fail(res.status, reason, retryable, attempt);
			if (!retryable) throw last;
			const after = retryAfterMs(res.headers.get("retry-after"));
			if (after !== null && (after > policy.maxDelayMs || Date.now() + after >= endsAt)) {
				// The provider asks for a longer pause than this call may take: give up now.
				throw fail(res.status, `${reason}; retry after ${Math.ceil(after / 1000)} s exceeds the deadline`, true, attempt);
			}
			wait = after ?? backoffMs(attempt - 1, policy, random);
		} catch (err) {
			if (err instanceof ProviderHttpError) throw err;
			if (isTimeout(err) || deadline.aborted) throw timedOut(attempt);
			last = fail(null, networkReason(err), true, attempt);
			wait = backoffMs(attempt - 1, policy, random);
		}
		if (attempt >= policy.maxAttempts) throw last;
		if (Date.now() + wait >= endsAt) throw timedOut(attempt);
		try {
			await sleep(wait, deadline);
		} catch {
			throw timedOut(attempt);
		}
	}
}
