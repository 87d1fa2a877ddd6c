import { runAgent } from "../../agents/agent";
import { bio, BIO_RULES, BioAnswer, BioInput, BioOutput, readBio, type BioDeps } from "../../agents/bio";
import { promptFor } from "../../agents/prompts";
import { LlmError, LocalProvider, OpenAIProvider } from "../../agents/providers/llm";
import type { LlmCall, LlmProvider, LlmResult } from "../../agents/providers/llm/types";
import { extractFeatures } from "../../agents/text/features";
import { FAKE_MODEL, replies, startFakeLlmServer, type FakeLlmServer } from "../helpers/fake-llm-server";

const ENGINEER =
	"I'm a backend engineer at Stripe in Berlin. I build payment APIs and I lead a team of 6 people. Maybe I think I'm kind of good at it!! 🚀 Love hiking and sourdough baking on weekends.";
const TEACHER =
	"Primary school teacher and mum of two. I have taught maths for 12 years and I organise our town's book club every month. Ask me about my favourite novels or my garden, which is slowly turning into a jungle.";
const VAGUE = "i like stuff and things. not sure what to write lol";
const NEGATIVE = "I hate mornings and I can't stand rude people. I'm not happy with my job and tired of everything.";
const LOUD = "BEST LIFE EVER!!! 🎉🎉🎉 PARTY EVERY WEEKEND!!! LOVE MY CREW!!! 😎😎";
const WORDY =
	"Having spent considerable time contemplating the multifaceted intricacies of organisational transformation, interdisciplinary collaboration and sustainable infrastructure development, I consistently endeavour to facilitate meaningful conversations regarding technological innovation, philosophical inquiry and environmental responsibility across heterogeneous communities internationally.";
const CORPUS = [ENGINEER, TEACHER, VAGUE, NEGATIVE, LOUD, WORDY, "Nurse. Runner. Reader.", `${TEACHER} ${ENGINEER} `.repeat(20).slice(0, 5000)];

const local: BioDeps = { llm: new LocalProvider() };
const read = (text: string, past?: BioInput["past_analyses"]) => runAgent(bio, { text, past_analyses: past }, local);

