import { z } from "zod";
import { defineAgent } from "./agent";

/**
 * The aggregator: turns the sections' findings into the report's scores.
 *
 * Component scores (0–10), each with the confidence of the section it comes from:
 * - face: presentation in the photo, not looks — 35 % expression (happy + 0.7·neutral +
 *   0.5·surprise), 25 % facing the camera (1 − (|yaw| + |pitch|) / 60°), 25 % image quality
 *   (−0.4 blurry, −0.3 too dark or bright), 15 % face size (full at ≥ 10 % of the image);
 * - posture: the posture agent's alignment_score;
 * - fashion: the fashion agent's overall_rating;
 * - bio: 5 + 2.5 · sentiment (−1…1) + 0.5 · (strengths − weaknesses), clamped.
 *
 * Dimension scores (the original product's weights):
 * - attractiveness = 0.6 face + 0.4 posture (only with biometric consent, never for a minor);
 * - style = 0.8 fashion + 0.2 posture;
 * - presence = 0.4 posture + 0.3 bio + 0.3 face;
 * - overall = 0.35 attractiveness + 0.35 style + 0.30 presence.
 * A missing component's weight is shared among the present ones; the dimension's confidence
 * is the weighted mean of its components' confidences times the share of weight present, and
 * its range is score ± 2.5·(1 − confidence). Scores are rounded to 2 decimals.
 */

const Section = z.record(z.string(), z.unknown()).nullable().optional();

export const AggregatorInput = z.object({
	face: Section,
	fashion: Section,
	posture: Section,
	bio: Section,
	consent: z.object({ biometric: z.boolean() }),
	/** Declared or estimated under 18. */
	minor: z.boolean().default(false)
});

const Scored = z.object({
	score: z.number().min(0).max(10),
	confidence: z.number().min(0).max(1),
	range: z.tuple([z.number().min(0).max(10), z.number().min(0).max(10)])
});

export const AggregatorOutput = z.object({
	overall_score: z.number().min(0).max(10).nullable(),
	attractiveness_score: z.number().min(0).max(10).nullable(),
	style_score: z.number().min(0).max(10).nullable(),
	presence_score: z.number().min(0).max(10).nullable(),
	scores: z.object({ overall: Scored.nullable(), attractiveness: Scored.nullable(), style: Scored.nullable(), presence: Scored.nullable() }),
	components: z.record(z.string(), Scored),
	confidence: z.number().min(0).max(1),
	key_strengths: z.array(z.string()).max(5),
	improvement_areas: z.array(z.string()).max(5),
	explanation: z.string(),
	minor: z.boolean()
});
export type AggregatorOutput = z.infer<typeof AggregatorOutput>;

type Component = { score: number; confidence: number };
const clamp = (v: number, lo = 0, hi = 10) => Math.min(hi, Math.max(lo, v));
const r2 = (v: number) => Math.round(v * 100) / 100;
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const obj = (v: unknown): Record<string, unknown> => (v && typeof v === "object" ? (v as Record<string, unknown>) : {});

export function faceComponent(face: Record<string, unknown> | null | undefined): Component | null {
	if (!face) return null;
	const faces = arr(face.faces).map(obj);
	const subject = faces.find(f => f.is_subject) ?? faces[0];
	if (!subject) return null;
	const e = obj(subject.emotions);
	const expression = Math.min(1, (num(e.happy) ?? 0) + 0.7 * (num(e.neutral) ?? 0) + 0.5 * (num(e.surprise) ?? 0));
	const pose = obj(subject.head_pose);
	const facing = 1 - Math.min(1, (Math.abs(num(pose.yaw) ?? 0) + Math.abs(num(pose.pitch) ?? 0)) / 60);
	const q = obj(face.quality);
	const quality = 1 - (q.blurry ? 0.4 : 0) - (q.too_dark || q.too_bright ? 0.3 : 0);
	const size = Math.min(1, (num(subject.size_ratio) ?? 0.1) / 0.1);
	const score = 10 * (0.35 * expression + 0.25 * facing + 0.25 * quality + 0.15 * size);
	return { score: clamp(score), confidence: clamp(num(face.confidence) ?? 0.5, 0, 1) };
}

export function postureComponent(p: Record<string, unknown> | null | undefined): Component | null {
	const s = num(p?.alignment_score);
	return p && s !== null ? { score: clamp(s), confidence: clamp(num(p.confidence) ?? 0.5, 0, 1) } : null;
}

