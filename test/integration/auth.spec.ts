import fs from "node:fs";
import path from "node:path";
import { SignJWT, decodeJwt, decodeProtectedHeader } from "jose";
import { http, startNode, tempDir, type Http, type HttpResult, type TestNode } from "../helpers/node";
import { registerUser } from "../factories/users";

const SERVICES = ["api", "users", "auth"];
// 64 characters, so the same secret can also sign HS512 forgeries.
const SECRET_1 = "k1-secret-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQR";
const OLD = "old-secret-0123456789abcdefghijklmnopqrstuvwxyz";
const NEW = "new-secret-0123456789abcdefghijklmnopqrstuvwxyz";
/** Enough for every call a test makes; the limits themselves are gateway.spec's subject. */
const GENEROUS_LIMITS = "auth=10000/60,default=10000/60";

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

function expectErrorBody(res: HttpResult, status: number, code?: string) {
	expect(res.status).toBe(status);
	expect(res.body).toEqual({
		error: expect.any(String),
		error_code: code ?? expect.any(String),
		details: expect.any(Object),
		timestamp: expect.any(String),
		detail: expect.any(String)
	});
}

/** The users collection as NeDB persisted it: one JSON document per line, the last line per id wins. */
function storedUsers(dataDir: string): Map<string, Record<string, unknown>> {
	const docs = new Map<string, Record<string, unknown>>();
	for (const line of fs.readFileSync(path.join(dataDir, "db", "users.db"), "utf8").split("\n")) {
		if (!line.trim()) continue;
		const doc = JSON.parse(line) as Record<string, unknown>;
		if (typeof doc._id !== "string") continue;
		if (doc.$$deleted) docs.delete(doc._id);
		else docs.set(doc._id, doc);
	}
	return docs;
}

async function login(request: Http, email: string, password: string) {
	return request("POST", "/auth/login", { body: { email, password } });
}

async function stopAll(...nodes: (TestNode | undefined)[]) {
	for (const n of nodes) await n?.stop();
}

