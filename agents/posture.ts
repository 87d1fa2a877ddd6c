import { z } from "zod";
import { defineAgent } from "./agent";
import { consentRequired } from "./errors";
import { VisionResult, type Keypoint, type KeypointName, type VisionBody } from "./providers/vision/types";
import { argmax, centreWeight, clamp, mean, round } from "./shared";

/**
 * posture: geometry on the subject's body keypoints from the shared vision pass (image
 * pixels, y pointing down; `left`/`right` are the person's own sides, as the pose model
 * names them). Every measure, threshold and weight is below, so a score can be explained.
 *
 * - shoulder tilt: angle of the shoulder line from horizontal, in degrees (0 = level).
 * - head-forward ratio: horizontal offset of the head (the ears' midpoint, a single visible
 *   ear in profile, else the nose) from the shoulder midpoint, divided by a body scale: the
 *   shoulder width, or half the torso length when that is larger (in profile the shoulders
 *   overlap and their distance shrinks). 0 = head stacked over the shoulders.
 * - torso lean: angle of the shoulder-midpoint → hip-midpoint line from vertical, in degrees.
 * - symmetry 0–1: 1 − the mean of left/right differences, each relative to the shoulder
 *   width: shoulder heights, hip heights, and the shoulders' distances from the body's
 *   midline (hip midpoint, else nose).
 * - openness 0–1: per arm, how far the wrist (else the elbow) sits outward from the midline,
 *   in shoulder widths: crossed over the midline → 0, hands together in front → 0.25, arms
 *   relaxed at the sides (half a shoulder width out) → 0.75, wider → 1. The mean of both arms.
 * - side-on (shoulder width under 0.3 × torso length) the shoulder line and left/right
 *   balance cannot be read, nor how far the arms open: tilt, symmetry and openness are null
 *   there and left out of the score (head-forward and lean are what a side view shows best).
 *
 * alignment_score = 10 × Σ wᵢ·cᵢ / Σ wᵢ over the components that could be measured, with
 * cᵢ in 0–1: tilt 1 up to 2°, 0 at 15°; head 1 up to 0.15, 0 at 0.65; lean 1 up to 3°, 0 at
 * 20°; symmetry and openness as they are. Weights in POSTURE_WEIGHTS.
 */

export const POSTURE_WEIGHTS = { tilt: 0.3, head: 0.25, lean: 0.2, symmetry: 0.15, openness: 0.1 } as const;

export const POSTURE_RULES = {
	/** Keypoints scored below this are treated as not seen. */
	minKeypointScore: 0.3,
	tilt: { okDeg: 2, worstDeg: 15, tipDeg: 5 },
	head: { ok: 0.15, worst: 0.65, tip: 0.25 },
	lean: { okDeg: 3, worstDeg: 20, tipDeg: 8 },
	symmetry: { tip: 0.75 },
	openness: { tip: 0.35 }
} as const;

/** Shoulder width below this share of the torso length: a side-on (profile) view. */
const PROFILE_SHOULDER_RATIO = 0.3;

/** The points confidence is measured over: what the posture metrics are built from. */
const CORE: KeypointName[] = ["nose", "leftShoulder", "rightShoulder", "leftHip", "rightHip", "leftElbow", "rightElbow", "leftWrist", "rightWrist"];

export const NOT_VISIBLE = "Not enough of the body visible to assess posture: both shoulders need to be in the photo.";

export const PostureInput = z.object({
	vision: VisionResult,
	media_id: z.string().min(1).max(64),
	user_id: z.string().min(1).max(64),
	consent: z.object({ posture: z.boolean() })
});
export type PostureInput = z.infer<typeof PostureInput>;

const Metric = z.number().nullable();
export const PostureOutput = z.strictObject({
	visible: z.boolean(),
	alignment_score: z.number().min(0).max(10).nullable(),
	metrics: z.strictObject({
		shoulder_tilt_deg: Metric,
		head_forward_ratio: Metric,
		torso_lean_deg: Metric,
		symmetry: z.number().min(0).max(1).nullable(),
		openness: z.number().min(0).max(1).nullable()
	}),
	/** [x, y, z] in pixels of the analysed image; z = 0 where the model has no depth. */
	keypoints: z.array(z.tuple([z.number(), z.number(), z.number()])),
	keypoint_names: z.array(z.string()),
	tips: z.array(z.string()),
	warnings: z.array(z.string()),
	crop_url: z.string().nullable(),
	confidence: z.number().min(0).max(1),
	model_version: z.string()
});
export type PostureOutput = z.infer<typeof PostureOutput>;
export type PostureMetrics = PostureOutput["metrics"];

export interface PostureDeps {
	/** Stores a crop of the analysed image ([x, y, w, h] px) and answers its signed URL. */
	crop(box: [number, number, number, number]): Promise<string | null>;
}

