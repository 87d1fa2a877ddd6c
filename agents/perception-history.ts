import { z } from "zod";
import { defineAgent } from "./agent";
import { list, mean, r1, round } from "./shared";

/**
 * perception_history: how someone's first impression changes across their photos, from the
 * perceptions stored with each media (post-ingest social_perception) and completed analyses.
 * Deterministic rules, no model:
 *
 * - Points: one per media, oldest first (ties by media id). Its score is the stored
 *   perception's social_score (0–10); a media without a stored perception but with a completed
 *   analysis uses that analysis's overall_score instead, so one scale dominates the series.
 * - Trend: the least-squares slope of score against upload order (x = 0, 1, 2, … — per upload,
 *   not per day, so a burst of uploads and a gap of months weigh the same). From
 *   HISTORY_RULES.minPointsForTrend points on: slope ≥ stableSlope → "improving",
 *   ≤ −stableSlope → "declining", else "stable"; fewer points → "insufficient_data".
 * - Tags: the points with tags are split in an older half (the first ⌊n/2⌋) and a recent half
 *   (the rest); a tag's share in a half is the fraction of that half's points carrying it.
 *   A tag whose share rose by at least tagShift is "rising", fell by at least tagShift
 *   "falling". Improvement tags: rising tags plus falling CAUTION_TAGS (coming across less
 *   guarded); decline tags: falling tags plus rising CAUTION_TAGS. Largest shift first, then
 *   by name; at most maxTags each; none below minTagPoints tagged points.
 */

export const HISTORY_RULES = {
	minPointsForTrend: 3,
	/** Score points per upload under which the series counts as stable. */
	stableSlope: 0.1,
	/** Share difference (0–1) between the recent and the older half that counts as a shift. */
	tagShift: 0.25,
	minTagPoints: 4,
	maxTags: 5,
	maxPoints: 500
} as const;

/** How many of a user's newest media (and analyses) a history reads by default. */
export const HISTORY_LIMIT = 50;

/** Perception tags that read as less open: more of them is a decline, fewer an improvement. */
export const CAUTION_TAGS: readonly string[] = ["reserved", "guarded", "hesitant", "tense", "intense", "serious", "laid-back"];

const Score = z.number().min(0).max(10);
const Tags = z.array(z.string().trim().min(1).max(60)).max(20);
const Time = z.string().min(1).max(40);
const Id = z.string().min(1).max(64);

export const HistoryInput = z.object({
	/** Stored perceptions of the user's media (any order). */
	perceptions: z
		.array(z.object({ media_id: Id, timestamp: Time, social_score: Score.nullable(), tags: Tags.default([]) }))
		.max(HISTORY_RULES.maxPoints)
		.default([]),
	/** Completed analyses (any order); only used for media without a stored perception. */
	analyses: z
		.array(z.object({ media_id: Id, timestamp: Time, overall_score: Score.nullable() }))
		.max(HISTORY_RULES.maxPoints)
		.default([])
});
export type HistoryInput = z.input<typeof HistoryInput>;

export const TRENDS = ["improving", "declining", "stable", "insufficient_data"] as const;

export const HistoryOutput = z.object({
	trend_summary: z.string().min(1).max(1000),
	score_trend: z.array(z.object({ timestamp: Time, score: Score })).max(HISTORY_RULES.maxPoints),
	improvement_tags: z.array(z.string()).max(HISTORY_RULES.maxTags),
	decline_tags: z.array(z.string()).max(HISTORY_RULES.maxTags),
	trend: z.enum(TRENDS),
	/** Least-squares slope, score points per upload; null below two points. */
	slope_per_upload: z.number().nullable(),
	average_score: Score.nullable(),
	sample_size: z.number().int().min(0)
});
export type HistoryOutput = z.infer<typeof HistoryOutput>;

interface Point {
	media_id: string;
	timestamp: string;
	score: number;
	tags: string[];
}

/** One point per media: the perception's score, else the newest analysis's; oldest first. */
export function pointsOf(input: z.output<typeof HistoryInput>): Point[] {
	const byMedia = new Map<string, Point>();
	for (const p of input.perceptions) if (p.social_score !== null) byMedia.set(p.media_id, { media_id: p.media_id, timestamp: p.timestamp, score: p.social_score, tags: p.tags });
	const newestAnalysis = new Map<string, { timestamp: string; overall_score: number }>();
	for (const a of input.analyses) {
		if (a.overall_score === null || byMedia.has(a.media_id)) continue;
		const seen = newestAnalysis.get(a.media_id);
		if (!seen || a.timestamp > seen.timestamp) newestAnalysis.set(a.media_id, { timestamp: a.timestamp, overall_score: a.overall_score });
	}
	for (const [media_id, a] of newestAnalysis) byMedia.set(media_id, { media_id, timestamp: a.timestamp, score: a.overall_score, tags: [] });
	return [...byMedia.values()].sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : a.media_id < b.media_id ? -1 : 1));
}

