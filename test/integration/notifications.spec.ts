import { randomUUID } from "node:crypto";
import { jpeg, uploadForm } from "../factories/images";
import { registerUser, type TestUser } from "../factories/users";
import { http, startNode, type Http, type TestNode } from "../helpers/node";
import { openSse } from "../helpers/sse";
import { sleep, waitFor } from "../helpers/wait";

/** Notifications over HTTP on one embedded node: events → notifications, the routes, preferences, the stream. */

let node: TestNode;
let request: Http;

type User = TestUser & { id: string };

async function user(overrides: Record<string, unknown> = {}): Promise<User> {
	const u = await registerUser(request, overrides);
	const me = await request("GET", "/auth/me", { token: u.access_token });
	return { ...u, id: me.body.id };
}

const list = (u: User, q = "") => request("GET", `/notifications${q}`, { token: u.access_token });

async function analysisReady(u: User, analysisId = `an-${randomUUID()}`) {
	await node.broker.emit("analysis.completed", { analysis_id: analysisId, user_id: u.id, media_id: `m-${analysisId}` });
	return waitFor(async () => (await list(u, "?limit=100")).body.items.find((n: { metadata: { analysis_id?: string } }) => n.metadata.analysis_id === analysisId));
}

beforeAll(async () => {
	node = await startNode({ services: ["api", "users", "auth", "analyses", "notifications", "notification-stream", "agents/notification"], env: { NOTIFICATION_SWEEP_S: "0", NOTIFICATION_STREAM_TOKEN_TTL_S: "5", RATE_LIMITS: "auth=1000/60" } });
	request = http(node.url);
});
afterAll(() => node.stop());

describe("access", () => {
	it.each([
		["GET", "/notifications"],
		["GET", "/notifications/notifications"],
		["GET", "/notifications/notifications/unread"],
		["PATCH", "/notifications/notifications/x/mark-read"],
		["POST", "/notifications/x/read"],
		["POST", "/notifications/read-all"],
		["GET", "/notifications/preferences"],
		["PUT", "/notifications/preferences"],
		["POST", "/notifications/stream-token"],
		["GET", "/notifications/stream"],
		["POST", "/analysis/notifications/generate"]
	])("%s %s refuses without a token → 401", async (method, path) => {
		const res = await request(method, path);
		expect(res.status).toBe(401);
		expect(res.body).toMatchObject({ error: expect.any(String), error_code: expect.any(String) });
	});
});

describe("agent.notification", () => {
	it("serves the same rules over the broker, validating its input", async () => {
		const out = await node.broker.call<{ notifications: { type: string }[] }, object>("agent.notification.run", { user_id: "u1", event: { trigger: "followed", follower_id: "u2", follower_alias: "Ada" } });
		expect(out.notifications).toEqual([expect.objectContaining({ type: "new_follower", message: "Ada started following you." })]);
		await expect(node.broker.call("agent.notification.run", { user_id: "u1", event: { trigger: "nope" } })).rejects.toMatchObject({ code: 422 });
	});
});

