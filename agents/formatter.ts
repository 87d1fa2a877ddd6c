import { z } from "zod";
import { defineAgent } from "./agent";
import { disclaimersFor } from "./guardrails/disclaimers";
import { askLlm, list, Provenance, r1, sentenceCount, type LlmDeps } from "./shared";

/**
 * formatter: writes the report text — a 2–3 sentence summary, 3–5 key insights and 3–5
 * recommendations — from the aggregate and the section outputs. Every sentence is built from
 * one finding and carries its trace (`trace.*[i] = {text, sources, finding}`): the sections it
 * came from and the field that holds the finding, so nothing in the report is invented.
 *
 * Rules (in order of use):
 * - summary: the overall band (FORMATTER_RULES.bands); the strongest scored area; the weakest
 *   scored area when it is below FORMATTER_RULES.growthBelow. For a minor the summary has no
 *   numbers. Attractiveness is never put into words, for anyone: the score (when consented)
 *   stays a number in the report.
 * - key insights: outfit (style, palette, harmony), posture, expression (only when emotion
 *   estimates are shown), bio (its vibe and a strength), the aggregate's strengths (those about
 *   a section not described yet: SECTION_WORDS), then the aggregate's scores and confidence to
 *   reach three.
 * - recommendations: per section, the section's own tips first, ordered by need (the lowest
 *   scored section first; photo-quality problems rank as a section scoring 5.5, an expression
 *   note as one scoring 7), taken round-robin; then the aggregate's improvement areas about a
 *   section not advised on yet; then a follow-up step to reach three.
 * - minors: any text with looks wording (MINOR_BANNED) is dropped, whatever section it came from.
 * - passthrough text (section tips, bio lines, strengths) that strays into bodies or cosmetic
 *   procedures (UNSAFE) is dropped; the output rails check the whole report again.
 * Disclaimers come from the guardrails (disclaimersFor), never from the provider.
 */

export const SECTIONS = ["aggregate", "face", "fashion", "posture", "bio"] as const;
export type Section = (typeof SECTIONS)[number];

export const FORMATTER_RULES = {
	bands: [
		{ from: 8, words: "a strong, confident impression" },
		{ from: 6.5, words: "a positive impression with clear strengths" },
		{ from: 5, words: "a good base with some easy wins" },
		{ from: 0, words: "a starting point with several quick, practical improvements within reach" }
	],
	growthBelow: 7,
	strongFrom: 7.5,
	lowConfidenceBelow: 0.5,
	minItems: 3,
	maxItems: 5
} as const;

export const MINOR_BANNED = /\b(attractiv\w*|sexy|hot|beautiful|handsome|pretty|good[- ]looking|gorgeous|cute)\b/i;
const UNSAFE = /\b(surg\w*|botox|fillers?|inject\w*|cosmetic procedures?|lose weight|weight loss|diet\w*|slim\w*|ugly|fat|skinny)\b/i;

const HARMONY_WORDS: Record<string, string> = {
	analogous: "harmonious, analogous colours",
	monochrome: "a tonal, monochrome palette",
	complementary: "bold, complementary colours",
	triadic: "a lively, triadic palette",
	neutral: "a calm, neutral palette",
	contrasting: "strong colour contrasts"
};

const EXPRESSION_WORDS: Record<string, string> = {
	happy: "warm and happy",
	neutral: "calm and neutral",
	surprise: "surprised and animated",
	sad: "quiet and thoughtful",
	fear: "a little tense",
	angry: "serious and intense",
	disgust: "serious"
};

const Score = z.number().min(0).max(10);
const Unit = z.number().min(0).max(1);
const Line = z.string().trim().min(1).max(1000);

