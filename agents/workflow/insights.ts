import { checkInput } from "../guardrails";
import type { HistoryInput } from "../perception-history";
import { EXPRESSION_WARMTH } from "../social-perception";
import { resolveConsent, type UserConsent } from "./consent";
import { estimatedMinor, fixitInput, stateFromCheckpoints, vibeInput } from "./pipelines";
import type { State } from "./graph";

/**
 * The inputs of the "insight" agents (fixit, reverse_analysis, vibe_analysis,
 * perception_history) from what is stored about a user: the perceptions kept with each media
 * (post-ingest) and the completed analyses. Pure: the services fetch, these shape. Used by the
 * full-analysis route, the insights routes and the perception_history agent service.
 *
 * Scores from a stored perception alone (no analysis of that media):
 * - social = the perception's social_score;
 * - expression = EXPRESSION_WARMTH of the first face's expression (as social_perception reads it);
 * - photo_quality = 10 − 3 (blurry) − 2 (too dark) − 2 (too bright), social_perception's formula.
 * An analysis's own scores win over these where it has them.
 */

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | null => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : null);
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string" && x.trim().length > 0) : []);

/** What `media.summaries` answers per media. */
export interface MediaSummary {
	media_id: string;
	user_id?: string;
	created_at: string;
	thumbnail_url?: string | null;
	perception: {
		faces?: { expression?: string }[];
		quality?: { blurry?: boolean; too_dark?: boolean; too_bright?: boolean };
		social?: { summary_text?: string; tags?: string[]; social_score?: number };
	} | null;
}

/** The stored analysis fields these helpers read (see AnalysisDoc in services/analyses.service.ts). */
export interface StoredAnalysis {
	_id: string;
	media_id: string;
	created_at: string;
	result: Obj | null;
	checkpoints?: Record<string, { output: unknown }>;
	request?: { user_consent?: UserConsent | null } | null;
	specialized?: Obj | null;
}

const socialOf = (m: MediaSummary) => obj(m.perception?.social);

/** perception_history's input: every perception with a score, every completed analysis. */
export function historyInputOf(media: MediaSummary[], analyses: StoredAnalysis[]): HistoryInput {
	return {
		perceptions: media
			.filter(m => num(socialOf(m)?.social_score) !== null)
			.map(m => ({ media_id: m.media_id, timestamp: m.created_at, social_score: num(socialOf(m)!.social_score), tags: strings(socialOf(m)!.tags).slice(0, 20) })),
		analyses: analyses.map(a => ({ media_id: a.media_id, timestamp: a.created_at, overall_score: num(a.result?.overall_score) }))
	};
}

/** A stored run's state (its checkpoints under the keys their nodes write), or null without one. */
export function stateOf(doc: StoredAnalysis | null | undefined): State | null {
	return doc ? stateFromCheckpoints(doc.checkpoints ?? {}, resolveConsent(doc.request?.user_consent)) : null;
}

/** Scores a stored perception gives by itself (see the header). */
export function perceptionScores(m: MediaSummary | undefined) {
	const p = m?.perception;
	const q = p?.quality;
	const expression = p?.faces?.[0]?.expression;
	return {
		social: num(socialOf(m ?? ({} as MediaSummary))?.social_score),
		expression: expression !== undefined && EXPRESSION_WARMTH[expression] !== undefined ? EXPRESSION_WARMTH[expression] : null,
		photo_quality: q ? 10 - (q.blurry ? 3 : 0) - (q.too_dark ? 2 : 0) - (q.too_bright ? 2 : 0) : null
	};
}

/**
 * fixit's input: the latest analysis's scores and tips (when there is one), topped up from the
 * newest stored perception; `improved` (perception history's improvement tags) keeps recently
 * improved areas out of focus.
 */
