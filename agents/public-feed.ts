import { z } from "zod";
import { defineAgent } from "./agent";
import { scanOutputText } from "./guardrails";
import { fnv1a } from "./vectors";
import { estimatedMinor } from "./workflow/pipelines";

/**
 * public_feed: selects and ranks the public feed from stored feed entries (one per media of a
 * user who opted in to public analysis). Pure: the feed service loads the entries and signs the
 * thumbnails; this module decides what may be shown, in which order, and where a page ends.
 *
 * Selection: an entry is shown only when its owner opted in (`public`), it is not an estimated
 * minor's (`minor`) and it is not held by moderation (`held`: the guardrails flagged its text
 * or the analysis behind it). Filters: `days` (media created within), `min_percentile`,
 * `tags` (every tag given must be on the entry), `search` (case-insensitive substring of the
 * summary, a tag or the alias).
 *
 * score (0–10) = the analysis' overall_score when the media was analysed, else the perception's
 * social_score. percentile (1–99) = 100·(below + ½·equal)/n over every shown entry, before the
 * filters (so a filter does not change an entry's percentile).
 *
 * Orders (each a total order with the entry id as the last key, so a page boundary is exact):
 * - newest: created_at desc;
 * - highest: score desc, created_at desc;
 * - trending: (0.6·score/10 + 0.4·engagementTerm) · ½^(age_h / 24), where engagementTerm =
 *   min(1, ln(1+engagement)/ln(101)) (engagement = the owner's followers) and age is taken at
 *   the cursor's `as_of`, so the order is fixed for one paging session;
 * - random: fnv1a(seed + id), the seed carried by the cursor.
 * Paging is keyset: the cursor holds the last item's sort key; the next page is the items after
 * it. An entry inserted after `as_of` is not part of the session (pages neither shift nor repeat
 * under concurrent inserts; a deleted entry leaves no gap).
 */

export const FEED_RULES = {
	trending: { score: 0.6, engagement: 0.4, engagementCap: 100, halfLifeH: 24 },
	maxLimit: 100
} as const;

export const SORTS = ["newest", "highest", "random", "trending"] as const;
export type FeedSort = (typeof SORTS)[number];

export const FeedEntry = z.object({
	id: z.string(),
	user_id: z.string(),
	media_id: z.string(),
	alias: z.string().nullable(),
	created_at: z.string(),
	inserted_at: z.string(),
	summary_text: z.string(),
	tags: z.array(z.string()),
	social_score: z.number().min(0).max(10).nullable(),
	score: z.number().min(0).max(10).nullable(),
	engagement: z.number().min(0).default(0),
	public: z.boolean(),
	minor: z.boolean(),
	held: z.boolean()
});
export type FeedEntry = z.input<typeof FeedEntry>;

const Key = z.array(z.union([z.number(), z.string()])).min(1).max(4);

export const FeedQuery = z.object({
	sort_by: z.enum(SORTS).default("newest"),
	limit: z.number().int().min(1).max(FEED_RULES.maxLimit).default(20),
	offset: z.number().int().min(0).default(0),
	days: z.number().int().min(1).optional(),
	min_percentile: z.number().min(0).max(100).optional(),
	tags: z.array(z.string()).default([]),
	search: z.string().optional(),
	/** The sort key of the last item of the previous page. */
	after: Key.optional(),
	/** "Now" for this paging session (ISO). */
	as_of: z.string(),
	seed: z.number().int().min(0).default(0)
});
export type FeedQuery = z.input<typeof FeedQuery>;

export const FeedInput = z.object({ entries: z.array(FeedEntry), query: FeedQuery });

export const RankedEntry = FeedEntry.extend({ percentile: z.number().int().min(1).max(99), key: Key });
export type RankedEntry = z.infer<typeof RankedEntry>;

export const FeedOutput = z.object({
	items: z.array(RankedEntry),
	/** The last item's key when more items follow, else null. */
	next_key: Key.nullable(),
	/** Entries shown before filters (the population of the percentiles). */
	population: z.number().int().min(0)
});
export type FeedOutput = z.infer<typeof FeedOutput>;

type Entry = z.output<typeof FeedEntry>;

/** Whether an entry may ever be shown publicly. */
export const visible = (e: Pick<Entry, "public" | "minor" | "held">) => e.public && !e.minor && !e.held;

/** Percentile (1–99) of each value among `values`: 100·(below + ½·equal)/n. */
export function percentiles(values: number[]): (v: number) => number {
	const sorted = [...values].sort((a, b) => a - b);
	const n = sorted.length;
	const lowerBound = (v: number, strict: boolean) => {
		let lo = 0;
		let hi = n;
		while (lo < hi) {
			const mid = (lo + hi) >> 1;
			if (strict ? sorted[mid] < v : sorted[mid] <= v) lo = mid + 1;
			else hi = mid;
		}
		return lo;
	};
	return v => {
		if (!n) return 50;
		const below = lowerBound(v, true);
		const equal = lowerBound(v, false) - below;
		return Math.min(99, Math.max(1, Math.round((100 * (below + equal / 2)) / n)));
	};
}

