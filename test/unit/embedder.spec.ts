import sharp from "sharp";
import { runAgent } from "../../agents/agent";
import embedder, { EmbedderOutput, STYLE_DIM, STYLE_VECTOR_VERSION, styleFromPass, styleVector } from "../../agents/embedder";
import type { VisionFace, VisionResult } from "../../agents/providers/vision/types";
import { TEXT_DIM, cosine, fnv1a, normalize, textVector, tokens } from "../../agents/vectors";

const solid = (w: number, h: number, c: string) => sharp({ create: { width: w, height: h, channels: 3, background: c } });

/** Top half one colour, bottom half another. */
async function split(top: string, bottom: string, size = 120): Promise<Buffer> {
	const half = await solid(size, size / 2, bottom).png().toBuffer();
	return solid(size, size, top).composite([{ input: half, left: 0, top: size / 2 }]).png().toBuffer();
}

const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

function face(descriptor: number[] | null, box: [number, number, number, number] = [10, 10, 40, 40]): VisionFace {
	return {
		box,
		score: 0.9,
		landmarks: { left_eye: [35, 25], right_eye: [20, 25], nose_tip: [28, 32] },
		head_pose: { yaw: 0, pitch: 0, roll: 0 },
		emotions: { neutral: 0.9 },
		age: descriptor ? 30 : null,
		gender: null,
		gender_confidence: null,
		descriptor,
		real: 0.9,
		live: 0.9
	};
}

function vision(faces: VisionFace[] = [], biometric = true): VisionResult {
	return {
		content_hash: "h",
		width: 120,
		height: 120,
		faces,
		bodies: [],
		objects: [],
		quality: { width: 120, height: 120, brightness: 0.5, contrast: 0.2, sharpness: 10, blurry: false, too_dark: false, too_bright: false },
		biometric,
		provider: "test",
		model_version: "human-test",
		inference_ms: 1
	};
}

const DESCRIPTOR = Array.from({ length: 1024 }, (_, i) => Math.sin(i) / 10);

async function embed(o: { faces?: VisionFace[]; biometric?: boolean; bio_text?: string | null; analysis_id?: string; image?: Buffer } = {}) {
	const image = o.image ?? (await split("#ff0000", "#000080"));
	let reads = 0;
	const out = await runAgent(
		embedder,
		{ vision: vision(o.faces ?? [face(DESCRIPTOR)]), media_id: "m1", user_id: "u1", analysis_id: o.analysis_id, bio_text: o.bio_text, consent: { biometric: o.biometric ?? false } },
		{
			async image() {
				reads++;
				return image;
			}
		}
	);
	return { out, reads };
}

describe("vectors", () => {
	it("cosine: identical 1, opposite −1, orthogonal 0, scale-free", () => {
		expect(cosine([1, 2, 3], [1, 2, 3])).toBeCloseTo(1, 12);
		expect(cosine([1, 2, 3], [-1, -2, -3])).toBeCloseTo(-1, 12);
		expect(cosine([1, 0], [0, 1])).toBe(0);
		expect(cosine([1, 2, 3], [10, 20, 30])).toBeCloseTo(1, 12);
		expect(cosine(Float32Array.from([3, 4]), [4, 3])).toBeCloseTo(24 / 25, 6);
	});

	it("cosine edge cases: empty or zero vectors and non-finite entries give 0, different lengths throw", () => {
		expect(cosine([], [])).toBe(0);
		expect(cosine([0, 0, 0], [1, 2, 3])).toBe(0);
		expect(cosine([NaN, 1], [1, 1])).toBe(0);
		expect(cosine([Infinity, 1], [1, 1])).toBe(0);
		expect(() => cosine([1, 2], [1, 2, 3])).toThrow(RangeError);
		// Never outside [−1, 1] through rounding.
		const v = [0.1, 0.2, 0.30000000000000004];
		expect(cosine(v, v)).toBeLessThanOrEqual(1);
	});

	it("normalize: unit length, zero stays zero, input untouched", () => {
		const v = [3, 4];
		const n = normalize(v);
		expect(n[0]).toBeCloseTo(0.6, 12);
		expect(n[1]).toBeCloseTo(0.8, 12);
		expect(v).toEqual([3, 4]);
		expect(normalize([0, 0, 0])).toEqual([0, 0, 0]);
		expect(normalize([NaN, 1])).toEqual([0, 0]);
		expect(normalize([])).toEqual([]);
	});

	it("text vectors are deterministic, fixed-length and unit-length", () => {
		const a = textVector("I love hiking, photography and trying new coffee places.");
		expect(a).toHaveLength(TEXT_DIM);
		expect(norm(a)).toBeCloseTo(1, 10);
		expect(textVector("I love hiking, photography and trying new coffee places.")).toEqual(a);
		// Case, accents and punctuation do not matter.
		expect(textVector("CAFÉ lover!!")).toEqual(textVector("cafe lover"));
		expect(fnv1a("hello")).toBe(0x4f9f2cab);
		expect(tokens("Héllo, wörld—42!")).toEqual(["hello", "world", "42"]);
		expect(textVector("", 64)).toEqual(new Array(64).fill(0));
		expect(textVector("...!?")).toEqual(new Array(TEXT_DIM).fill(0));
	});

	it("similar texts are closer than unrelated ones", () => {
		const a = textVector("I love hiking in the mountains and running trails every weekend.");
		const b = textVector("Weekend trail runner who loves hiking mountains.");
		const c = textVector("Software engineer into chess, jazz records and cooking Italian food.");
		expect(cosine(a, b)).toBeGreaterThan(0.3);
		expect(cosine(a, b)).toBeGreaterThan(cosine(a, c) + 0.2);
		expect(cosine(b, c)).toBeLessThan(0.2);
		// Inflections share character trigrams.
		expect(cosine(textVector("running"), textVector("runner"))).toBeGreaterThan(cosine(textVector("running"), textVector("jazz")));
	});
});

