import { z } from "zod";
import { defineAgent } from "./agent";
import { STYLE_DIM } from "./embedder";
import { clamp, round } from "./shared";
import { cosine, normalize } from "./vectors";

/**
 * compare: how close the caller's look is to a target — a style archetype (celebrity), their
 * own earlier photos (past_self) or an opted-in peer. Pure: the service loads the vectors and
 * scores; this ranks and explains.
 *
 * - style_similarity: cosine of the style vectors (agents/embedder.ts, colours and light, no
 *   face data) clamped to [0, 1], blended 3:1 with the closeness of the style scores
 *   (1 − |a − b| / 10); either alone when the other is missing.
 * - presence_similarity: closeness of the presence scores (the overall score when presence is
 *   missing), blended 4:1 with the cosine of the text vectors when both sides have one.
 * - similarity_score: 0.6 · style + 0.4 · presence (the one measured when only one is).
 * Every similarity is clamped to [0, 1] and rounded to 4 decimals. Ties rank by id.
 */

export const COMPARE_VERSION = "1.0.0";
export const COMPARISON_TYPES = ["celebrity", "past_self", "peer"] as const;
export type ComparisonType = (typeof COMPARISON_TYPES)[number];

const Vec = z.array(z.number().finite()).min(1).max(4096);
const Score = z.number().finite().min(0).max(10);
export const CompareProfile = z.object({
	id: z.string().min(1).max(64),
	name: z.string().max(120),
	style_vector: Vec.nullish(),
	text_vector: Vec.nullish(),
	scores: z.object({ overall: Score.nullish(), style: Score.nullish(), presence: Score.nullish() }).default({}),
	tags: z.array(z.string().max(60)).max(50).default([]),
	timestamp: z.string().max(40).nullish()
});
export type CompareProfile = z.input<typeof CompareProfile>;
type Profile = z.output<typeof CompareProfile>;

export const CompareInput = z.object({
	comparison_type: z.enum(COMPARISON_TYPES),
	current: CompareProfile,
	/** celebrity / peer: the candidates; past_self: the earlier analyses. */
	targets: z.array(CompareProfile).max(1000),
	/** celebrity / peer: which target to explain (default: the best match). */
	target_id: z.string().max(64).nullish()
});
export type CompareInput = z.input<typeof CompareInput>;

const Unit = z.number().min(0).max(1);
const Match = z.object({ id: z.string(), name: z.string(), similarity_score: Unit, style_similarity: Unit, presence_similarity: Unit, timestamp: z.string().nullable() });
export const CompareOutput = z.object({
	similarity_score: Unit,
	style_similarity: Unit,
	presence_similarity: Unit,
	similarities: z.array(z.string()),
	differences: z.array(z.string()),
	insights: z.array(z.string()),
	recommendations: z.array(z.string()),
	confidence: Unit,
	target_id: z.string().nullable(),
	target_name: z.string().nullable(),
	/** The nearest targets, best first (past_self: the nearest earlier analyses). */
	matches: z.array(Match),
	basis: z.object({ style: z.enum(["vector+scores", "vector", "scores", "none"]), presence: z.enum(["scores+text", "scores", "none"]) }),
	compared_count: z.number().int().min(0),
	version: z.string()
});
export type CompareOutput = z.infer<typeof CompareOutput>;

const r4 = (n: number) => round(clamp(n, 0, 1), 4);

/** Cosine clamped to [0, 1]; null when either side is missing or the dimensions differ. */
export function vectorSimilarity(a: readonly number[] | null | undefined, b: readonly number[] | null | undefined): number | null {
	if (!a?.length || !b?.length || a.length !== b.length) return null;
	return clamp(cosine(a, b), 0, 1);
}

/** 1 − |a − b| / 10 for two 0–10 scores; null when either is missing. */
export function scoreCloseness(a: number | null | undefined, b: number | null | undefined): number | null {
	if (typeof a !== "number" || typeof b !== "number") return null;
	return clamp(1 - Math.abs(a - b) / 10, 0, 1);
}

const blend = (a: number | null, b: number | null, wa: number): number | null => (a === null ? b : b === null ? a : wa * a + (1 - wa) * b);

