import { http, startNode, type Http, type HttpResult, type RequestOptions, type TestNode } from "../helpers/node";
import { registerUser } from "../factories/users";

const SERVICES = ["api", "users", "auth"];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** The SPEC's headers, written out here rather than imported, so a changed constant fails the test. */
const SECURITY_HEADERS = {
	"x-content-type-options": "nosniff",
	"x-frame-options": "DENY",
	"referrer-policy": "strict-origin-when-cross-origin",
	"permissions-policy": "camera=(), microphone=(), geolocation=()"
};
const ORIGIN = "https://app.example";

function expectErrorBody(res: HttpResult, status: number, code?: string) {
	expect(res.status).toBe(status);
	expect(res.headers.get("content-type")).toMatch(/^application\/json/);
	expect(res.body).toEqual({
		error: expect.any(String),
		error_code: code ?? expect.any(String),
		details: expect.any(Object),
		timestamp: expect.any(String),
		detail: res.body?.error
	});
	expect(Number.isNaN(Date.parse(res.body.timestamp))).toBe(false);
}

function preflight(method: string, headers = "content-type,authorization"): RequestOptions {
	return { headers: { origin: ORIGIN, "access-control-request-method": method, "access-control-request-headers": headers } };
}

/** Waits out the end of a fixed rate window so a burst of requests lands in one window. */
async function freshWindow(windowS: number, marginMs = 3000) {
	const left = windowS * 1000 - (Date.now() % (windowS * 1000));
	if (left < marginMs) await new Promise(r => setTimeout(r, left + 50));
}

