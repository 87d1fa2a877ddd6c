import path from "node:path";
import sharp from "sharp";
import { HUMAN_DIR } from "../../agents/providers/vision/human";
import { createVisionPool, type VisionPool } from "../../agents/providers/vision/pool";
import { benchImages } from "../../bench/images";
import { http, startNode, type TestNode } from "../helpers/node";
import { registerUser } from "../factories/users";

const SAMPLES = path.join(HUMAN_DIR, "assets", "samples.jpg");

/** A tile of the sample collage (a real photo of a person), 320 px. */
const tile = (left: number, top: number) => sharp(SAMPLES).extract({ left, top, width: 400, height: 400 }).resize(320, 320).jpeg().toBuffer();

describe("vision worker pool", () => {
	let pool: VisionPool;
	beforeAll(async () => {
		pool = createVisionPool({ threads: 2 });
		expect((await pool.warm()).length).toBe(2);
	}, 60_000);
	afterAll(() => pool.close());

	it("completes 20 distinct images on 2 threads while the event loop stays free", async () => {
		const images = await benchImages(20);
		const before = performance.eventLoopUtilization();
		const results = await Promise.all(images.map(img => pool.analyze(img, { biometric: false })));
		const elu = performance.eventLoopUtilization(before);
		expect(results).toHaveLength(20);
		for (const r of results) {
			expect(r.width).toBe(640);
			expect(r.provider).toBe("local");
		}
		// Crops of a collage of people: many, not all, contain a whole face.
		expect(results.filter(r => r.faces.length > 0).length).toBeGreaterThanOrEqual(5);
		// Had inference (~300–700 ms of CPU each) run on this thread, its event loop would have been
		// busy nearly all the time; with the pool it mostly waits. Utilisation, unlike lag, does not
		// grow when the machine is loaded and this thread merely waits for a core.
		expect(elu.utilization).toBeLessThan(0.5);
	}, 120_000);

	it("gives two similar photos in a row their own results (no frame cache)", async () => {
		const a = await tile(0, 0);
		const b = await sharp(a).flop().jpeg().toBuffer(); // the same photo, mirrored
		const ra = await pool.analyze(a, { biometric: true });
		const rb = await pool.analyze(b, { biometric: true });
		const ra2 = await pool.analyze(a, { biometric: true });
		expect(ra.faces.length).toBeGreaterThan(0);
		expect(rb.faces.length).toBe(ra.faces.length);
		const xa = ra.faces[0].box[0] + ra.faces[0].box[2] / 2;
		const xb = rb.faces[0].box[0] + rb.faces[0].box[2] / 2;
		// Mirrored: the face centre moves to the other side of the 320-px image.
		expect(Math.abs(xa + xb - 320)).toBeLessThan(25);
		expect(Math.abs(xa - xb)).toBeGreaterThan(20);
		// And the first photo again gives its own result, not the mirrored one's.
		expect(Math.abs(ra2.faces[0].box[0] - ra.faces[0].box[0])).toBeLessThan(3);
	}, 60_000);

	it("runs no biometric models without consent", async () => {
		const img = await tile(0, 0);
		const without = await pool.analyze(img, { biometric: false });
		const withBio = await pool.analyze(img, { biometric: true });
		expect(without.faces[0]).toMatchObject({ age: null, gender: null, gender_confidence: null, descriptor: null });
		expect(withBio.faces[0].descriptor).toHaveLength(1024);
		expect(withBio.faces[0].age).toBeGreaterThan(10);
		expect(withBio.faces[0].age).toBeLessThan(80);
	}, 60_000);
});

describe("vision service", () => {
	let node: TestNode;
	beforeAll(async () => {
		node = await startNode({
			services: ["api", "users", "auth", "storage", "media", "vision"],
			env: { VISION_THREADS: "1", RATE_LIMITS: "upload=1000/60" }
		});
	}, 60_000);
	afterAll(() => node.stop());

	async function upload(token: string, data: Buffer): Promise<string> {
		const form = new FormData();
		form.append("file", new Blob([new Uint8Array(data)], { type: "image/jpeg" }), "p.jpg");
		const res = await fetch(`${node.url}/media/upload`, { method: "POST", body: form, headers: { authorization: `Bearer ${token}` } });
		expect(res.status).toBe(200);
		return ((await res.json()) as { media_id: string }).media_id;
	}

	const userOf = async (token: string) => (await http(node.url)("GET", "/auth/me", { token })).body.id as string;

	it("answers /health quickly while analyses run", async () => {
		const user = await registerUser(http(node.url));
		const userId = await userOf(user.access_token);
		const ids = [];
		for (const img of await benchImages(4)) ids.push(await upload(user.access_token, img));
		const running = Promise.all(ids.map(id => node.broker.call("vision.analyze", { media_id: id, user_id: userId, biometric: false })));
		const times: number[] = [];
		await new Promise(r => setTimeout(r, 100));
		for (let i = 0; i < 10; i++) {
			const t = performance.now();
			const res = await fetch(`${node.url}/health`);
			expect(res.status).toBe(200);
			times.push(performance.now() - t);
			await new Promise(r => setTimeout(r, 30));
		}
		await running;
		times.sort((a, b) => a - b);
		// Inference on the gateway's thread would hold each answer for ~300–700 ms; the bound only
		// separates that from a free loop (the machine's load decides the rest: latency is benchmarked).
		expect(times[Math.floor(times.length / 2)]).toBeLessThan(250);
	}, 90_000);

	it("computes a pass once per content hash and consent level, then serves it from the cache", async () => {
		const user = await registerUser(http(node.url));
		const userId = await userOf(user.access_token);
		const id = await upload(user.access_token, await tile(400, 0));
		const hits = () => node.broker.metrics.getMetric("lifemirror.vision.cache.hits")?.get()?.value ?? 0;
		const before = hits();
		const first = await node.broker.call<any, object>("vision.analyze", { media_id: id, user_id: userId, biometric: false });
		const second = await node.broker.call<any, object>("vision.analyze", { media_id: id, user_id: userId, biometric: false });
		expect(hits()).toBe(before + 1);
		expect(second).toEqual(first);
		expect(first.faces.every((f: { descriptor: unknown; age: unknown }) => f.descriptor === null && f.age === null)).toBe(true);
		const bio = await node.broker.call<any, object>("vision.analyze", { media_id: id, user_id: userId, biometric: true });
		expect(hits()).toBe(before + 1);
		expect(bio.faces[0].descriptor).toHaveLength(1024);
	}, 60_000);

	it("refuses another user's media", async () => {
		const a = await registerUser(http(node.url));
		const b = await registerUser(http(node.url));
		const id = await upload(a.access_token, await tile(0, 400));
		await expect(node.broker.call("vision.analyze", { media_id: id, user_id: await userOf(b.access_token) })).rejects.toMatchObject({ code: 404 });
	});
});
