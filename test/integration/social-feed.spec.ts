import fs from "node:fs";
import path from "node:path";
import { randomUUID } from "node:crypto";
import sharp from "sharp";
import { HUMAN_DIR } from "../../agents/providers/vision/human";
import { fetchUrl, freePort, uploadForm } from "../factories/images";
import { expectError } from "../helpers/media";
import { http, startNode, type Http, type TestNode } from "../helpers/node";
import { callCounter, completeAnalysis, perceive, photo, socialUser, startSocialNode, type SocialUser } from "../helpers/social";
import { waitFor } from "../helpers/wait";

/** GET /public/feed: entries from events, privacy, paging, hostile params, caching; and one real end-to-end flow. */

const tag = () => `t${randomUUID().slice(0, 8)}`;

describe("public feed", () => {
	let node: TestNode;
	let request: Http;
	const counter = callCounter();
	const summaryCalls = () => counter.calls["media.summaries"] ?? 0;

	const feed = (q = "") => request("GET", `/public/feed${q ? `?${q}` : ""}`);
	/** Every item of the feed for a filter, following cursors. */
	async function all(q: string): Promise<any[]> {
		const out: any[] = [];
		let cursor: string | null = null;
		for (let i = 0; i < 50; i++) {
			const res = await feed(`${q}&limit=100${cursor ? `&cursor=${cursor}` : ""}`);
			expect(res.status).toBe(200);
			out.push(...res.body.items);
			cursor = res.body.next_cursor;
			if (!cursor) break;
		}
		return out;
	}
	/** A public user's photo with a perception tagged `t`. */
	async function posted(u: SocialUser, t: string, o: { social_score?: number; summary_text?: string } = {}) {
		const media_id = await photo(node.url, u);
		await perceive(node.broker, u, media_id, { tags: [t, "calm"], ...o });
		return media_id;
	}
	const inFeed = async (t: string, media_id: string) => (await all(`tags=${t}`)).some(i => i.media_id === media_id);

	beforeAll(async () => {
		({ node, request } = await startSocialNode({}, undefined, [counter.middleware]));
	}, 60_000);

	afterAll(async () => {
		await node?.stop();
	});

	it("needs no token and answers the SPEC shape with a signed, expiring thumbnail", async () => {
		const u = await socialUser(request);
		const t = tag();
		const media_id = await posted(u, t, { social_score: 7.5, summary_text: "Relaxed and open." });
		await waitFor(() => inFeed(t, media_id));
		const res = await feed(`tags=${t}`);
		expect(res.status).toBe(200);
		expect(res.body).toEqual({ items: [expect.any(Object)], next_cursor: null });
		const item = res.body.items[0];
		expect(item).toEqual({
			user_id: u.id,
			alias: u.alias,
			media_id,
			thumbnail_url: expect.stringMatching(/\/storage\/.+\?exp=\d+&sig=/),
			created_at: expect.any(String),
			perception: { summary_text: "Relaxed and open.", tags: [t, "calm"], social_score: 7.5, percentile: expect.any(Number) }
		});
		expect((await fetchUrl(item.thumbnail_url)).status).toBe(200);
		// Signed when read, never stored.
		const stored = fs.readFileSync(path.join(node.dataDir, "db", "feed.db"), "utf8");
		expect(stored).toContain(media_id);
		expect(stored).not.toMatch(/storage\/|sig=/);
	});

	it('shows "Anonymous" for a public user without an alias', async () => {
		const u = await socialUser(request, { alias: null });
		const t = tag();
		const media_id = await posted(u, t);
		await waitFor(() => inFeed(t, media_id));
		expect((await feed(`tags=${t}`)).body.items[0].alias).toBe("Anonymous");
	});

	it("an analysis completing adds its scores to the entry (and creates the entry when there is no perception yet)", async () => {
		const u = await socialUser(request);
		const t = tag();
		const media_id = await posted(u, t, { social_score: 4 });
		await waitFor(() => inFeed(t, media_id));
		await completeAnalysis(node.broker, u, media_id, { overall: 9.5 });
		// Highest first: its score is now the analysis' 9.5, not the perception's 4.
		const other = await socialUser(request);
		await posted(other, t, { social_score: 8 });
		await waitFor(async () => (await all(`tags=${t}`)).length === 2);
		await waitFor(async () => (await feed(`tags=${t}&sort_by=highest`)).body.items[0].media_id === media_id);
		const [first, second] = (await feed(`tags=${t}&sort_by=highest`)).body.items;
		expect(first.perception.percentile).toBeGreaterThan(second.perception.percentile);

		const bare = await photo(node.url, u);
		await completeAnalysis(node.broker, u, bare, { summary: "Analysed, never perceived." });
		await waitFor(async () => (await all("search=never%20perceived")).some(i => i.media_id === bare));
	});

	it("privacy: a non-opted-in user, an estimated minor and a user who withdrew never appear; flagged content is held", async () => {
		const t = tag();
		const shy = await socialUser(request, { opt_in: false });
		const minor = await socialUser(request);
		const leaver = await socialUser(request);
		const rude = await socialUser(request);
		const ok = await socialUser(request);
		const okMedia = await posted(ok, t);
		await posted(shy, t);
		await completeAnalysis(node.broker, shy, await photo(node.url, shy));
		const minorFirst = await posted(minor, t);
		await waitFor(() => inFeed(t, minorFirst));
		await completeAnalysis(node.broker, minor, minorFirst, { age: 16 });
		await posted(minor, t); // a later photo of the same user stays out too
		const leaverMedia = await posted(leaver, t);
		await waitFor(() => inFeed(t, leaverMedia));
		await posted(rude, t, { summary_text: "You look ugly in this photo." });
		const flaggedRun = await posted(rude, t);
		await completeAnalysis(node.broker, rude, flaggedRun, { input_warnings: ["Offensive language was removed from your bio."] });
		await waitFor(() => inFeed(t, okMedia));

		const patched = await request("PATCH", "/auth/me", { token: leaver.token, body: { opt_in_public_analysis: false } });
		expect(patched.status).toBe(200);
		// Gone at once: the read checks the owner, whatever the cache or the event handler are doing.
		expect((await all(`tags=${t}`)).map(i => i.user_id)).not.toContain(leaver.id);
		// The other events (the minor's analysis, the flagged run) settle to: only `ok` is shown.
		await waitFor(async () => JSON.stringify((await all(`tags=${t}`)).map(i => i.user_id)) === JSON.stringify([ok.id]));

		const hidden = [shy.id, minor.id, leaver.id, rude.id];
		const scan = async () => {
			for (const sort of ["newest", "highest", "random", "trending"]) {
				const text = JSON.stringify(await all(`sort_by=${sort}`));
				for (const id of hidden) expect(text).not.toContain(id);
				expect(text).toContain(ok.id);
			}
			const board = await request("GET", "/public/leaderboard?period=all&limit=50");
			for (const id of hidden) expect(board.text).not.toContain(id);
		};
		await scan();
		// Coming back makes their photos public again (from their stored perceptions).
		await request("PATCH", "/auth/me", { token: leaver.token, body: { opt_in_public_analysis: true } });
		await waitFor(() => inFeed(t, leaverMedia));
		await request("PATCH", "/auth/me", { token: leaver.token, body: { opt_in_public_analysis: false } });
		await scan();
	});

	it("removes an entry when its media is deleted, and every entry of an erased user", async () => {
		const u = await socialUser(request);
		const t = tag();
		const a = await posted(u, t);
		const b = await posted(u, t);
		await waitFor(async () => (await all(`tags=${t}`)).length === 2);
		expect((await request("DELETE", `/media/${a}`, { token: u.token })).status).toBe(200);
		await waitFor(async () => !(await inFeed(t, a)));
		expect(await inFeed(t, b)).toBe(true);
		expect(await node.broker.call("feed.exportUser", { user_id: u.id })).toEqual({ entries: [expect.objectContaining({ media_id: b, user_id: u.id, held: false })] });
		node.broker.emit("user.erased", { user_id: u.id, erasure_id: "e1" });
		await waitFor(async () => (await all(`tags=${t}`)).length === 0);
		expect(await node.broker.call("feed.exportUser", { user_id: u.id })).toEqual({ entries: [] });
	});

	it("filters by tags, search, days and min_percentile; sorts newest, highest, trending, random", async () => {
		const t = tag();
		const u = await socialUser(request, { alias: `Zed ${t}` });
		const low = await posted(u, t, { social_score: 1, summary_text: "Quiet and understated." });
		const high = await posted(u, t, { social_score: 9.9, summary_text: "Bright and energetic." });
		await waitFor(async () => (await all(`tags=${t}`)).length === 2);
		expect((await feed(`tags=${t}&sort_by=newest`)).body.items.map((i: any) => i.media_id)).toEqual([high, low]);
		expect((await feed(`tags=${t}&sort_by=highest`)).body.items.map((i: any) => i.media_id)).toEqual([high, low]);
		expect((await feed(`tags=${t}&sort_by=trending`)).body.items.map((i: any) => i.media_id)).toEqual([high, low]);
		expect((await feed(`tags=${t}&sort_by=random`)).body.items).toHaveLength(2);
		expect((await feed(`tags=${t}&search=UNDERSTATED`)).body.items.map((i: any) => i.media_id)).toEqual([low]);
		expect((await feed(`search=${encodeURIComponent(`zed ${t}`)}`)).body.items).toHaveLength(2);
		expect((await feed(`tags=${t}&tags=calm`)).body.items).toHaveLength(2);
		expect((await feed(`tags=${t}&tags=nosuchtag`)).body.items).toHaveLength(0);
		expect((await feed(`tags=${t}&days=1`)).body.items).toHaveLength(2);
		const top = (await feed(`tags=${t}&min_percentile=90`)).body.items;
		expect(top.map((i: any) => i.media_id)).toEqual([high]);
		expect((await feed(`tags=${t}&offset=1`)).body.items.map((i: any) => i.media_id)).toEqual([low]);
	});

	it("cursor paging is stable under concurrent inserts (no repeats, nothing skipped) in every order", async () => {
		const t = tag();
		const u = await socialUser(request);
		const before: string[] = [];
		for (let i = 0; i < 9; i++) before.push(await posted(u, t, { social_score: i % 4 }));
		await waitFor(async () => (await all(`tags=${t}`)).length === 9);
		for (const sort of ["newest", "highest", "trending", "random"]) {
			const seen: string[] = [];
			let cursor: string | null = null;
			do {
				const res: any = await feed(`tags=${t}&sort_by=${sort}&limit=4${cursor ? `&cursor=${cursor}` : ""}`);
				expect(res.status).toBe(200);
				seen.push(...res.body.items.map((i: any) => i.media_id));
				cursor = res.body.next_cursor;
				// Someone posts while we page.
				await Promise.all([posted(u, t, { social_score: 9.9 }), posted(u, t, { social_score: 0 })]);
			} while (cursor);
			expect(new Set(seen).size).toBe(seen.length);
			for (const id of before) expect(seen).toContain(id);
		}
	});

	it("hostile or malformed params are 4xx in the error format", async () => {
		const bad = [
			"limit=0", "limit=101", "limit=abc", "limit=1e400", "offset=-1", "days=0", "days=abc", "min_percentile=101", "sort_by=best",
			"sort_by[$ne]=x", "tags[$gt]=", `search=${"x".repeat(101)}`, "cursor=not-a-cursor", `cursor=${Buffer.from('{"v":1,"s":"newest"}').toString("base64url")}`,
			`tags=${"y".repeat(41)}`, Array.from({ length: 11 }, (_, i) => `tags=t${i}`).join("&")
		];
		for (const q of bad) {
			const res = await feed(q);
			expectError(res, 422);
		}
		// A cursor of one order used with another.
		const t = tag();
		const u = await socialUser(request);
		await posted(u, t);
		await posted(u, t);
		await waitFor(async () => (await all(`tags=${t}`)).length === 2);
		const page = await feed(`tags=${t}&limit=1&sort_by=newest`);
		expectError(await feed(`tags=${t}&limit=1&sort_by=highest&cursor=${page.body.next_cursor}`), 422);
	});

	it("reads are cached and events clean the cache", async () => {
		const t = tag();
		const u = await socialUser(request);
		const first = await posted(u, t);
		await waitFor(() => inFeed(t, first));
		const q = `tags=${t}&limit=7`;
		// A repeated read runs no page build (events of earlier tests may still clean the cache once: retry).
		await waitFor(async () => {
			await feed(q);
			const before = summaryCalls();
			const again = await feed(q);
			return summaryCalls() === before && again.body.items.length === 1;
		});
		const n = summaryCalls();
		const second = await posted(u, t);
		await waitFor(async () => (await feed(q)).body.items.length === 2);
		expect(summaryCalls()).toBeGreaterThan(n);
		expect((await feed(q)).body.items.map((i: any) => i.media_id)).toEqual([second, first]);
	});
});

