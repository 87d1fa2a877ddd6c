import { z } from "zod";
import { defineAgent } from "./agent";
import { askLlm, capitalise, Provenance, r1, type LlmDeps } from "./shared";


/**
 * fixit: turns the scored dimensions of an analysis into a few kind, specific steps. The
 * weakest dimensions become the focus areas; each focus area contributes the tips its own
 * section measured (a posture tip that names the higher shoulder beats a generic one), then
 * the tips of the rule table below for its score band; the plan takes one step per focus
 * area. Nothing here comments on the body itself: every tip is about light, stance,
 * expression, clothes or words — never weight, shape, surgery or cosmetic procedures.
 *
 * Ranking: dimensions scored 0–10 are sorted ascending; a dimension the analysis itself named
 * among its weakest areas ranks as if it scored FIXIT_RULES.namedBoost lower; a dimension
 * recently improved (perception history) is left out unless nothing else is left. Focus areas
 * are the (up to) FIXIT_RULES.maxFocus dimensions below FIXIT_RULES.weakBelow; when every
 * dimension is at or above it, the single lowest one is the focus ("polish").
 * Bands: low < 4.5 ≤ mid < 7 ≤ high.
 */

export const DIMENSIONS = ["posture", "expression", "style", "presence", "photo_quality", "bio", "social"] as const;
export type Dimension = (typeof DIMENSIONS)[number];
export type Band = "low" | "mid" | "high";

export const FIXIT_RULES = {
	weakBelow: 7,
	lowBelow: 4.5,
	maxFocus: 3,
	namedBoost: 0.75,
	minTips: 3,
	maxTips: 5
} as const;

/** What each dimension is called in text, and the words that name it in free-text areas and tags. */
export const DIMENSION_INFO: Record<Dimension, { label: string; keywords: RegExp }> = {
	posture: { label: "posture", keywords: /\b(posture|shoulders?|stance|alignment|upright)\b/i },
	expression: { label: "facial expression", keywords: /\b(expressions?|smil\w*|face|facial|emotions?)\b/i },
	style: { label: "outfit and style", keywords: /\b(style|fashion|outfits?|cloth\w*|colou?rs?|palette|wardrobe)\b/i },
	presence: { label: "presence and body language", keywords: /\b(presence|body language|confiden\w*|gestures?|openness)\b/i },
	photo_quality: { label: "photo quality (light and focus)", keywords: /\b(photo quality|quality|light\w*|blur\w*|sharp\w*|dark|bright|exposure)\b/i },
	bio: { label: "bio writing", keywords: /\b(bio|writing|text|profile text|words)\b/i },
	social: { label: "overall first impression", keywords: /\b(social|first impression|vibe|impression)\b/i }
};

/**
 * The tip table: two tips for a low or mid score (the first is the one used first), one
 * "keep it up" tip for a high score. Kind, concrete, about what to try.
 */
export const TIP_TABLE: Record<Dimension, Record<Band, readonly string[]>> = {
	posture: {
		low: [
			"Before the shot, roll your shoulders up, back and down, then let them rest: it levels them and opens your chest without stiffness.",
			"Stand with your weight on both feet and imagine a string gently lifting the crown of your head."
		],
		mid: [
			"Let your shoulders drop and relax evenly just before the photo; a slow breath out helps.",
			"Keep your ears over your shoulders: a slight chin tuck brings your head back in line."
		],
		high: ["Your posture is already a strength: keep your shoulders relaxed and your head lifted, just as you are."]
	},
	expression: {
		low: [
			"Think of something that genuinely amuses you just before the shot: a real smile reaches the eyes.",
			"Relax your jaw and forehead with a slow breath out; a soft, easy expression reads as open."
		],
		mid: [
			"Try a few shots with a relaxed half-smile and keep the one that feels most like you.",
			"Look into the lens rather than at the screen, so your eyes meet the viewer's."
		],
		high: ["Your expression comes across warmly: keep it natural rather than posed."]
	},
	style: {
		low: [
			"Pick an outfit you feel good in and check that it fits well at the shoulders: fit matters more than price.",
			"Build the outfit around two or three colours that go together, such as a neutral base with one accent colour."
		],
		mid: [
			"Add one deliberate detail, such as a jacket, a watch or a single accent colour, so the outfit looks intentional.",
			"Give the top and bottom a little contrast, so the outfit does not blend into one block."
		],
		high: ["Your outfit choices work well: keep the same care for fit and colour."]
	},
	presence: {
		low: [
			"Face the camera with your shoulders square and your hands relaxed or lightly in use: open body language reads as confident.",
			"Take up a little space: a slightly wider stance with your arms away from your body looks at ease."
		],
		mid: [
			"Use an open hand gesture or rest a hand naturally instead of crossing your arms.",
			"Angle your body slightly and turn your face to the camera for a relaxed, engaged look."
		],
		high: ["Your presence comes through well: keep the open, relaxed stance."]
	},
	photo_quality: {
		low: [
			"Face a window or soft daylight so your face is evenly lit, and wipe the lens before the shot.",
			"Hold the camera steady, or prop it up and use the timer, so the photo comes out sharp."
		],
		mid: [
			"Keep the light in front of you rather than behind you, to avoid shadows on your face.",
			"Take a few shots in a row and keep the sharpest one."
		],
		high: ["Your photo quality is good: similar light and framing will keep your results reliable."]
	},
	bio: {
		low: [
			"Add two or three concrete details about what you do or enjoy: specifics are more memorable than general words.",
			"Write in your own voice, in short sentences, and say what you are looking for or working on."
		],
		mid: [
			"Swap one general phrase for a specific example, such as a hobby, a recent project or a place you love.",
			"End your bio with a friendly line that invites a reply."
		],
		high: ["Your bio reads well: keep it current as your interests change."]
	},
	social: {
		low: [
			"Bring the small changes together in one photo: good light, a relaxed smile and an open stance add up.",
			"Choose a setting that says something about you, such as a hobby or a favourite place."
		],
		mid: [
			"Pick a tidy, uncluttered background so the attention stays on you.",
			"Show yourself doing something you enjoy: a candid moment often reads better than a posed one."
		],
		high: ["Your photos make a good first impression: keep choosing settings that feel like you."]
	}
};

