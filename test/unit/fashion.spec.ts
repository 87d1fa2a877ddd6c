import sharp from "sharp";
import { runAgent } from "../../agents/agent";
import {
	classifyHarmony,
	colourName,
	deltaE2000,
	hueGroups,
	hueSpan,
	isAchromatic,
	isSkinLike,
	parseHex,
	quantise,
	rgbToHsv,
	rgbToLab,
	type Rgb
} from "../../agents/colors";
import fashion, { FashionOutput, classifyStyle, fashionColours, fashionConfidence, findRegions, overallRating, passColours, rasterFromRgb, type FashionDeps } from "../../agents/fashion";
import { VisionResult as VisionResultSchema } from "../../agents/providers/vision/types";
import { KEYPOINT_NAMES, type Keypoint, type VisionResult } from "../../agents/providers/vision/types";

// ---- Synthetic pictures and hand-made vision passes ------------------------------------------

const W = 200;
const H = 400;
/** Where the synthetic person stands: torso (shoulders→hips) and legs (hips→ankles). */
const TORSO = { x1: 60, y1: 80, x2: 140, y2: 200 };
const LEGS = { x1: 60, y1: 200, x2: 140, y2: 380 };

interface Rect {
	x: number;
	y: number;
	w: number;
	h: number;
	color: string;
}

/** A PNG (exact colours) or JPEG of rectangles on a background. */
async function picture(rects: Rect[], o: { bg?: string; format?: "png" | "jpeg"; width?: number; height?: number } = {}): Promise<Buffer> {
	const width = o.width ?? W;
	const height = o.height ?? H;
	const composites = await Promise.all(
		rects.map(async r => ({ input: await sharp({ create: { width: r.w, height: r.h, channels: 3, background: r.color } }).png().toBuffer(), left: r.x, top: r.y }))
	);
	const img = sharp({ create: { width, height, channels: 3, background: o.bg ?? "#ffffff" } }).composite(composites);
	return o.format === "jpeg" ? img.jpeg({ quality: 92, chromaSubsampling: "4:4:4" }).toBuffer() : img.png().toBuffer();
}

/** A person: a top over the torso, a bottom over the legs (optionally more rectangles on top). */
function outfit(top: string, bottom: string, extra: Rect[] = []): Rect[] {
	return [
		{ x: TORSO.x1, y: TORSO.y1, w: TORSO.x2 - TORSO.x1, h: TORSO.y2 - TORSO.y1, color: top },
		{ x: LEGS.x1, y: LEGS.y1, w: LEGS.x2 - LEGS.x1, h: LEGS.y2 - LEGS.y1, color: bottom },
		...extra
	];
}

/** Movenet-style keypoints placing shoulders at the top of the torso, hips at its bottom, ankles at the legs' bottom. */
function standingKeypoints(score = 0.9): Keypoint[] {
	const at: Partial<Record<Keypoint["name"], [number, number]>> = {
		nose: [100, 55],
		leftEye: [106, 50],
		rightEye: [94, 50],
		leftShoulder: [130, 80],
		rightShoulder: [70, 80],
		leftElbow: [138, 140],
		rightElbow: [62, 140],
		leftHip: [125, 200],
		rightHip: [75, 200],
		leftKnee: [120, 290],
		rightKnee: [80, 290],
		leftAnkle: [120, 375],
		rightAnkle: [80, 375]
	};
	return KEYPOINT_NAMES.filter(n => at[n]).map(n => ({ name: n, x: at[n]![0], y: at[n]![1], z: 0, score }));
}

function vision(o: Partial<VisionResult> = {}): VisionResult {
	return {
		content_hash: "synthetic",
		width: W,
		height: H,
		faces: [],
		bodies: [{ box: [60, 45, 80, 335], score: 0.9, keypoints: standingKeypoints() }],
		objects: [{ label: "person", score: 0.8, box: [55, 30, 90, 360] }],
		quality: { width: W, height: H, brightness: 0.6, contrast: 0.3, sharpness: 20, blurry: false, too_dark: false, too_bright: false },
		biometric: false,
		provider: "test",
		model_version: "test",
		inference_ms: 0,
		...o
	};
}

