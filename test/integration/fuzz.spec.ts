import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { DEFAULT_RATE_LIMITS } from "../../lib/config";
import { routesOf, type Route } from "../../lib/openapi";
import { ALIASES } from "../../services/api.service";
import { allServices, http, startNode, type TestNode } from "../helpers/node";
import { registerUser, type TestUser } from "../factories/users";

/**
 * Property-based fuzzing of every route in the gateway's alias table (fast-check).
 * Generated hostile bodies, query strings, path parameters and headers; the invariant for
 * every case: an answer within the time limit, never a 5xx, an error in the SPEC format
 * without a stack trace, and on a rejection the data directory is left as it was.
 *
 * FUZZ_RUNS sets the cases per route (default 200).
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
const REQUEST_TIMEOUT_MS = 10_000;
const ROUTES = routesOf(ALIASES);

/**
 * Rejections that are recorded on purpose: a failed login counts towards the lockout, a reused
 * refresh token revokes its family, and security events go to the audit log.
 */
const RECORDS_REJECTIONS = new Set(["auth.login", "auth.refresh"]);
const AUDIT_FILES = /audit/i;

/** Routes that would end the fuzzing user's account: only fuzzed without a valid token. */
const ACCOUNT_ENDING = new Set(["DELETE /auth/me"]);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const hostileString = fc.constantFrom(
	"",
	" ",
	"\u0000",
	"../../../../etc/passwd",
	"..%2F..%2Fpackage.json",
	"<script>alert(1)</script>",
	"' OR '1'='1",
	"{\"$gt\":\"\"}",
	"$where",
	"__proto__",
	"constructor",
	"http://127.0.0.1:6379/",
	"http://169.254.169.254/latest/meta-data/",
	"file:///etc/passwd",
	"\u202e\u200b\ufeff",
	"😀".repeat(50),
	"a".repeat(10_000),
	"NaN",
	"-1",
	"1e309",
	"true",
	"null"
);

const hostileValue: fc.Arbitrary<Json> = fc.oneof(
	hostileString,
	fc.string({ maxLength: 64 }),
	fc.constantFrom(0, -1, 1e308, -1e308, 2 ** 53 + 1, 0.5, true, false, null),
	fc.integer(),
	fc.double({ noNaN: true, noDefaultInfinity: true }),
	fc.constant({ $gt: "" } as Json),
	fc.constant({ $ne: null } as Json),
	fc.constant(["a", { $where: "1" }] as Json),
	fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>
);

/** A body: keys the action knows with hostile values, unknown and `$` keys, or not an object at all. */
function bodyFor(known: string[]): fc.Arbitrary<{ raw?: string; body?: Json }> {
	const keys = known.length ? fc.constantFrom(...known) : fc.string({ maxLength: 12 });
	const objectBody = fc.dictionary(fc.oneof(keys, keys, fc.constantFrom("$where", "__proto__", "role", "user_id", "is_active", "id")), hostileValue, { maxKeys: 6 });
	return fc.oneof(
		{ weight: 6, arbitrary: objectBody.map(body => ({ body: body as Json })) },
		{ weight: 1, arbitrary: (fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json>).map(body => ({ body })) },
		{ weight: 1, arbitrary: fc.constantFrom("{", "{\"a\":", "[1,2", "nul", "\u0000", "{\"__proto__\":{\"role\":\"admin\"}}").map(raw => ({ raw })) },
		{ weight: 1, arbitrary: fc.integer({ min: 1, max: 200 }).map(depth => ({ raw: "[".repeat(depth) + "]".repeat(depth) })) }
	);
}