describe("bio agent on the local provider", () => {
	it("is deterministic: the same bio gives the identical output", async () => {
		const a = await read(ENGINEER);
		const b = await read(ENGINEER);
		expect(b).toEqual(a);
	});

	it("records the provider, model, prompt version and the measured features", async () => {
		const out = await read(TEACHER);
		expect(out).toMatchObject({ provider: "local", model: "rules-v1", prompt_version: promptFor("bio").version });
		expect(out.features).toEqual(extractFeatures(TEACHER));
	});

	it.each(CORPUS.map((t, i) => [i, t]))("keeps every field in range (corpus #%i)", async (_, text) => {
		const out = await read(text);
		expect(BioOutput.safeParse(out).success).toBe(true);
		expect(out.confidence).toBeGreaterThanOrEqual(0);
		expect(out.confidence).toBeLessThanOrEqual(BIO_RULES.confidence.cap);
		expect(out.strengths.length).toBeGreaterThanOrEqual(1);
		expect(out.strengths.length).toBeLessThanOrEqual(BIO_RULES.maxStrengths);
		expect(out.weaknesses.length).toBeLessThanOrEqual(BIO_RULES.maxWeaknesses);
		expect(out.improvements.length).toBeGreaterThanOrEqual(1);
		expect(out.improvements.length).toBeLessThanOrEqual(BIO_RULES.maxImprovements);
		expect(out.tags.length).toBeGreaterThanOrEqual(1);
		for (const t of out.tags) expect(t).toBe(t.toLowerCase());
		expect(out.features.sentiment).toBeGreaterThanOrEqual(-1);
		expect(out.features.sentiment).toBeLessThanOrEqual(1);
		expect(out.features.readability).toBeGreaterThanOrEqual(0);
		expect(out.features.readability).toBeLessThanOrEqual(100);
		expect(out.features.specificity).toBeGreaterThanOrEqual(0);
		expect(out.features.specificity).toBeLessThanOrEqual(1);
	});

	it("gives two different bios different, relevant readings", async () => {
		const eng = await read(ENGINEER);
		const tea = await read(TEACHER);
		expect(eng.vibe_summary).not.toBe(tea.vibe_summary);
		expect(eng.strengths).not.toEqual(tea.strengths);
		expect(eng.tags).not.toEqual(tea.tags);
		// Each reading names its own bio's topics and quotes its own words.
		expect(eng.tags).toEqual(expect.arrayContaining(["tech", "outdoors"]));
		expect(tea.tags).toEqual(expect.arrayContaining(["reading", "learning"]));
		expect(eng.strengths.join(" ")).toMatch(/I build payment APIs/);
		expect(eng.strengths.join(" ")).toMatch(/Stripe/);
		expect(tea.strengths.join(" ")).toMatch(/I have taught maths for 12 years/);
		expect(tea.strengths.join(" ")).toMatch(/teacher/);
		expect(eng.vibe_summary).toMatch(/tech/);
		expect(tea.vibe_summary).toMatch(/reading/);
		// Neither mentions the other's world.
		expect(JSON.stringify([eng.strengths, eng.improvements])).not.toMatch(/teacher|maths|novel/i);
		expect(JSON.stringify([tea.strengths, tea.improvements])).not.toMatch(/Stripe|backend|hiking/i);
	});

	it("rewrites a hedged sentence in the person's own words", async () => {
		const out = await read(ENGINEER);
		expect(out.weaknesses.join(" ")).toMatch(/Hedging \("maybe", "i think" and "kind of"\)/);
		expect(out.improvements[0]).toBe('Say it without the hedge: "I\'m good at it!!" instead of "Maybe I think I\'m kind of good at it!!".');
		expect(out.tags).toContain("tentative");
	});

	it("asks a vague, short bio for specifics, kindly", async () => {
		const out = await read(VAGUE);
		const weak = out.weaknesses.join(" ");
		expect(weak).toMatch(/"stuff" and "things"/);
		expect(weak).toMatch(/Few specifics/);
		expect(out.improvements.join(" ")).toMatch(/Replace "stuff" with the actual thing/);
		expect(out.confidence).toBeLessThan((await read(TEACHER)).confidence);
		for (const line of [...out.weaknesses, ...out.improvements]) expect(line).not.toMatch(/\b(bad|boring|stupid|ugly|lazy)\b/i);
	});

	it("names a negative tone with its own words and suggests a reframe", async () => {
		const out = await read(NEGATIVE);
		expect(out.features.tone).toBe("downbeat");
		expect(out.weaknesses.join(" ")).toMatch(/leans negative \("hate", "can't stand" and "rude"\)/);
		expect(out.improvements.join(" ")).toMatch(/Turn "hate" into what you enjoy/);
		expect(out.tags).toContain("candid");
		// What the person dislikes is not offered as a conversation opener.
		expect(out.improvements.join(" ")).not.toMatch(/Ask me about morning/);
	});

	it("calls out shouting and long sentences with a specific fix", async () => {
		const loud = await read(LOUD);
		expect(loud.features.tone).toBe("intense");
		expect(loud.improvements.join(" ")).toMatch(/Keep one exclamation mark or emoji/);
		const wordy = await read(WORDY);
		expect(wordy.weaknesses.join(" ")).toMatch(/Long or complex sentences/);
		expect(wordy.improvements.join(" ")).toMatch(/Split your longest sentence \(\d+ words\)/);
	});

	it("names progress against the newest earlier reading", async () => {
		const before = await read(VAGUE);
		const out = await read(ENGINEER, [before, { vibe_summary: "older" }]);
		expect(out.strengths.join(" ")).toMatch(/Progress since your last bio: more concrete \(specificity 0 → 0\.\d+\)/);
		const none = await read(ENGINEER);
		expect(none.strengths.join(" ")).not.toMatch(/Progress/);
	});

	it("validates its input: 10–5000 characters after trimming", async () => {
		await expect(read("   short   ")).rejects.toThrow();
		await expect(read("x".repeat(5001))).rejects.toThrow();
		await expect(read(`  ${"y".repeat(5000)}  `)).resolves.toBeDefined();
	});

	it("readBio answers the LLM answer schema", () => {
		for (const t of CORPUS) expect(BioAnswer.safeParse(readBio(extractFeatures(t), t)).success).toBe(true);
	});

	it("hands the provider the prompt, variables, schema and the local answer", async () => {
		const calls: LlmCall<unknown>[] = [];
		const spy: LlmProvider = {
			name: "spy",
			async generate<T>(c: LlmCall<T>): Promise<LlmResult<T>> {
				calls.push(c as LlmCall<unknown>);
				return { output: await c.local(), provider: "spy", model: "m", prompt_id: c.prompt.id, prompt_version: c.prompt.version, usage: null, attempts: 1 };
			}
		};
		const out = await runAgent(bio, { text: TEACHER, past_analyses: [{ vibe_summary: "earlier", features: { specificity: 0.2 } }] }, { llm: spy });
		expect(out.provider).toBe("spy");
		expect(calls).toHaveLength(1);
		expect(calls[0].agent).toBe("bio");
		expect(calls[0].prompt.id).toBe("bio@1.0.0");
		expect(calls[0].schema).toBe(BioAnswer);
		expect(calls[0].variables.text).toBe(TEACHER);
		expect(calls[0].variables.features).toEqual(extractFeatures(TEACHER));
		expect(calls[0].variables.past_analyses).toEqual([{ created_at: null, vibe_summary: "earlier", tags: [], specificity: 0.2, sentiment: null, hedges: null }]);
	});
});

