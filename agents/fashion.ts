import sharp from "sharp";
import { z } from "zod";
import { defineAgent } from "./agent";
import { consentRequired } from "./errors";
import {
	HARMONIES,
	classifyHarmony,
	colourName,
	deltaE2000,
	hueDistance,
	hueGroups,
	hex,
	isAchromatic,
	lab8,
	labDist2,
	lightness8,
	quantise,
	rgbToHsv,
	rgbToLab,
	skinLike,
	type Harmony,
	type Lab,
	type PaletteColour,
	type Rgb
} from "./colors";
import { VisionResult, type Keypoint, type KeypointName, type PassColour, type PassColours, type VisionBody } from "./providers/vision/types";

/**
 * The fashion agent: reads the shared vision pass (subject body keypoints, person and
 * accessory objects, and the colours of the torso, legs, accessory and background regions,
 * read by the vision worker: fashionColours below) and answers a style label, garment items
 * with crops, an outfit palette, its colour harmony, contrasts, an overall rating and a
 * confidence. Every rule is below, in code, with its reason.
 */

export const FASHION_VERSION = "1.0.0";

/** A vision pass as the worker has it (before the service adds the content hash). */
type Pass = Omit<VisionResult, "content_hash">;

/** [x1, y1, x2, y2] in pixels of the analysed image. */
type Xyxy = [number, number, number, number];
const Xyxy = z.tuple([z.number(), z.number(), z.number(), z.number()]);

export const STYLES = ["formal", "smart-casual", "casual", "sporty", "monochrome-minimal", "colourful", "unknown"] as const;
export type Style = (typeof STYLES)[number];

/**
 * COCO labels worn or carried that the object detector can see. Glasses are not among them:
 * COCO has no eyewear class and Human's face models report no glasses either, so glasses are
 * never detected (and never guessed).
 */
export const ACCESSORY_LABELS = ["tie", "handbag", "backpack", "umbrella", "suitcase"] as const;
/** COCO sports equipment: one near the person makes the look sporty. */
export const SPORTS_LABELS = ["sports ball", "tennis racket", "baseball bat", "baseball glove", "skateboard", "surfboard", "skis", "snowboard", "frisbee"] as const;

/** Keypoints under this score are ignored (movenet's own "visible" threshold is about 0.3). */
const KP_MIN = 0.3;
/** Objects under this score are ignored. */
const OBJ_MIN = 0.3;
/** Longest edge of the raster the colours are read from: colour statistics do not need more. */
const RASTER_EDGE = 400;

export const FashionInput = z.object({
	vision: VisionResult,
	media_id: z.string().min(1).max(64),
	user_id: z.string().min(1).max(64),
	consent: z.object({ fashion: z.boolean() })
});
export type FashionInput = z.infer<typeof FashionInput>;

