/**
 * Colour maths for the fashion and embedder agents: conversions (sRGB ↔ HSV, CIE Lab D65),
 * colour difference (CIEDE2000), colour names, a deterministic palette quantiser, colour
 * harmony by hue geometry, and a skin-tone pixel test. Pure functions on plain numbers.
 */

export type Rgb = [number, number, number];
export type Lab = [number, number, number];

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
const round = (n: number, d = 3) => Number(n.toFixed(d));

export function hex(rgb: Rgb): string {
	return `#${rgb.map(v => clamp(Math.round(v), 0, 255).toString(16).padStart(2, "0")).join("")}`;
}

export function parseHex(h: string): Rgb {
	const m = /^#?([0-9a-f]{6})$/i.exec(h);
	if (!m) throw new Error(`not a #rrggbb colour: ${h}`);
	const n = parseInt(m[1], 16);
	return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** Hue in degrees [0, 360), saturation and value in [0, 1]. */
export function rgbToHsv([r, g, b]: Rgb): { h: number; s: number; v: number } {
	const R = r / 255;
	const G = g / 255;
	const B = b / 255;
	const max = Math.max(R, G, B);
	const min = Math.min(R, G, B);
	const d = max - min;
	let h = 0;
	if (d > 0) {
		if (max === R) h = 60 * (((G - B) / d) % 6);
		else if (max === G) h = 60 * ((B - R) / d + 2);
		else h = 60 * ((R - G) / d + 4);
	}
	if (h < 0) h += 360;
	return { h, s: max === 0 ? 0 : d / max, v: max };
}

const lin = (c: number) => {
	const v = c / 255;
	return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
};
const LIN = Array.from({ length: 256 }, (_, i) => lin(i));
const fLab = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);

/** sRGB (0–255) → CIE L*a*b* under D65. */
export function rgbToLab([r, g, b]: Rgb): Lab {
	const R = Number.isInteger(r) && r >= 0 && r <= 255 ? LIN[r] : lin(r);
	const G = Number.isInteger(g) && g >= 0 && g <= 255 ? LIN[g] : lin(g);
	const B = Number.isInteger(b) && b >= 0 && b <= 255 ? LIN[b] : lin(b);
	const x = (0.4124564 * R + 0.3575761 * G + 0.1804375 * B) / 0.95047;
	const y = 0.2126729 * R + 0.7151522 * G + 0.072175 * B;
	const z = (0.0193339 * R + 0.119192 * G + 0.9503041 * B) / 1.08883;
	const fx = fLab(x);
	const fy = fLab(y);
	const fz = fLab(z);
	return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}

/** L* of an 8-bit sRGB pixel: the same arithmetic as rgbToLab's first component (pixel loops). */
export function lightness8(r: number, g: number, b: number): number {
	return 116 * fLab(0.2126729 * LIN[r] + 0.7151522 * LIN[g] + 0.072175 * LIN[b]) - 16;
}

/** rgbToLab of an 8-bit sRGB pixel into `out` (no allocation; the same arithmetic, the same numbers). */
export function lab8(r: number, g: number, b: number, out: Lab): Lab {
	const R = LIN[r];
	const G = LIN[g];
	const B = LIN[b];
	const fx = fLab((0.4124564 * R + 0.3575761 * G + 0.1804375 * B) / 0.95047);
	const fy = fLab(0.2126729 * R + 0.7151522 * G + 0.072175 * B);
	const fz = fLab((0.0193339 * R + 0.119192 * G + 0.9503041 * B) / 1.08883);
	out[0] = 116 * fy - 16;
	out[1] = 500 * (fx - fy);
	out[2] = 200 * (fy - fz);
	return out;
}

