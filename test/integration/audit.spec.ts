import fs from "node:fs";
import path from "node:path";
import type { ServiceBroker } from "moleculer";
import { entryHash, GENESIS, type AuditEntry } from "../../lib/audit/chain";
import { auditVerifyText, replCommands } from "../../lib/repl-commands";
import { registerUser, type TestUser } from "../factories/users";
import { http, startNode, type Http, type TestNode } from "../helpers/node";
import { waitFor } from "../helpers/wait";

const SERVICES = ["api", "users", "auth", "audit"];
const LIMITS = "auth=10000/60,default=10000/60";
const ADMIN_EMAIL = "root-admin@example.com";
const PASSWORD = "Blue-Harbor-Lantern-42";

type Entry = AuditEntry & { _id: string };
interface AuditDb {
	dbFind<T>(q: object): Promise<T[]>;
	dbUpdate(id: string, set: object): Promise<unknown>;
	dbRemove(id: string): Promise<boolean>;
}

const auditDb = (broker: ServiceBroker) => broker.getLocalService("audit") as unknown as AuditDb;
const entries = (broker: ServiceBroker, query: object = {}) => auditDb(broker).dbFind<Entry>({ query, sort: ["seq"] });
const ofType = async (broker: ServiceBroker, type: string, subject?: string) =>
	(await entries(broker, { type })).filter(e => subject === undefined || e.subject_id === subject);
const verify = (broker: ServiceBroker) => broker.call<{ ok: boolean; entries: number; first_bad_seq?: number }, object>("audit.verify", {});
const replCommand = (name: string) => replCommands.find(c => c.command.split(" ")[0] === name)!;

async function login(request: Http, email: string, password: string) {
	return request("POST", "/auth/login", { body: { email, password } });
}

