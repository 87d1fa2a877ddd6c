import type { LlmCall, LlmProvider, LlmResult } from "./types";

export type LlmErrorType = "AGENT_FAILED" | "AGENT_TIMEOUT";

/**
 * A language-model call that failed. agents/ may not import Moleculer, so this is a plain error
 * with the fields of lib/errors.ts (`type`, `code`, `retryable`, `data`): the workflow branches
 * on `err.type` / `err.retryable`, the broker serialises it like its own. Its message and data
 * never carry an API key (they are built from scrubbed provider errors and zod issue paths).
 */
export class LlmError extends Error {
	readonly code: number;

	constructor(
		readonly type: LlmErrorType,
		message: string,
		readonly retryable: boolean,
		readonly data: Record<string, unknown>
	) {
		super(message);
		this.name = "LlmError";
		this.code = type === "AGENT_TIMEOUT" ? 504 : 502;
	}
}

/** The version of the local rules, reported as the model of every local answer. */
export const LOCAL_MODEL = "rules-v1";

/**
 * The default provider: no model at all. Each agent passes its own deterministic answer
 * (`call.local()`: rules over features measured offline), and this provider holds it to the
 * same schema a remote model's answer must pass, so both providers answer the same shape.
 */
export class LocalProvider implements LlmProvider {
	readonly name = "local";

	async generate<T>(call: LlmCall<T>): Promise<LlmResult<T>> {
		const parsed = call.schema.safeParse(await call.local());
		if (!parsed.success) {
			const issues = parsed.error.issues.slice(0, 3).map(i => `${i.path.join(".") || "(root)"}: ${i.message}`);
			throw new LlmError("AGENT_FAILED", `local rules for ${call.agent} gave an invalid answer (${issues.join("; ")})`, false, { agent: call.agent, provider: this.name });
		}
		return { output: parsed.data, provider: this.name, model: LOCAL_MODEL, prompt_id: call.prompt.id, prompt_version: call.prompt.version, usage: null, attempts: 1 };
	}
}
