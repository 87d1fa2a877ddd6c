import { runAgent } from "../../agents/agent";
import { scanOutputText } from "../../agents/guardrails/output";
import { LocalProvider } from "../../agents/providers/llm/local";
import { SOCIAL_BASELINE, SOCIAL_WEIGHTS, SocialContent, SocialInput, socialComponents, socialPerception, socialRules, socialScore } from "../../agents/social-perception";

const deps = { llm: new LocalProvider() };
const run = (input: unknown) => runAgent(socialPerception, input as never, deps);

const BANNED = /\b(ugly|fat|skinny|unattractive|surg\w*|race|ethnic\w*|religio\w*|gay|straight|sick|ill)\b/i;

const smiling = {
	faces: [{ expression: "happy", emotions: { happy: 0.82, neutral: 0.12, surprise: 0.06 }, is_subject: true }],
	posture: { alignment_score: 8.4, openness: 0.8 },
	fashion: { style: "smart-casual", palette: [{ name: "Navy", share: 0.5 }, { name: "White", share: 0.3 }], harmony: "analogous", overall_rating: 7.6 },
	quality: { blurry: false, too_dark: false, too_bright: false },
	objects: [{ label: "person", score: 0.9 }, { label: "dog", score: 0.8 }]
};

const tense = {
	faces: [{ expression: "angry", emotions: { angry: 0.6, neutral: 0.3, sad: 0.1 } }],
	posture: { alignment_score: 3.9, openness: 0.2 },
	fashion: { style: "casual", palette: [{ name: "Grey" }], harmony: "contrasting", overall_rating: null },
	quality: { blurry: true, too_dark: true, too_bright: false },
	objects: [{ label: "laptop", score: 0.7 }]
};

