import { randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * The plumbing of the fake provider servers (fake-llm-server.ts, fake-vision-servers.ts): a
 * server on 127.0.0.1 (port 0) that records every request and plays scripted replies before
 * answering as the real API would, plus the OpenAI Chat Completions wire bits both OpenAI
 * fakes speak.
 */

export interface RecordedRequest {
	method: string;
	path: string;
	headers: IncomingHttpHeaders;
	/** The body as received (latin1), to search for leaked secrets. */
	rawBody: string;
	/** Face++: the form fields (file fields as their text). */
	fields?: Record<string, string>;
	/** OpenAI: the parsed JSON body. */
	json?: any;
}

export interface ScriptedReply<Q extends RecordedRequest = RecordedRequest> {
	/** Wait this long before answering (a slow provider). */
	delayMs?: number;
	status?: number;
	headers?: Record<string, string>;
	/** Answer this JSON instead of the protocol's own reply. */
	json?: unknown;
	/** Answer this raw text (e.g. malformed JSON) instead of the protocol's own reply. */
	text?: string;
	/** OpenAI: the assistant message content to answer with (a valid completion around it). */
	content?: string | ((req: Q) => string);
	/** OpenAI: answer a refusal instead of content. */
	refusal?: string;
}

export interface FakeServer<R extends ScriptedReply<Q> = ScriptedReply, Q extends RecordedRequest = RecordedRequest> {
	url: string;
	requests: Q[];
	/** Queue replies for the next requests; when the queue is empty the server answers as the real API. */
	script(...replies: R[]): void;
	/** Replies still queued. */
	pending(): number;
	reset(): void;
	close(): Promise<void>;
}

export function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) {
	if (res.destroyed || res.writableEnded) return;
	try {
		res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
		res.end(body);
	} catch {
		/* the client went away (it timed out) */
	}
}

/** Waits, but no longer than the client stays connected (a timed-out client ends the wait). */
const delay = (ms: number, res: ServerResponse) =>
	new Promise<void>(resolve => {
		const t = setTimeout(resolve, ms);
		res.once("close", () => {
			clearTimeout(t);
			resolve();
		});
	});

function readBody(req: IncomingMessage): Promise<Buffer> {
	return new Promise((resolve, reject) => {
		const chunks: Buffer[] = [];
		req.on("data", c => chunks.push(c as Buffer));
		req.on("end", () => resolve(Buffer.concat(chunks)));
		req.on("error", reject);
	});
}

export interface ScriptedServerOptions<R extends ScriptedReply<Q>, Q extends RecordedRequest> {
	/** What is recorded of a request. */
	record(req: IncomingMessage, body: Buffer): Q | Promise<Q>;
	/** The protocol's error reply for a scripted status other than 200. */
	scriptedError(res: ServerResponse, status: number, headers?: Record<string, string>): void;
	/** The real API: answers a request no scripted text, JSON or error status took. */
	handle(req: IncomingMessage, res: ServerResponse, rec: Q, scripted: R | undefined): Promise<void> | void;
}

/**
 * Starts a fake: every request is recorded, then the next scripted reply (if any) is played —
 * its delay, then its raw text, JSON or error status — and otherwise `handle` answers.
 */
export async function startScriptedServer<R extends ScriptedReply<Q>, Q extends RecordedRequest>(o: ScriptedServerOptions<R, Q>): Promise<FakeServer<R, Q>> {
	const queue: R[] = [];
	const requests: Q[] = [];
	const server = createServer((req, res) => {
		readBody(req)
			.then(async body => {
				const rec = await o.record(req, body);
				requests.push(rec);
				const scripted = queue.shift();
				if (scripted?.delayMs) await delay(scripted.delayMs, res);
				if (scripted?.text !== undefined) return send(res, scripted.status ?? 200, scripted.text, scripted.headers);
				if (scripted?.json !== undefined) return send(res, scripted.status ?? 200, JSON.stringify(scripted.json), scripted.headers);
				if (scripted?.status && scripted.status !== 200) return o.scriptedError(res, scripted.status, scripted.headers);
				return o.handle(req, res, rec, scripted);
			})
			.catch(err => send(res, 500, JSON.stringify({ error: { message: String(err), type: "server_error" } })));
	});
	await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
	return {
		url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
		requests,
		script: (...r: R[]) => void queue.push(...r),
		pending: () => queue.length,
		reset: () => {
			queue.length = 0;
			requests.length = 0;
		},
		close: () =>
			new Promise<void>(resolve => {
				server.closeAllConnections();
				server.close(() => resolve());
			})
	};
}

