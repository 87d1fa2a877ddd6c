import { randomUUID } from "node:crypto";
import { expectError } from "../helpers/media";
import type { Http, TestNode } from "../helpers/node";
import { completeAnalysis, perceive, photo, socialUser, startSocialNode, type SocialUser } from "../helpers/social";
import { waitFor } from "../helpers/wait";

/** Follows (POST/DELETE /social/follow/{id}, followers, following) and the social graph (GET /graph/{id}). */

describe("follows", () => {
	let node: TestNode;
	let request: Http;
	const events: { name: string; params: any }[] = [];

	const follow = (u: SocialUser, id: string) => request("POST", `/social/follow/${id}`, { token: u.token });
	const unfollow = (u: SocialUser, id: string) => request("DELETE", `/social/follow/${id}`, { token: u.token });
	async function list(u: SocialUser, which: "followers" | "following", limit = 100): Promise<any[]> {
		const out: any[] = [];
		let cursor: string | null = null;
		do {
			const res: any = await request("GET", `/social/${which}?limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`, { token: u.token });
			expect(res.status).toBe(200);
			out.push(...res.body.items);
			cursor = res.body.next_cursor;
		} while (cursor);
		return out;
	}

	beforeAll(async () => {
		({ node, request } = await startSocialNode({ SOCIAL_GRAPH_MIN_PUBLIC_USERS: "1000" }));
		node.broker.createService({
			name: "follow-probe",
			events: {
				"user.followed"(ctx: any) {
					events.push({ name: "user.followed", params: ctx.params });
				},
				"user.unfollowed"(ctx: any) {
					events.push({ name: "user.unfollowed", params: ctx.params });
				}
			}
		});
	}, 60_000);
	afterAll(async () => {
		await node?.stop();
	});

	it("refuses without a token", async () => {
		const star = await socialUser(request);
		for (const [method, p] of [["POST", `/social/follow/${star.id}`], ["DELETE", `/social/follow/${star.id}`], ["GET", "/social/followers"], ["GET", "/social/following"], ["GET", `/graph/${star.id}`], ["GET", "/graph/social-graph"]])
			expectError(await request(method, p), 401);
	});

	it("follows a public user idempotently (one record, one event) and lists both sides", async () => {
		const [fan, star] = [await socialUser(request), await socialUser(request)];
		const first = await follow(fan, star.id);
		expect([first.status, first.body]).toEqual([200, { status: "following" }]);
		const twice = await Promise.all([follow(fan, star.id), follow(fan, star.id)]);
		for (const r of twice) expect([r.status, r.body]).toEqual([200, { status: "following" }]);
		expect(events.filter(e => e.name === "user.followed" && e.params.follower_id === fan.id)).toEqual([{ name: "user.followed", params: { follower_id: fan.id, followee_id: star.id } }]);
		expect(await list(star, "followers")).toEqual([{ user_id: fan.id, alias: fan.alias, since: expect.any(String) }]);
		expect(await list(fan, "following")).toEqual([{ user_id: star.id, alias: star.alias, since: expect.any(String) }]);
		expect(await list(fan, "followers")).toEqual([]);

		expect((await unfollow(fan, star.id)).body).toEqual({ status: "unfollowed" });
		expect((await unfollow(fan, star.id)).body).toEqual({ status: "unfollowed" });
		expect(events.filter(e => e.name === "user.unfollowed" && e.params.follower_id === fan.id)).toHaveLength(1);
		expect(await list(star, "followers")).toEqual([]);
	});

	it("only public users can be followed: anyone else is the same 404; yourself is 422", async () => {
		const me = await socialUser(request);
		const shy = await socialUser(request, { opt_in: false });
		const a = await follow(me, shy.id);
		const b = await follow(me, randomUUID());
		expectError(a, 404, "NOT_FOUND");
		expectError(b, 404, "NOT_FOUND");
		expect(a.body.error).toBe(b.body.error);
		expectError(await unfollow(me, shy.id), 404);
		expectError(await follow(me, me.id), 422, "VALIDATION");
		// A follower need not be public: their alias reads "Anonymous".
		const star = await socialUser(request);
		await follow(shy, star.id);
		expect(await list(star, "followers")).toEqual([{ user_id: shy.id, alias: "Anonymous", since: expect.any(String) }]);
	});

	it("pages followers with a cursor, newest first, stable while others follow", async () => {
		const star = await socialUser(request);
		const fans: SocialUser[] = [];
		for (let i = 0; i < 7; i++) fans.push(await socialUser(request));
		for (const f of fans) await follow(f, star.id);
		const seen: string[] = [];
		let cursor: string | null = null;
		let pages = 0;
		do {
			const res: any = await request("GET", `/social/followers?limit=3${cursor ? `&cursor=${cursor}` : ""}`, { token: star.token });
			seen.push(...res.body.items.map((i: any) => i.user_id));
			cursor = res.body.next_cursor;
			pages++;
			await follow(await socialUser(request), star.id); // a new follower arrives mid-paging
		} while (cursor && pages < 10);
		expect(seen).toEqual(fans.map(f => f.id).reverse());
	});

	it("a followee who leaves public analysis drops out of following; erasure removes both directions", async () => {
		const [fan, star, other] = [await socialUser(request), await socialUser(request), await socialUser(request)];
		await follow(fan, star.id);
		await follow(star, other.id);
		await request("PATCH", "/auth/me", { token: star.token, body: { opt_in_public_analysis: false } });
		expect(await list(fan, "following")).toEqual([]);
		// Still able to unfollow someone who went private.
		expect((await unfollow(fan, star.id)).body).toEqual({ status: "unfollowed" });
		await follow(other, fan.id);
		node.broker.emit("user.erased", { user_id: other.id, erasure_id: "e" });
		await waitFor(async () => (await list(fan, "followers")).length === 0);
		expect(await list(star, "following")).toEqual([]);
	});

	it("exports both directions for the GDPR archive", async () => {
		const [a, b] = [await socialUser(request), await socialUser(request)];
		await follow(a, b.id);
		await follow(b, a.id);
		const out: any = await node.broker.call("follows.exportUser", { user_id: a.id });
		expect(out).toEqual({ following: [{ user_id: b.id, since: expect.any(String) }], followers: [{ user_id: b.id, since: expect.any(String) }] });
	});

	it("hostile params are 4xx", async () => {
		const me = await socialUser(request);
		for (const q of ["limit=0", "limit=101", "limit=x", "cursor=bogus", `cursor=${Buffer.from("2020-01-01T00:00:00.000Z|a|b").toString("base64url")}`, "cursor[$gt]=a"])
			expectError(await request("GET", `/social/followers?${q}`, { token: me.token }), 422);
		expectError(await request("POST", `/social/follow/${"x".repeat(65)}`, { token: me.token }), 422);
	});
});

