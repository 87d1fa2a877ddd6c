import { ServiceBroker } from "moleculer";
import { runAgent } from "../../agents/agent";
import PublicFeedService from "../../services/agents/public_feed.service";
import { analysisMinor, compareKeys, FEED_RULES, heldReasons, percentiles, publicFeed, rankFeed, trendingScore, type FeedEntry } from "../../agents/public-feed";

const NOW = "2026-01-10T12:00:00.000Z";
const hoursAgo = (h: number) => new Date(Date.parse(NOW) - h * 3_600_000).toISOString();

let n = 0;
function entry(over: Partial<FeedEntry> = {}): FeedEntry {
	const id = over.id ?? `e${String(++n).padStart(3, "0")}`;
	return {
		id,
		user_id: `u-${id}`,
		media_id: `m-${id}`,
		alias: null,
		created_at: hoursAgo(1),
		inserted_at: hoursAgo(1),
		summary_text: "A calm, friendly first impression.",
		tags: ["calm"],
		social_score: 5,
		score: 5,
		engagement: 0,
		public: true,
		minor: false,
		held: false,
		...over
	};
}

const ids = (out: { items: { id: string }[] }) => out.items.map(i => i.id);

describe("public_feed: selection", () => {
	it("never shows a non-public, minor or held entry", () => {
		const shown = entry({ id: "ok" });
		const out = rankFeed([shown, entry({ id: "private", public: false }), entry({ id: "minor", minor: true }), entry({ id: "held", held: true })], { as_of: NOW });
		expect(ids(out)).toEqual(["ok"]);
		expect(out.population).toBe(1);
	});

	it("filters by days, tags (all of them), search and min_percentile", () => {
		const es = [
			entry({ id: "old", created_at: hoursAgo(24 * 10), tags: ["calm", "warm"], score: 9 }),
			entry({ id: "warm", tags: ["Warm", "calm"], score: 8 }),
			entry({ id: "calm", tags: ["calm"], score: 2, summary_text: "Reads as poised and sporty." }),
			entry({ id: "alias", alias: "Sunny Pixel", score: 5 })
		];
		expect(ids(rankFeed(es, { as_of: NOW, days: 7 })).sort()).toEqual(["alias", "calm", "warm"]);
		expect(ids(rankFeed(es, { as_of: NOW, tags: ["warm", "calm"] })).sort()).toEqual(["old", "warm"]);
		expect(ids(rankFeed(es, { as_of: NOW, search: "SPORTY" }))).toEqual(["calm"]);
		expect(ids(rankFeed(es, { as_of: NOW, search: "sunny" }))).toEqual(["alias"]);
		// Percentiles over all four: 2 → 13, 5 → 38, 8 → 63, 9 → 88.
		expect(ids(rankFeed(es, { as_of: NOW, min_percentile: 60, sort_by: "highest" }))).toEqual(["old", "warm"]);
	});

	it("computes percentiles 1–99 with ties at the midpoint", () => {
		const pct = percentiles([1, 2, 2, 3]);
		expect([pct(1), pct(2), pct(3)]).toEqual([13, 50, 88]);
		expect(percentiles([7])(7)).toBe(50);
		expect(percentiles(Array.from({ length: 1000 }, (_, i) => i))(0)).toBe(1);
		expect(percentiles(Array.from({ length: 1000 }, (_, i) => i))(999)).toBe(99);
	});
});

describe("public_feed: order", () => {
	const es = [
		entry({ id: "a", created_at: hoursAgo(1), score: 3 }),
		entry({ id: "b", created_at: hoursAgo(2), score: 9 }),
		entry({ id: "c", created_at: hoursAgo(48), score: 9, engagement: 100 }),
		entry({ id: "d", created_at: hoursAgo(3), score: 6, engagement: 50 })
	];

	it("newest: created_at desc", () => expect(ids(rankFeed(es, { as_of: NOW, sort_by: "newest" }))).toEqual(["a", "b", "d", "c"]));
	it("highest: score desc, then newer first", () => expect(ids(rankFeed(es, { as_of: NOW, sort_by: "highest" }))).toEqual(["b", "c", "d", "a"]));

	it("trending: quality and engagement decayed by age", () => {
		expect(ids(rankFeed(es, { as_of: NOW, sort_by: "trending" }))).toEqual(["d", "b", "c", "a"]);
		const T = FEED_RULES.trending;
		expect(trendingScore({ score: 10, engagement: T.engagementCap, created_at: NOW }, Date.parse(NOW))).toBeCloseTo(1, 6);
		expect(trendingScore({ score: 10, engagement: T.engagementCap, created_at: hoursAgo(T.halfLifeH) }, Date.parse(NOW))).toBeCloseTo(0.5, 6);
	});

	it("random: a permutation fixed by the seed", () => {
		const many = Array.from({ length: 30 }, () => entry());
		const a = ids(rankFeed(many, { as_of: NOW, sort_by: "random", seed: 1, limit: 30 }));
		expect(ids(rankFeed(many, { as_of: NOW, sort_by: "random", seed: 1, limit: 30 }))).toEqual(a);
		expect(ids(rankFeed(many, { as_of: NOW, sort_by: "random", seed: 2, limit: 30 }))).not.toEqual(a);
		expect([...a].sort()).toEqual(many.map(e => e.id).sort());
	});

	it("compares keys element by element", () => {
		expect(compareKeys([1, "a"], [1, "b"])).toBe(-1);
		expect(compareKeys([-2, "z"], [1, "a"])).toBe(-1);
		expect(compareKeys([1, "a"], [1, "a"])).toBe(0);
	});
});