/** One step of the plan per focus area: what to practise. */
export const PLAN_STEPS: Record<Dimension, string> = {
	posture: "practise a relaxed, upright stance for a minute a day in front of a mirror: shoulders down and back, weight on both feet",
	expression: "take a few practice selfies with a natural smile and notice which expression feels most like you",
	style: "put together one outfit that fits well and uses two or three colours that go together",
	presence: "practise open body language: arms relaxed, a slightly wider stance, your face turned to the camera",
	photo_quality: "set up good light before you shoot: face a window or soft daylight and steady the camera",
	bio: "rewrite your bio with two concrete details and one line about what you are looking for",
	social: "bring these changes together in one new photo, in a setting that says something about you"
};

/** Tips passed through from sections are dropped when they stray into the body or cosmetic procedures. */
const UNSAFE_TIP = /\b(surg\w*|botox|fillers?|inject\w*|cosmetic|lose weight|weight loss|diet\w*|slim\w*|ugly|fat|skinny|nose job)\b/i;

const Score = z.number().min(0).max(10);
const Tips = z.array(z.string().trim().min(1).max(500)).max(10);

/** 0–10 scores of an analysis, `overall` and each dimension; null or absent when not measured. */
export const AnalysisScores = z
	.object({
		overall: Score.nullish(),
		posture: Score.nullish(),
		expression: Score.nullish(),
		style: Score.nullish(),
		presence: Score.nullish(),
		photo_quality: Score.nullish(),
		bio: Score.nullish(),
		social: Score.nullish()
	})
	.default({});

export const FixitInput = z.object({
	/** The scores of the analysis. `overall` is reported, never a focus. */
	scores: AnalysisScores,
	/** The aggregator's improvement areas (free text naming dimensions). */
	weakest_areas: z.array(z.string().max(200)).max(20).default([]),
	/** Tips the sections gave, by dimension: used first for a focus dimension. */
	tips: z
		.object({ posture: Tips, expression: Tips, style: Tips, presence: Tips, photo_quality: Tips, bio: Tips, social: Tips })
		.partial()
		.default({}),
	/** Areas the perception history shows improving: not picked as focus unless nothing else is left. */
	improved_areas: z.array(z.string().max(200)).max(20).default([])
});
export type FixitInput = z.infer<typeof FixitInput>;

export const DimensionScore = z.object({
	dimension: z.enum(DIMENSIONS),
	score: Score,
	band: z.enum(["low", "mid", "high"])
});

/** What the provider answers (local rules or a model). */
export const FixitContent = z.object({
	quick_tips: z.array(z.string().min(1).max(500)).min(FIXIT_RULES.minTips).max(FIXIT_RULES.maxTips),
	detailed_plan: z.string().min(20).max(2000),
	focus_areas: z.array(z.string().min(1).max(100)).max(FIXIT_RULES.maxFocus),
	dimensions: z.array(DimensionScore).max(DIMENSIONS.length)
});
export type FixitContent = z.infer<typeof FixitContent>;

export const FixitOutput = FixitContent.extend(Provenance.shape);
export type FixitOutput = z.infer<typeof FixitOutput>;

export function band(score: number): Band {
	return score < FIXIT_RULES.lowBelow ? "low" : score < FIXIT_RULES.weakBelow ? "mid" : "high";
}

/** The dimensions a free-text area names ("Posture and shoulders" → posture). */
export function dimensionsNamed(text: string): Dimension[] {
	return DIMENSIONS.filter(d => DIMENSION_INFO[d].keywords.test(text));
}

