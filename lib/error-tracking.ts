import type { ErrorEvent, EventHint } from "@sentry/node";

/**
 * Error tracking with @sentry/node when `SENTRY_DSN` is set (Sentry, or any collector that
 * speaks its envelope protocol). Only unexpected errors are sent: a 5xx answered by the
 * gateway and an error thrown by an event handler; a client's mistake (4xx) never is.
 *
 * Personal data never leaves: no request bodies, headers, cookies or user objects are
 * attached, breadcrumbs are off, and every string in the event is scrubbed of e-mail
 * addresses, bearer tokens, JWTs, API keys, long base64 runs (image bytes) and the values of
 * keys that name secrets or personal content (password, token, bio, text, descriptor, …).
 */

type Sentry = typeof import("@sentry/node");

let sentry: Sentry | null = null;
let activeDsn: string | null = null;

export interface TrackingOptions {
	dsn: string | null;
	environment: string;
	release: string;
}

/** Starts (or restarts with another DSN) the Sentry client for this process; a null DSN turns it off. */
export function initErrorTracking(o: TrackingOptions): boolean {
	if (!o.dsn) return false;
	if (activeDsn === o.dsn && sentry) return true;
	// eslint-disable-next-line @typescript-eslint/no-require-imports
	sentry ??= require("@sentry/node") as Sentry;
	sentry.init({
		dsn: o.dsn,
		environment: o.environment,
		release: o.release,
		// Collect nothing about users, cookies, headers, bodies or query strings on our behalf.
		dataCollection: { userInfo: false, cookies: false, httpHeaders: false, httpBodies: [], urlQueryParams: false },
		// No automatic instrumentation (HTTP patching, breadcrumbs, OpenTelemetry): only what we capture.
		defaultIntegrations: false,
		integrations: [],
		enableOpenTelemetrySetup: false,
		maxBreadcrumbs: 0,
		tracesSampleRate: 0,
		beforeSend: (event: ErrorEvent, _hint: EventHint) => scrubEvent(event)
	});
	activeDsn = o.dsn;
	return true;
}

/** Sends one error with the request id, node id and action (never the params). */
export function captureError(err: unknown, tags: { requestId?: string | null; nodeId?: string; action?: string | null; event?: string | null }): void {
	if (!sentry || !activeDsn) return;
	const s = sentry;
	s.withScope(scope => {
		for (const [k, v] of Object.entries({ request_id: tags.requestId, node_id: tags.nodeId, action: tags.action, event: tags.event })) if (v) scope.setTag(k, scrubString(String(v)));
		s.captureException(err instanceof Error ? err : new Error(scrubString(String(err))));
	});
}

/** Waits until queued events are sent (on shutdown, in tests). */
export async function flushErrorTracking(timeoutMs = 2000): Promise<void> {
	if (sentry && activeDsn) await sentry.flush(timeoutMs);
}

export async function stopErrorTracking(): Promise<void> {
	if (sentry && activeDsn) await sentry.close(2000);
	activeDsn = null;
}

const SECRET_KEY = /pass(word)?|secret|token|authorization|cookie|api[-_]?key|email|bio|text|descriptor|embedding|vector|image|bytes|face|age|gender|phone|address/i;
const PATTERNS: [RegExp, string][] = [
	[/[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g, "[email]"],
	[/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g, "[jwt]"],
	[/\bBearer\s+[A-Za-z0-9._~+/=-]+/gi, "Bearer [redacted]"],
	[/\blm_[A-Za-z0-9]+_[A-Za-z0-9_-]+/g, "[api-key]"],
	[/\bsk-[A-Za-z0-9_-]{8,}/g, "[api-key]"],
	[/[A-Za-z0-9+/]{200,}={0,2}/g, "[base64]"],
	[/([?&](token|sig|key|signature)=)[^&\s]+/gi, "$1[redacted]"]
];

export function scrubString(s: string): string {
	let out = s;
	for (const [re, to] of PATTERNS) out = out.replace(re, to);
	return out.length > 2000 ? `${out.slice(0, 2000)}…` : out;
}

/** Scrubs every string of a value; drops the values of keys that name secrets or personal content. */
export function scrubValue(v: unknown, depth = 0): unknown {
	if (typeof v === "string") return scrubString(v);
	if (v === null || typeof v !== "object" || depth > 12) return v;
	if (Array.isArray(v)) return v.slice(0, 100).map(x => scrubValue(x, depth + 1));
	const out: Record<string, unknown> = {};
	for (const [k, x] of Object.entries(v)) out[k] = SECRET_KEY.test(k) && typeof x !== "number" && typeof x !== "boolean" ? "[redacted]" : scrubValue(x, depth + 1);
	return out;
}

export function scrubEvent(event: ErrorEvent): ErrorEvent {
	delete event.user;
	delete event.request;
	delete event.breadcrumbs;
	delete event.extra;
	if (event.message) event.message = scrubString(event.message);
	for (const ex of event.exception?.values ?? []) {
		if (ex.value) ex.value = scrubString(ex.value);
		for (const frame of ex.stacktrace?.frames ?? []) delete frame.vars;
	}
	if (event.contexts) event.contexts = scrubValue(event.contexts) as ErrorEvent["contexts"];
	if (event.tags) event.tags = scrubValue(event.tags) as ErrorEvent["tags"];
	return event;
}
