import { runAgent } from "../../agents/agent";
import { alignmentScore, NOT_VISIBLE, posture, POSTURE_WEIGHTS, postureMetrics, type PostureDeps } from "../../agents/posture";
import { VisionResult, type Keypoint, type KeypointName, type VisionBody } from "../../agents/providers/vision/types";

const W = 600;
const H = 900;

type Pose = Partial<Record<KeypointName, [number, number]>>;

/** A person facing the camera, standing straight (their left side on the image's right). */
const UPRIGHT: Pose = {
	nose: [300, 150],
	leftEye: [310, 140],
	rightEye: [290, 140],
	leftEar: [320, 150],
	rightEar: [280, 150],
	leftShoulder: [360, 250],
	rightShoulder: [240, 250],
	leftElbow: [375, 370],
	rightElbow: [225, 370],
	leftWrist: [365, 480],
	rightWrist: [235, 480],
	leftHip: [340, 480],
	rightHip: [260, 480],
	leftKnee: [335, 650],
	rightKnee: [265, 650],
	leftAnkle: [335, 820],
	rightAnkle: [265, 820]
};

/** The same person with the shoulder line rotated `deg` degrees about its midpoint (left side up). */
function tilted(deg: number): Pose {
	const r = (deg * Math.PI) / 180;
	const half = 60;
	return {
		...UPRIGHT,
		leftShoulder: [300 + half * Math.cos(r), 250 - half * Math.sin(r)],
		rightShoulder: [300 - half * Math.cos(r), 250 + half * Math.sin(r)]
	};
}

/** Side-on (facing image right): shoulders overlap, one ear visible, `earX` sets how far forward the head is. */
function profile(earX: number): Pose {
	return {
		nose: [earX + 45, 160],
		leftEar: [earX, 150],
		leftShoulder: [300, 250],
		rightShoulder: [310, 252],
		leftElbow: [305, 370],
		leftWrist: [320, 470],
		leftHip: [295, 480],
		rightHip: [305, 481],
		leftKnee: [300, 650],
		leftAnkle: [300, 820]
	};
}

function body(pose: Pose, score = 0.9, extra: Keypoint[] = []): VisionBody {
	const keypoints = Object.entries(pose)
		.filter((e): e is [string, [number, number]] => e[1] !== undefined)
		.map(([name, [x, y]]) => ({ name: name as KeypointName, x, y, z: 0, score }));
	const xs = keypoints.map(k => k.x);
	const ys = keypoints.map(k => k.y);
	const box: [number, number, number, number] = [Math.min(...xs), Math.min(...ys), Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys)];
	return { box, score, keypoints: [...keypoints, ...extra] };
}

function vision(bodies: VisionBody[], blurry = false): VisionResult {
	return VisionResult.parse({
		content_hash: "p".repeat(64),
		width: W,
		height: H,
		faces: [],
		bodies,
		objects: [],
		quality: { width: W, height: H, brightness: 0.5, contrast: 0.2, sharpness: blurry ? 2 : 40, blurry, too_dark: false, too_bright: false },
		biometric: false,
		provider: "local",
		model_version: "test",
		inference_ms: 1
	});
}

function fakeCrop() {
	const boxes: number[][] = [];
	const deps: PostureDeps = {
		async crop(box) {
			boxes.push(box);
			return "https://cdn.test/body.jpg?sig=x";
		}
	};
	return { deps, boxes };
}

const run = (v: VisionResult, consent = true, deps: PostureDeps = fakeCrop().deps) => runAgent(posture, { vision: v, media_id: "m1", user_id: "u1", consent: { posture: consent } }, deps);

/** Words a kind posture tip never uses. */
const SHAMING = /\b(ugly|fat|bad|poor|wrong|terrible|awful|hunch\w*|slouch\w*|lazy|weak|ugly|deform\w*|flaw\w*)\b/i;

