import { runAgent } from "../../agents/agent";
import { ageRange, dominantEmotion, face, FACE_RULES, faceConfidence, subjectIndex, type FaceDeps } from "../../agents/face";
import { VisionResult, type ImageQuality, type VisionFace } from "../../agents/providers/vision/types";

const W = 1000;
const H = 800;
const GOOD: ImageQuality = { width: W, height: H, brightness: 0.5, contrast: 0.25, sharpness: 40, blurry: false, too_dark: false, too_bright: false };

function vface(box: [number, number, number, number], o: Partial<VisionFace> = {}): VisionFace {
	const [x, y, w, h] = box;
	return {
		box,
		score: 0.95,
		landmarks: { left_eye: [x + w * 0.65, y + h * 0.4], right_eye: [x + w * 0.35, y + h * 0.4], nose_tip: [x + w / 2, y + h * 0.6] },
		head_pose: { yaw: 3, pitch: -2, roll: 1 },
		emotions: { happy: 0.7, neutral: 0.2, surprise: 0.1 },
		age: 31.4,
		gender: "female",
		gender_confidence: 0.92,
		descriptor: Array.from({ length: 1024 }, (_, i) => Math.sin(i)),
		real: 0.9,
		live: 0.95,
		...o
	};
}

function vision(faces: VisionFace[], o: Partial<VisionResult> = {}): VisionResult {
	return VisionResult.parse({
		content_hash: "c".repeat(64),
		width: W,
		height: H,
		faces,
		bodies: [],
		objects: [],
		quality: GOOD,
		biometric: true,
		provider: "local",
		model_version: "test",
		inference_ms: 1,
		...o
	});
}

/** A crop port that records what it was asked and answers a fake signed URL. */
function fakeCrop() {
	const boxes: number[][] = [];
	const deps: FaceDeps = {
		async crop(box) {
			boxes.push(box);
			return `https://cdn.test/crop-${boxes.length}.jpg?sig=x`;
		}
	};
	return { deps, boxes };
}

const run = (v: VisionResult, consent: { face: boolean; biometric?: boolean }, deps: FaceDeps = fakeCrop().deps) =>
	runAgent(face, { vision: v, media_id: "m1", user_id: "u1", consent }, deps);

const BIG: [number, number, number, number] = [400, 200, 240, 280];