const Hex = z.string().regex(/^#[0-9a-f]{6}$/);

export const FashionItem = z.object({
	/** `top`, `bottom`, or an accessory's COCO label. */
	type: z.string(),
	score: z.number().min(0).max(1),
	bbox: Xyxy,
	crop_url: z.string().nullable(),
	dominant_color: Hex,
	color_name: z.string()
});

export const FashionOutput = z.object({
	style: z.enum(STYLES),
	/** Which rule chose the style, in words. */
	style_reason: z.string(),
	items: z.array(FashionItem),
	palette: z.array(z.object({ hex: Hex, name: z.string(), share: z.number().min(0).max(1) })).max(6),
	harmony: z.enum(HARMONIES),
	/** CIEDE2000 differences: top vs bottom, outfit vs background, top vs skin (null when a side is missing). */
	contrast: z.object({
		top_bottom: z.number().nullable(),
		with_background: z.number().nullable(),
		with_skin: z.number().nullable(),
		level: z.enum(["low", "medium", "high"]).nullable()
	}),
	accessories: z.array(z.string()),
	regions: z.object({
		source: z.enum(["keypoints", "person_box", "image"]),
		person: Xyxy.nullable(),
		torso: Xyxy.nullable(),
		legs: Xyxy.nullable()
	}),
	overall_rating: z.number().min(0).max(10),
	confidence: z.number().min(0).max(1),
	warnings: z.array(z.string()),
	version: z.string()
});
export type FashionOutput = z.infer<typeof FashionOutput>;

export interface FashionDeps {
	/** The analysed image (encoded bytes). */
	image(): Promise<Buffer>;
	/** Stores a crop of the analysed image, box [x, y, w, h] in pixels; answers its signed URL. */
	crop(box: [number, number, number, number]): Promise<string | null>;
}

// ---- Geometry -----------------------------------------------------------------------------

const r1 = (n: number) => Number(n.toFixed(1));
const r2 = (n: number) => Number(n.toFixed(2));
const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
const area = (b: Xyxy) => Math.max(0, b[2] - b[0]) * Math.max(0, b[3] - b[1]);
const fromXywh = (b: [number, number, number, number]): Xyxy => [b[0], b[1], b[0] + b[2], b[1] + b[3]];
const toXywh = (b: Xyxy): [number, number, number, number] => [b[0], b[1], b[2] - b[0], b[3] - b[1]];
const union = (a: Xyxy, b: Xyxy): Xyxy => [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])];
const clip = (b: Xyxy, w: number, h: number): Xyxy => [clamp(b[0], 0, w), clamp(b[1], 0, h), clamp(b[2], 0, w), clamp(b[3], 0, h)].map(Math.round) as Xyxy;
const expand = (b: Xyxy, f: number): Xyxy => {
	const dx = (b[2] - b[0]) * f;
	const dy = (b[3] - b[1]) * f;
	return [b[0] - dx, b[1] - dy, b[2] + dx, b[3] + dy];
};
const inset = (b: Xyxy, fx: number, fy: number): Xyxy => {
	const dx = (b[2] - b[0]) * fx;
	const dy = (b[3] - b[1]) * fy;
	return [b[0] + dx, b[1] + dy, b[2] - dx, b[3] - dy];
};
const contains = (b: Xyxy, x: number, y: number) => x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3];
function iou(a: Xyxy, b: Xyxy): number {
	const i = area([Math.max(a[0], b[0]), Math.max(a[1], b[1]), Math.min(a[2], b[2]), Math.min(a[3], b[3])]);
	return i / (area(a) + area(b) - i || 1);
}

export interface Regions {
	source: "keypoints" | "person_box" | "image";
	person: Xyxy | null;
	torso: Xyxy | null;
	legs: Xyxy | null;
	/** Confidence of the torso/legs placement (keypoint or detector scores). */
	torsoScore: number;
	legsScore: number;
	/** Score of the subject detection (0 when none). */
	subjectScore: number;
	/** Fraction of the torso/legs keypoints seen (shoulders, hips, a knee, an ankle). */
	coverage: number;
}

/** The subject: the body with the largest score × area (the vision pass reports the main one). */
function subjectBody(bodies: VisionBody[]): VisionBody | null {
	const ok = bodies.filter(b => b.score >= 0.2);
	return ok.sort((a, b) => b.score * b.box[2] * b.box[3] - a.score * a.box[2] * a.box[3])[0] ?? null;
}

/**
 * Person, torso and legs regions. Keypoints first: the torso spans shoulders → hips (padded
 * 8% sideways, at least 0.35 × its height wide so a side view still has a torso), the legs
 * hips → ankles (or knees + 90% of the thigh, or the person's bottom), as wide as hips, knees
 * and ankles reach. Without torso keypoints, fixed proportions of the person box (torso 20–52%
 * of its height, legs 52–95%, middle 60% of its width). Without any person: the whole image,
 * and no torso or legs.
 */
