import { z } from "zod";
import { defineAgent } from "./agent";
import { normaliseTags, readBio, TONE_WORDS } from "./bio";
import { askLlm, list, mean, Provenance, type LlmDeps } from "./shared";
import { extractFeatures, type TextFeatures } from "./text/features";

/**
 * vibe_analysis: the overall vibe someone gives off, from whatever is at hand — a bio (measured
 * with agents/text/features.ts), a summary of a recent photo (expression, style, posture
 * alignment, social score, tags) and how recent photos were perceived (social_perception).
 *
 * Local rules (VIBE_RULES), each part 0–100 and only over the parts present:
 * - bio: 50 + 20·sentiment + 10·min(1, markers/2) − 8·min(1, hedges/3) + 10·specificity
 *   + 5 (readability ≥ 60) + 5 (an invitation) − 10 (energy ≥ 0.67), clamped;
 * - photo: the mean of the expression's score (EXPRESSION_SCORES), alignment·10, social score·10;
 * - perceptions: the mean social score·10;
 * - vibe_score = weighted mean (bio .4, photo .4, perceptions .2), the missing weights shared
 *   out; confidence = 0.25 + 0.25·min(1, bio words/40) + 0.25 (photo) + 0.15·min(1, scored
 *   perceptions/3), at most 0.9.
 * Tags come from the bio's tone, stance and topics, the expression, style and posture and the
 * most frequent perception tags; strengths and improvement areas from the same findings.
 */

export const VIBE_RULES = {
	weights: { bio: 0.4, vision: 0.4, perceptions: 0.2 },
	bio: { base: 50, sentiment: 20, markers: 10, hedges: 8, specificity: 10, readable: 5, inviting: 5, loud: 10 },
	/** An expression label → how open it reads (0–100). */
	expressionScores: { happy: 85, surprise: 70, neutral: 62, sad: 45, fear: 45, angry: 38, disgust: 38 } as Record<string, number>,
	unknownExpression: 60,
	goodAlignment: 7,
	lowAlignment: 5,
	highSocial: 7,
	lowSocial: 5,
	trendDelta: 0.5,
	fullBioWords: 40,
	minTags: 3,
	maxTags: 6,
	maxStrengths: 5,
	maxImprovements: 5
} as const;

/** Expression → a tag and how it reads in words. */
const EXPRESSION_WORDS: Record<string, { tag: string; phrase: string }> = {
	happy: { tag: "approachable", phrase: "a relaxed smile" },
	surprise: { tag: "expressive", phrase: "a lively, expressive face" },
	neutral: { tag: "composed", phrase: "a calm, neutral expression" },
	sad: { tag: "thoughtful", phrase: "a serious, thoughtful look" },
	fear: { tag: "guarded", phrase: "a guarded look" },
	angry: { tag: "intense", phrase: "an intense look" },
	disgust: { tag: "intense", phrase: "an intense look" }
};

const Score10 = z.number().min(0).max(10);
const Tags = z.array(z.string().min(1).max(60)).max(20);

export const VisionSummary = z.object({
	expression: z.string().max(40).nullable().optional(),
	style: z.string().max(60).nullable().optional(),
	alignment_score: Score10.nullable().optional(),
	social_score: Score10.nullable().optional(),
	tags: Tags.optional()
});
export type VisionSummary = z.infer<typeof VisionSummary>;

export const RecentPerception = z.object({
	summary_text: z.string().max(2000).optional(),
	tags: Tags.optional(),
	social_score: Score10.nullable().optional(),
	timestamp: z.string().max(40).optional()
});
export type RecentPerception = z.infer<typeof RecentPerception>;

export const VibeInput = z
	.object({
		bio_text: z.string().trim().min(10).max(5000).optional(),
		vision_summary: VisionSummary.optional(),
		/** Newest first. */
		recent_perceptions: z.array(RecentPerception).max(20).optional()
	})
	.refine(v => v.bio_text !== undefined || v.vision_summary !== undefined || (v.recent_perceptions?.length ?? 0) > 0, {
		message: "needs a bio, a vision summary or recent perceptions"
	});
export type VibeInput = z.infer<typeof VibeInput>;

const Line = z.string().min(3).max(300);

/** What the model (or the local rules) answers. */
export const VibeAnswer = z.object({
	vibe_score: z.number().int().min(0).max(100),
	vibe_tags: z.array(z.string().min(2).max(40)).min(3).max(6),
	personality_summary: z.string().min(10).max(600),
	strengths: z.array(Line).min(1).max(6),
	improvement_areas: z.array(Line).min(1).max(6),
	confidence: z.number().min(0).max(1)
});
export type VibeAnswer = z.infer<typeof VibeAnswer>;

