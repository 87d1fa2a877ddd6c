import { assistantMessage, chatCompletion, openaiError as error, openaiRejected, openaiScriptedError, recordJson, send, startScriptedServer, validJsonSchemaFormat, type FakeServer, type RecordedRequest, type ScriptedReply } from "./fake-http";

/**
 * A local stand-in for an OpenAI-compatible Chat Completions server on 127.0.0.1 (port 0):
 * `POST /v1/chat/completions`, JSON in, a `chat.completion` out, errors as
 * `{error:{message,type,param,code}}`, as OpenAI, vLLM and Ollama answer.
 *
 * By default it behaves like the real service: it checks the key, the model, the messages,
 * that streaming is off, and the response_format (a strict json_schema must close every object
 * and require every key, as OpenAI insists; json_object needs the word "JSON" in the messages),
 * then answers `answer(request)` with token usage. A test can script the next replies: content
 * (valid or not), an error status with Retry-After, a delay past the client's timeout, a
 * malformed body, a refusal, or a 400 rejecting json_schema; and it reads every request.
 */

export interface LlmRequest extends RecordedRequest {
	json: any;
}

export interface LlmReply extends ScriptedReply<LlmRequest> {
	/** Usage to report (null: none). */
	usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
	/** Answer 400 to a json_schema response_format, as a server without structured output does. */
	rejectJsonSchema?: boolean;
}

export interface FakeLlmServer extends FakeServer<LlmReply, LlmRequest> {
	/** Base URL to configure (`…/v1`). */
	baseUrl: string;
	/** The content of an unscripted reply. */
	answer: (req: LlmRequest) => string;
	/** When false, every json_schema request gets the 400 a server without structured output sends. */
	jsonSchemaSupported: boolean;
}

export const DEFAULT_USAGE = { prompt_tokens: 120, completion_tokens: 30, total_tokens: 150 };
export const FAKE_MODEL = "fake-gpt-2025-01-01";

/** Scripted replies by name. */
export const replies = {
	content: (content: string): LlmReply => ({ content }),
	json: (value: unknown): LlmReply => ({ content: JSON.stringify(value) }),
	notJson: (): LlmReply => ({ content: "Sure! Here is what I think about the bio: it is lovely." }),
	rateLimited: (retryAfterS: number): LlmReply => ({ status: 429, headers: { "retry-after": String(retryAfterS) } }),
	serverError: (status = 500): LlmReply => ({ status }),
	slow: (delayMs: number): LlmReply => ({ delayMs }),
	malformed: (): LlmReply => ({ text: '{"id":"chatcmpl-1","choices":[{"message":{"content":"{\\"a\\"' }),
	refusal: (refusal = "I can't help with that."): LlmReply => ({ refusal }),
	rejectJsonSchema: (): LlmReply => ({ rejectJsonSchema: true })
};

/** Is a JSON Schema acceptable to strict structured output (closed objects, every key required)? */
export function strictProblems(schema: unknown, path = "#"): string[] {
	if (Array.isArray(schema)) return schema.flatMap((s, i) => strictProblems(s, `${path}/${i}`));
	if (!schema || typeof schema !== "object") return [];
	const s = schema as Record<string, unknown>;
	const out: string[] = [];
	if (s.type === "object" || s.properties) {
		const keys = Object.keys((s.properties as object) ?? {});
		if (s.additionalProperties !== false) out.push(`${path}: additionalProperties must be false`);
		const req = Array.isArray(s.required) ? (s.required as string[]) : [];
		for (const k of keys) if (!req.includes(k)) out.push(`${path}: '${k}' must be required`);
	}
	for (const k of ["minLength", "maxLength"]) if (k in s) out.push(`${path}: '${k}' is not permitted`);
	for (const [k, v] of Object.entries(s)) if (k !== "required" && k !== "enum" && typeof v === "object") out.push(...strictProblems(v, `${path}/${k}`));
	return out;
}

export async function startFakeLlmServer(o: { apiKey?: string | null; model?: string } = {}): Promise<FakeLlmServer> {
	const apiKey = o.apiKey ?? null;
	const model = o.model ?? FAKE_MODEL;
	const state = {
		answer: (() => JSON.stringify({ ok: true })) as (req: LlmRequest) => string,
		jsonSchemaSupported: true
	};
	const fake = await startScriptedServer<LlmReply, LlmRequest>({
		record: recordJson,
		scriptedError: openaiScriptedError,
		handle(req, res, rec, scripted) {
			// The real API from here on.
			if (openaiRejected(req, res, rec.json, apiKey)) return;
			const b = rec.json as Record<string, any>;
			if (!Array.isArray(b.messages) || !b.messages.length || !b.messages.every((m: any) => ["system", "user", "assistant"].includes(m?.role) && typeof m.content === "string")) {
				return error(res, 400, "Invalid 'messages'.", "invalid_request_error", "invalid_value", "messages");
			}
			if (b.stream === true) return error(res, 400, "This fake does not stream.", "invalid_request_error", "invalid_value", "stream");
			const rf = b.response_format;
			if (rf?.type === "json_schema") {
				if (scripted?.rejectJsonSchema || !state.jsonSchemaSupported) {
					return error(res, 400, "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.", "invalid_request_error", null, "response_format");
				}
				const s = rf.json_schema;
				if (!validJsonSchemaFormat(s)) return error(res, 400, "Invalid 'response_format.json_schema'.", "invalid_request_error", "invalid_value", "response_format");
				const problems = s.strict === true ? strictProblems(s.schema) : [];
				if (problems.length) return error(res, 400, `Invalid schema for response_format '${s.name}': ${problems[0]}.`, "invalid_request_error", "invalid_json_schema", "response_format");
			} else if (rf?.type === "json_object") {
				if (!b.messages.some((m: any) => /json/i.test(m.content))) {
					return error(res, 400, "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.", "invalid_request_error", null, "messages");
				}
			} else if (rf !== undefined) {
				return error(res, 400, "Invalid 'response_format.type'.", "invalid_request_error", "invalid_value", "response_format");
			}
			const usage = scripted?.usage === null ? {} : { usage: scripted?.usage ?? DEFAULT_USAGE };
			send(res, 200, chatCompletion(model, assistantMessage(scripted, rec, state.answer), usage), scripted?.headers);
		}
	});

	return Object.assign(state, {
		...fake,
		baseUrl: `${fake.url}/v1`,
		reset: () => {
			fake.reset();
			state.jsonSchemaSupported = true;
		}
	});
}