export function findRegions(v: Pass): Regions {
	const W = v.width;
	const H = v.height;
	const body = subjectBody(v.bodies);
	const people = v.objects.filter(o => o.label === "person" && o.score >= OBJ_MIN).map(o => ({ box: fromXywh(o.box), score: o.score }));
	const kp = (name: KeypointName): Keypoint | undefined => body?.keypoints.find(k => k.name === name && k.score >= KP_MIN);

	let person: Xyxy | null = null;
	let subjectScore = 0;
	if (body) {
		const pts = body.keypoints.filter(k => k.score >= KP_MIN);
		person = fromXywh(body.box);
		if (pts.length) person = union(person, [Math.min(...pts.map(p => p.x)), Math.min(...pts.map(p => p.y)), Math.max(...pts.map(p => p.x)), Math.max(...pts.map(p => p.y))]);
		// The detector's person box reaches the head top and the feet, past the joints.
		const match = people.filter(p => iou(p.box, person!) >= 0.3 || contains(p.box, (person![0] + person![2]) / 2, (person![1] + person![3]) / 2)).sort((a, b) => iou(b.box, person!) - iou(a.box, person!))[0];
		if (match) person = union(person, match.box);
		subjectScore = body.score;
	} else if (people.length) {
		const biggest = people.sort((a, b) => area(b.box) - area(a.box))[0];
		person = biggest.box;
		subjectScore = biggest.score;
	}
	if (!person) return { source: "image", person: null, torso: null, legs: null, torsoScore: 0, legsScore: 0, subjectScore: 0, coverage: 0 };
	person = clip(person, W, H);

	const shoulders = [kp("leftShoulder"), kp("rightShoulder")].filter((k): k is Keypoint => !!k);
	const hips = [kp("leftHip"), kp("rightHip")].filter((k): k is Keypoint => !!k);
	const knees = [kp("leftKnee"), kp("rightKnee")].filter((k): k is Keypoint => !!k);
	const ankles = [kp("leftAnkle"), kp("rightAnkle")].filter((k): k is Keypoint => !!k);
	const coverage = (shoulders.length + hips.length + Math.min(1, knees.length) + Math.min(1, ankles.length)) / 6;
	const mean = (ks: Keypoint[]) => ks.reduce((s, k) => s + k.score, 0) / ks.length;

	if (shoulders.length && hips.length) {
		const xs = [...shoulders, ...hips].map(k => k.x);
		const top = Math.min(...shoulders.map(k => k.y));
		const hipY = Math.max(...hips.map(k => k.y));
		const height = Math.max(1, hipY - top);
		let x1 = Math.min(...xs);
		let x2 = Math.max(...xs);
		const pad = (x2 - x1) * 0.08;
		x1 -= pad;
		x2 += pad;
		const minW = height * 0.35;
		if (x2 - x1 < minW) {
			const c = (x1 + x2) / 2;
			x1 = c - minW / 2;
			x2 = c + minW / 2;
		}
		const torso = clip([x1, top, x2, hipY], W, H);

		let legs: Xyxy | null = null;
		let legsScore = 0;
		const lower = [...knees, ...ankles];
		let bottom: number | null = null;
		if (ankles.length) bottom = Math.max(...ankles.map(k => k.y));
		else if (knees.length) bottom = Math.max(...knees.map(k => k.y)) + 0.9 * (Math.max(...knees.map(k => k.y)) - hipY);
		else if (person[3] - hipY > 0.3 * height) bottom = person[3];
		if (bottom !== null && bottom - hipY > 0.2 * height) {
			const lxs = [...hips, ...lower].map(k => k.x);
			let lx1 = Math.min(...lxs);
			let lx2 = Math.max(...lxs);
			const hipW = hips.length === 2 ? Math.abs(hips[0].x - hips[1].x) : (x2 - x1) * 0.6;
			const lw = Math.max(lx2 - lx1, hipW * 1.2, (bottom - hipY) * 0.25);
			const c = (lx1 + lx2) / 2;
			lx1 = Math.min(lx1, c - lw / 2);
			lx2 = Math.max(lx2, c + lw / 2);
			legs = clip([lx1, hipY, lx2, Math.min(bottom, person[3])], W, H);
			legsScore = lower.length ? mean([...hips, ...lower]) : mean(hips) * 0.6;
			if (area(legs) < 4) legs = null;
		}
		return { source: "keypoints", person, torso, legs, torsoScore: mean([...shoulders, ...hips]), legsScore: legs ? legsScore : 0, subjectScore, coverage };
	}

	const [px1, py1, px2, py2] = person;
	const pw = px2 - px1;
	const ph = py2 - py1;
	return {
		source: "person_box",
		person,
		torso: clip([px1 + 0.2 * pw, py1 + 0.2 * ph, px2 - 0.2 * pw, py1 + 0.52 * ph], W, H),
		legs: clip([px1 + 0.2 * pw, py1 + 0.52 * ph, px2 - 0.2 * pw, py1 + 0.95 * ph], W, H),
		torsoScore: subjectScore * 0.6,
		legsScore: subjectScore * 0.5,
		subjectScore,
		coverage
	};
}

// ---- Pixels -------------------------------------------------------------------------------

/**
 * The raster the colours are read from: RGB bytes, RASTER_EDGE on the long side at most.
 * In the vision worker it is resized from the pass's own decoded copy (rasterFromRgb), so the
 * pass carries the colours and this agent does no pixel work on the event loop; the agent reads
 * the image itself only for a pass without them (a remote provider, a hand-made pass).
 */
export interface Raster {
	data: Uint8Array;
	width: number;
	height: number;
	/** Raster pixels per analysed-image pixel. */
	k: number;
}