type Pt = { x: number; y: number };
const deg = (rad: number) => (rad * 180) / Math.PI;
const mid = (a: Pt, b: Pt): Pt => ({ x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 });
const dist = (a: Pt, b: Pt) => Math.hypot(a.x - b.x, a.y - b.y);
/** 1 up to `ok`, falling linearly to 0 at `worst`. */
const falloff = (v: number, ok: number, worst: number) => 1 - clamp((v - ok) / (worst - ok), 0, 1);

/** The keypoints the pose model is confident about, by name. */
export function seen(body: VisionBody, min: number = POSTURE_RULES.minKeypointScore): Partial<Record<KeypointName, Keypoint>> {
	const out: Partial<Record<KeypointName, Keypoint>> = {};
	for (const k of body.keypoints) if (k.score >= min) out[k.name] = k;
	return out;
}

/** Posture measures from named keypoints; null metrics when shoulders are missing. */
export function postureMetrics(kp: Partial<Record<KeypointName, Pt>>): PostureMetrics | null {
	const ls = kp.leftShoulder;
	const rs = kp.rightShoulder;
	if (!ls || !rs) return null;
	const sw = dist(ls, rs);
	const sMid = mid(ls, rs);
	const hMid = kp.leftHip && kp.rightHip ? mid(kp.leftHip, kp.rightHip) : null;
	const torso = hMid ? dist(sMid, hMid) : 0;
	const scale = Math.max(sw, torso / 2) || 1;

	// Side-on, the shoulders overlap: their line says nothing about tilt or left/right balance.
	const profile = torso > 0 && sw < PROFILE_SHOULDER_RATIO * torso;
	const tilt = profile ? null : deg(Math.atan2(Math.abs(ls.y - rs.y), Math.abs(ls.x - rs.x)));

	const head = kp.leftEar && kp.rightEar ? mid(kp.leftEar, kp.rightEar) : (kp.leftEar ?? kp.rightEar ?? kp.nose ?? null);
	const headForward = head ? Math.abs(head.x - sMid.x) / scale : null;

	const lean = hMid ? deg(Math.atan2(Math.abs(hMid.x - sMid.x), Math.abs(hMid.y - sMid.y))) : null;

	const midX = hMid?.x ?? kp.nose?.x ?? sMid.x;
	const base = sw || 1;
	const diffs = [Math.abs(ls.y - rs.y) / base];
	if (kp.leftHip && kp.rightHip) diffs.push(Math.abs(kp.leftHip.y - kp.rightHip.y) / base);
	const dl = Math.abs(ls.x - midX);
	const dr = Math.abs(rs.x - midX);
	if (dl + dr > 0) diffs.push(Math.abs(dl - dr) / (dl + dr));
	const symmetry = profile ? null : clamp(1 - mean(diffs.map(d => clamp(d, 0, 1))), 0, 1);

	const arms: number[] = [];
	for (const [shoulder, hand] of [
		[ls, kp.leftWrist ?? kp.leftElbow],
		[rs, kp.rightWrist ?? kp.rightElbow]
	] as const) {
		if (!hand) continue;
		const outward = Math.sign(shoulder.x - midX) || 1;
		const lateral = ((hand.x - midX) * outward) / base;
		arms.push(clamp(lateral + 0.25, 0, 1));
	}
	const openness = arms.length && !profile ? mean(arms) : null;

	return {
		shoulder_tilt_deg: tilt === null ? null : round(tilt, 1),
		head_forward_ratio: headForward === null ? null : round(headForward, 3),
		torso_lean_deg: lean === null ? null : round(lean, 1),
		symmetry: symmetry === null ? null : round(symmetry, 3),
		openness: openness === null ? null : round(openness, 3)
	};
}

/** 0–10 from the measured components, weights renormalised over what could be measured. */
export function alignmentScore(m: PostureMetrics): number {
	const r = POSTURE_RULES;
	const parts: [number, number][] = [];
	if (m.shoulder_tilt_deg !== null) parts.push([POSTURE_WEIGHTS.tilt, falloff(m.shoulder_tilt_deg, r.tilt.okDeg, r.tilt.worstDeg)]);
	if (m.head_forward_ratio !== null) parts.push([POSTURE_WEIGHTS.head, falloff(m.head_forward_ratio, r.head.ok, r.head.worst)]);
	if (m.torso_lean_deg !== null) parts.push([POSTURE_WEIGHTS.lean, falloff(m.torso_lean_deg, r.lean.okDeg, r.lean.worstDeg)]);
	if (m.symmetry !== null) parts.push([POSTURE_WEIGHTS.symmetry, m.symmetry]);
	if (m.openness !== null) parts.push([POSTURE_WEIGHTS.openness, m.openness]);
	const w = parts.reduce((s, [wi]) => s + wi, 0);
	return w ? round((10 * parts.reduce((s, [wi, c]) => s + wi * c, 0)) / w, 1) : 0;
}

