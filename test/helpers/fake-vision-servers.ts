import { randomBytes, randomUUID } from "node:crypto";
import type { IncomingHttpHeaders, ServerResponse } from "node:http";
import sharp from "sharp";
import { assistantMessage, chatCompletion, openaiError, openaiRejected, openaiScriptedError, recordJson, send, startScriptedServer, validJsonSchemaFormat, type FakeServer, type RecordedRequest, type ScriptedReply } from "./fake-http";

export type { FakeServer, RecordedRequest, ScriptedReply } from "./fake-http";

/**
 * Local stand-ins for the remote vision APIs, speaking their real wire formats on 127.0.0.1
 * (port 0): the Face++ Detect API v3 (multipart or urlencoded form in, JSON out, errors as
 * `{error_message}`) and an OpenAI-compatible Chat Completions endpoint (JSON in, a
 * `chat.completion` out, errors as `{error:{message,type,code}}`).
 *
 * By default each server behaves like the real service: it checks the credentials, the
 * required fields and the image, and answers from the faces it was given. A test can script
 * the next replies (an error status, a Retry-After, a delay past the client's timeout,
 * malformed JSON, a given model message) and read every request it received.
 */

/** Decodes a body as a web form (multipart or urlencoded), as the real APIs accept both. */
async function formFields(headers: IncomingHttpHeaders, body: Buffer): Promise<Record<string, string> | null> {
	const type = headers["content-type"] ?? "";
	if (!/^(multipart\/form-data|application\/x-www-form-urlencoded)/i.test(type)) return null;
	try {
		const form = await new Request("http://fake/", { method: "POST", headers: { "content-type": type }, body }).formData();
		const out: Record<string, string> = {};
		for (const [k, v] of form.entries()) out[k] = typeof v === "string" ? v : await v.text();
		return out;
	} catch {
		return null;
	}
}

// ---------------------------------------------------------------------------------------------
// Face++ Detect API v3
// ---------------------------------------------------------------------------------------------

/** A face the fake Face++ "detects": its rectangle in fractions of the image it receives. */
export interface FakeFaceppFace {
	rect: { left: number; top: number; width: number; height: number };
	gender?: "Male" | "Female";
	age?: number;
	/** 0–100, Face++ names. */
	emotion?: Partial<Record<"anger" | "disgust" | "fear" | "happiness" | "neutral" | "sadness" | "surprise", number>>;
	headpose?: { yaw_angle: number; pitch_angle: number; roll_angle: number };
}

export const DEFAULT_FACEPP_FACE: FakeFaceppFace = {
	rect: { left: 0.3, top: 0.2, width: 0.4, height: 0.5 },
	gender: "Female",
	age: 31,
	emotion: { anger: 0.1, disgust: 0.05, fear: 0.05, happiness: 92.3, neutral: 6.5, sadness: 0.5, surprise: 0.5 },
	headpose: { yaw_angle: -8.4, pitch_angle: 3.2, roll_angle: 1.7 }
};

export interface FakeFacepp extends FakeServer {
	/** The faces the next "real" replies report. */
	faces: FakeFaceppFace[];
	/** Size of the last image received (decoded). */
	lastImage: { width: number; height: number } | null;
}

const FACEPP_ATTRIBUTES = new Set(["gender", "age", "smiling", "headpose", "facequality", "blur", "eyestatus", "emotion", "ethnicity", "beauty", "mouthstatus", "eyegaze", "skinstatus", "none"]);

