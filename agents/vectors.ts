/**
 * Vector helpers shared by the embedder, the embeddings store, memory and compare:
 * cosine similarity, L2 normalisation and an offline text vector (hashed n-grams).
 */

/**
 * Cosine similarity in [-1, 1]. Vectors of different lengths are a programming error (throws);
 * an empty or all-zero vector, or one with a non-finite entry, has no direction: 0.
 */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
	if (a.length !== b.length) throw new RangeError(`cosine of vectors of different lengths (${a.length} and ${b.length})`);
	let dot = 0;
	let na = 0;
	let nb = 0;
	for (let i = 0; i < a.length; i++) {
		dot += a[i] * b[i];
		na += a[i] * a[i];
		nb += b[i] * b[i];
	}
	if (!(na > 0 && nb > 0) || !Number.isFinite(dot) || !Number.isFinite(na) || !Number.isFinite(nb)) return 0;
	return Math.max(-1, Math.min(1, dot / Math.sqrt(na * nb)));
}

/** L2-normalised copy; a zero (or non-finite) vector comes back as zeros of the same length. */
export function normalize(v: ArrayLike<number>): number[] {
	let n = 0;
	for (let i = 0; i < v.length; i++) n += v[i] * v[i];
	const out = Array.from(v, x => x);
	if (!(n > 0) || !Number.isFinite(n)) return out.map(() => 0);
	const s = 1 / Math.sqrt(n);
	return out.map(x => x * s);
}

/** FNV-1a 32-bit: a fixed, platform-independent string hash. */
export function fnv1a(s: string): number {
	let h = 0x811c9dc5;
	for (let i = 0; i < s.length; i++) {
		h ^= s.charCodeAt(i);
		h = Math.imul(h, 0x01000193);
	}
	return h >>> 0;
}

export const TEXT_DIM = 256;
export const TEXT_VECTOR_VERSION = "text-hash-v1";

/** Words too common to say anything about a person's vibe. */
const STOPWORDS = new Set(
	"a an the and or but if of to in on at by for with from as is am are was were be been being i me my we our you your he she it its they them their this that these those there here so than then too very just also do does did have has had not no".split(
		" "
	)
);

/** Lower-case, accents folded, split on anything that is not a letter or digit. */
export function tokens(text: string): string[] {
	return text
		.normalize("NFKD")
		.replace(/\p{M}+/gu, "")
		.toLowerCase()
		.split(/[^\p{L}\p{N}]+/u)
		.filter(Boolean);
}

/**
 * A text vector without any model: the hashing trick over two feature families.
 * - word unigrams (stopwords dropped), weight 1 each;
 * - character trigrams of every word padded with `^`/`$` (so "running" and "runner" share
 *   `^ru`, `run`, `unn`), weight 0.5 each — robust to inflections and typos.
 * Each feature is hashed (FNV-1a) to one of `dim` buckets with a sign from another hash bit
 * (signed hashing keeps collisions from adding up in one direction); bucket counts are damped
 * with sign·log(1+|x|) and the vector is L2-normalised. Deterministic and language-agnostic;
 * text with no word gives the zero vector.
 */
export function textVector(text: string, dim = TEXT_DIM): number[] {
	const v = new Array<number>(dim).fill(0);
	const add = (feature: string, w: number) => {
		const h = fnv1a(feature);
		v[h % dim] += (h & 0x80000000 ? -1 : 1) * w;
	};
	for (const word of tokens(text)) {
		if (!STOPWORDS.has(word)) add(`w:${word}`, 1);
		const padded = `^${word}$`;
		for (let i = 0; i + 3 <= padded.length; i++) add(`c:${padded.slice(i, i + 3)}`, 0.5);
	}
	return normalize(v.map(x => Math.sign(x) * Math.log1p(Math.abs(x))));
}
