import { STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import type { Duplex } from "node:stream";
import type { ErrorLike } from "./errors";

/** The SPEC error body; `detail` repeats the message for clients written against FastAPI. */
export interface ErrorBody {
	error: string;
	error_code: string;
	details: Record<string, unknown>;
	timestamp: string;
	detail: string;
}

/** body-parser's error types, as the HTTP errors they are. */
const BODY_PARSER: Record<string, { status: number; code: string; message: string }> = {
	"entity.parse.failed": { status: 400, code: "MALFORMED_JSON", message: "Malformed JSON body" },
	"entity.too.large": { status: 413, code: "PAYLOAD_TOO_LARGE", message: "Request body too large" },
	"encoding.unsupported": { status: 415, code: "UNSUPPORTED_MEDIA_TYPE", message: "Unsupported content encoding" },
	"charset.unsupported": { status: 415, code: "UNSUPPORTED_MEDIA_TYPE", message: "Unsupported charset" },
	"request.aborted": { status: 400, code: "BAD_REQUEST", message: "Request aborted" },
	"request.size.invalid": { status: 400, code: "BAD_REQUEST", message: "Request size did not match content length" },
	"parameters.too.many": { status: 413, code: "PAYLOAD_TOO_LARGE", message: "Too many parameters" }
};

/** Moleculer and moleculer-web error types that mean something else at the HTTP edge. */
const MOLECULER: Record<string, { status: number; code: string; message?: string }> = {
	SERVICE_NOT_FOUND: { status: 503, code: "SERVICE_UNAVAILABLE", message: "Service temporarily unavailable" },
	SERVICE_NOT_AVAILABLE: { status: 503, code: "SERVICE_UNAVAILABLE", message: "Service temporarily unavailable" },
	REQUEST_TIMEOUT: { status: 504, code: "TIMEOUT", message: "The request timed out" },
	REQUEST_SKIPPED: { status: 504, code: "TIMEOUT", message: "The request timed out" },
	REQUEST_REJECTED: { status: 503, code: "SERVICE_UNAVAILABLE", message: "Service temporarily unavailable" },
	QUEUE_FULL: { status: 503, code: "SERVICE_UNAVAILABLE", message: "Server busy, try again" },
	VALIDATION_ERROR: { status: 422, code: "VALIDATION" },
	NOT_FOUND: { status: 404, code: "NOT_FOUND" },
	UNAUTHORIZED: { status: 401, code: "UNAUTHORIZED" },
	NO_TOKEN: { status: 401, code: "UNAUTHORIZED", message: "Authentication required" },
	INVALID_TOKEN: { status: 401, code: "INVALID_TOKEN" },
	INVALID_REQUEST_BODY: { status: 400, code: "MALFORMED_JSON", message: "Malformed JSON body" },
	UNSUPPORTED_MEDIA_TYPE: { status: 415, code: "UNSUPPORTED_MEDIA_TYPE" },
	RATE_LIMIT_EXCEEDED: { status: 429, code: "RATE_LIMITED", message: "Too many requests" },
	PAYLOAD_TOO_LARGE: { status: 413, code: "PAYLOAD_TOO_LARGE" }
};

/** Turns any error into a status and the SPEC body. 5xx bodies never carry internals. */
export function renderError(err: ErrorLike & { status?: number; statusCode?: number }): { status: number; body: ErrorBody } {
	const parser = typeof err.type === "string" ? BODY_PARSER[err.type] : undefined;
	const known = typeof err.type === "string" ? MOLECULER[err.type] : undefined;
	let status: number;
	let code: string;
	let message: string;
	if (parser) ({ status, code, message } = parser);
	else {
		const raw = known?.status ?? (typeof err.code === "number" ? err.code : (err.status ?? err.statusCode));
		status = typeof raw === "number" && raw >= 400 && raw <= 599 ? raw : 500;
		code = known?.code ?? (typeof err.type === "string" && err.type ? err.type : status >= 500 ? "INTERNAL" : "ERROR");
		message = known?.message ?? err.message ?? "Error";
	}
	let details: Record<string, unknown> = {};
	if (status < 500 && err.data && typeof err.data === "object" && !Array.isArray(err.data)) details = { ...err.data };
	if (code === "VALIDATION" && Array.isArray(err.data)) {
		// fastest-validator style errors (from a plain Moleculer ValidationError)
		details = {
			validation_errors: (err.data as { field?: string; message?: string }[]).map(e => ({ field: e.field ?? "", message: e.message ?? "" }))
		};
	}
	if (status >= 500 && !known) message = "Internal server error";
	return { status, body: { error: message, error_code: code, details, timestamp: new Date().toISOString(), detail: message } };
}

export const SECURITY_HEADERS: Record<string, string> = {
	"X-Content-Type-Options": "nosniff",
	"X-Frame-Options": "DENY",
	"Referrer-Policy": "strict-origin-when-cross-origin",
	"Permissions-Policy": "camera=(), microphone=(), geolocation=()"
};

/** The caller's request id when it is sane, else a new one. */
export function requestIdOf(req: IncomingMessage): string {
	const given = req.headers["x-request-id"];
	return typeof given === "string" && /^[A-Za-z0-9._:-]{1,128}$/.test(given) ? given : randomUUID();
}

export function clientIp(req: IncomingMessage, trustProxy: boolean): string {
	if (trustProxy) {
		const fwd = req.headers["x-forwarded-for"];
		const first = (Array.isArray(fwd) ? fwd[0] : fwd)?.split(",")[0]?.trim();
		if (first) return first;
	}
	return req.socket.remoteAddress ?? "unknown";
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
	if (res.headersSent) return;
	res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", ...headers });
	res.end(JSON.stringify(body));
}

/** Deeper request bodies are refused: no route takes more, and walking them costs the caller nothing. */
export const MAX_BODY_DEPTH = 32;

/** Whether a parsed JSON value nests objects or arrays deeper than `max` levels (recursion stops at max). */
export function nestedDeeperThan(value: unknown, max: number): boolean {
	if (value === null || typeof value !== "object") return false;
	if (max <= 0) return true;
	for (const v of Object.values(value)) if (nestedDeeperThan(v, max - 1)) return true;
	return false;
}

/**
 * Requests Node's HTTP parser refuses before any route sees them (a request line or headers over
 * the size limit, broken syntax) still get the error body, the security headers and a request id.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
	if (err.code === "ECONNRESET" || !socket.writable) {
		socket.destroy();
		return;
	}
	const [status, type, message] =
		err.code === "HPE_HEADER_OVERFLOW"
			? [431, "HEADERS_TOO_LARGE", "Request line or headers too large"]
			: err.code === "ERR_HTTP_REQUEST_TIMEOUT"
				? [408, "TIMEOUT", "The request took too long to arrive"]
				: [400, "BAD_REQUEST", "Malformed HTTP request"];
	const json = JSON.stringify(renderError({ code: status, type, message }).body);
	const headers: Record<string, string | number> = {
		"Content-Type": "application/json; charset=utf-8",
		"Content-Length": Buffer.byteLength(json),
		Connection: "close",
		"X-Request-Id": randomUUID(),
		...SECURITY_HEADERS
	};
	const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
	socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${head.join("\r\n")}\r\n\r\n${json}`);
	// A client still sending (a huge URL) is not waited for: the parser is gone, nothing more is read.
	setTimeout(() => socket.destroy(), 2000).unref();
}