export function trendingScore(e: Pick<Entry, "score" | "engagement" | "created_at">, asOf: number): number {
	const T = FEED_RULES.trending;
	const quality = (e.score ?? 0) / 10;
	const engagement = Math.min(1, Math.log1p(e.engagement) / Math.log1p(T.engagementCap));
	const ageH = Math.max(0, (asOf - Date.parse(e.created_at)) / 3_600_000);
	return Number(((T.score * quality + T.engagement * engagement) * 0.5 ** (ageH / T.halfLifeH)).toFixed(9));
}

/**
 * The sort key of an entry: compared element by element, ascending (descending orders store
 * negated numbers, and the inverted time below), the id last.
 */
export function sortKey(e: Entry, sort: FeedSort, asOf: number, seed: number): (number | string)[] {
	const time = -Date.parse(e.created_at);
	switch (sort) {
		case "newest":
			return [time, e.id];
		case "highest":
			return [-(e.score ?? 0), time, e.id];
		case "trending":
			return [-trendingScore(e, asOf), time, e.id];
		case "random":
			return [fnv1a(`${seed}:${e.id}`), e.id];
	}
}

export function compareKeys(a: readonly (number | string)[], b: readonly (number | string)[]): number {
	for (let i = 0; i < Math.max(a.length, b.length); i++) {
		const x = a[i];
		const y = b[i];
		if (x === y) continue;
		if (x === undefined) return -1;
		if (y === undefined) return 1;
		if (typeof x === "number" && typeof y === "number") return x < y ? -1 : 1;
		return String(x) < String(y) ? -1 : 1;
	}
	return 0;
}

const fold = (s: string) => s.normalize("NFKC").toLowerCase();

/** Selection, percentiles, filters, order and one page (see the module comment). */
export function rankFeed(entries: FeedEntry[], query: FeedQuery): FeedOutput {
	const q = FeedQuery.parse(query);
	const asOf = Date.parse(q.as_of);
	// Entries are taken as given (the agent's input schema checked them; the feed service reads its own store).
	const shown = entries.filter(e => visible(e) && Date.parse(e.inserted_at) <= asOf).map(e => ({ ...e, engagement: e.engagement ?? 0 }));
	const pct = percentiles(shown.map(e => e.score ?? 0));
	const since = q.days ? asOf - q.days * 86_400_000 : -Infinity;
	const wanted = q.tags.map(fold);
	const needle = q.search ? fold(q.search.trim()) : "";
	const ranked = shown
		.map(e => ({ ...e, percentile: pct(e.score ?? 0), key: sortKey(e, q.sort_by, asOf, q.seed) }))
		.filter(e => Date.parse(e.created_at) >= since)
		.filter(e => q.min_percentile === undefined || e.percentile >= q.min_percentile)
		.filter(e => wanted.every(t => e.tags.some(x => fold(x) === t)))
		.filter(e => !needle || [e.summary_text, e.alias ?? "", ...e.tags].some(s => fold(s).includes(needle)))
		.sort((a, b) => compareKeys(a.key, b.key));
	const after = q.after;
	const rest = after ? ranked.filter(e => compareKeys(e.key, after) > 0) : ranked.slice(q.offset);
	const items = rest.slice(0, q.limit);
	return { items, next_key: rest.length > q.limit ? items[items.length - 1].key : null, population: shown.length };
}

/** What the moderation hold and the minor check read of a stored analysis. */
export interface AnalysisFacts {
	request?: { input_warnings?: string[] } | null;
	result?: Record<string, unknown> | null;
	checkpoints?: Record<string, { output?: unknown } | undefined> | null;
}

/**
 * Why an entry is held from the public (empty: not held): the output guardrails flag its text
 * (`text_flagged`), the input guardrails changed the bio of the analysis behind it
 * (`input_flagged`), or the report's own safety check removed part of it (`output_flagged`).
 */
export function heldReasons(texts: string[], analysis?: AnalysisFacts | null): string[] {
	const reasons: string[] = [];
	if (texts.some(t => scanOutputText(t, { minor: false }).length > 0)) reasons.push("text_flagged");
	if ((analysis?.request?.input_warnings?.length ?? 0) > 0) reasons.push("input_flagged");
	const warnings = analysis?.result?.warnings;
	if (Array.isArray(warnings) && warnings.some(w => typeof w === "string" && /removed by the safety check/i.test(w))) reasons.push("output_flagged");
	return reasons;
}

/** The analysis estimated its subject under 18 (the face section's age: biometric consent only). */
export function analysisMinor(a: AnalysisFacts): boolean {
	const detailed = (a.result?.detailed_analysis as { face?: unknown } | null | undefined)?.face;
	return estimatedMinor(a.checkpoints?.face?.output) || estimatedMinor(detailed);
}

export const publicFeed = defineAgent({
	name: "public_feed",
	version: "1.0.0",
	input: FeedInput,
	output: FeedOutput,
	async run(input: z.output<typeof FeedInput>): Promise<FeedOutput> {
		return rankFeed(input.entries, input.query);
	}
});

export default publicFeed;