interface Calls {
	image: number;
	crops: [number, number, number, number][];
}

function deps(image: Buffer, o: { failCrop?: boolean } = {}): FashionDeps & { calls: Calls } {
	const calls: Calls = { image: 0, crops: [] };
	return {
		calls,
		async image() {
			calls.image++;
			return image;
		},
		async crop(box) {
			calls.crops.push(box);
			if (o.failCrop) throw new Error("storage down");
			return `https://crops.test/${box.join("-")}.jpg`;
		}
	};
}

const input = (v: VisionResult, consent = true) => ({ vision: v, media_id: "m1", user_id: "u1", consent: { fashion: consent } });

async function analyse(rects: Rect[], o: { bg?: string; vision?: Partial<VisionResult>; format?: "png" | "jpeg" } = {}) {
	const d = deps(await picture(rects, o));
	const out = await runAgent(fashion, input(vision(o.vision)), d);
	return { out, calls: d.calls };
}

const item = (out: FashionOutput, type: string) => out.items.find(i => i.type === type);

// ---- Colour maths -------------------------------------------------------------------------

describe("colour maths", () => {
	it("computes CIEDE2000 as in Sharma, Wu & Dalal's reference data", () => {
		expect(deltaE2000([50, 2.6772, -79.7751], [50, 0, -82.7485])).toBeCloseTo(2.0425, 4);
		expect(deltaE2000([50, 0, 0], [50, -1, 2])).toBeCloseTo(2.3669, 4);
		expect(deltaE2000([2.0776, 0.0795, -1.135], [0.9033, -0.0636, -0.5514])).toBeCloseTo(0.9082, 4);
		expect(deltaE2000([60.2574, -34.0099, 36.2677], [60.4626, -34.1751, 39.4387])).toBeCloseTo(1.2644, 4);
		expect(deltaE2000([30, 10, 10], [30, 10, 10])).toBe(0);
	});

	it("converts sRGB to Lab (D65) and HSV", () => {
		const white = rgbToLab([255, 255, 255]);
		expect(white[0]).toBeCloseTo(100, 2);
		expect(Math.abs(white[1]) + Math.abs(white[2])).toBeLessThan(0.01);
		const red = rgbToLab([255, 0, 0]);
		expect(red[0]).toBeCloseTo(53.24, 1);
		expect(red[1]).toBeCloseTo(80.09, 1);
		expect(red[2]).toBeCloseTo(67.2, 1);
		expect(rgbToHsv([0, 0, 128])).toEqual({ h: 240, s: 1, v: 128 / 255 });
		expect(rgbToHsv([255, 165, 0]).h).toBeCloseTo(38.8, 1);
	});

	it("names colours after the nearest fashion colour", () => {
		const names: [string, string][] = [
			["#ff0000", "red"],
			["#000080", "navy"],
			["#fdfdfd", "white"],
			["#050505", "black"],
			["#7f7f7f", "grey"],
			["#f5f5dc", "beige"],
			["#1560bd", "denim"],
			["#800020", "burgundy"],
			["#ffa500", "orange"],
			["#008080", "teal"]
		];
		for (const [h, name] of names) expect([h, colourName(parseHex(h))]).toEqual([h, name]);
	});

	it("tells neutrals and skin-like pixels apart from garment colours", () => {
		for (const h of ["#ffffff", "#000000", "#808080", "#101830"]) expect([h, isAchromatic(parseHex(h))]).toEqual([h, true]);
		for (const h of ["#000080", "#ff0000", "#c3b091"]) expect([h, isAchromatic(parseHex(h))]).toEqual([h, false]);
		for (const h of ["#e0ac69", "#c68642", "#8d5524", "#f1c27d", "#ffdbac"]) expect([h, isSkinLike(parseHex(h))]).toEqual([h, true]);
		for (const h of ["#ff0000", "#000080", "#ffffff", "#000000", "#808080", "#00ff00", "#f5f5dc"]) expect([h, isSkinLike(parseHex(h))]).toEqual([h, false]);
	});

	it("quantises solid colours exactly, with their shares, deterministically", () => {
		const px = (colours: [Rgb, number][]) => Uint8Array.from(colours.flatMap(([c, n]) => Array.from({ length: n }, () => c).flat()));
		expect(quantise(px([[[255, 0, 0], 100]])).map(c => [c.hex, c.share])).toEqual([["#ff0000", 1]]);
		const two = quantise(px([[[255, 0, 0], 300], [[0, 0, 128], 100]]));
		expect(two.map(c => [c.hex, c.share])).toEqual([["#ff0000", 0.75], ["#000080", 0.25]]);
		// A 1% speck is dropped and the rest renormalised; near-identical reds merge.
		const noisy = quantise(px([[[250, 2, 2], 500], [[255, 0, 0], 495], [[0, 255, 0], 10]]));
		expect(noisy).toHaveLength(1);
		expect(noisy[0].share).toBe(1);
		expect(colourName(noisy[0].rgb)).toBe("red");
		expect(quantise(new Uint8Array())).toEqual([]);
		const many = px([[[255, 0, 0], 50], [[0, 255, 0], 40], [[0, 0, 255], 30], [[255, 255, 0], 20], [[0, 0, 0], 20], [[255, 255, 255], 20], [[128, 0, 128], 20], [[0, 128, 128], 20]]);
		expect(quantise(many).length).toBeLessThanOrEqual(6);
		expect(quantise(many)).toEqual(quantise(many));
	});

	it("classifies harmony by hue geometry", () => {
		const p = (...hs: string[]) => hs.map(h => ({ rgb: parseHex(h), share: 1 / hs.length }));
		expect(classifyHarmony(p("#ffffff", "#000000", "#808080")).harmony).toBe("neutral");
		expect(classifyHarmony(p("#000080", "#8080ff", "#ffffff")).harmony).toBe("monochrome");
		// Hues either side of 0°/360° are neighbours: 350° and 10° are one 20° arc.
		expect(hueSpan([350, 10])).toBe(20);
		expect(classifyHarmony(p("#ff0028", "#ff2800")).harmony).toBe("monochrome");
		expect(classifyHarmony(p("#e62828", "#f0a01e")).harmony).toBe("analogous");
		expect(classifyHarmony(p("#1e50ff", "#ff8c1e")).harmony).toBe("complementary");
		expect(classifyHarmony(p("#ff0000", "#00c800", "#0000ff")).harmony).toBe("triadic");
		expect(classifyHarmony(p("#ff0000", "#000080")).harmony).toBe("triadic");
		expect(classifyHarmony(p("#ff0000", "#ffff00", "#00ffff", "#0000ff", "#ff00ff")).harmony).toBe("contrasting");
		// A colour under 5% of the palette does not break a harmony.
		expect(classifyHarmony([{ rgb: [255, 0, 0], share: 0.97 }, { rgb: [0, 255, 0], share: 0.03 }]).harmony).toBe("monochrome");
		expect(hueGroups(p("#ff0000", "#ff1500", "#0000ff")).length).toBe(2);
	});
});

