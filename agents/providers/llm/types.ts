import type { z } from "zod";

/** A versioned prompt: data in one registry (agents/prompts.ts), never strings scattered in code. */
export interface Prompt {
	id: string;
	agent: string;
	version: string;
	/** System message. */
	system: string;
	/** User message template; `{{name}}` is replaced by the JSON of variables[name]. */
	template: string;
	model?: { temperature?: number; max_tokens?: number };
}

export interface LlmCall<T> {
	agent: string;
	prompt: Prompt;
	variables: Record<string, unknown>;
	/** The agent's output schema: structured output is validated against it. */
	schema: z.ZodType<T>;
	/** The deterministic local answer (rules and lexicons over the same input). */
	local: () => T | Promise<T>;
}

export interface LlmUsage {
	prompt_tokens: number;
	completion_tokens: number;
	total_tokens: number;
}

export interface LlmResult<T> {
	output: T;
	provider: string;
	model: string;
	prompt_id: string;
	prompt_version: string;
	usage: LlmUsage | null;
	/** Model calls made (2 when the first answer was invalid and re-asked). */
	attempts: number;
}

/** Every provider answers the same zod-validated shape; an invalid answer is re-asked once, then fails. */
export interface LlmProvider {
	name: string;
	generate<T>(call: LlmCall<T>): Promise<LlmResult<T>>;
}