describe("bio agent on the OpenAI provider (fake server)", () => {
	const KEY = "sk-bio-test-KEY-9876543210";
	let fake: FakeLlmServer;
	const openai = () => ({ llm: new OpenAIProvider({ baseUrl: fake.baseUrl, apiKey: KEY, model: "gpt-test", timeoutMs: 3000, maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 50 }) });
	const MODEL_ANSWER = {
		vibe_summary: "Friendly and capable, with a builder's energy.",
		strengths: ["Clear about your work at Stripe."],
		weaknesses: ["A little hedging."],
		improvements: ['Say "I\'m good at it" without the maybe.'],
		confidence: 0.8,
		tags: ["Warm", " Tech ", "warm"]
	};

	beforeAll(async () => {
		fake = await startFakeLlmServer({ apiKey: KEY });
	});
	afterAll(() => fake.close());
	beforeEach(() => {
		fake.reset();
		fake.answer = () => JSON.stringify(MODEL_ANSWER);
	});

	it("returns the model's answer with the measured features, normalised tags and provenance", async () => {
		const out = await runAgent(bio, { text: ENGINEER }, openai());
		expect(out).toMatchObject({ ...MODEL_ANSWER, tags: ["warm", "tech"], provider: "openai", model: FAKE_MODEL, prompt_version: "1.0.0" });
		expect(out.features).toEqual(extractFeatures(ENGINEER));
		const req = fake.requests[0].json;
		expect(req.response_format.json_schema.name).toBe("bio");
		expect(Object.keys(req.response_format.json_schema.schema.properties)).toEqual(["vibe_summary", "strengths", "weaknesses", "improvements", "confidence", "tags"]);
		expect(req.messages[0].content).toBe(promptFor("bio").system);
		expect(req.messages[1].content).toContain(JSON.stringify(ENGINEER));
		expect(req.messages[1].content).toContain('"specificity":');
		expect(req.temperature).toBe(promptFor("bio").model?.temperature);
	});

	it("re-asks once on an invalid answer, then succeeds", async () => {
		fake.script(replies.json({ ...MODEL_ANSWER, confidence: 3 }));
		const out = await runAgent(bio, { text: TEACHER }, openai());
		expect(out.confidence).toBe(0.8);
		expect(fake.requests).toHaveLength(2);
		expect(fake.requests[1].json.messages.at(-1).content).toMatch(/confidence/);
	});

	it("fails closed (AGENT_FAILED) after two invalid answers", async () => {
		fake.script(replies.notJson(), replies.json({ vibe_summary: "x" }));
		const err = await runAgent(bio, { text: TEACHER }, openai()).catch((e: unknown) => e);
		expect(err).toBeInstanceOf(LlmError);
		expect((err as LlmError).type).toBe("AGENT_FAILED");
		expect(fake.requests).toHaveLength(2);
		expect(String((err as Error).message)).not.toContain(KEY);
	});
});

describe("bio energy wording", () => {
	it("names only the marks a bio uses", async () => {
		const { runAgent } = await import("../../agents/agent");
		const { bio } = await import("../../agents/bio");
		const { LocalProvider } = await import("../../agents/providers/llm/local");
		const text = "Weekends are for long walks! Always up for a chat about old books.";
		const out = await runAgent(bio, { text }, { llm: new LocalProvider() });
		const line = out.strengths.find(s => /energy shows/.test(s));
		expect(line).toBeDefined();
		expect(line).toMatch(/exclamation marks/);
		expect(line).not.toMatch(/emoji/);
	});
});