export async function startFakeFacepp(creds: { apiKey: string; apiSecret: string }, faces: FakeFaceppFace[] = [DEFAULT_FACEPP_FACE]): Promise<FakeFacepp> {
	const state = { faces, lastImage: null as { width: number; height: number } | null };
	const requestId = () => `${Date.now()},${randomUUID()}`;
	const error = (res: ServerResponse, status: number, message: string, headers?: Record<string, string>) =>
		send(res, status, JSON.stringify({ time_used: 0, error_message: message, request_id: requestId() }), headers);

	const fake = await startScriptedServer<ScriptedReply, RecordedRequest>({
		record: async (req, body) => ({
			method: req.method ?? "",
			path: req.url ?? "",
			headers: req.headers,
			rawBody: body.toString("latin1"),
			fields: (await formFields(req.headers, body)) ?? undefined
		}),
		scriptedError: (res, status, headers) => error(res, status, status === 429 ? "CONCURRENCY_LIMIT_EXCEEDED" : status >= 500 ? "INTERNAL_ERROR" : "BAD_ARGUMENTS", headers),
		handle: async (req, res, { fields }, scripted) => {
			// The real service from here on.
			if (req.method !== "POST") return error(res, 404, "API_NOT_FOUND");
			if (!fields) return error(res, 400, "MISSING_ARGUMENTS: api_key");
			if (!fields.api_key) return error(res, 400, "MISSING_ARGUMENTS: api_key");
			if (!fields.api_secret) return error(res, 400, "MISSING_ARGUMENTS: api_secret");
			if (fields.api_key !== creds.apiKey || fields.api_secret !== creds.apiSecret) return error(res, 401, "AUTHENTICATION_ERROR");
			const b64 = fields.image_base64;
			if (!b64 && !fields.image_url && !fields.image_file) return error(res, 400, "MISSING_ARGUMENTS: image_url, image_file, image_base64");
			if (!b64) return error(res, 400, "BAD_ARGUMENTS: image_base64 expected by this fake");
			const bytes = Buffer.from(b64, "base64");
			if (bytes.length > 2 * 1024 * 1024) return error(res, 400, "IMAGE_FILE_TOO_LARGE");
			let meta: Awaited<ReturnType<ReturnType<typeof sharp>["metadata"]>>;
			try {
				meta = await sharp(bytes).metadata();
			} catch {
				return error(res, 400, "IMAGE_ERROR_UNSUPPORTED_FORMAT: image_base64");
			}
			const W = meta.width ?? 0;
			const H = meta.height ?? 0;
			if (W < 48 || H < 48 || W > 4096 || H > 4096) return error(res, 400, "INVALID_IMAGE_SIZE: image_base64");
			state.lastImage = { width: W, height: H };
			const attrs = (fields.return_attributes ?? "none").split(",").map(s => s.trim()).filter(Boolean);
			const bad = attrs.find(a => !FACEPP_ATTRIBUTES.has(a));
			if (bad) return error(res, 400, `BAD_ARGUMENTS: return_attributes`);
			const landmark = fields.return_landmark === "1" || fields.return_landmark === "2";

			const out = state.faces.map((f, i) => {
				const r = { left: Math.round(f.rect.left * W), top: Math.round(f.rect.top * H), width: Math.round(f.rect.width * W), height: Math.round(f.rect.height * H) };
				const at = (fx: number, fy: number) => ({ x: Math.round(r.left + r.width * fx), y: Math.round(r.top + r.height * fy) });
				const face: Record<string, unknown> = { face_token: randomBytes(16).toString("hex"), face_rectangle: r };
				if (landmark) {
					// Face++ names eyes from the viewer's side: left_eye_* is the one on the image's left.
					face.landmark = {
						left_eye_center: at(0.3, 0.4),
						left_eye_pupil: at(0.3, 0.4),
						right_eye_center: at(0.7, 0.4),
						right_eye_pupil: at(0.7, 0.4),
						nose_tip: at(0.5, 0.6),
						nose_left: at(0.42, 0.62),
						nose_right: at(0.58, 0.62),
						mouth_left_corner: at(0.36, 0.78),
						mouth_right_corner: at(0.64, 0.78),
						contour_chin: at(0.5, 1)
					};
				}
				// Attributes only for the five largest faces, as the real API does.
				if (i < 5 && attrs.length && !attrs.includes("none")) {
					const a: Record<string, unknown> = {};
					if (attrs.includes("gender")) a.gender = { value: f.gender ?? "Male" };
					if (attrs.includes("age")) a.age = { value: f.age ?? 30 };
					if (attrs.includes("emotion")) a.emotion = { anger: 0, disgust: 0, fear: 0, happiness: 0, neutral: 100, sadness: 0, surprise: 0, ...f.emotion };
					if (attrs.includes("headpose")) a.headpose = f.headpose ?? { yaw_angle: 0, pitch_angle: 0, roll_angle: 0 };
					if (attrs.includes("beauty")) a.beauty = { male_score: 70.1, female_score: 72.4 };
					if (attrs.includes("blur")) a.blur = { blurness: { threshold: 50, value: 1.2 }, motionblur: { threshold: 50, value: 1.2 }, gaussianblur: { threshold: 50, value: 1.2 } };
					if (attrs.includes("facequality")) a.facequality = { threshold: 70.1, value: 88.2 };
					face.attributes = a;
				}
				return face;
			});
			send(res, 200, JSON.stringify({ image_id: randomBytes(12).toString("base64"), request_id: requestId(), time_used: 87, faces: out, face_num: out.length }), scripted?.headers);
		}
	});

	return Object.assign(state, { ...fake, url: `${fake.url}/facepp/v3/detect` });
}

