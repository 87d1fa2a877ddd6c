import sharp from "sharp";
import compare, { centroid, CompareOutput, rank, scoreCloseness, similarityOf, styleTraits, vectorSimilarity, CompareProfile } from "../../agents/compare";
import { ARCHETYPES, ARCHETYPE_DEFS, CATEGORIES, archetype, layoutOf, layoutStyleVector } from "../../agents/catalogue/celebrities";
import { runAgent } from "../../agents/agent";
import { STYLE_DIM, styleVector } from "../../agents/embedder";
import { cosine } from "../../agents/vectors";
import { z } from "zod";

const P = (p: Partial<z.input<typeof CompareProfile>> & { id: string }) => CompareProfile.parse({ name: p.id, ...p });
const unit = (dim: number, i: number, j?: number) => Array.from({ length: dim }, (_, k) => (k === i ? 1 : k === j ? 1 : 0));

/** An image of nine solid blocks (the archetype layout), as the embedder would read a photo of it. */
async function renderLayout(cells: [number, number, number][]): Promise<Buffer> {
	const raw = Buffer.alloc(96 * 96 * 3);
	for (let y = 0; y < 96; y++)
		for (let x = 0; x < 96; x++) {
			const c = cells[Math.floor(y / 32) * 3 + Math.floor(x / 32)];
			raw.set(c, (y * 96 + x) * 3);
		}
	return sharp(raw, { raw: { width: 96, height: 96, channels: 3 } }).png().toBuffer();
}

describe("celebrity archetype catalogue", () => {
	it("has stable ids celeb_1… in order, names, categories, descriptions and score profiles", () => {
		expect(ARCHETYPES.map(a => a.id)).toEqual(ARCHETYPES.map((_, i) => `celeb_${i + 1}`));
		expect(new Set(ARCHETYPES.map(a => a.name)).size).toBe(ARCHETYPES.length);
		for (const a of ARCHETYPES) {
			expect(a.description.length).toBeGreaterThan(20);
			expect(CATEGORIES).toContain(a.category);
			for (const s of [a.scores.style, a.scores.presence]) expect(s >= 0 && s <= 10).toBe(true);
		}
		expect(archetype("celeb_4")?.name).toBe("Power Professional");
		expect(archetype("celeb_999")).toBeNull();
	});

	it("style vectors live in the embedder's space: same dimension, unit length", () => {
		for (const a of ARCHETYPES) {
			expect(a.style_vector).toHaveLength(STYLE_DIM);
			expect(Math.hypot(...a.style_vector)).toBeCloseTo(1, 4);
		}
	});

	it("the layout formula agrees with the embedder on a rendered image of the layout", async () => {
		for (const def of ARCHETYPE_DEFS.slice(0, 5)) {
			const cells = layoutOf(def);
			const fromImage = await styleVector(await renderLayout(cells));
			expect(cosine(fromImage, layoutStyleVector(cells))).toBeGreaterThan(0.995);
		}
	});

	it("a photo in an archetype's colours is nearest to that archetype", async () => {
		for (const id of ["celeb_2", "celeb_8", "celeb_11", "celeb_14"]) {
			const def = ARCHETYPE_DEFS.find(d => d.id === id)!;
			const v = await styleVector(await renderLayout(layoutOf(def)));
			const ranked = rank(P({ id: "me", style_vector: v }), ARCHETYPES.map(a => P({ id: a.id, style_vector: a.style_vector })));
			expect(ranked[0].target.id).toBe(id);
		}
	});

	it("rejects a layout that is not 3×3", () => {
		expect(() => layoutStyleVector([[0, 0, 0]])).toThrow(RangeError);
	});
});

