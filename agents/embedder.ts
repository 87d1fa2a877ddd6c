import sharp from "sharp";
import { z } from "zod";
import { defineAgent } from "./agent";
import { rgbToHsv, rgbToLab } from "./colors";
import { VisionResult } from "./providers/vision/types";
import { TEXT_DIM, TEXT_VECTOR_VERSION, normalize, textVector } from "./vectors";

/**
 * The embedder: vectors for search and comparison, stored by its service.
 * - style: a colour/layout vector of the whole image (layout below), for every image;
 * - face: the subject's face descriptor from the vision pass, only with biometric consent;
 * - text: a hashed n-gram vector of the bio (agents/vectors.ts `textVector`).
 */

export const EMBEDDER_VERSION = "1.0.0";
export const STYLE_VECTOR_VERSION = "style-grid-lab-hue-v1";

/** Side of the square the image is resampled to before the style features are read. */
const STYLE_RASTER = 96;
const GRID = 3;
const HUE_BINS = 12;
/** 3×3 cells × Lab (27) + 12 hue bins + 4 global statistics. */
export const STYLE_DIM = GRID * GRID * 3 + HUE_BINS + 4;
/** Weight of the hue histogram against the rest (it sums to 1 over 12 bins, so it would be drowned out). */
const HUE_WEIGHT = 2;

export const EmbedderInput = z.object({
	vision: VisionResult,
	media_id: z.string().min(1).max(64),
	user_id: z.string().min(1).max(64),
	analysis_id: z.string().min(1).max(64).nullish(),
	bio_text: z.string().max(5000).nullish(),
	consent: z.object({ biometric: z.boolean() })
});
export type EmbedderInput = z.infer<typeof EmbedderInput>;

const Vector = z.array(z.number().finite());

export const EmbedderOutput = z.object({
	media_id: z.string(),
	user_id: z.string(),
	analysis_id: z.string().nullable(),
	vectors: z.object({ style: Vector.length(STYLE_DIM), face: Vector.nullable(), text: Vector.length(TEXT_DIM).nullable() }),
	dims: z.object({ style: z.literal(STYLE_DIM), face: z.number().int().nullable(), text: z.number().int().nullable() }),
	versions: z.object({ style: z.string(), face: z.string().nullable(), text: z.string().nullable() }),
	warnings: z.array(z.string()),
	version: z.string()
});
export type EmbedderOutput = z.infer<typeof EmbedderOutput>;

export interface EmbedderDeps {
	/** The analysed image (encoded bytes). */
	image(): Promise<Buffer>;
	/**
	 * The media's content hash (what a vision pass of it carries as `content_hash`). Without it
	 * the pass's style vector is never used: the agent reads the image.
	 */
	contentHash?(): Promise<string>;
}

/**
 * The style vector, STYLE_DIM = 43 numbers, L2-normalised, from the image resampled to 96×96
 * (aspect ignored, so the grid always means top/middle/bottom × left/centre/right):
 * - [0, 27): for each cell of a 3×3 grid, row by row, the mean CIE Lab colour as
 *   ((L − 50) / 50, a / 100, b / 100) — where the light, dark and coloured masses sit;
 * - [27, 39): a 12-bin hue histogram (30° per bin, from red), each pixel weighted by
 *   saturation × value so greys count for nothing, normalised to sum 1, then × 2;
 * - 39: brightness, (mean L − 50) / 50;
 * - 40: contrast, standard deviation of L / 50;
 * - 41: mean HSV saturation;
 * - 42: colourfulness (Hasler & Süsstrunk 2003) / 100, capped at 1.
 * Two photos in similar colours and light score a high cosine; different palettes or light
 * layouts score lower. No face or identity information is in it.
 */
