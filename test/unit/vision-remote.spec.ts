import sharp from "sharp";
import { backoffMs, ProviderHttpError, requestWithRetry, retryAfterMs, scrub } from "../../agents/providers/http";
import { createFaceppProvider, faceppAttributes } from "../../agents/providers/vision/facepp";
import { createOpenAIVisionProvider, outputJsonSchema, parseModelContent } from "../../agents/providers/vision/openai";
import { createRemoteProvider, type VisionProvider } from "../../agents/providers/vision/remote";
import { VisionResult } from "../../agents/providers/vision/types";
import { loadConfig } from "../../lib/config";
import {
	asksForBiometrics,
	DEFAULT_FACEPP_FACE,
	startFakeFacepp,
	startFakeOpenAI,
	validModelAnswer,
	type FakeFacepp,
	type FakeOpenAI,
	type RecordedRequest
} from "../helpers/fake-vision-servers";

const KEY = "fpp-key-3c1b9a";
const SECRET = "fpp-SECRET-9f8e7d6c5b4a";
const OPENAI_KEY = "sk-test-SECRETKEY-0123456789abcdef";
const FAST = { baseDelayMs: 5, maxDelayMs: 50 };

/** A textured image (noise) of a given size, optionally stored rotated (EXIF orientation 6). */
async function photo(width: number, height: number, orientation?: number): Promise<Buffer> {
	const img = sharp({ create: { width, height, channels: 3, background: "#808080", noise: { type: "gaussian", mean: 128, sigma: 40 } } }).jpeg({ quality: 85 });
	return (orientation ? img.withMetadata({ orientation }) : img).toBuffer();
}

/** Runs a call that must fail; answers the error. */
async function failure(p: Promise<unknown>): Promise<ProviderHttpError> {
	const err = await p.then(
		() => null,
		(e: unknown) => e
	);
	if (!(err instanceof ProviderHttpError)) throw new Error(`expected a ProviderHttpError, got ${String(err)}`);
	return err;
}

function expectNoSecrets(err: Error, ...secrets: string[]) {
	for (const s of secrets) {
		expect(err.message).not.toContain(s);
		expect(String(err.stack)).not.toContain(s);
		expect(JSON.stringify({ ...err })).not.toContain(s);
	}
}

const complete = (r: Awaited<ReturnType<VisionProvider["analyze"]>>) => VisionResult.parse({ ...r, content_hash: "h" });

describe("agents/providers/http helpers", () => {
	it("parses Retry-After as seconds or an HTTP date", () => {
		expect(retryAfterMs("0")).toBe(0);
		expect(retryAfterMs("2")).toBe(2000);
		expect(retryAfterMs("1.5")).toBe(1500);
		const now = Date.parse("2025-01-01T00:00:00Z");
		expect(retryAfterMs("Wed, 01 Jan 2025 00:00:03 GMT", now)).toBe(3000);
		expect(retryAfterMs("soon")).toBeNull();
		expect(retryAfterMs(null)).toBeNull();
	});

	it("backs off exponentially with jitter, bounded", () => {
		const p = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1000 };
		expect(backoffMs(0, p, () => 0)).toBe(50);
		expect(backoffMs(0, p, () => 1)).toBe(100);
		expect(backoffMs(2, p, () => 1)).toBe(400);
		expect(backoffMs(10, p, () => 1)).toBe(1000);
		for (let i = 0; i < 50; i++) {
			const d = backoffMs(1, p);
			expect(d).toBeGreaterThanOrEqual(100);
			expect(d).toBeLessThanOrEqual(200);
		}
	});

	it("scrubs secrets and bounds the length of a reason", () => {
		expect(scrub(`bad key ${SECRET} here`, [SECRET])).toBe("bad key *** here");
		expect(scrub("x".repeat(500)).length).toBe(120);
		expect(scrub("a\n  b")).toBe("a b");
	});

	it("fails at once when Retry-After asks for a longer wait than the deadline allows", async () => {
		const fake = await startFakeFacepp({ apiKey: KEY, apiSecret: SECRET });
		try {
			fake.script({ status: 429, headers: { "retry-after": "30" } });
			const started = Date.now();
			const err = await failure(requestWithRetry({ provider: "facepp", url: fake.url, body: "x", timeoutMs: 2000 }));
			expect(Date.now() - started).toBeLessThan(1000);
			expect(err.status).toBe(429);
			expect(err.message).toMatch(/retry after 30 s exceeds the deadline/);
			expect(fake.requests).toHaveLength(1);
		} finally {
			await fake.close();
		}
	});

	it("retries network errors and then reports them without addresses", async () => {
		const fake = await startFakeFacepp({ apiKey: KEY, apiSecret: SECRET });
		const url = fake.url;
		await fake.close();
		const err = await failure(requestWithRetry({ provider: "facepp", url, body: "x", timeoutMs: 2000, ...FAST }));
		expect(err.status).toBeNull();
		expect(err.attempts).toBe(3);
		expect(err.retryable).toBe(true);
		expect(err.message).toMatch(/^facepp: network error( ECONNREFUSED)? \(after 3 attempts\)$/);
	});
});