export function fashionComponent(f: Record<string, unknown> | null | undefined): Component | null {
	const s = num(f?.overall_rating);
	return f && s !== null ? { score: clamp(s), confidence: clamp(num(f.confidence) ?? 0.5, 0, 1) } : null;
}

export function bioComponent(b: Record<string, unknown> | null | undefined): Component | null {
	if (!b) return null;
	const sentiment = num(obj(b.features).sentiment) ?? 0;
	const score = 5 + 2.5 * clamp(sentiment, -1, 1) + 0.5 * (arr(b.strengths).length - arr(b.weaknesses).length);
	return { score: clamp(score), confidence: clamp(num(b.confidence) ?? 0.5, 0, 1) };
}

function combine(parts: [Component | null, number][]): z.infer<typeof Scored> | null {
	const present = parts.filter((p): p is [Component, number] => p[0] !== null);
	if (!present.length) return null;
	const total = parts.reduce((s, [, w]) => s + w, 0);
	const have = present.reduce((s, [, w]) => s + w, 0);
	const score = present.reduce((s, [c, w]) => s + c.score * w, 0) / have;
	const confidence = (present.reduce((s, [c, w]) => s + c.confidence * w, 0) / have) * (have / total);
	const half = 2.5 * (1 - confidence);
	return { score: r2(score), confidence: r2(confidence), range: [r2(clamp(score - half)), r2(clamp(score + half))] };
}

const LABELS: Record<string, string> = { face: "presence on camera", posture: "posture", fashion: "outfit and colours", bio: "bio" };

export const aggregator = defineAgent({
	name: "aggregator",
	version: "1.0.0",
	input: AggregatorInput,
	output: AggregatorOutput,
	async run(input) {
		const c = { face: faceComponent(input.face), posture: postureComponent(input.posture), fashion: fashionComponent(input.fashion), bio: bioComponent(input.bio) };
		const attractivenessAllowed = input.consent.biometric && !input.minor;
		const attractiveness = attractivenessAllowed ? combine([[c.face, 0.6], [c.posture, 0.4]]) : null;
		const style = combine([[c.fashion, 0.8], [c.posture, 0.2]]);
		const presence = combine([[c.posture, 0.4], [c.bio, 0.3], [c.face, 0.3]]);
		const asComponent = (s: z.infer<typeof Scored> | null): Component | null => (s ? { score: s.score, confidence: s.confidence } : null);
		const overall = combine([[asComponent(attractiveness), attractivenessAllowed ? 0.35 : 0], [asComponent(style), 0.35], [asComponent(presence), 0.3]].filter(([, w]) => (w as number) > 0) as [Component | null, number][]);

		const ranked = Object.entries(c)
			.filter((e): e is [string, Component] => e[1] !== null)
			.sort((a, b) => b[1].score - a[1].score);
		const key_strengths = ranked.filter(([, v]) => v.score >= 6).slice(0, 3).map(([k, v]) => `Your ${LABELS[k]} stands out (${r2(v.score)}/10).`);
		// Strengths (≥ 6) and improvement areas (< 6) never name the same part.
		const improvement_areas = [...ranked].reverse().filter(([, v]) => v.score < 6).slice(0, 3).map(([k, v]) => `There is room to grow in your ${LABELS[k]} (${r2(v.score)}/10).`);
		const used = ranked.map(([k]) => k);
		const explanation = used.length
			? `Scores combine ${used.join(", ")} with fixed weights (style 0.8 outfit + 0.2 posture; presence 0.4 posture + 0.3 bio + 0.3 face${attractivenessAllowed ? "; attractiveness 0.6 face + 0.4 posture" : ""}). Missing parts widen the ranges.`
			: "No section produced a score, so there is nothing to combine.";
		const components = Object.fromEntries(ranked.map(([k, v]) => [k, { score: r2(v.score), confidence: r2(v.confidence), range: [r2(clamp(v.score - 2.5 * (1 - v.confidence))), r2(clamp(v.score + 2.5 * (1 - v.confidence)))] as [number, number] }]));
		return {
			overall_score: overall?.score ?? null,
			attractiveness_score: attractiveness?.score ?? null,
			style_score: style?.score ?? null,
			presence_score: presence?.score ?? null,
			scores: { overall, attractiveness, style, presence },
			components,
			confidence: overall?.confidence ?? 0,
			key_strengths,
			improvement_areas,
			explanation,
			minor: input.minor
		};
	}
});
