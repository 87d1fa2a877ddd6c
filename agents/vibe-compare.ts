import { z } from "zod";
import { defineAgent } from "./agent";
import { round } from "./shared";

/**
 * vibe_compare: which of two of the caller's photos comes across better, from what is stored
 * for them — the post-ingest social perception (summary, tags, social_score) and, when both have
 * one, the latest analysis's overall score. Both sides are scored on the same basis: the analyses'
 * overall scores when both have one, else the perceptions' social scores (mixed only when one
 * side has nothing else). `better_media_id` is null when the scores are within 0.05.
 */

export const VIBE_COMPARE_VERSION = "1.0.0";
const EQUAL_WITHIN = 0.05;

const Score = z.number().finite().min(0).max(10);
const Side = z.object({
	media_id: z.string().min(1).max(64),
	social: z.object({ summary_text: z.string().max(2000), tags: z.array(z.string().max(60)).max(50), social_score: Score }).nullish(),
	analysis: z.object({ overall_score: Score, style_score: Score.nullish(), presence_score: Score.nullish() }).nullish(),
	quality: z.object({ blurry: z.boolean(), too_dark: z.boolean(), too_bright: z.boolean() }).nullish(),
	faces: z.number().int().min(0).max(1000).nullish()
});
export type VibeSide = z.input<typeof Side>;

export const VibeCompareInput = z
	.object({ media_1: Side, media_2: Side })
	.refine(v => (v.media_1.social || v.media_1.analysis) && (v.media_2.social || v.media_2.analysis), { message: "each media needs a perception or an analysis" });
export type VibeCompareInput = z.input<typeof VibeCompareInput>;

export const VibeCompareOutput = z.object({
	summary: z.string(),
	better_media_id: z.string().nullable(),
	comparison_tags: z.array(z.string()),
	score_difference: z.number().min(0).max(10),
	scores: z.object({ media_1: Score, media_2: Score }),
	basis: z.enum(["analysis", "social_perception", "mixed"]),
	version: z.string()
});
export type VibeCompareOutput = z.infer<typeof VibeCompareOutput>;

type S = z.output<typeof Side>;

/** Both scores on one basis when possible. */
export function scoresOf(a: S, b: S): { s1: number; s2: number; basis: VibeCompareOutput["basis"] } {
	if (a.analysis && b.analysis) return { s1: a.analysis.overall_score, s2: b.analysis.overall_score, basis: "analysis" };
	if (a.social && b.social) return { s1: a.social.social_score, s2: b.social.social_score, basis: "social_perception" };
	const one = (s: S) => s.analysis?.overall_score ?? s.social!.social_score;
	return { s1: one(a), s2: one(b), basis: "mixed" };
}

function qualityIssues(s: S): string[] {
	const q = s.quality;
	if (!q) return [];
	return [q.blurry ? "blur" : null, q.too_dark ? "dark" : null, q.too_bright ? "overexposed" : null].filter((x): x is string => !!x);
}

const vibeCompare = defineAgent({
	name: "vibe_compare",
	version: VIBE_COMPARE_VERSION,
	input: VibeCompareInput,
	output: VibeCompareOutput,
	async run(input: z.output<typeof VibeCompareInput>): Promise<VibeCompareOutput> {
		const { media_1: a, media_2: b } = input;
		const { s1, s2, basis } = scoresOf(a, b);
		const diff = Math.abs(s1 - s2);
		const equal = diff < EQUAL_WITHIN;
		const [better, worse] = s1 >= s2 ? [a, b] : [b, a];
		const ordinal = (s: S) => (s === a ? "first" : "second");
		const tagsOf = (s: S) => new Set((s.social?.tags ?? []).map(t => t.toLowerCase()));
		const tb = tagsOf(better);
		const tw = tagsOf(worse);
		const shared = [...tb].filter(t => tw.has(t));
		const tags: string[] = [];
		if (equal) tags.push("similar vibe");
		else tags.push(diff >= 1.5 ? "clear difference" : "slight difference");
		if (!equal) for (const t of [...tb].filter(t => !tw.has(t)).slice(0, 3)) tags.push(`more ${t}`);
		for (const t of shared.slice(0, 2)) tags.push(`both ${t}`);
		const qb = qualityIssues(better);
		const qw = qualityIssues(worse);
		if (!equal && qw.length > qb.length) tags.push("better image quality");
		if (!equal && (better.faces ?? 0) > 0 && (worse.faces ?? 0) === 0) tags.push("face visible");

		const what = basis === "analysis" ? "overall score" : basis === "social_perception" ? "social score" : "score";
		const fmt = (x: number) => round(x, 1).toFixed(1);
		let summary: string;
		if (equal) summary = `Both photos come across about the same (${what} ${fmt(s1)} and ${fmt(s2)}).`;
		else {
			summary = `The ${ordinal(better)} photo comes across ${diff >= 1.5 ? "noticeably" : "slightly"} better (${what} ${fmt(Math.max(s1, s2))} vs ${fmt(Math.min(s1, s2))}).`;
			const only = [...tb].filter(t => !tw.has(t)).slice(0, 2);
			if (only.length) summary += ` It reads as more ${only.join(" and ")}.`;
			if (qw.length > qb.length) summary += ` The ${ordinal(worse)} photo loses some impact to ${qw.join(" and ")}.`;
		}
		if (shared.length) summary += ` Both read as ${shared.slice(0, 2).join(" and ")}.`;
		return {
			summary,
			better_media_id: equal ? null : better.media_id,
			comparison_tags: [...new Set(tags)].slice(0, 8),
			score_difference: round(diff, 2),
			scores: { media_1: round(s1, 2), media_2: round(s2, 2) },
			basis,
			version: VIBE_COMPARE_VERSION
		};
	}
});

export default vibeCompare;