describe("similarity", () => {
	it("vector similarity is the cosine clamped to [0,1]; null for missing or mismatched vectors", () => {
		expect(vectorSimilarity([1, 0], [1, 0])).toBe(1);
		expect(vectorSimilarity([1, 0], [-1, 0])).toBe(0);
		expect(vectorSimilarity([1, 0], [0, 1])).toBe(0);
		expect(vectorSimilarity([1, 0], [1, 0, 0])).toBeNull();
		expect(vectorSimilarity(null, [1])).toBeNull();
	});

	it("score closeness is 1 − |a − b|/10", () => {
		expect(scoreCloseness(7, 7)).toBe(1);
		expect(scoreCloseness(10, 0)).toBe(0);
		expect(scoreCloseness(6, 8)).toBeCloseTo(0.8);
		expect(scoreCloseness(null, 8)).toBeNull();
	});

	it("blends style vector and style score 3:1, presence and text 4:1, overall 0.6/0.4", () => {
		const a = P({ id: "a", style_vector: [1, 0], text_vector: [1, 0], scores: { style: 8, presence: 6 } });
		const b = P({ id: "b", style_vector: [1, 1], text_vector: [0, 1], scores: { style: 6, presence: 6 } });
		const s = similarityOf(a, b);
		const style = 0.75 * Math.SQRT1_2 + 0.25 * 0.8;
		const presence = 0.8 * 1 + 0.2 * 0;
		expect(s.style_similarity).toBeCloseTo(style, 3);
		expect(s.presence_similarity).toBeCloseTo(presence, 3);
		expect(s.similarity_score).toBeCloseTo(0.6 * style + 0.4 * presence, 3);
		expect(s.basis).toEqual({ style: "vector+scores", presence: "scores+text" });
	});

	it("uses what exists: no data at all is 0 with basis none", () => {
		const s = similarityOf(P({ id: "a" }), P({ id: "b" }));
		expect(s).toEqual({ similarity_score: 0, style_similarity: 0, presence_similarity: 0, basis: { style: "none", presence: "none" } });
		const onlyStyle = similarityOf(P({ id: "a", style_vector: [1, 0] }), P({ id: "b", style_vector: [1, 0] }));
		expect(onlyStyle.similarity_score).toBe(1);
	});

	it("ranks nearest first and breaks ties by id", () => {
		const me = P({ id: "me", style_vector: unit(4, 0) });
		const targets = [P({ id: "c", style_vector: unit(4, 1) }), P({ id: "b", style_vector: unit(4, 0) }), P({ id: "a", style_vector: unit(4, 0) }), P({ id: "d", style_vector: unit(4, 0, 1) })];
		expect(rank(me, targets).map(r => r.target.id)).toEqual(["a", "b", "d", "c"]);
	});

	it("the centroid averages same-dimension vectors and scores", () => {
		const c = centroid([P({ id: "1", style_vector: [1, 0], scores: { style: 6 } }), P({ id: "2", style_vector: [0, 1], scores: { style: 8 } }), P({ id: "3", style_vector: [1, 1, 1] })], "x", "x");
		expect(c.style_vector![0]).toBeCloseTo(Math.SQRT1_2);
		expect(c.scores.style).toBe(7);
		expect(c.scores.presence).toBeNull();
	});

	it("reads traits of a style vector and nothing from other dimensions", () => {
		expect(styleTraits([1, 2])).toBeNull();
		const t = styleTraits(ARCHETYPES[7].style_vector)!; // Bright Maximalist
		const n = styleTraits(ARCHETYPES[1].style_vector)!; // Monochrome Noir
		expect(t.saturation).toBeGreaterThan(n.saturation);
		expect(t.brightness).toBeGreaterThan(n.brightness);
	});
});

