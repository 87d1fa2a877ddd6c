import { z } from "zod";
import { checkPrompts, listPrompts, promptFor, PROMPTS, templateVariables } from "../../agents/prompts";
import { createLlmProvider, LlmError, LocalProvider, OpenAIProvider } from "../../agents/providers/llm";
import { parseAnswer, renderTemplate, strictJsonSchema } from "../../agents/providers/llm/openai";
import type { LlmCall, Prompt } from "../../agents/providers/llm/types";
import { DEFAULT_USAGE, FAKE_MODEL, replies, startFakeLlmServer, strictProblems, type FakeLlmServer } from "../helpers/fake-llm-server";

const KEY = "sk-test-LLMSECRET-0123456789abcdef";
const FAST = { baseDelayMs: 5, maxDelayMs: 2000 };

const Answer = z.object({
	greeting: z.string().min(2).max(80),
	score: z.number().int().min(0).max(10),
	tags: z.array(z.string().min(1)).min(1),
	detail: z.object({ mood: z.enum(["calm", "lively"]), note: z.string() })
});
type Answer = z.infer<typeof Answer>;
const VALID: Answer = { greeting: "Hello Ada", score: 7, tags: ["kind"], detail: { mood: "calm", note: "fine" } };

const PROMPT: Prompt = {
	id: "test@1.2.0",
	agent: "test",
	version: "1.2.0",
	system: "You greet people.",
	template: "Name: {{name}}\nFacts: {{facts}}",
	model: { temperature: 0.2, max_tokens: 120 }
};

const call = (o: Partial<LlmCall<Answer>> = {}): LlmCall<Answer> => ({
	agent: "test",
	prompt: PROMPT,
	variables: { name: "Ada", facts: { likes: ["chess"], age: null } },
	schema: Answer,
	local: () => VALID,
	...o
});

/** Runs a call that must fail; answers the error. */
async function failure(p: Promise<unknown>): Promise<LlmError> {
	const err = await p.then(
		() => null,
		(e: unknown) => e
	);
	if (!(err instanceof LlmError)) throw new Error(`expected an LlmError, got ${String(err)}`);
	return err;
}

function expectNoKey(err: Error, key = KEY) {
	expect(err.message).not.toContain(key);
	expect(String(err.stack)).not.toContain(key);
	expect(JSON.stringify({ ...err, message: err.message })).not.toContain(key);
}

