import { z } from "zod";
import { defineAgent } from "./agent";
import { askLlm, clamp, list, Provenance, r1, round, sentenceCount, topKey, type LlmDeps } from "./shared";

/**
 * social_perception: the first impression one photo likely gives, from the vision summary
 * (expression estimates, posture, outfit, photo quality, objects in view). Runs after every
 * ingest and is stored with the media, so it must be cheap and must work with parts missing.
 *
 * social_score (0–10, one decimal) = Σ wᵢ·cᵢ / Σ wᵢ over the components that exist, with
 * weights SOCIAL_WEIGHTS and components (each 0–10):
 * - expression: the subject's emotion distribution weighted by EXPRESSION_WARMTH
 *   (Σ pₑ·vₑ / Σ pₑ; the dominant expression alone when there is no distribution);
 * - posture: alignment_score, blended 80/20 with openness × 10 when openness is known;
 * - style: the fashion overall_rating, else HARMONY_SCORE of the palette's harmony;
 * - quality: 10 − 3 when blurry − 2 when too dark − 2 when too bright.
 * No person component (expression, posture, style) → SOCIAL_BASELINE with confidence 0: photo
 * quality alone says nothing about how someone comes across.
 * confidence (0–1) = Σ weights present / Σ all weights, × 0.7 when blurry (a blurry photo makes
 * every reading shakier).
 *
 * Tags (3–8) come from the tables below in a fixed order — expression, posture, style,
 * harmony, objects — de-duplicated, then topped up from FILL_TAGS. The summary is 2–3
 * sentences built from the same readings, so each sentence is traceable.
 */

export const SOCIAL_WEIGHTS = { expression: 0.35, posture: 0.25, style: 0.25, quality: 0.15 } as const;
export const SOCIAL_BASELINE = 5;

/** How warm an expression reads, 0–10 (estimates; nothing here judges the person). */
export const EXPRESSION_WARMTH: Record<string, number> = {
	happy: 10,
	neutral: 6,
	surprise: 6.5,
	sad: 3.5,
	fear: 3,
	angry: 2.5,
	disgust: 2.5
};

export const HARMONY_SCORE: Record<string, number> = {
	analogous: 7.5,
	monochrome: 7,
	complementary: 7,
	triadic: 6.5,
	neutral: 6.5,
	contrasting: 5.5
};

export const EXPRESSION_TAGS: Record<string, { tags: string[]; reads: string }> = {
	happy: { tags: ["warm", "friendly"], reads: "a genuine smile" },
	neutral: { tags: ["calm", "composed"], reads: "a steady, even expression" },
	surprise: { tags: ["expressive", "lively"], reads: "an open, animated look" },
	sad: { tags: ["thoughtful", "reflective"], reads: "a quiet expression" },
	fear: { tags: ["reserved"], reads: "a hesitant expression" },
	angry: { tags: ["intense", "serious"], reads: "a focused look" },
	disgust: { tags: ["serious"], reads: "a serious look" }
};

export const STYLE_TAGS: Record<string, { tags: string[]; reads: string }> = {
	formal: { tags: ["polished", "professional"], reads: "a formal outfit" },
	"smart-casual": { tags: ["put-together", "smart-casual"], reads: "a smart-casual outfit" },
	casual: { tags: ["casual", "easygoing"], reads: "a casual outfit" },
	sporty: { tags: ["sporty", "active"], reads: "a sporty outfit" },
	"monochrome-minimal": { tags: ["minimalist", "sleek"], reads: "a minimal, monochrome outfit" },
	colourful: { tags: ["vibrant", "creative"], reads: "a colourful outfit" }
};

export const HARMONY_TAGS: Record<string, string> = {
	analogous: "harmonious colours",
	monochrome: "tonal palette",
	complementary: "bold colours",
	triadic: "bold colours",
	neutral: "understated",
	contrasting: "high contrast"
};