async function raster(image: Buffer, v: Pick<VisionResult, "width">): Promise<Raster> {
	const { data, info } = await sharp(image, { failOn: "none" })
		.rotate()
		.removeAlpha()
		.toColourspace("srgb")
		.resize({ width: RASTER_EDGE, height: RASTER_EDGE, fit: "inside", withoutEnlargement: true })
		.raw()
		.toBuffer({ resolveWithObject: true });
	return { data, width: info.width, height: info.height, k: info.width / v.width };
}

/** The colour raster from an RGB raster of the whole analysed image (`analysedWidth` its width in the pass's pixels). */
export async function rasterFromRgb(rgb: Uint8Array, width: number, height: number, analysedWidth: number): Promise<Raster> {
	const { data, info } = await sharp(rgb, { raw: { width, height, channels: 3 } })
		.resize({ width: RASTER_EDGE, height: RASTER_EDGE, fit: "inside", withoutEnlargement: true })
		.raw()
		.toBuffer({ resolveWithObject: true });
	return { data, width: info.width, height: info.height, k: info.width / analysedWidth };
}

/** RGB pixels of the raster inside `box` (analysed-image pixels), optionally outside `hole`. */
function pixels(r: Raster, box: Xyxy | null, hole?: Xyxy): Uint8Array {
	const b = box ?? [0, 0, r.width / r.k, r.height / r.k];
	const x1 = clamp(Math.floor(b[0] * r.k), 0, r.width);
	const y1 = clamp(Math.floor(b[1] * r.k), 0, r.height);
	const x2 = clamp(Math.ceil(b[2] * r.k), 0, r.width);
	const y2 = clamp(Math.ceil(b[3] * r.k), 0, r.height);
	if (x2 <= x1 || y2 <= y1) return new Uint8Array();
	const hx1 = hole ? hole[0] * r.k : 0;
	const hy1 = hole ? hole[1] * r.k : 0;
	const hx2 = hole ? hole[2] * r.k : 0;
	const hy2 = hole ? hole[3] * r.k : 0;
	const out = new Uint8Array((x2 - x1) * (y2 - y1) * 3);
	const d = r.data;
	let o = 0;
	for (let y = y1; y < y2; y++) {
		const holeRow = hole !== undefined && y >= hy1 && y < hy2;
		for (let x = x1; x < x2; x++) {
			if (holeRow && x >= hx1 && x < hx2) continue;
			const i = (y * r.width + x) * 3;
			out[o++] = d[i];
			out[o++] = d[i + 1];
			out[o++] = d[i + 2];
		}
	}
	return o === out.length ? out : out.subarray(0, o);
}

/** The pixels of `src` that `drop` keeps, unless that leaves under 25% of them (then all of `src`). */
function keepPixels(src: Uint8Array, drop: (r: number, g: number, b: number) => boolean): Uint8Array {
	const out = new Uint8Array(src.length);
	let o = 0;
	for (let i = 0; i < src.length; i += 3) {
		const r = src[i];
		const g = src[i + 1];
		const b = src[i + 2];
		if (drop(r, g, b)) continue;
		out[o++] = r;
		out[o++] = g;
		out[o++] = b;
	}
	return o >= src.length * 0.25 ? out.subarray(0, o) : src;
}

/**
 * Garment pixels of a region: skin-like pixels out, then pixels close to the background's
 * main colours (Lab distance < 12) out. Each step is skipped when it would leave under 25% of
 * the region: a beige top is not skin, a white dress before a white wall is still a dress.
 */
function garmentPixels(px: Uint8Array, background: PaletteColour[]): Uint8Array {
	let cur = keepPixels(px, skinLike);
	const bg = background.filter(c => c.share >= 0.25).map(c => c.lab);
	if (bg.length) {
		const lab: Lab = [0, 0, 0];
		cur = keepPixels(cur, (r, g, b) => {
			// L* alone already 12 or more away from every background colour: not background (exact, and one cube root instead of three).
			const l = lightness8(r, g, b);
			if (bg.every(c => (l - c[0]) ** 2 >= 144)) return false;
			lab8(r, g, b, lab);
			return bg.some(c => labDist2(lab, c) < 144);
		});
	}
	return cur;
}

function skinMean(px: Uint8Array): Lab | null {
	let n = 0;
	let s0 = 0;
	let s1 = 0;
	let s2 = 0;
	for (let i = 0; i < px.length; i += 3) {
		if (!skinLike(px[i], px[i + 1], px[i + 2])) continue;
		n++;
		s0 += px[i];
		s1 += px[i + 1];
		s2 += px[i + 2];
	}
	return n >= 20 ? rgbToLab([s0 / n, s1 / n, s2 / n]) : null;
}