describe("public_feed: keyset paging", () => {
	it.each(["newest", "highest", "trending", "random"] as const)("%s: pages cover every entry once, also with inserts and deletes between pages", sort => {
		const es = Array.from({ length: 25 }, (_, i) => entry({ created_at: hoursAgo(i % 7), score: i % 4, engagement: i % 3 }));
		const seen: string[] = [];
		let after: (string | number)[] | undefined;
		let current = [...es];
		for (let page = 0; page < 10; page++) {
			const out = rankFeed(current, { as_of: NOW, sort_by: sort, seed: 7, limit: 4, after });
			seen.push(...ids(out));
			if (!out.next_key) break;
			after = out.next_key;
			// Between pages: new entries arrive (after as_of: not part of this session) and one already seen is deleted.
			current = [...current.filter(e => e.id !== seen[0]), entry({ inserted_at: new Date(Date.parse(NOW) + 1000).toISOString(), created_at: NOW, score: 10 })];
		}
		expect(seen.length).toBe(25);
		expect(new Set(seen).size).toBe(25);
	});

	it("offset skips items when no cursor is given", () => {
		const es = Array.from({ length: 5 }, (_, i) => entry({ id: `o${i}`, created_at: hoursAgo(i) }));
		expect(ids(rankFeed(es, { as_of: NOW, offset: 3 }))).toEqual(["o3", "o4"]);
	});

	it("runs as an agent with parsed input and output", async () => {
		const out = await runAgent(publicFeed, { entries: [entry({ id: "x" })], query: { as_of: NOW } }, {});
		expect(out.items[0]).toMatchObject({ id: "x", percentile: 50 });
		expect(out.next_key).toBeNull();
		await expect(runAgent(publicFeed, { entries: [], query: { as_of: NOW, limit: 101 } }, {})).rejects.toThrow();
	});
});

describe("public_feed: moderation hold and minors", () => {
	it("holds flagged text, a guarded bio and a report the safety check cut", () => {
		expect(heldReasons(["A calm, friendly first impression.", "calm"])).toEqual([]);
		expect(heldReasons(["You look ugly in this photo."])).toEqual(["text_flagged"]);
		expect(heldReasons(["fine"], { request: { input_warnings: ["x"] } })).toEqual(["input_flagged"]);
		expect(heldReasons(["fine"], { result: { warnings: ["Part of the generated report was removed by the safety check."] } })).toEqual(["output_flagged"]);
	});

	it("an analysis is a minor's when the subject face's age estimate is under 18 (checkpoint or report)", () => {
		const face = (age: number) => ({ faces: [{ is_subject: true, age }] });
		expect(analysisMinor({ checkpoints: { face: { output: face(16) } } })).toBe(true);
		expect(analysisMinor({ result: { detailed_analysis: { face: face(17.9) } } })).toBe(true);
		expect(analysisMinor({ checkpoints: { face: { output: face(18) } } })).toBe(false);
		expect(analysisMinor({ checkpoints: {}, result: {} })).toBe(false);
	});
});

describe("agent.public_feed", () => {
	it("ranks over the broker with the agent's schemas", async () => {
		const broker = new ServiceBroker({ logger: false });
		broker.createService(PublicFeedService);
		await broker.start();
		try {
			const out: any = await broker.call("agent.public_feed.run", { entries: [entry({ id: "p1", created_at: hoursAgo(2) }), entry({ id: "p2" })], query: { as_of: NOW, limit: 1 } });
			expect(out.items.map((i: any) => i.id)).toEqual(["p2"]);
			expect(out.next_key).toEqual(out.items[0].key);
		} finally {
			await broker.stop();
		}
	});
});