/** Views of the section outputs: the fields the formatter reads (everything else is ignored). */
export const FaceView = z.object({
	faces: z.array(z.object({ expression: z.string().max(40), is_subject: z.boolean().optional() })).max(50).default([]),
	quality: z.object({ blurry: z.boolean(), too_dark: z.boolean(), too_bright: z.boolean() }).partial().optional(),
	confidence: Unit.optional()
});
export const FashionView = z.object({
	style: z.string().max(40),
	palette: z.array(z.object({ name: z.string().max(40) })).max(12).default([]),
	harmony: z.string().max(40).nullish(),
	contrast: z.object({ level: z.enum(["low", "medium", "high"]).nullish() }).optional(),
	overall_rating: Score.nullish(),
	confidence: Unit.optional()
});
export const PostureView = z.object({
	visible: z.boolean().optional(),
	alignment_score: Score.nullable(),
	tips: z.array(Line).max(10).default([]),
	confidence: Unit.optional()
});
export const BioView = z.object({
	vibe_summary: z.string().max(2000),
	strengths: z.array(Line).max(10).default([]),
	weaknesses: z.array(Line).max(10).default([]),
	improvements: z.array(Line).max(10).default([]),
	confidence: Unit.optional()
});

/** The aggregator's output (agents/aggregator.ts); only these fields are read. */
export const Aggregate = z.object({
	/** Null when no section produced a score. */
	overall_score: Score.nullable(),
	style_score: Score.nullish(),
	presence_score: Score.nullish(),
	/** Read only to make sure it is never put into words. */
	attractiveness_score: Score.nullish(),
	/** Combined confidence 0–1. */
	confidence: Unit.nullish(),
	key_strengths: z.array(Line).max(10).default([]),
	improvement_areas: z.array(Line).max(10).default([])
});

export const FormatterInput = z.object({
	aggregate: Aggregate,
	sections: z
		.object({ face: FaceView.nullish(), fashion: FashionView.nullish(), posture: PostureView.nullish(), bio: BioView.nullish() })
		.default({}),
	flags: z
		.object({ minor: z.boolean().default(false), biometric: z.boolean().default(false), emotion_shown: z.boolean().default(false) })
		.prefault({})
});
export type FormatterInput = z.infer<typeof FormatterInput>;

export const Traced = z.object({
	text: z.string().min(1).max(1000),
	sources: z.array(z.enum(SECTIONS)).min(1).max(SECTIONS.length),
	/** The field of the input the sentence states, e.g. `posture.alignment_score`. */
	finding: z.string().min(1).max(120)
});
export type Traced = z.infer<typeof Traced>;

const FormatterFields = z.object({
	summary: z.string().min(20).max(1500),
	key_insights: z.array(z.string().min(1).max(1000)).min(FORMATTER_RULES.minItems).max(FORMATTER_RULES.maxItems),
	recommendations: z.array(z.string().min(1).max(1000)).min(FORMATTER_RULES.minItems).max(FORMATTER_RULES.maxItems),
	trace: z.object({
		summary: z.array(Traced).min(1).max(3),
		key_insights: z.array(Traced).max(FORMATTER_RULES.maxItems),
		recommendations: z.array(Traced).max(FORMATTER_RULES.maxItems)
	})
});

/** The text lists and their traces must say the same thing, in the same order. */
function traced(o: z.infer<typeof FormatterFields>, ctx: z.RefinementCtx): void {
	const same = (a: string[], b: Traced[]) => a.length === b.length && a.every((t, i) => t === b[i].text);
	if (!same(o.key_insights, o.trace.key_insights)) ctx.addIssue({ code: "custom", path: ["trace", "key_insights"], message: "must trace every key insight, in order" });
	if (!same(o.recommendations, o.trace.recommendations)) ctx.addIssue({ code: "custom", path: ["trace", "recommendations"], message: "must trace every recommendation, in order" });
	if (o.summary !== o.trace.summary.map(t => t.text).join(" ")) ctx.addIssue({ code: "custom", path: ["trace", "summary"], message: "must trace every summary sentence, in order" });
	const n = sentenceCount(o.summary);
	if (n < 2 || n > 3) ctx.addIssue({ code: "custom", path: ["summary"], message: "must be 2–3 sentences" });
}