/** COCO objects in view that say something about the setting. */
export const OBJECT_TAGS: Record<string, string> = {
	dog: "animal lover",
	cat: "animal lover",
	horse: "animal lover",
	bicycle: "adventurous",
	surfboard: "adventurous",
	skis: "adventurous",
	snowboard: "adventurous",
	skateboard: "active",
	"sports ball": "active",
	"tennis racket": "active",
	frisbee: "playful",
	book: "curious",
	laptop: "focused",
	"wine glass": "sociable",
	cup: "relaxed",
	guitar: "creative"
};

const FILL_TAGS = ["natural", "authentic", "genuine"];

/** Posture bands: at or above `upright` → confident; at or above `relaxed` → relaxed; below → laid-back. */
export const POSTURE_BANDS = { upright: 7.5, relaxed: 5, openFrom: 0.6 } as const;
const OBJECT_MIN_SCORE = 0.4;

export const SocialInput = z.object({
	/** Faces of the photo; the subject's (`is_subject`, else the first) is read. */
	faces: z
		.array(
			z.object({
				expression: z.string().max(40),
				emotions: z.record(z.string().max(40), z.number().min(0).max(1)).default({}),
				is_subject: z.boolean().optional()
			})
		)
		.max(50)
		.default([]),
	/** The posture agent's output as is (openness from `metrics.openness`), or just the two numbers. */
	posture: z
		.object({
			alignment_score: z.number().min(0).max(10).nullable(),
			openness: z.number().min(0).max(1).nullish(),
			metrics: z.object({ openness: z.number().min(0).max(1).nullable() }).partial().optional()
		})
		.transform(({ alignment_score, openness, metrics }) => ({ alignment_score, openness: openness ?? metrics?.openness ?? null }))
		.nullable()
		.default(null),
	fashion: z
		.object({
			style: z.string().max(40),
			palette: z.array(z.object({ name: z.string().max(40), share: z.number().min(0).max(1).optional() })).max(12).default([]),
			harmony: z.string().max(40).nullish(),
			overall_rating: z.number().min(0).max(10).nullish()
		})
		.nullable()
		.default(null),
	quality: z
		.object({ blurry: z.boolean().default(false), too_dark: z.boolean().default(false), too_bright: z.boolean().default(false) })
		.nullable()
		.default(null),
	objects: z.array(z.object({ label: z.string().max(40), score: z.number().min(0).max(1) })).max(100).default([]),
	/** An estimated or declared minor: no looks wording at all. */
	minor: z.boolean().default(false)
});
export type SocialInput = z.infer<typeof SocialInput>;

const Component = z.number().min(0).max(10).nullable();

export const SocialContent = z.object({
	summary_text: z
		.string()
		.min(20)
		.max(600)
		.refine(s => sentenceCount(s) >= 2 && sentenceCount(s) <= 3, "must be 2–3 sentences"),
	tags: z.array(z.string().min(1).max(40)).min(3).max(8),
	social_score: z.number().min(0).max(10),
	components: z.object({ expression: Component, posture: Component, style: Component, quality: Component }),
	confidence: z.number().min(0).max(1)
});
export type SocialContent = z.infer<typeof SocialContent>;

export const SocialOutput = SocialContent.extend(Provenance.shape);
export type SocialOutput = z.infer<typeof SocialOutput>;

const r2 = (n: number) => round(n, 2);

function subjectFace(input: SocialInput) {
	return input.faces.find(f => f.is_subject) ?? input.faces[0] ?? null;
}

/** The dominant expression: the highest of the distribution, else the face's own label. */
function dominant(face: SocialInput["faces"][number]): string {
	return (topKey(face.emotions) ?? face.expression).toLowerCase();
}

