import type { IncomingMessage } from "node:http";
import { Errors } from "moleculer";
import { Errors as WebErrors } from "moleculer-web";
import { ClientError, RetryableError, conflict, forbidden, notFound, rateLimited, unauthorized, validation } from "../../lib/errors";
import { clientIp, renderError, requestIdOf } from "../../lib/http";

/** A body-parser error as it reaches the gateway: an Error with `type`, `status` and `expose`. */
function bodyParserError(type: string, status: number, message: string) {
	return Object.assign(new Error(message), { type, status, statusCode: status, expose: true });
}

function expectShape(body: ReturnType<typeof renderError>["body"]) {
	expect(Object.keys(body).sort()).toEqual(["detail", "details", "error", "error_code", "timestamp"]);
	expect(body.detail).toBe(body.error);
	expect(Number.isNaN(Date.parse(body.timestamp))).toBe(false);
}

describe("renderError: body-parser errors", () => {
	it.each([
		["entity.parse.failed", 400, 400, "MALFORMED_JSON", "Malformed JSON body"],
		["entity.too.large", 413, 413, "PAYLOAD_TOO_LARGE", "Request body too large"],
		["encoding.unsupported", 415, 415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported content encoding"],
		["charset.unsupported", 415, 415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported charset"],
		["request.aborted", 400, 400, "BAD_REQUEST", "Request aborted"],
		["parameters.too.many", 413, 413, "PAYLOAD_TOO_LARGE", "Too many parameters"]
	])("%s -> %i %s", (type, given, status, code, message) => {
		// body-parser's own messages quote the body ("Unexpected token } in JSON at position 7"): never echoed.
		const { status: s, body } = renderError(bodyParserError(type, given, "Unexpected token s3cr3t in JSON"));
		expect(s).toBe(status);
		expect(body).toMatchObject({ error_code: code, error: message, details: {} });
		expect(JSON.stringify(body)).not.toContain("s3cr3t");
		expectShape(body);
	});
});

describe("renderError: Moleculer and moleculer-web errors", () => {
	it("ServiceNotFoundError -> 503 SERVICE_UNAVAILABLE without node details", () => {
		const { status, body } = renderError(new Errors.ServiceNotFoundError({ action: "analyses.get", nodeID: "worker-7" }));
		expect(status).toBe(503);
		expect(body).toMatchObject({ error_code: "SERVICE_UNAVAILABLE", error: "Service temporarily unavailable", details: {} });
		expect(JSON.stringify(body)).not.toContain("worker-7");
	});

	it("ServiceNotAvailableError, RequestRejectedError, QueueIsFullError -> 503", () => {
		expect(renderError(new Errors.ServiceNotAvailableError({ action: "a.b", nodeID: "n" })).status).toBe(503);
		expect(renderError(new Errors.RequestRejectedError({ action: "a.b", nodeID: "n" })).status).toBe(503);
		const full = renderError(new Errors.QueueIsFullError({ action: "a.b", nodeID: "n", size: 5, limit: 5 }));
		expect(full).toMatchObject({ status: 503, body: { error_code: "SERVICE_UNAVAILABLE", error: "Server busy, try again" } });
	});

	it("RequestTimeoutError and RequestSkippedError -> 504 TIMEOUT", () => {
		const { status, body } = renderError(new Errors.RequestTimeoutError({ action: "agent.face.run", nodeID: "w1" }));
		expect(status).toBe(504);
		expect(body).toMatchObject({ error_code: "TIMEOUT", error: "The request timed out", details: {} });
		expect(renderError(new Errors.RequestSkippedError({ action: "a.b", nodeID: "n" })).status).toBe(504);
	});

	it("a plain Moleculer ValidationError with array data -> 422 with validation_errors", () => {
		const err = new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", [
			{ field: "email", message: "The 'email' field must be a valid e-mail.", type: "email" },
			{ message: "no field" }
		]);
		const { status, body } = renderError(err);
		expect(status).toBe(422);
		expect(body.error_code).toBe("VALIDATION");
		expect(body.details).toEqual({
			validation_errors: [
				{ field: "email", message: "The 'email' field must be a valid e-mail." },
				{ field: "", message: "no field" }
			]
		});
		expectShape(body);
	});

	it("moleculer-web's errors", () => {
		expect(renderError(new WebErrors.NotFoundError("NOT_FOUND"))).toMatchObject({ status: 404, body: { error_code: "NOT_FOUND", error: "Not found" } });
		expect(renderError(new WebErrors.UnAuthorizedError(WebErrors.ERR_NO_TOKEN, null))).toMatchObject({
			status: 401,
			body: { error_code: "UNAUTHORIZED", error: "Authentication required" }
		});
		expect(renderError(new WebErrors.UnAuthorizedError(WebErrors.ERR_INVALID_TOKEN, null))).toMatchObject({
			status: 401,
			body: { error_code: "INVALID_TOKEN" }
		});
		expect(renderError(new WebErrors.InvalidRequestBodyError("{bad", "Unexpected token"))).toMatchObject({
			status: 400,
			body: { error_code: "MALFORMED_JSON", error: "Malformed JSON body" }
		});
		// moleculer-web's own limiter (unused: the gateway limits with lib/rate-limit) throws it without a type.
		expect(renderError(new WebErrors.RateLimitExceeded("RATE_LIMIT_EXCEEDED", null))).toMatchObject({
			status: 429,
			body: { error_code: "RATE_LIMITED", error: "Too many requests" }
		});
		expect(renderError(new WebErrors.RateLimitExceeded(undefined as unknown as string))).toMatchObject({ status: 429 });
		// Thrown for a multipart file over the limit; missing from moleculer-web's type declarations.
		const { PayloadTooLarge } = WebErrors as unknown as { PayloadTooLarge: new (data: unknown) => Error };
		expect(renderError(new PayloadTooLarge({ fieldname: "file" }))).toMatchObject({
			status: 413,
			body: { error_code: "PAYLOAD_TOO_LARGE" }
		});
	});
});