// ---- The agent on synthetic photos ----------------------------------------------------------

describe("fashion agent on synthetic images with known colours", () => {
	it("reads a red top over navy trousers: regions from keypoints, exact colours, triadic, smart-casual", async () => {
		const { out, calls } = await analyse(outfit("#ff0000", "#000080"));
		expect(out.regions.source).toBe("keypoints");
		expect(item(out, "top")).toMatchObject({ dominant_color: "#ff0000", color_name: "red" });
		expect(item(out, "bottom")).toMatchObject({ dominant_color: "#000080", color_name: "navy" });
		expect(out.palette.map(c => c.hex).sort()).toEqual(["#000080", "#ff0000"]);
		expect(out.palette.map(c => c.name).sort()).toEqual(["navy", "red"]);
		expect(out.palette.reduce((s, c) => s + c.share, 0)).toBeCloseTo(1, 2);
		expect(out.harmony).toBe("triadic");
		expect(out.style).toBe("smart-casual");
		expect(out.contrast.level).toBe("high");
		// White background, nothing of it in the outfit colours.
		expect(out.contrast.with_background).toBeGreaterThan(30);
		expect(out.warnings).toEqual([]);
		expect(out.confidence).toBeGreaterThan(0.8);
		// Torso box shoulders→hips, legs hips→ankles, in [x1, y1, x2, y2] pixels; a crop per item.
		expect(item(out, "top")!.bbox[1]).toBe(80);
		expect(item(out, "top")!.bbox[3]).toBe(200);
		expect(item(out, "bottom")!.bbox[1]).toBe(200);
		expect(item(out, "bottom")!.bbox[3]).toBe(375);
		expect(calls.image).toBe(1);
		expect(calls.crops).toHaveLength(2);
		const top = item(out, "top")!;
		expect(calls.crops[0]).toEqual([top.bbox[0], top.bbox[1], top.bbox[2] - top.bbox[0], top.bbox[3] - top.bbox[1]]);
		expect(top.crop_url).toBe(`https://crops.test/${calls.crops[0].join("-")}.jpg`);
	});

	it("still names the colours of a JPEG (compression noise)", async () => {
		const { out } = await analyse(outfit("#ff0000", "#000080"), { format: "jpeg" });
		expect(item(out, "top")!.color_name).toBe("red");
		expect(item(out, "bottom")!.color_name).toBe("navy");
		expect(deltaE2000(rgbToLab(parseHex(item(out, "top")!.dominant_color)), rgbToLab([255, 0, 0]))).toBeLessThan(3);
		expect(out.harmony).toBe("triadic");
	});

	it("an all-black outfit is neutral and monochrome-minimal", async () => {
		const { out } = await analyse(outfit("#111111", "#111111"));
		expect(out.harmony).toBe("neutral");
		expect(out.style).toBe("monochrome-minimal");
		expect(out.palette).toEqual([{ hex: "#111111", name: "black", share: 1 }]);
		expect(out.contrast.level).toBe("low");
	});

	it("one hue in two lightnesses is monochrome", async () => {
		const { out } = await analyse(outfit("#000080", "#8080ff"));
		expect(out.harmony).toBe("monochrome");
		expect(out.style).toBe("monochrome-minimal");
	});

	it("a dark suit with a white shirt is formal", async () => {
		const shirt: Rect = { x: 88, y: 80, w: 24, h: 120, color: "#ffffff" };
		const { out } = await analyse(outfit("#141414", "#141414", [shirt]), { bg: "#9aa0a6" });
		expect(out.style).toBe("formal");
		expect(out.style_reason).toMatch(/suit/);
		expect(out.palette.map(c => c.name)).toEqual(expect.arrayContaining(["black", "white"]));
	});

	it("a tie makes any outfit formal and is listed as an accessory item", async () => {
		const tie: Rect = { x: 96, y: 90, w: 8, h: 70, color: "#800020" };
		const { out } = await analyse(outfit("#4169e1", "#c3b091", [tie]), { vision: { objects: [{ label: "person", score: 0.8, box: [55, 30, 90, 360] }, { label: "tie", score: 0.7, box: [96, 90, 8, 70] }] } });
		expect(out.style).toBe("formal");
		expect(out.accessories).toEqual(["tie"]);
		expect(item(out, "tie")).toMatchObject({ dominant_color: "#800020", color_name: "burgundy", bbox: [96, 90, 104, 160], score: 0.7 });
	});

	it("sports equipment near the person makes the look sporty", async () => {
		const { out } = await analyse(outfit("#ffffff", "#222222"), { bg: "#3a7d44", vision: { objects: [{ label: "person", score: 0.8, box: [55, 30, 90, 360] }, { label: "sports ball", score: 0.6, box: [150, 330, 30, 30] }] } });
		expect(out.style).toBe("sporty");
		// A ball is not worn: no accessory item for it.
		expect(out.items.map(i => i.type)).toEqual(["top", "bottom"]);
	});

	it("bright complementary colours are colourful", async () => {
		const { out } = await analyse(outfit("#1e50ff", "#ff8c1e"));
		expect(out.harmony).toBe("complementary");
		expect(out.style).toBe("colourful");
	});

	it("neighbouring hues are analogous", async () => {
		const { out } = await analyse(outfit("#e62828", "#f0a01e"));
		expect(out.harmony).toBe("analogous");
	});

	it("red, green and blue are triadic and colourful", async () => {
		const green: Rect = { x: 100, y: 80, w: 40, h: 120, color: "#00c800" };
		const { out } = await analyse(outfit("#ff0000", "#0000ff", [green]));
		expect(out.harmony).toBe("triadic");
		expect(out.style).toBe("colourful");
		expect(out.palette.map(c => c.hex).sort()).toEqual(["#0000ff", "#00c800", "#ff0000"]);
	});

	it("a striped top over khaki is casual", async () => {
		const stripes: Rect[] = Array.from({ length: 6 }, (_, i) => ({ x: 60, y: 80 + i * 20, w: 80, h: 10, color: "#008080" }));
		const { out } = await analyse(outfit("#ffffff", "#c3b091", stripes), { bg: "#606060" });
		expect(out.style).toBe("casual");
		expect(out.palette.map(c => c.name)).toEqual(expect.arrayContaining(["white", "teal", "khaki"]));
	});

	it("leaves skin out of garment colours (a crop top)", async () => {
		const belly: Rect = { x: 60, y: 150, w: 80, h: 50, color: "#e0ac69" };
		const { out } = await analyse(outfit("#808080", "#1560bd", [belly]));
		expect(item(out, "top")!.dominant_color).toBe("#808080");
		expect(out.palette.map(c => c.hex)).not.toContain("#e0ac69");
		expect(out.palette.map(c => c.hex).sort()).toEqual(["#1560bd", "#808080"]);
	});

	it("measures the top against the skin of the subject's face", async () => {
		const face: Rect = { x: 80, y: 20, w: 40, h: 50, color: "#c68642" };
		const withFace = { faces: [{ box: [80, 20, 40, 50] as [number, number, number, number], score: 0.9, landmarks: { left_eye: [108, 40] as [number, number], right_eye: [92, 40] as [number, number], nose_tip: [100, 50] as [number, number] }, head_pose: { yaw: 0, pitch: 0, roll: 0 }, emotions: {}, age: null, gender: null, gender_confidence: null, descriptor: null, real: null, live: null }] };
		const near = await analyse(outfit("#c07f40", "#000000", [face]), { vision: withFace });
		const far = await analyse(outfit("#0000ff", "#000000", [face]), { vision: withFace });
		expect(near.out.contrast.with_skin).toBeLessThan(10);
		expect(far.out.contrast.with_skin).toBeGreaterThan(40);
		expect((await analyse(outfit("#0000ff", "#000000"))).out.contrast.with_skin).toBeNull();
	});

	it("lists a handbag with its own colour and adds it to the palette", async () => {
		const bag: Rect = { x: 150, y: 200, w: 40, h: 40, color: "#8b4513" };
		const objects = [{ label: "person", score: 0.8, box: [55, 30, 90, 360] as [number, number, number, number] }, { label: "handbag", score: 0.55, box: [150, 200, 40, 40] as [number, number, number, number] }];
		const { out } = await analyse(outfit("#ffffff", "#000000", [bag]), { bg: "#9aa0a6", vision: { objects } });
		const without = await analyse(outfit("#ffffff", "#000000", [bag]), { bg: "#9aa0a6" });
		expect(item(out, "handbag")).toMatchObject({ dominant_color: "#8b4513", color_name: "brown", bbox: [150, 200, 190, 240] });
		expect(out.accessories).toEqual(["handbag"]);
		expect(out.palette.map(c => c.hex)).toContain("#8b4513");
		// The accessory bonus of the rating formula.
		expect(out.overall_rating).toBeGreaterThan(without.out.overall_rating);
	});

	it("ignores an accessory far from the person", async () => {
		const objects = [{ label: "person", score: 0.8, box: [20, 100, 30, 100] as [number, number, number, number] }, { label: "backpack", score: 0.9, box: [360, 300, 30, 30] as [number, number, number, number] }];
		const { out } = await analyse(outfit("#ffffff", "#000000"), { vision: { objects, bodies: [], width: 400, height: 400 } });
		expect(out.accessories).toEqual([]);
	});

	it("falls back to the person box without body keypoints, and says so", async () => {
		const { out } = await analyse(outfit("#ff0000", "#000080"), { vision: { bodies: [], objects: [{ label: "person", score: 0.9, box: [60, 0, 80, 400] }] } });
		expect(out.regions.source).toBe("person_box");
		expect(item(out, "top")!.dominant_color).toBe("#ff0000");
		expect(item(out, "bottom")!.dominant_color).toBe("#000080");
		expect(out.warnings.join(" ")).toMatch(/keypoints not found/);
		expect(out.confidence).toBeLessThan(0.7);
	});

	it("with no person: the whole image's palette, no items, style unknown, rating 0, a warning", async () => {
		const d = deps(await picture([{ x: 0, y: 0, w: 200, h: 100, color: "#87ceeb" }], { bg: "#3a7d44" }));
		const out = await runAgent(fashion, input(vision({ bodies: [], objects: [] })), d);
		expect(out.style).toBe("unknown");
		expect(out.items).toEqual([]);
		expect(out.overall_rating).toBe(0);
		expect(out.confidence).toBe(0.1);
		expect(out.regions).toEqual({ source: "image", person: null, torso: null, legs: null });
		expect(out.palette.map(c => [c.hex, c.share])).toEqual([["#3a7d44", 0.75], ["#87ceeb", 0.25]]);
		expect(out.warnings.join(" ")).toMatch(/no person found/);
		expect(d.calls.crops).toEqual([]);
	});

	it("without fashion consent it refuses and nothing is read or stored", async () => {
		const d = deps(await picture(outfit("#ff0000", "#000080")));
		await expect(runAgent(fashion, input(vision(), false), d)).rejects.toMatchObject({ type: "CONSENT_REQUIRED", code: 403, data: { purpose: "fashion_analysis" } });
		expect(d.calls).toEqual({ image: 0, crops: [] });
	});

	it("keeps going when a crop cannot be stored", async () => {
		const d = deps(await picture(outfit("#ff0000", "#000080")), { failCrop: true });
		const out = await runAgent(fashion, input(vision()), d);
		expect(out.items.map(i => i.crop_url)).toEqual([null, null]);
		expect(out.warnings).toEqual(["could not store the top crop", "could not store the bottom crop"]);
	});

	it("warns about legs it cannot see, several people and poor photos", async () => {
		const upper = standingKeypoints().filter(k => !/Knee|Ankle/.test(k.name));
		const v = {
			bodies: [{ box: [60, 45, 80, 160] as [number, number, number, number], score: 0.9, keypoints: upper }],
			objects: [{ label: "person", score: 0.8, box: [55, 30, 90, 175] as [number, number, number, number] }, { label: "person", score: 0.6, box: [0, 0, 40, 100] as [number, number, number, number] }],
			quality: { width: W, height: H, brightness: 0.1, contrast: 0.1, sharpness: 2, blurry: true, too_dark: true, too_bright: false }
		};
		const { out } = await analyse(outfit("#ff0000", "#000080"), { vision: v });
		expect(out.items.map(i => i.type)).toEqual(["top"]);
		expect(out.warnings.join(" | ")).toMatch(/legs not visible.*several people.*blurry.*dark/);
		expect(out.confidence).toBeLessThan(0.7);
	});
});