export interface Similarity {
	similarity_score: number;
	style_similarity: number;
	presence_similarity: number;
	basis: CompareOutput["basis"];
}

export function similarityOf(a: Profile, b: Profile): Similarity {
	const sv = vectorSimilarity(a.style_vector, b.style_vector);
	const ss = scoreCloseness(a.scores.style, b.scores.style);
	const style = blend(sv, ss, 0.75);
	const presenceOf = (p: Profile) => p.scores.presence ?? p.scores.overall;
	const ps = scoreCloseness(presenceOf(a), presenceOf(b));
	const tv = ps === null ? null : vectorSimilarity(a.text_vector, b.text_vector);
	const presence = blend(ps, tv, 0.8);
	const overall = style !== null && presence !== null ? 0.6 * style + 0.4 * presence : (style ?? presence ?? 0);
	return {
		similarity_score: r4(overall),
		style_similarity: r4(style ?? 0),
		presence_similarity: r4(presence ?? 0),
		basis: {
			style: sv !== null && ss !== null ? "vector+scores" : sv !== null ? "vector" : ss !== null ? "scores" : "none",
			presence: ps !== null && tv !== null ? "scores+text" : ps !== null ? "scores" : "none"
		}
	};
}

/** Targets ranked by similarity to `current`, best first; ties by id (stable, deterministic). */
export function rank(current: Profile, targets: Profile[]) {
	return targets
		.map(t => ({ target: t, sim: similarityOf(current, t) }))
		.sort((x, y) => y.sim.similarity_score - x.sim.similarity_score || (x.target.id < y.target.id ? -1 : x.target.id > y.target.id ? 1 : 0));
}

/** The mean of earlier profiles: the centroid of their style vectors (same dimension only) and their mean scores. */
export function centroid(profiles: Profile[], id: string, name: string): Profile {
	const mean = (xs: (number | null | undefined)[]) => {
		const v = xs.filter((x): x is number => typeof x === "number");
		return v.length ? v.reduce((s, x) => s + x, 0) / v.length : null;
	};
	const meanVec = (vs: (number[] | null | undefined)[]) => {
		const dim = vs.find(v => v?.length)?.length;
		const same = vs.filter((v): v is number[] => !!v && v.length === dim);
		if (!same.length || !dim) return null;
		const sum = new Array<number>(dim).fill(0);
		for (const v of same) for (let i = 0; i < dim; i++) sum[i] += v[i];
		return normalize(sum);
	};
	return {
		id,
		name,
		style_vector: meanVec(profiles.map(p => p.style_vector)),
		text_vector: meanVec(profiles.map(p => p.text_vector)),
		scores: { overall: mean(profiles.map(p => p.scores.overall)), style: mean(profiles.map(p => p.scores.style)), presence: mean(profiles.map(p => p.scores.presence)) },
		tags: [],
		timestamp: null
	};
}

const HUE_NAMES = ["red", "orange", "yellow", "lime", "green", "spring green", "cyan", "sky blue", "blue", "violet", "magenta", "rose"];

/** Readable traits of a style vector (see the layout in agents/embedder.ts). */
export function styleTraits(v: readonly number[] | null | undefined) {
	if (!v || v.length !== STYLE_DIM) return null;
	const hist = v.slice(27, 39);
	const hueMass = hist.reduce((s, x) => s + Math.max(0, x), 0);
	let top = 0;
	for (let i = 1; i < hist.length; i++) if (hist[i] > hist[top]) top = i;
	let warmth = 0;
	for (let c = 0; c < 9; c++) warmth += v[c * 3 + 2] + 0.5 * v[c * 3 + 1];
	return { brightness: v[39], contrast: v[40], saturation: v[41], colourfulness: v[42], warmth: warmth / 9, hue: hueMass > 0.05 && hist[top] / hueMass > 0.3 ? HUE_NAMES[top] : null };
}

interface Texts {
	similarities: string[];
	differences: string[];
	recommendations: string[];
}