describe("renderError: LifeMirror's own errors", () => {
	it("keeps the type as error_code, the message and the data", () => {
		expect(renderError(notFound("Analysis"))).toMatchObject({
			status: 404,
			body: { error_code: "NOT_FOUND", error: "Analysis not found", detail: "Analysis not found", details: {} }
		});
		expect(renderError(conflict("Email already registered"))).toMatchObject({
			status: 409,
			body: { error_code: "CONFLICT", error: "Email already registered" }
		});
		expect(renderError(forbidden())).toMatchObject({ status: 403, body: { error_code: "FORBIDDEN", error: "Forbidden" } });
		expect(renderError(unauthorized())).toMatchObject({
			status: 401,
			body: { error_code: "UNAUTHORIZED", error: "Authentication required" }
		});
		expect(renderError(new ClientError("INVALID_TOKEN", "Token expired"))).toMatchObject({
			status: 401,
			body: { error_code: "INVALID_TOKEN", error: "Token expired" }
		});
		expect(renderError(new ClientError("CONSENT_REQUIRED", "Consent needed", { scope: "analysis" }))).toMatchObject({
			status: 403,
			body: { error_code: "CONSENT_REQUIRED", details: { scope: "analysis" } }
		});
		expect(renderError(new ClientError("PAYLOAD_TOO_LARGE", "Image larger than 10 MB"))).toMatchObject({
			status: 413,
			body: { error_code: "PAYLOAD_TOO_LARGE", error: "Image larger than 10 MB" }
		});
		expect(renderError(new ClientError("UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json"))).toMatchObject({
			status: 415,
			body: { error_code: "UNSUPPORTED_MEDIA_TYPE", error: "Content-Type must be application/json" }
		});
	});

	it("validation errors carry their field errors", () => {
		const { status, body } = renderError(validation([{ field: "email", message: "Invalid email" }]));
		expect(status).toBe(422);
		expect(body).toMatchObject({
			error_code: "VALIDATION",
			error: "Validation failed",
			details: { validation_errors: [{ field: "email", message: "Invalid email" }] }
		});
	});

	it("rate limits carry retry_after, at least one second", () => {
		expect(renderError(rateLimited(12.2))).toMatchObject({
			status: 429,
			body: { error_code: "RATE_LIMITED", error: "Too many requests", details: { retry_after: 13 } }
		});
		expect(renderError(rateLimited(0.01, "ACCOUNT_LOCKED"))).toMatchObject({
			status: 429,
			body: { error_code: "ACCOUNT_LOCKED", details: { retry_after: 1 } }
		});
	});

	it("the details are a copy, not the error's data", () => {
		const err = conflict("x");
		(err as { data: unknown }).data = { a: 1 };
		const { body } = renderError(err);
		body.details.a = 2;
		expect((err as { data: { a: number } }).data.a).toBe(1);
	});

	it("an error that crossed Redis as a plain object renders the same", () => {
		const plain = JSON.parse(JSON.stringify({ ...notFound("Media"), name: "MoleculerClientError", message: "Media not found" }));
		expect(renderError(plain)).toMatchObject({ status: 404, body: { error_code: "NOT_FOUND", error: "Media not found" } });
	});
});