describe("gateway", () => {
	let node: TestNode;
	let request: Http;

	beforeAll(async () => {
		node = await startNode({ services: SERVICES, env: { RATE_LIMITS: "auth=1000/60" } });
		request = http(node.url);
	});
	afterAll(() => node.stop());

	it.each<[string, string, string, RequestOptions, number]>([
		["a liveness probe", "GET", "/health", {}, 200],
		["a readiness probe", "GET", "/ready", {}, 200],
		["the metrics", "GET", "/metrics", {}, 200],
		["an unknown route", "GET", "/no/such/route", {}, 404],
		["an internal action", "POST", "/users/create", { body: {} }, 404],
		["a protected route without a token", "GET", "/auth/me", {}, 401],
		["a validation error", "POST", "/auth/login", { body: {} }, 422],
		["malformed JSON", "POST", "/auth/login", { raw: "{", headers: { "content-type": "application/json" } }, 400],
		["a wrong content type", "POST", "/auth/login", { raw: "a=b", headers: { "content-type": "text/plain" } }, 415],
		["a body over the limit", "POST", "/auth/login", { body: { email: "x".repeat(1_100_000) } }, 413],
		["a CORS preflight", "OPTIONS", "/auth/login", preflight("POST"), 204],
		["a CORS preflight of an unknown route", "OPTIONS", "/no/such/route", preflight("GET"), 204]
	])("sets the security headers and a request id on %s", async (_label, method, path, opts, status) => {
		const res = await request(method, path, opts);
		expect(res.status).toBe(status);
		for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(res.headers.get(name)).toBe(value);
		expect(res.headers.get("x-request-id")).toMatch(UUID);
		if (status >= 400) expectErrorBody(res, status);
	});

	it("gives every response its own request id", async () => {
		const ids = new Set<string | null>();
		for (let i = 0; i < 5; i++) ids.add((await request("GET", "/health")).headers.get("x-request-id"));
		expect(ids.size).toBe(5);
	});

	it.each(["req-42", "0f7c2d4e-1111-4c1a-9d59-0123456789ab", "trace.abc:DEF-9", "x".repeat(128)])(
		"echoes a sane incoming X-Request-Id (%s), on errors too",
		async id => {
			expect((await request("GET", "/health", { headers: { "x-request-id": id } })).headers.get("x-request-id")).toBe(id);
			expect((await request("GET", "/nowhere", { headers: { "x-request-id": id } })).headers.get("x-request-id")).toBe(id);
		}
	);

	it.each([
		["too long", "x".repeat(129)],
		["with spaces", "has spaces in it"],
		["with markup", "<script>alert(1)</script>"],
		["with a semicolon", "a;b"],
		["with a slash", "../../etc/passwd"],
		["empty", ""]
	])("replaces an insane incoming X-Request-Id (%s) with a fresh one", async (_label, id) => {
		const res = await request("GET", "/health", { headers: { "x-request-id": id } });
		expect(res.status).toBe(200);
		expect(res.headers.get("x-request-id")).toMatch(UUID);
	});

	it.each<[string, string, string]>([
		["a POST route", "/auth/login", "POST"],
		["a GET route that needs a token", "/auth/me", "GET"],
		["a PATCH route", "/auth/me", "PATCH"],
		["an unknown route", "/no/such/route", "GET"],
		["an internal action's path", "/users/create", "POST"]
	])("answers a CORS preflight on %s", async (_label, path, method) => {
		const res = await request("OPTIONS", path, preflight(method));
		expect([200, 204]).toContain(res.status);
		expect(res.headers.get("access-control-allow-origin")).toBe("*");
		expect(res.headers.get("access-control-allow-methods")).toContain(method);
		const allowed = (res.headers.get("access-control-allow-headers") ?? "").toLowerCase();
		expect(allowed).toContain("authorization");
		expect(allowed).toContain("content-type");
		expect(res.text).toBe("");
	});

	it("adds CORS headers to real responses, exposing the request id and Retry-After", async () => {
		for (const res of [
			await request("GET", "/health", { headers: { origin: ORIGIN } }),
			await request("GET", "/auth/me", { headers: { origin: ORIGIN } })
		]) {
			expect(res.headers.get("access-control-allow-origin")).toBe("*");
			const exposed = (res.headers.get("access-control-expose-headers") ?? "").toLowerCase();
			expect(exposed).toContain("x-request-id");
			expect(exposed).toContain("retry-after");
		}
	});

	it("GET /health answers {status: ok}", async () => {
		const res = await request("GET", "/health");
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toMatch(/^application\/json/);
		expect(res.body).toEqual({ status: "ok" });
	});

	it("GET /ready answers 200 with its checks", async () => {
		const res = await request("GET", "/ready");
		expect(res.status).toBe(200);
		expect(res.body).toEqual({
			status: "ready",
			checks: expect.objectContaining({
				broker: true,
				transporter: true,
				"service:users": true,
				"service:auth": true,
				"db:users": true,
				"db:auth": true
			})
		});
		expect(Object.values(res.body.checks).every(v => v === true)).toBe(true);
	});

	it("GET /metrics answers Prometheus text with Moleculer's metrics, requests counted", async () => {
		await request("GET", "/health");
		const res = await request("GET", "/metrics");
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
		expect(res.text).toMatch(/^# HELP moleculer_/m);
		expect(res.text).toMatch(/^# TYPE moleculer_request_total counter$/m);
		expect(res.text).toMatch(/^moleculer_request_total\{[^}]*action="api\.health"[^}]*\} [1-9]\d*$/m);
		// Metrics are not a place for secrets.
		expect(res.text).not.toMatch(/password|secret|authorization/i);
	});

	it.each<[string, string]>([
		["GET", "/no/such/route"],
		["POST", "/"],
		["GET", "/auth"],
		["GET", "/auth/me/extra"],
		["DELETE", "/auth/login"],
		["GET", "/auth/login"],
		["PUT", "/health"],
		["POST", "/health"],
		["GET", "/health/../users/create"]
	])("answers %s %s with a 404 in the error format", async (method, path) => {
		const res = await request(method, path, method === "GET" ? {} : { body: {} });
		expectErrorBody(res, 404, "NOT_FOUND");
	});

	it("refuses a protected route without a usable token → 401", async () => {
		const noToken = await request("GET", "/auth/me");
		expectErrorBody(noToken, 401, "UNAUTHORIZED");
		expectErrorBody(await request("PATCH", "/auth/me", { body: { public_alias: "Someone" } }), 401, "UNAUTHORIZED");
		expectErrorBody(await request("GET", "/api/users/profile"), 401, "UNAUTHORIZED");
		for (const authorization of ["Bearer garbage", "Bearer a.b.c", "Bearer ", "Bearer", "Basic dXNlcjpwYXNz", "garbage"]) {
			const res = await request("GET", "/auth/me", { headers: { authorization } });
			expectErrorBody(res, 401);
		}
		// A token is only read from the Authorization header.
		const user = await registerUser(request);
		expectErrorBody(await request("GET", `/auth/me?access_token=${user.access_token}`), 401);
		expectErrorBody(await request("GET", "/auth/me", { headers: { cookie: `access_token=${user.access_token}` } }), 401);
		expect((await request("GET", "/auth/me", { token: user.access_token })).status).toBe(200);
	});

	it.each<[string, string]>([
		["POST", "/users/create"],
		["GET", "/users/create"],
		["GET", "/users/authenticate"],
		["POST", "/users/authenticate"],
		["POST", "/users/principal"],
		["GET", "/users/me"],
		["PATCH", "/users/updateMe"],
		["GET", "/users/dbHealth"],
		["GET", "/auth/dbHealth"],
		["GET", "/users.me"],
		["POST", "/auth.register"],
		["GET", "/$node/list"],
		["GET", "/$node/services"],
		["GET", "/$node/actions"],
		["GET", "/$node/health"],
		["GET", "/%24node/list"],
		["GET", "/~node/list"],
		["GET", "/~node/health"],
		["GET", "/api/health"],
		["GET", "/api/ready"],
		["GET", "/api/metrics"],
		["GET", "/api.health"],
		["GET", "/api/listAliases"],
		["GET", "/api/users/create"],
		["GET", "/api/auth/me"]
	])("keeps internal actions off HTTP: %s %s → 404", async (method, path) => {
		const opts = method === "GET" ? {} : { body: { email: "internal@example.com", password: "Blue-Harbor-Lantern-42", id: "x" } };
		expectErrorBody(await request(method, path, opts), 404, "NOT_FOUND");
	});

	it("an unreachable users.create really created nothing", async () => {
		const email = `internal-${Date.now()}@example.com`;
		const password = "Blue-Harbor-Lantern-42";
		expectErrorBody(await request("POST", "/users/create", { body: { email, password } }), 404);
		expectErrorBody(await request("POST", "/auth/login", { body: { email, password } }), 401, "UNAUTHORIZED");
	});
});

