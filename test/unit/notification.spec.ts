import { runAgent } from "../../agents/agent";
import { DEFAULT_PREFERENCES, NOTIFICATION_TYPES, isoWeek, notification, type NotificationInput } from "../../agents/notification";
import { StreamTokens, SseChannels, UsedNonces } from "../../lib/sse";

const DAY = 24 * 3600_000;
const NOW = new Date("2026-11-25T12:00:00.000Z"); // a Wednesday, ISO week 2026-W48
const ago = (days: number, from = NOW) => new Date(from.getTime() - days * DAY).toISOString();
const clock = (d: Date) => ({ now: () => d });

const quietWeek = { analyses: 0, uploads: 0 };
const sweep = (over: Record<string, unknown> = {}) => ({ trigger: "sweep" as const, last_upload_at: ago(1), week: quietWeek, ...over });

async function run(input: Partial<NotificationInput> & { event: NotificationInput["event"] }, at = NOW) {
	return (await runAgent(notification, { user_id: "u1", ...input }, clock(at))).notifications;
}

/** Runs the agent repeatedly as the service would: what it made becomes the next run's history. */
async function simulate(days: number, everyHours: number, facts: (at: Date) => NotificationInput["event"]) {
	const history: { type: (typeof NOTIFICATION_TYPES)[number]; created_at: string; dedupe_key: string }[] = [];
	for (let t = NOW.getTime(); t < NOW.getTime() + days * DAY; t += everyHours * 3600_000) {
		const at = new Date(t);
		const made = await run({ recent: history, event: facts(at) }, at);
		for (const m of made) history.push({ type: m.type, created_at: at.toISOString(), dedupe_key: m.dedupe_key });
	}
	return history;
}