describe("events become notifications", () => {
	it("analysis.completed → analysis_ready, in the SPEC shape, unread", async () => {
		const alice = await user();
		const n = await analysisReady(alice, "an-shape");
		expect(n).toEqual({ id: expect.any(String), type: "analysis_ready", title: expect.any(String), message: expect.any(String), metadata: { analysis_id: "an-shape", media_id: "m-an-shape" }, is_read: false, created_at: expect.any(String) });
		const res = await list(alice);
		expect(res.status).toBe(200);
		expect(Object.keys(res.body).sort()).toEqual(["items", "next_cursor", "unread_count"]);
		expect(res.body.unread_count).toBe(1);
		expect(res.body.next_cursor).toBeNull();
		// The same event again (a redelivery) makes nothing new.
		await node.broker.emit("analysis.completed", { analysis_id: "an-shape", user_id: alice.id, media_id: "m-an-shape" });
		await sleep(200);
		expect((await list(alice)).body.items).toHaveLength(1);
	});

	it("analysis_ready carries the overall score of the stored analysis", async () => {
		const alice = await user();
		const a = await node.broker.call<{ _id: string }, object>("analyses.create", { user_id: alice.id, media_id: "m1", pipeline: "core", graph_version: "core@1", status: "running" });
		await node.broker.call("analyses.finish", { id: a._id, status: "completed", result: { overall_score: 7.4 } });
		const n = await analysisReady(alice, a._id);
		expect(n.metadata).toEqual({ analysis_id: a._id, media_id: `m-${a._id}`, overall_score: 7.4 });
	});

	it("user.followed → new_follower for the followee with the follower's public alias, once per follower", async () => {
		const followee = await user();
		const follower = await user({ public_alias: "Ada Follows", opt_in_public_analysis: true });
		const hidden = await user({ public_alias: "Private Pat" });
		await node.broker.emit("user.followed", { follower_id: follower.id, followee_id: followee.id });
		await node.broker.emit("user.followed", { follower_id: hidden.id, followee_id: followee.id });
		const items = await waitFor(async () => {
			const r = await list(followee);
			return r.body.items.length === 2 ? r.body.items : null;
		});
		const byFollower = Object.fromEntries(items.map((n: { metadata: { follower_id: string } }) => [n.metadata.follower_id, n]));
		expect(byFollower[follower.id]).toMatchObject({ type: "new_follower", message: "Ada Follows started following you." });
		// An alias the follower never made public is not shown.
		expect(byFollower[hidden.id].message).toBe("Someone started following you.");
		expect(JSON.stringify(items)).not.toContain("Private Pat");
		await node.broker.emit("user.followed", { follower_id: follower.id, followee_id: followee.id });
		await sleep(200);
		expect((await list(followee)).body.items).toHaveLength(2);
		expect((await list(follower)).body.items).toHaveLength(0);
	});
});