/** What the provider answers (local rules or a model). */
export const FormatterContent = FormatterFields.superRefine(traced);
export type FormatterContent = z.infer<typeof FormatterFields>;

export const FormatterOutput = FormatterFields.extend({ disclaimers: z.array(z.string().min(1)).min(1), ...Provenance.shape }).superRefine(traced);
export type FormatterOutput = z.infer<typeof FormatterOutput>;

/** Lower-cases the first letter for use mid-sentence, except for "I" and acronyms ("LinkedIn" stays). */
const lower = (s: string) => (/^(?!I\b)[A-Z](?![A-Z])/.test(s) && !/^[A-Z][a-z]+[A-Z]/.test(s) ? s.charAt(0).toLowerCase() + s.slice(1) : s);
const sentence = (s: string) => {
	const t = s.trim();
	return /[.!?]$/.test(t) ? t : `${t}.`;
};
/** A full sentence ("Your posture stands out (8.6/10).") as it is; a bare label ("posture") under a lead-in. */
const asStatement = (lead: string, s: string) => (/[.!?]$/.test(s.trim()) ? s.trim() : `${lead}: ${lower(sentence(s))}`);
const firstSentence = (s: string) => s.trim().split(/(?<=[.!?])\s+/)[0] ?? "";

interface Area {
	name: string;
	score: number;
	sources: Section[];
	finding: string;
	why?: string;
}

/** The scored areas a summary can name: style, presence, posture. */
export function scoredAreas(input: FormatterInput): Area[] {
	const { aggregate: a, sections: s } = input;
	const out: Area[] = [];
	const fashion = s.fashion && s.fashion.style !== "unknown" ? s.fashion : null;
	const styleScore = a.style_score ?? fashion?.overall_rating ?? null;
	if (styleScore !== null && styleScore !== undefined) {
		const sources: Section[] = a.style_score !== null && a.style_score !== undefined ? ["aggregate"] : [];
		if (fashion) sources.push("fashion");
		out.push({
			name: "style",
			score: r1(styleScore),
			sources,
			finding: a.style_score !== null && a.style_score !== undefined ? "aggregate.style_score" : "fashion.overall_rating",
			why: fashion ? `a ${fashion.style} outfit${fashion.harmony && HARMONY_WORDS[fashion.harmony] ? ` with ${HARMONY_WORDS[fashion.harmony]}` : ""}` : undefined
		});
	}
	if (a.presence_score !== null && a.presence_score !== undefined) out.push({ name: "presence", score: r1(a.presence_score), sources: ["aggregate"], finding: "aggregate.presence_score" });
	const p = s.posture;
	if (p && p.alignment_score !== null) out.push({ name: "posture", score: r1(p.alignment_score), sources: ["posture"], finding: "posture.alignment_score" });
	return out;
}

export function summarise(input: FormatterInput): Traced[] {
	const { aggregate: a, flags } = input;
	const minor = flags.minor;
	const overall = a.overall_score;
	const band = overall === null ? null : FORMATTER_RULES.bands.find(b => overall >= b.from)!;
	const out: Traced[] = [
		{
			text:
				overall === null || !band
					? "There was not enough in this photo to give an overall score."
					: minor
						? `Here is how this photo comes across: ${band.words}.`
						: `Your overall score is ${r1(overall)}/10: ${band.words}.`,
			sources: ["aggregate"],
			finding: "aggregate.overall_score"
		}
	];
	const areas = scoredAreas(input).sort((x, y) => y.score - x.score);
	const best = areas[0];
	if (best) {
		const because = best.why ? `, helped by ${best.why}` : "";
		out.push({ text: minor ? `Your strongest area is ${best.name}${because}.` : `Your strongest area is ${best.name} (${best.score}/10)${because}.`, sources: best.sources, finding: best.finding });
		const worst = areas[areas.length - 1];
		if (areas.length > 1 && worst.score < FORMATTER_RULES.growthBelow && worst.score < best.score)
			out.push({
				text: minor ? `The easiest area to build on is ${worst.name}: the recommendations show how.` : `The quickest win is ${worst.name} (${worst.score}/10): the recommendations show how.`,
				sources: worst.sources,
				finding: worst.finding
			});
	} else {
		const strength = a.key_strengths.find(s => ok(s, minor));
		if (strength) out.push({ text: asStatement("A clear strength", firstSentence(strength)), sources: ["aggregate"], finding: `aggregate.key_strengths[${a.key_strengths.indexOf(strength)}]` });
		else out.push({ text: "Every reading here is an AI estimate from one photo, and small changes can move it.", sources: ["aggregate"], finding: "aggregate.overall_score" });
	}
	return out;
}