/** Objects worn or carried near the subject (all objects but people when there is no subject). */
function wornObjects(v: Pass, regions: Regions) {
	const near = regions.person ? expand(regions.person, 0.3) : null;
	return v.objects
		.filter(o => o.score >= OBJ_MIN && o.label !== "person")
		.filter(o => !near || contains(near, o.box[0] + o.box[2] / 2, o.box[1] + o.box[3] / 2));
}
const accessoriesOf = (worn: ReturnType<typeof wornObjects>) => worn.filter(o => (ACCESSORY_LABELS as readonly string[]).includes(o.label));

/** The subject's face box (the largest face), [x1, y1, x2, y2]. */
function faceBoxOf(v: Pass): Xyxy | null {
	return v.faces.length ? fromXywh([...v.faces].sort((a, b) => b.box[2] * b.box[3] - a.box[2] * a.box[3])[0].box) : null;
}

/** Version of the colour reading below: part of the key, so a pass read by another version is read again. */
export const COLOURS_VERSION = "fashion-colours/1";

/** What the colours were read for: the regions, accessories and face a pass gives (a pass edited afterwards no longer matches). */
function coloursKey(v: Pass, regions: Regions): string {
	const acc = accessoriesOf(wornObjects(v, regions)).map(o => o.box);
	return JSON.stringify([COLOURS_VERSION, v.width, v.height, regions.person, regions.torso, regions.legs, acc, faceBoxOf(v)]);
}

/** Everything the fashion agent reads from the pixels of one pass. */
export interface FashionColours {
	key: string;
	background: PaletteColour[];
	torso: PaletteColour[];
	legs: PaletteColour[];
	/** One palette per accessory near the subject, in the pass's object order. */
	accessories: PaletteColour[][];
	/** The outfit palette (the whole image's without a person), 6 colours at most. */
	outfit: PaletteColour[];
	/** CIEDE2000 of the top's main colour against the subject's face skin (0.1), null without either. */
	with_skin: number | null;
}

const deltaOrNull = (a: Lab | undefined | null, b: Lab | undefined | null) => (a && b ? r1(deltaE2000(a, b)) : null);

/**
 * The pixel work of the fashion agent, over the colour raster of a pass: background (outside
 * the person grown 5%, when enough of it is left), torso, legs and accessory garment palettes
 * (each sampled inside its region: collar, belt, arms and shoes are edges), the outfit palette,
 * and the top against the skin of the face. Synchronous arithmetic: the vision worker runs it
 * as part of the pass (`colours`), the agent only for a pass without them.
 */
export function fashionColours(v: Pass, img: Raster, regions = findRegions(v)): FashionColours {
	const hasPerson = regions.source !== "image";
	const hole = regions.person ? expand(regions.person, 0.05) : null;
	const bgPx = hole ? pixels(img, null, hole) : new Uint8Array();
	const background = bgPx.length / 3 >= 0.1 * img.width * img.height ? quantise(bgPx) : [];

	const torsoPx = regions.torso ? garmentPixels(pixels(img, inset(regions.torso, 0.15, 0.1)), background) : new Uint8Array();
	const legsPx = regions.legs ? garmentPixels(pixels(img, inset(regions.legs, 0.1, 0.06)), background) : new Uint8Array();
	const torso = quantise(torsoPx);
	const legs = quantise(legsPx);
	const accessoryPx = accessoriesOf(wornObjects(v, regions)).map(o => garmentPixels(pixels(img, inset(fromXywh(o.box), 0.1, 0.1)), background));
	const outfitPx = hasPerson ? concat([torsoPx, legsPx, ...accessoryPx]) : garmentPixels(pixels(img, null), []);
	const outfit = quantise(outfitPx).slice(0, 6);

	const faceBox = faceBoxOf(v);
	const skin = faceBox ? skinMean(pixels(img, inset(faceBox, 0.25, 0.25))) : null;
	return { key: coloursKey(v, regions), background, torso, legs, accessories: accessoryPx.map(px => quantise(px)), outfit, with_skin: deltaOrNull(torso[0]?.lab, skin) };
}

/**
 * Runs the colour reading over a synthetic photo a few times, so a fresh vision thread has it
 * compiled before its first real pass (cold, the first passes pay several times the cost).
 */
