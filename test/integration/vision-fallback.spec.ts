import path from "node:path";
import sharp from "sharp";
import { registerUser } from "../factories/users";
import { startFakeFacepp, type FakeFacepp } from "../helpers/fake-vision-servers";
import { http, startNode, type TestNode } from "../helpers/node";
import type { VisionResult } from "../../agents/providers/vision/types";

/**
 * The vision pass with VISION_PROVIDER=facepp on a real broker (gateway, users, auth, storage,
 * media, vision with one local worker thread), Face++ played by a local fake that speaks its
 * protocol. Needs `npm run build` (the local vision worker loads from dist/).
 */

jest.setTimeout(180_000);

const SECRET = "s3cret-INTEGRATION-7781";

const SAMPLES = path.join(__dirname, "..", "..", "node_modules", "@vladmandic", "human", "assets", "samples.jpg");

/** Crops of the thumbnails along the top of Human's sample collage (real people, one face each for the first two). */
async function crop(left: number, width: number): Promise<Buffer> {
	return sharp(SAMPLES).extract({ left, top: 0, width, height: 157 }).resize({ height: 480 }).jpeg({ quality: 90 }).toBuffer();
}

describe("vision pass with a remote provider (Face++) and fallback to the local models", () => {
	let fake: FakeFacepp;
	let node: TestNode;
	let token: string;
	let userId: string;
	/** Everything the node logged (its console logger), to check no secret is ever logged. */
	const logged: string[] = [];

	async function upload(image: Buffer): Promise<string> {
		const form = new FormData();
		form.append("file", new Blob([image], { type: "image/jpeg" }), "photo.jpg");
		const res = await fetch(`${node.url}/media/upload`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: form });
		const body = (await res.json()) as { media_id: string };
		expect(res.status).toBe(200);
		return body.media_id;
	}

	const analyze = (media_id: string, biometric = false) => node.broker.call<VisionResult, object>("vision.analyze", { media_id, user_id: userId, biometric });

	beforeAll(async () => {
		for (const level of ["log", "info", "warn", "error", "debug"] as const) {
			jest.spyOn(console, level).mockImplementation((...args: unknown[]) => void logged.push(args.map(String).join(" ")));
		}
		fake = await startFakeFacepp({ apiKey: "k", apiSecret: SECRET });
		node = await startNode({
			services: ["api", "users", "auth", "storage", "media", "vision"],
			env: {
				VISION_PROVIDER: "facepp",
				FACEPP_URL: fake.url,
				FACEPP_API_KEY: "k",
				FACEPP_API_SECRET: SECRET,
				VISION_THREADS: "1",
				VISION_TIMEOUT_MS: "2000",
				RATE_LIMITS: "upload=1000/60,auth=1000/60"
			}
		});
		const request = http(node.url);
		const u = await registerUser(request);
		token = u.access_token;
		userId = (await request("GET", "/auth/me", { token })).body.id;
	});

	afterAll(async () => {
		await node?.stop();
		await fake?.close();
		jest.restoreAllMocks();
	});

	beforeEach(() => fake.reset());

	it("answers from Face++ when it answers, in the shared shape, and caches by content", async () => {
		const id = await upload(await crop(165, 150));
		const res = await analyze(id, true);
		expect(res.provider).toBe("facepp");
		expect(res.model_version).toBe("facepp-detect-v3");
		expect(res.content_hash).toMatch(/^[a-f0-9]{16,}$/);
		expect([res.width, res.height]).toEqual([459, 480]);
		expect(res.faces).toHaveLength(1);
		// The fake's face: left .3, top .2, width .4, height .5 of the image it received.
		expect(res.faces[0].box).toEqual([138, 96, 184, 240]);
		expect(res.faces[0]).toMatchObject({ age: 31, gender: "female", descriptor: null });
		expect(res.faces[0].emotions.happy).toBeCloseTo(0.923);
		expect(res.quality).toMatchObject({ width: 459, height: 480, too_dark: false });
		expect(fake.requests).toHaveLength(1);
		expect(fake.requests[0].fields).toMatchObject({ api_key: "k", api_secret: SECRET, return_attributes: "gender,age,emotion,headpose" });

		// Same image, same consent: the cached pass, no second call to Face++.
		expect(await analyze(id, true)).toEqual(res);
		expect(fake.requests).toHaveLength(1);

		// Without biometric consent: another pass, no age or gender asked for or returned.
		const plain = await analyze(id, false);
		expect(fake.requests).toHaveLength(2);
		expect(fake.requests[1].fields!.return_attributes).toBe("emotion,headpose");
		expect(plain.faces[0]).toMatchObject({ age: null, gender: null });
	});

	it("falls back to the local models when Face++ keeps failing (500), and says so", async () => {
		fake.script({ status: 500 }, { status: 500 }, { status: 500 });
		const id = await upload(await crop(325, 210));
		const res = await analyze(id);
		expect(fake.requests).toHaveLength(3);
		expect(res.provider).toMatch(/^local \(fallback from facepp: facepp: HTTP 500 INTERNAL_ERROR \(after 3 attempts\)\)$/);
		expect(res.model_version).toMatch(/^human-/);
		// The local models really looked at the photo: the man in the thumbnail.
		expect(res.faces.length).toBe(1);
		expect(res.faces[0].real).not.toBeNull();
	});

	it("falls back to the local models when Face++ is too slow", async () => {
		fake.script({ delayMs: 10_000 });
		const id = await upload(await crop(645, 150));
		const started = Date.now();
		const res = await analyze(id);
		expect(Date.now() - started).toBeLessThan(8000);
		expect(res.provider).toMatch(/^local \(fallback from facepp: facepp: timeout after 2000 ms\)$/);
	});

	it("falls back on wrong credentials, and never puts the secret in the record", async () => {
		fake.script({ status: 401, json: { error_message: "AUTHENTICATION_ERROR", request_id: "r", time_used: 0 } });
		const id = await upload(await crop(165, 150).then(b => sharp(b).flop().jpeg().toBuffer()));
		const res = await analyze(id);
		expect(fake.requests).toHaveLength(1);
		expect(res.provider).toBe("local (fallback from facepp: facepp: HTTP 401 AUTHENTICATION_ERROR)");
		expect(JSON.stringify(res)).not.toContain(SECRET);
	});

	it("logged every fallback, and never the secret", () => {
		const warnings = logged.filter(l => l.includes("vision provider facepp failed, using local"));
		expect(warnings.length).toBe(3);
		expect(logged.filter(l => l.includes(SECRET))).toEqual([]);
	});
});