/** Least-squares slope of ys against 0, 1, 2, …; null below two values. */
export function slope(ys: number[]): number | null {
	if (ys.length < 2) return null;
	const xm = (ys.length - 1) / 2;
	const ym = mean(ys);
	let num = 0;
	let den = 0;
	ys.forEach((y, x) => {
		num += (x - xm) * (y - ym);
		den += (x - xm) ** 2;
	});
	return num / den;
}

export function trendOf(ys: number[]): (typeof TRENDS)[number] {
	const s = slope(ys);
	if (ys.length < HISTORY_RULES.minPointsForTrend || s === null) return "insufficient_data";
	return s >= HISTORY_RULES.stableSlope ? "improving" : s <= -HISTORY_RULES.stableSlope ? "declining" : "stable";
}

/** Improvement and decline tags from the older and the recent half of the tagged points (see the rules above). */
export function tagShifts(points: { tags: string[] }[]): { improvement: string[]; decline: string[] } {
	const tagged = points.filter(p => p.tags.length > 0);
	if (tagged.length < HISTORY_RULES.minTagPoints) return { improvement: [], decline: [] };
	const older = tagged.slice(0, Math.floor(tagged.length / 2));
	const recent = tagged.slice(older.length);
	const share = (half: { tags: string[] }[], tag: string) => half.filter(p => p.tags.some(t => t.toLowerCase() === tag)).length / half.length;
	const all = [...new Set(tagged.flatMap(p => p.tags.map(t => t.toLowerCase())))];
	const shifts = all
		.map(tag => ({ tag, delta: share(recent, tag) - share(older, tag) }))
		.filter(s => Math.abs(s.delta) >= HISTORY_RULES.tagShift - 1e-9)
		.sort((a, b) => Math.abs(b.delta) - Math.abs(a.delta) || (a.tag < b.tag ? -1 : 1));
	const improvement: string[] = [];
	const decline: string[] = [];
	for (const { tag, delta } of shifts) {
		const caution = CAUTION_TAGS.includes(tag);
		(delta > 0 !== caution ? improvement : decline).push(tag);
	}
	return { improvement: improvement.slice(0, HISTORY_RULES.maxTags), decline: decline.slice(0, HISTORY_RULES.maxTags) };
}

const TREND_WORDS: Record<(typeof TRENDS)[number], string> = {
	improving: "is improving",
	declining: "has dipped a little",
	stable: "is holding steady",
	insufficient_data: ""
};

export function summaryOf(points: Point[], trend: (typeof TRENDS)[number], tags: { improvement: string[]; decline: string[] }): string {
	const scores = points.map(p => p.score);
	if (scores.length === 0) return "No photos have been read yet: upload a photo to start your perception history.";
	if (scores.length === 1) return `One photo so far, read at ${r1(scores[0])}/10. Upload more photos to see how your first impression changes over time.`;
	if (trend === "insufficient_data")
		return `${scores.length} photos so far (${scores.map(s => r1(s)).join(" → ")}/10). A trend shows from ${HISTORY_RULES.minPointsForTrend} photos on.`;
	const half = Math.floor(scores.length / 2);
	const from = r1(mean(scores.slice(0, half)));
	const to = r1(mean(scores.slice(half)));
	const parts = [`Over your last ${scores.length} photos your first-impression score ${TREND_WORDS[trend]} (from about ${from} to ${to}/10).`];
	const moved = (ts: string[], up: boolean) => ts.map(t => `${CAUTION_TAGS.includes(t) === up ? "less" : "more"} ${t}`);
	if (tags.improvement.length) parts.push(`Recent photos come across ${list(moved(tags.improvement, true))}.`);
	if (tags.decline.length) parts.push(`Worth a look: lately they read ${list(moved(tags.decline, false))}.`);
	if (trend === "declining") parts.push("Small changes in light, expression and posture usually bring it back.");
	return parts.join(" ");
}

export const perceptionHistory = defineAgent({
	name: "perception_history",
	version: "1.0.0",
	input: HistoryInput,
	output: HistoryOutput,
	async run(input): Promise<HistoryOutput> {
		const points = pointsOf(input);
		const scores = points.map(p => p.score);
		const trend = trendOf(scores);
		const tags = tagShifts(points);
		const s = slope(scores);
		return {
			trend_summary: summaryOf(points, trend, tags),
			score_trend: points.map(p => ({ timestamp: p.timestamp, score: p.score })),
			improvement_tags: tags.improvement,
			decline_tags: tags.decline,
			trend,
			slope_per_upload: s === null ? null : round(s, 3),
			average_score: scores.length ? r1(mean(scores)) : null,
			sample_size: points.length
		};
	}
});

export default perceptionHistory;
