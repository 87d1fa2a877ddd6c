import { z } from "zod";
import { policyOf, ProviderHttpError, requestWithRetry, scrub, type RetryPolicy } from "../http";
import { ChatReply, chatCompletionsUrl, openaiErrorCode, parseJsonAnswer, reaskMessage } from "../openai-chat";
import { prepareImage, round, type VisionProvider } from "./remote";
import { KEYPOINT_NAMES, type VisionBody, type VisionFace, type VisionObject } from "./types";

/**
 * A vision-capable chat model behind any OpenAI-compatible Chat Completions API as a vision
 * provider (`POST {OPENAI_BASE_URL}/chat/completions`, `Authorization: Bearer`).
 *
 * Plain `fetch` through ../http.ts rather than the `openai` SDK: this is one request shape,
 * and the shared client gives both remote providers the same deadline, retry/backoff and
 * secret scrubbing (the SDK would add its own, different retries on top), keeps `agents/`
 * free of another dependency, and the fake server in the tests checks the wire format itself.
 *
 * The image goes as a `data:image/jpeg;base64,…` URL (upright, ≤ 1024 px, no EXIF). The reply
 * is constrained with `response_format: json_schema` (strict) built from the zod schema below
 * by `z.toJSONSchema`, then parsed and validated with the same schema. An invalid reply (not
 * JSON, or not the schema) is re-asked once with the problem stated; a second invalid reply
 * fails the call (the vision service then falls back to the local models).
 *
 * The schema avoids what strict mode rejects (tuples, open records): points are `{x,y}`, boxes
 * `{x,y,width,height}`, as fractions 0–1 of the image's width and height (vision models place
 * things more reliably in relative terms), mapped here to pixels of the upright stored image.
 * Without biometric consent the schema has no age/gender fields and the prompt says not to
 * estimate them; with consent it has them. A chat model gives no descriptor, anti-spoofing or
 * liveness score: those are null.
 */

const SEND_EDGE = 1024;
export const EMOTIONS = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"] as const;

const frac = z.number().min(0).max(1);
const Pt = z.object({ x: frac, y: frac });
const BoxN = z.object({ x: frac, y: frac, width: frac, height: frac });
const FaceCore = {
	box: BoxN,
	confidence: frac,
	landmarks: z.object({ left_eye: Pt, right_eye: Pt, nose_tip: Pt }),
	head_pose: z.object({ yaw: z.number().min(-90).max(90), pitch: z.number().min(-90).max(90), roll: z.number().min(-180).max(180) }),
	emotions: z.object(Object.fromEntries(EMOTIONS.map(e => [e, frac])) as Record<(typeof EMOTIONS)[number], typeof frac>)
};
const FaceNoBio = z.object(FaceCore);
const FaceBio = z.object({
	...FaceCore,
	age: z.number().min(0).max(120).nullable(),
	gender: z.enum(["female", "male"]).nullable(),
	gender_confidence: frac.nullable()
});
const Body = z.object({
	box: BoxN,
	confidence: frac,
	keypoints: z.array(z.object({ name: z.enum(KEYPOINT_NAMES), x: frac, y: frac, confidence: frac }))
});
const Obj = z.object({ label: z.string().min(1).max(60), confidence: frac, box: BoxN });

export const ModelOutputNoBio = z.object({ faces: z.array(FaceNoBio), bodies: z.array(Body), objects: z.array(Obj) });
export const ModelOutputBio = z.object({ faces: z.array(FaceBio), bodies: z.array(Body), objects: z.array(Obj) });
export type ModelOutput = z.infer<typeof ModelOutputBio> | z.infer<typeof ModelOutputNoBio>;

/** The JSON Schema sent as `response_format` (OpenAI wants no `$schema` key). */
export function outputJsonSchema(biometric: boolean): Record<string, unknown> {
	const { $schema: _ignored, ...schema } = z.toJSONSchema(biometric ? ModelOutputBio : ModelOutputNoBio, { io: "output" }) as Record<string, unknown>;
	return schema;
}

export function instructions(biometric: boolean): string {
	return [
		"You are the vision pass of a photo-feedback app. Describe only what is visible in the photo and answer with a single JSON object that follows the given schema.",
		"Coordinates are fractions of the image: x from 0 (left edge) to 1 (right edge), y from 0 (top) to 1 (bottom); a box is its top-left corner plus width and height.",
		"faces: every human face. landmarks are from the person's own point of view: left_eye is the person's left eye (on the image's right for a face looking at the camera). head_pose in degrees: yaw (positive: turned to the image's right), pitch (positive: looking up), roll (positive: tilted clockwise). emotions: a probability distribution over the seven expressions (summing to at most 1). confidence: how sure you are it is a face.",
		biometric
			? "The person consented to age and gender estimates: give age in years, gender (female or male) and gender_confidence 0–1, or null when you cannot tell."
			: "Do not estimate age, gender, ethnicity or identity.",
		"bodies: each visible person, with the body keypoints you can see (COCO names) and a confidence for each. objects: notable items such as clothing accessories (tie, handbag, backpack, umbrella, suitcase, glasses), with COCO-style labels.",
		"Never identify who anyone is. Use empty arrays when there is nothing to report."
	].join("\n");
}

export interface OpenAIVisionOptions extends RetryPolicy {
	baseUrl: string;
	apiKey: string;
	model: string;
	timeoutMs: number;
}

/** Validates the model's message content; answers the parsed output or a short problem. */
export function parseModelContent(content: string | null | undefined, biometric: boolean): { ok: true; value: ModelOutput } | { ok: false; problem: string } {
	const schema: z.ZodType<ModelOutput> = biometric ? ModelOutputBio : ModelOutputNoBio;
	return parseJsonAnswer(content, schema, 3);
}