describe("notification agent", () => {
	it("analysis_ready: one per analysis, with its ids and score in metadata", async () => {
		const [n] = await run({ event: { trigger: "analysis_completed", analysis_id: "a1", media_id: "m1", overall_score: 7.25 } });
		expect(n).toMatchObject({ type: "analysis_ready", title: expect.any(String), metadata: { analysis_id: "a1", media_id: "m1", overall_score: 7.25 }, dedupe_key: "analysis_ready:a1", actor_id: null });
		const again = await run({ recent: [{ type: "analysis_ready", created_at: ago(0), dedupe_key: "analysis_ready:a1" }], event: { trigger: "analysis_completed", analysis_id: "a1" } });
		expect(again).toEqual([]);
		expect(await run({ recent: [{ type: "analysis_ready", created_at: ago(0), dedupe_key: "analysis_ready:a1" }], event: { trigger: "analysis_completed", analysis_id: "a2" } })).toHaveLength(1);
	});

	it("new_follower names the follower by alias (or 'Someone'), never for a self-follow, once per follower", async () => {
		const [n] = await run({ event: { trigger: "followed", follower_id: "u2", follower_alias: "Ada" } });
		expect(n).toMatchObject({ type: "new_follower", message: "Ada started following you.", metadata: { follower_id: "u2", alias: "Ada" }, actor_id: "u2", dedupe_key: "new_follower:u2" });
		expect((await run({ event: { trigger: "followed", follower_id: "u3", follower_alias: null } }))[0].message).toBe("Someone started following you.");
		expect(await run({ event: { trigger: "followed", follower_id: "u1" } })).toEqual([]);
		expect(await run({ recent: [{ type: "new_follower", created_at: ago(100), dedupe_key: "new_follower:u2" }], event: { trigger: "followed", follower_id: "u2" } })).toEqual([]);
	});

	it("improvement_reminder after 14 days without an upload, not before", async () => {
		expect(await run({ event: sweep({ last_upload_at: ago(13.9) }) })).toEqual([]);
		const [n] = await run({ event: sweep({ last_upload_at: ago(15) }) });
		expect(n).toMatchObject({ type: "improvement_reminder", metadata: { days_since_last_upload: 15 } });
		// Never uploaded: counted from registration.
		expect(await run({ event: sweep({ last_upload_at: null, registered_at: ago(3) }) })).toEqual([]);
		expect((await run({ event: sweep({ last_upload_at: null, registered_at: ago(20) }) }))[0]).toMatchObject({ type: "improvement_reminder", metadata: { days_since_last_upload: null } });
		expect(await run({ event: sweep({ last_upload_at: null }) })).toEqual([]);
	});

	it("improvement_reminder at most once per 14 days over a long idle stretch (fake clock, sweep every 6 h)", async () => {
		const history = await simulate(60, 6, () => sweep({ last_upload_at: ago(20) }));
		const times = history.filter(h => h.type === "improvement_reminder").map(h => Date.parse(h.created_at));
		expect(times.length).toBeGreaterThanOrEqual(4);
		expect(times.length).toBeLessThanOrEqual(5);
		for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(14 * DAY);
	});

	it("weekly_summary once per ISO week, only for a week with activity, with the week's numbers", async () => {
		const active = { analyses: 3, uploads: 2, average_score: 6.66, best_score: 8 };
		const [n] = await run({ event: sweep({ week: active }) });
		expect(n).toMatchObject({ type: "weekly_summary", dedupe_key: "weekly_summary:2026-W48", metadata: { week: "2026-W48", analyses: 3, uploads: 2, average_score: 6.66, best_score: 8 } });
		expect(n.message).toContain("2 photos");
		expect(n.message).toContain("3 analyses");
		expect(n.message).toContain("6.7/10");
		expect(await run({ event: sweep({ week: quietWeek }) })).toEqual([]);
		const history = await simulate(21, 6, () => sweep({ week: active }));
		const weeks = history.filter(h => h.type === "weekly_summary").map(h => h.dedupe_key);
		expect(weeks).toEqual(["weekly_summary:2026-W48", "weekly_summary:2026-W49", "weekly_summary:2026-W50", "weekly_summary:2026-W51"]);
	});

	it("isoWeek follows ISO 8601 at year boundaries", () => {
		expect(isoWeek(new Date("2026-01-01T00:00:00Z"))).toBe("2026-W01");
		expect(isoWeek(new Date("2027-01-01T00:00:00Z"))).toBe("2026-W53");
		expect(isoWeek(new Date("2024-12-30T00:00:00Z"))).toBe("2025-W01");
		expect(isoWeek(new Date("2026-11-29T23:59:59Z"))).toBe("2026-W48");
		expect(isoWeek(new Date("2026-11-30T00:00:00Z"))).toBe("2026-W49");
	});

	it("percentile_update when the percentile moved by 5 points or more, kindly worded either way, once a day", async () => {
		expect(await run({ event: sweep({ percentile: { current: 52, previous: 50 } }) })).toEqual([]);
		expect(await run({ event: sweep({ percentile: { current: 52, previous: null } }) })).toEqual([]);
		const [up] = await run({ event: sweep({ percentile: { current: 71, previous: 62 } }) });
		expect(up).toMatchObject({ type: "percentile_update", metadata: { percentile: 71, previous_percentile: 62, direction: "up" } });
		expect(up.message).toContain("71st percentile");
		const [down] = await run({ event: sweep({ percentile: { current: 42, previous: 53 } }) });
		expect(down.metadata.direction).toBe("down");
		expect(down.message).toMatch(/42nd percentile/);
		expect(down.message).not.toMatch(/worse|bad|fail|drop/i);
		expect(await run({ recent: [{ type: "percentile_update", created_at: ago(0.1), dedupe_key: up.dedupe_key }], event: sweep({ percentile: { current: 80, previous: 71 } }) })).toEqual([]);
	});

	it("similar_user_activity for a similar user's post of the last 2 days, one a day, never the same post twice", async () => {
		const posts = [
			{ user_id: "u7", alias: "Kai", media_id: "m-old", created_at: ago(3) },
			{ user_id: "u8", alias: null, media_id: "m-new", created_at: ago(0.5) },
			{ user_id: "u9", alias: "Mo", media_id: "m-mid", created_at: ago(1) }
		];
		const [n] = await run({ event: sweep({ similar_activity: posts }) });
		expect(n).toMatchObject({ type: "similar_user_activity", metadata: { user_id: "u8", media_id: "m-new" }, actor_id: "u8", dedupe_key: "similar_user_activity:m-new" });
		expect(n.message).toMatch(/^Someone shared a new photo/);
		expect(await run({ event: sweep({ similar_activity: [posts[0]] }) })).toEqual([]);
		// Within a day of the last one: nothing; a day later: the next unseen post.
		const recent = [{ type: "similar_user_activity" as const, created_at: ago(0.2), dedupe_key: n.dedupe_key }];
		expect(await run({ recent, event: sweep({ similar_activity: posts }) })).toEqual([]);
		const later = new Date(NOW.getTime() + 1.1 * DAY);
		const [next] = await run({ recent, event: sweep({ similar_activity: posts.map(p => ({ ...p, created_at: ago(-1, new Date(p.created_at)) })) }) }, later);
		expect(next.metadata.media_id).toBe("m-mid");
	});

	it("a kind turned off in the preferences is not created", async () => {
		const off = { ...DEFAULT_PREFERENCES, analysis_ready: false, weekly_summary: false };
		expect(await run({ preferences: off, event: { trigger: "analysis_completed", analysis_id: "a1" } })).toEqual([]);
		const out = await run({ preferences: off, event: sweep({ last_upload_at: ago(20), week: { analyses: 1, uploads: 0 } }) });
		expect(out.map(n => n.type)).toEqual(["improvement_reminder"]);
	});

	it("every text is friendly: no judgemental words in any kind", async () => {
		const all = [
			...(await run({ event: { trigger: "analysis_completed", analysis_id: "a1" } })),
			...(await run({ event: { trigger: "followed", follower_id: "u2", follower_alias: "Ada" } })),
			...(await run({ event: { trigger: "inactive", last_active_at: ago(400), erase_after: ago(-30) } })),
			...(await run({ event: sweep({ last_upload_at: ago(30), week: { analyses: 1, uploads: 1, average_score: 3 }, percentile: { current: 10, previous: 40 }, similar_activity: [{ user_id: "u3", alias: "B", media_id: "m", created_at: ago(1) }] }) }))
		];
		expect(new Set(all.map(n => n.type))).toEqual(new Set(NOTIFICATION_TYPES));
		for (const n of all) {
			expect(n.title.length).toBeGreaterThan(0);
			expect(`${n.title} ${n.message}`).not.toMatch(/ugly|bad|poor|worse|lazy|fail|should have|disappoint/i);
		}
	});

	it("sends the inactivity notice even to a user who switched every kind off, once per stretch", async () => {
		const off = Object.fromEntries(Object.keys(DEFAULT_PREFERENCES).map(k => [k, false])) as typeof DEFAULT_PREFERENCES;
		const event = { trigger: "inactive" as const, last_active_at: ago(400), erase_after: ago(-30) };
		const [notice] = (await runAgent(notification, { user_id: "u1", preferences: off, event }, clock(NOW))).notifications;
		expect(notice).toMatchObject({ type: "account_inactive", metadata: { erase_after: event.erase_after } });
		const again = await runAgent(notification, { user_id: "u1", preferences: off, recent: [{ type: "account_inactive", created_at: ago(1), dedupe_key: notice.dedupe_key }], event }, clock(NOW));
		expect(again.notifications).toEqual([]);
	});

	it("rejects malformed input (unknown trigger, oversized history)", async () => {
		await expect(runAgent(notification, { user_id: "u1", event: { trigger: "nope" } } as never, clock(NOW))).rejects.toThrow();
		await expect(runAgent(notification, { user_id: "", event: { trigger: "followed", follower_id: "x" } }, clock(NOW))).rejects.toThrow();
	});
});

