import { z } from "zod";
import { policyOf, ProviderHttpError, requestWithRetry, scrub, type RetryPolicy } from "../http";
import { ChatReply as ChatChoices, chatCompletionsUrl, openaiErrorCode, parseJsonAnswer, reaskMessage } from "../openai-chat";
import { LlmError } from "./local";
import type { LlmCall, LlmProvider, LlmResult, LlmUsage } from "./types";

/**
 * Any OpenAI-compatible Chat Completions API (OpenAI, OpenRouter, vLLM, Ollama, LM Studio …):
 * `POST {baseUrl}/chat/completions`, `Authorization: Bearer <key>` when a key is set.
 *
 * Plain `fetch` through ../http.ts rather than the `openai` SDK, as the vision provider does:
 * one request shape, and the shared client gives one deadline for the whole call, bounded
 * retries with backoff on 429/5xx (honouring Retry-After) and secret scrubbing; the SDK would
 * add its own different retries on top, and the fake server in the tests checks the wire format.
 *
 * - Messages: the prompt's system text, then its template with each `{{name}}` replaced by the
 *   JSON of `variables[name]`. Temperature and max_tokens come from the prompt; stream is off.
 * - Structured output: `response_format: json_schema` (strict) from the agent's zod schema, made
 *   strict-mode friendly (every object closed and every key required; keywords strict mode
 *   rejects, such as minLength, are left to the zod check). A server that answers 400 about
 *   response_format gets `json_object` instead, with the schema in the system message; that
 *   choice is remembered per agent.
 * - The answer is parsed as JSON (a ```json fence is tolerated) and validated with the zod
 *   schema. An invalid answer is re-asked once, with the invalid answer and the problem in the
 *   conversation; a second invalid answer fails closed (`AGENT_FAILED`). A refusal fails at once.
 * - Failures are `LlmError`s: `AGENT_TIMEOUT` when the deadline passes (the first question and
 *   a re-ask share it), `AGENT_FAILED` otherwise, retryable when the HTTP failure was.
 * - `usage` adds up the token counts of the replies (null when the server reports none).
 */

export interface OpenAIProviderOptions extends RetryPolicy {
	/** e.g. `https://api.openai.com/v1` (no trailing `/chat/completions`). */
	baseUrl: string;
	/** Null for servers that need none (a local vLLM or Ollama). */
	apiKey: string | null;
	model: string;
	/** The deadline of one `generate`, re-ask and retries included. */
	timeoutMs: number;
}

type Message = { role: "system" | "user" | "assistant"; content: string };

const ChatReply = ChatChoices.extend({
	usage: z
		.object({ prompt_tokens: z.number().int().min(0), completion_tokens: z.number().int().min(0), total_tokens: z.number().int().min(0) })
		.partial()
		.nullable()
		.optional()
});

const RESPONSE_FORMAT_REJECTED = "response_format_unsupported";

/** A short reason from an error reply: its code or type, never its message (OpenAI's 401 quotes the key). */
function openaiReason(status: number, text: string): string | null {
	// A 400 that names response_format / json_schema: the server does not do structured output.
	if (status === 400 && /response_format|json_schema/i.test(text)) return RESPONSE_FORMAT_REJECTED;
	return openaiErrorCode(text);
}

/** `{{name}}` → the JSON of `variables[name]`; a name the call did not provide is a bug. */
export function renderTemplate(template: string, variables: Record<string, unknown>): string {
	return template.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_, name: string) => {
		if (!(name in variables) || variables[name] === undefined) throw new Error(`prompt variable "${name}" is missing`);
		return JSON.stringify(variables[name]);
	});
}

/** JSON Schema keywords strict structured output does not accept; zod still checks them. */
const UNSUPPORTED = new Set(["$schema", "minLength", "maxLength", "default", "examples", "propertyNames", "patternProperties", "minProperties", "maxProperties", "unevaluatedProperties", "uniqueItems", "contains"]);

function tighten(node: unknown): unknown {
	if (Array.isArray(node)) return node.map(tighten);
	if (!node || typeof node !== "object") return node;
	const out: Record<string, unknown> = {};
	for (const [k, v] of Object.entries(node)) {
		if (UNSUPPORTED.has(k)) continue;
		if (k === "properties" && v && typeof v === "object") out[k] = Object.fromEntries(Object.entries(v).map(([p, s]) => [p, tighten(s)]));
		else if (k === "oneOf") out.anyOf = tighten(v);
		else out[k] = tighten(v);
	}
	if (out.type === "object" || out.properties) {
		const props = (out.properties ?? {}) as Record<string, unknown>;
		out.properties = props;
		out.required = Object.keys(props);
		out.additionalProperties = false;
	}
	return out;
}

/** The schema sent as `response_format.json_schema.schema`. Answer schemas have no optional keys. */
export function strictJsonSchema(schema: z.ZodType): Record<string, unknown> {
	return tighten(z.toJSONSchema(schema, { io: "input" })) as Record<string, unknown>;
}

/** Validates a model's message content; answers the value or a short problem (no content quoted). */
export function parseAnswer<T>(content: string | null | undefined, schema: z.ZodType<T>): { ok: true; value: T } | { ok: false; problem: string } {
	return parseJsonAnswer(content, schema, 4);
}

const schemaName = (agent: string) => agent.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64) || "answer";