export async function styleVector(image: Buffer): Promise<number[]> {
	const { data } = await sharp(image, { failOn: "none" })
		.rotate()
		.removeAlpha()
		.toColourspace("srgb")
		.resize(STYLE_RASTER, STYLE_RASTER, { fit: "fill" })
		.raw()
		.toBuffer({ resolveWithObject: true });
	const n = STYLE_RASTER * STYLE_RASTER;
	const cells = Array.from({ length: GRID * GRID }, () => [0, 0, 0, 0]);
	const hues = new Array<number>(HUE_BINS).fill(0);
	let sumL = 0;
	let sumL2 = 0;
	let sumS = 0;
	let sumRg = 0;
	let sumRg2 = 0;
	let sumYb = 0;
	let sumYb2 = 0;
	const cell = STYLE_RASTER / GRID;
	for (let y = 0; y < STYLE_RASTER; y++)
		for (let x = 0; x < STYLE_RASTER; x++) {
			const i = (y * STYLE_RASTER + x) * 3;
			const rgb: [number, number, number] = [data[i], data[i + 1], data[i + 2]];
			const [l, a, b] = rgbToLab(rgb);
			const c = cells[Math.floor(y / cell) * GRID + Math.floor(x / cell)];
			c[0] += l;
			c[1] += a;
			c[2] += b;
			c[3]++;
			sumL += l;
			sumL2 += l * l;
			const { h, s, v } = rgbToHsv(rgb);
			sumS += s;
			hues[Math.floor(h / (360 / HUE_BINS)) % HUE_BINS] += s * v;
			const rg = rgb[0] - rgb[1];
			const yb = 0.5 * (rgb[0] + rgb[1]) - rgb[2];
			sumRg += rg;
			sumRg2 += rg * rg;
			sumYb += yb;
			sumYb2 += yb * yb;
		}
	const grid = cells.flatMap(([l, a, b, k]) => [(l / k - 50) / 50, a / k / 100, b / k / 100]);
	const hueTotal = hues.reduce((s, h) => s + h, 0);
	const hist = hues.map(h => (hueTotal > 0 ? (h / hueTotal) * HUE_WEIGHT : 0));
	const meanL = sumL / n;
	const sdL = Math.sqrt(Math.max(0, sumL2 / n - meanL * meanL));
	const sd = (s: number, s2: number) => Math.sqrt(Math.max(0, s2 / n - (s / n) ** 2));
	const colourfulness = Math.hypot(sd(sumRg, sumRg2), sd(sumYb, sumYb2)) + 0.3 * Math.hypot(sumRg / n, sumYb / n);
	const global = [(meanL - 50) / 50, sdL / 50, sumS / n, Math.min(1, colourfulness / 100)];
	return normalize([...grid, ...hist, ...global]).map(x => Number(x.toFixed(6)));
}

/**
 * The pass's style vector (computed by the vision worker from the same image bytes, see
 * providers/vision/human.ts) when it is this version's and the pass is of this media's content;
 * null otherwise (a remote provider's pass, a cached pass from before, another image's pass).
 */
export function styleFromPass(v: VisionResult, contentHash: string | null | undefined): number[] | null {
	const s = v.style;
	if (!s || s.key !== STYLE_VECTOR_VERSION || !contentHash || v.content_hash !== contentHash) return null;
	if (s.vector.length !== STYLE_DIM || !s.vector.every(Number.isFinite)) return null;
	return [...s.vector];
}

/** Runs the style vector over a few synthetic images, so a fresh vision thread has it compiled before its first pass. */
export async function warmStyleVector(rounds = 4): Promise<void> {
	for (let i = 0; i < rounds; i++) {
		const img = await sharp({ create: { width: 120, height: 90, channels: 3, background: { r: 40 * i, g: 120, b: 200 - 30 * i } } })
			.png()
			.toBuffer();
		await styleVector(img);
	}
}

/** The subject's face: the largest detected face (by area × score). */
function subjectFace(v: VisionResult) {
	return [...v.faces].sort((a, b) => b.box[2] * b.box[3] * b.score - a.box[2] * a.box[3] * a.score)[0] ?? null;
}

const embedder = defineAgent({
	name: "embedder",
	version: EMBEDDER_VERSION,
	input: EmbedderInput,
	output: EmbedderOutput,
	async run(input: EmbedderInput, deps: EmbedderDeps): Promise<EmbedderOutput> {
		const warnings: string[] = [];
		// From the pass when the vision worker computed it for this very image; else read the image.
		const style = styleFromPass(input.vision, await deps.contentHash?.()) ?? (await styleVector(await deps.image()));

		// The descriptor is biometric: without consent it never leaves this agent, even when
		// the vision pass happens to carry one.
		let face: number[] | null = null;
		if (input.consent.biometric) {
			const subject = subjectFace(input.vision);
			if (!subject) warnings.push("no face found: no face vector");
			else if (!subject.descriptor?.length) warnings.push("the vision pass carries no face descriptor (it ran without biometric consent)");
			else face = [...subject.descriptor];
		}

		const bio = input.bio_text?.trim() ?? "";
		let text: number[] | null = null;
		if (bio) {
			const t = textVector(bio).map(x => Number(x.toFixed(6)));
			if (t.some(x => x !== 0)) text = t;
			else warnings.push("the bio has no words: no text vector");
		}

		return {
			media_id: input.media_id,
			user_id: input.user_id,
			analysis_id: input.analysis_id ?? null,
			vectors: { style, face, text },
			dims: { style: STYLE_DIM, face: face ? face.length : null, text: text ? TEXT_DIM : null },
			versions: { style: STYLE_VECTOR_VERSION, face: face ? input.vision.model_version : null, text: text ? TEXT_VECTOR_VERSION : null },
			warnings,
			version: EMBEDDER_VERSION
		};
	}
});

export default embedder;