describe("posture agent", () => {
	it("refuses without posture consent (CONSENT_REQUIRED, 403) and stores nothing", async () => {
		const { deps, boxes } = fakeCrop();
		await expect(run(vision([body(UPRIGHT)]), false, deps)).rejects.toMatchObject({ type: "CONSENT_REQUIRED", code: 403, retryable: false });
		expect(boxes).toHaveLength(0);
	});

	it("level shoulders, head over shoulders, straight torso: metrics near zero and a high score", async () => {
		const { deps, boxes } = fakeCrop();
		const out = await run(vision([body(UPRIGHT)]), true, deps);
		expect(out.visible).toBe(true);
		expect(out.metrics).toEqual({ shoulder_tilt_deg: 0, head_forward_ratio: 0, torso_lean_deg: 0, symmetry: 1, openness: expect.any(Number) });
		// Wrists 65 px out from the midline with 120 px shoulders: 65/120 + 0.25 ≈ 0.79.
		expect(out.metrics.openness).toBeCloseTo(0.792, 3);
		expect(out.alignment_score).toBeCloseTo(10 * (1 - POSTURE_WEIGHTS.openness * (1 - 0.792)), 1);
		expect(out.tips).toHaveLength(1);
		expect(out.tips[0]).toMatch(/balanced/);
		expect(out.crop_url).toBe("https://cdn.test/body.jpg?sig=x");
		expect(boxes).toEqual([[225, 140, 150, 680]]);
		expect(out.warnings).toEqual([]);
	});

	it("a 15° shoulder tilt measures 15°, lowers the score, and names the higher shoulder kindly", async () => {
		const level = await run(vision([body(UPRIGHT)]));
		const tilt = await run(vision([body(tilted(15))]));
		expect(tilt.metrics.shoulder_tilt_deg).toBeCloseTo(15, 1);
		expect(tilt.metrics.symmetry!).toBeLessThan(1);
		expect(tilt.alignment_score!).toBeLessThan(level.alignment_score! - 2.5);
		const tip = tilt.tips.find(t => /shoulder/.test(t));
		expect(tip).toMatch(/left shoulder sits about 15° higher/);
		expect(tilt.tips.join(" ")).not.toMatch(SHAMING);

		const slight = await run(vision([body(tilted(5))]));
		expect(slight.metrics.shoulder_tilt_deg).toBeCloseTo(5, 1);
		expect(slight.alignment_score!).toBeLessThan(level.alignment_score!);
		expect(slight.alignment_score!).toBeGreaterThan(tilt.alignment_score!);
	});

	it("the tilt metric is the angle of the shoulder line whichever side is up", () => {
		const m = postureMetrics({ leftShoulder: { x: 360, y: 280 }, rightShoulder: { x: 240, y: 250 } })!;
		expect(m.shoulder_tilt_deg).toBeCloseTo((Math.atan2(30, 120) * 180) / Math.PI, 1);
		expect(m.torso_lean_deg).toBeNull();
		expect(m.openness).toBeNull();
	});

	it("head forward (side view): the ear far ahead of the shoulders gives a large ratio, a lower score and a tip", async () => {
		const stacked = await run(vision([body(profile(310))]));
		const forward = await run(vision([body(profile(370))]));
		// Side-on: tilt, symmetry and openness cannot be read and are left out.
		expect(forward.metrics).toMatchObject({ shoulder_tilt_deg: null, symmetry: null, openness: null });
		expect(stacked.metrics.head_forward_ratio!).toBeLessThan(0.1);
		// |370 − 305| / max(shoulder width ≈ 10, torso ≈ 230 / 2) ≈ 0.57
		expect(forward.metrics.head_forward_ratio).toBeCloseTo(65 / 115, 1);
		expect(forward.alignment_score!).toBeLessThan(stacked.alignment_score! - 3);
		expect(forward.tips.join(" ")).toMatch(/head is a little ahead of your shoulders/);
		expect(stacked.tips.join(" ")).not.toMatch(/ahead of your shoulders/);
	});

	it("a torso leaning sideways is measured from vertical", () => {
		const lean = { ...UPRIGHT, leftHip: [340 + 84, 480] as [number, number], rightHip: [260 + 84, 480] as [number, number] };
		const m = postureMetrics(Object.fromEntries(Object.entries(lean).map(([k, [x, y]]) => [k, { x, y }])))!;
		// Hip midpoint 84 px right of the shoulder midpoint, 230 px below: atan(84/230) ≈ 20°.
		expect(m.torso_lean_deg).toBeCloseTo(20.1, 0);
		const s = alignmentScore(m);
		expect(s).toBeLessThan(alignmentScore({ ...m, torso_lean_deg: 0 }));
	});

	it("arms crossed over the body read as closed; relaxed at the sides as open", async () => {
		const crossed = await run(vision([body({ ...UPRIGHT, leftWrist: [260, 380], rightWrist: [340, 380] })]));
		const open = await run(vision([body(UPRIGHT)]));
		expect(crossed.metrics.openness!).toBeLessThan(0.2);
		expect(open.metrics.openness!).toBeGreaterThan(0.7);
		expect(crossed.tips.join(" ")).toMatch(/open hand gestures/);
		expect(crossed.tips.join(" ")).not.toMatch(SHAMING);
	});

	it("keypoints come as [[x, y, z]] pixels with their names; low-score points are left out", async () => {
		const faint: Keypoint = { name: "leftAnkle", x: 1, y: 2, z: 0, score: 0.1 };
		const b = body({ ...UPRIGHT, leftAnkle: undefined }, 0.9, [faint]);
		const out = await run(vision([b]));
		expect(out.keypoints).toHaveLength(16);
		expect(out.keypoint_names).toHaveLength(16);
		expect(out.keypoint_names).not.toContain("leftAnkle");
		const i = out.keypoint_names.indexOf("nose");
		expect(out.keypoints[i]).toEqual([300, 150, 0]);
	});

	it("missing shoulders: visible false, score null, the 'not enough of the body visible' warning, no crop", async () => {
		const { deps, boxes } = fakeCrop();
		const head: Pose = { nose: [300, 150], leftEye: [310, 140], rightEye: [290, 140], leftEar: [320, 150] };
		const out = await run(vision([body(head)]), true, deps);
		expect(out).toMatchObject({ visible: false, alignment_score: null, crop_url: null, confidence: 0, keypoints: [], keypoint_names: [] });
		expect(out.metrics).toEqual({ shoulder_tilt_deg: null, head_forward_ratio: null, torso_lean_deg: null, symmetry: null, openness: null });
		expect(out.warnings[0]).toMatch(/not enough of the body visible/i);
		expect(out.warnings[0]).toBe(NOT_VISIBLE);
		expect(out.tips[0]).toMatch(/waist up/);
		expect(boxes).toHaveLength(0);
	});

	it("a shoulder the model barely saw counts as missing; no body at all is the same graceful result", async () => {
		const weak = body(UPRIGHT);
		weak.keypoints = weak.keypoints.map(k => (k.name === "rightShoulder" ? { ...k, score: 0.1 } : k));
		expect((await run(vision([weak]))).visible).toBe(false);
		const none = await run(vision([]));
		expect(none.visible).toBe(false);
		expect(none.warnings).toContain(NOT_VISIBLE);
	});

	it("confidence follows keypoint scores and how much of the body is seen", async () => {
		const clear = await run(vision([body(UPRIGHT, 0.9)]));
		const hesitant = await run(vision([body(UPRIGHT, 0.5)]));
		const upper: Pose = { nose: [300, 150], leftShoulder: [360, 250], rightShoulder: [240, 250], leftElbow: [375, 370], rightElbow: [225, 370] };
		const half = await run(vision([body(upper, 0.9)]));
		expect(clear.confidence).toBeCloseTo(0.9, 2);
		expect(hesitant.confidence).toBeCloseTo(0.5, 2);
		expect(half.confidence).toBeCloseTo((0.9 * 5) / 9, 2);
		expect(half.visible).toBe(true);
		expect(half.metrics.torso_lean_deg).toBeNull();
		for (const c of [clear, hesitant, half]) expect(c.alignment_score!).toBeGreaterThanOrEqual(0);
	});

	it("several people: the largest, most central body is analysed, with a warning; a blurry photo is flagged", async () => {
		const small = body(Object.fromEntries(Object.entries(tilted(20)).map(([k, [x, y]]) => [k, [x / 4, y / 4]])) as Pose);
		const out = await run(vision([small, body(UPRIGHT)], true));
		expect(out.metrics.shoulder_tilt_deg).toBe(0);
		expect(out.warnings.join(" ")).toMatch(/2 people/);
		expect(out.warnings.join(" ")).toMatch(/blurry/);
	});

	it("scores stay within 0–10 and tips stay kind across extreme poses", async () => {
		const wild: Pose = { ...tilted(40), leftHip: [500, 480], rightHip: [420, 470], leftWrist: [250, 300], rightWrist: [350, 300], nose: [420, 150], leftEar: [440, 150], rightEar: [400, 150] };
		const out = await run(vision([body(wild)]));
		expect(out.alignment_score!).toBeGreaterThanOrEqual(0);
		expect(out.alignment_score!).toBeLessThan(4);
		expect(out.tips.length).toBeGreaterThanOrEqual(3);
		expect(out.tips.join(" ")).not.toMatch(SHAMING);
	});
});