/** The 0–10 components that could be measured (null otherwise). */
export function socialComponents(input: SocialInput): SocialContent["components"] {
	const face = subjectFace(input);
	let expression: number | null = null;
	if (face) {
		const known = Object.entries(face.emotions).filter(([k]) => EXPRESSION_WARMTH[k.toLowerCase()] !== undefined);
		const mass = known.reduce((s, [, p]) => s + p, 0);
		if (mass > 0) expression = known.reduce((s, [k, p]) => s + p * EXPRESSION_WARMTH[k.toLowerCase()], 0) / mass;
		else expression = EXPRESSION_WARMTH[face.expression.toLowerCase()] ?? null;
	}
	let posture: number | null = null;
	const p = input.posture;
	if (p && p.alignment_score !== null) posture = p.openness === null || p.openness === undefined ? p.alignment_score : 0.8 * p.alignment_score + 0.2 * p.openness * 10;
	let style: number | null = null;
	const f = input.fashion;
	if (f && f.style !== "unknown") style = f.overall_rating ?? (f.harmony ? (HARMONY_SCORE[f.harmony] ?? null) : null);
	const q = input.quality;
	const quality = q ? 10 - (q.blurry ? 3 : 0) - (q.too_dark ? 2 : 0) - (q.too_bright ? 2 : 0) : null;
	const c = (n: number | null) => (n === null ? null : r1(clamp(n, 0, 10)));
	return { expression: c(expression), posture: c(posture), style: c(style), quality: c(quality) };
}

/** The documented weighted mean; the baseline when nothing was measured. */
export function socialScore(components: SocialContent["components"]): { score: number; confidence: number } {
	// Photo quality alone says nothing about how a person comes across.
	if (components.expression === null && components.posture === null && components.style === null) return { score: SOCIAL_BASELINE, confidence: 0 };
	let w = 0;
	let sum = 0;
	for (const [k, weight] of Object.entries(SOCIAL_WEIGHTS) as [keyof typeof SOCIAL_WEIGHTS, number][]) {
		const v = components[k];
		if (v === null) continue;
		w += weight;
		sum += weight * v;
	}
	const total = Object.values(SOCIAL_WEIGHTS).reduce((s, x) => s + x, 0);
	return w ? { score: r1(sum / w), confidence: r2(w / total) } : { score: SOCIAL_BASELINE, confidence: 0 };
}

type TagSource = "expression" | "posture" | "style" | "harmony" | "setting" | "fill";

/** The tags with where each came from, in rule order, de-duplicated (the first source of a tag wins), at most 8. */
export function sourcedTags(input: SocialInput): { tag: string; from: TagSource }[] {
	const out: { tag: string; from: TagSource }[] = [];
	const add = (tag: string, from: TagSource) => {
		if (out.length < 8 && !out.some(t => t.tag === tag)) out.push({ tag, from });
	};
	const face = subjectFace(input);
	if (face) for (const t of EXPRESSION_TAGS[dominant(face)]?.tags ?? []) add(t, "expression");
	const p = input.posture;
	if (p && p.alignment_score !== null) {
		add(p.alignment_score >= POSTURE_BANDS.upright ? "confident" : p.alignment_score >= POSTURE_BANDS.relaxed ? "relaxed" : "laid-back", "posture");
		if (p.openness !== null && p.openness !== undefined && p.openness >= POSTURE_BANDS.openFrom) add("approachable", "posture");
	}
	const f = input.fashion;
	if (f) {
		for (const t of STYLE_TAGS[f.style]?.tags ?? []) add(t, "style");
		if (f.harmony && HARMONY_TAGS[f.harmony]) add(HARMONY_TAGS[f.harmony], "harmony");
	}
	const people = input.objects.filter(o => o.label === "person" && o.score >= OBJECT_MIN_SCORE).length;
	if (people >= 3 || input.faces.length >= 3) add("sociable", "setting");
	for (const o of [...input.objects].sort((a, b) => b.score - a.score)) if (o.score >= OBJECT_MIN_SCORE && OBJECT_TAGS[o.label]) add(OBJECT_TAGS[o.label], "setting");
	for (const t of FILL_TAGS) if (out.length < 3) add(t, "fill");
	return out;
}

export function socialTags(input: SocialInput): string[] {
	return sourcedTags(input).map(t => t.tag);
}