export function fixitInputFrom(latest: StoredAnalysis | null, newest: MediaSummary | undefined, improved: string[] = []) {
	const state = stateOf(latest);
	const base = state ? fixitInput(state) : { scores: {} as Record<string, number | null>, weakest_areas: [] as string[], tips: {} };
	const fromPerception = perceptionScores(newest);
	const scores: Record<string, number | null> = { ...base.scores };
	for (const [k, v] of Object.entries(fromPerception)) if (scores[k] === null || scores[k] === undefined) scores[k] = v;
	return { ...base, scores, improved_areas: improved.slice(0, 20) };
}

/** vibe_analysis's input: the latest analysis's reading (when there is one) and the recent perceptions, newest first. */
export function vibeInputFrom(latest: StoredAnalysis | null, media: MediaSummary[], limit: number) {
	const state = stateOf(latest);
	const recent_perceptions = media
		.filter(m => socialOf(m))
		.slice(0, Math.min(limit, 20))
		.map(m => ({
			summary_text: (socialOf(m)!.summary_text as string | undefined)?.slice(0, 2000),
			tags: strings(socialOf(m)!.tags).slice(0, 20),
			social_score: num(socialOf(m)!.social_score),
			timestamp: m.created_at
		}));
	if (state) {
		// The analysed media's own perception stands in for a social_perception node a core run does not have.
		const own = media.find(m => m.media_id === latest!.media_id);
		return { ...vibeInput({ ...state, social_perception: state.social_perception ?? (own ? socialOf(own) : null) }), recent_perceptions };
	}
	const newest = media.find(m => m.perception);
	if (!newest) return { recent_perceptions };
	const social = socialOf(newest);
	return {
		vision_summary: { expression: newest.perception!.faces?.[0]?.expression ?? null, social_score: num(social?.social_score), tags: strings(social?.tags).slice(0, 20) },
		recent_perceptions
	};
}

/**
 * reverse_analysis's recent analyses: one entry per recent media (newest first, at most
 * `limit`): the scores of its newest completed analysis, else those of its perception, the
 * perception's tags and the analysis's recommendations as tips.
 */
export function recentAnalysesOf(analyses: StoredAnalysis[], media: MediaSummary[], limit: number) {
	const perceptionOf = new Map(media.map(m => [m.media_id, m]));
	const entries: { scores: Record<string, number | null>; tags: string[]; tips: string[]; timestamp: string }[] = [];
	const seen = new Set<string>();
	const newestFirst = [...analyses].sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
	for (const d of newestFirst) {
		if (seen.has(d.media_id)) continue;
		seen.add(d.media_id);
		const p = perceptionScores(perceptionOf.get(d.media_id));
		entries.push({
			scores: { overall: num(d.result?.overall_score), style: num(d.result?.style_score), presence: num(d.result?.presence_score), social: p.social, expression: p.expression, photo_quality: p.photo_quality },
			tags: strings(socialOf(perceptionOf.get(d.media_id) ?? ({} as MediaSummary))?.tags).slice(0, 20),
			tips: strings(d.result?.recommendations).slice(0, 5),
			timestamp: d.created_at
		});
	}
	for (const m of media) {
		if (seen.has(m.media_id) || !m.perception) continue;
		seen.add(m.media_id);
		entries.push({ scores: perceptionScores(m), tags: strings(socialOf(m)?.tags).slice(0, 20), tips: [], timestamp: m.created_at });
	}
	return entries.sort((a, b) => (a.timestamp < b.timestamp ? 1 : -1)).slice(0, Math.min(limit, 20));
}

/** The analysis estimated its subject under 18 (face checkpoint or report section; age needs biometric consent). */
export function minorIn(doc: StoredAnalysis | null): boolean {
	if (!doc) return false;
	return estimatedMinor(stateOf(doc)?.face) || estimatedMinor(obj(doc.result?.detailed_analysis)?.face);
}

/** A goal through the input rails: its guarded text, or null when it is refused (too short or long, or blocked). */
export function guardGoal(goal: string): string | null {
	const verdict = checkInput(goal, { minLength: 3, maxLength: 500 });
	return verdict.blocked ? null : verdict.text;
}