export const VibeOutput = z.strictObject({
	...VibeAnswer.shape,
	/** The inputs the reading used. */
	sources: z.array(z.enum(["bio", "vision", "perceptions"])),
	...Provenance.shape
});
export type VibeOutput = z.infer<typeof VibeOutput>;

export type VibeDeps = LlmDeps;

const clamp = (n: number, lo = 0, hi = 100) => Math.min(hi, Math.max(lo, n));
const present = <T>(x: T | null | undefined): x is T => x !== null && x !== undefined;

export function bioPart(f: TextFeatures): number {
	const B = VIBE_RULES.bio;
	return clamp(
		B.base +
			B.sentiment * f.sentiment +
			B.markers * Math.min(1, f.confidence_markers.count / 2) -
			B.hedges * Math.min(1, f.hedges.count / 3) +
			B.specificity * f.specificity +
			(f.readability >= 60 ? B.readable : 0) +
			(f.invitations.length ? B.inviting : 0) -
			(f.energy >= 0.67 ? B.loud : 0)
	);
}

export function visionPart(v: VisionSummary): number | null {
	const parts: number[] = [];
	if (v.expression) parts.push(VIBE_RULES.expressionScores[v.expression.toLowerCase()] ?? VIBE_RULES.unknownExpression);
	if (present(v.alignment_score)) parts.push(v.alignment_score * 10);
	if (present(v.social_score)) parts.push(v.social_score * 10);
	return parts.length ? mean(parts) : null;
}

export function perceptionsPart(ps: RecentPerception[]): number | null {
	const scores = ps.map(p => p.social_score).filter(present);
	return scores.length ? mean(scores) * 10 : null;
}

/** The weighted mean of the parts present (weights of missing parts shared out). */
export function vibeScore(parts: { bio: number | null; vision: number | null; perceptions: number | null }): number {
	const W = VIBE_RULES.weights;
	const have = (Object.keys(W) as (keyof typeof W)[]).filter(k => parts[k] !== null);
	if (!have.length) return 50;
	const total = have.reduce((s, k) => s + W[k], 0);
	return Math.round(clamp(have.reduce((s, k) => s + (parts[k] ?? 0) * W[k], 0) / total));
}

function topPerceptionTags(ps: RecentPerception[], n: number): string[] {
	const counts = new Map<string, { count: number; first: number }>();
	let i = 0;
	for (const p of ps) for (const t of normaliseTags(p.tags ?? [])) counts.set(t, { count: (counts.get(t)?.count ?? 0) + 1, first: counts.get(t)?.first ?? i++ });
	return [...counts.entries()]
		.sort((a, b) => b[1].count - a[1].count || a[1].first - b[1].first)
		.slice(0, n)
		.map(([t]) => t);
}