export function warmColourReading(rounds = 24): void {
	const width = 240;
	const height = 320;
	const data = new Uint8Array(width * height * 3);
	let seed = 7;
	// Noise wide enough for a photo's thousands of colour bins: the loops then run at their real sizes.
	const noise = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 64;
	for (let y = 0; y < height; y++)
		for (let x = 0; x < width; x++) {
			const i = (y * width + x) * 3;
			const inTop = x > 70 && x < 170 && y > 60 && y < 160;
			const inLegs = x > 80 && x < 160 && y >= 160 && y < 300;
			const base: Rgb = inTop ? [170, 30, 40] : inLegs ? [20, 30, 100] : [120 + (x >> 3), 140, 170 - (y >> 3)];
			data[i] = base[0] + noise();
			data[i + 1] = base[1] + noise();
			data[i + 2] = base[2] + noise();
		}
	const kp = (name: KeypointName, x: number, y: number): Keypoint => ({ name, x, y, z: 0, score: 0.9 });
	const pass: Pass = {
		width,
		height,
		faces: [],
		bodies: [{ box: [70, 30, 100, 280], score: 0.9, keypoints: [kp("leftShoulder", 160, 60), kp("rightShoulder", 80, 60), kp("leftHip", 150, 160), kp("rightHip", 90, 160), kp("leftKnee", 145, 230), kp("rightKnee", 95, 230), kp("leftAnkle", 140, 295), kp("rightAnkle", 100, 295)] }],
		objects: [{ label: "person", score: 0.9, box: [65, 20, 110, 290] }, { label: "handbag", score: 0.6, box: [170, 150, 40, 40] }],
		quality: { width, height, brightness: 0.5, contrast: 0.2, sharpness: 20, blurry: false, too_dark: false, too_bright: false },
		biometric: false,
		provider: "warm-up",
		model_version: "warm-up",
		inference_ms: 0
	};
	const img: Raster = { data, width, height, k: 1 };
	for (let i = 0; i < rounds; i++) passColours(fashionColours(pass, img));
}

const toPass = (p: PaletteColour[]): PassColour[] => p.map(c => ({ rgb: c.rgb, share: c.share }));
const fromPass = (p: PassColour[]): PaletteColour[] => p.map(c => ({ rgb: c.rgb, hex: hex(c.rgb), lab: rgbToLab(c.rgb), share: c.share }));

/** The colours as the vision pass carries them (sRGB and share: hex and Lab follow from the sRGB exactly). */
export function passColours(c: FashionColours): PassColours {
	return { key: c.key, background: toPass(c.background), torso: toPass(c.torso), legs: toPass(c.legs), accessories: c.accessories.map(toPass), outfit: toPass(c.outfit), with_skin: c.with_skin };
}

/** The pass's colours when they were read for exactly these regions, accessories and face; null otherwise. */
export function coloursFromPass(v: Pass, regions: Regions): FashionColours | null {
	const c = v.colours;
	if (!c || c.key !== coloursKey(v, regions)) return null;
	return { key: c.key, background: fromPass(c.background), torso: fromPass(c.torso), legs: fromPass(c.legs), accessories: c.accessories.map(fromPass), outfit: fromPass(c.outfit), with_skin: c.with_skin };
}

// ---- Rules --------------------------------------------------------------------------------

const isBright = (rgb: Rgb) => {
	const { s, v } = rgbToHsv(rgb);
	return s >= 0.5 && v >= 0.6;
};
const L = (c: PaletteColour) => c.lab[0];

export interface StyleFacts {
	hasPerson: boolean;
	labels: string[];
	harmony: Harmony;
	palette: PaletteColour[];
	torso: PaletteColour[];
	legs: PaletteColour[];
}

/**
 * The style label. Rules in order, the first that holds wins:
 * 1. unknown — no person in the image: there is no outfit to label.
 * 2. formal — a tie near the person; or a suit: a dark top (L* < 30) with a light neutral (a
 *    shirt: achromatic, L* > 80) making ≥ 8% of the torso, over a bottom that is alike
 *    (ΔE00 < 10) or not in the picture (a jacket and shirt seen from the waist up).
 * 3. sporty — sports equipment (COCO: ball, racket, bat, glove, skateboard, surfboard, skis,
 *    snowboard, frisbee) near the person.
 * 4. monochrome-minimal — harmony neutral or monochrome (no hue, or a single hue) with at most
 *    three outfit colours: a tonal, pared-back look.
 * 5. colourful — three or more hue groups; or two or more, each with a bright colour (HSV
 *    s ≥ 0.5, v ≥ 0.6), and chromatic colours making ≥ 60% of the outfit.
 * 6. smart-casual — a solid top (its main colour ≥ 60% of the torso) over a dark (L* < 40) or
 *    neutral bottom: the classic "good top, quiet trousers".
 * 7. casual — everything else.
 */
