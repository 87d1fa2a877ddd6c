import { randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

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

export interface LlmRequest {
	method: string;
	path: string;
	headers: IncomingHttpHeaders;
	/** As received, to search for leaked secrets. */
	rawBody: string;
	json: any;
}

export interface LlmReply {
	/** Wait this long before answering (a slow server). */
	delayMs?: number;
	status?: number;
	headers?: Record<string, string>;
	/** Answer this raw text (e.g. a malformed body). */
	text?: string;
	/** Answer this JSON instead of a completion. */
	json?: unknown;
	/** The assistant content of an otherwise valid completion. */
	content?: string | ((req: LlmRequest) => string);
	refusal?: string;
	/** Usage to report (null: none). */
	usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
	/** Answer 400 to a json_schema response_format, as a server without structured output does. */
	rejectJsonSchema?: boolean;
}

export interface FakeLlmServer {
	url: string;
	/** Base URL to configure (`…/v1`). */
	baseUrl: string;
	requests: LlmRequest[];
	/** The content of an unscripted reply. */
	answer: (req: LlmRequest) => string;
	/** When false, every json_schema request gets the 400 a server without structured output sends. */
	jsonSchemaSupported: boolean;
	script(...replies: LlmReply[]): void;
	pending(): number;
	reset(): void;
	close(): Promise<void>;
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

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) {
	if (res.destroyed || res.writableEnded) return;
	try {
		res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
		res.end(body);
	} catch {
		/* the client went away */
	}
}

export async function startFakeLlmServer(o: { apiKey?: string | null; model?: string } = {}): Promise<FakeLlmServer> {
	const apiKey = o.apiKey ?? null;
	const model = o.model ?? FAKE_MODEL;
	const queue: LlmReply[] = [];
	const requests: LlmRequest[] = [];
	const state = {
		answer: (() => JSON.stringify({ ok: true })) as (req: LlmRequest) => string,
		jsonSchemaSupported: true
	};
	const error = (res: ServerResponse, status: number, message: string, type: string, code: string | null, param: string | null = null, headers?: Record<string, string>) =>
		send(res, status, JSON.stringify({ error: { message, type, param, code } }), headers);

	const server = createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on("data", c => chunks.push(c as Buffer));
		req.on("end", () => {
			void (async () => {
				const body = Buffer.concat(chunks);
				let json: unknown;
				try {
					json = JSON.parse(body.toString("utf8"));
				} catch {
					json = undefined;
				}
				const rec: LlmRequest = { method: req.method ?? "", path: req.url ?? "", headers: req.headers, rawBody: body.toString("latin1"), json };
				requests.push(rec);
				const scripted = queue.shift();
				if (scripted?.delayMs) {
					await new Promise<void>(resolve => {
						const t = setTimeout(resolve, scripted.delayMs);
						res.once("close", () => {
							clearTimeout(t);
							resolve();
						});
					});
				}
				if (scripted?.text !== undefined) return send(res, scripted.status ?? 200, scripted.text, scripted.headers);
				if (scripted?.json !== undefined) return send(res, scripted.status ?? 200, JSON.stringify(scripted.json), scripted.headers);
				if (scripted?.status && scripted.status !== 200) {
					if (scripted.status === 429) return error(res, 429, "Rate limit reached for requests", "requests", "rate_limit_exceeded", null, scripted.headers);
					return error(res, scripted.status, "The server had an error while processing your request.", "server_error", null, null, scripted.headers);
				}

				// The real API from here on.
				if (req.method !== "POST" || req.url !== "/v1/chat/completions") return error(res, 404, `Unknown request URL: ${req.method} ${req.url}`, "invalid_request_error", "unknown_url");
				const auth = req.headers.authorization;
				if (apiKey !== null && auth !== `Bearer ${apiKey}`) {
					// The real message quotes the key it was given: a client must not pass it on.
					return error(res, 401, `Incorrect API key provided: ${(auth ?? "").replace(/^Bearer /, "")}. You can find your API key at https://platform.openai.com/account/api-keys.`, "invalid_request_error", "invalid_api_key");
				}
				const b = json as Record<string, any> | undefined;
				if (!b) return error(res, 400, "We could not parse the JSON body of your request.", "invalid_request_error", null);
				if (typeof b.model !== "string" || !b.model) return error(res, 400, "you must provide a model parameter", "invalid_request_error", null, "model");
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
					if (!s?.name || !/^[A-Za-z0-9_-]{1,64}$/.test(s.name) || typeof s.schema !== "object") {
						return error(res, 400, "Invalid 'response_format.json_schema'.", "invalid_request_error", "invalid_value", "response_format");
					}
					const problems = s.strict === true ? strictProblems(s.schema) : [];
					if (problems.length) return error(res, 400, `Invalid schema for response_format '${s.name}': ${problems[0]}.`, "invalid_request_error", "invalid_json_schema", "response_format");
				} else if (rf?.type === "json_object") {
					if (!b.messages.some((m: any) => /json/i.test(m.content))) {
						return error(res, 400, "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.", "invalid_request_error", null, "messages");
					}
				} else if (rf !== undefined) {
					return error(res, 400, "Invalid 'response_format.type'.", "invalid_request_error", "invalid_value", "response_format");
				}
				const refusal = scripted?.refusal ?? null;
				const content = refusal ? null : typeof scripted?.content === "function" ? scripted.content(rec) : (scripted?.content ?? state.answer(rec));
				send(
					res,
					200,
					JSON.stringify({
						id: `chatcmpl-${randomBytes(8).toString("hex")}`,
						object: "chat.completion",
						created: Math.floor(Date.now() / 1000),
						model,
						choices: [{ index: 0, message: { role: "assistant", content, refusal }, logprobs: null, finish_reason: "stop" }],
						...(scripted?.usage === null ? {} : { usage: scripted?.usage ?? DEFAULT_USAGE })
					}),
					scripted?.headers
				);
			})().catch(err => send(res, 500, JSON.stringify({ error: { message: String(err), type: "server_error" } })));
		});
	});
	await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
	const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

	return Object.assign(state, {
		url,
		baseUrl: `${url}/v1`,
		requests,
		script: (...r: LlmReply[]) => void queue.push(...r),
		pending: () => queue.length,
		reset: () => {
			queue.length = 0;
			requests.length = 0;
			state.jsonSchemaSupported = true;
		},
		close: () =>
			new Promise<void>(resolve => {
				server.closeAllConnections();
				server.close(() => resolve());
			})
	});
}