/** 2–3 sentences: the impression, then posture and setting, then the easiest lift. */
export function socialSummary(input: SocialInput, comps: SocialContent["components"]): string {
	const sourced = sourcedTags(input);
	const face = subjectFace(input);
	const f = input.fashion;
	const parts: string[] = [];
	// Words that describe the person (not the palette or the setting) lead the first sentence.
	const adjectives = sourced.filter(t => t.from === "expression" || t.from === "posture" || t.from === "style").map(t => t.tag);
	const setting = sourced.find(t => t.from === "setting")?.tag;
	const readable = Boolean(face || (f && STYLE_TAGS[f.style]) || (input.posture && input.posture.alignment_score !== null));
	const reads = [face ? EXPRESSION_TAGS[dominant(face)]?.reads : undefined, f ? STYLE_TAGS[f.style]?.reads : undefined].filter((x): x is string => Boolean(x));
	const colours = f?.palette.slice(0, 2).map(c => c.name.toLowerCase()) ?? [];
	const withColours = colours.length && reads.length && f && STYLE_TAGS[f.style] ? ` in ${list(colours)}` : "";
	const impression = list(adjectives.slice(0, 2)) || "natural";
	if (!readable) parts.push("This photo gives few clear cues about the person in it.");
	else parts.push(reads.length ? `This photo comes across as ${impression}, with ${list(reads)}${withColours}.` : `This photo comes across as ${impression}.`);

	const p = input.posture;
	if (p && p.alignment_score !== null) {
		const stance = p.alignment_score >= POSTURE_BANDS.upright ? "upright, balanced posture adds a confident note" : p.alignment_score >= POSTURE_BANDS.relaxed ? "posture looks relaxed" : "posture looks laid-back";
		parts.push(`Your ${stance}${setting ? `, and the setting suggests you are ${setting === "animal lover" ? "an animal lover" : setting}` : ""}.`);
	} else if (setting) parts.push(`The setting suggests you are ${setting === "animal lover" ? "an animal lover" : setting}.`);
	else if (face || (f && STYLE_TAGS[f.style])) parts.push(`Your posture could not be read here, so this impression rests on your ${face && f && STYLE_TAGS[f.style] ? "expression and outfit" : face ? "expression" : "outfit"}.`);
	else parts.push("No face, posture or outfit could be read in this photo, so this impression is only a rough baseline.");

	// The easiest lift: the lowest measured component, when it is clearly below the rest.
	const lifts: Record<keyof SocialContent["components"], string> = {
		expression: "a relaxed, natural smile would add warmth",
		posture: "relaxed, level shoulders would add presence",
		style: "an outfit in two or three colours that go together would look more deliberate",
		quality: "softer, even light and a steady camera would let people see you more clearly"
	};
	const measured = (Object.entries(comps) as [keyof SocialContent["components"], number | null][]).filter((e): e is [keyof SocialContent["components"], number] => e[1] !== null);
	const lowest = measured.sort((a, b) => a[1] - b[1])[0];
	if (lowest && lowest[1] < 6.5 && measured.length >= 2) parts.push(`For an even stronger first impression, ${lifts[lowest[0]]}.`);
	return parts.join(" ");
}

export function socialRules(input: SocialInput): SocialContent {
	const components = socialComponents(input);
	const { score, confidence } = socialScore(components);
	const tags = socialTags(input);
	const blurry = input.quality?.blurry ?? false;
	return {
		summary_text: socialSummary(input, components),
		tags,
		social_score: score,
		components,
		confidence: r2(blurry ? confidence * 0.7 : confidence)
	};
}

export const socialPerception = defineAgent({
	name: "social_perception",
	version: "1.0.0",
	input: SocialInput,
	output: SocialOutput,
	async run(input: SocialInput, deps: LlmDeps): Promise<z.input<typeof SocialOutput>> {
		const variables = { faces: input.faces, posture: input.posture, fashion: input.fashion, quality: input.quality, objects: input.objects, minor: input.minor };
		return askLlm(deps, "social_perception", variables, SocialContent, () => socialRules(input));
	}
});

export default socialPerception;