describe("audit log on real flows", () => {
	let node: TestNode;
	let request: Http;
	let user: TestUser;
	let userId: string;

	beforeAll(async () => {
		node = await startNode({ services: SERVICES, env: { RATE_LIMITS: LIMITS, ADMIN_EMAILS: `${ADMIN_EMAIL}, Second-Admin@Example.com` } });
		request = http(node.url);
		user = await registerUser(request);
		userId = (await request("GET", "/auth/me", { token: user.access_token })).body.id;
	});
	afterAll(() => node.stop());

	it("records sign-up, login and failed logins as chained entries with the account id, never the email or password", async () => {
		expect((await login(request, user.email, user.password)).status).toBe(200);
		expect((await login(request, user.email, "Wrong-Password-123")).status).toBe(401);
		expect((await login(request, "nobody-here@example.com", "Wrong-Password-123")).status).toBe(401);

		await waitFor(async () => (await ofType(node.broker, "auth.login_failed")).length >= 2);
		expect(await ofType(node.broker, "user.registered", userId)).toHaveLength(1);
		expect(await ofType(node.broker, "auth.login", userId)).toHaveLength(1);
		const failed = await ofType(node.broker, "auth.login_failed");
		expect(failed.map(f => [f.subject_id, f.data.reason])).toEqual(expect.arrayContaining([[userId, "UNAUTHORIZED"], [null, "UNAUTHORIZED"]]));

		const all = await entries(node.broker);
		all.forEach((e, i) => {
			expect(e.seq).toBe(i + 1);
			expect(e.prev_hash).toBe(i === 0 ? GENESIS : all[i - 1].hash);
			expect(e.hash).toBe(entryHash(e));
		});
		const file = fs.readFileSync(path.join(node.dataDir, "db", "audit_log.db"), "utf8");
		for (const secret of [user.email, user.password, "Wrong-Password-123", "nobody-here", user.access_token, user.refresh_token]) expect(file).not.toContain(secret);
		expect(await verify(node.broker)).toMatchObject({ ok: true, entries: all.length });
	});

	it("records a refresh-token reuse as the revocation of the family, naming the account", async () => {
		const u = await registerUser(request);
		const id = (await request("GET", "/auth/me", { token: u.access_token })).body.id;
		expect((await request("POST", "/auth/refresh", { body: { refresh_token: u.refresh_token } })).status).toBe(200);
		expect((await request("POST", "/auth/refresh", { body: { refresh_token: u.refresh_token } })).status).toBe(401);
		const [revoked] = await waitFor(() => ofType(node.broker, "auth.family_revoked", id).then(r => (r.length ? r : null)));
		expect(revoked.data).toEqual({ family_id: expect.any(String), reason: "refresh token reuse" });
		expect(JSON.stringify(revoked)).not.toContain(u.refresh_token);
	});

	it("concurrent appends from events and calls keep one gapless, valid chain", async () => {
		const before = (await entries(node.broker)).length;
		await Promise.all([
			...Array.from({ length: 40 }, (_, i) => node.broker.call("audit.record", { type: "test.concurrent", subject_id: `u${i}` })),
			...Array.from({ length: 40 }, (_, i) => node.broker.emit("audit.access", { actor_id: "op", subject_id: `v${i}`, resource: "test" }))
		]);
		await waitFor(async () => (await entries(node.broker)).length === before + 80);
		const all = await entries(node.broker);
		expect(all.map(e => e.seq)).toEqual(Array.from({ length: before + 80 }, (_, i) => i + 1));
		expect(await verify(node.broker)).toMatchObject({ ok: true, entries: before + 80 });
	});

	it("admin routes: anonymous → 401, a user → 403, an admin (ADMIN_EMAILS) → 200", async () => {
		// Authorization comes before validation: a user learns nothing from malformed params either.
		const routes = ["/admin/audit/verify", "/admin/audit", `/admin/audit?user_id=${userId}`, "/admin/audit?cursor=abc&limit=-1", "/admin/compliance/report"];
		for (const r of routes) {
			expect((await request("GET", r)).status).toBe(401);
			const asUser = await request("GET", r, { token: user.access_token });
			expect(asUser.status).toBe(403);
			expect(asUser.body.error_code).toBe("FORBIDDEN");
		}
		const admin = await registerUser(request, { email: ADMIN_EMAIL, password: PASSWORD });
		const v = await request("GET", "/admin/audit/verify", { token: admin.access_token });
		expect(v.status).toBe(200);
		expect(v.body).toMatchObject({ ok: true, entries: expect.any(Number) });
		expect((await request("GET", "/admin/compliance/report", { token: admin.access_token })).status).toBe(200);

		const adminId = (await request("GET", "/auth/me", { token: admin.access_token })).body.id;
		expect(await ofType(node.broker, "user.roles_changed", adminId)).toEqual([expect.objectContaining({ data: { roles: ["user", "admin"], by: "ADMIN_EMAILS" } })]);

		// The grant is the system's: a user's token sent along with the sign-up does not make it the caller's.
		const second = await request("POST", "/auth/register", { token: user.access_token, body: { email: "second-admin@example.com", password: PASSWORD } });
		expect(second.status).toBe(200);
		expect((await request("GET", "/admin/audit/verify", { token: second.body.access_token })).status).toBe(200);
	});

	it("an admin reading a user's audit trail pages through it and is itself recorded (who read whose data)", async () => {
		const admin = await login(request, ADMIN_EMAIL, PASSWORD);
		const adminId = (await request("GET", "/auth/me", { token: admin.body.access_token })).body.id;
		const first = await request("GET", `/admin/audit?user_id=${userId}&limit=2`, { token: admin.body.access_token });
		expect(first.status).toBe(200);
		expect(first.body.items).toHaveLength(2);
		for (const e of first.body.items) expect([e.actor_id, e.subject_id]).toContain(userId);
		expect(first.body.next_cursor).toBe("2");
		const second = await request("GET", `/admin/audit?user_id=${userId}&limit=2&cursor=${first.body.next_cursor}`, { token: admin.body.access_token });
		expect(second.body.items[0].seq).not.toBe(first.body.items[0].seq);
		const reads = (await ofType(node.broker, "access", userId)).filter(e => e.actor_id === adminId);
		expect(reads.length).toBeGreaterThanOrEqual(2);
		expect(reads[0].data).toEqual({ resource: "audit_log", action: "list" });
		expect((await request("GET", "/admin/audit?cursor=abc", { token: admin.body.access_token })).status).toBe(422);
	});

	it("lm-grant-admin and lm-revoke-admin change the role (audited), effective at the next sign-in", async () => {
		const u = await registerUser(request);
		const id = (await request("GET", "/auth/me", { token: u.access_token })).body.id;
		const log = jest.spyOn(console, "log").mockImplementation(() => undefined);
		try {
			await replCommand("lm-grant-admin").action!(node.broker as never, { email: u.email } as never, undefined as never);
			const asAdmin = await login(request, u.email, u.password);
			expect((await request("GET", "/admin/audit/verify", { token: asAdmin.body.access_token })).status).toBe(200);
			await replCommand("lm-revoke-admin").action!(node.broker as never, { email: u.email } as never, undefined as never);
			const asUser = await login(request, u.email, u.password);
			expect((await request("GET", "/admin/audit/verify", { token: asUser.body.access_token })).status).toBe(403);
			await replCommand("lm-grant-admin").action!(node.broker as never, { email: "no-such-user@example.com" } as never, undefined as never);
			expect(log.mock.calls.at(-1)?.[0]).toMatch(/lm-grant-admin failed: User not found/);
		} finally {
			log.mockRestore();
		}
		const changes = await waitFor(() => ofType(node.broker, "user.roles_changed", id).then(r => (r.length === 2 ? r : null)));
		expect(changes.map(c => c.data)).toEqual([
			{ roles: ["user", "admin"], by: "operator:repl" },
			{ roles: ["user"], by: "operator:repl" }
		]);
	});

	it("keeps an erased user's entries (the proof) and records the erasure with ids only", async () => {
		const u = await registerUser(request);
		const id = (await request("GET", "/auth/me", { token: u.access_token })).body.id;
		await node.broker.emit("user.erased", { user_id: id, erasure_id: "er-1" });
		const [erased] = await waitFor(() => ofType(node.broker, "user.erased", id).then(r => (r.length ? r : null)));
		expect(erased.data).toEqual({ erasure_id: "er-1" });
		expect(await ofType(node.broker, "user.registered", id)).toHaveLength(1);
		expect(fs.readFileSync(path.join(node.dataDir, "db", "audit_log.db"), "utf8")).not.toContain(u.email);
		expect((await verify(node.broker)).ok).toBe(true);
	});

	it("the compliance report counts exports and erasures with their completion times, consent changes and security events", async () => {
		const b = node.broker;
		await b.emit("privacy.export_requested", { user_id: "c1", export_id: "ex-1" });
		await b.emit("privacy.export_requested", { user_id: "c2", export_id: "ex-2" });
		await b.emit("user.erased", { user_id: "c3", erasure_id: "er-2" });
		await b.emit("consent.changed", { user_id: "c1", changed: ["face_analysis", "biometric_analysis"], email: "leak@example.com" });
		await waitFor(async () => (await ofType(b, "consent.changed")).length === 1);
		await b.emit("privacy.export_completed", { user_id: "c1", export_id: "ex-1" });
		await b.emit("privacy.erasure_completed", { user_id: "c3", erasure_id: "er-2" });
		await waitFor(async () => (await ofType(b, "privacy.erasure_completed")).length === 1 && (await ofType(b, "privacy.export_completed")).length === 1);

		const admin = await login(request, ADMIN_EMAIL, PASSWORD);
		const report = await request("GET", "/admin/compliance/report", { token: admin.body.access_token });
		expect(report.status).toBe(200);
		expect(report.body.exports).toEqual({ requested: 2, completed: 1, pending: 1, completion_s: expect.objectContaining({ avg: expect.any(Number), max: expect.any(Number) }) });
		// er-1 (previous test) has no completion yet.
		expect(report.body.erasures).toMatchObject({ requested: 2, completed: 1, pending: 1 });
		expect(report.body.consents).toEqual({ source: "audit", changes: 1, users_changing: 1, by_purpose: { face_analysis: 1, biometric_analysis: 1 }, biometric_withdrawals: 0 });
		expect(report.body.security).toMatchObject({ "auth.login": expect.any(Number), "auth.login_failed": 2, "auth.family_revoked": 1 });
		expect(report.body.security["auth.login"]).toBeGreaterThanOrEqual(3);
		expect(report.body.audit).toEqual({ ok: true, entries: expect.any(Number) });
		expect(fs.readFileSync(path.join(node.dataDir, "db", "audit_log.db"), "utf8")).not.toContain("leak@example.com");
	});
});