export function classifyStyle(f: StyleFacts): { style: Style; reason: string } {
	if (!f.hasPerson) return { style: "unknown", reason: "no person found" };
	if (f.labels.includes("tie")) return { style: "formal", reason: "a tie is worn" };
	const top = f.torso[0];
	const bottom = f.legs[0];
	if (top && L(top) < 30 && (!bottom || deltaE2000(top.lab, bottom.lab) < 10) && f.torso.some(c => isAchromatic(c.rgb) && L(c) > 80 && c.share >= 0.08))
		return { style: "formal", reason: bottom ? "a dark suit with a light shirt" : "a dark jacket with a light shirt" };
	const sport = f.labels.find(l => (SPORTS_LABELS as readonly string[]).includes(l));
	if (sport) return { style: "sporty", reason: `sports equipment (${sport})` };
	const main = f.palette.filter(c => c.share >= 0.05);
	if ((f.harmony === "neutral" || f.harmony === "monochrome") && main.length <= 3)
		return { style: "monochrome-minimal", reason: `${f.harmony} outfit in ${main.length} colour${main.length === 1 ? "" : "s"}` };
	const groups = hueGroups(f.palette);
	const chromaShare = main.filter(c => !isAchromatic(c.rgb)).reduce((s, c) => s + c.share, 0);
	if (groups.length >= 3) return { style: "colourful", reason: `${groups.length} distinct hues` };
	if (groups.length >= 2 && chromaShare >= 0.6) {
		const brightGroups = groups.filter(g => main.some(c => !isAchromatic(c.rgb) && isBright(c.rgb) && hueDistance(rgbToHsv(c.rgb).h, g.hue) <= 30));
		if (brightGroups.length === groups.length) return { style: "colourful", reason: `${groups.length} bright hues` };
	}
	if (top && top.share >= 0.6 && bottom && (L(bottom) < 40 || isAchromatic(bottom.rgb))) return { style: "smart-casual", reason: "a solid top over a dark or neutral bottom" };
	return { style: "casual", reason: "no formal, sporty, minimal or colourful cue" };
}

/** Points for each harmony: coherent schemes score higher than unrelated hues. */
export const HARMONY_POINTS: Record<Harmony, number> = { neutral: 7.5, monochrome: 8, analogous: 8.5, complementary: 8, triadic: 7.5, contrasting: 5.5 };

export interface RatingFacts {
	hasPerson: boolean;
	harmony: Harmony;
	/** Outfit colours with share ≥ 5%. */
	colours: number;
	withBackground: number | null;
	accessories: number;
	quality: { blurry: boolean; too_dark: boolean; too_bright: boolean };
}

/**
 * overall_rating 0–10 = 0.45·H + 0.25·S + 0.15·F + 0.15·Q (+0.5 with an accessory, capped at 10):
 * - H, harmony points (HARMONY_POINTS);
 * - S, standing out from the background: min(10, 4 + ΔE00(outfit, background) / 5), 7 when
 *   the person fills the frame;
 * - F, focus: 1 colour 8, 2–4 colours 10, 5 colours 7, 6 colours 5;
 * - Q, photo quality: 10, −3 if blurry, −2 if too dark, −2 if too bright.
 * No person: 0 (there is no outfit to rate; the confidence and a warning say so).
 */
export function overallRating(f: RatingFacts): number {
	if (!f.hasPerson) return 0;
	const H = HARMONY_POINTS[f.harmony];
	const S = f.withBackground === null ? 7 : Math.min(10, 4 + f.withBackground / 5);
	const F = f.colours <= 1 ? 8 : f.colours <= 4 ? 10 : f.colours === 5 ? 7 : 5;
	const Q = 10 - (f.quality.blurry ? 3 : 0) - (f.quality.too_dark ? 2 : 0) - (f.quality.too_bright ? 2 : 0);
	return r1(clamp(0.45 * H + 0.25 * S + 0.15 * F + 0.15 * Q + (f.accessories ? 0.5 : 0), 0, 10));
}

/**
 * Confidence: from where the regions come from — keypoints 0.5 + 0.4 × body score × coverage
 * (shoulders, hips, a knee, an ankle seen), a person box only 0.3 + 0.3 × its score, no person
 * 0.1 — then × 0.8 for a blurry photo and × 0.9 for a too dark or too bright one.
 */