describe("Face++ provider against a fake Face++ Detect API", () => {
	let fake: FakeFacepp;
	let provider: VisionProvider;

	beforeAll(async () => {
		fake = await startFakeFacepp({ apiKey: KEY, apiSecret: SECRET });
		provider = createFaceppProvider({ url: fake.url, apiKey: KEY, apiSecret: SECRET, timeoutMs: 3000, ...FAST });
	});
	afterAll(() => fake.close());
	beforeEach(() => fake.reset());

	it("sends the real form fields and maps the reply to the shared shape (with biometric consent)", async () => {
		// Larger than the 1600 px Face++ copy: coordinates must be scaled back to the stored image.
		const res = complete(await provider.analyze(await photo(2400, 1800), { biometric: true }));
		expect(fake.requests).toHaveLength(1);
		const req = fake.requests[0];
		expect(req.method).toBe("POST");
		expect(req.path).toBe("/facepp/v3/detect");
		expect(req.headers["content-type"]).toMatch(/^multipart\/form-data; boundary=/);
		expect(req.fields).toMatchObject({ api_key: KEY, api_secret: SECRET, return_landmark: "1", return_attributes: "gender,age,emotion,headpose" });
		expect(fake.lastImage).toEqual({ width: 1600, height: 1200 });
		expect((await sharp(Buffer.from(req.fields!.image_base64, "base64")).metadata()).format).toBe("jpeg");

		expect(res).toMatchObject({ width: 2400, height: 1800, provider: "facepp", model_version: "facepp-detect-v3", biometric: true, bodies: [], objects: [] });
		expect(res.quality).toMatchObject({ width: 2400, height: 1800 });
		expect(res.quality.sharpness).toBeGreaterThan(0);
		expect(res.faces).toHaveLength(1);
		const f = res.faces[0];
		// Fake rect: left .3, top .2, width .4, height .5 of the 1600×1200 copy → ×1.5.
		expect(f.box).toEqual([720, 360, 960, 900]);
		expect(f.score).toBe(1);
		// Face++'s right_eye_center (image right) is the subject's left eye.
		expect(f.landmarks.left_eye).toEqual([1392, 720]);
		expect(f.landmarks.right_eye).toEqual([1008, 720]);
		expect(f.landmarks.nose_tip).toEqual([1200, 900]);
		expect(f.landmarks.left_eye[0]).toBeGreaterThan(f.landmarks.right_eye[0]);
		expect(f.head_pose).toEqual({ yaw: -8.4, pitch: 3.2, roll: 1.7 });
		expect(f.emotions).toEqual({ angry: 0.001, disgust: 0, fear: 0, happy: 0.923, neutral: 0.065, sad: 0.005, surprise: 0.005 });
		expect(Object.values(f.emotions).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1);
		expect(f).toMatchObject({ age: 31, gender: "female", gender_confidence: null, descriptor: null, real: null, live: null });
	});

	it("does not request or return age and gender without biometric consent", async () => {
		const res = complete(await provider.analyze(await photo(640, 480), { biometric: false }));
		expect(fake.requests[0].fields!.return_attributes).toBe("emotion,headpose");
		expect(fake.requests[0].fields!.return_attributes).not.toMatch(/gender|age|beauty/);
		expect(faceppAttributes(false)).not.toMatch(/gender|age/);
		expect(res.biometric).toBe(false);
		expect(res.faces[0]).toMatchObject({ age: null, gender: null, gender_confidence: null, descriptor: null });
		expect(res.faces[0].emotions.happy).toBeCloseTo(0.923);
	});

	it("even if Face++ sends age and gender anyway, they do not leave the provider without consent", async () => {
		fake.script({
			json: {
				request_id: "1,x",
				time_used: 5,
				image_id: "i",
				face_num: 1,
				faces: [{ face_token: "t", face_rectangle: { top: 10, left: 10, width: 50, height: 60 }, attributes: { gender: { value: "Male" }, age: { value: 40 } } }]
			}
		});
		const res = complete(await provider.analyze(await photo(200, 200), { biometric: false }));
		expect(res.faces[0]).toMatchObject({ age: null, gender: null, emotions: {}, head_pose: { yaw: 0, pitch: 0, roll: 0 } });
		// No landmarks in the reply: eyes and nose are placed from the box.
		expect(res.faces[0].landmarks.left_eye[0]).toBeGreaterThan(res.faces[0].landmarks.right_eye[0]);
	});

	it("keeps the secret in its form field only: not in the URL, the headers or anywhere else in the body", async () => {
		await provider.analyze(await photo(320, 240), { biometric: false });
		const req = fake.requests[0];
		expect(req.path).not.toContain(SECRET);
		expect(JSON.stringify(req.headers)).not.toContain(SECRET);
		expect(req.rawBody.split(SECRET)).toHaveLength(2);
		expect(Object.entries(req.fields!).filter(([, v]) => v.includes(SECRET))).toEqual([["api_secret", SECRET]]);
	});

	it("maps images stored rotated (EXIF orientation) to upright coordinates", async () => {
		const res = complete(await provider.analyze(await photo(300, 200, 6), { biometric: false }));
		expect(fake.lastImage).toEqual({ width: 200, height: 300 });
		expect(res).toMatchObject({ width: 200, height: 300 });
		expect(res.faces[0].box).toEqual([60, 60, 80, 150]);
	});

	it("reports no faces as an empty list", async () => {
		fake.faces = [];
		try {
			const res = complete(await provider.analyze(await photo(320, 240), { biometric: true }));
			expect(res.faces).toEqual([]);
		} finally {
			fake.faces = [DEFAULT_FACEPP_FACE];
		}
	});

	it("retries a 429 and honours Retry-After: 0", async () => {
		fake.script({ status: 429, headers: { "retry-after": "0" } });
		const res = await provider.analyze(await photo(320, 240), { biometric: false });
		expect(res.faces).toHaveLength(1);
		expect(fake.requests).toHaveLength(2);
	});

	it("waits as long as Retry-After: 1 says before retrying", async () => {
		fake.script({ status: 429, headers: { "retry-after": "1" } });
		const patient = createFaceppProvider({ url: fake.url, apiKey: KEY, apiSecret: SECRET, timeoutMs: 5000, baseDelayMs: 5 });
		const started = Date.now();
		await patient.analyze(await photo(320, 240), { biometric: false });
		expect(Date.now() - started).toBeGreaterThanOrEqual(950);
		expect(fake.requests).toHaveLength(2);
	});

	it("retries Face++'s own throttling reply (403 CONCURRENCY_LIMIT_EXCEEDED)", async () => {
		fake.script({ status: 403, json: { time_used: 0, error_message: "CONCURRENCY_LIMIT_EXCEEDED", request_id: "r" } });
		const res = await provider.analyze(await photo(320, 240), { biometric: false });
		expect(res.faces).toHaveLength(1);
		expect(fake.requests).toHaveLength(2);
	});

	it("retries a 500 and succeeds on the next attempt", async () => {
		fake.script({ status: 500 });
		const res = await provider.analyze(await photo(320, 240), { biometric: false });
		expect(res.provider).toBe("facepp");
		expect(fake.requests).toHaveLength(2);
	});

	it("gives up after three 500s with the status and Face++'s reason", async () => {
		fake.script({ status: 500 }, { status: 500 }, { status: 500 }, { status: 500 });
		const err = await failure(provider.analyze(await photo(320, 240), { biometric: false }));
		expect(fake.requests).toHaveLength(3);
		expect(err).toMatchObject({ provider: "facepp", status: 500, reason: "INTERNAL_ERROR", retryable: true, attempts: 3 });
		expect(err.message).toBe("facepp: HTTP 500 INTERNAL_ERROR (after 3 attempts)");
		expectNoSecrets(err, SECRET, KEY);
	});

	it("fails with a timeout when Face++ answers too slowly", async () => {
		const slow = createFaceppProvider({ url: fake.url, apiKey: KEY, apiSecret: SECRET, timeoutMs: 400, ...FAST });
		fake.script({ delayMs: 3000 });
		const started = Date.now();
		const err = await failure(slow.analyze(await photo(320, 240), { biometric: false }));
		expect(Date.now() - started).toBeLessThan(2000);
		expect(err).toMatchObject({ status: null, retryable: true });
		expect(err.message).toMatch(/^facepp: timeout after 400 ms/);
	});

	it("fails on malformed JSON without retrying", async () => {
		fake.script({ text: '{"faces": [ {"face_rectangle":' });
		const err = await failure(provider.analyze(await photo(320, 240), { biometric: false }));
		expect(fake.requests).toHaveLength(1);
		expect(err.message).toBe("facepp: invalid_json in reply");
	});

	it("fails on JSON that is not a detect reply", async () => {
		fake.script({ json: { faces: [{ face_rectangle: { top: "a" } }] } });
		const err = await failure(provider.analyze(await photo(320, 240), { biometric: false }));
		expect(err.message).toMatch(/^facepp: unexpected reply: faces\.0\.face_rectangle/);
	});

	it("fails on wrong credentials (401 AUTHENTICATION_ERROR) without retrying or leaking them", async () => {
		const wrong = "wrong-SECRET-123456";
		const bad = createFaceppProvider({ url: fake.url, apiKey: KEY, apiSecret: wrong, timeoutMs: 3000, ...FAST });
		const err = await failure(bad.analyze(await photo(320, 240), { biometric: false }));
		expect(fake.requests).toHaveLength(1);
		expect(err).toMatchObject({ status: 401, reason: "AUTHENTICATION_ERROR", retryable: false, attempts: 1 });
		expect(err.message).toBe("facepp: HTTP 401 AUTHENTICATION_ERROR");
		expectNoSecrets(err, wrong, KEY);
	});

	it("scrubs the secret even when the provider echoes it in an error", async () => {
		fake.script({ status: 400, json: { error_message: `BAD_ARGUMENTS: api_secret=${SECRET}`, request_id: "r", time_used: 0 } });
		const err = await failure(provider.analyze(await photo(320, 240), { biometric: false }));
		expect(err.status).toBe(400);
		expect(err.message).toBe("facepp: HTTP 400 BAD_ARGUMENTS: api_secret=***");
		expectNoSecrets(err, SECRET);
	});

	it("surfaces Face++'s own argument errors (an image below its minimum size)", async () => {
		const err = await failure(provider.analyze(await photo(40, 40), { biometric: false }));
		expect(err).toMatchObject({ status: 400, reason: "INVALID_IMAGE_SIZE: image_base64", retryable: false });
	});
});