/** Trait by trait: close → a similarity, far → a difference and a step toward the target. */
function explainStyle(cur: Profile, tgt: Profile, label: string, out: Texts) {
	const a = styleTraits(cur.style_vector);
	const b = styleTraits(tgt.style_vector);
	if (!a || !b) return;
	const traits: { key: "brightness" | "contrast" | "saturation" | "colourfulness" | "warmth"; close: number; far: number; same: string; more: string; less: string; toMore: string; toLess: string }[] = [
		{ key: "brightness", close: 0.05, far: 0.1, same: "A similar overall lightness", more: `Your photo is lighter overall than ${label}`, less: `Your photo is darker overall than ${label}`, toMore: "Try lighter tones or brighter, softer light", toLess: "Try deeper tones or a darker backdrop" },
		{ key: "contrast", close: 0.03, far: 0.06, same: "A comparable balance of light and dark", more: `Your look has stronger light–dark contrast than ${label}`, less: `${cap(label)} uses stronger light–dark contrast`, toMore: "Pair one dark and one light piece for more contrast", toLess: "Keep the outfit within one tonal family for a softer contrast" },
		{ key: "saturation", close: 0.04, far: 0.08, same: "Similar colour intensity", more: `Your colours are more saturated than ${label}`, less: `${cap(label)} wears more saturated colour`, toMore: "Add one saturated accent colour", toLess: "Swap a bright piece for a muted or neutral one" },
		{ key: "warmth", close: 0.02, far: 0.05, same: "A similar colour temperature", more: `Your palette is warmer than ${label}`, less: `Your palette is cooler than ${label}`, toMore: "Bring in warm tones such as camel, rust or mustard", toLess: "Bring in cool tones such as navy, grey or teal" }
	];
	for (const t of traits) {
		const d = a[t.key] - b[t.key];
		if (Math.abs(d) <= t.close) out.similarities.push(t.same);
		else if (Math.abs(d) >= t.far) {
			out.differences.push(d > 0 ? t.more : t.less);
			out.recommendations.push(d > 0 ? t.toLess : t.toMore);
		}
	}
	if (a.hue && b.hue) {
		if (a.hue === b.hue) out.similarities.push(`The same dominant hue (${a.hue})`);
		else {
			out.differences.push(`Your dominant hue is ${a.hue}; ${label} leans ${b.hue}`);
			out.recommendations.push(`Add a touch of ${b.hue} to move toward ${label}`);
		}
	}
}

function explainScores(cur: Profile, tgt: Profile, label: string, out: Texts) {
	const pairs: [string, number | null | undefined, number | null | undefined, string][] = [
		["style", cur.scores.style, tgt.scores.style, "Refine fit and colour coordination to lift the style score"],
		["presence", cur.scores.presence, tgt.scores.presence, "Stand tall with open shoulders and a relaxed expression to lift presence"]
	];
	for (const [what, a, b, tip] of pairs) {
		if (typeof a !== "number" || typeof b !== "number") continue;
		const d = round(a - b, 1);
		if (Math.abs(d) < 0.5) out.similarities.push(`Close ${what} scores (${round(a, 1)} and ${round(b, 1)})`);
		else if (d > 0) out.differences.push(`Your ${what} score is ${points(Math.abs(d))} above ${label} (${round(a, 1)} vs ${round(b, 1)})`);
		else {
			out.differences.push(`Your ${what} score is ${points(Math.abs(d))} below ${label} (${round(a, 1)} vs ${round(b, 1)})`);
			out.recommendations.push(tip);
		}
	}
}

const points = (n: number) => `${n} ${n === 1 ? "point" : "points"}`;
const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const pct = (x: number) => `${Math.round(x * 100)}%`;
const labelOf = (type: ComparisonType, t: Profile) => (type === "past_self" ? "your earlier photos" : type === "celebrity" ? `the ${t.name} look` : t.name);

/** How much the comparison rests on: vectors on both sides, scores, text, and (past_self) how many analyses. */
function confidenceOf(sim: Similarity, count: number, type: ComparisonType): number {
	let c = 0.15;
	c += sim.basis.style === "vector+scores" ? 0.45 : sim.basis.style === "vector" ? 0.35 : sim.basis.style === "scores" ? 0.2 : 0;
	c += sim.basis.presence === "scores+text" ? 0.35 : sim.basis.presence === "scores" ? 0.3 : 0;
	if (type === "past_self") c *= Math.min(1, 0.6 + 0.1 * count);
	return round(clamp(c, 0, 1), 2);
}