describe("face agent", () => {
	it("refuses without face consent (CONSENT_REQUIRED, 403, not retryable) and stores nothing", async () => {
		const { deps, boxes } = fakeCrop();
		await expect(run(vision([vface(BIG)]), { face: false, biometric: true }, deps)).rejects.toMatchObject({
			type: "CONSENT_REQUIRED",
			code: 403,
			retryable: false
		});
		expect(boxes).toHaveLength(0);
	});

	it("describes a single face with biometric consent: box, landmarks, age band, gender, expression, crop", async () => {
		const { deps, boxes } = fakeCrop();
		const out = await run(vision([vface(BIG)]), { face: true, biometric: true }, deps);
		expect(out.num_faces).toBe(1);
		expect(out.subject_index).toBe(0);
		const f = out.faces[0];
		expect(f).toMatchObject({
			bbox: BIG,
			age: 31.4,
			age_range: "26-36",
			gender: "female",
			gender_confidence: 0.92,
			expression: "happy",
			emotions: { happy: 0.7, neutral: 0.2, surprise: 0.1 },
			head_pose: { yaw: 3, pitch: -2, roll: 1 },
			is_subject: true,
			liveness: { real: 0.9, live: 0.95 },
			crop_url: "https://cdn.test/crop-1.jpg?sig=x"
		});
		expect(f.landmarks.nose_tip).toEqual([520, 368]);
		expect(f.size_ratio).toBeCloseTo((240 * 280) / (W * H), 4);
		// The crop is the face box with a margin on each side.
		const pad = FACE_RULES.cropPadding;
		expect(boxes).toEqual([[Math.round(400 - 240 * pad), Math.round(200 - 280 * pad), Math.round(240 * (1 + 2 * pad)), Math.round(280 * (1 + 2 * pad))]]);
		expect(out.biometric).toBe(true);
		expect(out.warnings).toEqual([]);
		expect(out.disclaimers.join(" ")).toMatch(/estimate/i);
		expect(out.disclaimers.join(" ")).toMatch(/age and gender/i);
		expect(out.quality).toEqual(GOOD);
	});

	it("without biometric consent: no age, age band, gender or descriptor, even when the pass carried them", async () => {
		const out = await run(vision([vface(BIG)]), { face: true, biometric: false });
		const f = out.faces[0];
		expect(f.age).toBeNull();
		expect(f.age_range).toBeNull();
		expect(f.gender).toBeNull();
		expect(f.gender_confidence).toBeNull();
		expect(out.biometric).toBe(false);
		// Presence, box, expression and quality remain.
		expect(f.bbox).toEqual(BIG);
		expect(f.expression).toBe("happy");
		const json = JSON.stringify(out);
		expect(json).not.toMatch(/descriptor|embedding|31\.4|female/);
		expect(out.disclaimers.join(" ")).not.toMatch(/age and gender/i);
	});

	it("biometric consent but a pass without biometrics: nothing biometric is made up", async () => {
		const v = vision([vface(BIG, { age: null, gender: null, gender_confidence: null, descriptor: null })], { biometric: false });
		const out = await run(v, { face: true, biometric: true });
		expect(out.faces[0]).toMatchObject({ age: null, age_range: null, gender: null, gender_confidence: null });
		expect(out.biometric).toBe(false);
	});

	it("never outputs the descriptor, race or ethnicity — even from a pass that smuggles them in", async () => {
		const v = vision([vface(BIG)]);
		(v.faces[0] as Record<string, unknown>).race = "x";
		(v.faces[0] as Record<string, unknown>).ethnicity = "y";
		// Straight into run(), past the input schema that would strip unknown keys.
		const raw = await face.run({ vision: v, media_id: "m1", user_id: "u1", consent: { face: true, biometric: true } }, fakeCrop().deps);
		const json = JSON.stringify(raw);
		expect(json).not.toMatch(/descriptor|race|ethnic/i);
		expect(face.output.safeParse(raw).success).toBe(true);
	});

	it("no face: num_faces 0, a 'no face' warning, no crop, confidence 0", async () => {
		const { deps, boxes } = fakeCrop();
		const out = await run(vision([]), { face: true, biometric: true }, deps);
		expect(out).toMatchObject({ num_faces: 0, faces: [], subject_index: null, confidence: 0 });
		expect(out.warnings.join(" ")).toMatch(/no face/i);
		expect(boxes).toHaveLength(0);
	});

	it("several faces: the largest, most central is the subject, and a warning says which", async () => {
		const small = vface([40, 40, 80, 90]);
		const central = vface([420, 290, 160, 180]);
		const bigEdge = vface([800, 500, 190, 200]);
		const out = await run(vision([small, bigEdge, central]), { face: true });
		// bigEdge is larger (38 000 px² vs 28 800) but off-centre: 0.0475 × (1 − 0.5 × 0.69) ≈ 0.031 < 0.036 × 0.99.
		expect(out.subject_index).toBe(2);
		expect(out.faces.map(f => f.is_subject)).toEqual([false, false, true]);
		expect(out.warnings.find(w => /3 faces/.test(w))).toMatch(/largest, most central.*face 3 of 3/);
		// Only the subject is cropped and stored; bystanders get no crop.
		expect(out.faces.map(f => Boolean(f.crop_url))).toEqual([false, false, true]);
	});

	it("subject selection prefers a clearly larger face over a small central one", () => {
		expect(subjectIndex([{ box: [480, 380, 40, 40] }, { box: [50, 50, 300, 300] }], W, H)).toBe(1);
		expect(subjectIndex([], W, H)).toBeNull();
	});

	it("warns when the face is too small, the photo blurry, dark or bright, or likely not live", async () => {
		const tiny = vface([500, 400, 60, 60], { real: 0.1, live: 0.9 });
		const q = { ...GOOD, blurry: true, too_dark: true, too_bright: false };
		const out = await run(vision([tiny], { quality: q }), { face: true });
		const text = out.warnings.join("\n");
		expect(text).toMatch(/too small/);
		expect(text).toMatch(/blurry/);
		expect(text).toMatch(/dark/);
		expect(text).toMatch(/not a live photo/);
		expect(text).not.toMatch(/overexposed/);

		const bright = await run(vision([vface(BIG)], { quality: { ...GOOD, too_bright: true } }), { face: true });
		expect(bright.warnings.join(" ")).toMatch(/overexposed/);
	});

	it("the face-too-small threshold sits at about 4 % of the image", async () => {
		const side = (r: number) => Math.round(Math.sqrt(r * W * H));
		const justUnder = await run(vision([vface([300, 300, side(0.035), side(0.035)])]), { face: true });
		const justOver = await run(vision([vface([300, 300, side(0.05), side(0.05)])]), { face: true });
		expect(justUnder.warnings.join(" ")).toMatch(/too small/);
		expect(justOver.warnings.join(" ")).not.toMatch(/too small/);
	});

	it("confidence is in 0–1 and falls with a small face and a poor photo", async () => {
		const clear = await run(vision([vface(BIG)]), { face: true });
		const small = await run(vision([vface([500, 400, 50, 50])]), { face: true });
		const poor = await run(vision([vface(BIG)], { quality: { ...GOOD, blurry: true, too_dark: true } }), { face: true });
		for (const c of [clear.confidence, small.confidence, poor.confidence]) {
			expect(c).toBeGreaterThanOrEqual(0);
			expect(c).toBeLessThanOrEqual(1);
		}
		expect(clear.confidence).toBeGreaterThan(0.8);
		expect(small.confidence).toBeLessThan(clear.confidence);
		expect(poor.confidence).toBeLessThan(clear.confidence);
		expect(faceConfidence(1, 1, GOOD)).toBe(FACE_RULES.maxConfidence);
		expect(faceConfidence(null, 0, GOOD)).toBe(0);
	});

	it("formats age bands as a 10-year band around the estimate", () => {
		expect(ageRange(29.3)).toBe("24-34");
		expect(ageRange(30)).toBe("25-35");
		expect(ageRange(2.2)).toBe("0-7");
		expect(ageRange(64.6)).toMatch(/^60-70$/);
	});

	it("expression is the dominant emotion, 'unknown' without a reading", () => {
		expect(dominantEmotion({ sad: 0.2, neutral: 0.5, happy: 0.3 })).toBe("neutral");
		expect(dominantEmotion({})).toBe("unknown");
	});

	it("a crop that fails leaves crop_url null and a warning, not a failed analysis", async () => {
		const out = await run(vision([vface(BIG)]), { face: true }, { crop: () => Promise.reject(new Error("storage down")) });
		expect(out.faces[0].crop_url).toBeNull();
		expect(out.warnings.join(" ")).toMatch(/could not be saved/);
	});

	it("a crop port that answers null (nothing left after clipping) gives crop_url null", async () => {
		const out = await run(vision([vface(BIG)]), { face: true }, { crop: async () => null });
		expect(out.faces[0].crop_url).toBeNull();
		expect(out.warnings).toEqual([]);
	});

	it("rejects malformed input through its schema", async () => {
		await expect(runAgent(face, { vision: { width: 1 }, media_id: "m", user_id: "u", consent: { face: true } } as never, fakeCrop().deps)).rejects.toThrow();
	});
});
