/**
 * Optional remote moderation through an OpenAI-compatible moderation endpoint:
 * `POST {baseUrl}/moderations` with `{model, input}` → `{results: [{flagged, categories,
 * category_scores}]}`. Enabled by `MODERATION_PROVIDER=openai` (SPEC: `config().moderation`);
 * the caller builds the settings with `moderationSettings(config().llm, config().moderation)`
 * (this module takes plain values and never reads the config itself).
 *
 * - The text sent is the input rail's output (`InputVerdict.text`): PII is already redacted, so
 *   no email, phone or card number leaves the system for moderation.
 * - A category is a finding when the endpoint flags it, or when its score reaches `threshold`
 *   (default 0.8, for servers that only return scores). Severity: threatening, intent,
 *   instructions and minors categories are high; otherwise by score (≥ 0.8 high, ≥ 0.5 medium,
 *   else low). Category names map through `TAXONOMY` (toxicity.ts); unknown ones become
 *   `moderation.<name>`.
 * - Any failure (timeout, 429/5xx after the retries of `requestWithRetry`, 4xx, malformed JSON,
 *   an unexpected shape) is one low-severity `moderation.unavailable` finding, and the local
 *   verdict stands unchanged.
 */
import { z } from "zod";
import { ProviderHttpError, requestWithRetry } from "../providers/http";
import { TAXONOMY } from "./toxicity";
import type { Finding, InputVerdict, Severity } from "./types";

export interface ModerationSettings {
	/** OpenAI-compatible API base, e.g. `https://api.openai.com/v1`. */
	baseUrl: string;
	apiKey: string | null;
	model: string;
	timeoutMs: number;
	maxAttempts?: number;
	baseDelayMs?: number;
	maxDelayMs?: number;
	/** A score at or above this is a finding even when the category is not flagged. Default 0.8. */
	threshold?: number;
	/** Test hooks, passed to `requestWithRetry`. */
	sleep?(ms: number, signal: AbortSignal): Promise<void>;
	random?(): number;
}

/** Settings from the shapes of `config().llm` and `config().moderation`; null when moderation is off. */
export function moderationSettings(
	llm: { baseUrl: string; apiKey: string | null; timeoutMs: number; maxAttempts: number },
	moderation: { provider: "none" | "openai" | string; model: string }
): ModerationSettings | null {
	if (moderation.provider !== "openai") return null;
	return { baseUrl: llm.baseUrl, apiKey: llm.apiKey, model: moderation.model, timeoutMs: llm.timeoutMs, maxAttempts: llm.maxAttempts };
}

export interface ModerationResult {
	/** The endpoint answered a usable result. */
	ok: boolean;
	flagged: boolean;
	findings: Finding[];
	self_harm: boolean;
	/** A high-severity threat, hate or sexual-minors category: too hostile to analyse. */
	block: boolean;
	/** Why the call failed (scrubbed), when it did. */
	error?: string;
}

const ReplySchema = z.object({
	results: z
		.array(
			z.object({
				flagged: z.boolean().optional(),
				categories: z.record(z.string(), z.boolean().nullable()).default({}),
				category_scores: z.record(z.string(), z.number().nullable()).default({})
			})
		)
		.min(1)
});

const ALWAYS_HIGH = /threatening|intent|instructions|minors/;
const BLOCKING = new Set(["toxicity.threat", "toxicity.hate", "sexual.minors"]);

function severityOf(name: string, score: number | null | undefined): Severity {
	if (ALWAYS_HIGH.test(name)) return "high";
	const s = score ?? 0;
	return s >= 0.8 ? "high" : s >= 0.5 ? "medium" : "low";
}

function unavailable(reason: string): ModerationResult {
	return {
		ok: false,
		flagged: false,
		self_harm: false,
		block: false,
		error: reason,
		findings: [{ category: "moderation.unavailable", severity: "low", span: null, message: `Remote moderation was unavailable (${reason}); the local checks apply.` }]
	};
}

/** Asks the remote endpoint about `text`. Never throws: failures come back as an `unavailable` result. */
export async function moderateRemote(text: string, s: ModerationSettings): Promise<ModerationResult> {
	let body: unknown;
	try {
		const reply = await requestWithRetry({
			provider: "moderation",
			url: `${s.baseUrl.replace(/\/+$/, "")}/moderations`,
			method: "POST",
			headers: { "content-type": "application/json", ...(s.apiKey ? { authorization: `Bearer ${s.apiKey}` } : {}) },
			body: JSON.stringify({ model: s.model, input: text }),
			timeoutMs: s.timeoutMs,
			maxAttempts: s.maxAttempts,
			baseDelayMs: s.baseDelayMs,
			maxDelayMs: s.maxDelayMs,
			secrets: [s.apiKey],
			reasonOf: (_status, t) => {
				try {
					const e = JSON.parse(t)?.error;
					return typeof e?.code === "string" ? e.code : typeof e?.type === "string" ? e.type : null;
				} catch {
					return null;
				}
			},
			sleep: s.sleep,
			random: s.random
		});
		body = JSON.parse(reply.text);
	} catch (err) {
		if (err instanceof ProviderHttpError) return unavailable(err.message);
		if (err instanceof SyntaxError) return unavailable("moderation: invalid JSON");
		return unavailable("moderation: request failed");
	}
	const parsed = ReplySchema.safeParse(body);
	if (!parsed.success) return unavailable("moderation: unexpected reply shape");
	const r = parsed.data.results[0];
	const threshold = s.threshold ?? 0.8;
	const names = new Set([...Object.keys(r.categories), ...Object.keys(r.category_scores)]);
	const findings: Finding[] = [];
	for (const name of names) {
		const score = r.category_scores[name];
		if (r.categories[name] !== true && !(typeof score === "number" && score >= threshold)) continue;
		const category = TAXONOMY[name] ?? `moderation.${name.replace(/[^a-z0-9]+/gi, "_").toLowerCase()}`;
		findings.push({
			category,
			severity: severityOf(name, score),
			span: null,
			message: `Remote moderation flagged ${name}${typeof score === "number" ? ` (score ${score.toFixed(2)})` : ""}.`
		});
	}
	return {
		ok: true,
		flagged: r.flagged ?? findings.length > 0,
		findings,
		self_harm: findings.some(f => f.category === "self_harm"),
		block: findings.some(f => f.severity === "high" && BLOCKING.has(f.category))
	};
}

/** The local verdict with the remote result added: findings appended, `blocked` and `self_harm` only ever raised. */
export function mergeModeration(local: InputVerdict, remote: ModerationResult): InputVerdict {
	return {
		text: local.text,
		findings: [...local.findings, ...remote.findings],
		blocked: local.blocked || remote.block,
		self_harm: local.self_harm || remote.self_harm
	};
}