describe("public feed: rate limit", () => {
	let node: TestNode;
	let request: Http;
	beforeAll(async () => {
		({ node, request } = await startSocialNode({ RATE_LIMITS: "public=3/60" }, ["api", "users", "auth", "storage", "media", "feed"]));
	}, 60_000);
	afterAll(async () => {
		await node?.stop();
	});

	it("answers 429 with Retry-After past the per-IP limit", async () => {
		for (let i = 0; i < 3; i++) expect((await request("GET", "/public/feed")).status).toBe(200);
		const res = await request("GET", "/public/feed");
		expectError(res, 429, "RATE_LIMITED");
		expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
	});
});

describe("public feed and leaderboard: a real flow (post-ingest perception, a real analysis)", () => {
	let node: TestNode;
	let request: Http;

	beforeAll(async () => {
		const port = await freePort();
		node = await startNode({
			services: [
				"api", "users", "auth", "storage", "media", "vision", "analyses", "orchestrator", "analysis", "embeddings", "jobs",
				"agents/face", "agents/fashion", "agents/posture", "agents/bio", "agents/embedder", "agents/social_perception", "agents/formatter",
				"follows", "feed", "leaderboard"
			],
			env: { PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, VISION_THREADS: "1", RATE_LIMITS: "upload=1000/60,analyze=1000/60,auth=1000/60" }
		});
		request = http(node.url);
	}, 120_000);
	afterAll(async () => {
		await node?.stop();
	});

	it("an upload reaches the feed through its perception; the analysis of it reaches the leaderboard", async () => {
		const u = await socialUser(request);
		const image = await sharp(path.join(HUMAN_DIR, "assets", "samples.jpg")).extract({ left: 641, top: 0, width: 148, height: 159 }).resize({ width: 444 }).jpeg().toBuffer();
		const up = await uploadForm(node.url, u.token, image);
		expect(up.status).toBe(200);
		const media_id = up.body.media_id;
		const item = await waitFor(async () => (await request("GET", "/public/feed?limit=100")).body.items.find((i: any) => i.media_id === media_id), 60_000, 200);
		expect(item.user_id).toBe(u.id);
		expect(item.perception.tags.length).toBeGreaterThanOrEqual(3);

		const res = await request("POST", "/analysis/analyze", { token: u.token, body: { media_id } });
		expect(res.status).toBe(200);
		const row = await waitFor(async () => (await request("GET", "/public/leaderboard?limit=50&period=week")).body.items.find((i: any) => i.user_id === u.id), 10_000, 100);
		expect(row).toMatchObject({ rank: 1, alias: u.alias, score: res.body.overall_score, tags: item.perception.tags.slice(0, 5) });
		expect(row.last_upload).toBe(item.created_at);
		// No biometric field anywhere in the public responses.
		const text = (await request("GET", "/public/feed?limit=100")).text + JSON.stringify(row);
		for (const word of ["age", "gender", "descriptor", "emotions", "landmarks"]) expect(text).not.toMatch(new RegExp(`"${word}"`));
	}, 120_000);
});
