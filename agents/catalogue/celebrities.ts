import { parseHex, rgbToHsv, rgbToLab, type Rgb } from "../colors";
import { STYLE_DIM } from "../embedder";
import { normalize } from "../vectors";

/**
 * The built-in catalogue of public style archetypes for `comparison_type: "celebrity"`.
 * They are styles, not people: no real person's name, face or likeness, and no face data.
 *
 * Each archetype is described the way the embedder sees a photo (agents/embedder.ts
 * `styleVector`): a 3×3 layout of colours — the backdrop on the left and right columns and the
 * subject in the centre column (head, top garment, bottom garment), row by row. Its style
 * vector is computed from that layout with the embedder's own formula, so it lives in the same
 * 43-d space as every stored style vector and a photo in those colours and light scores a high
 * cosine against it. The score profile (0–10) is the style and presence a photo of that look
 * typically earns from the aggregator.
 */

export interface ArchetypeDef {
	id: string;
	name: string;
	category: string;
	description: string;
	/** Backdrop colours (left and right columns): top, middle, bottom row. */
	backdrop: [string, string, string];
	/** The subject (centre column): head, top garment, bottom garment. */
	outfit: [string, string, string];
	scores: { style: number; presence: number };
	tags: string[];
}

export interface Archetype extends Omit<ArchetypeDef, "backdrop" | "outfit"> {
	style_vector: number[];
}

export const CATALOGUE_VERSION = "archetypes-v1";

const DEFS: ArchetypeDef[] = [
	{ id: "celeb_1", name: "Classic Minimalist", category: "Minimal", description: "Clean lines in black, white and stone; few pieces, perfect fit, nothing loud.", backdrop: ["#e6e4e0", "#dcdad6", "#cfcdc9"], outfit: ["#8a7a6e", "#1f1f1f", "#f2f0eb"], scores: { style: 8.2, presence: 7.4 }, tags: ["minimal", "monochrome", "clean", "timeless"] },
	{ id: "celeb_2", name: "Monochrome Noir", category: "Minimal", description: "Head-to-toe black in a low-key setting: moody, sharp and quietly confident.", backdrop: ["#2b2b2d", "#232325", "#1c1c1e"], outfit: ["#5a4d44", "#111111", "#151515"], scores: { style: 7.8, presence: 7.9 }, tags: ["dark", "monochrome", "moody", "sleek"] },
	{ id: "celeb_3", name: "Nordic Neutral", category: "Minimal", description: "Oatmeal, cream and soft grey in bright, airy light; relaxed and considered.", backdrop: ["#efe9df", "#e8e0d2", "#ddd3c2"], outfit: ["#b59b84", "#d9c8b0", "#a89a88"], scores: { style: 7.6, presence: 7.0 }, tags: ["neutral", "light", "soft", "calm"] },
	{ id: "celeb_4", name: "Power Professional", category: "Classic", description: "A tailored navy suit against a cool grey office backdrop; polished and assured.", backdrop: ["#9aa3ad", "#8d96a0", "#7b838c"], outfit: ["#6e5a4c", "#1d2a44", "#1b2336"], scores: { style: 8.4, presence: 8.6 }, tags: ["tailored", "navy", "polished", "confident"] },
	{ id: "celeb_5", name: "Preppy Heritage", category: "Classic", description: "Forest green knit and khaki chinos outdoors; traditional, tidy and warm.", backdrop: ["#d7dccf", "#c9cfbf", "#aab39d"], outfit: ["#7a634f", "#1f4d3a", "#c8b48a"], scores: { style: 7.7, presence: 7.6 }, tags: ["classic", "green", "tidy", "outdoor"] },
	{ id: "celeb_6", name: "Earthy Bohemian", category: "Bohemian", description: "Sienna, tan and olive layers in warm natural light; free-spirited and textured.", backdrop: ["#c9b48f", "#b89d74", "#9c7f58"], outfit: ["#7b5a3e", "#a0522d", "#6b5b3a"], scores: { style: 7.4, presence: 7.2 }, tags: ["earthy", "warm", "layered", "relaxed"] },
	{ id: "celeb_7", name: "Vintage Warm", category: "Bohemian", description: "Mustard and teal with a golden backdrop; retro colour blocking with a smile.", backdrop: ["#e3c48f", "#d9a760", "#b07c42"], outfit: ["#6e4b36", "#c8862a", "#2f6f6a"], scores: { style: 7.5, presence: 7.3 }, tags: ["retro", "mustard", "teal", "warm"] },
	{ id: "celeb_8", name: "Bright Maximalist", category: "Bold", description: "Saturated pink and green against primary colours; joyful, loud and playful.", backdrop: ["#f4d03f", "#2e86de", "#e74c3c"], outfit: ["#7a5a44", "#e84393", "#00b894"], scores: { style: 7.9, presence: 8.5 }, tags: ["colourful", "bold", "playful", "vibrant"] },
	{ id: "celeb_9", name: "Streetwear Edge", category: "Street", description: "A red hoodie and black trousers on grey concrete; urban, bold and casual.", backdrop: ["#5d6166", "#4a4e53", "#3a3d41"], outfit: ["#4a3b32", "#c0392b", "#1e1e1e"], scores: { style: 7.6, presence: 8.1 }, tags: ["street", "red", "urban", "bold"] },
	{ id: "celeb_10", name: "Urban Techwear", category: "Street", description: "Olive and black functional layers in a dim city setting; practical and sharp.", backdrop: ["#3f4540", "#353b36", "#2c312d"], outfit: ["#3d3530", "#3b4a35", "#202421"], scores: { style: 7.3, presence: 7.7 }, tags: ["technical", "olive", "dark", "functional"] },
	{ id: "celeb_11", name: "Coastal Casual", category: "Casual", description: "A white shirt and light denim by the sea; breezy, bright and easy-going.", backdrop: ["#a9d6f5", "#7fb9e0", "#e8d8b0"], outfit: ["#8b6d55", "#fafafa", "#9ec3dc"], scores: { style: 7.2, presence: 7.1 }, tags: ["breezy", "blue", "light", "relaxed"] },
	{ id: "celeb_12", name: "Sporty Athleisure", category: "Casual", description: "A bright orange top with charcoal leggings in a clean gym setting; energetic.", backdrop: ["#cfd4d8", "#bfc5ca", "#9aa1a7"], outfit: ["#6d5647", "#ff6b35", "#2d3436"], scores: { style: 7.0, presence: 7.8 }, tags: ["sporty", "energetic", "orange", "active"] },
	{ id: "celeb_13", name: "Pastel Romantic", category: "Romantic", description: "Blush pink and lavender in soft, bright light; gentle, warm and approachable.", backdrop: ["#f8e1e7", "#f3d5e0", "#e9cde3"], outfit: ["#9b7b6a", "#f4b6c2", "#c9b6e4"], scores: { style: 7.6, presence: 7.0 }, tags: ["pastel", "soft", "romantic", "light"] },
	{ id: "celeb_14", name: "Evening Glamour", category: "Romantic", description: "Deep burgundy against a plum, low-lit backdrop; elegant and dramatic.", backdrop: ["#2a1a2e", "#3b1f3f", "#1e1322"], outfit: ["#6a4a3c", "#8e1b3a", "#7a1630"], scores: { style: 8.3, presence: 8.4 }, tags: ["elegant", "burgundy", "dramatic", "evening"] }
];