describe("embedder agent", () => {
	it("style vector: fixed length, unit norm, deterministic; similar images closer than different ones", async () => {
		const redNavy = await styleVector(await split("#ff0000", "#000080"));
		expect(redNavy).toHaveLength(STYLE_DIM);
		expect(STYLE_DIM).toBe(43);
		expect(norm(redNavy)).toBeCloseTo(1, 4);
		expect(await styleVector(await split("#ff0000", "#000080"))).toEqual(redNavy);
		const nearly = await styleVector(await split("#f00a0a", "#0a0a8c", 160));
		const swapped = await styleVector(await split("#000080", "#ff0000"));
		const greenYellow = await styleVector(await split("#00a000", "#ffff00"));
		expect(cosine(redNavy, nearly)).toBeGreaterThan(0.98);
		expect(cosine(redNavy, nearly)).toBeGreaterThan(cosine(redNavy, swapped));
		expect(cosine(redNavy, swapped)).toBeGreaterThan(cosine(redNavy, greenYellow));
		// A grey image has an empty hue histogram and still a valid vector.
		const grey = await styleVector(await solid(50, 50, "#808080").png().toBuffer());
		expect(grey.slice(27, 39).every(x => x === 0)).toBe(true);
		expect(norm(grey)).toBeCloseTo(1, 4);
	});

	it("the style vector's layout: top row red, bottom row navy, hue histogram at red and blue", async () => {
		// 96×96 is the style raster's own size: no resampling blends the two colours.
		const v = await styleVector(await solid(96, 96, "#ff0000").composite([{ input: await solid(96, 32, "#000080").png().toBuffer(), left: 0, top: 64 }]).png().toBuffer());
		// Cells 0–2 (top row) have a > 0 (red), cells 6–8 (bottom row) b < 0 (blue).
		for (const c of [0, 1, 2]) expect(v[c * 3 + 1]).toBeGreaterThan(0.1);
		for (const c of [6, 7, 8]) expect(v[c * 3 + 2]).toBeLessThan(-0.1);
		const hist = v.slice(27, 39);
		expect(hist[0]).toBeGreaterThan(0);
		expect(hist[8]).toBeGreaterThan(0);
		expect(hist.filter(x => x > 0)).toHaveLength(2);
	});

	it("no face vector without biometric consent, even when the vision pass carries a descriptor", async () => {
		const { out } = await embed({ biometric: false });
		expect(out.vectors.face).toBeNull();
		expect(out.dims.face).toBeNull();
		expect(out.versions.face).toBeNull();
		expect(JSON.stringify(out)).not.toContain(String(DESCRIPTOR[1]));
	});

	it("with biometric consent, the subject's (largest) face descriptor", async () => {
		const other = Array.from({ length: 1024 }, () => 0.5);
		const { out } = await embed({ biometric: true, faces: [face(other, [0, 0, 10, 10]), face(DESCRIPTOR, [20, 20, 60, 60])] });
		expect(out.vectors.face).toEqual(DESCRIPTOR);
		expect(out.dims.face).toBe(1024);
		expect(out.versions.face).toBe("human-test");
		expect(out.warnings).toEqual([]);
	});

	it("biometric consent but no descriptor or no face: null and a warning", async () => {
		expect((await embed({ biometric: true, faces: [face(null)] })).out).toMatchObject({ vectors: { face: null }, warnings: [expect.stringMatching(/no face descriptor/)] });
		expect((await embed({ biometric: true, faces: [] })).out).toMatchObject({ vectors: { face: null }, warnings: [expect.stringMatching(/no face found/)] });
	});

	it("a text vector only for a bio with words", async () => {
		const bio = "Weekend trail runner who loves hiking mountains.";
		const { out, reads } = await embed({ bio_text: `  ${bio}  `, analysis_id: "a1" });
		expect(reads).toBe(1);
		expect(out.vectors.text).toHaveLength(TEXT_DIM);
		expect(cosine(out.vectors.text!, textVector(bio))).toBeCloseTo(1, 6);
		expect(out).toMatchObject({ media_id: "m1", user_id: "u1", analysis_id: "a1", dims: { style: STYLE_DIM, text: TEXT_DIM }, versions: { text: "text-hash-v1" } });
		expect((await embed({ bio_text: null })).out.vectors.text).toBeNull();
		expect((await embed({ bio_text: "   " })).out.vectors.text).toBeNull();
		const punct = await embed({ bio_text: "!!! ???" });
		expect(punct.out.vectors.text).toBeNull();
		expect(punct.out.warnings).toEqual([expect.stringMatching(/no words/)]);
		expect((await embed()).out.analysis_id).toBeNull();
	});

	it("its output parses with its own schema and its input schema refuses junk", async () => {
		const { out } = await embed({ biometric: true, bio_text: "hello there" });
		expect(EmbedderOutput.parse(out)).toEqual(out);
		expect(embedder.input.safeParse({ vision: vision(), media_id: "", user_id: "u", consent: { biometric: true } }).success).toBe(false);
		expect(embedder.input.safeParse({ vision: vision(), media_id: "m", user_id: "u", consent: {} }).success).toBe(false);
		expect(embedder.input.safeParse({ vision: vision(), media_id: "m", user_id: "u", bio_text: "x".repeat(5001), consent: { biometric: false } }).success).toBe(false);
	});

	it("uses the pass's style vector only when it is this version's and of this media's content; else reads the image", async () => {
		const image = await split("#ff0000", "#000080");
		const own = await styleVector(image);
		// A different vector in the pass, so where the result came from shows.
		const other = await styleVector(await split("#00a000", "#ffff00"));
		const run = async (style: VisionResult["style"], contentHash?: string) => {
			let reads = 0;
			const out = await runAgent(
				embedder,
				{ vision: { ...vision(), style }, media_id: "m1", user_id: "u1", consent: { biometric: false } },
				{
					async image() {
						reads++;
						return image;
					},
					...(contentHash === undefined ? {} : { contentHash: async () => contentHash })
				}
			);
			return { style: out.vectors.style, reads };
		};
		expect(await run({ key: STYLE_VECTOR_VERSION, vector: own }, "h")).toEqual({ style: own, reads: 0 });
		expect(await run({ key: STYLE_VECTOR_VERSION, vector: other }, "h")).toEqual({ style: other, reads: 0 });
		// Another version, another image's pass, no hash to check against, no vector, a malformed one: the image.
		expect(await run({ key: "style-grid-lab-hue-v0", vector: other }, "h")).toEqual({ style: own, reads: 1 });
		expect(await run({ key: STYLE_VECTOR_VERSION, vector: other }, "another-hash")).toEqual({ style: own, reads: 1 });
		expect(await run({ key: STYLE_VECTOR_VERSION, vector: other })).toEqual({ style: own, reads: 1 });
		expect(await run(undefined, "h")).toEqual({ style: own, reads: 1 });
		expect(await run({ key: STYLE_VECTOR_VERSION, vector: other.slice(1) }, "h")).toEqual({ style: own, reads: 1 });
		expect(styleFromPass({ ...vision(), style: { key: STYLE_VECTOR_VERSION, vector: [...other.slice(1), NaN] } }, "h")).toBeNull();
		// The pass's vector is copied, not shared.
		const pass = { ...vision(), style: { key: STYLE_VECTOR_VERSION, vector: own } };
		expect(styleFromPass(pass, "h")).not.toBe(own);
	});
});
