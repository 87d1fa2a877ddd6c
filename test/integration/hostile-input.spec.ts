import fs from "node:fs";
import path from "node:path";
import { ALIASES } from "../../services/api.service";
import { http, startNode, type Http, type HttpResult, type RequestOptions, type TestNode } from "../helpers/node";
import { registerUser, type TestUser } from "../factories/users";

/**
 * Every body- or query-taking route of the alias table, fed what a hostile or broken client
 * sends. Whatever the input: a 4xx in the error format, no stack trace, nothing stored.
 */

const PASSWORD = "Blue-Harbor-Lantern-42";
const BODY_LIMIT = 64 * 1024;
const JSON_HEADERS = { "content-type": "application/json" };

type Fields = Record<string, unknown>;

interface Endpoint {
	method: string;
	path: string;
	auth: boolean;
	/** A body the route accepts; each call a fresh one (a new email, an unused refresh token). */
	valid(): Promise<Fields>;
	required: string[];
	strings: string[];
	booleans: string[];
	nullable: string[];
}

interface Case {
	name: string;
	body?: unknown;
	raw?: string | Buffer;
	headers?: Record<string, string>;
	/** Acceptable statuses; all 4xx. */
	status: number[];
	code?: string;
	/** A field the validation errors must name. */
	field?: string;
}

let node: TestNode;
let request: Http;
let owner: TestUser;
let seq = 0;
const email = () => `hostile${++seq}-${Date.now().toString(36)}@example.com`;

/** The users collection as NeDB persisted it (one JSON document per line; the last line per id wins). */
function storedUsers(): Record<string, unknown>[] {
	const docs = new Map<string, Record<string, unknown>>();
	for (const line of fs.readFileSync(path.join(node.dataDir, "db", "users.db"), "utf8").split("\n")) {
		if (!line.trim()) continue;
		const doc = JSON.parse(line) as Record<string, unknown>;
		if (typeof doc._id !== "string") continue;
		if (doc.$$deleted) docs.delete(doc._id);
		else docs.set(doc._id, doc);
	}
	return [...docs.values()];
}

function expectNoPrivilegeInStore() {
	for (const u of storedUsers()) {
		expect(u).not.toHaveProperty("role");
		expect(u.roles).toEqual(["user"]);
		expect(u.is_active).toBe(true);
		expect(String(u.password_hash)).toMatch(/^\$argon2id\$/);
	}
}

