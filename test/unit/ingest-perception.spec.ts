import { SocialInput, socialPerception } from "../../agents/social-perception";
import type { VisionResult } from "../../agents/providers/vision/types";
import { dominantExpression, perceptionOf, perceptionView, socialInputOf } from "../../lib/jobs/ingest";
import { jobIdOf } from "../../services/jobs.service";

const vision: VisionResult = {
	content_hash: "h",
	width: 640,
	height: 480,
	faces: [
		{
			box: [10, 10, 100, 100],
			score: 0.9,
			landmarks: { left_eye: [1, 1], right_eye: [2, 1], nose_tip: [1.5, 2] },
			head_pose: { yaw: 0, pitch: 0, roll: 0 },
			emotions: { happy: 0.7, neutral: 0.3 },
			age: 31,
			gender: "female",
			gender_confidence: 0.9,
			descriptor: [0.1, 0.2],
			real: null,
			live: null
		}
	],
	bodies: [],
	objects: [{ label: "dog", score: 0.8, box: [0, 0, 5, 5] }],
	quality: { width: 640, height: 480, brightness: 0.5, contrast: 0.2, sharpness: 30, blurry: false, too_dark: false, too_bright: false },
	biometric: false,
	provider: "local",
	model_version: "human@3",
	inference_ms: 10
};

describe("post-ingest perception", () => {
	it("feeds social_perception a valid input from the vision pass alone", async () => {
		const input = SocialInput.parse(socialInputOf(vision));
		expect(input.faces).toEqual([{ expression: "happy", emotions: { happy: 0.7, neutral: 0.3 }, is_subject: true }]);
		expect(dominantExpression({})).toBe("neutral");
		const out = await socialPerception.run(input, {
			llm: { generate: async (req: { local: () => unknown }) => ({ output: req.local(), provider: "local", model: "rules", prompt_version: "social_perception@1.0.0" }) }
		} as never);
		const stored = perceptionOf(vision, socialPerception.output.parse(out), new Date("2025-01-01T00:00:00Z"));
		// Never biometric estimates: no age, gender or descriptor is stored.
		expect(JSON.stringify(stored)).not.toMatch(/age|gender|descriptor/);
		const view = perceptionView("m1", "https://signed", stored);
		expect(view).toEqual({
			media_id: "m1",
			media_url: "https://signed",
			faces: [expect.objectContaining({ expression: "happy" })],
			posture: null,
			fashion: null,
			environment: { objects: [{ label: "dog", score: 0.8 }] },
			social: { summary_text: expect.any(String), tags: expect.any(Array), social_score: expect.any(Number) },
			summaries: { style_summary: { main_colors: [], items_detected: [] }, posture_grade: null, overall_score: view.social.social_score },
			created_at: "2025-01-01T00:00:00.000Z"
		});
	});

	it("names jobs by kind and id, or by a per-user idempotency key", () => {
		expect(jobIdOf({ kind: "analysis", analysis_id: "abc" }, "u1")).toBe("analysis-abc");
		expect(jobIdOf({ kind: "ingest", media_id: "m:1", user_id: "u1" }, "u1")).toBe("ingest-m_1");
		const k = jobIdOf({ kind: "analysis", analysis_id: "abc" }, "u1", "key");
		expect(k).toMatch(/^analysis-k[0-9a-f]{32}$/);
		expect(jobIdOf({ kind: "analysis", analysis_id: "other" }, "u1", "key")).toBe(k);
		expect(jobIdOf({ kind: "analysis", analysis_id: "abc" }, "u2", "key")).not.toBe(k);
	});
});
