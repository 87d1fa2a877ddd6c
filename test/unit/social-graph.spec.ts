import { runAgent } from "../../agents/agent";
import { baselinePercentile, COLD_START_BASELINE, normalCdf, samplePercentile, similarity, socialGraph, socialGraphAgent, vibeOf, GraphUser, type GraphUser as GU } from "../../agents/social-graph";

const dir = (i: number, dim = 8) => Array.from({ length: dim }, (_, k) => (k === i ? 1 : 0));
const mix = (a: number[], b: number[], t: number) => a.map((x, i) => x * (1 - t) + b[i] * t);

function user(id: string, over: Partial<GU> = {}): GU {
	return { user_id: id, alias: `alias ${id}`, style_vector: dir(0), text_vector: null, tags: ["calm"], overall_score: 5, social_score: 5, media_id: `m-${id}`, ...over };
}

describe("social_graph", () => {
	it("vibe score is 10 × the weighted mean of overall (.6) and social (.4) scores", () => {
		expect(vibeOf({ overall_score: 8, social_score: 6 })).toBe(72);
		expect(vibeOf({ overall_score: null, social_score: 6 })).toBe(60);
		expect(vibeOf({ overall_score: null, social_score: null })).toBe(50);
	});

	it("percentiles: sample with ties at the midpoint; cold start against Normal(55, 15)", () => {
		expect(samplePercentile(50, [10, 50, 50, 90])).toBe(50);
		expect(samplePercentile(90, [10, 50, 90])).toBe(83);
		expect(samplePercentile(0, [0, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100])).toBe(1);
		expect(normalCdf(0)).toBeCloseTo(0.5, 6);
		expect(normalCdf(1.96)).toBeCloseTo(0.975, 3);
		expect(baselinePercentile(COLD_START_BASELINE.mean)).toBe(50);
		expect(baselinePercentile(COLD_START_BASELINE.mean + COLD_START_BASELINE.sd)).toBe(84);
		expect(baselinePercentile(0)).toBe(1);
		expect(baselinePercentile(100)).toBe(99);
	});

	it("similarity uses only the parts both users have", () => {
		const a = GraphUser.parse(user("a", { style_vector: dir(0), tags: ["x", "y"] }));
		expect(similarity(a, GraphUser.parse(user("b", { style_vector: dir(0), tags: ["x", "y"] })))).toBeCloseTo(1, 6);
		expect(similarity(a, GraphUser.parse(user("c", { style_vector: null, tags: ["z"] })))).toBe(0);
		expect(similarity(GraphUser.parse(user("d", { style_vector: null, tags: [] })), GraphUser.parse(user("e", { style_vector: null, tags: [] })))).toBeNull();
	});

	it("finds the nearest users on constructed style vectors, top 5, never the subject", () => {
		const me = user("me", { style_vector: dir(0) });
		const near = Array.from({ length: 6 }, (_, i) => user(`near${i}`, { style_vector: mix(dir(0), dir(1), i * 0.1) }));
		const far = Array.from({ length: 6 }, (_, i) => user(`far${i}`, { style_vector: dir(1 + (i % 7)), overall_score: 9 - i, social_score: 9 - i }));
		const out = socialGraph("me", [me, ...far, ...near], 25);
		expect(out.similar_users.map(u => u.user_id)).toEqual(["near0", "near1", "near2", "near3", "near4"]);
		expect(out.similar_users[0]).toEqual({ user_id: "near0", alias: "alias near0", score: 1, tags: ["calm"], media_id: "m-near0" });
		expect(out.complementary_users.map(u => u.user_id)).toEqual(["far0", "far1", "far2", "far3", "far4"]);
		for (const u of [...out.similar_users, ...out.complementary_users]) {
			expect(u.user_id).not.toBe("me");
			expect(u.score).toBeGreaterThanOrEqual(0);
			expect(u.score).toBeLessThanOrEqual(1);
		}
		expect(out.cold_start).toBe(true);
		expect(out.sample_size).toBe(13);
		expect(out.baseline).toEqual(COLD_START_BASELINE);
	});

	it("is not a cold start from SOCIAL_GRAPH_MIN_PUBLIC_USERS users on, and ranks within the sample", async () => {
		const pop = Array.from({ length: 25 }, (_, i) => user(`u${String(i).padStart(2, "0")}`, { overall_score: i / 2.5, social_score: i / 2.5 }));
		const population = async () => pop;
		const top = await runAgent(socialGraphAgent, { user_id: "u24" }, { population, minPublicUsers: 25 });
		expect(top.cold_start).toBe(false);
		expect(top.baseline).toBeNull();
		expect(top.percentile.overall).toBe(98);
		expect(top.user_vibe_score).toBe(96);
		const cold = await runAgent(socialGraphAgent, { user_id: "u24" }, { population, minPublicUsers: 26 });
		expect(cold.cold_start).toBe(true);
		expect(cold.percentile.overall).toBe(baselinePercentile(96));
	});

	it("answers for a subject outside the population with the neutral score", () => {
		const out = socialGraph("ghost", [user("a")], 25, new Date("2026-01-01T00:00:00Z"));
		expect(out).toMatchObject({ user_id: "ghost", user_vibe_score: 50, sample_size: 1, computed_at: "2026-01-01T00:00:00.000Z" });
	});
});