function addUsage(total: LlmUsage | null, u: z.infer<typeof ChatReply>["usage"]): LlmUsage | null {
	if (!u || (u.prompt_tokens === undefined && u.completion_tokens === undefined && u.total_tokens === undefined)) return total;
	const p = u.prompt_tokens ?? 0;
	const c = u.completion_tokens ?? 0;
	const t = u.total_tokens ?? p + c;
	return { prompt_tokens: (total?.prompt_tokens ?? 0) + p, completion_tokens: (total?.completion_tokens ?? 0) + c, total_tokens: (total?.total_tokens ?? 0) + t };
}

export class OpenAIProvider implements LlmProvider {
	readonly name = "openai";
	readonly model: string;
	readonly #url: string;
	readonly #apiKey: string | null;
	readonly #timeoutMs: number;
	readonly #policy: RetryPolicy;
	/** Agents whose json_schema response_format this server rejected: they use json_object. */
	readonly #jsonObjectOnly = new Set<string>();

	constructor(o: OpenAIProviderOptions) {
		this.model = o.model;
		this.#url = chatCompletionsUrl(o.baseUrl);
		this.#apiKey = o.apiKey;
		this.#timeoutMs = o.timeoutMs;
		this.#policy = policyOf(o);
	}

	async generate<T>(call: LlmCall<T>): Promise<LlmResult<T>> {
		const started = Date.now();
		const secrets = [this.#apiKey];
		const fail = (message: string, retryable: boolean, data: Record<string, unknown> = {}) =>
			new LlmError("AGENT_FAILED", scrub(`${call.agent}: ${message}`, secrets, 300), retryable, { agent: call.agent, provider: this.name, ...data });

		let user: string;
		let schema: Record<string, unknown> | null;
		try {
			user = renderTemplate(call.prompt.template, call.variables);
		} catch (err) {
			throw fail((err as Error).message, false);
		}
		try {
			schema = strictJsonSchema(call.schema);
		} catch {
			schema = null; // not representable as JSON Schema: JSON mode, the zod check still applies
		}
		const conversation: Message[] = [{ role: "user", content: user }];
		let usage: LlmUsage | null = null;
		let model = this.model;
		let answers = 0;

		const ask = async (): Promise<string | null | undefined> => {
			for (;;) {
				const structured = schema !== null && !this.#jsonObjectOnly.has(call.agent);
				const system = structured || !schema ? call.prompt.system : `${call.prompt.system}\n\nAnswer with one JSON object that matches this JSON Schema:\n${JSON.stringify(schema)}`;
				const remaining = this.#timeoutMs - (Date.now() - started);
				if (remaining <= 0) throw new LlmError("AGENT_TIMEOUT", `${call.agent}: openai: timeout after ${this.#timeoutMs} ms`, true, { agent: call.agent, provider: this.name });
				let text: string;
				try {
					const reply = await requestWithRetry({
						...this.#policy,
						provider: "openai",
						url: this.#url,
						headers: { "content-type": "application/json", accept: "application/json", ...(this.#apiKey ? { authorization: `Bearer ${this.#apiKey}` } : {}) },
						body: JSON.stringify({
							model: this.model,
							messages: [{ role: "system", content: system }, ...conversation],
							temperature: call.prompt.model?.temperature,
							max_tokens: call.prompt.model?.max_tokens,
							stream: false,
							response_format: structured ? { type: "json_schema", json_schema: { name: schemaName(call.agent), strict: true, schema } } : { type: "json_object" }
						}),
						timeoutMs: remaining,
						secrets,
						reasonOf: openaiReason
					});
					text = reply.text;
				} catch (err) {
					if (!(err instanceof ProviderHttpError)) throw fail("request failed", true);
					if (structured && err.status === 400 && err.reason === RESPONSE_FORMAT_REJECTED) {
						this.#jsonObjectOnly.add(call.agent);
						continue;
					}
					const data = { status: err.status, reason: err.reason, attempts: err.attempts };
					if (err.status === null && err.reason.startsWith("timeout")) throw new LlmError("AGENT_TIMEOUT", `${call.agent}: openai: timeout after ${this.#timeoutMs} ms`, true, { agent: call.agent, provider: this.name, ...data });
					throw fail(err.message, err.retryable, data);
				}
				let body: unknown;
				try {
					body = JSON.parse(text);
				} catch {
					throw fail("openai: invalid_json in reply", true);
				}
				const chat = ChatReply.safeParse(body);
				if (!chat.success) throw fail("openai: unexpected reply (no choices[0].message)", true);
				answers++;
				usage = addUsage(usage, chat.data.usage);
				model = chat.data.model ?? model;
				const msg = chat.data.choices[0].message;
				if (msg.refusal) throw fail("openai: the model refused to answer", false);
				return msg.content;
			}
		};

		let content = await ask();
		let result = parseAnswer(content, call.schema);
		if (!result.ok) {
			// One re-ask with the problem stated; then fail closed.
			conversation.push({ role: "assistant", content: content ?? "" });
			conversation.push({ role: "user", content: reaskMessage(result.problem) });
			content = await ask();
			result = parseAnswer(content, call.schema);
			if (!result.ok) throw fail(`invalid output after a re-ask: ${result.problem}`, false, { attempts: answers });
		}
		return { output: result.value, provider: this.name, model, prompt_id: call.prompt.id, prompt_version: call.prompt.version, usage, attempts: answers };
	}
}
