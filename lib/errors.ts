import { Errors } from "moleculer";

/**
 * The closed set of errors LifeMirror services throw. Errors cross Redis as plain
 * objects, so callers branch on `err.type` / `err.retryable`, never on `instanceof`.
 * The gateway's `onError` is the only place an error becomes an HTTP body.
 */
export const ErrorTypes = {
	BAD_REQUEST: 400,
	UNAUTHORIZED: 401,
	INVALID_TOKEN: 401,
	TOKEN_REUSED: 401,
	FORBIDDEN: 403,
	CONSENT_REQUIRED: 403,
	QUOTA_EXCEEDED: 403,
	FEATURE_DISABLED: 403,
	NOT_FOUND: 404,
	CONFLICT: 409,
	PAYLOAD_TOO_LARGE: 413,
	UNSUPPORTED_MEDIA_TYPE: 415,
	VALIDATION: 422,
	RATE_LIMITED: 429,
	ACCOUNT_LOCKED: 429,
	INTERNAL: 500,
	SERVICE_UNAVAILABLE: 503,
	AGENT_TIMEOUT: 504,
	AGENT_FAILED: 502
} as const;

export type ErrorType = keyof typeof ErrorTypes;

export interface FieldError {
	field: string;
	message: string;
}

/** A 4xx the caller can fix; never retried. */
export class ClientError extends Errors.MoleculerClientError {
	constructor(type: ErrorType, message: string, data?: Record<string, unknown>) {
		super(message, ErrorTypes[type], type, data);
	}
}

/** A failure worth retrying (timeouts, an agent or store that is down). */
export class RetryableError extends Errors.MoleculerRetryableError {
	constructor(type: ErrorType, message: string, data?: Record<string, unknown>) {
		super(message, ErrorTypes[type], type, data);
	}
}

export const notFound = (what = "Resource") => new ClientError("NOT_FOUND", `${what} not found`);
export const forbidden = (message = "Forbidden") => new ClientError("FORBIDDEN", message);
export const unauthorized = (message = "Authentication required") => new ClientError("UNAUTHORIZED", message);
export const conflict = (message: string) => new ClientError("CONFLICT", message);
export const validation = (errors: FieldError[], message = "Validation failed") =>
	new ClientError("VALIDATION", message, { validation_errors: errors });
export const rateLimited = (retryAfterS: number, type: "RATE_LIMITED" | "ACCOUNT_LOCKED" = "RATE_LIMITED") =>
	new ClientError(
		type,
		type === "ACCOUNT_LOCKED" ? "Too many failed attempts; try again later" : "Too many requests",
		{ retry_after: Math.max(1, Math.ceil(retryAfterS)) }
	);

/** A plain description of any error, for the one place that renders errors. */
export interface ErrorLike {
	name?: string;
	message?: string;
	code?: number | string;
	type?: string;
	data?: unknown;
	retryable?: boolean;
}