export function fashionConfidence(r: Regions, q: { blurry: boolean; too_dark: boolean; too_bright: boolean }): number {
	let c = r.source === "keypoints" ? 0.5 + 0.4 * r.subjectScore * r.coverage : r.source === "person_box" ? 0.3 + 0.3 * r.subjectScore : 0.1;
	if (q.blurry) c *= 0.8;
	if (q.too_dark || q.too_bright) c *= 0.9;
	return r2(clamp(c, 0, 1));
}

function contrastLevel(d: number | null): "low" | "medium" | "high" | null {
	if (d === null) return null;
	return d < 10 ? "low" : d < 30 ? "medium" : "high";
}



const fashion = defineAgent({
	name: "fashion",
	version: FASHION_VERSION,
	input: FashionInput,
	output: FashionOutput,
	async run(input: FashionInput, deps: FashionDeps): Promise<FashionOutput> {
		// The orchestrator gates on consent; the agent refuses too, before it reads anything.
		if (!input.consent.fashion) throw consentRequired("fashion_analysis");
		const v = input.vision;
		const warnings: string[] = [];
		const regions = findRegions(v);
		const hasPerson = regions.source !== "image";

		if (!hasPerson) warnings.push("no person found: the palette describes the whole image and no outfit is rated");
		else if (regions.source === "person_box") warnings.push("body keypoints not found: torso and legs placed by the proportions of the person box");
		if (hasPerson && !regions.legs) warnings.push("legs not visible: no bottom garment");
		if (v.objects.filter(o => o.label === "person" && o.score >= OBJ_MIN).length > 1) warnings.push("several people in the photo: the main subject is analysed");
		if (v.quality.blurry) warnings.push("blurry photo: colours and items may be off");
		if (v.quality.too_dark) warnings.push("dark photo: colours may read darker than they are");
		if (v.quality.too_bright) warnings.push("overexposed photo: colours may read lighter than they are");

		// The colours: from the pass when its worker read them for these regions, else from the image here.
		const colours = coloursFromPass(v, regions) ?? fashionColours(v, await raster(await deps.image(), v), regions);
		const { background, torso, legs, outfit } = colours;
		const worn = wornObjects(v, regions);
		const accessories = accessoriesOf(worn);
		const { harmony } = classifyHarmony(outfit);

		const items: { type: string; score: number; bbox: Xyxy; colours: PaletteColour[] }[] = [];
		if (regions.torso && torso.length) items.push({ type: "top", score: regions.torsoScore, bbox: regions.torso, colours: torso });
		if (regions.legs && legs.length) items.push({ type: "bottom", score: regions.legsScore, bbox: regions.legs, colours: legs });
		accessories.forEach((o, i) => {
			const palette = colours.accessories[i] ?? [];
			if (palette.length) items.push({ type: o.label, score: o.score, bbox: clip(fromXywh(o.box), v.width, v.height), colours: palette });
		});
		const crops = await Promise.all(
			items.map(async it => {
				try {
					return await deps.crop(toXywh(it.bbox));
				} catch {
					warnings.push(`could not store the ${it.type} crop`);
					return null;
				}
			})
		);

		const topBottom = deltaOrNull(torso[0]?.lab, legs[0]?.lab);
		const withBackground = hasPerson ? deltaOrNull(outfit[0]?.lab, background[0]?.lab) : null;

		const { style, reason } = classifyStyle({ hasPerson, labels: worn.map(o => o.label), harmony, palette: outfit, torso, legs });
		return {
			style,
			style_reason: reason,
			items: items.map((it, i) => ({
				type: it.type,
				score: r2(clamp(it.score, 0, 1)),
				bbox: it.bbox,
				crop_url: crops[i],
				dominant_color: it.colours[0].hex,
				color_name: colourName(it.colours[0].rgb)
			})),
			palette: outfit.map(c => ({ hex: c.hex, name: colourName(c.rgb), share: c.share })),
			harmony,
			contrast: { top_bottom: topBottom, with_background: withBackground, with_skin: colours.with_skin, level: contrastLevel(topBottom) },
			accessories: [...new Set(accessories.map(o => o.label))],
			regions: { source: regions.source, person: regions.person, torso: regions.torso, legs: regions.legs },
			overall_rating: overallRating({
				hasPerson,
				harmony,
				colours: outfit.filter(c => c.share >= 0.05).length,
				withBackground,
				accessories: accessories.length,
				quality: v.quality
			}),
			confidence: fashionConfidence(regions, v.quality),
			warnings,
			version: FASHION_VERSION
		};
	}
});

function concat(parts: Uint8Array[]): Uint8Array {
	const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
	let o = 0;
	for (const p of parts) {
		out.set(p, o);
		o += p.length;
	}
	return out;
}

export default fashion;