describe("stream tokens", () => {
	const tokens = new StreamTokens(Buffer.from("s".repeat(40)), 60, "/notifications/stream");

	it("verify to the user they were issued to, until they expire", () => {
		const t0 = Date.parse("2026-11-25T12:00:00Z");
		const { token, expires_in } = tokens.issue("user-1", t0);
		expect(expires_in).toBe(60);
		expect(tokens.verify(token, t0 + 59_000)).toEqual({ sub: "user-1", nonce: expect.any(String), exp: Math.floor(t0 / 1000) + 60 });
		expect(() => tokens.verify(token, t0 + 61_000)).toThrow(/Invalid or expired/);
	});

	it("refuse tampering, another key, another path and garbage", () => {
		const { token } = tokens.issue("user-1");
		const parts = token.split(".");
		const forged = [parts[0], Buffer.from("user-2").toString("base64url"), ...parts.slice(2)].join(".");
		expect(() => tokens.verify(forged)).toThrow();
		expect(() => tokens.verify([...parts.slice(0, 2), String(Number(parts[2]) + 3600), ...parts.slice(3)].join("."))).toThrow();
		expect(() => new StreamTokens(Buffer.from("t".repeat(40)), 60, "/notifications/stream").verify(token)).toThrow();
		expect(() => new StreamTokens(Buffer.from("s".repeat(40)), 60, "/analysis/jobs").verify(token)).toThrow();
		for (const bad of ["", "x", "st1....", "a.b.c.d.e", "x".repeat(600)]) expect(() => tokens.verify(bad)).toThrow();
	});
});