describe("OpenAI-compatible vision provider against a fake Chat Completions API", () => {
	let fake: FakeOpenAI;
	let provider: VisionProvider;

	beforeAll(async () => {
		fake = await startFakeOpenAI({ apiKey: OPENAI_KEY });
		provider = createOpenAIVisionProvider({ baseUrl: fake.baseUrl, apiKey: OPENAI_KEY, model: "gpt-4o-mini", timeoutMs: 3000, ...FAST });
	});
	afterAll(() => fake.close());
	beforeEach(() => fake.reset());

	it("sends a chat completion with the image and a strict JSON schema, and maps the answer", async () => {
		const res = complete(await provider.analyze(await photo(1000, 800), { biometric: false }));
		expect(fake.requests).toHaveLength(1);
		const req = fake.requests[0];
		expect(req.path).toBe("/v1/chat/completions");
		expect(req.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
		expect(req.headers["content-type"]).toBe("application/json");
		expect(req.rawBody).not.toContain(OPENAI_KEY);
		expect(req.json.model).toBe("gpt-4o-mini");
		const user = req.json.messages.find((m: { role: string }) => m.role === "user");
		const image = user.content.find((p: { type: string }) => p.type === "image_url");
		expect(image.image_url.url).toMatch(/^data:image\/jpeg;base64,/);
		const sent = await sharp(Buffer.from(image.image_url.url.split(",")[1], "base64")).metadata();
		expect([sent.width, sent.height]).toEqual([1000, 800]);
		const rf = req.json.response_format;
		expect(rf).toMatchObject({ type: "json_schema", json_schema: { name: "vision_pass", strict: true } });
		expect(rf.json_schema.schema.$schema).toBeUndefined();
		expect(rf.json_schema.schema).toMatchObject({ type: "object", additionalProperties: false, required: ["faces", "bodies", "objects"] });
		expect(JSON.stringify(rf.json_schema.schema)).not.toMatch(/prefixItems|"age"|"gender"/);
		expect(asksForBiometrics(req)).toBe(false);
		expect(req.json.messages[0].content).toMatch(/Do not estimate age, gender/);

		expect(res).toMatchObject({ width: 1000, height: 800, provider: "openai", model_version: "openai:gpt-4o-mini-2024-07-18", biometric: false });
		expect(res.quality).toMatchObject({ width: 1000, height: 800 });
		const f = res.faces[0];
		expect(f.box).toEqual([300, 160, 400, 400]);
		expect(f.score).toBe(0.93);
		expect(f.landmarks).toEqual({ left_eye: [580, 320], right_eye: [420, 320], nose_tip: [500, 400] });
		expect(f.head_pose).toEqual({ yaw: 5, pitch: -2, roll: 1.5 });
		expect(f.emotions).toEqual({ angry: 0.01, disgust: 0.01, fear: 0.01, happy: 0.8, neutral: 0.15, sad: 0.01, surprise: 0.01 });
		expect(f).toMatchObject({ age: null, gender: null, gender_confidence: null, descriptor: null, real: null, live: null });
		expect(res.bodies).toEqual([
			{
				box: [100, 80, 800, 720],
				score: 0.8,
				keypoints: [
					{ name: "leftShoulder", x: 700, y: 600, z: 0, score: 0.9 },
					{ name: "rightShoulder", x: 300, y: 600, z: 0, score: 0.85 }
				]
			}
		]);
		expect(res.objects).toEqual([{ label: "handbag", score: 0.6, box: [600, 560, 200, 160] }]);
	});

	it("asks for and returns age and gender only with biometric consent", async () => {
		const res = complete(await provider.analyze(await photo(400, 400), { biometric: true }));
		const req = fake.requests[0];
		expect(asksForBiometrics(req)).toBe(true);
		expect(req.json.response_format.json_schema.name).toBe("vision_pass_biometric");
		expect(res.faces[0]).toMatchObject({ age: 29, gender: "male", gender_confidence: 0.9, descriptor: null });
		expect(res.biometric).toBe(true);
	});

	it("drops age and gender a model volunteers without consent", async () => {
		fake.script({ content: req => JSON.stringify({ ...JSON.parse(validModelAnswer(req)), faces: [{ ...JSON.parse(validModelAnswer(req)).faces[0], age: 50, gender: "female" }] }) });
		const res = complete(await provider.analyze(await photo(400, 400), { biometric: false }));
		expect(res.faces[0]).toMatchObject({ age: null, gender: null, gender_confidence: null });
	});

	it("normalises an emotion distribution that sums to more than 1", async () => {
		fake.script({
			content: req => {
				const a = JSON.parse(validModelAnswer(req));
				a.faces[0].emotions = { angry: 0.5, disgust: 0, fear: 0, happy: 1, neutral: 0.5, sad: 0, surprise: 0 };
				return JSON.stringify(a);
			}
		});
		const res = await provider.analyze(await photo(400, 400), { biometric: false });
		expect(res.faces[0].emotions).toMatchObject({ angry: 0.25, happy: 0.5, neutral: 0.25 });
	});

	it("retries a 429 with Retry-After: 0", async () => {
		fake.script({ status: 429, headers: { "retry-after": "0" } });
		const res = await provider.analyze(await photo(320, 240), { biometric: false });
		expect(res.faces).toHaveLength(1);
		expect(fake.requests).toHaveLength(2);
	});

	it("gives up after three 500s", async () => {
		fake.script({ status: 500 }, { status: 500 }, { status: 500 });
		const err = await failure(provider.analyze(await photo(320, 240), { biometric: false }));
		expect(fake.requests).toHaveLength(3);
		expect(err).toMatchObject({ provider: "openai", status: 500, reason: "server_error", attempts: 3 });
		expectNoSecrets(err, OPENAI_KEY);
	});

	it("fails with a timeout when the model answers too slowly", async () => {
		const slow = createOpenAIVisionProvider({ baseUrl: fake.baseUrl, apiKey: OPENAI_KEY, model: "gpt-4o-mini", timeoutMs: 400, ...FAST });
		fake.script({ delayMs: 3000 });
		const started = Date.now();
		const err = await failure(slow.analyze(await photo(320, 240), { biometric: false }));
		expect(Date.now() - started).toBeLessThan(2000);
		expect(err.message).toMatch(/^openai: timeout after \d+ ms/);
	});

	it("re-asks once when the content is not JSON, then uses the valid answer", async () => {
		fake.script({ content: "Sure! Here is the analysis: one happy person." });
		const res = complete(await provider.analyze(await photo(320, 240), { biometric: false }));
		expect(res.faces).toHaveLength(1);
		expect(fake.requests).toHaveLength(2);
		const msgs = fake.requests[1].json.messages;
		expect(msgs.at(-2)).toEqual({ role: "assistant", content: "Sure! Here is the analysis: one happy person." });
		expect(msgs.at(-1).role).toBe("user");
		expect(msgs.at(-1).content).toMatch(/not valid JSON/);
		// The re-ask carries the image again.
		expect(JSON.stringify(msgs)).toContain("data:image/jpeg;base64,");
	});

	it("re-asks once when the JSON does not match the schema, naming the problem", async () => {
		fake.script({ content: JSON.stringify({ faces: [{ box: { x: 2 } }], bodies: [] }) });
		const res = await provider.analyze(await photo(320, 240), { biometric: false });
		expect(res.faces).toHaveLength(1);
		expect(fake.requests).toHaveLength(2);
		expect(fake.requests[1].json.messages.at(-1).content).toMatch(/did not match the schema \(faces\.0\.box\.x/);
	});

	it("fails after a second invalid answer (no third request)", async () => {
		fake.script({ content: "{}" }, { content: "still not it" });
		const err = await failure(provider.analyze(await photo(320, 240), { biometric: false }));
		expect(fake.requests).toHaveLength(2);
		expect(err.message).toMatch(/^openai: invalid output after a re-ask: the reply was not valid JSON/);
		expect(err.retryable).toBe(false);
	});

	it("fails on a malformed HTTP body without a re-ask", async () => {
		fake.script({ text: '{"id":"chatcmpl-1","choices":[' });
		const err = await failure(provider.analyze(await photo(320, 240), { biometric: false }));
		expect(fake.requests).toHaveLength(1);
		expect(err.message).toBe("openai: invalid_json in reply");
	});

	it("fails on a wrong key (401) without repeating the key the API quotes back", async () => {
		const wrongKey = "sk-wrong-SECRET-aaaaaaaaaaaa";
		const bad = createOpenAIVisionProvider({ baseUrl: fake.baseUrl, apiKey: wrongKey, model: "gpt-4o-mini", timeoutMs: 3000, ...FAST });
		const err = await failure(bad.analyze(await photo(320, 240), { biometric: false }));
		expect(fake.requests).toHaveLength(1);
		expect(err).toMatchObject({ status: 401, reason: "invalid_api_key", retryable: false });
		expectNoSecrets(err, wrongKey);
	});

	it("fails on a refusal", async () => {
		fake.script({ refusal: "I can't help with that." });
		const err = await failure(provider.analyze(await photo(320, 240), { biometric: false }));
		expect(err.message).toBe("openai: refused: I can't help with that.");
	});

	it("builds strict-mode-compatible schemas: every property required, no open objects", () => {
		const check = (s: any, where: string) => {
			if (s && typeof s === "object") {
				if (s.type === "object") {
					expect({ where, additionalProperties: s.additionalProperties }).toEqual({ where, additionalProperties: false });
					expect({ where, required: [...s.required].sort() }).toEqual({ where, required: Object.keys(s.properties).sort() });
				}
				for (const [k, v] of Object.entries(s)) check(v, `${where}.${k}`);
			}
		};
		check(outputJsonSchema(false), "nobio");
		check(outputJsonSchema(true), "bio");
		expect(parseModelContent("```json\n" + JSON.stringify({ faces: [], bodies: [], objects: [] }) + "\n```", false)).toEqual({ ok: true, value: { faces: [], bodies: [], objects: [] } });
	});
});

describe("createRemoteProvider", () => {
	it("answers null for the local models and the named provider otherwise", () => {
		expect(createRemoteProvider(loadConfig({}))).toBeNull();
		expect(createRemoteProvider(loadConfig({ VISION_PROVIDER: "facepp", FACEPP_API_KEY: "k", FACEPP_API_SECRET: "s" }))!.name).toBe("facepp");
		expect(createRemoteProvider(loadConfig({ VISION_PROVIDER: "openai", OPENAI_API_KEY: "sk-x" }))!.name).toBe("openai");
	});

	it("refuses to start a remote provider without its credentials", () => {
		expect(() => createRemoteProvider(loadConfig({ VISION_PROVIDER: "facepp", FACEPP_API_KEY: "k" }))).toThrow(/FACEPP_API_SECRET/);
		expect(() => createRemoteProvider(loadConfig({ VISION_PROVIDER: "openai" }))).toThrow(/OPENAI_API_KEY/);
	});

	it("uses the configured URL, credentials and timeout", async () => {
		const fake = await startFakeOpenAI({ apiKey: "sk-cfg" });
		try {
			const p = createRemoteProvider(loadConfig({ VISION_PROVIDER: "openai", OPENAI_API_KEY: "sk-cfg", OPENAI_BASE_URL: `${fake.baseUrl}/`, VISION_OPENAI_MODEL: "vision-x" }))!;
			const res = await p.analyze(await photo(200, 200), { biometric: false });
			expect(res.provider).toBe("openai");
			expect((fake.requests[0] as RecordedRequest).json.model).toBe("vision-x");
		} finally {
			await fake.close();
		}
	});
});