/** Words that tie a free-text aggregate line to a section: a line about a section already described is not repeated. */
const SECTION_WORDS: Record<Exclude<Section, "aggregate">, RegExp> = {
	face: /\b(face|camera|expressions?|smil\w*)\b/i,
	fashion: /\b(outfits?|colou?rs?|style|fashion|cloth\w*)\b/i,
	posture: /\b(posture|stance|shoulders?)\b/i,
	bio: /\b(bio|writing)\b/i
};

function namesAny(text: string, sections: Set<Section>): boolean {
	return [...sections].some(s => s !== "aggregate" && SECTION_WORDS[s].test(text));
}

function ok(text: string, minor: boolean): boolean {
	return !UNSAFE.test(text) && !(minor && MINOR_BANNED.test(text));
}

function subjectExpression(input: FormatterInput): { expression: string; index: number } | null {
	const faces = input.sections.face?.faces ?? [];
	const i = faces.findIndex(f => f.is_subject);
	const index = i >= 0 ? i : faces.length ? 0 : -1;
	return index >= 0 ? { expression: faces[index].expression.toLowerCase(), index } : null;
}

export function insights(input: FormatterInput): Traced[] {
	const { aggregate: a, sections: s, flags } = input;
	const out: Traced[] = [];
	const f = s.fashion;
	if (f && f.style !== "unknown") {
		const colours = f.palette.slice(0, 3).map(c => c.name.toLowerCase());
		const harmony = f.harmony && HARMONY_WORDS[f.harmony] ? `, with ${HARMONY_WORDS[f.harmony]}` : "";
		const rating = f.overall_rating !== null && f.overall_rating !== undefined && !flags.minor ? ` (outfit rating ${r1(f.overall_rating)}/10)` : "";
		out.push({ text: `Your outfit reads as ${f.style}${colours.length ? ` in ${list(colours)}` : ""}${harmony}${rating}.`, sources: ["fashion"], finding: "fashion.style" });
	}
	const p = s.posture;
	if (p && p.alignment_score !== null) {
		const sc = r1(p.alignment_score);
		out.push({
			text:
				sc >= FORMATTER_RULES.strongFrom
					? `Your posture is a strength: balanced and upright${flags.minor ? "" : ` (${sc}/10)`}.`
					: `Your posture ${flags.minor ? "has room to grow" : `scores ${sc}/10`}: a few small changes to your stance will lift it.`,
			sources: ["posture"],
			finding: "posture.alignment_score"
		});
	}
	const e = flags.emotion_shown ? subjectExpression(input) : null;
	if (e && EXPRESSION_WORDS[e.expression])
		out.push({ text: `Your expression reads as ${EXPRESSION_WORDS[e.expression]} in this photo (an AI estimate from a single moment).`, sources: ["face"], finding: `face.faces[${e.index}].expression` });
	const b = s.bio;
	if (b) {
		const vibe = firstSentence(b.vibe_summary);
		if (vibe && ok(vibe, flags.minor)) out.push({ text: sentence(vibe), sources: ["bio"], finding: "bio.vibe_summary" });
		const strength = b.strengths.findIndex(x => ok(x, flags.minor));
		if (strength >= 0) out.push({ text: `A strength of your bio: ${lower(sentence(b.strengths[strength]))}`, sources: ["bio"], finding: `bio.strengths[${strength}]` });
	}
	const described = new Set(out.flatMap(t => t.sources));
	a.key_strengths.forEach((k, i) => {
		if (ok(k, flags.minor) && !namesAny(k, described)) out.push({ text: asStatement("A clear strength", k), sources: ["aggregate"], finding: `aggregate.key_strengths[${i}]` });
	});
	// Fill to three from the aggregate's own numbers.
	const fill: Traced[] = [];
	if (a.style_score !== null && a.style_score !== undefined) fill.push({ text: `Your style score is ${r1(a.style_score)}/10, drawn mostly from your outfit.`, sources: ["aggregate"], finding: "aggregate.style_score" });
	if (a.presence_score !== null && a.presence_score !== undefined)
		fill.push({ text: `Your presence score is ${r1(a.presence_score)}/10, drawn from posture, expression and bio where available.`, sources: ["aggregate"], finding: "aggregate.presence_score" });
	if (a.confidence !== null && a.confidence !== undefined)
		fill.push({
			text:
				a.confidence < FORMATTER_RULES.lowConfidenceBelow
					? `This reading is less certain than usual (confidence ${a.confidence.toFixed(2)}): a sharper, well-lit photo gives steadier results.`
					: `The analysis is fairly sure of this reading (confidence ${a.confidence.toFixed(2)}).`,
			sources: ["aggregate"],
			finding: "aggregate.confidence"
		});
	if (a.overall_score !== null) fill.push({ text: `Your overall impression sits at ${r1(a.overall_score)} on a 0–10 scale.`, sources: ["aggregate"], finding: "aggregate.overall_score" });
	fill.push({ text: "The overall score combines the sections that were analysed for this photo.", sources: ["aggregate"], finding: "aggregate.overall_score" });
	fill.push({ text: "Every score here is an AI estimate from one photo, so it can shift from one picture to the next.", sources: ["aggregate"], finding: "aggregate.overall_score" });
	return pick(out, fill, flags.minor);
}