describe("OpenAIProvider against a fake chat-completions server", () => {
	let fake: FakeLlmServer;
	const provider = (o: Partial<ConstructorParameters<typeof OpenAIProvider>[0]> = {}) =>
		new OpenAIProvider({ baseUrl: fake.baseUrl, apiKey: KEY, model: "gpt-test", timeoutMs: 5000, maxAttempts: 3, ...FAST, ...o });

	beforeAll(async () => {
		fake = await startFakeLlmServer({ apiKey: KEY });
	});
	afterAll(() => fake.close());
	beforeEach(() => {
		fake.reset();
		fake.answer = () => JSON.stringify(VALID);
	});

	it("answers a valid reply, validated, with the model, prompt version and usage", async () => {
		const res = await provider().generate(call());
		expect(res).toEqual({ output: VALID, provider: "openai", model: FAKE_MODEL, prompt_id: "test@1.2.0", prompt_version: "1.2.0", usage: DEFAULT_USAGE, attempts: 1 });
		expect(fake.requests).toHaveLength(1);
	});

	it("sends the wire format: bearer key, system + rendered user message, prompt settings, strict json_schema, no streaming", async () => {
		await provider().generate(call());
		const req = fake.requests[0];
		expect(req.method).toBe("POST");
		expect(req.path).toBe("/v1/chat/completions");
		expect(req.headers.authorization).toBe(`Bearer ${KEY}`);
		expect(req.headers["content-type"]).toBe("application/json");
		expect(req.json.model).toBe("gpt-test");
		expect(req.json.messages).toEqual([
			{ role: "system", content: "You greet people." },
			{ role: "user", content: 'Name: "Ada"\nFacts: {"likes":["chess"],"age":null}' }
		]);
		expect(req.json.temperature).toBe(0.2);
		expect(req.json.max_tokens).toBe(120);
		expect(req.json.stream).toBe(false);
		const rf = req.json.response_format;
		expect(rf.type).toBe("json_schema");
		expect(rf.json_schema.name).toBe("test");
		expect(rf.json_schema.strict).toBe(true);
		expect(strictProblems(rf.json_schema.schema)).toEqual([]);
		expect(rf.json_schema.schema.properties.detail.required).toEqual(["mood", "note"]);
		expect(rf.json_schema.schema.properties.score).toMatchObject({ type: "integer", minimum: 0, maximum: 10 });
	});

	it("re-asks once on an invalid reply; the second request carries the bad answer and the correction", async () => {
		fake.script(replies.notJson(), replies.json(VALID));
		const res = await provider().generate(call());
		expect(res.output).toEqual(VALID);
		expect(res.attempts).toBe(2);
		expect(res.usage).toEqual({ prompt_tokens: 240, completion_tokens: 60, total_tokens: 300 });
		expect(fake.requests).toHaveLength(2);
		const second = fake.requests[1].json.messages;
		expect(second).toHaveLength(4);
		expect(second[2]).toEqual({ role: "assistant", content: "Sure! Here is what I think about the bio: it is lovely." });
		expect(second[3].role).toBe("user");
		expect(second[3].content).toMatch(/not usable: the reply was not valid JSON/);
		expect(fake.requests[0].json.messages).toHaveLength(2);
	});

	it("names the schema problem in the correction (out-of-range score)", async () => {
		fake.script(replies.json({ ...VALID, score: 42 }), replies.json(VALID));
		const res = await provider().generate(call());
		expect(res.attempts).toBe(2);
		expect(fake.requests[1].json.messages[3].content).toMatch(/did not match the schema \(score: /);
	});

	it("fails closed after two invalid replies: AGENT_FAILED, not retryable, exactly two requests", async () => {
		fake.script(replies.notJson(), replies.json({ greeting: "x" }));
		const err = await failure(provider().generate(call()));
		expect(err.type).toBe("AGENT_FAILED");
		expect(err.code).toBe(502);
		expect(err.retryable).toBe(false);
		expect(err.message).toMatch(/invalid output after a re-ask/);
		expect(err.data).toMatchObject({ agent: "test", provider: "openai", attempts: 2 });
		expect(fake.requests).toHaveLength(2);
		expectNoKey(err);
	});

	it("waits out a 429 with Retry-After, then succeeds", async () => {
		fake.script(replies.rateLimited(1));
		const started = Date.now();
		const res = await provider().generate(call());
		expect(Date.now() - started).toBeGreaterThanOrEqual(900);
		expect(res.output).toEqual(VALID);
		expect(res.attempts).toBe(1);
		expect(fake.requests).toHaveLength(2);
	});

	it("retries a 500, then succeeds; gives up after maxAttempts with a retryable AGENT_FAILED", async () => {
		fake.script(replies.serverError());
		await expect(provider().generate(call())).resolves.toMatchObject({ output: VALID });
		expect(fake.requests).toHaveLength(2);

		fake.reset();
		fake.script(replies.serverError(), replies.serverError(502), replies.serverError(503));
		const err = await failure(provider().generate(call()));
		expect(err.type).toBe("AGENT_FAILED");
		expect(err.retryable).toBe(true);
		expect(err.data).toMatchObject({ status: 503, attempts: 3 });
		expect(fake.requests).toHaveLength(3);
		expectNoKey(err);
	});

	it("times out a slow server: AGENT_TIMEOUT, retryable, within the deadline", async () => {
		fake.script(replies.slow(5000));
		const started = Date.now();
		const err = await failure(provider({ timeoutMs: 300 }).generate(call()));
		expect(Date.now() - started).toBeLessThan(2000);
		expect(err.type).toBe("AGENT_TIMEOUT");
		expect(err.code).toBe(504);
		expect(err.retryable).toBe(true);
		expect(err.message).toMatch(/timeout after 300 ms/);
		expectNoKey(err);
	});

	it("fails on a malformed body (not JSON) without a re-ask", async () => {
		fake.script(replies.malformed());
		const err = await failure(provider().generate(call()));
		expect(err.type).toBe("AGENT_FAILED");
		expect(err.message).toMatch(/invalid_json in reply/);
		expect(fake.requests).toHaveLength(1);
	});

	it("fails on a reply without choices", async () => {
		fake.script({ json: { id: "x", object: "chat.completion", choices: [] } });
		const err = await failure(provider().generate(call()));
		expect(err.message).toMatch(/unexpected reply/);
	});

	it("falls back to json_object when the server rejects json_schema, and remembers it for the agent", async () => {
		fake.jsonSchemaSupported = false;
		const p = provider();
		const res = await p.generate(call());
		expect(res.output).toEqual(VALID);
		expect(fake.requests.map(r => r.json.response_format.type)).toEqual(["json_schema", "json_object"]);
		const system = fake.requests[1].json.messages[0].content as string;
		expect(system).toMatch(/^You greet people\./);
		expect(system).toMatch(/JSON Schema/);
		expect(JSON.parse(system.slice(system.indexOf("{")))).toEqual(fake.requests[0].json.response_format.json_schema.schema);

		await p.generate(call());
		expect(fake.requests.map(r => r.json.response_format.type)).toEqual(["json_schema", "json_object", "json_object"]);
		// Another agent on the same provider still tries json_schema first.
		await p.generate(call({ agent: "other" }));
		expect(fake.requests[3].json.response_format.type).toBe("json_schema");
	});

	it("a one-off 400 about response_format also falls back", async () => {
		fake.script(replies.rejectJsonSchema());
		await expect(provider().generate(call())).resolves.toMatchObject({ output: VALID, attempts: 1 });
		expect(fake.requests.map(r => r.json.response_format.type)).toEqual(["json_schema", "json_object"]);
	});

	it("fails at once on a refusal (no re-ask)", async () => {
		fake.script(replies.refusal());
		const err = await failure(provider().generate(call()));
		expect(err.type).toBe("AGENT_FAILED");
		expect(err.message).toMatch(/refused/);
		expect(fake.requests).toHaveLength(1);
	});

	it("never passes the API key on, even when the server quotes it (401)", async () => {
		const wrong = "sk-WRONG-KEY-should-never-leak-42";
		const err = await failure(provider({ apiKey: wrong }).generate(call()));
		expect(err.type).toBe("AGENT_FAILED");
		expect(err.retryable).toBe(false);
		expect(err.data).toMatchObject({ status: 401, reason: "invalid_api_key" });
		expectNoKey(err, wrong);
		expect(fake.requests).toHaveLength(1);
	});

	it("sends no Authorization header without a key (local vLLM / Ollama)", async () => {
		const open = await startFakeLlmServer({ apiKey: null });
		try {
			open.answer = () => JSON.stringify(VALID);
			const res = await new OpenAIProvider({ baseUrl: `${open.baseUrl}/`, apiKey: null, model: "llama3", timeoutMs: 2000 }).generate(call());
			expect(res.output).toEqual(VALID);
			expect(open.requests[0].headers.authorization).toBeUndefined();
			expect(open.requests[0].path).toBe("/v1/chat/completions");
		} finally {
			await open.close();
		}
	});

	it("reports null usage when the server sends none", async () => {
		fake.script({ content: JSON.stringify(VALID), usage: null });
		await expect(provider().generate(call())).resolves.toMatchObject({ usage: null });
	});

	it("fails without a request when the prompt needs a variable the call lacks", async () => {
		const err = await failure(provider().generate(call({ variables: { name: "Ada" } })));
		expect(err.type).toBe("AGENT_FAILED");
		expect(err.message).toMatch(/"facts" is missing/);
		expect(fake.requests).toHaveLength(0);
	});
});

describe("OpenAI provider helpers", () => {
	it("renders {{name}} as JSON", () => {
		expect(renderTemplate("a={{a}} b={{ b }} a again={{a}}", { a: "x\"y", b: [1, { c: null }] })).toBe('a="x\\"y" b=[1,{"c":null}] a again="x\\"y"');
		expect(() => renderTemplate("{{missing}}", {})).toThrow(/missing/);
	});

	it("makes a zod schema strict-mode friendly: closed objects, every key required, no length keywords", () => {
		const s = strictJsonSchema(z.object({ a: z.string().min(3).max(9), b: z.array(z.object({ c: z.number().min(0) })).max(4), d: z.enum(["x", "y"]) }));
		expect(strictProblems(s)).toEqual([]);
		expect(s).not.toHaveProperty("$schema");
		expect(s).toMatchObject({ type: "object", additionalProperties: false, required: ["a", "b", "d"] });
		expect(s.properties).toMatchObject({ a: { type: "string" }, b: { maxItems: 4, items: { required: ["c"], additionalProperties: false, properties: { c: { minimum: 0 } } } } });
		expect((s.properties as { a: object }).a).not.toHaveProperty("minLength");
	});

	it("parses a reply, tolerating a ```json fence, and names problems without quoting the reply", () => {
		expect(parseAnswer('```json\n{"greeting":"hi","score":1,"tags":["a"],"detail":{"mood":"calm","note":""}}\n```', Answer)).toMatchObject({ ok: true });
		expect(parseAnswer("", Answer)).toEqual({ ok: false, problem: "the reply was empty" });
		expect(parseAnswer("{nope", Answer)).toEqual({ ok: false, problem: "the reply was not valid JSON" });
		const bad = parseAnswer('{"greeting":"SECRET-CONTENT","score":"high"}', Answer);
		expect(bad.ok).toBe(false);
		if (!bad.ok) {
			expect(bad.problem).toMatch(/score/);
			expect(bad.problem).not.toContain("SECRET-CONTENT");
		}
	});
});

describe("LocalProvider and createLlmProvider", () => {
	it("answers call.local(), validated, as provider local / model rules-v1 without usage", async () => {
		const res = await new LocalProvider().generate(call());
		expect(res).toEqual({ output: VALID, provider: "local", model: "rules-v1", prompt_id: "test@1.2.0", prompt_version: "1.2.0", usage: null, attempts: 1 });
	});

	it("fails closed when the local rules break the schema", async () => {
		const err = await failure(new LocalProvider().generate(call({ local: () => ({ ...VALID, score: 99 }) })));
		expect(err.type).toBe("AGENT_FAILED");
		expect(err.message).toMatch(/score/);
	});

	it("picks the provider from the settings", () => {
		const base = { baseUrl: "http://127.0.0.1:1/v1", apiKey: KEY, model: "m", timeoutMs: 1000, maxAttempts: 2 };
		expect(createLlmProvider({ ...base, provider: "local" })).toBeInstanceOf(LocalProvider);
		const openai = createLlmProvider({ ...base, provider: "openai" });
		expect(openai).toBeInstanceOf(OpenAIProvider);
		expect(openai.name).toBe("openai");
		// The key is not an enumerable property: logging the provider does not print it.
		expect(JSON.stringify(openai)).not.toContain(KEY);
		expect(require("node:util").inspect(openai, { depth: 5 })).not.toContain(KEY);
	});
});

describe("prompt registry", () => {
	const v = (version: string, template = "x {{a}}"): Prompt => ({ id: `demo@${version}`, agent: "demo", version, system: "s", template });

	it("holds every agent's prompts once, well-formed, with model settings", () => {
		expect(new Set(PROMPTS.map(p => p.id)).size).toBe(PROMPTS.length);
		for (const p of PROMPTS) {
			expect(p.id).toBe(`${p.agent}@${p.version}`);
			expect(p.system.length).toBeGreaterThan(50);
			expect(templateVariables(p.template).length).toBeGreaterThan(0);
			expect(Object.isFrozen(p)).toBe(true);
		}
		expect(PROMPTS.map(p => p.agent)).toEqual(expect.arrayContaining(["bio", "vibe_analysis"]));
	});

	it("lists the variables each template uses (what the agents pass)", () => {
		const byId = new Map(listPrompts().map(p => [p.id, p]));
		expect(byId.get("bio@1.0.0")?.variables).toEqual(["text", "features", "past_analyses"]);
		expect(byId.get("vibe_analysis@1.0.0")?.variables).toEqual(["bio_text", "bio_features", "vision_summary", "recent_perceptions"]);
	});

	it("answers the newest version by default, or the one asked for", () => {
		const reg = checkPrompts([v("1.2.0"), v("1.10.0"), v("1.9.3")]);
		expect(promptFor("demo", undefined, reg).version).toBe("1.10.0");
		expect(promptFor("demo", "1.2.0", reg).version).toBe("1.2.0");
		expect(() => promptFor("demo", "2.0.0", reg)).toThrow(/no prompt version 2\.0\.0 \(has 1\.2\.0, 1\.10\.0, 1\.9\.3\)/);
		expect(() => promptFor("nobody")).toThrow(/no prompt for agent "nobody"/);
		expect(listPrompts(reg).map(p => p.version)).toEqual(["1.2.0", "1.9.3", "1.10.0"]);
	});

	it("rejects a malformed registry at load", () => {
		expect(() => checkPrompts([v("1.0.0"), v("1.0.0")])).toThrow(/duplicate id/);
		expect(() => checkPrompts([v("1.0.0"), { ...v("1.0.0"), id: "other" }])).toThrow(/already has version 1\.0\.0/);
		expect(() => checkPrompts([v("v1")])).toThrow(/not major\.minor\.patch/);
		expect(() => checkPrompts([v("1.0.0", "Hello {{ name ")])).toThrow(/malformed placeholder/);
		expect(() => checkPrompts([{ ...v("1.0.0"), system: " " }])).toThrow(/required/);
	});
});
