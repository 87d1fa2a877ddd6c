import { runAgent } from "../../agents/agent";
import { STYLE_DIM } from "../../agents/embedder";
import memory, { keywordsOf, vectorKind, type MemoryItem } from "../../agents/memory";
import { TEXT_DIM, textVector } from "../../agents/vectors";

const unit = (dim: number, ...ones: number[]) => Array.from({ length: dim }, (_, k) => (ones.includes(k) ? 1 : 0));
const item = (analysis_id: string, o: Partial<MemoryItem> = {}): MemoryItem => ({ analysis_id, media_id: `m-${analysis_id}`, timestamp: "2026-11-01T00:00:00.000Z", text: "", ...o });
const search = (input: Record<string, unknown>) => runAgent(memory, { items: [], ...input } as never, undefined);

describe("memory agent", () => {
	it("picks the vector kind by dimension", () => {
		expect(vectorKind(STYLE_DIM)).toBe("style");
		expect(vectorKind(TEXT_DIM)).toBe("text");
		expect(vectorKind(3)).toBeNull();
	});

	it("vector search: nearest style vectors first, min_similarity applied, items without a vector skipped", async () => {
		const items = [
			item("far", { style_vector: unit(STYLE_DIM, 5) }),
			item("near", { style_vector: unit(STYLE_DIM, 0, 1) }),
			item("exact", { style_vector: unit(STYLE_DIM, 0) }),
			item("none"),
			item("opposite", { style_vector: unit(STYLE_DIM, 0).map(x => -x) })
		];
		const out = await search({ query_vector: unit(STYLE_DIM, 0), items, min_similarity: 0.1 });
		expect(out.query_type).toBe("vector_search");
		expect(out.vector_kind).toBe("style");
		expect(out.results.map(r => r.analysis_id)).toEqual(["exact", "near"]);
		expect(out.results[0].similarity_score).toBe(1);
		expect(out.results[1].similarity_score).toBeCloseTo(Math.SQRT1_2, 3);
		expect(out.considered).toBe(4);
	});

	it("text vectors are compared with text-dimension queries only", async () => {
		const t = textVector("sunset beach walk");
		const out = await search({ query_vector: t, items: [item("a", { text_vector: t, style_vector: unit(STYLE_DIM, 0) }), item("b", { style_vector: unit(STYLE_DIM, 0) })] });
		expect(out.vector_kind).toBe("text");
		expect(out.results.map(r => r.analysis_id)).toEqual(["a"]);
	});

	it("a query vector of another dimension is refused", async () => {
		await expect(search({ query_vector: [1, 2, 3] })).rejects.toThrow(RangeError);
	});

	it("ties rank newest first, then by id; one result per media (its best analysis)", async () => {
		const v = unit(STYLE_DIM, 0);
		const items = [
			item("b", { style_vector: v, timestamp: "2026-10-01T00:00:00.000Z" }),
			item("a", { style_vector: v, timestamp: "2026-10-01T00:00:00.000Z" }),
			item("new", { style_vector: v, timestamp: "2026-11-20T00:00:00.000Z" }),
			item("same-media-worse", { media_id: "m-new", style_vector: unit(STYLE_DIM, 0, 1), timestamp: "2026-11-21T00:00:00.000Z" })
		];
		const out = await search({ query_vector: v, items });
		expect(out.results.map(r => r.analysis_id)).toEqual(["new", "a", "b"]);
	});

	it("text search: keywords and text similarity over the analysis's words; the best match first", async () => {
		const items = [
			item("style", { text: "A confident, polished look: the navy blazer and tailored fit work well together." }),
			item("posture", { text: "Relaxed posture by the beach; try opening the shoulders." }),
			item("nothing", { text: "" })
		];
		const out = await search({ query_text: "navy blazer confidence", items, min_similarity: 0.1 });
		expect(out.query_type).toBe("vector_search");
		expect(out.keywords).toEqual(["navy", "blazer", "confidence"]);
		expect(out.results[0].analysis_id).toBe("style");
		expect(out.results[0].keyword_matches).toEqual(["navy", "blazer", "confidence"]);
		expect(out.results.map(r => r.analysis_id)).not.toContain("nothing");
		expect(out.results.every(r => r.similarity_score >= 0.1 && r.similarity_score <= 1)).toBe(true);
	});

	it("text search counts a bio's stored text vector too", async () => {
		const out = await search({ query_text: "trail runner photographer", items: [item("bio", { text: "Good light.", text_vector: textVector("Trail runner and amateur photographer") }), item("plain", { text: "Good light." })] });
		expect(out.results[0].analysis_id).toBe("bio");
		expect(out.results[0].similarity_score).toBeGreaterThan((out.results[1]?.similarity_score ?? 0) + 0.1);
	});

	it("no query: structured search, newest first, limit honoured, min_similarity ignored", async () => {
		const items = ["2026-01-01", "2026-03-01", "2026-02-01"].map((d, i) => item(`a${i}`, { timestamp: `${d}T00:00:00.000Z` }));
		const out = await search({ items, limit: 2, min_similarity: 0.99 });
		expect(out.query_type).toBe("structured_search");
		expect(out.results.map(r => r.analysis_id)).toEqual(["a1", "a2"]);
		expect(out.results.every(r => r.similarity_score === 1)).toBe(true);
	});

	it("keywords drop stopwords and repeats", () => {
		expect(keywordsOf("The navy, the NAVY and a blazer")).toEqual(["navy", "blazer"]);
	});

	it("refuses NaN, Infinity and limits above 50", () => {
		expect(memory.input.safeParse({ items: [], query_vector: [NaN] }).success).toBe(false);
		expect(memory.input.safeParse({ items: [], query_vector: [Infinity] }).success).toBe(false);
		expect(memory.input.safeParse({ items: [], limit: 51 }).success).toBe(false);
	});
});
