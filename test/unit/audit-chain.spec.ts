import { ChainVerifier, GENESIS, SerialQueue, canonicalJson, entryHash, type AuditEntry } from "../../lib/audit/chain";
import { AUDITED_EVENTS } from "../../lib/audit/events";
import { consentChanges, requestStats } from "../../lib/audit/report";
import { hasRequiredRole } from "../../lib/roles-guard";

function chain(n: number): AuditEntry[] {
	const out: AuditEntry[] = [];
	for (let seq = 1; seq <= n; seq++) {
		const body = { chain: "c", seq, at: new Date(1_700_000_000_000 + seq).toISOString(), type: "t", actor_id: null, subject_id: `u${seq}`, data: { n: seq }, request_id: null, prev_hash: out.at(-1)?.hash ?? GENESIS };
		out.push({ ...body, hash: entryHash(body) });
	}
	return out;
}

const check = (entries: AuditEntry[]) => {
	const v = new ChainVerifier("c");
	entries.forEach(e => v.push(e));
	return v.result();
};

describe("canonicalJson", () => {
	it("sorts keys at every level and drops undefined, so equal values hash equally", () => {
		expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[1,{"y":2,"z":1}]},"b":1}');
		expect(canonicalJson({ x: 1, y: 2 })).toBe(canonicalJson({ y: 2, x: 1 }));
		expect(canonicalJson(null)).toBe("null");
	});
});

describe("ChainVerifier", () => {
	it("accepts an intact chain and reports its head", () => {
		const c = chain(5);
		expect(check(c)).toEqual({ chain: "c", entries: 5, ok: true, head_hash: c[4].hash });
	});

	it("finds a changed field, a re-hashed entry, a gap, a reordering and a wrong first link", () => {
		const changed = chain(5);
		changed[2] = { ...changed[2], data: { n: 99 } };
		expect(check(changed).first_bad_seq).toBe(3);

		const rehashed = chain(5);
		const forged = { ...rehashed[1], subject_id: "other" };
		rehashed[1] = { ...forged, hash: entryHash(forged) };
		expect(check(rehashed).first_bad_seq).toBe(3);

		const gap = chain(5);
		gap.splice(3, 1);
		expect(check(gap)).toMatchObject({ ok: false, entries: 4, first_bad_seq: 4 });

		const headless = chain(3).slice(1);
		expect(check(headless).first_bad_seq).toBe(1);
	});

	it("the hash covers the previous hash: a swapped prev_hash breaks the entry", () => {
		const c = chain(3);
		c[1] = { ...c[1], prev_hash: GENESIS };
		expect(check(c).first_bad_seq).toBe(2);
	});
});

describe("SerialQueue", () => {
	it("runs tasks one at a time in order, and a failed task does not stop the next", async () => {
		const q = new SerialQueue();
		const log: string[] = [];
		let running = 0;
		const task = (name: string, ms: number, fail = false) => () =>
			new Promise<string>((resolve, reject) => {
				running++;
				expect(running).toBe(1);
				setTimeout(() => {
					running--;
					log.push(name);
					fail ? reject(new Error(name)) : resolve(name);
				}, ms);
			});
		const results = await Promise.allSettled([q.run(task("a", 20)), q.run(task("b", 1, true)), q.run(task("c", 5))]);
		expect(log).toEqual(["a", "b", "c"]);
		expect(results.map(r => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
	});
});

describe("AUDITED_EVENTS", () => {
	it("copies only the named id and code fields, never other payload keys", () => {
		expect(AUDITED_EVENTS["consent.changed"]({ user_id: "u1", changed: ["face_analysis", 3], email: "a@b.c" })).toEqual({ type: "consent.changed", actor_id: "u1", subject_id: "u1", data: { changed: ["face_analysis"] } });
		expect(AUDITED_EVENTS["auth.login_failed"]({ user_id: null, reason: "UNAUTHORIZED", email: "a@b.c", password: "x" })).toEqual({ type: "auth.login_failed", actor_id: null, subject_id: null, data: { reason: "UNAUTHORIZED" } });
		expect(AUDITED_EVENTS["auth.family_revoked"]({ family_id: "f", reason: "r", user_id: "u", refresh_token: "t" }).data).toEqual({ family_id: "f", reason: "r" });
		expect(AUDITED_EVENTS["audit.access"]({ actor_id: "a", subject_id: "s", resource: "jobs", resource_id: "j1", note: "x" })).toEqual({ type: "access", actor_id: "a", subject_id: "s", data: { resource: "jobs", resource_id: "j1" } });
	});
});

describe("compliance figures", () => {
	const at = (s: number) => new Date(1_700_000_000_000 + s * 1000).toISOString();
	it("matches requests to completions by id and reports completion times", () => {
		const stats = requestStats(
			[
				{ type: "req", at: at(0), data: { id: "a" } },
				{ type: "req", at: at(10), data: { id: "b" } },
				{ type: "req", at: at(20), data: { id: "c" } },
				{ type: "req", at: at(25), data: { id: "a" } }, // a resend
				{ type: "done", at: at(4), data: { id: "a" } },
				{ type: "done", at: at(30), data: { id: "b" } },
				{ type: "done", at: at(40), data: { id: "orphan" } }
			],
			"req",
			"done",
			"id"
		);
		expect(stats).toEqual({ requested: 3, completed: 2, pending: 1, completion_s: { avg: 12, p50: 4, p95: 20, max: 20 } });
		expect(requestStats([], "req", "done", "id")).toEqual({ requested: 0, completed: 0, pending: 0, completion_s: null });
	});

	it("counts consent changes per purpose", () => {
		expect(
			consentChanges([
				{ type: "consent.changed", subject_id: "u1", data: { changed: ["face_analysis"] } },
				{ type: "consent.changed", subject_id: "u1", data: { changed: ["face_analysis", "biometric_analysis"] } },
				{ type: "consent.biometric_withdrawn", subject_id: "u1", data: {} }
			])
		).toEqual({ source: "audit", changes: 2, users_changing: 1, by_purpose: { face_analysis: 2, biometric_analysis: 1 }, biometric_withdrawals: 1 });
	});
});

describe("hasRequiredRole", () => {
	it("needs one of the declared roles; no declaration needs none", () => {
		expect(hasRequiredRole(["admin"], ["user", "admin"])).toBe(true);
		expect(hasRequiredRole(["admin"], ["user"])).toBe(false);
		expect(hasRequiredRole(["admin"], undefined)).toBe(false);
		expect(hasRequiredRole([], undefined)).toBe(true);
		expect(hasRequiredRole(undefined, [])).toBe(true);
	});
});