// ---- Colours read by the vision worker --------------------------------------------------------

/** The colours as the vision worker reads them for a pass: from an RGB raster of the analysed image. */
async function workerColours(image: Buffer, v: VisionResult) {
	const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
	return passColours(fashionColours(v, await rasterFromRgb(data, info.width, info.height, v.width)));
}

describe("fashion colours carried by the vision pass", () => {
	const scenes: [string, Rect[], Partial<VisionResult>, string][] = [
		["keypoints, red over navy", outfit("#ff0000", "#000080"), {}, "#ffffff"],
		["a handbag and a face", outfit("#ffffff", "#000000", [{ x: 150, y: 200, w: 40, h: 40, color: "#8b4513" }, { x: 80, y: 20, w: 40, h: 50, color: "#c68642" }]), {
			objects: [{ label: "person", score: 0.8, box: [55, 30, 90, 360] }, { label: "handbag", score: 0.55, box: [150, 200, 40, 40] }],
			faces: [{ box: [80, 20, 40, 50], score: 0.9, landmarks: { left_eye: [108, 40], right_eye: [92, 40], nose_tip: [100, 50] }, head_pose: { yaw: 0, pitch: 0, roll: 0 }, emotions: {}, age: null, gender: null, gender_confidence: null, descriptor: null, real: null, live: null }]
		}, "#9aa0a6"],
		["person box only", outfit("#ff0000", "#000080"), { bodies: [], objects: [{ label: "person", score: 0.9, box: [60, 0, 80, 400] }] }, "#ffffff"],
		["no person", outfit("#87ceeb", "#3a7d44"), { bodies: [], objects: [] }, "#ffffff"]
	];

	it.each(scenes)("%s: the same report from the pass's colours as from the image, without reading the image", async (_, rects, over, bg) => {
		const image = await picture(rects, { bg });
		const v = vision(over);
		const colours = await workerColours(image, v);
		// The colours travel inside the pass: its schema keeps them.
		const pass = VisionResultSchema.parse({ ...v, colours });
		expect(pass.colours).toEqual(colours);
		const fromImage = deps(image);
		const fromPass = deps(image);
		const expected = await runAgent(fashion, input(v), fromImage);
		const out = await runAgent(fashion, input(pass), fromPass);
		expect(out).toEqual(expected);
		expect(fromImage.calls.image).toBe(1);
		expect(fromPass.calls.image).toBe(0);
		expect(fromPass.calls.crops).toEqual(fromImage.calls.crops);
	});

	it("a pass changed after its colours were read (other regions, accessories or face) is read from the image again", async () => {
		const image = await picture(outfit("#ff0000", "#000080"));
		// Colours read for a pass that saw nobody, then a body added by hand.
		const colours = await workerColours(image, vision({ bodies: [], objects: [] }));
		const d = deps(image);
		const out = await runAgent(fashion, input({ ...vision(), colours }), d);
		expect(d.calls.image).toBe(1);
		expect(out.items.map(i => [i.type, i.dominant_color])).toEqual([["top", "#ff0000"], ["bottom", "#000080"]]);
		// A face added later changes what the skin contrast reads, too.
		const withFace = vision({ faces: [{ box: [80, 20, 40, 50], score: 0.9, landmarks: { left_eye: [108, 40], right_eye: [92, 40], nose_tip: [100, 50] }, head_pose: { yaw: 0, pitch: 0, roll: 0 }, emotions: {}, age: null, gender: null, gender_confidence: null, descriptor: null, real: null, live: null }] });
		const d2 = deps(image);
		await runAgent(fashion, input({ ...withFace, colours: await workerColours(image, vision()) }), d2);
		expect(d2.calls.image).toBe(1);
	});

	it("reads a large JPEG's colours from the worker's downscaled copy as the agent reads them from the file", async () => {
		// A 1600 × 3200 photo: the worker's copy is the 640-px inference raster, the agent's the file itself.
		const scale = (r: Rect): Rect => ({ x: r.x * 8, y: r.y * 8, w: r.w * 8, h: r.h * 8, color: r.color });
		const image = await picture(outfit("#e62828", "#1560bd").map(scale), { format: "jpeg", width: W * 8, height: H * 8, bg: "#d0d0d0" });
		const big = (o: Partial<VisionResult> = {}): VisionResult => {
			const v = vision(o);
			const k = (n: number) => n * 8;
			return {
				...v,
				width: W * 8,
				height: H * 8,
				bodies: v.bodies.map(b => ({ ...b, box: b.box.map(k) as [number, number, number, number], keypoints: b.keypoints.map(p => ({ ...p, x: k(p.x), y: k(p.y) })) })),
				objects: v.objects.map(o2 => ({ ...o2, box: o2.box.map(k) as [number, number, number, number] })),
				quality: { ...v.quality, width: W * 8, height: H * 8 }
			};
		};
		const v = big();
		const inference = await sharp(image).resize({ width: 640, height: 640, fit: "inside" }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
		const colours = passColours(fashionColours(v, await rasterFromRgb(inference.data, inference.info.width, inference.info.height, v.width)));
		const a = await runAgent(fashion, input(v), deps(image));
		const b = await runAgent(fashion, input({ ...v, colours }), deps(image));
		expect([b.style, b.harmony, b.items.map(i => [i.type, i.color_name]), b.palette.map(c => c.name)]).toEqual([a.style, a.harmony, a.items.map(i => [i.type, i.color_name]), a.palette.map(c => c.name)]);
		for (const [i, it] of b.items.entries()) expect(deltaE2000(rgbToLab(parseHex(it.dominant_color)), rgbToLab(parseHex(a.items[i].dominant_color)))).toBeLessThan(2);
	});
});

// ---- The documented formulas ---------------------------------------------------------------

describe("fashion rules as functions", () => {
	const q = { blurry: false, too_dark: false, too_bright: false };

	it("overall_rating follows its formula", () => {
		// 0.45·8.5 + 0.25·min(10, 4 + 40/5) + 0.15·10 + 0.15·10 = 3.825 + 2.5 + 1.5 + 1.5
		expect(overallRating({ hasPerson: true, harmony: "analogous", colours: 3, withBackground: 40, accessories: 0, quality: q })).toBe(9.3);
		// 0.45·5.5 + 0.25·(4 + 10/5) + 0.15·5 + 0.15·(10 − 3 − 2) + 0.5 = 5.975
		expect(overallRating({ hasPerson: true, harmony: "contrasting", colours: 6, withBackground: 10, accessories: 1, quality: { blurry: true, too_dark: true, too_bright: false } })).toBe(6);
		expect(overallRating({ hasPerson: true, harmony: "neutral", colours: 1, withBackground: null, accessories: 0, quality: q })).toBe(Number((0.45 * 7.5 + 0.25 * 7 + 0.15 * 8 + 0.15 * 10).toFixed(1)));
		expect(overallRating({ hasPerson: false, harmony: "triadic", colours: 3, withBackground: 50, accessories: 2, quality: q })).toBe(0);
	});

	it("confidence follows where the regions come from", () => {
		const base = { person: null, torso: null, legs: null, torsoScore: 0, legsScore: 0 };
		expect(fashionConfidence({ ...base, source: "keypoints", subjectScore: 1, coverage: 1 }, q)).toBe(0.9);
		expect(fashionConfidence({ ...base, source: "keypoints", subjectScore: 1, coverage: 1 }, { ...q, blurry: true })).toBe(0.72);
		expect(fashionConfidence({ ...base, source: "person_box", subjectScore: 0.5, coverage: 0 }, q)).toBe(0.45);
		expect(fashionConfidence({ ...base, source: "image", subjectScore: 0, coverage: 0 }, { ...q, too_dark: true })).toBe(0.09);
	});

	it("a side view still gets a torso wide enough to sample", () => {
		const side = standingKeypoints().map(k => ({ ...k, x: 100 }));
		const r = findRegions(vision({ bodies: [{ box: [90, 45, 20, 335], score: 0.8, keypoints: side }], objects: [] }));
		expect(r.torso![2] - r.torso![0]).toBeGreaterThanOrEqual(0.35 * 120 - 1);
	});

	it("style rules run in their documented order", () => {
		const c = (h: string, share = 1) => {
			const rgb = parseHex(h);
			return { rgb, hex: h, lab: rgbToLab(rgb), share };
		};
		const facts = { hasPerson: true, labels: [] as string[], harmony: "triadic" as const, palette: [c("#ff0000", 0.5), c("#000080", 0.5)], torso: [c("#ff0000")], legs: [c("#000080")] };
		expect(classifyStyle({ ...facts, hasPerson: false }).style).toBe("unknown");
		expect(classifyStyle({ ...facts, labels: ["tie", "sports ball"] }).style).toBe("formal");
		expect(classifyStyle({ ...facts, labels: ["skateboard"] }).style).toBe("sporty");
		expect(classifyStyle(facts).style).toBe("smart-casual");
		expect(classifyStyle({ ...facts, torso: [c("#ff0000", 0.5), c("#ffffff", 0.5)] }).style).toBe("casual");
		// A dark jacket and a white shirt seen from the waist up.
		expect(classifyStyle({ ...facts, harmony: "neutral", palette: [c("#1a1a1a", 0.7), c("#ffffff", 0.3)], torso: [c("#1a1a1a", 0.7), c("#ffffff", 0.3)], legs: [] })).toEqual({ style: "formal", reason: "a dark jacket with a light shirt" });
	});
});