describe("renderError: 5xx never leaks", () => {
	const SECRET = "password=hunter2 at /srv/app/db.ts";

	it.each([
		["a plain Error", new Error(SECRET)],
		["a TypeError", new TypeError(SECRET)],
		["an Error with a string code", Object.assign(new Error(SECRET), { code: "ECONNREFUSED" })],
		["an Error with a non-HTTP numeric code", Object.assign(new Error(SECRET), { code: 11000 })],
		["a 2xx code", Object.assign(new Error(SECRET), { code: 200 })],
		["a MoleculerError", new Errors.MoleculerError(SECRET, 500, "DB_DOWN", { host: "mongo-1", password: "x" })],
		["a MoleculerServerError", new Errors.MoleculerServerError(SECRET, 502, "UPSTREAM", { stack: "at x" })],
		["a RetryableError", new RetryableError("AGENT_FAILED", SECRET, { model: "gpt" })],
		["a status of 500", Object.assign(new Error(SECRET), { status: 500 })],
		["a statusCode of 503", Object.assign(new Error(SECRET), { statusCode: 503 })],
		["a thrown string-like object", { message: SECRET } as never]
	])("%s", (_name, err) => {
		const { status, body } = renderError(err);
		expect(status).toBeGreaterThanOrEqual(500);
		expect(status).toBeLessThanOrEqual(599);
		expect(body.error).toBe("Internal server error");
		expect(body.detail).toBe("Internal server error");
		expect(body.details).toEqual({});
		const text = JSON.stringify(body);
		expect(text).not.toContain("hunter2");
		expect(text).not.toContain("stack");
		expect(text).not.toMatch(/\bat \//);
		expectShape(body);
	});

	it("keeps a 5xx type as the code and the status", () => {
		expect(renderError(new RetryableError("AGENT_TIMEOUT", "face model hung"))).toMatchObject({
			status: 504,
			body: { error_code: "AGENT_TIMEOUT", error: "Internal server error" }
		});
		expect(renderError(new Error("boom"))).toMatchObject({ status: 500, body: { error_code: "INTERNAL" } });
	});

	it("uses a status or statusCode of 4xx from foreign errors", () => {
		expect(renderError(Object.assign(new Error("Nope"), { status: 404 }))).toMatchObject({
			status: 404,
			body: { error_code: "ERROR", error: "Nope" }
		});
		expect(renderError(Object.assign(new Error("Gone"), { statusCode: 410 }))).toMatchObject({ status: 410 });
	});
});

function req(headers: Record<string, string | string[]>, remoteAddress?: string): IncomingMessage {
	return { headers, socket: { remoteAddress } } as unknown as IncomingMessage;
}

describe("requestIdOf", () => {
	const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

	it("keeps a sane caller id", () => {
		expect(requestIdOf(req({ "x-request-id": "abc-123_X.y:z" }))).toBe("abc-123_X.y:z");
		expect(requestIdOf(req({ "x-request-id": "a".repeat(128) }))).toBe("a".repeat(128));
	});

	it.each([
		["missing", {}],
		["empty", { "x-request-id": "" }],
		["too long", { "x-request-id": "a".repeat(129) }],
		["with spaces", { "x-request-id": "a b" }],
		["log injection", { "x-request-id": "id\n{\"level\":60}" }],
		["an array", { "x-request-id": ["a", "b"] }]
	])("makes a new uuid when %s", (_name, headers) => {
		const id = requestIdOf(req(headers as Record<string, string>));
		expect(id).toMatch(UUID);
	});

	it("makes a different id per request", () => {
		expect(requestIdOf(req({}))).not.toBe(requestIdOf(req({})));
	});
});

describe("clientIp", () => {
	it("uses the socket address without TRUST_PROXY, ignoring X-Forwarded-For", () => {
		expect(clientIp(req({ "x-forwarded-for": "6.6.6.6" }, "10.0.0.5"), false)).toBe("10.0.0.5");
		expect(clientIp(req({}, "::1"), false)).toBe("::1");
	});

	it("uses the first X-Forwarded-For entry with TRUST_PROXY", () => {
		expect(clientIp(req({ "x-forwarded-for": "203.0.113.7" }, "10.0.0.5"), true)).toBe("203.0.113.7");
		expect(clientIp(req({ "x-forwarded-for": " 203.0.113.7 , 10.0.0.2" }, "10.0.0.5"), true)).toBe("203.0.113.7");
		expect(clientIp(req({ "x-forwarded-for": ["198.51.100.1, 10.0.0.2", "10.0.0.3"] }, "10.0.0.5"), true)).toBe("198.51.100.1");
	});

	it("falls back to the socket with TRUST_PROXY but no usable header", () => {
		expect(clientIp(req({}, "10.0.0.5"), true)).toBe("10.0.0.5");
		expect(clientIp(req({ "x-forwarded-for": "" }, "10.0.0.5"), true)).toBe("10.0.0.5");
		expect(clientIp(req({ "x-forwarded-for": " , 1.2.3.4" }, "10.0.0.5"), true)).toBe("10.0.0.5");
	});

	it("says unknown when the socket has no address (closed)", () => {
		expect(clientIp(req({}), false)).toBe("unknown");
	});
});
