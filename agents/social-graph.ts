import { z } from "zod";
import { defineAgent } from "./agent";
import { cosine } from "./vectors";

/**
 * social_graph: where one user stands among the users who opted in to public analysis, and who
 * is like them or complements them. Pure: the service gathers the population (style and text
 * vectors, never face descriptors; stored perceptions; analysis scores) through `deps`.
 *
 * vibe score (0–100) of a user = 10 × the weighted mean of their mean overall_score (weight .6)
 * and their mean perception social_score (weight .4), over the parts they have; 50 with neither.
 *
 * percentile.overall (1–99) = 100·(below + ½·equal)/n among the sample (the opted-in adults,
 * the subject included). With fewer than `min_public_users` in the sample it is `cold_start`
 * and the percentile is read against a fixed baseline instead: scores ~ Normal(55, 15)
 * (COLD_START_BASELINE), percentile = Φ((score − 55)/15)·100, clamped to 1–99.
 *
 * similarity of two users (0–1) = the weighted mean over the parts both have: style vector
 * cosine (.5), text vector cosine (.3), tag Jaccard (.2), cosines mapped from [-1,1] to [0,1].
 * similar_users: the 5 most similar (ties: higher vibe, then user_id).
 * complementary_users: among the others, score = .5·(1 − similarity) + .5·(their vibe/100): a
 * different style that works well; top 5 (same ties). Neither list holds the subject.
 */

export const SOCIAL_GRAPH_RULES = {
	vibe: { overall: 0.6, social: 0.4 },
	similarity: { style: 0.5, text: 0.3, tags: 0.2 },
	complement: { difference: 0.5, vibe: 0.5 },
	top: 5
} as const;

export const COLD_START_BASELINE = { mean: 55, sd: 15 } as const;

const Vector = z.array(z.number().finite()).max(4096);

export const GraphUser = z.object({
	user_id: z.string(),
	alias: z.string().nullable(),
	style_vector: Vector.nullable().default(null),
	text_vector: Vector.nullable().default(null),
	tags: z.array(z.string()).default([]),
	/** Mean over their recent analyses / perceptions (0–10), null when none. */
	overall_score: z.number().min(0).max(10).nullable().default(null),
	social_score: z.number().min(0).max(10).nullable().default(null),
	/** Their newest media (for a thumbnail), null when none. */
	media_id: z.string().nullable().default(null)
});
export type GraphUser = z.input<typeof GraphUser>;

export const GraphInput = z.object({ user_id: z.string().min(1).max(64) });

export const GraphPeer = z.object({
	user_id: z.string(),
	alias: z.string(),
	score: z.number().min(0).max(1),
	tags: z.array(z.string()),
	media_id: z.string().nullable()
});

export const GraphOutput = z.object({
	user_id: z.string(),
	cold_start: z.boolean(),
	sample_size: z.number().int().min(0),
	user_vibe_score: z.number().int().min(0).max(100),
	percentile: z.object({ overall: z.number().int().min(1).max(99) }),
	similar_users: z.array(GraphPeer).max(SOCIAL_GRAPH_RULES.top),
	complementary_users: z.array(GraphPeer).max(SOCIAL_GRAPH_RULES.top),
	baseline: z.object({ mean: z.number(), sd: z.number() }).nullable(),
	computed_at: z.string()
});
export type GraphOutput = z.infer<typeof GraphOutput>;

export interface GraphDeps {
	/** The opted-in adults (the subject among them when they qualify). */
	population(): Promise<GraphUser[]>;
	minPublicUsers: number;
	now?: () => Date;
}

type User = z.output<typeof GraphUser>;

export function vibeOf(u: Pick<User, "overall_score" | "social_score">): number {
	const W = SOCIAL_GRAPH_RULES.vibe;
	const parts: [number, number][] = [];
	if (u.overall_score !== null) parts.push([u.overall_score, W.overall]);
	if (u.social_score !== null) parts.push([u.social_score, W.social]);
	if (!parts.length) return 50;
	const w = parts.reduce((s, [, x]) => s + x, 0);
	return Math.round(Math.min(100, Math.max(0, (10 * parts.reduce((s, [v, x]) => s + v * x, 0)) / w)));
}

/** The standard normal CDF (Abramowitz–Stegun 7.1.26, error < 1.5e-7). */
export function normalCdf(z: number): number {
	const t = 1 / (1 + 0.3275911 * (Math.abs(z) / Math.SQRT2));
	const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-(z * z) / 2);
	return z >= 0 ? (1 + y) / 2 : (1 - y) / 2;
}

