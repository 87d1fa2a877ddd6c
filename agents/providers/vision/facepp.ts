import { z } from "zod";
import { policyOf, ProviderHttpError, requestWithRetry, scrub, type RetryPolicy } from "../http";
import { prepareImage, round, clamp01, type VisionProvider } from "./remote";
import type { VisionFace } from "./types";

/**
 * Face++ (Megvii) Detect API v3 as a vision provider.
 *
 * Request: `POST FACEPP_URL`, multipart/form-data with `api_key`, `api_secret`,
 * `image_base64` (the upright JPEG, longest edge ≤ 1600 px and ≤ 2 MB, Face++'s limits),
 * `return_landmark=1` and `return_attributes`. The secret travels only in its form field:
 * never in the URL, a log line or an error message.
 *
 * Consent: without biometric consent only `emotion,headpose` are requested; `gender,age` are
 * added only with it. `beauty` (an attractiveness estimate) is never requested: the result
 * shape has no place for it and the aggregator computes attractiveness itself, with consent;
 * `blur`, `eyestatus` and `facequality` are not requested either, since image quality comes
 * from sharp on our side, exactly as for the local models (asking a third party for data we
 * drop would only widen what leaves the server).
 *
 * Mapping to `VisionResult`:
 * - `face_rectangle{top,left,width,height}` (pixels of the image sent) → `box [x,y,w,h]` in
 *   pixels of the upright stored image;
 * - landmarks: Face++ names eyes from the viewer's side (`left_eye_center` has the smaller x
 *   on a frontal face), the local model from the subject's side (its `left_eye` is on the image's
 *   right). We follow the local convention: `left_eye` ← `right_eye_center`,
 *   `right_eye` ← `left_eye_center`, `nose_tip` ← `nose_tip`;
 * - `emotion` (0–100, names anger, happiness, sadness …) → the local model's names (angry,
 *   happy, sad, …) with scores 0–1;
 * - `headpose{yaw_angle,pitch_angle,roll_angle}` (degrees) → `head_pose{yaw,pitch,roll}`;
 * - `gender.value` Male/Female → male/female, `age.value` → age (consent only); Face++ v3
 *   gives no gender confidence, so `gender_confidence` is null;
 * - Face++ detect reports no detection score (only faces above its own threshold), so `score`
 *   is 1; no descriptor, no anti-spoofing or liveness (null); no bodies or objects.
 * Face++ returns attributes for the five largest faces only; the others keep a box, landmarks
 * and an empty emotion distribution.
 */

export const FACEPP_MODEL_VERSION = "facepp-detect-v3";
const SEND_EDGE = 1600;
const MAX_BYTES = 2 * 1024 * 1024;

export const FACEPP_EMOTIONS: Record<string, string> = {
	anger: "angry",
	disgust: "disgust",
	fear: "fear",
	happiness: "happy",
	neutral: "neutral",
	sadness: "sad",
	surprise: "surprise"
};

const Pt = z.object({ x: z.number(), y: z.number() });
const FaceppFace = z.object({
	face_token: z.string().optional(),
	face_rectangle: z.object({ top: z.number(), left: z.number(), width: z.number(), height: z.number() }),
	landmark: z.record(z.string(), Pt).optional(),
	attributes: z
		.object({
			gender: z.object({ value: z.string() }).optional(),
			age: z.object({ value: z.number() }).optional(),
			emotion: z.record(z.string(), z.number()).optional(),
			headpose: z.object({ yaw_angle: z.number(), pitch_angle: z.number(), roll_angle: z.number() }).optional()
		})
		.optional()
});
export const FaceppDetectReply = z.object({
	request_id: z.string().optional(),
	image_id: z.string().optional(),
	time_used: z.number().optional(),
	face_num: z.number().optional(),
	faces: z.array(FaceppFace)
});
export type FaceppDetectReply = z.infer<typeof FaceppDetectReply>;

export interface FaceppOptions extends RetryPolicy {
	url: string;
	apiKey: string;
	apiSecret: string;
	timeoutMs: number;
}

/** The `return_attributes` value for a consent level. */
export function faceppAttributes(biometric: boolean): string {
	return biometric ? "gender,age,emotion,headpose" : "emotion,headpose";
}

function errorMessageOf(text: string): string | null {
	try {
		const m = (JSON.parse(text) as { error_message?: unknown }).error_message;
		return typeof m === "string" ? m : null;
	} catch {
		return null;
	}
}