/** The deterministic reading of whatever parts are present. */
export function readVibe(input: VibeInput, f: TextFeatures | null): VibeAnswer {
	const R = VIBE_RULES;
	const v = input.vision_summary;
	const ps = input.recent_perceptions ?? [];
	const bio = f && input.bio_text ? readBio(f, input.bio_text) : null;
	const parts = { bio: f ? bioPart(f) : null, vision: v ? visionPart(v) : null, perceptions: perceptionsPart(ps) };
	const score = vibeScore(parts);
	const expr = v?.expression ? EXPRESSION_WORDS[v.expression.toLowerCase()] : undefined;
	const style = v?.style?.trim().toLowerCase() || null;
	const align = v?.alignment_score ?? null;
	const social = v?.social_score ?? null;

	// Tags: bio tone and topics, photo, perceptions; topped up by score band.
	const tags = normaliseTags([
		...(f ? [TONE_WORDS[f.tone].tag, ...(f.assertiveness === "assertive" ? ["self-assured"] : [])] : []),
		...(expr ? [expr.tag] : []),
		...(align !== null && align >= R.goodAlignment ? ["poised"] : []),
		...(style && style.length <= 20 ? [style] : []),
		...(f ? f.topics.slice(0, 2) : []),
		...normaliseTags(v?.tags ?? []).slice(0, 2),
		...topPerceptionTags(ps, 2)
	]).filter(t => t.length <= 40);
	const band = score >= 75 ? ["upbeat", "engaging", "bright"] : score >= 55 ? ["balanced", "easygoing", "genuine"] : ["low-key", "understated", "quiet"];
	for (const t of band) if (tags.length < R.minTags && !tags.includes(t)) tags.push(t);

	// Summary.
	const traits = list(tags.slice(0, 3));
	const said: string[] = [];
	if (f) said.push(`your bio reads ${TONE_WORDS[f.tone].summary.toLowerCase()}${f.keywords.length ? ` and talks about ${list(f.keywords.slice(0, 2).map(k => k.term))}` : ""}`);
	if (expr || align !== null || style) {
		const bits = [expr?.phrase, align !== null ? (align >= R.goodAlignment ? "upright posture" : align < R.lowAlignment ? "a relaxed posture" : "easy posture") : null, style ? `a ${style} style` : null].filter(present);
		said.push(`your photo shows ${list(bits)}`);
	}
	if (!f && !v && ps.length) said.push(`recent photos were read as ${list(topPerceptionTags(ps, 3)) || "mixed"}`);
	const personality = `You come across as ${traits}${said.length ? `: ${said.join("; ")}` : ""}.`;

	// Strengths and improvement areas.
	const strengths: string[] = [];
	const improvements: string[] = [];
	if (bio) strengths.push(...bio.strengths.slice(0, 2));
	if (v?.expression?.toLowerCase() === "happy") strengths.push("A genuine smile in your photo reads as friendly and open.");
	if (align !== null && align >= R.goodAlignment) strengths.push(`Upright, open posture (alignment ${align}/10) signals confidence.`);
	if (style) strengths.push(`A clear ${style} style gives people a coherent first impression.`);
	if (social !== null && social >= R.highSocial) strengths.push(`Your photo makes a strong social first impression (${social}/10).`);
	const scored = ps.map(p => p.social_score).filter(present);
	if (scored.length >= 2 && scored[0] - scored[scored.length - 1] >= R.trendDelta) {
		strengths.push(`Your recent photos are read more positively (${scored[scored.length - 1]} → ${scored[0]} out of 10).`);
	}
	if (bio) improvements.push(...bio.improvements.slice(0, 2));
	if (align !== null && align < R.lowAlignment) improvements.push(`Roll your shoulders back and lift your chin slightly in photos — posture is the quickest win (alignment ${align}/10).`);
	if (v?.expression && !["happy", "surprise"].includes(v.expression.toLowerCase())) improvements.push("Try a relaxed, genuine smile in at least one photo; it reads as more approachable.");
	if (social !== null && social < R.lowSocial) improvements.push("Pick a photo with good light, your face clearly visible and a simple background; it changes first impressions most.");
	if (scored.length >= 2 && scored[scored.length - 1] - scored[0] >= R.trendDelta) {
		improvements.push(`Your recent photos are read a little less positively (${scored[scored.length - 1]} → ${scored[0]}); look at what your best-received photo did differently.`);
	}
	if (f && v && (f.tone === "reserved" || f.tone === "neutral") && v.expression?.toLowerCase() === "happy") {
		improvements.push("Your photo feels warmer than your bio: let a little of that warmth into your words.");
	}
	if (!strengths.length) strengths.push(score >= 55 ? "You come across as balanced and easy to approach." : "There is a calm, low-key quality to how you come across.");
	if (!improvements.length) improvements.push(f ? "Add a recent photo so the bio and the picture can tell one story." : "Add a short bio so people get a sense of what you're into.");

	const confidence =
		0.25 + (f ? 0.25 * Math.min(1, f.words / R.fullBioWords) : 0) + (parts.vision !== null ? 0.25 : 0) + 0.15 * Math.min(1, scored.length / 3);
	return {
		vibe_score: score,
		vibe_tags: tags.slice(0, R.maxTags),
		personality_summary: personality.length > 600 ? `${personality.slice(0, 598)}….` : personality,
		strengths: [...new Set(strengths)].slice(0, R.maxStrengths),
		improvement_areas: [...new Set(improvements)].slice(0, R.maxImprovements),
		confidence: Math.round(Math.min(0.9, confidence) * 100) / 100
	};
}

export const vibeAnalysis = defineAgent({
	name: "vibe_analysis",
	version: "1.0.0",
	input: VibeInput,
	output: VibeOutput,
	async run(input: VibeInput, deps: VibeDeps): Promise<VibeOutput> {
		const features = input.bio_text ? extractFeatures(input.bio_text) : null;
		const sources = [...(input.bio_text ? ["bio" as const] : []), ...(input.vision_summary ? ["vision" as const] : []), ...(input.recent_perceptions?.length ? ["perceptions" as const] : [])];
		const variables = {
			bio_text: input.bio_text ?? null,
			bio_features: features,
			vision_summary: input.vision_summary ?? null,
			recent_perceptions: (input.recent_perceptions ?? []).slice(0, 5)
		};
		const out = await askLlm(deps, "vibe_analysis", variables, VibeAnswer, () => readVibe(input, features));
		const tags = normaliseTags(out.vibe_tags).slice(0, VIBE_RULES.maxTags);
		return { ...out, vibe_tags: tags.length >= VIBE_RULES.minTags ? tags : out.vibe_tags, sources };
	}
});

export default vibeAnalysis;