/** Squared Euclidean distance in Lab (CIE76²): cheap, for clustering. */
export function labDist2(a: Lab, b: Lab): number {
	return (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2 + (a[2] - b[2]) ** 2;
}

/** CIEDE2000 colour difference (Sharma, Wu & Dalal 2005). ~1 is a just-noticeable difference. */
export function deltaE2000(l1: Lab, l2: Lab): number {
	const [L1, a1, b1] = l1;
	const [L2, a2, b2] = l2;
	const rad = Math.PI / 180;
	const C1 = Math.hypot(a1, b1);
	const C2 = Math.hypot(a2, b2);
	const Cm = (C1 + C2) / 2;
	const G = 0.5 * (1 - Math.sqrt(Cm ** 7 / (Cm ** 7 + 25 ** 7)));
	const a1p = (1 + G) * a1;
	const a2p = (1 + G) * a2;
	const C1p = Math.hypot(a1p, b1);
	const C2p = Math.hypot(a2p, b2);
	const hp = (a: number, b: number) => {
		if (a === 0 && b === 0) return 0;
		const h = Math.atan2(b, a) / rad;
		return h < 0 ? h + 360 : h;
	};
	const h1p = hp(a1p, b1);
	const h2p = hp(a2p, b2);
	const dLp = L2 - L1;
	const dCp = C2p - C1p;
	let dhp = 0;
	if (C1p * C2p !== 0) {
		dhp = h2p - h1p;
		if (dhp > 180) dhp -= 360;
		else if (dhp < -180) dhp += 360;
	}
	const dHp = 2 * Math.sqrt(C1p * C2p) * Math.sin((dhp / 2) * rad);
	const Lmp = (L1 + L2) / 2;
	const Cmp = (C1p + C2p) / 2;
	let hmp = h1p + h2p;
	if (C1p * C2p !== 0) {
		if (Math.abs(h1p - h2p) <= 180) hmp = (h1p + h2p) / 2;
		else hmp = h1p + h2p < 360 ? (h1p + h2p + 360) / 2 : (h1p + h2p - 360) / 2;
	}
	const T = 1 - 0.17 * Math.cos((hmp - 30) * rad) + 0.24 * Math.cos(2 * hmp * rad) + 0.32 * Math.cos((3 * hmp + 6) * rad) - 0.2 * Math.cos((4 * hmp - 63) * rad);
	const dTheta = 30 * Math.exp(-(((hmp - 275) / 25) ** 2));
	const Rc = 2 * Math.sqrt(Cmp ** 7 / (Cmp ** 7 + 25 ** 7));
	const Sl = 1 + (0.015 * (Lmp - 50) ** 2) / Math.sqrt(20 + (Lmp - 50) ** 2);
	const Sc = 1 + 0.045 * Cmp;
	const Sh = 1 + 0.015 * Cmp * T;
	const Rt = -Math.sin(2 * dTheta * rad) * Rc;
	return Math.sqrt((dLp / Sl) ** 2 + (dCp / Sc) ** 2 + (dHp / Sh) ** 2 + Rt * (dCp / Sc) * (dHp / Sh));
}

/**
 * Reference colours for naming: fashion-common names; a colour is named after the nearest
 * reference by CIEDE2000. `neutral` marks the colours stylists treat as neutrals.
 */
export const NAMED_COLOURS: { name: string; hex: string; neutral?: boolean }[] = [
	{ name: "black", hex: "#000000", neutral: true },
	{ name: "charcoal", hex: "#36454f", neutral: true },
	{ name: "grey", hex: "#808080", neutral: true },
	{ name: "silver", hex: "#c0c0c0", neutral: true },
	{ name: "white", hex: "#ffffff", neutral: true },
	{ name: "ivory", hex: "#fffff0", neutral: true },
	{ name: "cream", hex: "#fffdd0", neutral: true },
	{ name: "beige", hex: "#f5f5dc", neutral: true },
	{ name: "khaki", hex: "#c3b091", neutral: true },
	{ name: "tan", hex: "#d2b48c", neutral: true },
	{ name: "camel", hex: "#c19a6b", neutral: true },
	{ name: "brown", hex: "#8b4513" },
	{ name: "chocolate", hex: "#4e2a1e" },
	{ name: "maroon", hex: "#800000" },
	{ name: "burgundy", hex: "#800020" },
	{ name: "red", hex: "#ff0000" },
	{ name: "crimson", hex: "#dc143c" },
	{ name: "coral", hex: "#ff7f50" },
	{ name: "salmon", hex: "#fa8072" },
	{ name: "rust", hex: "#b7410e" },
	{ name: "orange", hex: "#ffa500" },
	{ name: "mustard", hex: "#e1ad01" },
	{ name: "gold", hex: "#ffd700" },
	{ name: "yellow", hex: "#ffff00" },
	{ name: "olive", hex: "#808000" },
	{ name: "bright green", hex: "#00ff00" },
	{ name: "green", hex: "#008000" },
	{ name: "forest green", hex: "#0b4d1f" },
	{ name: "mint", hex: "#98ff98" },
	{ name: "teal", hex: "#008080" },
	{ name: "turquoise", hex: "#40e0d0" },
	{ name: "cyan", hex: "#00ffff" },
	{ name: "sky blue", hex: "#87ceeb" },
	{ name: "light blue", hex: "#add8e6" },
	{ name: "denim", hex: "#1560bd" },
	{ name: "royal blue", hex: "#4169e1" },
	{ name: "blue", hex: "#0000ff" },
	{ name: "navy", hex: "#000080" },
	{ name: "indigo", hex: "#4b0082" },
	{ name: "purple", hex: "#800080" },
	{ name: "violet", hex: "#8f00ff" },
	{ name: "lavender", hex: "#e6e6fa" },
	{ name: "magenta", hex: "#ff00ff" },
	{ name: "hot pink", hex: "#ff69b4" },
	{ name: "pink", hex: "#ffc0cb" }
];
const NAMED_LAB = NAMED_COLOURS.map(c => ({ ...c, lab: rgbToLab(parseHex(c.hex)) }));

export function colourName(rgb: Rgb): string {
	const lab = rgbToLab(rgb);
	let best = NAMED_LAB[0];
	let bestD = Infinity;
	for (const c of NAMED_LAB) {
		const d = deltaE2000(lab, c.lab);
		if (d < bestD) {
			bestD = d;
			best = c;
		}
	}
	return best.name;
}

/**
 * Achromatic for harmony purposes: low saturation (greys, white, black, beige) or too dark
 * to read a hue (HSV value < 0.25: near-black browns and blues). Navy (#000080, s 1, v 0.5)
 * is chromatic here: it has a hue.
 */
export function isAchromatic(rgb: Rgb): boolean {
	const { s, v } = rgbToHsv(rgb);
	return s < 0.2 || v < 0.25;
}

/**
 * Skin-tone pixel test in YCbCr (Chai & Ngan 1999: Cb 77–127, Cr 133–173, the Cr bound
 * widened to 180 for skin under warm indoor light), a chroma rule that holds across skin
 * tones. Used only to leave skin out of garment colours; nothing about skin is reported.
 */
export function isSkinLike([r, g, b]: Rgb): boolean {
	return skinLike(r, g, b);
}

/** isSkinLike on three channel values (pixel loops: no array per pixel). */
export function skinLike(r: number, g: number, b: number): boolean {
	const y = 0.299 * r + 0.587 * g + 0.114 * b;
	const cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b;
	const cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b;
	return y > 40 && cb >= 77 && cb <= 127 && cr >= 133 && cr <= 180;
}

// ---- Palette quantisation ------------------------------------------------------------------

export interface PaletteColour {
	rgb: Rgb;
	hex: string;
	lab: Lab;
	/** Fraction of the sampled pixels (0–1). */
	share: number;
}

export interface QuantiseOptions {
	/** Clusters before merging (default 6). */
	k?: number;
	/** Clusters closer than this (CIEDE2000) are merged (default 10). */
	mergeDeltaE?: number;
	/** Clusters with a smaller share are dropped and the rest renormalised (default 0.03). */
	minShare?: number;
}

/** Bins of 5 bits per channel, and the scratch the quantiser bins into (it runs synchronously). */
const BINS = 1 << 15;
const BIN_N = new Int32Array(BINS);
const BIN_SUM = new Float64Array(BINS * 3);

interface Bin {
	n: number;
	sum: [number, number, number];
	lab: Lab;
}

/**
 * Dominant colours of a set of RGB pixels (a Uint8 buffer, 3 bytes per pixel).
 *
 * 1. Pixels are binned at 5 bits per channel (≤ 32768 bins) keeping each bin's exact pixel sum.
 * 2. Weighted k-means in Lab over the bins, seeded deterministically (heaviest bin first, then
 *    the bin with the largest weight × squared distance to the nearest seed), 12 Lloyd rounds.
 * 3. Clusters within `mergeDeltaE` of each other are merged (closest pair first).
 * 4. Each cluster's colour is the pixel mean of the bins within ΔE 8 of its densest bin: an
 *    actual colour of the region (a solid colour comes back exactly), not a muddy average.
 * Deterministic: the same pixels always give the same palette.
 */
export function quantise(pixels: Uint8Array, opts: QuantiseOptions = {}): PaletteColour[] {
	const k = opts.k ?? 6;
	const mergeDeltaE = opts.mergeDeltaE ?? 10;
	const minShare = opts.minShare ?? 0.03;
	const total = Math.floor(pixels.length / 3);
	if (total === 0) return [];
	// Binning into the scratch arrays (a typed array per channel sum, no object per pixel); the
	// bins used are read out and the scratch is zeroed again before anything else runs.
	const end = total * 3;
	for (let i = 0; i < end; i += 3) {
		const r = pixels[i];
		const g = pixels[i + 1];
		const b = pixels[i + 2];
		const key = ((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3);
		BIN_N[key]++;
		const o = key * 3;
		BIN_SUM[o] += r;
		BIN_SUM[o + 1] += g;
		BIN_SUM[o + 2] += b;
	}
	const keys: number[] = [];
	for (let key = 0; key < BINS; key++) if (BIN_N[key]) keys.push(key);
	// Sorted by weight, then key: a fixed order.
	keys.sort((a, b) => BIN_N[b] - BIN_N[a] || a - b);
	const bins: Bin[] = keys.map(key => {
		const o = key * 3;
		const bin: Bin = { n: BIN_N[key], sum: [BIN_SUM[o], BIN_SUM[o + 1], BIN_SUM[o + 2]], lab: [0, 0, 0] };
		BIN_N[key] = 0;
		BIN_SUM[o] = BIN_SUM[o + 1] = BIN_SUM[o + 2] = 0;
		return bin;
	});
	const nb = bins.length;
	const bl = new Float64Array(nb);
	const ba = new Float64Array(nb);
	const bb = new Float64Array(nb);
	for (let i = 0; i < nb; i++) {
		const b = bins[i];
		b.lab = rgbToLab([b.sum[0] / b.n, b.sum[1] / b.n, b.sum[2] / b.n]);
		bl[i] = b.lab[0];
		ba[i] = b.lab[1];
		bb[i] = b.lab[2];
	}
	const dist2 = (i: number, c: Lab) => (bl[i] - c[0]) ** 2 + (ba[i] - c[1]) ** 2 + (bb[i] - c[2]) ** 2;

	// Seeds.
	const centres: Lab[] = [bins[0].lab];
	const nearest = new Float64Array(nb);
	for (let i = 0; i < nb; i++) nearest[i] = dist2(i, centres[0]);
	while (centres.length < Math.min(k, nb)) {
		let bi = -1;
		let bv = 0;
		for (let i = 0; i < nb; i++) {
			const v = bins[i].n * nearest[i];
			if (v > bv) {
				bv = v;
				bi = i;
			}
		}
		if (bi < 0) break;
		const seed = bins[bi].lab;
		centres.push(seed);
		for (let i = 0; i < nb; i++) nearest[i] = Math.min(nearest[i], dist2(i, seed));
	}

	// Lloyd rounds.
	const assign = new Array<number>(nb).fill(0);
	for (let round = 0; round < 12; round++) {
		let moved = false;
		for (let i = 0; i < nb; i++) {
			let best = 0;
			let bd = Infinity;
			for (let c = 0; c < centres.length; c++) {
				const d = dist2(i, centres[c]);
				if (d < bd) {
					bd = d;
					best = c;
				}
			}
			if (assign[i] !== best) moved = true;
			assign[i] = best;
		}
		const acc = centres.map(() => ({ n: 0, l: 0, a: 0, b: 0 }));
		for (let i = 0; i < nb; i++) {
			const a = acc[assign[i]];
			const n = bins[i].n;
			a.n += n;
			a.l += bl[i] * n;
			a.a += ba[i] * n;
			a.b += bb[i] * n;
		}
		acc.forEach((a, c) => {
			if (a.n) centres[c] = [a.l / a.n, a.a / a.n, a.b / a.n];
		});
		if (!moved && round > 0) break;
	}

	// Clusters (member bins), then merge near-duplicates.
	let clusters = centres
		.map((_, c) => bins.filter((_, i) => assign[i] === c))
		.filter(m => m.length)
		.map(members => ({ members, lab: meanLab(members) }));
	for (;;) {
		let pair: [number, number] | null = null;
		let pd = mergeDeltaE;
		for (let i = 0; i < clusters.length; i++)
			for (let j = i + 1; j < clusters.length; j++) {
				const d = deltaE2000(clusters[i].lab, clusters[j].lab);
				if (d < pd) {
					pd = d;
					pair = [i, j];
				}
			}
		if (!pair) break;
		const members = [...clusters[pair[0]].members, ...clusters[pair[1]].members];
		clusters = clusters.filter((_, i) => i !== pair![0] && i !== pair![1]);
		clusters.push({ members, lab: meanLab(members) });
	}

	const out = clusters.map(({ members }) => {
		const n = members.reduce((s, b) => s + b.n, 0);
		const mode = members.reduce((a, b) => (b.n > a.n ? b : a));
		// ΔE00 ≥ |ΔL*| / SL and SL ≤ 1.75 for sRGB colours, so a bin 15 or more L* away is past ΔE 8: no need to compute it.
		const core = members.filter(b => Math.abs(b.lab[0] - mode.lab[0]) < 15 && deltaE2000(b.lab, mode.lab) <= 8);
		const cn = core.reduce((s, b) => s + b.n, 0);
		const rgb = [0, 1, 2].map(ch => Math.round(core.reduce((s, b) => s + b.sum[ch], 0) / cn)) as Rgb;
		return { rgb, hex: hex(rgb), lab: rgbToLab(rgb), share: n / total };
	});
	const kept = out.filter(c => c.share >= minShare);
	const keptTotal = kept.reduce((s, c) => s + c.share, 0);
	return kept.map(c => ({ ...c, share: round(c.share / keptTotal) })).sort((a, b) => b.share - a.share || a.hex.localeCompare(b.hex));
}

function meanLab(members: Bin[]): Lab {
	const n = members.reduce((s, b) => s + b.n, 0);
	return [0, 1, 2].map(i => members.reduce((s, b) => s + b.lab[i] * b.n, 0) / n) as Lab;
}

// ---- Harmony -------------------------------------------------------------------------------

export const HARMONIES = ["neutral", "monochrome", "analogous", "complementary", "triadic", "contrasting"] as const;
export type Harmony = (typeof HARMONIES)[number];

/** Smallest angle between two hues, 0–180°. */
export function hueDistance(a: number, b: number): number {
	const d = Math.abs(a - b) % 360;
	return d > 180 ? 360 - d : d;
}

/** Chromatic hue groups of a palette: hues within 30° join a group (single linkage around the wheel). */
export function hueGroups(colours: { rgb: Rgb; share: number }[], minShare = 0.05): { hue: number; share: number }[] {
	const chroma = colours
		.filter(c => c.share >= minShare && !isAchromatic(c.rgb))
		.map(c => ({ hue: rgbToHsv(c.rgb).h, share: c.share }))
		.sort((a, b) => a.hue - b.hue);
	if (!chroma.length) return [];
	// Start the sweep after the largest gap so a group never straddles 0°/360° split in two.
	let start = 0;
	let gap = -1;
	for (let i = 0; i < chroma.length; i++) {
		const next = chroma[(i + 1) % chroma.length];
		const g = (next.hue - chroma[i].hue + 360) % 360 || (chroma.length === 1 ? 360 : 0);
		if (g > gap) {
			gap = g;
			start = (i + 1) % chroma.length;
		}
	}
	const ordered = [...chroma.slice(start), ...chroma.slice(0, start)];
	const groups: { hues: { hue: number; share: number }[] }[] = [];
	for (const c of ordered) {
		const last = groups[groups.length - 1];
		if (last && hueDistance(last.hues[last.hues.length - 1].hue, c.hue) <= 30) last.hues.push(c);
		else groups.push({ hues: [c] });
	}
	return groups.map(g => {
		const share = g.hues.reduce((s, h) => s + h.share, 0);
		// Circular mean, weighted by share.
		const x = g.hues.reduce((s, h) => s + Math.cos((h.hue * Math.PI) / 180) * h.share, 0);
		const y = g.hues.reduce((s, h) => s + Math.sin((h.hue * Math.PI) / 180) * h.share, 0);
		const hue = ((Math.atan2(y, x) * 180) / Math.PI + 360) % 360;
		return { hue: round(hue, 1), share: round(share) };
	});
}

/** Width of the smallest arc of the colour wheel holding every hue. */
export function hueSpan(hues: number[]): number {
	if (hues.length < 2) return 0;
	const s = [...hues].sort((a, b) => a - b);
	let maxGap = 360 - s[s.length - 1] + s[0];
	for (let i = 1; i < s.length; i++) maxGap = Math.max(maxGap, s[i] - s[i - 1]);
	return 360 - maxGap;
}

/**
 * Colour harmony by hue geometry over the palette's chromatic colours (share ≥ 5%; greys,
 * black, white and very dark colours are neutrals and never break a harmony). Rules, in order:
 * - neutral: no chromatic colour at all;
 * - monochrome: every chromatic colour within a 20° arc (one hue, any lightness, plus neutrals);
 * - analogous: every chromatic colour within a 75° arc (neighbours on the wheel);
 * - complementary: two hue groups 150–180° apart;
 * - triadic: two or three hue groups, every pair 90–150° apart (the 120° spacing of a triad;
 *   two groups are two corners of it, e.g. red and navy);
 * - contrasting: anything else (four or more hue groups, or unrelated angles).
 */
export function classifyHarmony(colours: { rgb: Rgb; share: number }[]): { harmony: Harmony; hue_groups: { hue: number; share: number }[]; span: number } {
	const groups = hueGroups(colours);
	const raw = colours.filter(c => c.share >= 0.05 && !isAchromatic(c.rgb)).map(c => rgbToHsv(c.rgb).h);
	const span = round(hueSpan(raw), 1);
	let harmony: Harmony;
	if (!raw.length) harmony = "neutral";
	else if (span <= 20) harmony = "monochrome";
	else if (span <= 75) harmony = "analogous";
	else if (groups.length === 2 && hueDistance(groups[0].hue, groups[1].hue) >= 150) harmony = "complementary";
	else if (
		(groups.length === 2 || groups.length === 3) &&
		groups.every((g, i) => groups.slice(i + 1).every(o => {
			const d = hueDistance(g.hue, o.hue);
			return d >= 90 && d <= 150;
		}))
	)
		harmony = "triadic";
	else harmony = "contrasting";
	return { harmony, hue_groups: groups, span };
}
