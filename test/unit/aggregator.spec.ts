import { runAgent } from "../../agents/agent";
import { aggregator, bioComponent, faceComponent } from "../../agents/aggregator";

const face = (over: Record<string, unknown> = {}) => ({
	faces: [{ is_subject: true, emotions: { happy: 0.8, neutral: 0.2 }, head_pose: { yaw: 0, pitch: 0, roll: 0 }, size_ratio: 0.12 }],
	quality: { blurry: false, too_dark: false, too_bright: false },
	confidence: 0.9,
	...over
});
const posture = { alignment_score: 8, confidence: 0.8 };
const fashion = { overall_rating: 6, confidence: 0.7 };
const bio = { strengths: ["a", "b"], weaknesses: ["c"], confidence: 0.6, features: { sentiment: 0.4 } };

describe("aggregator", () => {
	it("applies the documented weights and rounds to 2 decimals", async () => {
		const out = await runAgent(aggregator, { face: face(), posture, fashion, bio, consent: { biometric: true } }, {});
		const f = faceComponent(face())!.score; // 10·(0.35·0.94 + 0.25 + 0.25 + 0.15)
		expect(f).toBeCloseTo(9.79, 2);
		expect(out.attractiveness_score).toBeCloseTo(0.6 * f + 0.4 * 8, 2);
		expect(out.style_score).toBeCloseTo(0.8 * 6 + 0.2 * 8, 2);
		const b = bioComponent(bio)!.score; // 5 + 1 + 0.5
		expect(b).toBe(6.5);
		expect(out.presence_score).toBeCloseTo(0.4 * 8 + 0.3 * b + 0.3 * f, 2);
		expect(out.overall_score).toBeCloseTo(0.35 * out.attractiveness_score! + 0.35 * out.style_score! + 0.3 * out.presence_score!, 1);
		for (const v of [out.overall_score, out.style_score, out.presence_score, out.attractiveness_score]) expect(Math.round(v! * 100) / 100).toBe(v);
	});

	it("gives no attractiveness score without biometric consent, or to a minor", async () => {
		const noConsent = await runAgent(aggregator, { face: face(), posture, fashion, consent: { biometric: false } }, {});
		const minor = await runAgent(aggregator, { face: face(), posture, fashion, consent: { biometric: true }, minor: true }, {});
		for (const out of [noConsent, minor]) {
			expect(out.attractiveness_score).toBeNull();
			expect(out.scores.attractiveness).toBeNull();
			// overall is then style and presence only
			expect(out.overall_score).toBeCloseTo((0.35 * out.style_score! + 0.3 * out.presence_score!) / 0.65, 1);
			expect(out.explanation).not.toMatch(/attractiveness/);
		}
	});

	it("shares a missing part's weight and widens the range", async () => {
		const full = await runAgent(aggregator, { face: face(), posture, fashion, bio, consent: { biometric: false } }, {});
		const partial = await runAgent(aggregator, { posture, consent: { biometric: false } }, {});
		expect(partial.style_score).toBe(8); // posture alone carries style
		const width = (r: [number, number]) => r[1] - r[0];
		expect(width(partial.scores.style!.range)).toBeGreaterThan(width(full.scores.style!.range));
		expect(partial.confidence).toBeLessThan(full.confidence);
	});

	it("answers nulls, not a crash, when nothing was scored", async () => {
		const out = await runAgent(aggregator, { consent: { biometric: true } }, {});
		expect(out).toMatchObject({ overall_score: null, style_score: null, presence_score: null, attractiveness_score: null, confidence: 0 });
		expect(out.explanation).toMatch(/nothing to combine/);
	});

	it("names strengths and improvement areas from the components", async () => {
		const out = await runAgent(aggregator, { face: face(), posture: { alignment_score: 3, confidence: 0.9 }, fashion, consent: { biometric: false } }, {});
		expect(out.key_strengths[0]).toBe("Your presence on camera stands out (9.79/10).");
		expect(out.improvement_areas[0]).toBe("There is room to grow in your posture (3/10).");
		for (const s of out.key_strengths) expect(out.improvement_areas.some(i => i.includes(s.split(" ")[1]))).toBe(false);
	});
});
