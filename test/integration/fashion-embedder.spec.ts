import sharp from "sharp";
import { KEYPOINT_NAMES, type Keypoint, type VisionResult } from "../../agents/providers/vision/types";
import { STYLE_VECTOR_VERSION, styleVector, type EmbedderOutput } from "../../agents/embedder";
import { STYLES, type FashionOutput } from "../../agents/fashion";
import { http, startNode, type Http, type TestNode } from "../helpers/node";
import { registerUser } from "../factories/users";
import { fetchUrl, freePort, realPhoto, uploadForm } from "../factories/images";

/**
 * The fashion and embedder agents over a real broker: real uploads, the real vision pass
 * (Human in the worker pool, built into dist/ by `npm run build`), stored crops and vectors.
 */



/** width×(4/3 width): red top half, navy bottom half (PNG, exact colours). */
async function twoColours(width = 240): Promise<Buffer> {
	const h = (width * 4) / 3;
	const half = await sharp({ create: { width, height: h / 2, channels: 3, background: "#000080" } }).png().toBuffer();
	return sharp({ create: { width, height: h, channels: 3, background: "#ff0000" } }).composite([{ input: half, left: 0, top: h / 2 }]).png().toBuffer();
}

/** A hand-made body for the two-colour image: shoulders at y 40, hips at the colour edge, ankles at y 300. */
function handMadeBody(): VisionResult["bodies"][number] {
	const at: Partial<Record<Keypoint["name"], [number, number]>> = {
		leftShoulder: [170, 40],
		rightShoulder: [70, 40],
		leftHip: [160, 160],
		rightHip: [80, 160],
		leftKnee: [155, 230],
		rightKnee: [85, 230],
		leftAnkle: [150, 300],
		rightAnkle: [90, 300]
	};
	return { box: [60, 20, 120, 290], score: 0.9, keypoints: KEYPOINT_NAMES.filter(n => at[n]).map(n => ({ name: n, x: at[n]![0], y: at[n]![1], z: 0, score: 0.9 })) };
}

async function until(check: () => Promise<boolean>, ms = 5000): Promise<void> {
	const end = Date.now() + ms;
	while (!(await check())) {
		if (Date.now() > end) throw new Error("condition not met in time");
		await new Promise(r => setTimeout(r, 25));
	}
}

/** Mean colour of an encoded image. */
async function meanColour(img: Buffer): Promise<number[]> {
	const { channels } = await sharp(img).removeAlpha().stats();
	return channels.slice(0, 3).map(c => Math.round(c.mean));
}

interface User {
	id: string;
	token: string;
}

interface Stored {
	id: string;
	media_id: string;
	analysis_id: string | null;
	kind: string;
	dim: number;
	vector: number[];
}