/** The 3×3 grid of an archetype, row by row (left backdrop, subject, right backdrop). */
export function layoutOf(def: Pick<ArchetypeDef, "backdrop" | "outfit">): Rgb[] {
	return [0, 1, 2].flatMap(row => [parseHex(def.backdrop[row]), parseHex(def.outfit[row]), parseHex(def.backdrop[row])]);
}

const HUE_BINS = 12;
const HUE_WEIGHT = 2;

/**
 * The embedder's style vector (see `styleVector` in agents/embedder.ts) of an image made of nine
 * equal solid blocks: the same features in the same order, computed per block instead of per
 * pixel (each block is a ninth of the pixels). A test renders such an image and checks the two agree.
 */
export function layoutStyleVector(cells: Rgb[]): number[] {
	if (cells.length !== 9) throw new RangeError("a layout has 9 cells");
	const n = cells.length;
	const grid: number[] = [];
	const hues = new Array<number>(HUE_BINS).fill(0);
	let sumL = 0;
	let sumL2 = 0;
	let sumS = 0;
	let sumRg = 0;
	let sumRg2 = 0;
	let sumYb = 0;
	let sumYb2 = 0;
	for (const rgb of cells) {
		const [l, a, b] = rgbToLab(rgb);
		grid.push((l - 50) / 50, a / 100, b / 100);
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
	const hueTotal = hues.reduce((s, h) => s + h, 0);
	const hist = hues.map(h => (hueTotal > 0 ? (h / hueTotal) * HUE_WEIGHT : 0));
	const meanL = sumL / n;
	const sdL = Math.sqrt(Math.max(0, sumL2 / n - meanL * meanL));
	const sd = (s: number, s2: number) => Math.sqrt(Math.max(0, s2 / n - (s / n) ** 2));
	const colourfulness = Math.hypot(sd(sumRg, sumRg2), sd(sumYb, sumYb2)) + 0.3 * Math.hypot(sumRg / n, sumYb / n);
	const global = [(meanL - 50) / 50, sdL / 50, sumS / n, Math.min(1, colourfulness / 100)];
	const out = normalize([...grid, ...hist, ...global]).map(x => Number(x.toFixed(6)));
	if (out.length !== STYLE_DIM) throw new Error(`layout style vector has ${out.length} dimensions, the embedder ${STYLE_DIM}`);
	return out;
}

export const ARCHETYPES: readonly Archetype[] = Object.freeze(
	DEFS.map(({ backdrop, outfit, ...rest }) => Object.freeze({ ...rest, style_vector: layoutStyleVector(layoutOf({ backdrop, outfit })) }))
);

export const ARCHETYPE_DEFS: readonly ArchetypeDef[] = DEFS;

export const CATEGORIES: readonly string[] = [...new Set(DEFS.map(d => d.category))];

export function archetype(id: string): Archetype | null {
	return ARCHETYPES.find(a => a.id === id) ?? null;
}