describe("list, paging, read", () => {
	it("unread first, then newest; the cursor is stable while new notifications arrive", async () => {
		const alice = await user();
		const ids: string[] = [];
		for (let i = 0; i < 12; i++) ids.push((await analysisReady(alice, `an-page-${i}`)).id);
		// Read the three oldest: they go last.
		for (const id of ids.slice(0, 3)) expect((await request("POST", `/notifications/${id}/read`, { token: alice.access_token })).body).toEqual({ status: "read", id });

		const seen: { id: string; is_read: boolean }[] = [];
		let cursor: string | null = null;
		let pages = 0;
		do {
			const q: string = `?limit=5${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
			const res = await list(alice, q);
			expect(res.status).toBe(200);
			expect(res.body.unread_count).toBe(9 + (pages > 0 ? 1 : 0));
			seen.push(...res.body.items);
			cursor = res.body.next_cursor;
			// A new notification between pages lands before the cursor: never seen twice, nothing skipped.
			if (pages++ === 0) await analysisReady(alice, "an-page-new");
		} while (cursor);
		expect(pages).toBe(3);
		expect(seen.map(n => n.id)).toEqual([...ids.slice(3).reverse(), ...ids.slice(0, 3).reverse()]);
		expect(seen.map(n => n.is_read)).toEqual([...Array(9).fill(false), ...Array(3).fill(true)]);

		const unread = await list(alice, "?unread_only=true&limit=100");
		expect(unread.body.items).toHaveLength(10);
		expect(unread.body.items.every((n: { is_read: boolean }) => !n.is_read)).toBe(true);
	});

	it("the original's routes: bare arrays, mark-read answers {status:'success', message}", async () => {
		const alice = await user();
		const a = await analysisReady(alice, "an-legacy-1");
		const b = await analysisReady(alice, "an-legacy-2");
		const all = await request("GET", "/notifications/notifications", { token: alice.access_token });
		expect(all.status).toBe(200);
		expect(Array.isArray(all.body)).toBe(true);
		expect(all.body.map((n: { id: string }) => n.id)).toEqual([b.id, a.id]);
		expect(Object.keys(all.body[0]).sort()).toEqual(["created_at", "id", "is_read", "message", "metadata", "title", "type"]);
		const marked = await request("PATCH", `/notifications/notifications/${a.id}/mark-read`, { token: alice.access_token });
		expect(marked.status).toBe(200);
		expect(marked.body).toEqual({ status: "success", message: expect.any(String) });
		const unread = await request("GET", `/notifications/notifications/unread?user_id=${alice.id}`, { token: alice.access_token });
		expect(unread.body.map((n: { id: string }) => n.id)).toEqual([b.id]);
	});

	it("a deleted media takes the notifications pointing at it along", async () => {
		const alice = await user();
		const keep = await analysisReady(alice, "an-keep");
		const gone = await analysisReady(alice, "an-gone");
		await node.broker.emit("media.deleted", { media_id: gone.metadata.media_id, user_id: alice.id, content_hash: "h" });
		await waitFor(async () => (await list(alice)).body.items.length === 1);
		expect((await list(alice)).body.items.map((n: { id: string }) => n.id)).toEqual([keep.id]);
	});

	it("read-all marks every unread one", async () => {
		const alice = await user();
		await analysisReady(alice, "an-all-1");
		await analysisReady(alice, "an-all-2");
		const res = await request("POST", "/notifications/read-all", { token: alice.access_token });
		expect(res.status).toBe(200);
		expect(res.body).toEqual({ status: "read", updated: 2 });
		expect((await list(alice)).body.unread_count).toBe(0);
	});

	it("another user's notification is a 404 on every route, and stays unread", async () => {
		const alice = await user();
		const bob = await user();
		const n = await analysisReady(alice, "an-bola");
		expect((await request("POST", `/notifications/${n.id}/read`, { token: bob.access_token })).status).toBe(404);
		expect((await request("PATCH", `/notifications/notifications/${n.id}/mark-read`, { token: bob.access_token })).status).toBe(404);
		expect((await request("POST", `/notifications/${randomUUID()}/read`, { token: bob.access_token })).status).toBe(404);
		// Settings records live in the same store: never readable as a notification.
		expect((await request("POST", `/notifications/settings:${alice.id}/read`, { token: alice.access_token })).status).toBe(404);
		await request("POST", "/notifications/read-all", { token: bob.access_token });
		expect((await list(bob)).body.items).toEqual([]);
		expect((await request("GET", `/notifications/notifications?user_id=${alice.id}`, { token: bob.access_token })).status).toBe(403);
		expect((await list(alice)).body.items[0]).toMatchObject({ id: n.id, is_read: false });
	});

	it("hostile or malformed input gets a 4xx in the error shape, never a 500", async () => {
		const alice = await user();
		const t = alice.access_token;
		const cases: [string, string, unknown, number][] = [
			["GET", "/notifications?limit=abc", undefined, 422],
			["GET", "/notifications?limit=0", undefined, 422],
			["GET", "/notifications?limit=1000", undefined, 422],
			["GET", "/notifications?unread_only=maybe", undefined, 422],
			["GET", "/notifications?cursor=not-a-cursor", undefined, 422],
			["GET", `/notifications?cursor=${Buffer.from('0|{"$gt":""}').toString("base64url")}`, undefined, 422],
			["GET", `/notifications?cursor=${"A".repeat(400)}`, undefined, 422],
			["GET", "/notifications?cursor[$gt]=", undefined, 422],
			["POST", `/notifications/${"x".repeat(65)}/read`, undefined, 422],
			["PUT", "/notifications/preferences", { analysis_ready: "no" }, 422],
			["PUT", "/notifications/preferences", { analysis_ready: { $ne: true } }, 422],
			["PUT", "/notifications/preferences", [true], 422],
			["GET", "/notifications/stream?token=", undefined, 401],
			["GET", `/notifications/stream?token=${"x".repeat(600)}`, undefined, 422]
		];
		for (const [method, path, body, status] of cases) {
			const res = await request(method, path, { token: path.includes("stream") ? undefined : t, body });
			expect({ path, body, status: res.status }).toEqual({ path, body, status });
			expect(res.body).toMatchObject({ error: expect.any(String), error_code: expect.any(String), timestamp: expect.any(String) });
		}
		const raw = await request("PUT", "/notifications/preferences", { token: t, raw: "{nope", headers: { "content-type": "application/json" } });
		expect(raw.status).toBe(400);
	});
});

describe("preferences", () => {
	it("all kinds on by default; a kind turned off is not created; unknown keys are dropped", async () => {
		const alice = await user();
		const defaults = await request("GET", "/notifications/preferences", { token: alice.access_token });
		expect(defaults.body).toEqual({ analysis_ready: true, new_follower: true, improvement_reminder: true, percentile_update: true, similar_user_activity: true, weekly_summary: true });
		const put = await request("PUT", "/notifications/preferences", { token: alice.access_token, body: { analysis_ready: false, role: "admin", user_id: "someone" } });
		expect(put.status).toBe(200);
		expect(put.body).toEqual({ ...defaults.body, analysis_ready: false });
		expect((await request("GET", "/notifications/preferences", { token: alice.access_token })).body).toEqual(put.body);
		// A partial update keeps the rest.
		expect((await request("PUT", "/notifications/preferences", { token: alice.access_token, body: { weekly_summary: false } })).body).toEqual({ ...defaults.body, analysis_ready: false, weekly_summary: false });

		await node.broker.emit("analysis.completed", { analysis_id: "an-off", user_id: alice.id, media_id: "m" });
		const fan = await user();
		await node.broker.emit("user.followed", { follower_id: fan.id, followee_id: alice.id });
		const items = await waitFor(async () => {
			const r = await list(alice);
			return r.body.items.length ? r.body.items : null;
		});
		await sleep(200);
		expect((await list(alice)).body.items.map((n: { type: string }) => n.type)).toEqual(["new_follower"]);
		expect(items).toHaveLength(1);
	});
});

describe("POST /analysis/notifications/generate", () => {
	it("runs the checks now: a weekly summary for a week with analyses, once; flat + envelope", async () => {
		const alice = await user();
		const a = await node.broker.call<{ _id: string }, object>("analyses.create", { user_id: alice.id, media_id: "m1", pipeline: "core", graph_version: "core@1", status: "running" });
		await node.broker.call("analyses.finish", { id: a._id, status: "completed", result: { overall_score: 6 } });
		const res = await request("POST", "/analysis/notifications/generate", { token: alice.access_token });
		expect(res.status).toBe(200);
		expect(res.body).toEqual({ status: "notifications checked", created: 1, success: true, data: { status: "notifications checked", created: 1 } });
		const [n] = (await list(alice)).body.items;
		expect(n).toMatchObject({ type: "weekly_summary", metadata: { analyses: 1, average_score: 6 } });
		expect((await request("POST", "/analysis/notifications/generate", { token: alice.access_token })).body.created).toBe(0);
		expect((await request("POST", "/analysis/notifications/generate", { token: alice.access_token, body: { user_id: randomUUID() } })).status).toBe(403);
	});

	it("reminds a user idle for 14 days, once", async () => {
		const alice = await user();
		const svc = node.broker.getLocalService("notifications") as unknown as { dbUpdate(id: string, set: object): Promise<unknown> };
		await node.broker.emit("media.created", { media_id: "m", user_id: alice.id, content_hash: "h" });
		await waitFor(() => svc.dbUpdate(`settings:${alice.id}`, { last_upload_at: new Date(Date.now() - 20 * 86400_000).toISOString() }));
		expect((await request("POST", "/analysis/notifications/generate", { token: alice.access_token })).body.created).toBe(1);
		expect((await list(alice)).body.items[0]).toMatchObject({ type: "improvement_reminder", metadata: { days_since_last_upload: 20 } });
		expect((await request("POST", "/analysis/notifications/generate", { token: alice.access_token })).body.created).toBe(0);
	});

	it("is limited to 10 an hour → 429 with Retry-After", async () => {
		const alice = await user();
		for (let i = 0; i < 10; i++) expect((await request("POST", "/analysis/notifications/generate", { token: alice.access_token })).status).toBe(200);
		const res = await request("POST", "/analysis/notifications/generate", { token: alice.access_token });
		expect(res.status).toBe(429);
		expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
	});
});

describe("GET /notifications/stream", () => {
	it("pushes each new notification to the owner's stream (Bearer), and nothing of anyone else", async () => {
		const alice = await user();
		const bob = await user();
		const sse = await openSse(`${node.url}/notifications/stream`, alice.access_token);
		try {
			expect(sse.status).toBe(200);
			expect(sse.headers.get("content-type")).toMatch(/^text\/event-stream/);
			expect(await sse.next()).toEqual({ event: "ready", data: { unread_count: 0 } });
			await node.broker.emit("analysis.completed", { analysis_id: "an-bob", user_id: bob.id, media_id: "m" });
			await node.broker.emit("analysis.completed", { analysis_id: "an-sse", user_id: alice.id, media_id: "m" });
			const ev = await sse.next();
			expect(ev).toEqual({ event: "notification", data: expect.objectContaining({ type: "analysis_ready", metadata: expect.objectContaining({ analysis_id: "an-sse" }), is_read: false }) });
			const stored = (await list(alice)).body.items[0];
			expect(ev!.data).toEqual(stored);
		} finally {
			sse.close();
		}
	});

	it("accepts a stream token in ?token= (EventSource cannot send headers)", async () => {
		const alice = await user();
		const issued = await request("POST", "/notifications/stream-token", { token: alice.access_token });
		expect(issued.status).toBe(200);
		expect(issued.body).toEqual({ token: expect.stringMatching(/^st1\./), token_type: "stream", expires_in: 5, expires_at: expect.any(String), stream_url: expect.stringMatching(/\/notifications\/stream$/) });
		const sse = await openSse(`${node.url}/notifications/stream?token=${encodeURIComponent(issued.body.token)}`, "");
		try {
			expect(sse.status).toBe(200);
			expect((await sse.next())?.event).toBe("ready");
			const fan = await user();
			await node.broker.emit("user.followed", { follower_id: fan.id, followee_id: alice.id });
			expect(await sse.next()).toEqual({ event: "notification", data: expect.objectContaining({ type: "new_follower" }) });
		} finally {
			sse.close();
		}
		// Single-use: the same URL again (a leaked log line, a replay) is refused.
		const again = await request("GET", `/notifications/stream?token=${encodeURIComponent(issued.body.token)}`);
		expect(again.status).toBe(401);
	});

	it("rejects a tampered, misused or expired stream token, and a stream token used as a Bearer token", async () => {
		const alice = await user();
		const { token } = (await request("POST", "/notifications/stream-token", { token: alice.access_token })).body;
		const parts = token.split(".");
		const forged = [parts[0], Buffer.from(randomUUID()).toString("base64url"), ...parts.slice(2)].join(".");
		for (const bad of [forged, `${token}x`, alice.access_token, alice.refresh_token]) {
			const res = await request("GET", `/notifications/stream?token=${encodeURIComponent(bad)}`);
			expect(res.status).toBe(401);
		}
		// Single-purpose: not an access token anywhere else, nor on the stream as a header.
		expect((await request("GET", "/notifications", { token })).status).toBe(401);
		expect((await request("GET", "/notifications/stream", { token })).status).toBe(401);
		// Short-lived: gone after its 5 s.
		await sleep(6000);
		const late = await request("GET", `/notifications/stream?token=${encodeURIComponent(token)}`);
		expect(late.status).toBe(401);
		expect(late.text).not.toContain(token);
	}, 15_000);

	it("a stream is closed and everything removed when the user is erased (incl. notifications about them)", async () => {
		const alice = await user();
		const fan = await user({ public_alias: "Fan", opt_in_public_analysis: true });
		await analysisReady(alice, "an-erase");
		await request("PUT", "/notifications/preferences", { token: alice.access_token, body: { weekly_summary: false } });
		await node.broker.emit("user.followed", { follower_id: alice.id, followee_id: fan.id });
		await waitFor(async () => (await list(fan)).body.items.length === 1);
		const sse = await openSse(`${node.url}/notifications/stream`, alice.access_token);
		try {
			expect((await sse.next())?.event).toBe("ready");
			// As the privacy service does: the broadcast that disables the account (every node's streams end), then the erasure.
			await node.broker.broadcast("user.deactivated", { user_id: alice.id });
			expect(await sse.next()).toBeNull();
			await node.broker.emit("user.erased", { user_id: alice.id, erasure_id: "e1" });
		} finally {
			sse.close();
		}
		const svc = node.broker.getLocalService("notifications") as unknown as { dbFind(q: object): Promise<unknown[]> };
		await waitFor(async () => (await svc.dbFind({ query: { user_id: alice.id } })).length === 0);
		expect(await svc.dbFind({ query: { actor_id: alice.id } })).toEqual([]);
		expect((await list(fan)).body.items).toEqual([]);
	});
});

describe("the periodic sweep", () => {
	it("runs every NOTIFICATION_SWEEP_S on a timer and dedupes across runs", async () => {
		const sweeper = await startNode({ services: ["api", "users", "auth", "analyses", "notifications"], env: { NOTIFICATION_SWEEP_S: "1" } });
		try {
			const req = http(sweeper.url);
			const u = await registerUser(req);
			const me = (await req("GET", "/auth/me", { token: u.access_token })).body;
			const a = await sweeper.broker.call<{ _id: string }, object>("analyses.create", { user_id: me.id, media_id: "m1", pipeline: "core", graph_version: "core@1", status: "running" });
			await sweeper.broker.call("analyses.finish", { id: a._id, status: "completed", result: { overall_score: 8 } });
			const svc = sweeper.broker.getLocalService("notifications") as unknown as { sweepsRun: number };
			const items = await waitFor(async () => {
				const r = await req("GET", "/notifications", { token: u.access_token });
				return r.body.items.length ? r.body.items : null;
			}, 5000, 100);
			expect(items.map((n: { type: string }) => n.type)).toEqual(["weekly_summary"]);
			const runs = svc.sweepsRun;
			await waitFor(() => svc.sweepsRun >= runs + 2, 5000, 100);
			expect((await req("GET", "/notifications", { token: u.access_token })).body.items).toHaveLength(1);
		} finally {
			await sweeper.stop();
		}
	});
});

describe("social news in the sweep (real social graph, media and analyses)", () => {
	it("similar_user_activity for an opted-in user's similar peer who just posted; percentile_update when the standing moves", async () => {
		const social = await startNode({
			services: ["api", "users", "auth", "storage", "media", "analyses", "embeddings", "notifications", "agents/social_graph"],
			env: { NOTIFICATION_SWEEP_S: "0", CACHER: "none", RATE_LIMITS: "auth=1000/60,upload=1000/60" }
		});
		try {
			const req = http(social.url);
			const person = async (overrides: Record<string, unknown>) => {
				const u = await registerUser(req, overrides);
				return { ...u, id: (await req("GET", "/auth/me", { token: u.access_token })).body.id as string };
			};
			const alice = await person({ public_alias: "Alice", opt_in_public_analysis: true });
			const bob = await person({ public_alias: "Bo", opt_in_public_analysis: true });
			const carol = await person({ public_alias: "Carol" });
			const post = async (u: { id: string; access_token: string }) => {
				const up = await uploadForm(social.url, u.access_token, await jpeg(80, 60));
				expect(up.status).toBe(200);
				await social.broker.call("media.setPerception", { id: up.body.media_id, user_id: u.id, perception: { social: { summary_text: "x", tags: ["calm", "minimal"], social_score: 7, confidence: 0.8 } } });
				return up.body.media_id as string;
			};
			const analysed = async (u: { id: string }, score: number) => {
				const a = await social.broker.call<{ _id: string }, object>("analyses.create", { user_id: u.id, media_id: "m", pipeline: "core", graph_version: "core@1", status: "running" });
				await social.broker.call("analyses.finish", { id: a._id, status: "completed", result: { overall_score: score } });
			};
			await post(alice);
			await analysed(alice, 4);
			const bobPost = await post(bob);
			await post(carol);

			const generate = (u: { access_token: string }) => req("POST", "/analysis/notifications/generate", { token: u.access_token });
			const types = async (u: { access_token: string }) => (await req("GET", "/notifications?limit=100", { token: u.access_token })).body.items.map((n: { type: string }) => n.type).sort();

			expect((await generate(alice)).body.created).toBe(2);
			expect(await types(alice)).toEqual(["similar_user_activity", "weekly_summary"]);
			const news = (await req("GET", "/notifications", { token: alice.access_token })).body.items.find((n: { type: string }) => n.type === "similar_user_activity");
			expect(news).toMatchObject({ message: expect.stringMatching(/^Bo shared a new photo/), metadata: { user_id: bob.id, alias: "Bo", media_id: bobPost } });

			// The standing moves a lot (a much better analysis): told once.
			await analysed(alice, 10);
			expect((await generate(alice)).body.created).toBe(1);
			const moved = (await req("GET", "/notifications", { token: alice.access_token })).body.items.find((n: { type: string }) => n.type === "percentile_update");
			expect(moved.metadata).toMatchObject({ direction: "up" });
			expect(moved.metadata.percentile).toBeGreaterThan(moved.metadata.previous_percentile);
			expect((await generate(alice)).body.created).toBe(0);

			// Bob leaves opt-in: his post is no news any more, and a follow from him no longer names him.
			await social.broker.emit("user.followed", { follower_id: bob.id, followee_id: alice.id });
			await waitFor(async () => (await types(alice)).includes("new_follower"));
			expect(JSON.stringify((await req("GET", "/notifications?limit=100", { token: alice.access_token })).body)).toContain("Bo started following you.");
			expect((await req("PATCH", "/auth/me", { token: bob.access_token, body: { opt_in_public_analysis: false } })).status).toBe(200);
			await waitFor(async () => !(await types(alice)).includes("similar_user_activity"));
			const afterLeave = (await req("GET", "/notifications?limit=100", { token: alice.access_token })).body.items;
			expect(afterLeave.find((n: { type: string }) => n.type === "new_follower")).toMatchObject({ message: "Someone started following you.", metadata: { follower_id: bob.id, alias: null } });
			expect(JSON.stringify(afterLeave)).not.toMatch(/"Bo"|Bo started/);

			// An estimated minor gets no social news even when opted in.
			const dora = await person({ public_alias: "Dora", opt_in_public_analysis: true });
			await post(dora);
			const d = await social.broker.call<{ _id: string }, object>("analyses.create", { user_id: dora.id, media_id: "m", pipeline: "core", graph_version: "core@1", status: "running" });
			await social.broker.call("analyses.finish", { id: d._id, status: "completed", result: { overall_score: 6, detailed_analysis: { face: { faces: [{ age: 15, is_subject: true }] } } } });
			await post(alice);
			await generate(dora);
			expect(await types(dora)).toEqual(["weekly_summary"]);

			// Not opted in: no social news, and never named in anyone's.
			await generate(carol);
			expect(await types(carol)).toEqual(["weekly_summary"]);
			for (const u of [alice, bob]) expect(JSON.stringify((await req("GET", "/notifications?limit=100", { token: u.access_token })).body)).not.toContain("Carol");
		} finally {
			await social.stop();
		}
	});
});