/** Maps one Face++ face to the shared shape; `k` scales sent-image pixels to stored-image pixels. */
export function mapFaceppFace(f: z.infer<typeof FaceppFace>, k: number, size: { width: number; height: number }, biometric: boolean): VisionFace {
	const r = f.face_rectangle;
	const x = Math.max(0, Math.round(r.left * k));
	const y = Math.max(0, Math.round(r.top * k));
	const box: VisionFace["box"] = [x, y, Math.max(1, Math.min(size.width - x, Math.round(r.width * k))), Math.max(1, Math.min(size.height - y, Math.round(r.height * k)))];
	const pt = (p: { x: number; y: number } | undefined, fx: number, fy: number): [number, number] =>
		p ? [round(p.x * k, 1), round(p.y * k, 1)] : [round(box[0] + box[2] * fx, 1), round(box[1] + box[3] * fy, 1)];
	const lm = f.landmark ?? {};
	const a = f.attributes ?? {};
	// Percentages → a distribution (rounded down to 3 decimals, so it never sums above 1).
	const raw = Object.entries(a.emotion ?? {}).filter(([name, v]) => FACEPP_EMOTIONS[name] && Number.isFinite(v));
	const total = Math.max(100, raw.reduce((s, [, v]) => s + Math.max(0, v), 0));
	const emotions = Object.fromEntries(raw.map(([name, v]) => [FACEPP_EMOTIONS[name], Math.floor(clamp01(v / total) * 1000 + 1e-6) / 1000]));
	const gender = a.gender?.value.toLowerCase();
	return {
		box,
		score: 1,
		landmarks: {
			left_eye: pt(lm.right_eye_center, 0.65, 0.4),
			right_eye: pt(lm.left_eye_center, 0.35, 0.4),
			nose_tip: pt(lm.nose_tip, 0.5, 0.6)
		},
		head_pose: a.headpose ? { yaw: round(a.headpose.yaw_angle, 1), pitch: round(a.headpose.pitch_angle, 1), roll: round(a.headpose.roll_angle, 1) } : { yaw: 0, pitch: 0, roll: 0 },
		emotions,
		age: biometric && typeof a.age?.value === "number" ? a.age.value : null,
		gender: biometric && (gender === "male" || gender === "female") ? gender : null,
		gender_confidence: null,
		descriptor: null,
		real: null,
		live: null
	};
}

export function createFaceppProvider(o: FaceppOptions): VisionProvider {
	const secrets = [o.apiSecret, o.apiKey];
	return {
		name: "facepp",
		async analyze(image, { biometric }) {
			const started = Date.now();
			const img = await prepareImage(image, SEND_EDGE, MAX_BYTES);
			const form = new FormData();
			form.set("api_key", o.apiKey);
			form.set("api_secret", o.apiSecret);
			form.set("image_base64", img.jpeg.toString("base64"));
			form.set("return_landmark", "1");
			form.set("return_attributes", faceppAttributes(biometric));
			const reply = await requestWithRetry({
				...policyOf(o),
				provider: "facepp",
				url: o.url,
				body: form,
				timeoutMs: o.timeoutMs,
				secrets,
				reasonOf: (_status, text) => errorMessageOf(text),
				// Face++ signals throttling as 403 CONCURRENCY_LIMIT_EXCEEDED.
				retryableReply: (status, text) => status === 403 && errorMessageOf(text) === "CONCURRENCY_LIMIT_EXCEEDED"
			});
			let json: unknown;
			try {
				json = JSON.parse(reply.text);
			} catch {
				throw new ProviderHttpError("facepp", null, "invalid_json in reply", false, reply.attempts);
			}
			const parsed = FaceppDetectReply.safeParse(json);
			if (!parsed.success) {
				const issue = parsed.error.issues[0];
				throw new ProviderHttpError("facepp", null, scrub(`unexpected reply: ${issue.path.join(".")} ${issue.message}`, secrets), false, reply.attempts);
			}
			const k = img.width / img.sentWidth;
			return {
				width: img.width,
				height: img.height,
				faces: parsed.data.faces.map(f => mapFaceppFace(f, k, img, biometric)),
				bodies: [],
				objects: [],
				quality: img.quality,
				biometric,
				provider: "facepp",
				model_version: FACEPP_MODEL_VERSION,
				inference_ms: Date.now() - started
			};
		}
	};
}