const clampPct = (p: number) => Math.min(99, Math.max(1, Math.round(p)));

export function baselinePercentile(score: number): number {
	return clampPct(normalCdf((score - COLD_START_BASELINE.mean) / COLD_START_BASELINE.sd) * 100);
}

export function samplePercentile(score: number, scores: number[]): number {
	const below = scores.filter(s => s < score).length;
	const equal = scores.filter(s => s === score).length;
	return clampPct((100 * (below + equal / 2)) / Math.max(1, scores.length));
}

function jaccard(a: string[], b: string[]): number {
	const A = new Set(a.map(t => t.toLowerCase()));
	const B = new Set(b.map(t => t.toLowerCase()));
	const inter = [...A].filter(t => B.has(t)).length;
	const union = new Set([...A, ...B]).size;
	return union ? inter / union : 0;
}

const unit = (c: number) => (c + 1) / 2;

/** Similarity (0–1) over the parts both users have; null when they share none. */
export function similarity(a: User, b: User): number | null {
	const W = SOCIAL_GRAPH_RULES.similarity;
	const parts: [number, number][] = [];
	if (a.style_vector?.length && a.style_vector.length === b.style_vector?.length) parts.push([unit(cosine(a.style_vector, b.style_vector)), W.style]);
	if (a.text_vector?.length && a.text_vector.length === b.text_vector?.length) parts.push([unit(cosine(a.text_vector, b.text_vector)), W.text]);
	if (a.tags.length && b.tags.length) parts.push([jaccard(a.tags, b.tags), W.tags]);
	if (!parts.length) return null;
	const w = parts.reduce((s, [, x]) => s + x, 0);
	return parts.reduce((s, [v, x]) => s + v * x, 0) / w;
}

const r3 = (n: number) => Math.round(n * 1000) / 1000;

/** The subject's standing and peers among `population` (see the module comment). */
export function socialGraph(userId: string, population: GraphUser[], minPublicUsers: number, now = new Date()): GraphOutput {
	const users = population.map(u => GraphUser.parse(u));
	const self = users.find(u => u.user_id === userId) ?? GraphUser.parse({ user_id: userId, alias: null });
	const vibes = new Map(users.map(u => [u.user_id, vibeOf(u)]));
	const myVibe = vibeOf(self);
	const coldStart = users.length < minPublicUsers;
	const percentile = coldStart ? baselinePercentile(myVibe) : samplePercentile(myVibe, [...vibes.values()]);
	const others = users
		.filter(u => u.user_id !== userId)
		.map(u => ({ u, sim: similarity(self, u), vibe: vibes.get(u.user_id)! }))
		.filter(x => x.sim !== null) as { u: User; sim: number; vibe: number }[];
	const peer = (x: { u: User }, score: number) => ({ user_id: x.u.user_id, alias: x.u.alias ?? "Anonymous", score: r3(score), tags: x.u.tags.slice(0, 8), media_id: x.u.media_id });
	const order = (a: { s: number; vibe: number; u: User }, b: { s: number; vibe: number; u: User }) => b.s - a.s || b.vibe - a.vibe || (a.u.user_id < b.u.user_id ? -1 : 1);
	const similar = others
		.map(x => ({ ...x, s: x.sim }))
		.sort(order)
		.slice(0, SOCIAL_GRAPH_RULES.top);
	const taken = new Set(similar.map(x => x.u.user_id));
	const C = SOCIAL_GRAPH_RULES.complement;
	const complementary = others
		.filter(x => !taken.has(x.u.user_id))
		.map(x => ({ ...x, s: C.difference * (1 - x.sim) + (C.vibe * x.vibe) / 100 }))
		.sort(order)
		.slice(0, SOCIAL_GRAPH_RULES.top);
	return {
		user_id: userId,
		cold_start: coldStart,
		sample_size: users.length,
		user_vibe_score: myVibe,
		percentile: { overall: percentile },
		similar_users: similar.map(x => peer(x, x.s)),
		complementary_users: complementary.map(x => peer(x, x.s)),
		baseline: coldStart ? { ...COLD_START_BASELINE } : null,
		computed_at: now.toISOString()
	};
}

export const socialGraphAgent = defineAgent({
	name: "social_graph",
	version: "1.0.0",
	input: GraphInput,
	output: GraphOutput,
	async run(input: z.output<typeof GraphInput>, deps: GraphDeps): Promise<GraphOutput> {
		return socialGraph(input.user_id, await deps.population(), deps.minPublicUsers, deps.now?.() ?? new Date());
	}
});

export default socialGraphAgent;