describe("social_perception agent", () => {
	it("gives the same answer for the same photo (deterministic)", async () => {
		expect(await run(smiling)).toEqual(await run(smiling));
	});

	it("reads different photos differently", async () => {
		const a = await run(smiling);
		const b = await run(tense);
		expect(a.social_score).toBeGreaterThan(b.social_score);
		expect(a.tags).toEqual(expect.arrayContaining(["warm", "friendly", "confident", "approachable", "put-together", "animal lover"]));
		expect(b.tags).toEqual(expect.arrayContaining(["intense", "laid-back", "casual", "high contrast"]));
		expect(a.summary_text).toMatch(/^This photo comes across as warm and friendly, with a genuine smile and a smart-casual outfit in navy and white\./);
		expect(a.summary_text).toContain("animal lover");
		expect(b.summary_text).toMatch(/For an even stronger first impression, /);
		expect(b.confidence).toBeLessThan(a.confidence);
	});

	it("scores with the documented formula", () => {
		const input = SocialInput.parse(smiling);
		const c = socialComponents(input);
		// Expression: (0.82·10 + 0.12·6 + 0.06·6.5) / 1.0 = 9.31 → 9.3.
		expect(c.expression).toBe(9.3);
		// Posture: 0.8·8.4 + 0.2·(0.8·10) = 8.32 → 8.3.
		expect(c.posture).toBe(8.3);
		expect(c.style).toBe(7.6);
		expect(c.quality).toBe(10);
		const expected = (SOCIAL_WEIGHTS.expression * 9.3 + SOCIAL_WEIGHTS.posture * 8.3 + SOCIAL_WEIGHTS.style * 7.6 + SOCIAL_WEIGHTS.quality * 10) / 1;
		expect(socialScore(c).score).toBe(Number(expected.toFixed(1)));
		expect(socialScore(c).confidence).toBe(1);

		const t = socialComponents(SocialInput.parse(tense));
		// Style from the harmony table when there is no rating; quality 10 − 3 (blurry) − 2 (dark).
		expect(t.style).toBe(5.5);
		expect(t.quality).toBe(5);
	});

	it("renormalises the weights over what was measured", () => {
		const onlyFace = socialRules(SocialInput.parse({ faces: [{ expression: "neutral" }] }));
		expect(onlyFace.social_score).toBe(6);
		expect(onlyFace.confidence).toBe(SOCIAL_WEIGHTS.expression);
		expect(onlyFace.tags).toEqual(expect.arrayContaining(["calm", "composed"]));
		expect(onlyFace.summary_text).toContain("Your posture could not be read here");
	});

	it("reads the posture agent's own output (openness under metrics)", () => {
		const input = SocialInput.parse({ posture: { alignment_score: 8.4, metrics: { openness: 0.8, symmetry: 0.9 }, tips: [], confidence: 0.7 } });
		expect(input.posture).toEqual({ alignment_score: 8.4, openness: 0.8 });
		expect(socialComponents(input).posture).toBe(8.3);
	});

	it("falls back to a baseline with zero confidence when no person can be read", async () => {
		const out = await run({ quality: { blurry: false }, objects: [{ label: "car", score: 0.9 }] });
		expect(out.social_score).toBe(SOCIAL_BASELINE);
		expect(out.confidence).toBe(0);
		expect(out.tags.length).toBeGreaterThanOrEqual(3);
		expect(out.summary_text).toMatch(/rough baseline/);
	});

	it("tags a group photo as sociable", async () => {
		const faces = Array.from({ length: 4 }, () => ({ expression: "happy" }));
		const out = await run({ faces });
		expect(out.tags).toContain("sociable");
	});

	it("refuses out-of-range readings", async () => {
		await expect(run({ posture: { alignment_score: 12 } })).rejects.toThrow();
		await expect(run({ faces: [{ expression: "happy", emotions: { happy: 2 } }] })).rejects.toThrow();
		await expect(run({ objects: [{ label: "dog", score: -1 }] })).rejects.toThrow();
	});

	it("keeps every field in range over many generated photos, with 2–3 sentences and 3–8 tags", () => {
		const emotions = ["happy", "neutral", "surprise", "sad", "fear", "angry", "disgust"];
		const styles = ["formal", "smart-casual", "casual", "sporty", "monochrome-minimal", "colourful", "unknown"];
		const harmonies = ["neutral", "monochrome", "analogous", "complementary", "triadic", "contrasting", null];
		const labels = ["dog", "cat", "book", "laptop", "cup", "person", "bicycle", "car", "frisbee"];
		let n = 0;
		for (const e of emotions)
			for (const s of styles)
				for (const h of harmonies)
					for (const a of [null, 0, 4.9, 7.5, 10]) {
						n++;
						const input = SocialInput.parse({
							faces: n % 5 === 0 ? [] : [{ expression: e, emotions: n % 2 ? { [e]: 0.7, neutral: 0.3 } : {} }],
							posture: a === null ? null : { alignment_score: a, openness: (n % 11) / 10 },
							fashion: { style: s, palette: [{ name: "Olive" }], harmony: h, overall_rating: n % 3 ? null : (n % 10) + 0.5 },
							quality: { blurry: n % 4 === 0, too_dark: n % 6 === 0, too_bright: n % 9 === 0 },
							objects: labels.slice(0, n % labels.length).map((label, i) => ({ label, score: 0.3 + i * 0.07 }))
						});
						const out = socialRules(input);
						const parsed = SocialContent.safeParse(out);
						if (!parsed.success) throw new Error(`case ${n}: ${parsed.error.message} — ${out.summary_text}`);
						expect(out.social_score).toBeGreaterThanOrEqual(0);
						expect(out.social_score).toBeLessThanOrEqual(10);
						expect(new Set(out.tags).size).toBe(out.tags.length);
						expect(`${out.summary_text} ${out.tags.join(" ")}`).not.toMatch(BANNED);
						expect(scanOutputText(`${out.summary_text} ${out.tags.join(", ")}.`, { minor: true })).toEqual([]);
					}
		expect(n).toBeGreaterThan(1000);
	});
});