describe("UsedNonces", () => {
	it("lets each nonce through once until it expires (in process)", async () => {
		const used = new UsedNonces(null, "");
		const t0 = Date.parse("2026-11-25T12:00:00Z");
		const exp = t0 / 1000 + 60;
		expect(await used.consume("n1", exp, t0)).toBe(true);
		expect(await used.consume("n1", exp, t0 + 1000)).toBe(false);
		expect(await used.consume("n2", exp, t0 + 1000)).toBe(true);
		// Past the token's expiry the nonce is forgotten (the token itself no longer verifies then).
		expect(await used.consume("n1", exp, t0 + 120_000)).toBe(true);
	});
});

describe("SseChannels", () => {
	it("sends to the key's open streams, caps streams per key and forgets closed ones", async () => {
		const ch = new SseChannels({ maxPerKey: 2 });
		const a = ch.open("u1");
		const b = ch.open("u1");
		const other = ch.open("u2");
		const got: string[] = [];
		b.on("data", (c: Buffer) => got.push(c.toString()));
		expect(ch.send("u1", "notification", { x: 1 }, { id: "id-1" })).toBe(2);
		expect(got.join("")).toBe('id: id-1\nevent: notification\ndata: {"x":1}\n\n');
		ch.open("u1"); // a third: the oldest (a) is closed
		expect(a.writableEnded).toBe(true);
		expect(ch.count("u1")).toBe(2);
		other.destroy();
		await new Promise(r => setImmediate(r));
		expect(ch.count("u2")).toBe(0);
		ch.end("u1");
		await new Promise(r => setImmediate(r));
		expect(ch.send("u1", "notification", {})).toBe(0);
		ch.close();
	});

	it("reaches a stream under any of its keys; a last event ends it under all of them (a job's stream)", async () => {
		const ch = new SseChannels({ maxPerKey: Infinity });
		const job = ch.open(["job:j1", "analysis:a1"]);
		const other = ch.open("job:j2");
		const got: string[] = [];
		job.on("data", (c: Buffer) => got.push(c.toString()));
		expect(ch.send("analysis:a1", "progress", { node: "face" })).toBe(1);
		expect(ch.send("job:j1", "completed", { status: "completed" }, { last: true })).toBe(1);
		expect(job.writableEnded).toBe(true);
		expect(ch.count("analysis:a1")).toBe(0);
		expect(ch.send("analysis:a1", "progress", {})).toBe(0);
		await new Promise(r => setImmediate(r));
		expect(got.join("")).toBe('event: progress\ndata: {"node":"face"}\n\nevent: completed\ndata: {"status":"completed"}\n\n');
		expect(ch.count()).toBe(1);
		expect(other.writableEnded).toBe(false);
		ch.close();
		expect(other.writableEnded).toBe(true);
	});

	it("writes keep-alive comments and ends a stream at its maximum lifetime", () => {
		jest.useFakeTimers();
		try {
			const ch = new SseChannels({ keepAliveMs: 1000, maxLifetimeMs: 2500 });
			const s = ch.open("u1");
			jest.advanceTimersByTime(2100);
			expect(String(s.read())).toBe(": keep-alive\n\n: keep-alive\n\n");
			jest.advanceTimersByTime(500);
			expect(s.writableEnded).toBe(true);
		} finally {
			jest.useRealTimers();
		}
	});
});