const compare = defineAgent({
	name: "compare",
	version: COMPARE_VERSION,
	input: CompareInput,
	output: CompareOutput,
	async run(input: z.output<typeof CompareInput>): Promise<CompareOutput> {
		const type = input.comparison_type;
		const current = input.current;
		const ranked = rank(current, input.targets);
		const matches = ranked.slice(0, 5).map(r => ({ id: r.target.id, name: r.target.name, ...pick(r.sim), timestamp: r.target.timestamp ?? null }));

		let target: Profile | null;
		if (type === "past_self") target = input.targets.length ? centroid(input.targets, "past_self", `Your last ${input.targets.length} analyses`) : null;
		else if (input.target_id) {
			target = input.targets.find(t => t.id === input.target_id) ?? null;
			if (!target) throw new RangeError(`target ${input.target_id} is not among the targets`);
		} else target = ranked[0]?.target ?? null;

		if (!target) {
			return {
				similarity_score: 0, style_similarity: 0, presence_similarity: 0,
				similarities: [], differences: [],
				insights: [type === "past_self" ? "There are no earlier analyses in this time range to compare with yet." : "There is nothing to compare with yet."],
				recommendations: ["Analyse a few more photos over time to see how your look changes."],
				confidence: 0, target_id: null, target_name: null, matches: [], basis: { style: "none", presence: "none" }, compared_count: 0, version: COMPARE_VERSION
			};
		}

		const sim = similarityOf(current, target);
		const label = labelOf(type, target);
		const texts: Texts = { similarities: [], differences: [], recommendations: [] };
		explainStyle(current, target, label, texts);
		explainScores(current, target, label, texts);

		const insights: string[] = [];
		const closest = sim.style_similarity >= sim.presence_similarity ? "palette and light" : "presence";
		const furthest = closest === "presence" ? "palette and light" : "presence";
		insights.push(`Overall you are a ${pct(sim.similarity_score)} match with ${label}: closest in ${closest}, furthest in ${furthest}.`);
		if (type === "celebrity" && ranked[0] && ranked[0].target.id !== target.id)
			insights.push(`Your closest archetype is ${ranked[0].target.name} (${pct(ranked[0].sim.similarity_score)}).`);
		if (type === "past_self") {
			for (const k of ["style", "presence", "overall"] as const) {
				const a = current.scores[k];
				const b = target.scores[k];
				if (typeof a === "number" && typeof b === "number" && Math.abs(a - b) >= 0.3)
					insights.push(`Your ${k} score is ${a > b ? "up" : "down"} ${points(round(Math.abs(a - b), 1))} on your average over ${input.targets.length} earlier ${input.targets.length === 1 ? "analysis" : "analyses"}.`);
			}
			const nearest = ranked[0];
			if (nearest?.target.timestamp) insights.push(`Your most similar earlier photo is from ${nearest.target.timestamp.slice(0, 10)} (${pct(nearest.sim.similarity_score)}).`);
		}
		if (type === "celebrity" && target.tags.length) insights.push(`The ${target.name} look is ${target.tags.slice(0, 3).join(", ")}.`);
		if (sim.basis.style.startsWith("vector")) insights.push("Style similarity compares colours, light and layout, never faces.");

		const recommendations = [...new Set(texts.recommendations)].slice(0, 5);
		if (!recommendations.length) recommendations.push(`Keep what works: this look is already close to ${label}.`);
		return {
			...pick(sim),
			similarities: [...new Set(texts.similarities)],
			differences: [...new Set(texts.differences)],
			insights,
			recommendations,
			confidence: confidenceOf(sim, input.targets.length, type),
			target_id: target.id,
			target_name: target.name,
			matches,
			basis: sim.basis,
			compared_count: type === "past_self" ? input.targets.length : 1,
			version: COMPARE_VERSION
		};
	}
});

function pick(s: Similarity) {
	return { similarity_score: s.similarity_score, style_similarity: s.style_similarity, presence_similarity: s.presence_similarity };
}

export default compare;
