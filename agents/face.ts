import { z } from "zod";
import { defineAgent } from "./agent";
import { consentRequired } from "./errors";
import { Box, ImageQuality, Point, VisionResult, type VisionFace } from "./providers/vision/types";
import { argmax, centreWeight, clamp, round, topKey } from "./shared";

/**
 * face: reads the shared vision pass (it never decodes or infers again) and describes each
 * face — box, landmarks, head pose, expression, liveness, and with biometric consent only an
 * age band and gender — picks the subject, and says plainly what limits the reading.
 * Never outputs race or ethnicity; the face descriptor never leaves this agent.
 */

export const FACE_RULES = {
	/** A subject face below this share of the image area is "too small" for reliable readings. */
	minFaceArea: 0.04,
	/** Face area share at which size no longer lowers confidence. */
	fullConfidenceArea: 0.1,
	/** Antispoof (`real`) or liveness (`live`) below this: likely a photo of a photo or a screen. */
	minLiveness: 0.3,
	/** Margin added around a face box for its stored crop, as a share of the box on each side. */
	cropPadding: 0.15,
	/** The highest confidence a single photo can give. */
	maxConfidence: 0.95,
	/** Half-width in years of the age band around the estimate (a 10-year band). */
	ageHalfBand: 5
} as const;

export const FaceInput = z.object({
	vision: VisionResult,
	media_id: z.string().min(1).max(64),
	user_id: z.string().min(1).max(64),
	consent: z.object({ face: z.boolean(), biometric: z.boolean().default(false) })
});
export type FaceInput = z.infer<typeof FaceInput>;

export const FaceEntry = z.strictObject({
	bbox: Box,
	/** Detection score 0–1. */
	score: z.number().min(0).max(1),
	landmarks: z.strictObject({ left_eye: Point, right_eye: Point, nose_tip: Point }),
	crop_url: z.string().nullable(),
	head_pose: z.strictObject({ yaw: z.number(), pitch: z.number(), roll: z.number() }),
	age: z.number().nullable(),
	age_range: z.string().regex(/^\d+-\d+$/).nullable(),
	gender: z.enum(["female", "male"]).nullable(),
	gender_confidence: z.number().min(0).max(1).nullable(),
	/** The dominant emotion (the frontend expects a string). */
	expression: z.string(),
	emotions: z.record(z.string(), z.number()),
	is_subject: z.boolean(),
	/** Face box area / image area. */
	size_ratio: z.number().min(0).max(1),
	liveness: z.strictObject({ real: z.number().nullable(), live: z.number().nullable() })
});

export const FaceOutput = z.strictObject({
	num_faces: z.number().int().min(0),
	faces: z.array(FaceEntry),
	subject_index: z.number().int().min(0).nullable(),
	quality: ImageQuality,
	warnings: z.array(z.string()),
	confidence: z.number().min(0).max(1),
	disclaimers: z.array(z.string()),
	/** True when age and gender estimates are included (biometric consent and a biometric pass). */
	biometric: z.boolean(),
	model_version: z.string()
});
export type FaceOutput = z.infer<typeof FaceOutput>;

export interface FaceDeps {
	/** Stores a crop of the analysed image ([x, y, w, h] px) and answers its signed URL (null: nothing to crop). */
	crop(box: [number, number, number, number]): Promise<string | null>;
}

/** Face area as a share of the image area. */
export function sizeRatio(box: readonly number[], width: number, height: number): number {
	return width > 0 && height > 0 ? round(clamp((box[2] * box[3]) / (width * height), 0, 1), 4) : 0;
}

/**
 * The subject among several faces: the largest, most central one. Prominence is the face's
 * area share times a centrality weight that falls from 1 (box centre at the image centre)
 * to 0.5 (at a corner), so a big face wins over a small central one and, between faces of
 * similar size, the more central one wins. Ties go to the first detected.
 */
export function subjectIndex(faces: readonly { box: readonly number[] }[], width: number, height: number): number | null {
	return argmax(faces, f => sizeRatio(f.box, width, height) * centreWeight(f.box, width, height));
}

/** A 10-year band around the age estimate, e.g. 29.3 → "24-34". */
export function ageRange(age: number): string {
	return `${Math.max(0, Math.round(age - FACE_RULES.ageHalfBand))}-${Math.round(age + FACE_RULES.ageHalfBand)}`;
}

/** The dominant emotion of a distribution ("unknown" when there is none). */
export function dominantEmotion(emotions: Record<string, number>): string {
	return topKey(emotions) ?? "unknown";
}

/**
 * 0–1: the subject's detection score × a size factor (√(area share / 10 %), between 0.2 and 1:
 * a face filling 10 % of the photo or more counts fully) × a quality factor (1, minus 0.3 when
 * blurry, minus 0.2 when too dark or too bright), capped at 0.95: one photo never makes an
 * estimate certain. No face: 0 — there is no face reading to trust.
 */