describe("auth over HTTP", () => {
	let node: TestNode;
	let request: Http;

	beforeAll(async () => {
		node = await startNode({
			services: SERVICES,
			env: {
				JWT_KEYS: `k1:${SECRET_1}`,
				RATE_LIMITS: GENEROUS_LIMITS,
				LOGIN_MAX_FAILURES: "5",
				LOGIN_FAILURE_WINDOW_S: "900",
				LOGIN_LOCKOUT_S: "900"
			}
		});
		request = http(node.url);
	});
	afterAll(() => node.stop());

	/** A token signed like the server signs them, with any header or claims changed. */
	function forge(claims: Record<string, unknown>, o: { kid?: string; secret?: string; alg?: string; expS?: number } = {}) {
		const now = Math.floor(Date.now() / 1000);
		return new SignJWT(claims)
			.setProtectedHeader({ alg: o.alg ?? "HS256", kid: o.kid ?? "k1", typ: "JWT" })
			.setIssuedAt(now - 5)
			.setExpirationTime(now + (o.expS ?? 600))
			.sign(new TextEncoder().encode(o.secret ?? SECRET_1));
	}

	it("register answers a bearer token pair; the access token names the user, its type and the signing key", async () => {
		const email = `pair-${Date.now()}@example.com`;
		const res = await request("POST", "/auth/register", { body: { email, password: "Blue-Harbor-Lantern-42" } });
		expect(res.status).toBe(200);
		expect(res.body).toMatchObject({ access_token: expect.any(String), refresh_token: expect.any(String), token_type: "bearer" });
		expect(decodeProtectedHeader(res.body.access_token)).toMatchObject({ alg: "HS256", kid: "k1" });
		const access = decodeJwt(res.body.access_token);
		const refresh = decodeJwt(res.body.refresh_token);
		expect(access).toMatchObject({ type: "access", sub: expect.any(String) });
		expect(refresh).toMatchObject({ type: "refresh", sub: access.sub });
		// 30 minutes by default
		expect(access.exp! - access.iat!).toBe(1800);

		const me = await request("GET", "/auth/me", { token: res.body.access_token });
		expect(me.status).toBe(200);
		expect(me.body).toEqual({
			id: access.sub,
			email,
			public_alias: null,
			opt_in_public_analysis: false,
			is_active: true,
			created_at: expect.any(String),
			last_login: null
		});
	});

	it("register → login → me → refresh rotates; replaying a used refresh token revokes its whole family", async () => {
		const user = await registerUser(request);
		const first = await login(request, user.email, user.password);
		expect(first.status).toBe(200);
		const me = await request("GET", "/auth/me", { token: first.body.access_token });
		expect(me.status).toBe(200);
		expect(me.body.email).toBe(user.email);
		expect(me.body.last_login).toEqual(expect.any(String));

		const second = await request("POST", "/auth/refresh", { body: { refresh_token: first.body.refresh_token } });
		expect(second.status).toBe(200);
		expect(second.body.token_type).toBe("bearer");
		expect(second.body.refresh_token).not.toBe(first.body.refresh_token);
		expect(decodeJwt(second.body.refresh_token).fam).toBe(decodeJwt(first.body.refresh_token).fam);
		expect((await request("GET", "/auth/me", { token: second.body.access_token })).status).toBe(200);

		// The old token again: someone replayed it. 401, and the family is dead.
		const replay = await request("POST", "/auth/refresh", { body: { refresh_token: first.body.refresh_token } });
		expectErrorBody(replay, 401, "TOKEN_REUSED");
		const newest = await request("POST", "/auth/refresh", { body: { refresh_token: second.body.refresh_token } });
		expectErrorBody(newest, 401);

		// The register session is another family and keeps working.
		const other = await request("POST", "/auth/refresh", { body: { refresh_token: user.refresh_token } });
		expect(other.status).toBe(200);
	});

	it("of two concurrent refreshes with one token exactly one wins", async () => {
		const user = await registerUser(request);
		const results = await Promise.all(
			[1, 2].map(() => request("POST", "/auth/refresh", { body: { refresh_token: user.refresh_token } }))
		);
		expect(results.map(r => r.status).sort()).toEqual([200, 401]);
	});

	it("refuses a duplicate email whatever its case → 409, and keeps the first account", async () => {
		const local = `Dup.${Date.now()}`;
		const first = await request("POST", "/auth/register", { body: { email: `${local}@X.io`, password: "Blue-Harbor-Lantern-42" } });
		expect(first.status).toBe(200);
		for (const variant of [`${local.toLowerCase()}@x.io`, `${local.toUpperCase()}@X.IO`, `  ${local}@x.io  `]) {
			const dup = await request("POST", "/auth/register", { body: { email: variant, password: "Other-Quiet-Meadow-77" } });
			expectErrorBody(dup, 409, "CONFLICT");
		}
		// Stored lower-cased; the original password still logs in, the duplicate's does not.
		expect((await login(request, `${local.toLowerCase()}@x.io`, "Blue-Harbor-Lantern-42")).status).toBe(200);
		expect((await login(request, `${local}@X.io`, "Other-Quiet-Meadow-77")).status).toBe(401);
	});

	it.each<[string, (local: string) => string]>([
		["too short", () => "Ab1!xyz"],
		["common", () => "password123"],
		["common, any case", () => "PassWord123"],
		["repetitive", () => "aaaaaaaaaaaa"],
		["two characters repeated", () => "abababababab"],
		["contains the email", local => `${local}-Zebra-Quilt!`]
	])("refuses a weak password (%s) → 422 naming password, and creates no account", async (_label, passwordFor) => {
		const local = `weak${Math.random().toString(36).slice(2, 10)}`;
		const email = `${local}@example.com`;
		const res = await request("POST", "/auth/register", { body: { email, password: passwordFor(local) } });
		expectErrorBody(res, 422, "VALIDATION");
		const errors = res.body.details.validation_errors as { field: string; message: string }[];
		expect(errors.length).toBeGreaterThan(0);
		expect(errors.every(e => e.field === "password" && e.message.length > 0)).toBe(true);
		// Nothing was stored: the address is still free.
		const retry = await request("POST", "/auth/register", { body: { email, password: "Blue-Harbor-Lantern-42" } });
		expect(retry.status).toBe(200);
	});

	it("a wrong password and an unknown email both answer the same 401", async () => {
		const user = await registerUser(request);
		const wrong = await login(request, user.email, "Not-The-Password-1");
		expectErrorBody(wrong, 401, "UNAUTHORIZED");
		const unknown = await login(request, `nobody-${Date.now()}@example.com`, "Not-The-Password-1");
		expectErrorBody(unknown, 401, "UNAUTHORIZED");
		expect(unknown.body.error).toBe(wrong.body.error);
	});

	it("locks an account after 5 failed logins: even the right password then gets 429 with Retry-After", async () => {
		const user = await registerUser(request);
		const bystander = await registerUser(request);
		for (let i = 0; i < 5; i++) expectErrorBody(await login(request, user.email, `Wrong-Guess-${i}-xyz`), 401);

		const locked = await login(request, user.email, user.password);
		expectErrorBody(locked, 429, "ACCOUNT_LOCKED");
		const retryAfter = Number(locked.headers.get("retry-after"));
		expect(Number.isInteger(retryAfter)).toBe(true);
		expect(retryAfter).toBeGreaterThan(800);
		expect(retryAfter).toBeLessThanOrEqual(900);
		expect(locked.body.details.retry_after).toBe(retryAfter);

		// The lock is per account, not per caller.
		expect((await login(request, bystander.email, bystander.password)).status).toBe(200);
		// Tokens issued before the lock still work; the lock guards the password, not sessions.
		expect((await request("GET", "/auth/me", { token: user.access_token })).status).toBe(200);
	});

	it("a successful login resets the failure count", async () => {
		const user = await registerUser(request);
		for (let i = 0; i < 4; i++) expect((await login(request, user.email, `Wrong-Guess-${i}-xyz`)).status).toBe(401);
		expect((await login(request, user.email, user.password)).status).toBe(200);
		for (let i = 0; i < 4; i++) expect((await login(request, user.email, `Wrong-Again-${i}-xyz`)).status).toBe(401);
		expect((await login(request, user.email, user.password)).status).toBe(200);
	});

	it("PATCH /auth/me changes the alias and the opt-in only; role, is_active, id and email in the body are dropped", async () => {
		const user = await registerUser(request);
		const before = await request("GET", "/auth/me", { token: user.access_token });
		const res = await request("PATCH", "/auth/me", {
			token: user.access_token,
			body: {
				public_alias: "Night Owl",
				opt_in_public_analysis: true,
				role: "admin",
				roles: ["admin"],
				is_active: false,
				id: "someone-else",
				_id: "someone-else",
				email: "takeover@example.com",
				created_at: "2000-01-01T00:00:00.000Z",
				password_hash: "x"
			}
		});
		expect(res.status).toBe(200);
		const expected = { ...before.body, public_alias: "Night Owl", opt_in_public_analysis: true };
		expect(res.body).toEqual(expected);
		expect((await request("GET", "/auth/me", { token: user.access_token })).body).toEqual(expected);

		const stored = storedUsers(node.dataDir).get(before.body.id as string)!;
		expect(stored).toMatchObject({ email: user.email, is_active: true, roles: ["user"], public_alias: "Night Owl" });
		expect(stored).not.toHaveProperty("role");
		expect(String(stored.password_hash)).toMatch(/^\$argon2id\$/);
		expect(storedUsers(node.dataDir).has("someone-else")).toBe(false);

		// Still the same login, and a fresh token carries no extra role.
		const again = await login(request, user.email, user.password);
		expect(again.status).toBe(200);
		expect(decodeJwt(again.body.access_token).roles).toEqual(["user"]);
		expect((await login(request, "takeover@example.com", user.password)).status).toBe(401);

		// null clears the alias
		const cleared = await request("PATCH", "/auth/me", { token: user.access_token, body: { public_alias: null } });
		expect(cleared.status).toBe(200);
		expect(cleared.body.public_alias).toBeNull();
		expect(cleared.body.opt_in_public_analysis).toBe(true);
	});

	it("GET /api/users/profile is /auth/me under the original's path", async () => {
		expectErrorBody(await request("GET", "/api/users/profile"), 401, "UNAUTHORIZED");
		const user = await registerUser(request, { public_alias: "Legacy Client" });
		const profile = await request("GET", "/api/users/profile", { token: user.access_token });
		expect(profile.status).toBe(200);
		expect(profile.body.public_alias).toBe("Legacy Client");
		expect(profile.body).toEqual((await request("GET", "/auth/me", { token: user.access_token })).body);
	});

	it("accepts a token signed with the configured key (so the forgeries below are refused for what they change)", async () => {
		const user = await registerUser(request);
		const sub = decodeJwt(user.access_token).sub!;
		const me = await request("GET", "/auth/me", { token: await forge({ sub, type: "access", roles: ["user"] }) });
		expect(me.status).toBe(200);
		expect(me.body.email).toBe(user.email);
	});

	it("refuses forged, expired, tampered and mistyped access tokens → 401", async () => {
		const victim = await registerUser(request);
		const attacker = await registerUser(request);
		const sub = decodeJwt(victim.access_token).sub!;
		const [header, , signature] = attacker.access_token.split(".");
		const attackerClaims = decodeJwt(attacker.access_token);
		const now = Math.floor(Date.now() / 1000);

		const cases: [string, string][] = [
			["signed with a key not in JWT_KEYS", await forge({ sub, type: "access" }, { kid: "k2", secret: OLD })],
			["a known kid with the wrong secret", await forge({ sub, type: "access" }, { secret: NEW })],
			["expired", await forge({ sub, type: "access" }, { expS: -60 })],
			["HS512 instead of HS256", await forge({ sub, type: "access" }, { alg: "HS512" })],
			["no type claim", await forge({ sub })],
			["an empty subject", await forge({ sub: "", type: "access" })],
			["alg none", `${b64url({ alg: "none", typ: "JWT", kid: "k1" })}.${b64url({ sub, type: "access", iat: now, exp: now + 600 })}.`],
			["alg none without a kid", `${b64url({ alg: "none", typ: "JWT" })}.${b64url({ sub, type: "access", iat: now, exp: now + 600 })}.`],
			["a tampered payload (subject swapped)", `${header}.${b64url({ ...attackerClaims, sub })}.${signature}`],
			["a tampered payload (roles added)", `${header}.${b64url({ ...attackerClaims, roles: ["admin"] })}.${signature}`],
			["a refresh token", victim.refresh_token],
			["garbage", "not.a.jwt"],
			["two segments", `${header}.${b64url({ sub })}`]
		];
		for (const [label, token] of cases) {
			const res = await request("GET", "/auth/me", { token });
			try {
				expectErrorBody(res, 401);
			} catch (err) {
				throw new Error(`${label}: ${res.status} ${res.text}\n${String(err)}`);
			}
		}
	});

	it("refuses access tokens, forged and expired tokens where a refresh token belongs → 401", async () => {
		const user = await registerUser(request);
		const claims = decodeJwt(user.refresh_token);
		const cases: [string, string][] = [
			["an access token", user.access_token],
			// Correctly signed but never issued: not in the token store.
			["a never-issued refresh token", await forge({ sub: claims.sub, type: "refresh", fam: claims.fam })],
			["an expired refresh token", await forge({ sub: claims.sub, type: "refresh", fam: claims.fam }, { expS: -60 })],
			["a refresh token of another key", await forge({ sub: claims.sub, type: "refresh", fam: claims.fam }, { kid: "k9", secret: OLD })],
			["garbage", "garbage"]
		];
		for (const [label, token] of cases) {
			const res = await request("POST", "/auth/refresh", { body: { refresh_token: token } });
			try {
				expectErrorBody(res, 401);
			} catch (err) {
				throw new Error(`${label}: ${res.status} ${res.text}\n${String(err)}`);
			}
		}
		// None of that spent the real token.
		expect((await request("POST", "/auth/refresh", { body: { refresh_token: user.refresh_token } })).status).toBe(200);
	});
});