describe("gateway rate limits", () => {
	let node: TestNode;
	let request: Http;

	beforeAll(async () => {
		node = await startNode({ services: SERVICES, env: { RATE_LIMITS: "auth=3/60" } });
		request = http(node.url);
	});
	afterAll(() => node.stop());

	it("the 4th auth attempt from one IP within a minute → 429 RATE_LIMITED with Retry-After", async () => {
		await freshWindow(60);
		const attempt = (headers: Record<string, string> = {}) =>
			request("POST", "/auth/login", { body: { email: "nobody@example.com", password: "Wrong-Password-1" }, headers });
		for (let i = 1; i <= 3; i++) {
			const res = await attempt();
			expect(res.status).toBe(401);
			expect(res.headers.get("x-ratelimit-limit")).toBe("3");
			expect(res.headers.get("x-ratelimit-remaining")).toBe(String(3 - i));
		}
		const limited = await attempt();
		expectErrorBody(limited, 429, "RATE_LIMITED");
		const retryAfter = Number(limited.headers.get("retry-after"));
		expect(Number.isInteger(retryAfter)).toBe(true);
		expect(retryAfter).toBeGreaterThanOrEqual(1);
		expect(retryAfter).toBeLessThanOrEqual(60);
		expect(limited.body.details.retry_after).toBe(retryAfter);
		for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(limited.headers.get(name)).toBe(value);

		// The class is shared by register and refresh, and a forged X-Forwarded-For does not
		// reset it (TRUST_PROXY is off).
		expectErrorBody(await request("POST", "/auth/register", { body: { email: "new@example.com", password: "Blue-Harbor-Lantern-42" } }), 429, "RATE_LIMITED");
		expectErrorBody(await request("POST", "/auth/refresh", { body: { refresh_token: "x" } }), 429, "RATE_LIMITED");
		expectErrorBody(await attempt({ "x-forwarded-for": "203.0.113.9" }), 429, "RATE_LIMITED");
		// Other classes are counted apart.
		expect((await request("GET", "/health")).status).toBe(200);
		expectErrorBody(await request("GET", "/auth/me"), 401);
	});
});

describe("gateway with listed CORS origins", () => {
	let node: TestNode;
	let request: Http;

	beforeAll(async () => {
		node = await startNode({ services: SERVICES, env: { CORS_ALLOW_ORIGINS: `${ORIGIN},https://admin.example` } });
		request = http(node.url);
	});
	afterAll(() => node.stop());

	it("allows a listed origin with credentials, on known and unknown routes", async () => {
		for (const path of ["/auth/me", "/no/such/route"]) {
			const res = await request("OPTIONS", path, preflight("GET"));
			expect([200, 204]).toContain(res.status);
			expect(res.headers.get("access-control-allow-origin")).toBe(ORIGIN);
			expect(res.headers.get("access-control-allow-credentials")).toBe("true");
		}
		const real = await request("GET", "/health", { headers: { origin: "https://admin.example" } });
		expect(real.headers.get("access-control-allow-origin")).toBe("https://admin.example");
	});

	it("does not allow an origin that is not listed", async () => {
		const res = await request("OPTIONS", "/auth/me", {
			headers: { origin: "https://evil.example", "access-control-request-method": "GET" }
		});
		expect(res.headers.get("access-control-allow-origin")).toBeNull();
		const real = await request("GET", "/health", { headers: { origin: "https://evil.example" } });
		expect(real.headers.get("access-control-allow-origin")).toBeNull();
	});
});

describe("gateway readiness without its services", () => {
	it("GET /ready answers 503 not_ready when users and auth are not running; /health stays ok", async () => {
		const node = await startNode({ services: ["api"] });
		try {
			const request = http(node.url);
			const res = await request("GET", "/ready");
			expect(res.status).toBe(503);
			expect(res.body).toMatchObject({
				status: "not_ready",
				checks: { broker: true, "service:users": false, "service:auth": false }
			});
			expect((await request("GET", "/health")).body).toEqual({ status: "ok" });
		} finally {
			await node.stop();
		}
	});
});