function expectCleanError(res: HttpResult, statuses: number[], code?: string, field?: string) {
	if (!statuses.includes(res.status)) throw new Error(`expected ${statuses.join("|")}, got ${res.status}: ${res.text.slice(0, 300)}`);
	expect(res.status).toBeGreaterThanOrEqual(400);
	expect(res.status).toBeLessThan(500);
	expect(res.headers.get("content-type")).toMatch(/^application\/json/);
	expect(res.body).toEqual({
		error: expect.any(String),
		error_code: code ?? expect.any(String),
		details: expect.any(Object),
		timestamp: expect.any(String),
		detail: expect.any(String)
	});
	// No stack trace, no source paths.
	expect(res.text).not.toMatch(/\bat .*\.(ts|js):\d+/);
	expect(res.text).not.toMatch(/\.(ts|js):\d+:\d+|node_modules|\/work\//);
	if (field) {
		// `email` or, for an operator object, the path into it (`email.$ne`).
		const fields = (res.body.details.validation_errors as { field: string }[]).map(e => e.field);
		expect(fields.some(f => f === field || f.startsWith(`${field}.`))).toBe(true);
	}
}

const endpoints: Endpoint[] = [
	{
		method: "POST",
		path: "/auth/register",
		auth: false,
		valid: async () => ({ email: email(), password: PASSWORD }),
		required: ["email", "password"],
		strings: ["email", "password", "public_alias"],
		booleans: ["opt_in_public_analysis"],
		nullable: ["public_alias"]
	},
	{
		method: "POST",
		path: "/auth/login",
		auth: false,
		valid: async () => ({ email: owner.email, password: owner.password }),
		required: ["email", "password"],
		strings: ["email", "password"],
		booleans: [],
		nullable: []
	},
	{
		method: "POST",
		path: "/auth/refresh",
		auth: false,
		valid: async () => ({ refresh_token: (await registerUser(request)).refresh_token }),
		required: ["refresh_token"],
		strings: ["refresh_token"],
		booleans: [],
		nullable: []
	},
	{
		method: "PATCH",
		path: "/auth/me",
		auth: true,
		valid: async () => ({ public_alias: "Calm Harbor" }),
		required: [],
		strings: ["public_alias"],
		booleans: ["opt_in_public_analysis"],
		nullable: ["public_alias"]
	}
];

const deepArray = (n: number) => "[".repeat(n) + "]".repeat(n);
const deepObject = (n: number) => '{"a":'.repeat(n) + "1" + "}".repeat(n);

/** The cases every body-taking endpoint gets; `base` is a valid body for it. */
function casesFor(e: Endpoint, base: Fields): Case[] {
	const cases: Case[] = [];
	const bad = (name: string, body: unknown, field?: string): Case => ({ name, body, status: [422], code: "VALIDATION", field });
	for (const f of e.required) {
		const rest = { ...base };
		delete rest[f];
		cases.push(bad(`missing ${f}`, rest, f));
		cases.push(bad(`${f} empty`, { ...base, [f]: "" }, f));
	}
	if (e.required.length) cases.push(bad("empty object", {}, e.required[0]));

	for (const f of e.strings) {
		const wrong: [string, unknown][] = [
			["a number", 12345],
			["a float", 1.5],
			["a boolean", true],
			["an array", ["a@b.io"]],
			["an empty array", []],
			["an object", { value: "x" }],
			['{"$ne": null}', { $ne: null }],
			['{"$gt": ""}', { $gt: "" }],
			['{"$regex": ".*"}', { $regex: ".*" }],
			['{"$in": [...]}', { $in: ["a@b.io", owner.email] }]
		];
		if (!e.nullable.includes(f)) wrong.push(["null", null]);
		for (const [label, value] of wrong) cases.push(bad(`${f} is ${label}`, { ...base, [f]: value }, f));
		// Over every text field's maximum, under the body limit: refused by the schema, not the parser.
		cases.push(bad(`${f} is 10 KB long`, { ...base, [f]: "a".repeat(10_000) }, f));
		cases.push({ name: `${f} is a 1 MB string`, body: { ...base, [f]: "a".repeat(1_000_000) }, status: [413, 422] });
		// Written as text: a 5000-level value is too deep for JSON.stringify here, not for the server's parser.
		const deep = JSON.stringify({ ...base, [f]: "<deep>" }).replace('"<deep>"', deepObject(5000));
		cases.push({ name: `${f} is a 5000-level object`, raw: deep, headers: JSON_HEADERS, status: [400, 413, 422] });
	}
	for (const f of e.booleans)
		for (const [label, value] of [["a string", "true"], ["a number", 1], ["null", null], ["an array", [true]], ['{"$ne": false}', { $ne: false }]] as const)
			cases.push(bad(`${f} is ${label}`, { ...base, [f]: value }, f));

	cases.push(bad("a top-level $where", { ...base, $where: "sleep(1000)" }, "$where"));
	cases.push(bad("a $-key nested in an unknown field", { ...base, extra: { deeper: { $gt: 1 } } }, "extra.deeper.$gt"));

	const raw = (name: string, body: string | Buffer, status: number[], code?: string, headers = JSON_HEADERS): Case => ({ name, raw: body, headers, status, code });
	const json = JSON.stringify(base);
	for (const [name, body] of [
		["truncated JSON", json.slice(0, -3)],
		["a lone brace", "{"],
		["single quotes", json.replace(/"/g, "'")],
		["a trailing comma", json.replace(/}$/, ",}")],
		["NaN", '{"x": NaN}'],
		["a comment", `/* hi */${json}`],
		["two objects", `${json}${json}`],
		["garbage", "\u0000\u0001\u0002"]
	])
		cases.push(raw(`malformed JSON: ${name}`, body, [400], "MALFORMED_JSON"));
	for (const [name, body] of [
		["a number", "42"],
		["a string", '"hello"'],
		["null", "null"],
		["true", "true"]
	])
		cases.push(raw(`a JSON ${name} as the body`, body, [400, 422]));
	cases.push(raw("a JSON array as the body", JSON.stringify([base]), [400, 422]));
	cases.push(raw("an empty JSON array as the body", "[]", [400, 422]));
	cases.push(raw("a 5000-level array as the body", deepArray(5000), [400, 413, 422]));
	cases.push(raw("a 5000-level object as the body", deepObject(5000), [400, 413, 422]));
	cases.push(raw("a 5000-level object under an unknown key", `${json.slice(0, -1)},"zz":${deepObject(5000)}}`, [400, 413, 422]));
	cases.push(raw("a body over BODY_LIMIT_BYTES", JSON.stringify({ ...base, pad: "x".repeat(BODY_LIMIT) }), [413], "PAYLOAD_TOO_LARGE"));
	cases.push(raw("an unsupported charset", json, [415], "UNSUPPORTED_MEDIA_TYPE", { "content-type": "application/json; charset=latin1" }));

	for (const [name, type, body] of [
		["text/plain", "text/plain", json],
		["form-urlencoded", "application/x-www-form-urlencoded", new URLSearchParams(base as Record<string, string>).toString()],
		["multipart", "multipart/form-data; boundary=xyz", `--xyz\r\nContent-Disposition: form-data; name="email"\r\n\r\na@b.io\r\n--xyz--\r\n`],
		["XML", "application/xml", "<email>a@b.io</email>"],
		["no content type", "", json]
	])
		// A Buffer body, unlike a string, makes fetch send no content type of its own.
		cases.push({ name: `content type ${name}`, raw: Buffer.from(body), headers: type ? { "content-type": type } : {}, status: [415], code: "UNSUPPORTED_MEDIA_TYPE" });
	return cases;
}

/** Odd text: what each field does with it. Email never accepts it; the alias refuses control and format characters. */
const ODD_TEXT: [string, string][] = [
	["an RTL mark", "Calm\u200fHarbor"],
	["a right-to-left override", "Calm\u202eHarbor"],
	["a zero-width space", "Calm\u200bHarbor"],
	["a NUL byte", "Calm\u0000Harbor"],
	["a lone surrogate", "Calm\ud800Harbor"],
	["a newline", "Calm\nHarbor"]
];

async function send(e: Endpoint, o: RequestOptions) {
	return request(e.method, e.path, { ...o, token: e.auth ? owner.access_token : undefined });
}

beforeAll(async () => {
	node = await startNode({
		services: ["api", "users", "auth"],
		env: {
			BODY_LIMIT_BYTES: String(BODY_LIMIT),
			RATE_LIMITS: "auth=100000/60,default=100000/60",
			// Wrong passwords here are input cases, not an attack on the account.
			LOGIN_MAX_FAILURES: "100000"
		}
	});
	request = http(node.url);
	owner = await registerUser(request, { public_alias: "Owner Alias" });
});
afterAll(() => node.stop());

it("covers every alias that takes a body or a query", () => {
	const covered = [...endpoints.map(e => `${e.method} ${e.path}`), "PUT /api/users/profile"];
	for (const route of covered) expect(ALIASES).toHaveProperty([route]);
});

describe.each(endpoints.map(e => [`${e.method} ${e.path}`, e] as const))("%s", (_route, e) => {
	let cases: Case[] = [];
	beforeAll(async () => {
		cases = casesFor(e, await e.valid());
	});

	it("refuses every hostile body with a clean 4xx and changes nothing", async () => {
		expect(cases.length).toBeGreaterThan(30);
		const profile = (await request("GET", "/auth/me", { token: owner.access_token })).body;
		for (const c of cases) {
			const before = storedUsers().length;
			const res = await send(e, { body: c.body, raw: c.raw, headers: c.headers });
			try {
				expectCleanError(res, c.status, c.code, c.field);
				expect(storedUsers().length).toBe(before);
			} catch (err) {
				throw new Error(`case "${c.name}": ${String(err)}`);
			}
		}
		expectNoPrivilegeInStore();
		expect((await request("GET", "/auth/me", { token: owner.access_token })).body).toEqual(profile);
		// None of it locked or broke the account.
		expect((await request("POST", "/auth/login", { body: { email: owner.email, password: owner.password } })).status).toBe(200);
	});

	it.each(ODD_TEXT)("handles %s in every text field: refused cleanly, or (passwords) kept exactly", async (_label, text) => {
		for (const f of e.strings) {
			const base = await e.valid();
			const before = storedUsers().length;
			const res = await send(e, { body: { ...base, [f]: text } });
			try {
				if (f === "password" && e.path === "/auth/register" && res.status === 200) {
					// Passwords are opaque text: one accepted logs in again exactly as sent.
					const again = await request("POST", "/auth/login", { body: { email: base.email, password: text } });
					expect(again.status).toBe(200);
					continue;
				}
				// A wrong password or an unknown refresh token is a 401; everything else is invalid input.
				const wrongSecret = (e.path === "/auth/login" && f === "password") || e.path === "/auth/refresh";
				expectCleanError(res, wrongSecret ? [401, 422] : [422]);
				expect(storedUsers().length).toBe(before);
			} catch (err) {
				throw new Error(`field ${f}: ${String(err)}`);
			}
		}
	});
});

describe("odd but valid text", () => {
	it("an alias with emoji and non-Latin letters is stored exactly as sent", async () => {
		const alias = "Ōkami 🐺 Ünïcødé";
		const user = await registerUser(request, { public_alias: alias });
		expect((await request("GET", "/auth/me", { token: user.access_token })).body.public_alias).toBe(alias);
		const patched = await request("PATCH", "/auth/me", { token: user.access_token, body: { public_alias: "مرآة الحياة" } });
		expect(patched.status).toBe(200);
		expect(patched.body.public_alias).toBe("مرآة الحياة");
	});

	it.each([
		["an emoji", "😀user@example.com"],
		["a zero-width space", "us\u200ber@example.com"],
		["an RTL mark", "\u200fuser@example.com"],
		["a lone surrogate", "us\ud800er@example.com"],
		["two @", "a@b@example.com"],
		["no domain", "user@"],
		["angle brackets", "<script>@example.com"]
	])("refuses an email with %s → 422 and stores nothing", async (_label, address) => {
		const before = storedUsers().length;
		const res = await request("POST", "/auth/register", { body: { email: address, password: PASSWORD } });
		expectCleanError(res, [422], "VALIDATION", "email");
		expect(storedUsers().length).toBe(before);
	});

	it("treats a full-width (NFKC-equal) or upper-case form of a registered email as the same account → 409", async () => {
		const local = `wide${Date.now().toString(36)}`;
		await registerUser(request, { email: `${local}@example.com` });
		const before = storedUsers().length;
		const fullWidth = [...local.toUpperCase()].map(ch => String.fromCharCode(ch.charCodeAt(0) + 0xfee0)).join("");
		for (const variant of [`${fullWidth}@example.com`, `${local.toUpperCase()}@EXAMPLE.COM`]) {
			const res = await request("POST", "/auth/register", { body: { email: variant, password: PASSWORD } });
			expectCleanError(res, [409], "CONFLICT");
		}
		expect(storedUsers().length).toBe(before);
	});
});

describe("unknown fields are dropped, never stored", () => {
	const INJECTED = {
		role: "admin",
		roles: ["admin"],
		is_active: false,
		_id: "attacker-chosen-id",
		id: "attacker-chosen-id",
		password_hash: "$argon2id$v=19$m=1024,t=1,p=1$fake$fake",
		created_at: "2000-01-01T00:00:00.000Z",
		last_login: "2000-01-01T00:00:00.000Z",
		locked_until: "2999-01-01T00:00:00.000Z",
		login_failures: 99,
		user_id: "someone-else"
	};

	it("POST /auth/register", async () => {
		const address = email();
		const res = await request("POST", "/auth/register", { body: { email: address, password: PASSWORD, ...INJECTED } });
		expect(res.status).toBe(200);
		const stored = storedUsers().find(u => u.email === address)!;
		expect(stored).toMatchObject({ is_active: true, roles: ["user"], login_failures: 0, locked_until: null, last_login: null });
		expect(stored._id).not.toBe("attacker-chosen-id");
		expect(stored.created_at).not.toBe(INJECTED.created_at);
		expect(stored).not.toHaveProperty("role");
		expect(stored).not.toHaveProperty("user_id");
		expect(String(stored.password_hash)).not.toBe(INJECTED.password_hash);
		const me = await request("GET", "/auth/me", { token: res.body.access_token });
		expect(me.body).toMatchObject({ id: stored._id, email: address, is_active: true, last_login: null });
		// The real password works, so the injected hash was not stored.
		expect((await request("POST", "/auth/login", { body: { email: address, password: PASSWORD } })).status).toBe(200);
		expectNoPrivilegeInStore();
	});

	it("POST /auth/login and POST /auth/refresh", async () => {
		const user = await registerUser(request);
		const login = await request("POST", "/auth/login", { body: { email: user.email, password: user.password, ...INJECTED } });
		expect(login.status).toBe(200);
		const claims = JSON.parse(Buffer.from(login.body.access_token.split(".")[1], "base64url").toString());
		expect(claims.roles).toEqual(["user"]);
		const refreshed = await request("POST", "/auth/refresh", { body: { refresh_token: login.body.refresh_token, ...INJECTED } });
		expect(refreshed.status).toBe(200);
		const me = await request("GET", "/auth/me", { token: refreshed.body.access_token });
		expect(me.body.email).toBe(user.email);
		expectNoPrivilegeInStore();
	});

	it("PATCH /auth/me", async () => {
		const user = await registerUser(request);
		const before = (await request("GET", "/auth/me", { token: user.access_token })).body;
		const res = await request("PATCH", "/auth/me", { token: user.access_token, body: { ...INJECTED, email: "other@example.com" } });
		expect(res.status).toBe(200);
		expect(res.body).toEqual(before);
		expectNoPrivilegeInStore();
	});

	it("a __proto__ key neither sets fields nor pollutes prototypes", async () => {
		const user = await registerUser(request, { public_alias: "Before Proto" });
		const before = (await request("GET", "/auth/me", { token: user.access_token })).body;
		for (const raw of [
			'{"__proto__": {"public_alias": "Via Proto", "opt_in_public_analysis": true, "polluted": "yes"}}',
			'{"constructor": {"prototype": {"polluted": "yes"}}}',
			'{"__proto__": {"public_alias": {"$ne": null}}}'
		]) {
			const res = await request("PATCH", "/auth/me", { token: user.access_token, raw, headers: JSON_HEADERS });
			expect(res.status).toBeLessThan(500);
			expect(({} as Record<string, unknown>).polluted).toBeUndefined();
		}
		const registered = await request("POST", "/auth/register", {
			raw: JSON.stringify({ email: email(), password: PASSWORD }).replace(/}$/, ',"__proto__":{"opt_in_public_analysis":true,"public_alias":"Via Proto"}}'),
			headers: JSON_HEADERS
		});
		expect(registered.status).toBe(200);
		const fresh = (await request("GET", "/auth/me", { token: registered.body.access_token })).body;
		expect(fresh).toMatchObject({ public_alias: null, opt_in_public_analysis: false });
		expect((await request("GET", "/auth/me", { token: user.access_token })).body).toEqual(before);
		expect(({} as Record<string, unknown>).polluted).toBeUndefined();
	});
});

describe("PUT /api/users/profile (fields in the query string)", () => {
	// Every row has four entries: a shorter row makes Jest pass `done` as the missing argument.
	it.each<[string, string, number[], string | undefined]>([
		["opt-in not a boolean", "opt_in_public_analysis=maybe", [422], "opt_in_public_analysis"],
		["opt-in as 1", "opt_in_public_analysis=1", [422], "opt_in_public_analysis"],
		["alias repeated (an array)", "public_alias=Aa&public_alias=Bb", [422], "public_alias"],
		["alias as array syntax", "public_alias[]=Aa", [422], "public_alias"],
		["alias as {$ne}", "public_alias[$ne]=x", [422], "public_alias.$ne"],
		["alias as {$gt}", "public_alias[$gt]=", [422], "public_alias.$gt"],
		["a top-level $where", "$where=1", [422], "$where"],
		["alias too long", `public_alias=${"a".repeat(8000)}`, [422], "public_alias"],
		["alias with an RTL mark", "public_alias=Calm%E2%80%8FHarbor", [422], "public_alias"],
		["alias with a zero-width space", "public_alias=Calm%E2%80%8BHarbor", [422], "public_alias"],
		["alias with a NUL byte", "public_alias=Calm%00Harbor", [422], "public_alias"],
		["alias with markup", "public_alias=%3Cscript%3E", [422], "public_alias"],
		["a 1 MB query", `public_alias=${"a".repeat(1_000_000)}`, [413, 414, 422, 431], undefined],
		["a query over the header size limit", `public_alias=${"a".repeat(20_000)}`, [413, 414, 422, 431], undefined]
	])("refuses %s with a clean 4xx and changes nothing", async (_label, query, statuses, field) => {
		const before = (await request("GET", "/auth/me", { token: owner.access_token })).body;
		const res = await request("PUT", `/api/users/profile?${query}`, { token: owner.access_token });
		expectCleanError(res, statuses, undefined, field);
		expect((await request("GET", "/auth/me", { token: owner.access_token })).body).toEqual(before);
	});

	it("drops unknown query keys and prototype tricks", async () => {
		const user = await registerUser(request);
		const res = await request(
			"PUT",
			"/api/users/profile?public_alias=Query%20Alias&role=admin&is_active=false&id=x&email=other%40example.com&__proto__[polluted]=yes&constructor[prototype][polluted]=yes",
			{ token: user.access_token }
		);
		expect(res.status).toBe(200);
		expect(res.body.user).toMatchObject({ email: user.email, public_alias: "Query Alias", is_active: true });
		expect(({} as Record<string, unknown>).polluted).toBeUndefined();
		expectNoPrivilegeInStore();
	});

	it("refuses a body of the wrong type on the legacy route → 415", async () => {
		const res = await request("PUT", "/api/users/profile", { token: owner.access_token, raw: "public_alias=x", headers: { "content-type": "application/x-www-form-urlencoded" } });
		expectCleanError(res, [415], "UNSUPPORTED_MEDIA_TYPE");
	});
});

describe("query strings on GET routes", () => {
	it.each(["/auth/me", "/api/users/profile"])("%s ignores unknown keys and refuses $-keys", async route => {
		const ok = await request("GET", `${route}?role=admin&id=x`, { token: owner.access_token });
		expect(ok.status).toBe(200);
		expect(ok.body.email).toBe(owner.email);
		expectCleanError(await request("GET", `${route}?$where=1`, { token: owner.access_token }), [422], "VALIDATION", "$where");
		expectCleanError(await request("GET", `${route}?id[$ne]=x`, { token: owner.access_token }), [422], "VALIDATION", "id.$ne");
	});
});
