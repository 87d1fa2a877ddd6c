import { z } from "zod";

/**
 * The wire plumbing the OpenAI-compatible Chat Completions providers share (the LLM provider
 * in ./llm/openai.ts and the vision provider in ./vision/openai.ts): the endpoint, the reply
 * shape, the error reason, and parsing and re-asking for a model's JSON answer.
 */

/** `{baseUrl}/chat/completions`, whatever trailing slashes the base URL has. */
export const chatCompletionsUrl = (baseUrl: string) => `${baseUrl.replace(/\/+$/, "")}/chat/completions`;

/** The part of a `chat.completion` reply the providers read. */
export const ChatReply = z.object({
	model: z.string().optional(),
	choices: z
		.array(
			z.object({
				message: z.object({ content: z.string().nullable().optional(), refusal: z.string().nullable().optional() }),
				finish_reason: z.string().nullable().optional()
			})
		)
		.min(1)
});

/** A short reason from an error reply: its code or type, never its message (OpenAI's 401 quotes the key). */
export function openaiErrorCode(text: string): string | null {
	try {
		const e = (JSON.parse(text) as { error?: { code?: unknown; type?: unknown } }).error;
		const r = [e?.code, e?.type].find(v => typeof v === "string" && v.length > 0);
		return typeof r === "string" ? r : null;
	} catch {
		return null;
	}
}

/**
 * Validates a model's message content against a schema (a ```json fence is tolerated); answers
 * the value or a short problem naming up to `maxIssues` schema issues (no content quoted).
 */
export function parseJsonAnswer<T>(content: string | null | undefined, schema: z.ZodType<T>, maxIssues = 4): { ok: true; value: T } | { ok: false; problem: string } {
	if (!content || !content.trim()) return { ok: false, problem: "the reply was empty" };
	let json: unknown;
	try {
		json = JSON.parse(content.trim().replace(/^```(?:json)?\s*|\s*```$/g, ""));
	} catch {
		return { ok: false, problem: "the reply was not valid JSON" };
	}
	const parsed = schema.safeParse(json);
	if (parsed.success) return { ok: true, value: parsed.data };
	const issues = parsed.error.issues.slice(0, maxIssues).map(i => `${i.path.join(".") || "(root)"}: ${i.message}`);
	return { ok: false, problem: `the JSON did not match the schema (${issues.join("; ")})` };
}

/** The user message of the one re-ask after an unusable answer. */
export const reaskMessage = (problem: string) => `Your previous reply was not usable: ${problem}. Reply again with only a JSON object that matches the schema.`;