/** First `maxItems` unique lines of `main`, topped up from `fill` to `minItems`; minors get no numbers-only fillers with looks wording. */
function pick(main: Traced[], fill: Traced[], minor: boolean): Traced[] {
	const out: Traced[] = [];
	const add = (t: Traced) => {
		if (out.length < FORMATTER_RULES.maxItems && ok(t.text, minor) && !out.some(o => o.text === t.text)) out.push(t);
	};
	main.forEach(add);
	for (const t of fill) if (out.length < FORMATTER_RULES.minItems) add(t);
	return out;
}

export function recommend(input: FormatterInput): Traced[] {
	const { aggregate: a, sections: s, flags } = input;
	const groups: { need: number; items: Traced[] }[] = [];

	const p = s.posture;
	if (p && p.alignment_score !== null) {
		const items = p.tips.map((t, i) => ({ text: sentence(t), sources: ["posture"] as Section[], finding: `posture.tips[${i}]` }));
		groups.push({ need: 10 - p.alignment_score, items });
	}

	const f = s.fashion;
	if (f && f.style !== "unknown") {
		const items: Traced[] = [];
		const rating = f.overall_rating ?? a.style_score ?? 6;
		if (f.harmony === "contrasting" || rating < 6)
			items.push({ text: "Try building your outfit around two or three colours that go together, such as a neutral base with one accent colour.", sources: ["fashion"], finding: f.harmony === "contrasting" ? "fashion.harmony" : "fashion.overall_rating" });
		if (f.contrast?.level === "low")
			items.push({ text: "Add a little contrast between your top and bottom, such as a lighter top with darker trousers, so the outfit reads more clearly.", sources: ["fashion"], finding: "fashion.contrast.level" });
		if (rating >= 7)
			items.push({ text: `Keep the ${f.style} look: it works for you, and one deliberate accessory can finish it.`, sources: ["fashion"], finding: "fashion.overall_rating" });
		else if (!items.length) items.push({ text: "Add one deliberate detail, such as a jacket, a watch or a single accent colour, so the outfit looks intentional.", sources: ["fashion"], finding: "fashion.overall_rating" });
		groups.push({ need: 10 - rating, items });
	}

	const face = s.face;
	if (face) {
		const items: Traced[] = [];
		const q = face.quality ?? {};
		if (q.too_dark) items.push({ text: "Face a window or soft daylight so your face is evenly lit.", sources: ["face"], finding: "face.quality.too_dark" });
		if (q.too_bright) items.push({ text: "Step out of direct sun or harsh light to avoid an overexposed look.", sources: ["face"], finding: "face.quality.too_bright" });
		if (q.blurry) items.push({ text: "Hold the camera steady, or prop it up and use the timer, so your face comes out sharp.", sources: ["face"], finding: "face.quality.blurry" });
		const e = flags.emotion_shown ? subjectExpression(input) : null;
		if (e && ["neutral", "sad", "fear", "angry", "disgust"].includes(e.expression))
			items.push({ text: "For a warmer impression, try a relaxed, natural smile: think of something that amuses you just before the shot.", sources: ["face"], finding: `face.faces[${e.index}].expression` });
		// Photo problems make every other reading shakier: they rank as a section scoring 5.5 would.
		if (items.length) groups.push({ need: items.some(i => i.finding.startsWith("face.quality")) ? 4.5 : 3, items });
	}

	const b = s.bio;
	if (b && b.improvements.length) {
		const conf = b.confidence ?? 0.5;
		groups.push({ need: 4 + (1 - conf), items: b.improvements.map((t, i) => ({ text: sentence(t), sources: ["bio"] as Section[], finding: `bio.improvements[${i}]` })) });
	}

	groups.sort((x, y) => y.need - x.need);
	const main: Traced[] = [];
	for (let round = 0; round < 3; round++) for (const g of groups) if (g.items[round]) main.push(g.items[round]);
	const advised = new Set(main.flatMap(t => t.sources));
	a.improvement_areas.forEach((area, i) => {
		if (!namesAny(area, advised)) main.push({ text: asStatement("A focus area from your scores", area), sources: ["aggregate"], finding: `aggregate.improvement_areas[${i}]` });
	});

	const fill: Traced[] = [
		{ text: "Take a follow-up photo in similar light in a week or two to see how the changes come across.", sources: ["aggregate"], finding: "aggregate.overall_score" },
		{ text: "Try a few shots in a row and keep the one that feels most like you.", sources: ["aggregate"], finding: "aggregate.overall_score" },
		{ text: "Keep doing what already works in this photo: the insights above name it.", sources: ["aggregate"], finding: "aggregate.key_strengths" }
	];
	return pick(main, fill, flags.minor);
}

export function formatterRules(input: FormatterInput): FormatterContent {
	const summary = summarise(input);
	const ins = insights(input);
	const recs = recommend(input);
	return {
		summary: summary.map(t => t.text).join(" "),
		key_insights: ins.map(t => t.text),
		recommendations: recs.map(t => t.text),
		trace: { summary, key_insights: ins, recommendations: recs }
	};
}

export const formatter = defineAgent({
	name: "formatter",
	version: "1.0.0",
	input: FormatterInput,
	output: FormatterOutput,
	async run(input: FormatterInput, deps: LlmDeps): Promise<z.input<typeof FormatterOutput>> {
		// The model never sees the attractiveness score: it is not to be put into words.
		const { attractiveness_score: _hidden, ...aggregate } = input.aggregate;
		const disclaimers = disclaimersFor({ emotion: input.flags.emotion_shown, biometric: input.flags.biometric });
		const out = await askLlm(deps, "formatter", { aggregate, sections: input.sections, flags: input.flags, disclaimers }, FormatterContent, () => formatterRules(input));
		return { ...out, disclaimers };
	}
});

export default formatter;