// ---------------------------------------------------------------------------------------------
// OpenAI-compatible Chat Completions
// ---------------------------------------------------------------------------------------------

/** A request with its body parsed as JSON (undefined when it is not JSON). */
export function recordJson(req: IncomingMessage, body: Buffer): RecordedRequest & { json: any } {
	let json: unknown;
	try {
		json = JSON.parse(body.toString("utf8"));
	} catch {
		json = undefined;
	}
	return { method: req.method ?? "", path: req.url ?? "", headers: req.headers, rawBody: body.toString("latin1"), json };
}

/** An error as OpenAI sends it: `{error:{message,type,param,code}}`. */
export function openaiError(res: ServerResponse, status: number, message: string, type: string, code: string | null, param: string | null = null, headers?: Record<string, string>) {
	send(res, status, JSON.stringify({ error: { message, type, param, code } }), headers);
}

/** A scripted error status: a rate limit for 429, a server error otherwise. */
export function openaiScriptedError(res: ServerResponse, status: number, headers?: Record<string, string>) {
	if (status === 429) return openaiError(res, 429, "Rate limit reached for requests", "requests", "rate_limit_exceeded", null, headers);
	return openaiError(res, status, "The server had an error while processing your request.", "server_error", null, null, headers);
}

/**
 * The checks every request meets first, as the real API makes them: the URL, the key (when one
 * is set), a JSON body and a model. Answers true when it has answered with an error.
 */
export function openaiRejected(req: IncomingMessage, res: ServerResponse, json: any, apiKey: string | null): boolean {
	if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
		openaiError(res, 404, `Unknown request URL: ${req.method} ${req.url}`, "invalid_request_error", "unknown_url");
		return true;
	}
	const auth = req.headers.authorization ?? "";
	if (apiKey !== null && auth !== `Bearer ${apiKey}`) {
		// The real message quotes the key it was given: a client must not pass it on.
		openaiError(res, 401, `Incorrect API key provided: ${auth.replace(/^Bearer /, "")}. You can find your API key at https://platform.openai.com/account/api-keys.`, "invalid_request_error", "invalid_api_key");
		return true;
	}
	if (!json) {
		openaiError(res, 400, "We could not parse the JSON body of your request.", "invalid_request_error", null);
		return true;
	}
	if (typeof json.model !== "string" || !json.model) {
		openaiError(res, 400, "you must provide a model parameter", "invalid_request_error", null, "model");
		return true;
	}
	return false;
}

/** Is a `response_format.json_schema` well formed (a valid name and a schema object)? */
export const validJsonSchemaFormat = (s: any) => Boolean(s?.name && /^[A-Za-z0-9_-]{1,64}$/.test(s.name) && typeof s.schema === "object");

/** The assistant message of a "real" reply: the scripted refusal or content, else `answer(req)`. */
export function assistantMessage<Q extends RecordedRequest>(scripted: ScriptedReply<Q> | undefined, rec: Q, answer: (req: Q) => string): { content: string | null; refusal: string | null } {
	const refusal = scripted?.refusal ?? null;
	const content = refusal ? null : typeof scripted?.content === "function" ? scripted.content(rec) : (scripted?.content ?? answer(rec));
	return { content, refusal };
}

/** A `chat.completion` body with one choice; `extra` adds top-level fields (usage …). */
export function chatCompletion(model: string, message: { content: string | null; refusal: string | null } & Record<string, unknown>, extra: Record<string, unknown> = {}): string {
	return JSON.stringify({
		id: `chatcmpl-${randomBytes(12).toString("hex")}`,
		object: "chat.completion",
		created: Math.floor(Date.now() / 1000),
		model,
		choices: [{ index: 0, message: { role: "assistant", ...message }, logprobs: null, finish_reason: "stop" }],
		...extra
	});
}
