import { LocalProvider } from "./local";
import { OpenAIProvider } from "./openai";
import type { LlmProvider } from "./types";

export { LlmError, LocalProvider, LOCAL_MODEL } from "./local";
export { OpenAIProvider, type OpenAIProviderOptions } from "./openai";
export type { LlmCall, LlmProvider, LlmResult, LlmUsage, Prompt } from "./types";

/** The shape of `config().llm`, passed in (agents/ never reads the config itself). */
export interface LlmSettings {
	provider: "local" | "openai";
	baseUrl: string;
	apiKey: string | null;
	model: string;
	timeoutMs: number;
	maxAttempts: number;
}

/** The provider the settings name: `local` (the offline default) or any OpenAI-compatible API. */
export function createLlmProvider(settings: LlmSettings): LlmProvider {
	if (settings.provider === "openai") {
		return new OpenAIProvider({ baseUrl: settings.baseUrl, apiKey: settings.apiKey, model: settings.model, timeoutMs: settings.timeoutMs, maxAttempts: settings.maxAttempts });
	}
	return new LocalProvider();
}