/** Specific, kind suggestions: what to try, never what is wrong with the person. */
export function postureTips(m: PostureMetrics, kp: Partial<Record<KeypointName, Pt>>): string[] {
	const r = POSTURE_RULES;
	const tips: string[] = [];
	if (m.shoulder_tilt_deg !== null && m.shoulder_tilt_deg >= r.tilt.tipDeg) {
		const higher = kp.leftShoulder && kp.rightShoulder && kp.leftShoulder.y < kp.rightShoulder.y ? "left" : "right";
		tips.push(`Your ${higher} shoulder sits about ${Math.round(m.shoulder_tilt_deg)}° higher than the other: let both shoulders drop and relax evenly, with your weight on both feet.`);
	}
	if (m.head_forward_ratio !== null && m.head_forward_ratio >= r.head.tip)
		tips.push("Your head is a little ahead of your shoulders: imagine a string gently lifting the crown of your head and let your ears settle back over your shoulders.");
	if (m.torso_lean_deg !== null && m.torso_lean_deg >= r.lean.tipDeg)
		tips.push(`Your upper body leans about ${Math.round(m.torso_lean_deg)}° to one side: stand tall with your weight spread evenly over both feet.`);
	if (m.symmetry !== null && m.symmetry < r.symmetry.tip)
		tips.push("Your stance is a little uneven from left to right: squaring your hips and shoulders to the camera gives a steadier, more grounded look.");
	if (m.openness !== null && m.openness < r.openness.tip)
		tips.push("Your arms are close to or across your body: letting them rest loosely at your sides, or using open hand gestures, reads as relaxed and approachable.");
	if (!tips.length) tips.push("Your posture looks balanced and upright: keep your shoulders relaxed and your head lifted, just as you are.");
	return tips;
}

/**
 * 0–1 from keypoint scores: the mean score of the core points seen (nose, shoulders, hips,
 * elbows, wrists) × the share of them seen. A body cut off at the waist scores lower than a
 * full one, and a hesitant detection lower than a clear one.
 */
export function postureConfidence(body: VisionBody): number {
	const k = seen(body);
	const scores = CORE.map(n => k[n]?.score).filter((s): s is number => s !== undefined);
	return scores.length ? round(clamp(mean(scores) * (scores.length / CORE.length), 0, 1)) : 0;
}

/** The subject: the largest body box, weighted toward the centre (as for faces) and by its detection score. */
export function subjectBody(bodies: readonly VisionBody[], width: number, height: number): VisionBody | null {
	const i = argmax(bodies, b => b.box[2] * b.box[3] * centreWeight(b.box, width, height) * (b.score || 0.01));
	return i === null ? null : bodies[i];
}

export const posture = defineAgent({
	name: "posture",
	version: "1.0.0",
	input: PostureInput,
	output: PostureOutput,
	async run(input: PostureInput, deps: PostureDeps): Promise<z.input<typeof PostureOutput>> {
		if (!input.consent.posture) throw consentRequired("posture_analysis");
		const v = input.vision;
		const body = subjectBody(v.bodies, v.width, v.height);
		const kp = body ? seen(body) : {};
		const metrics = postureMetrics(kp);
		const warnings: string[] = [];
		if (v.bodies.length > 1) warnings.push(`${v.bodies.length} people were detected; the posture of the largest, most central one is analysed.`);
		if (v.quality.blurry) warnings.push("The photo looks blurry, so the body points are less certain.");

		if (!body || !metrics) {
			return {
				visible: false,
				alignment_score: null,
				metrics: { shoulder_tilt_deg: null, head_forward_ratio: null, torso_lean_deg: null, symmetry: null, openness: null },
				keypoints: [],
				keypoint_names: [],
				tips: ["For posture feedback, take a photo that shows you from at least the waist up, with both shoulders in view."],
				warnings: [NOT_VISIBLE, ...warnings],
				crop_url: null,
				confidence: 0,
				model_version: v.model_version
			};
		}

		const points = body.keypoints.filter(k => k.score >= POSTURE_RULES.minKeypointScore);
		let crop_url: string | null = null;
		try {
			crop_url = await deps.crop([body.box[0], body.box[1], body.box[2], body.box[3]]);
		} catch {
			warnings.push("A preview of the body could not be saved; the analysis itself is complete.");
		}
		return {
			visible: true,
			alignment_score: alignmentScore(metrics),
			metrics,
			keypoints: points.map(k => [k.x, k.y, k.z]),
			keypoint_names: points.map(k => k.name),
			tips: postureTips(metrics, kp),
			warnings,
			crop_url,
			confidence: postureConfidence(body),
			model_version: v.model_version
		};
	}
});

export default posture;