describe("compare agent", () => {
	const noir = ARCHETYPES.find(a => a.id === "celeb_2")!;
	const targets = ARCHETYPES.map(a => ({ id: a.id, name: a.name, style_vector: a.style_vector, scores: { style: a.scores.style, presence: a.scores.presence }, tags: a.tags }));

	it("without a target picks the nearest archetype and explains it", async () => {
		const out = CompareOutput.parse(await runAgent(compare, { comparison_type: "celebrity", current: { id: "me", name: "You", style_vector: noir.style_vector, scores: { style: 7.5, presence: 7.9 } }, targets }, undefined));
		expect(out.target_id).toBe("celeb_2");
		expect(out.target_name).toBe("Monochrome Noir");
		expect(out.style_similarity).toBeGreaterThan(0.95);
		expect(out.matches[0].id).toBe("celeb_2");
		expect(out.similarities.length).toBeGreaterThan(0);
		expect(out.recommendations.length).toBeGreaterThan(0);
		expect(out.confidence).toBeGreaterThan(0.5);
	});

	it("with a target explains the differences toward it and names the closest archetype", async () => {
		const out = await runAgent(compare, { comparison_type: "celebrity", target_id: "celeb_8", current: { id: "me", name: "You", style_vector: noir.style_vector, scores: { style: 6, presence: 6 } }, targets }, undefined);
		expect(out.target_id).toBe("celeb_8");
		expect(out.differences.join(" ")).toMatch(/darker|saturated/);
		expect(out.recommendations.length).toBeGreaterThan(0);
		expect(out.insights.join(" ")).toContain("Monochrome Noir");
		expect(out.differences.join(" ")).toMatch(/presence score is 2\.5 points below/);
		for (const k of ["similarity_score", "style_similarity", "presence_similarity", "confidence"] as const) expect(out[k] >= 0 && out[k] <= 1).toBe(true);
		expect(out.style_similarity).toBeLessThan(0.8);
	});

	it("an unknown target is a programming error", async () => {
		await expect(runAgent(compare, { comparison_type: "peer", target_id: "nobody", current: { id: "me", name: "You" }, targets: [] }, undefined)).rejects.toThrow(RangeError);
	});

	it("past_self compares with the centroid, reports the trend and the nearest earlier photo", async () => {
		const past = [
			{ id: "a1", name: "a1", style_vector: unit(STYLE_DIM, 0), scores: { style: 6, presence: 5, overall: 5.5 }, timestamp: "2026-10-01T00:00:00.000Z" },
			{ id: "a2", name: "a2", style_vector: unit(STYLE_DIM, 1), scores: { style: 6, presence: 5, overall: 5.5 }, timestamp: "2026-11-01T00:00:00.000Z" }
		];
		const out = await runAgent(compare, { comparison_type: "past_self", current: { id: "now", name: "You", style_vector: unit(STYLE_DIM, 1), scores: { style: 7, presence: 5, overall: 6 } }, targets: past }, undefined);
		expect(out.target_id).toBe("past_self");
		expect(out.compared_count).toBe(2);
		expect(out.matches.map(m => m.id)).toEqual(["a2", "a1"]);
		expect(out.style_similarity).toBeCloseTo(0.75 * Math.SQRT1_2 + 0.25 * 0.9, 3);
		expect(out.insights.join(" ")).toContain("style score is up 1 point on");
		expect(out.insights.join(" ")).toContain("2026-11-01");
	});

	it("past_self with nothing earlier answers zeros and says so", async () => {
		const out = await runAgent(compare, { comparison_type: "past_self", current: { id: "now", name: "You", scores: { overall: 6 } }, targets: [] }, undefined);
		expect(out).toMatchObject({ similarity_score: 0, confidence: 0, target_id: null, compared_count: 0 });
		expect(out.insights[0]).toMatch(/no earlier analyses/);
	});

	it("refuses non-finite and out-of-range input", () => {
		expect(compare.input.safeParse({ comparison_type: "celebrity", current: { id: "x", name: "x", style_vector: [NaN] }, targets: [] }).success).toBe(false);
		expect(compare.input.safeParse({ comparison_type: "celebrity", current: { id: "x", name: "x", scores: { style: 11 } }, targets: [] }).success).toBe(false);
		expect(compare.input.safeParse({ comparison_type: "rival", current: { id: "x", name: "x" }, targets: [] }).success).toBe(false);
	});
});