// ---------------------------------------------------------------------------------------------
// OpenAI-compatible Chat Completions
// ---------------------------------------------------------------------------------------------

export interface FakeOpenAI extends FakeServer {
	/** Base URL to configure (`…/v1`). */
	baseUrl: string;
	/** Builds the assistant content of a "real" reply from the request (default: `validModelAnswer`). */
	answer: (req: RecordedRequest) => string;
}

/** Does the request's response_format schema include the biometric fields? */
export function asksForBiometrics(req: RecordedRequest): boolean {
	const face = req.json?.response_format?.json_schema?.schema?.properties?.faces?.items;
	return Boolean(face?.properties?.age);
}

/** A model answer that satisfies the schema the request sent (one face, one body, one object). */
export function validModelAnswer(req: RecordedRequest): string {
	const face: Record<string, unknown> = {
		box: { x: 0.3, y: 0.2, width: 0.4, height: 0.5 },
		confidence: 0.93,
		landmarks: { left_eye: { x: 0.58, y: 0.4 }, right_eye: { x: 0.42, y: 0.4 }, nose_tip: { x: 0.5, y: 0.5 } },
		head_pose: { yaw: 5, pitch: -2, roll: 1.5 },
		emotions: { angry: 0.01, disgust: 0.01, fear: 0.01, happy: 0.8, neutral: 0.15, sad: 0.01, surprise: 0.01 }
	};
	if (asksForBiometrics(req)) Object.assign(face, { age: 29, gender: "male", gender_confidence: 0.9 });
	return JSON.stringify({
		faces: [face],
		bodies: [
			{
				box: { x: 0.1, y: 0.1, width: 0.8, height: 0.9 },
				confidence: 0.8,
				keypoints: [
					{ name: "leftShoulder", x: 0.7, y: 0.75, confidence: 0.9 },
					{ name: "rightShoulder", x: 0.3, y: 0.75, confidence: 0.85 }
				]
			}
		],
		objects: [{ label: "Handbag", confidence: 0.6, box: { x: 0.6, y: 0.7, width: 0.2, height: 0.2 } }]
	});
}

export async function startFakeOpenAI(creds: { apiKey: string }, model = "gpt-4o-mini-2024-07-18"): Promise<FakeOpenAI> {
	const state = { answer: validModelAnswer as (req: RecordedRequest) => string };
	const error = (res: ServerResponse, status: number, message: string, type: string, code: string | null) => openaiError(res, status, message, type, code);

	const fake = await startScriptedServer<ScriptedReply, RecordedRequest>({
		record: recordJson,
		scriptedError: openaiScriptedError,
		handle: async (req, res, rec, scripted) => {
			// The real API from here on.
			const json = rec.json;
			if (openaiRejected(req, res, json, creds.apiKey)) return;
			if (!Array.isArray(json.messages) || !json.messages.length) return error(res, 400, "Missing required parameter: 'messages'.", "invalid_request_error", "missing_required_parameter");
			const images = json.messages.flatMap((m: any) => (Array.isArray(m.content) ? m.content : [])).filter((p: any) => p?.type === "image_url");
			if (!images.length || !images.every((p: any) => /^data:image\/(jpeg|png|webp|gif);base64,/.test(p.image_url?.url ?? ""))) {
				return error(res, 400, "Invalid image_url: expected a data URL or an https URL.", "invalid_request_error", "invalid_image_url");
			}
			try {
				await sharp(Buffer.from(images[0].image_url.url.replace(/^data:[^,]+,/, ""), "base64")).metadata();
			} catch {
				return error(res, 400, "You uploaded an unsupported image. Please make sure your image is valid.", "invalid_request_error", "invalid_image_format");
			}
			const rf = json.response_format;
			if (rf && rf.type === "json_schema") {
				const s = rf.json_schema;
				if (!validJsonSchemaFormat(s)) return error(res, 400, "Invalid 'response_format.json_schema'.", "invalid_request_error", "invalid_value");
				if (s.strict === true && s.schema.additionalProperties !== false) {
					return error(res, 400, "Invalid schema for response_format: 'additionalProperties' is required to be supplied and to be false.", "invalid_request_error", "invalid_json_schema");
				}
			}
			const message = { ...assistantMessage(scripted, rec, state.answer), annotations: [] };
			send(res, 200, chatCompletion(model, message, { usage: { prompt_tokens: 1200, completion_tokens: 180, total_tokens: 1380 }, system_fingerprint: "fp_fake" }), scripted?.headers);
		}
	});

	return Object.assign(state, { ...fake, baseUrl: `${fake.url}/v1` });
}