function queryFor(known: string[]): fc.Arbitrary<string> {
	const key = known.length ? fc.oneof(fc.constantFrom(...known), fc.constantFrom("$where", "__proto__[role]", "a[b][c]")) : fc.string({ maxLength: 10 });
	const value = fc.oneof(hostileString, fc.string({ maxLength: 30 }), fc.integer().map(String));
	return fc
		.array(fc.tuple(key, value), { maxLength: 5 })
		.map(pairs => (pairs.length ? `?${pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v.slice(0, 2000))}`).join("&")}` : ""));
}

const pathParam = fc.oneof(
	fc.constantFrom("..", "%2e%2e%2f", "a%00b", "0", "-1", "null", "undefined", "%7B%24gt%3A%22%22%7D", "x".repeat(300), "%F0%9F%98%80"),
	fc.string({ minLength: 1, maxLength: 40 }).map(encodeURIComponent),
	fc.uuid()
);

type AuthKind = "user" | "none" | "garbage";
const contentTypes = fc.constantFrom("application/json", "application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=utf-16", "");

interface Case {
	path: string;
	query: string;
	auth: AuthKind;
	contentType: string;
	body: { raw?: string; body?: Json };
	requestId: string;
}

function caseFor(route: Route, known: string[]): fc.Arbitrary<Case> {
	const auth: fc.Arbitrary<AuthKind> = ACCOUNT_ENDING.has(`${route.method} ${route.path}`)
		? fc.constantFrom<AuthKind>("none", "garbage")
		: fc.constantFrom<AuthKind>("user", "user", "user", "none", "garbage");
	return fc.record({
		path: fc.tuple(...route.pathParams.map(() => pathParam)).map(values => {
			let i = 0;
			return route.path.replace(/\{[^}]+\}/g, () => values[i++]);
		}),
		query: queryFor(known),
		auth,
		contentType: contentTypes,
		body: bodyFor(known),
		requestId: fc.oneof(fc.constant(""), fc.string({ maxLength: 200 }))
	});
}

/** Size and time of every file under a directory: a write anywhere changes it. */
function snapshot(dir: string, skip: RegExp | null): string {
	const out: string[] = [];
	for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) {
		if (skip?.test(f)) continue;
		const st = fs.statSync(path.join(dir, f));
		if (st.isFile()) out.push(`${f}:${st.size}:${st.mtimeMs}`);
	}
	return out.sort().join("\n");
}

/** Waits until the data directory stops changing (two snapshots 300 ms apart agree), at most 5 s. */
async function settled(dir: string, skip: RegExp | null): Promise<void> {
	let last = snapshot(dir, skip);
	for (const deadline = Date.now() + 5000; Date.now() < deadline; ) {
		await new Promise(r => setTimeout(r, 300));
		const now = snapshot(dir, skip);
		if (now === last) return;
		last = now;
	}
}

describe("fuzzing every route", () => {
	let node: TestNode;
	let user: TestUser;
	let props: Map<string, string[]>;
	const tried = new Map<string, number>();

	beforeAll(async () => {
		// No rate limit gets in the way: every case must reach validation.
		const unlimited = Object.keys(DEFAULT_RATE_LIMITS)
			.map(c => `${c}=1000000/60`)
			.join(",");
		node = await startNode({ services: allServices(), env: { VISION_THREADS: "1", RATE_LIMITS: unlimited } });
		const request = http(node.url);
		user = await registerUser(request);
		const doc = (await request("GET", "/openapi.json")).body as { paths: Record<string, Record<string, any>> };
		props = new Map();
		for (const route of ROUTES) {
			const op = doc.paths[route.path]?.[route.method.toLowerCase()] ?? {};
			const names = new Set<string>([
				...((op.parameters ?? []) as { name: string; in: string }[]).filter(p => p.in === "query").map(p => p.name),
				...Object.keys(op.requestBody?.content?.["application/json"]?.schema?.properties ?? {})
			]);
			props.set(`${route.method} ${route.path}`, [...names]);
		}
	}, 60_000);

	afterAll(async () => {
		const lines = [...tried.entries()].map(([route, n]) => `${String(n).padStart(5)}  ${route}`);
		process.stdout.write(`\nfuzz cases per route (${tried.size} routes):\n${lines.join("\n")}\n`);
		await node?.stop();
	});

	async function send(route: Route, c: Case) {
		const headers: Record<string, string> = {};
		if (c.contentType) headers["content-type"] = c.contentType;
		if (c.auth === "user") headers.authorization = `Bearer ${user.access_token}`;
		if (c.auth === "garbage") headers.authorization = "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.";
		if (c.requestId) headers["x-request-id"] = c.requestId.replace(/[^\t\x20-\x7e]/g, "");
		const hasBody = !["GET", "HEAD", "DELETE"].includes(route.method);
		const payload = !hasBody ? undefined : c.body.raw !== undefined ? c.body.raw : JSON.stringify(c.body.body);
		const controller = new AbortController();
		const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
		try {
			const res = await fetch(`${node.url}${c.path}${c.query}`, { method: route.method, headers, body: payload, signal: controller.signal });
			// A stream that opened (progress, notifications) is a success: do not wait for its end.
			if (/text\/event-stream/.test(res.headers.get("content-type") ?? "")) {
				controller.abort();
				return { status: res.status, text: "" };
			}
			return { status: res.status, text: await res.text() };
		} finally {
			clearTimeout(timer);
		}
	}

	for (const route of ROUTES) {
		const name = `${route.method} ${route.path}`;
		it(`${name} (${route.action})`, async () => {
			const known = props.get(name) ?? [];
			const skip = RECORDS_REJECTIONS.has(route.action) ? /users|tokens|audit/i : AUDIT_FILES;
			await fc.assert(
				fc.asyncProperty(caseFor(route, known), async c => {
					tried.set(name, (tried.get(name) ?? 0) + 1);
					const before = snapshot(node.dataDir, skip);
					const res = await send(route, c);
					// An accepted request may set off event handlers that write later (a leaderboard rebuild):
					// let them finish, so what the next case sees is its own doing.
					if (res.status < 400 && route.method !== "GET") await settled(node.dataDir, skip);
					const where = `${route.method} ${c.path}${c.query.slice(0, 200)} -> ${res.status} ${res.text.slice(0, 300)}`;
					if (res.status >= 500) throw new Error(`server error: ${where}`);
					if (/\bat [\w.<>]+ \(|node_modules|\.ts:\d+/.test(res.text)) throw new Error(`stack trace leaked: ${where}`);
					if (res.status >= 400) {
						let body: Record<string, unknown> = {};
						try {
							body = JSON.parse(res.text);
						} catch {
							throw new Error(`error is not JSON: ${where}`);
						}
						for (const key of ["error", "error_code", "details", "timestamp"]) if (!(key in body)) throw new Error(`error body lacks ${key}: ${where}`);
						const after = snapshot(node.dataDir, skip);
						if (after !== before) {
							const was = new Set(before.split("\n"));
							const changed = after.split("\n").filter(l => !was.has(l)).map(l => l.split(":")[0]);
							throw new Error(`data changed on a rejected request (${changed.join(", ")}): ${where}`);
						}
					}
				}),
				{ numRuns: RUNS, endOnFailure: true }
			);
		}, 120_000);
	}
});