export function faceConfidence(score: number | null, ratio: number, q: ImageQuality): number {
	if (score === null) return 0;
	const size = clamp(Math.sqrt(ratio / FACE_RULES.fullConfidenceArea), 0.2, 1);
	const quality = 1 - (q.blurry ? 0.3 : 0) - (q.too_dark || q.too_bright ? 0.2 : 0);
	return round(clamp(score * size * quality, 0, FACE_RULES.maxConfidence));
}

/** The box grown by `pad` of its size on each side (the crop service clips it to the image). */
function padBox([x, y, w, h]: readonly number[], pad: number): [number, number, number, number] {
	return [Math.round(x - w * pad), Math.round(y - h * pad), Math.round(w * (1 + 2 * pad)), Math.round(h * (1 + 2 * pad))];
}

function describe(f: VisionFace, isSubject: boolean, v: VisionResult, biometric: boolean, crop_url: string | null): z.input<typeof FaceEntry> {
	// Built field by field: whatever else the vision pass carries (the descriptor) stays behind.
	const age = biometric && f.age !== null ? round(f.age, 1) : null;
	return {
		bbox: [f.box[0], f.box[1], f.box[2], f.box[3]],
		score: f.score,
		landmarks: { left_eye: f.landmarks.left_eye, right_eye: f.landmarks.right_eye, nose_tip: f.landmarks.nose_tip },
		crop_url,
		head_pose: { yaw: f.head_pose.yaw, pitch: f.head_pose.pitch, roll: f.head_pose.roll },
		age,
		age_range: age === null ? null : ageRange(age),
		gender: biometric ? f.gender : null,
		gender_confidence: biometric && f.gender !== null && f.gender_confidence !== null ? clamp(f.gender_confidence, 0, 1) : null,
		expression: dominantEmotion(f.emotions),
		emotions: { ...f.emotions },
		is_subject: isSubject,
		size_ratio: sizeRatio(f.box, v.width, v.height),
		liveness: { real: f.real, live: f.live }
	};
}

const pct = (r: number) => `${Math.max(1, Math.round(r * 100))}%`;

/** What limits the reading, in plain and kind words. */
export function faceWarnings(v: VisionResult, subject: number | null): string[] {
	const out: string[] = [];
	const q = v.quality;
	if (subject === null) out.push("No face was detected in this photo, so there is no face analysis. A well-lit photo with your face clearly visible works best.");
	else {
		const face = v.faces[subject];
		if (v.faces.length > 1)
			out.push(`${v.faces.length} faces were detected; the analysis focuses on the largest, most central one (face ${subject + 1} of ${v.faces.length}).`);
		const ratio = sizeRatio(face.box, v.width, v.height);
		if (ratio < FACE_RULES.minFaceArea)
			out.push(`The face takes up only about ${pct(ratio)} of the photo, too small for reliable readings: a closer shot gives better results.`);
		if ((face.real !== null && face.real < FACE_RULES.minLiveness) || (face.live !== null && face.live < FACE_RULES.minLiveness))
			out.push("This is likely not a live photo (it may be a photo of a screen or a print), so the readings may be less reliable.");
	}
	if (q.blurry) out.push("The photo looks blurry, which makes the readings less reliable: a sharper photo gives better results.");
	if (q.too_dark) out.push("The photo is quite dark, which makes the readings less reliable: try more light on your face.");
	if (q.too_bright) out.push("The photo is very bright (overexposed), which makes the readings less reliable: try softer light.");
	return out;
}

export const face = defineAgent({
	name: "face",
	version: "1.0.0",
	input: FaceInput,
	output: FaceOutput,
	async run(input: FaceInput, deps: FaceDeps): Promise<z.input<typeof FaceOutput>> {
		if (!input.consent.face) throw consentRequired("face_analysis");
		const v = input.vision;
		const biometric = input.consent.biometric && v.biometric;
		const subject = subjectIndex(v.faces, v.width, v.height);
		const warnings = faceWarnings(v, subject);

		const faces: z.input<typeof FaceEntry>[] = [];
		let cropFailed = false;
		for (const [i, f] of v.faces.entries()) {
			let url: string | null = null;
			// Only the subject's face is cropped and stored: bystanders did not ask to be analysed.
			if (i === subject) {
				try {
					url = await deps.crop(padBox(f.box, FACE_RULES.cropPadding));
				} catch {
					cropFailed = true;
				}
			}
			faces.push(describe(f, i === subject, v, biometric, url));
		}
		if (cropFailed) warnings.push("A face preview could not be saved; the analysis itself is complete.");

		const s = subject === null ? null : faces[subject];
		const disclaimers = ["Expressions are AI estimates from a single moment in a single photo and can be wrong."];
		if (biometric) disclaimers.push("Age and gender are AI estimates from appearance alone; they can be wrong and say nothing about who you are.");
		return {
			num_faces: faces.length,
			faces,
			subject_index: subject,
			quality: v.quality,
			warnings,
			confidence: faceConfidence(s ? s.score : null, s ? s.size_ratio : 0, v.quality),
			disclaimers,
			biometric,
			model_version: v.model_version
		};
	}
});

export default face;