describe("social graph", () => {
	let node: TestNode;
	let request: Http;
	const dir = (i: number) => Array.from({ length: 16 }, (_, k) => (k === i ? 1 : 0.01));

	/** A public user with a style vector, a perception and an analysis. */
	async function member(o: { style: number[]; opt_in?: boolean; overall?: number; age?: number; tags?: string[] }): Promise<SocialUser & { media_id: string }> {
		const u = await socialUser(request, { opt_in: o.opt_in ?? true });
		const media_id = await photo(node.url, u);
		await perceive(node.broker, u, media_id, { tags: o.tags ?? ["calm"], social_score: 6 });
		await completeAnalysis(node.broker, u, media_id, { overall: o.overall ?? 6, age: o.age });
		await node.broker.call("embeddings.store", { user_id: u.id, media_id, kind: "style", vector: o.style });
		return { ...u, media_id };
	}
	const graph = (u: SocialUser, id: string) => request("GET", `/graph/${id}`, { token: u.token });

	beforeAll(async () => {
		({ node, request } = await startSocialNode({ SOCIAL_GRAPH_MIN_PUBLIC_USERS: "8" }));
	}, 60_000);
	afterAll(async () => {
		await node?.stop();
	});

	it("caller and target must both be public (403 otherwise, also for an unknown id)", async () => {
		const pub = await member({ style: dir(0) });
		const shy = await member({ style: dir(0), opt_in: false });
		expectError(await graph(shy, pub.id), 403, "FORBIDDEN");
		expectError(await graph(pub, shy.id), 403, "FORBIDDEN");
		expectError(await graph(pub, randomUUID()), 403, "FORBIDDEN");
		expectError(await request("GET", `/graph/social-graph?user_id=${shy.id}`, { token: pub.token }), 403);
		expectError(await request("GET", "/graph/social-graph", { token: shy.token }), 403);
		expectError(await request("GET", `/graph/social-graph?user_id[$ne]=x`, { token: pub.token }), 422);
		// The agent itself refuses a subject who is not public (the enhanced pipeline calls it directly).
		await expect(node.broker.call("agent.social_graph.run", { user_id: shy.id })).rejects.toMatchObject({ type: "FORBIDDEN" });
	});

	it("SPEC shape; nearest users on constructed style vectors; cold start until SOCIAL_GRAPH_MIN_PUBLIC_USERS; privacy", async () => {
		const me = await member({ style: dir(0), overall: 7, tags: ["calm", "warm"] });
		const twin = await member({ style: dir(0), tags: ["calm", "warm"] });
		const close = await member({ style: dir(0).map((x, i) => (i === 1 ? 0.5 : x)), tags: ["calm"] });
		const shy = await member({ style: dir(0), opt_in: false, tags: ["calm", "warm"] });
		const minor = await member({ style: dir(0), age: 15, tags: ["calm", "warm"] });
		const leaver = await member({ style: dir(0), tags: ["calm", "warm"] });
		const far = await member({ style: dir(9), overall: 9.5, tags: ["bold"] });

		const first = await graph(me, me.id);
		expect(first.status).toBe(200);
		const g = first.body;
		expect(g).toMatchObject({ user_id: me.id, cold_start: true, baseline: { mean: 55, sd: 15 } });
		expect(g.sample_size).toBeGreaterThanOrEqual(5);
		expect(g.user_vibe_score).toBe(Math.round(10 * (0.6 * 7 + 0.4 * 6)));
		expect(g.percentile.overall).toBeGreaterThanOrEqual(1);
		expect(g.percentile.overall).toBeLessThanOrEqual(99);
		const similar = g.similar_users.map((u: any) => u.user_id);
		// Same style vector and tags first; the far style last (or among the complementary users).
		expect(similar.slice(0, 2).sort()).toEqual([twin.id, leaver.id].sort());
		expect(similar.indexOf(close.id)).toBeGreaterThan(1);
		expect(similar.includes(far.id) ? similar.indexOf(far.id) === similar.length - 1 : g.complementary_users.some((u: any) => u.user_id === far.id)).toBe(true);
		expect(g.similar_users[0]).toEqual({ user_id: expect.any(String), alias: expect.any(String), score: 1, tags: ["calm", "warm"], media_id: expect.any(String) });
		expect(g.similar_users.length).toBeLessThanOrEqual(5);
		for (const u of [...g.similar_users, ...g.complementary_users]) expect(u.user_id).not.toBe(me.id);
		expect(JSON.stringify(g)).not.toMatch(/"(age|gender|descriptor|face)"/);

		// The legacy route answers the same reading.
		const legacy = await request("GET", `/graph/social-graph?user_id=${twin.id}`, { token: me.token });
		expect(legacy.status).toBe(200);
		expect(legacy.body.user_id).toBe(twin.id);
		expect((await request("GET", "/graph/social-graph", { token: me.token })).body.user_id).toBe(me.id);

		// Withdrawing is effective at once, even with the population cached.
		await request("PATCH", "/auth/me", { token: leaver.token, body: { opt_in_public_analysis: false } });
		const after = await graph(me, twin.id);
		const text = JSON.stringify(after.body);
		for (const id of [shy.id, minor.id, leaver.id]) expect(text).not.toContain(id);
		expect(after.body.similar_users.map((u: any) => u.user_id)).toContain(me.id);

		// Enough public users: no longer a cold start; the percentile is read within the sample.
		for (let i = 0; i < 3; i++) await member({ style: dir(3 + i), overall: 2 });
		const warm = await waitFor(async () => {
			const r = await graph(me, me.id);
			return r.body.cold_start === false && r.body;
		});
		expect(warm.baseline).toBeNull();
		expect(warm.sample_size).toBeGreaterThanOrEqual(8);
	});
});