describe("auth across restarts", () => {
	it("an account, its key file and its refresh tokens survive a broker restart", async () => {
		const dataDir = tempDir();
		let a: TestNode | undefined;
		let b: TestNode | undefined;
		try {
			a = await startNode({ services: SERVICES, env: { DATA_DIR: dataDir, RATE_LIMITS: GENEROUS_LIMITS } });
			const user = await registerUser(http(a.url));
			await a.stop();
			a = undefined;

			const onDisk = [...storedUsers(dataDir).values()].map(u => u.email);
			expect(onDisk).toEqual([user.email]);

			b = await startNode({ services: SERVICES, env: { DATA_DIR: dataDir, RATE_LIMITS: GENEROUS_LIMITS } });
			const request = http(b.url);
			expect((await login(request, user.email, user.password)).status).toBe(200);
			// The signing key came from DATA_DIR, so tokens of the first run still verify.
			expect((await request("GET", "/auth/me", { token: user.access_token })).status).toBe(200);
			expect((await request("POST", "/auth/refresh", { body: { refresh_token: user.refresh_token } })).status).toBe(200);
		} finally {
			await stopAll(a, b);
		}
	});

	it("rotates keys: a new key signs, the old one verifies until it leaves JWT_KEYS", async () => {
		const dataDir = tempDir();
		const env = (keys: string) => ({ DATA_DIR: dataDir, JWT_KEYS: keys, RATE_LIMITS: GENEROUS_LIMITS });
		let n: TestNode | undefined;
		try {
			n = await startNode({ services: SERVICES, env: env(`old:${OLD}`) });
			const user = await registerUser(http(n.url));
			expect(decodeProtectedHeader(user.access_token).kid).toBe("old");
			await n.stop();

			n = await startNode({ services: SERVICES, env: env(`new:${NEW},old:${OLD}`) });
			let request = http(n.url);
			expect((await request("GET", "/auth/me", { token: user.access_token })).status).toBe(200);
			const fresh = await login(request, user.email, user.password);
			expect(fresh.status).toBe(200);
			expect(decodeProtectedHeader(fresh.body.access_token).kid).toBe("new");
			expect(decodeProtectedHeader(fresh.body.refresh_token).kid).toBe("new");
			expect((await request("GET", "/auth/me", { token: fresh.body.access_token })).status).toBe(200);
			// A refresh token signed with the old key still rotates, into the new key.
			const rotated = await request("POST", "/auth/refresh", { body: { refresh_token: user.refresh_token } });
			expect(rotated.status).toBe(200);
			expect(decodeProtectedHeader(rotated.body.access_token).kid).toBe("new");
			await n.stop();

			n = await startNode({ services: SERVICES, env: env(`new:${NEW}`) });
			request = http(n.url);
			expectErrorBody(await request("GET", "/auth/me", { token: user.access_token }), 401, "INVALID_TOKEN");
			expect((await request("GET", "/auth/me", { token: fresh.body.access_token })).status).toBe(200);
		} finally {
			await stopAll(n);
		}
	});

	it("rotation step 1 (README): while nodes roll from `old,new` to `new,old`, each verifies the other's tokens", async () => {
		const dataDir = tempDir();
		const env = (keys: string) => ({ DATA_DIR: dataDir, JWT_KEYS: keys, RATE_LIMITS: GENEROUS_LIMITS });
		let n: TestNode | undefined;
		try {
			n = await startNode({ services: SERVICES, env: env(`new:${NEW},old:${OLD}`) });
			const signedNew = await registerUser(http(n.url));
			expect(decodeProtectedHeader(signedNew.access_token).kid).toBe("new");
			await n.stop();

			// A node not yet switched: still signs with `old`, already accepts `new`.
			n = await startNode({ services: SERVICES, env: env(`old:${OLD},new:${NEW}`) });
			const request = http(n.url);
			expect((await request("GET", "/auth/me", { token: signedNew.access_token })).status).toBe(200);
			const refreshed = await request("POST", "/auth/refresh", { body: { refresh_token: signedNew.refresh_token } });
			expect(refreshed.status).toBe(200);
			expect(decodeProtectedHeader(refreshed.body.access_token).kid).toBe("old");
			// Without `new` in its list a node would log that user out: the reason for step 1.
			await n.stop();
			n = await startNode({ services: SERVICES, env: env(`old:${OLD}`) });
			expectErrorBody(await http(n.url)("GET", "/auth/me", { token: signedNew.access_token }), 401, "INVALID_TOKEN");
		} finally {
			await stopAll(n);
		}
	});

	it("access tokens live ACCESS_TOKEN_TTL_S; one past that is refused → 401", async () => {
		let n: TestNode | undefined;
		try {
			n = await startNode({
				services: SERVICES,
				env: { ACCESS_TOKEN_TTL_S: "10", JWT_KEYS: `old:${OLD}`, RATE_LIMITS: GENEROUS_LIMITS }
			});
			const request = http(n.url);
			const user = await registerUser(request);
			const claims = decodeJwt(user.access_token);
			expect(claims.exp! - claims.iat!).toBe(10);

			// The same claims re-signed with the server's key: valid as issued, refused once the
			// 10 s have passed (moved back 11 s rather than waiting, or faking the process clock).
			const resign = (shiftS: number) =>
				new SignJWT({ ...claims, iat: claims.iat! - shiftS, exp: claims.exp! - shiftS })
					.setProtectedHeader({ alg: "HS256", kid: "old", typ: "JWT" })
					.sign(new TextEncoder().encode(OLD));
			expect((await request("GET", "/auth/me", { token: await resign(0) })).status).toBe(200);
			const late = await request("GET", "/auth/me", { token: await resign(11) });
			expectErrorBody(late, 401, "INVALID_TOKEN");
			expect(late.body.error).toMatch(/expired/i);
		} finally {
			await stopAll(n);
		}
	});
});
