import { runAgent } from "../../agents/agent";
import { DIMENSIONS, FixitContent, FixitOutput, TIP_TABLE, fixit, fixitRules, focusDimensions, rankDimensions, type FixitInput } from "../../agents/fixit";
import { scanOutputText } from "../../agents/guardrails/output";
import { LocalProvider } from "../../agents/providers/llm/local";
import type { LlmCall, LlmProvider, LlmResult } from "../../agents/providers/llm/types";

const deps = { llm: new LocalProvider() };
const run = (input: unknown) => runAgent(fixit, input as never, deps);

/** Words a fixit answer must never contain: bodies, cosmetic procedures, labels. */
const BANNED = /\b(surg\w*|botox|fillers?|inject\w*|cosmetic|lose weight|weight loss|diet\w*|slim\w*|ugly|fat|skinny|unattractive)\b/i;

/** A small seeded generator, so the "many inputs" checks are the same on every run. */
function rng(seed: number) {
	return () => {
		seed = (seed + 0x6d2b79f5) | 0;
		let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

const weakPosture = { scores: { overall: 6.1, posture: 3.2, style: 7.8, expression: 7.1, photo_quality: 8 } };
const weakStyle = { scores: { overall: 6.4, posture: 8.4, style: 4.1, expression: 6.2, photo_quality: 7.5 } };

describe("fixit agent", () => {
	it("gives the same answer for the same input (deterministic)", async () => {
		const a = await run(weakPosture);
		const b = await run(weakPosture);
		expect(a).toEqual(b);
		expect(a).toMatchObject({ provider: "local", model: expect.any(String), prompt_version: "1.0.0" });
	});

	it("focuses on the weakest dimensions: different weak points give different plans", async () => {
		const a = await run(weakPosture);
		const b = await run(weakStyle);
		expect(a.focus_areas[0]).toBe("posture");
		expect(b.focus_areas[0]).toBe("outfit and style");
		expect(a.quick_tips[0]).toBe(TIP_TABLE.posture.low[0]);
		expect(b.quick_tips[0]).toBe(TIP_TABLE.style.low[0]);
		expect(a.quick_tips).not.toEqual(b.quick_tips);
		expect(a.detailed_plan).toMatch(/^1\. Posture \(3\.2\/10, your top focus\)/);
		expect(b.detailed_plan).toMatch(/^1\. Outfit and style \(4\.1\/10, your top focus\)/);
		// Only dimensions under 7 are focus areas; the strong ones are named as what already works.
		expect(a.focus_areas).toEqual(["posture"]);
		expect(a.detailed_plan).toContain("Keep what already works: your photo quality (light and focus) (8/10)");
		expect(b.focus_areas).toEqual(["outfit and style", "facial expression"]);
	});

	it("uses the tips the sections measured before the generic ones", async () => {
		const measured = "Your left shoulder sits about 7° higher than the other: let both shoulders drop and relax evenly.";
		const out = await run({ ...weakPosture, tips: { posture: [measured] } });
		expect(out.quick_tips[0]).toBe(measured);
		expect(out.quick_tips).toContain(TIP_TABLE.posture.low[0]);
	});

	it("drops section tips that stray into bodies or cosmetic procedures", async () => {
		const out = await run({ ...weakStyle, tips: { style: ["Consider fillers to change your look.", "Lose weight before the next photo."] } });
		for (const t of out.quick_tips) expect(t).not.toMatch(BANNED);
		expect(out.quick_tips[0]).toBe(TIP_TABLE.style.low[0]);
	});

	it("ranks a dimension the analysis named among its weakest areas as if it scored lower", () => {
		const input = { scores: { posture: 6.0, style: 5.6 }, weakest_areas: ["Posture and shoulder alignment"], tips: {}, improved_areas: [] } as FixitInput;
		expect(rankDimensions(input).map(r => r.dimension)).toEqual(["posture", "style"]);
		expect(rankDimensions({ ...input, weakest_areas: [] }).map(r => r.dimension)).toEqual(["style", "posture"]);
	});

	it("sets aside areas that recently improved, unless nothing else is left", () => {
		const base = { scores: { posture: 4, expression: 5, style: 6 }, weakest_areas: [], tips: {}, improved_areas: [] } as FixitInput;
		expect(focusDimensions(base)).toEqual(["posture", "expression", "style"]);
		expect(focusDimensions({ ...base, improved_areas: ["posture"] })).toEqual(["expression", "style"]);
		expect(focusDimensions({ ...base, scores: { posture: 4 }, improved_areas: ["posture"] })).toEqual(["posture"]);
	});

	it("polishes the single lowest dimension when every score is already good", async () => {
		const out = await run({ scores: { posture: 8.8, style: 7.4, expression: 9.1 } });
		expect(out.focus_areas).toEqual(["outfit and style"]);
		expect(out.quick_tips[0]).toBe(TIP_TABLE.style.high[0]);
		expect(out.quick_tips.length).toBeGreaterThanOrEqual(3);
	});

	it("without any scores, gives getting-started tips and no focus areas", async () => {
		const out = await run({});
		expect(out.focus_areas).toEqual([]);
		expect(out.quick_tips).toHaveLength(3);
		expect(out.detailed_plan).toMatch(/Run a full analysis/);
	});

	it("refuses scores outside 0–10 and unknown shapes", async () => {
		await expect(run({ scores: { posture: 11 } })).rejects.toThrow();
		await expect(run({ scores: { posture: -1 } })).rejects.toThrow();
		await expect(run({ scores: { posture: "low" } })).rejects.toThrow();
		await expect(run({ weakest_areas: "posture" })).rejects.toThrow();
	});

	it("keeps every field in range over 300 generated analyses, and never uses banned words", () => {
		const next = rng(42);
		for (let i = 0; i < 300; i++) {
			const scores: Record<string, number> = {};
			for (const d of DIMENSIONS) if (next() < 0.7) scores[d] = Math.round(next() * 100) / 10;
			const out = fixitRules({ scores, weakest_areas: next() < 0.5 ? ["posture"] : [], tips: {}, improved_areas: [] });
			expect(FixitContent.safeParse(out).success).toBe(true);
			expect(out.quick_tips.length).toBeGreaterThanOrEqual(3);
			expect(out.quick_tips.length).toBeLessThanOrEqual(5);
			expect(out.focus_areas.length).toBeLessThanOrEqual(3);
			expect(new Set(out.quick_tips).size).toBe(out.quick_tips.length);
			for (const d of out.dimensions) expect(d.score).toBeGreaterThanOrEqual(0);
			for (const d of out.dimensions) expect(d.score).toBeLessThanOrEqual(10);
			const text = [...out.quick_tips, out.detailed_plan].join(" ");
			expect(text).not.toMatch(BANNED);
			// The output rail, which every answer passes before it is shown, finds nothing to remove.
			expect(scanOutputText(text, { minor: true })).toEqual([]);
			// The plan is multi-step: numbered steps, one per focus area plus the follow-up.
			expect(out.detailed_plan.match(/\b\d\. /g)?.length).toBe(out.dimensions.length ? out.focus_areas.length + 1 : 3);
		}
	});

	it("asks the provider with its own prompt and the analysis as variables, and records who answered", async () => {
		const calls: LlmCall<unknown>[] = [];
		const model: LlmProvider = {
			name: "fake",
			async generate<T>(call: LlmCall<T>): Promise<LlmResult<T>> {
				calls.push(call as LlmCall<unknown>);
				const output = call.schema.parse(await call.local());
				return { output, provider: "openai", model: "gpt-test", prompt_id: call.prompt.id, prompt_version: call.prompt.version, usage: null, attempts: 1 };
			}
		};
		const out = await runAgent(fixit, weakPosture as never, { llm: model });
		expect(calls).toHaveLength(1);
		expect(calls[0].agent).toBe("fixit");
		expect(calls[0].prompt.agent).toBe("fixit");
		expect(calls[0].variables.scores).toEqual(weakPosture.scores);
		expect(FixitOutput.parse(out)).toMatchObject({ provider: "openai", model: "gpt-test", prompt_version: "1.0.0" });
	});
});