/** Scored dimensions, weakest first by rank (score, lowered for areas the analysis named; ties in DIMENSIONS order). */
export function rankDimensions(input: FixitInput): { dimension: Dimension; score: number; rank: number }[] {
	const named = new Set(input.weakest_areas.flatMap(dimensionsNamed));
	const out: { dimension: Dimension; score: number; rank: number }[] = [];
	for (const d of DIMENSIONS) {
		const s = input.scores[d];
		if (s === null || s === undefined) continue;
		out.push({ dimension: d, score: r1(s), rank: s - (named.has(d) ? FIXIT_RULES.namedBoost : 0) });
	}
	return out.sort((a, b) => a.rank - b.rank || DIMENSIONS.indexOf(a.dimension) - DIMENSIONS.indexOf(b.dimension));
}

/** The focus dimensions: the weakest below the threshold, recently improved ones set aside. */
export function focusDimensions(input: FixitInput): Dimension[] {
	const ranked = rankDimensions(input);
	const improved = new Set(input.improved_areas.flatMap(dimensionsNamed));
	const candidates = ranked.filter(r => !improved.has(r.dimension));
	const pool = candidates.length ? candidates : ranked;
	const weak = pool.filter(r => r.score < FIXIT_RULES.weakBelow).slice(0, FIXIT_RULES.maxFocus);
	return (weak.length ? weak : pool.slice(0, 1)).map(r => r.dimension);
}

function tipsFor(d: Dimension, score: number, sectionTips: readonly string[] | undefined): string[] {
	const own = (sectionTips ?? []).filter(t => !UNSAFE_TIP.test(t));
	return [...own, ...TIP_TABLE[d][band(score)]];
}

const GENERIC_TIPS = [
	"Face a window or soft daylight so your face is evenly lit, and hold the camera steady.",
	"Frame yourself from at least the waist up, with both shoulders in view, so posture and outfit can be read.",
	"Add a short bio with two or three concrete details about what you enjoy, so your tips can cover how you come across in words too."
];

/** The rules: deterministic, explainable, every sentence from the tables above. */
export function fixitRules(input: FixitInput): FixitContent {
	const ranked = rankDimensions(input);
	const dimensions = ranked.map(r => ({ dimension: r.dimension, score: r.score, band: band(r.score) }));
	if (!ranked.length) {
		return {
			quick_tips: GENERIC_TIPS,
			detailed_plan:
				"1. Take a well-lit photo that shows you from the waist up. 2. Add a short bio in your own words. 3. Run a full analysis: your next plan will then focus on your own weakest areas.",
			focus_areas: [],
			dimensions
		};
	}
	const focus = focusDimensions(input);
	const scoreOf = new Map(ranked.map(r => [r.dimension, r.score]));
	const queues = focus.map(d => tipsFor(d, scoreOf.get(d)!, input.tips[d]));

	// Round-robin over the focus areas, so the weakest gets the first tip and every area gets one.
	const tips: string[] = [];
	const add = (t: string) => {
		if (tips.length < FIXIT_RULES.maxTips && !tips.includes(t)) tips.push(t);
	};
	for (let round = 0; round < 3 && tips.length < FIXIT_RULES.maxTips; round++) for (const q of queues) if (q[round]) add(q[round]);
	// Too few: say what already works (the strongest dimension), then the generic photo tips.
	const strongest = ranked[ranked.length - 1];
	if (tips.length < FIXIT_RULES.minTips && !focus.includes(strongest.dimension)) add(TIP_TABLE[strongest.dimension][band(strongest.score)][0]);
	for (const g of GENERIC_TIPS) if (tips.length < FIXIT_RULES.minTips) add(g);

	const steps = focus.map((d, i) => {
		const s = scoreOf.get(d)!;
		const tag = i === 0 ? `${s}/10, your top focus` : `${s}/10`;
		return `${i + 1}. ${capitalise(DIMENSION_INFO[d].label)} (${tag}): ${PLAN_STEPS[d]}.`;
	});
	const keep = strongest.score >= FIXIT_RULES.weakBelow && !focus.includes(strongest.dimension) ? ` Keep what already works: your ${DIMENSION_INFO[strongest.dimension].label} (${strongest.score}/10).` : "";
	steps.push(`${steps.length + 1}. After a week, take a new photo in similar light and run a new analysis to see what changed.${keep}`);

	return { quick_tips: tips, detailed_plan: steps.join(" "), focus_areas: focus.map(d => DIMENSION_INFO[d].label), dimensions };
}

export const fixit = defineAgent({
	name: "fixit",
	version: "1.0.0",
	input: FixitInput,
	output: FixitOutput,
	async run(input: FixitInput, deps: LlmDeps): Promise<z.input<typeof FixitOutput>> {
		const variables = { scores: input.scores, weakest_areas: input.weakest_areas, tips: input.tips, improved_areas: input.improved_areas };
		return askLlm(deps, "fixit", variables, FixitContent, () => fixitRules(input));
	}
});

export default fixit;