describe("audit log tampering", () => {
	let node: TestNode;

	beforeEach(async () => {
		node = await startNode({ services: ["audit"] });
		for (let i = 1; i <= 6; i++) await node.broker.call("audit.record", { type: "test.entry", subject_id: `user-${i}`, data: { n: i } });
	});
	afterEach(() => node.stop());

	it("a changed entry breaks the chain at its sequence number", async () => {
		expect(await verify(node.broker)).toMatchObject({ ok: true, entries: 6 });
		const [fourth] = await entries(node.broker, { seq: 4 });
		await auditDb(node.broker).dbUpdate(fourth._id, { data: { n: 40 } });
		expect(await verify(node.broker)).toMatchObject({ ok: false, entries: 6, first_bad_seq: 4 });
	});

	it("an entry re-hashed after the change still breaks the link from the next one", async () => {
		const [third] = await entries(node.broker, { seq: 3 });
		const forged = { ...third, subject_id: "someone-else" };
		await auditDb(node.broker).dbUpdate(third._id, { subject_id: "someone-else", hash: entryHash(forged) });
		expect(await verify(node.broker)).toMatchObject({ ok: false, first_bad_seq: 4 });
	});

	it("a deleted entry is a gap reported at the missing number", async () => {
		const [second] = await entries(node.broker, { seq: 2 });
		await auditDb(node.broker).dbRemove(second._id);
		expect(await verify(node.broker)).toMatchObject({ ok: false, entries: 5, first_bad_seq: 2 });
	});

	it("an edit in the NeDB file itself is found after a restart, and lm-audit-verify says where", async () => {
		const file = path.join(node.dataDir, "db", "audit_log.db");
		await node.stop();
		const lines = fs.readFileSync(file, "utf8").split("\n");
		const i = lines.findIndex(l => l.includes('"seq":5'));
		lines[i] = lines[i].replace('"type":"test.entry"', '"type":"test.entrx"');
		fs.writeFileSync(file, lines.join("\n"));
		node = await startNode({ services: ["audit"], env: { DATA_DIR: node.dataDir } });
		const result = await node.broker.call<Parameters<typeof auditVerifyText>[0], object>("audit.verify", {});
		expect(result).toMatchObject({ ok: false, first_bad_seq: 5 });
		expect(auditVerifyText(result)).toMatch(/TAMPERED: chain .+, first bad entry seq 5/);
		const log = jest.spyOn(console, "log").mockImplementation(() => undefined);
		try {
			await replCommand("lm-audit-verify").action!(node.broker as never, {} as never, undefined as never);
			expect(log.mock.calls[0][0]).toMatch(/first bad entry seq 5/);
		} finally {
			log.mockRestore();
		}
	});

	it("a restarted node continues its chain from the stored head", async () => {
		await node.stop();
		node = await startNode({ services: ["audit"], env: { DATA_DIR: node.dataDir } });
		await node.broker.call("audit.record", { type: "test.after-restart" });
		const all = await entries(node.broker);
		expect(all.map(e => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
		expect(await verify(node.broker)).toMatchObject({ ok: true, entries: 7 });
	});
});

describe("roles are checked where the action runs", () => {
	let node: TestNode;
	beforeAll(async () => {
		node = await startNode({ services: ["audit", "users"] });
	});
	afterAll(() => node.stop());

	it("a call carrying a user without the role is refused even without the gateway; internal calls pass", async () => {
		await expect(node.broker.call("audit.verify", {}, { meta: { userId: "u1", roles: ["user"] } })).rejects.toMatchObject({ type: "FORBIDDEN", code: 403 });
		await expect(node.broker.call("audit.verify", {}, { meta: { userId: "u1" } })).rejects.toMatchObject({ type: "FORBIDDEN" });
		await expect(node.broker.call("users.setRole", { email: "x@example.com", role: "admin", grant: true, by: "t" }, { meta: { userId: "u1", roles: ["user"] } })).rejects.toMatchObject({ type: "FORBIDDEN" });
		await expect(node.broker.call("audit.verify", {}, { meta: { userId: "u1", roles: ["admin"] } })).resolves.toMatchObject({ ok: true });
		await expect(node.broker.call("audit.verify", {})).resolves.toMatchObject({ ok: true });
	});

	it("a role check also holds for a call relayed by another service with the user's meta", async () => {
		const relay = node.broker.createService({
			name: "relay",
			actions: { go: { handler: ctx => ctx.call("audit.list", {}, { meta: ctx.meta }) } }
		});
		await node.broker.waitForServices(["relay"]);
		await expect(node.broker.call("relay.go", {}, { meta: { userId: "u1", roles: ["user"] } })).rejects.toMatchObject({ type: "FORBIDDEN" });
		await expect(node.broker.call("relay.go", {}, { meta: { userId: "u1", roles: ["admin"] } })).resolves.toMatchObject({ items: expect.any(Array) });
		await node.broker.destroyService(relay);
	});
});