describe("fashion and embedder agents over a real broker", () => {
	let node: TestNode;
	let request: Http;
	let alice: User;
	let bob: User;

	const call = <T>(action: string, params: object) => node.broker.call<T, object>(action, params);
	const list = async (user_id: string, kind?: string) => (await call<{ items: Stored[] }>("embeddings.listForUser", { user_id, kind })).items;

	async function newUser(): Promise<User> {
		const u = await registerUser(request);
		const me = await request("GET", "/auth/me", { token: u.access_token });
		return { id: me.body.id, token: u.access_token };
	}

	async function upload(user: User, bytes: Buffer, type: string): Promise<string> {
		const res = await uploadForm(node.url, user.token, bytes, { type, filename: type === "image/png" ? "pic.png" : "pic.jpg" });
		expect(res.status).toBe(200);
		return res.body.media_id;
	}

	beforeAll(async () => {
		const port = await freePort();
		node = await startNode({
			services: ["api", "users", "auth", "storage", "media", "vision", "embeddings", "agents/fashion", "agents/embedder"],
			env: {
				PORT: String(port),
				PUBLIC_URL: `http://127.0.0.1:${port}`,
				STORAGE: "local",
				VISION_THREADS: "1",
				RATE_LIMITS: "upload=1000/60,auth=1000/60,default=10000/60"
			}
		});
		request = http(node.url);
		[alice, bob] = await Promise.all([newUser(), newUser()]);
	}, 60_000);

	afterAll(async () => {
		await node?.stop();
	});

	it("refuses another user's media, and no HTTP route reaches the agents or the vector store", async () => {
		const media_id = await upload(alice, await twoColours(120), "image/png");
		const vision = await call<VisionResult>("vision.analyze", { media_id, user_id: alice.id });
		await expect(call("agent.fashion.run", { vision, media_id, user_id: bob.id, consent: { fashion: true } })).rejects.toMatchObject({ type: "NOT_FOUND" });
		await expect(call("agent.fashion.run", { vision, media_id, user_id: alice.id, consent: { fashion: false } })).rejects.toMatchObject({ type: "CONSENT_REQUIRED" });
		await expect(call("agent.embedder.run", { vision, media_id, user_id: bob.id, consent: { biometric: false } })).rejects.toMatchObject({ type: "NOT_FOUND" });
		expect(await list(bob.id)).toEqual([]);
		for (const p of ["/agent.fashion/run", "/agent/fashion/run", "/embeddings/listForUser", "/embeddings.nearest"]) {
			const res = await request("POST", p, { token: alice.token, body: { user_id: alice.id } });
			expect([p, res.status]).toEqual([p, 404]);
		}
	});

	it("a real photo: outfit regions from the body keypoints, colours, crops that can be fetched", async () => {
		const media_id = await upload(alice, await realPhoto(), "image/jpeg");
		const vision = await call<VisionResult>("vision.analyze", { media_id, user_id: alice.id });
		expect(vision.bodies.length).toBeGreaterThan(0);
		const out = await call<FashionOutput>("agent.fashion.run", { vision, media_id, user_id: alice.id, consent: { fashion: true } });
		expect(out.regions.source).toBe("keypoints");
		expect(STYLES).toContain(out.style);
		expect(out.items.map(i => i.type)).toEqual(["top", "bottom"]);
		expect(out.palette.length).toBeGreaterThanOrEqual(1);
		expect(out.palette.length).toBeLessThanOrEqual(6);
		expect(out.confidence).toBeGreaterThan(0.5);
		expect(out.overall_rating).toBeGreaterThan(0);
		for (const it of out.items) {
			expect(it.dominant_color).toMatch(/^#[0-9a-f]{6}$/);
			const res = await fetchUrl(it.crop_url!);
			expect(res.status).toBe(200);
			expect(res.headers.get("content-type")).toBe("image/jpeg");
			const meta = await sharp(res.bytes).metadata();
			expect([meta.width, meta.height]).toEqual([it.bbox[2] - it.bbox[0], it.bbox[3] - it.bbox[1]]);
		}
		// The grey top and dark skirt of this photo: dark, low-chroma garments.
		expect(out.harmony).toMatch(/neutral|monochrome/);

		// The colours came with the pass (read in the vision worker); a pass without them makes the
		// agent read the image itself, and the report means the same.
		expect(vision.colours?.torso.length).toBeGreaterThan(0);
		const { colours: _, ...bare } = vision;
		const own = await call<FashionOutput>("agent.fashion.run", { vision: bare, media_id, user_id: alice.id, consent: { fashion: true } });
		const meaning = (o: FashionOutput) => [o.style, o.harmony, o.items.map(i => [i.type, i.color_name, i.bbox]), o.palette.map(c => c.name), o.contrast.level, o.regions];
		expect(meaning(out)).toEqual(meaning(own));
		expect(Math.abs(out.overall_rating - own.overall_rating)).toBeLessThanOrEqual(0.2);
	});

	it("a synthetic two-colour image: no person seen by the models; with a hand-made body, exact colours and crops", async () => {
		const media_id = await upload(alice, await twoColours(), "image/png");
		const vision = await call<VisionResult>("vision.analyze", { media_id, user_id: alice.id });
		expect([vision.bodies, vision.objects, vision.faces]).toEqual([[], [], []]);
		const seen = await call<FashionOutput>("agent.fashion.run", { vision, media_id, user_id: alice.id, consent: { fashion: true } });
		expect(seen.style).toBe("unknown");
		expect(seen.items).toEqual([]);
		expect(seen.palette.map(c => [c.hex, c.name, c.share])).toEqual([
			["#000080", "navy", 0.5],
			["#ff0000", "red", 0.5]
		]);
		expect(seen.warnings.join(" ")).toMatch(/no person found/);

		const out = await call<FashionOutput>("agent.fashion.run", { vision: { ...vision, bodies: [handMadeBody()], objects: [] }, media_id, user_id: alice.id, consent: { fashion: true } });
		expect(out.items.map(i => [i.type, i.dominant_color, i.color_name])).toEqual([
			["top", "#ff0000", "red"],
			["bottom", "#000080", "navy"]
		]);
		expect(out.harmony).toBe("triadic");
		expect(out.style).toBe("smart-casual");
		const [top, bottom] = await Promise.all(out.items.map(i => fetchUrl(i.crop_url!)));
		// The stored crops are JPEGs of the regions: red and navy within compression noise.
		const off = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));
		expect(off(await meanColour(top.bytes), [255, 0, 0])).toBeLessThan(6);
		expect(off(await meanColour(bottom.bytes), [0, 0, 128])).toBeLessThan(6);
	});

	it("stores style and text vectors, and no face vector without biometric consent", async () => {
		const media_id = await upload(alice, await realPhoto(), "image/jpeg");
		// A pass run with biometric consent carries the descriptor; the embedder still must not keep it.
		const vision = await call<VisionResult>("vision.analyze", { media_id, user_id: alice.id, biometric: true });
		expect(vision.faces.some(f => f.descriptor?.length === 1024)).toBe(true);
		const out = await call<EmbedderOutput>("agent.embedder.run", {
			vision,
			media_id,
			user_id: alice.id,
			analysis_id: "analysis-1",
			bio_text: "Trail runner, coffee lover and amateur photographer.",
			consent: { biometric: false }
		});
		expect(out.vectors.face).toBeNull();
		expect(out.vectors.style).toHaveLength(out.dims.style);
		const mine = (await list(alice.id)).filter(e => e.media_id === media_id);
		expect(mine.map(e => [e.kind, e.dim, e.analysis_id]).sort()).toEqual([
			["style", out.dims.style, "analysis-1"],
			["text", 256, "analysis-1"]
		]);
		expect(await list(alice.id, "face")).toEqual([]);
		// deleteFor removes what it names, only that.
		expect(await call("embeddings.deleteFor", { user_id: alice.id, media_id, kind: "text" })).toEqual({ deleted: 1 });
		expect((await list(alice.id)).filter(e => e.media_id === media_id).map(e => e.kind)).toEqual(["style"]);
		// The store refuses a face vector that comes without the consent statement.
		await expect(call("embeddings.store", { user_id: alice.id, media_id, kind: "face", vector: vision.faces[0].descriptor })).rejects.toMatchObject({ type: "CONSENT_REQUIRED" });
	});

	it("the style vector comes with the pass, identical to reading the image; a pass without it gives the same vector", async () => {
		for (const [bytes, type] of [
			[await realPhoto(), "image/jpeg"],
			[await twoColours(), "image/png"]
		] as const) {
			const media_id = await upload(alice, bytes, type);
			const vision = await call<VisionResult>("vision.analyze", { media_id, user_id: alice.id });
			const stored = (await call<{ data: Buffer }>("media.analysisImage", { id: media_id, user_id: alice.id })).data;
			// Computed in the vision worker from the same bytes: exactly the main thread's vector.
			expect(vision.style?.key).toBe(STYLE_VECTOR_VERSION);
			expect(vision.style?.vector).toEqual(await styleVector(Buffer.from(stored)));
			const params = { media_id, user_id: alice.id, consent: { biometric: false } };
			const withStyle = await call<EmbedderOutput>("agent.embedder.run", { ...params, vision });
			const { style: _, ...bare } = vision;
			const without = await call<EmbedderOutput>("agent.embedder.run", { ...params, vision: bare });
			// A pass of another image (its hash not this media's) is not trusted for the vector either.
			const foreign = await call<EmbedderOutput>("agent.embedder.run", { ...params, vision: { ...vision, content_hash: "0".repeat(64), style: { key: STYLE_VECTOR_VERSION, vector: vision.style!.vector.map(() => 0.1) } } });
			expect(withStyle.vectors.style).toEqual(vision.style!.vector);
			expect(without).toEqual(withStyle);
			expect(foreign.vectors.style).toEqual(withStyle.vectors.style);
		}
	});

	it("with biometric consent the face descriptor is stored; withdrawing consent deletes it; nearest finds the photo", async () => {
		const media_id = await upload(alice, await realPhoto(), "image/jpeg");
		const vision = await call<VisionResult>("vision.analyze", { media_id, user_id: alice.id, biometric: true });
		const out = await call<EmbedderOutput>("agent.embedder.run", { vision, media_id, user_id: alice.id, consent: { biometric: true } });
		expect(out.dims.face).toBe(1024);
		// Run twice: one vector per kind and media, never duplicates.
		await call("agent.embedder.run", { vision, media_id, user_id: alice.id, consent: { biometric: true } });
		const faces = await list(alice.id, "face");
		expect(faces.map(f => [f.media_id, f.dim])).toEqual([[media_id, 1024]]);

		const near = await call<{ items: { media_id: string; similarity: number }[] }>("embeddings.nearest", { user_id: alice.id, kind: "style", vector: out.vectors.style, limit: 5, min_similarity: 0.5 });
		expect(near.items[0]).toMatchObject({ media_id, similarity: expect.closeTo(1, 5) });
		// Another user's vectors are never candidates.
		expect((await call<{ items: unknown[] }>("embeddings.nearest", { user_id: bob.id, kind: "style", vector: out.vectors.style })).items).toEqual([]);

		await node.broker.emit("consent.biometric_withdrawn", { user_id: alice.id });
		await until(async () => (await list(alice.id, "face")).length === 0);
		expect((await list(alice.id, "style")).some(e => e.media_id === media_id)).toBe(true);
	});

	it("vectors go with their media (media.deleted) and with the user (user.erased)", async () => {
		const keep = await upload(bob, await realPhoto(), "image/jpeg");
		const gone = await upload(bob, await twoColours(), "image/png");
		for (const media_id of [keep, gone]) {
			const vision = await call<VisionResult>("vision.analyze", { media_id, user_id: bob.id });
			await call("agent.embedder.run", { vision, media_id, user_id: bob.id, bio_text: "hello from bob", consent: { biometric: false } });
		}
		expect((await list(bob.id)).length).toBe(4);

		const del = await request("DELETE", `/media/${gone}`, { token: bob.token });
		expect(del.status).toBe(200);
		await until(async () => (await list(bob.id)).every(e => e.media_id !== gone));
		expect((await list(bob.id)).map(e => e.media_id)).toEqual([keep, keep]);

		const aliceBefore = (await list(alice.id)).length;
		await node.broker.emit("user.erased", { user_id: bob.id });
		await until(async () => (await list(bob.id)).length === 0);
		expect((await list(alice.id)).length).toBe(aliceBefore);
	});
});