/** Maps the model's output (fractions) to the shared shape (pixels of the stored image). */
export function mapModelOutput(out: ModelOutput, size: { width: number; height: number }, biometric: boolean): { faces: VisionFace[]; bodies: VisionBody[]; objects: VisionObject[] } {
	const W = size.width;
	const H = size.height;
	const box = (b: z.infer<typeof BoxN>): [number, number, number, number] => {
		const x = Math.min(W - 1, Math.round(b.x * W));
		const y = Math.min(H - 1, Math.round(b.y * H));
		return [x, y, Math.max(1, Math.min(W - x, Math.round(b.width * W))), Math.max(1, Math.min(H - y, Math.round(b.height * H)))];
	};
	const pt = (p: { x: number; y: number }): [number, number] => [round(p.x * W, 1), round(p.y * H, 1)];
	return {
		faces: out.faces.map(f => {
			const total = EMOTIONS.reduce((s, e) => s + f.emotions[e], 0);
			const scale = total > 1 ? 1 / total : 1;
			const bio = "age" in f ? f : null;
			return {
				box: box(f.box),
				score: round(f.confidence),
				landmarks: { left_eye: pt(f.landmarks.left_eye), right_eye: pt(f.landmarks.right_eye), nose_tip: pt(f.landmarks.nose_tip) },
				head_pose: { yaw: round(f.head_pose.yaw, 1), pitch: round(f.head_pose.pitch, 1), roll: round(f.head_pose.roll, 1) },
				emotions: Object.fromEntries(EMOTIONS.map(e => [e, round(f.emotions[e] * scale)])),
				age: biometric && bio && bio.age !== null ? round(bio.age, 1) : null,
				gender: biometric && bio ? bio.gender : null,
				gender_confidence: biometric && bio && bio.gender !== null && bio.gender_confidence !== null ? round(bio.gender_confidence) : null,
				descriptor: null,
				real: null,
				live: null
			};
		}),
		bodies: out.bodies.map(b => ({
			box: box(b.box),
			score: round(b.confidence),
			keypoints: b.keypoints.map(k => ({ name: k.name, x: round(k.x * W, 1), y: round(k.y * H, 1), z: 0, score: round(k.confidence) }))
		})),
		objects: out.objects.map(o => ({ label: o.label.trim().toLowerCase(), score: round(o.confidence), box: box(o.box) }))
	};
}

type Message = { role: "system" | "user" | "assistant"; content: string | unknown[] };

export function createOpenAIVisionProvider(o: OpenAIVisionOptions): VisionProvider {
	const url = chatCompletionsUrl(o.baseUrl);
	const secrets = [o.apiKey];
	return {
		name: "openai",
		async analyze(image, { biometric }) {
			const started = Date.now();
			const img = await prepareImage(image, SEND_EDGE);
			const messages: Message[] = [
				{ role: "system", content: instructions(biometric) },
				{
					role: "user",
					content: [
						{ type: "text", text: `Analyse this photo (${img.sentWidth}×${img.sentHeight} pixels).` },
						{ type: "image_url", image_url: { url: `data:image/jpeg;base64,${img.jpeg.toString("base64")}`, detail: "high" } }
					]
				}
			];
			const schema = outputJsonSchema(biometric);
			let attempts = 0;
			const ask = async (): Promise<{ content: string | null | undefined; model: string }> => {
				const reply = await requestWithRetry({
					...policyOf(o),
					provider: "openai",
					url,
					headers: { authorization: `Bearer ${o.apiKey}`, "content-type": "application/json", accept: "application/json" },
					body: JSON.stringify({
						model: o.model,
						messages,
						response_format: { type: "json_schema", json_schema: { name: biometric ? "vision_pass_biometric" : "vision_pass", schema, strict: true } }
					}),
					// The deadline is shared by the first question and the re-ask.
					timeoutMs: Math.max(1, o.timeoutMs - (Date.now() - started)),
					secrets,
					reasonOf: (_status, text) => openaiErrorCode(text)
				});
				attempts += reply.attempts;
				let body: unknown;
				try {
					body = JSON.parse(reply.text);
				} catch {
					throw new ProviderHttpError("openai", null, "invalid_json in reply", false, attempts);
				}
				const chat = ChatReply.safeParse(body);
				if (!chat.success) throw new ProviderHttpError("openai", null, "unexpected reply: no choices[0].message", false, attempts);
				const msg = chat.data.choices[0].message;
				if (msg.refusal) throw new ProviderHttpError("openai", null, scrub(`refused: ${msg.refusal}`, secrets, 80), false, attempts);
				return { content: msg.content, model: chat.data.model ?? o.model };
			};

			let answer = await ask();
			let result = parseModelContent(answer.content, biometric);
			if (!result.ok) {
				// One re-ask, with the problem stated; then fail closed.
				messages.push({ role: "assistant", content: answer.content ?? "" });
				messages.push({ role: "user", content: reaskMessage(result.problem) });
				answer = await ask();
				result = parseModelContent(answer.content, biometric);
				if (!result.ok) throw new ProviderHttpError("openai", null, scrub(`invalid output after a re-ask: ${result.problem}`, secrets), false, attempts);
			}
			return {
				width: img.width,
				height: img.height,
				...mapModelOutput(result.value, img, biometric),
				quality: img.quality,
				biometric,
				provider: "openai",
				model_version: `openai:${answer.model}`,
				inference_ms: Date.now() - started
			};
		}
	};
}
