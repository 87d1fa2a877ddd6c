import { z } from "zod";
import { promptFor } from "./prompts";
import type { LlmProvider, LlmResult } from "./providers/llm/types";

/**
 * Small helpers the agents share: rounding and clamping, wording, the provenance every
 * LLM-backed agent records, and picking the most prominent subject of a photo. Pure
 * functions only (agents/ never imports the broker).
 */

export const round = (n: number, d = 2) => Number(n.toFixed(d));
/** One decimal, as scores are reported. */
export const r1 = (n: number) => round(n, 1);
export const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, n));
export const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

export const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** "a", "a and b", "a, b and c". */
export function list(xs: string[]): string {
	if (xs.length <= 1) return xs.join("");
	return `${xs.slice(0, -1).join(", ")} and ${xs[xs.length - 1]}`;
}

/** Sentences in a text (split after . ! or ?). */
export const sentenceCount = (s: string) => s.split(/(?<=[.!?])\s+/).filter(x => x.trim()).length;

/** Which provider, model and prompt version wrote an agent's text. */
export const Provenance = z.object({ provider: z.string(), model: z.string(), prompt_version: z.string() });
export type Provenance = z.infer<typeof Provenance>;

export const provenanceOf = (r: LlmResult<unknown>): Provenance => ({ provider: r.provider, model: r.model, prompt_version: r.prompt_version });

/** What an LLM-backed agent needs. */
export interface LlmDeps {
	llm: LlmProvider;
}

/**
 * Asks the LLM provider with the agent's own prompt (the provider may answer with `local`, the
 * agent's rules) and answers the validated output with its provenance.
 */
export async function askLlm<T>(
	deps: LlmDeps,
	agent: string,
	variables: Record<string, unknown>,
	schema: z.ZodType<T>,
	local: () => T | Promise<T>
): Promise<T & Provenance> {
	const res = await deps.llm.generate({ agent, prompt: promptFor(agent), variables, schema, local });
	return { ...res.output, ...provenanceOf(res) };
}

/** Index of the item with the highest score (the first on ties); null when there is none above -1. */
export function argmax<T>(items: readonly T[], score: (item: T) => number): number | null {
	let best: number | null = null;
	let bestScore = -1;
	items.forEach((item, i) => {
		const s = score(item);
		if (s > bestScore) {
			best = i;
			bestScore = s;
		}
	});
	return best;
}

/** The key with the highest value of a distribution (the first on ties), or null when it is empty. */
export function topKey(scores: Record<string, number>): string | null {
	const entries = Object.entries(scores);
	const i = argmax(entries, ([, v]) => v);
	return i === null ? null : entries[i][0];
}

/**
 * How central a box ([x, y, w, h] px) is: 1 with its centre at the image centre, falling to
 * 0.5 at a corner, so between subjects of similar size the more central one wins.
 */
export function centreWeight(box: readonly number[], width: number, height: number): number {
	const [x, y, w, h] = box;
	const halfDiagonal = Math.hypot(width / 2, height / 2) || 1;
	return 1 - 0.5 * clamp(Math.hypot(x + w / 2 - width / 2, y + h / 2 - height / 2) / halfDiagonal, 0, 1);
}
