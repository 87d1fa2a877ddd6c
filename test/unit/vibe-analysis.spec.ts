import { runAgent } from "../../agents/agent";
import { LocalProvider, OpenAIProvider } from "../../agents/providers/llm";
import { extractFeatures } from "../../agents/text/features";
import { bioPart, perceptionsPart, VibeAnswer, VibeOutput, vibeAnalysis, vibeScore, visionPart, VIBE_RULES, type VibeInput } from "../../agents/vibe-analysis";
import { FAKE_MODEL, replies, startFakeLlmServer, type FakeLlmServer } from "../helpers/fake-llm-server";

const BIO = "I'm a backend engineer at Stripe in Berlin. I build payment APIs and I lead a team of 6 people. Love hiking and sourdough baking on weekends. Ask me about trail running!";
const QUIET_BIO = "Maybe I am sort of into chess, I guess. Probably.";
const SMILING = { expression: "happy", style: "smart casual", alignment_score: 8, social_score: 7.5, tags: ["friendly", "polished"] };
const SLOUCHED = { expression: "neutral", style: null, alignment_score: 3.5, social_score: 4 };
const PERCEPTIONS = [
	{ summary_text: "Warm and relaxed.", tags: ["warm", "relaxed"], social_score: 7.2, timestamp: "2025-02-01T10:00:00Z" },
	{ tags: ["warm"], social_score: 6.1, timestamp: "2025-01-01T10:00:00Z" }
];

const local = { llm: new LocalProvider() };
const vibe = (input: VibeInput) => runAgent(vibeAnalysis, input, local);

describe("vibe_analysis on the local provider", () => {
	it("is deterministic", async () => {
		const input = { bio_text: BIO, vision_summary: SMILING, recent_perceptions: PERCEPTIONS };
		expect(await vibe(input)).toEqual(await vibe(input));
	});

	it.each<[string, VibeInput]>([
		["all parts", { bio_text: BIO, vision_summary: SMILING, recent_perceptions: PERCEPTIONS }],
		["bio only", { bio_text: QUIET_BIO }],
		["vision only", { vision_summary: SLOUCHED }],
		["perceptions only", { recent_perceptions: PERCEPTIONS }],
		["an empty vision summary", { vision_summary: {} }]
	])("keeps every field in range (%s)", async (_, input) => {
		const out = await vibe(input);
		expect(VibeOutput.safeParse(out).success).toBe(true);
		expect(Number.isInteger(out.vibe_score)).toBe(true);
		expect(out.vibe_score).toBeGreaterThanOrEqual(0);
		expect(out.vibe_score).toBeLessThanOrEqual(100);
		expect(out.vibe_tags.length).toBeGreaterThanOrEqual(3);
		expect(out.vibe_tags.length).toBeLessThanOrEqual(6);
		expect(new Set(out.vibe_tags).size).toBe(out.vibe_tags.length);
		expect(out.strengths.length).toBeGreaterThanOrEqual(1);
		expect(out.improvement_areas.length).toBeGreaterThanOrEqual(1);
		expect(out.confidence).toBeGreaterThan(0);
		expect(out.confidence).toBeLessThanOrEqual(0.9);
		expect(out).toMatchObject({ provider: "local", model: "rules-v1", prompt_version: "1.0.0" });
	});

	it("records which parts it used", async () => {
		expect((await vibe({ bio_text: BIO, vision_summary: SMILING, recent_perceptions: PERCEPTIONS })).sources).toEqual(["bio", "vision", "perceptions"]);
		expect((await vibe({ vision_summary: SLOUCHED, recent_perceptions: [] })).sources).toEqual(["vision"]);
	});

	it("needs at least one part", async () => {
		await expect(vibe({})).rejects.toThrow(/needs a bio, a vision summary or recent perceptions/);
		await expect(vibe({ recent_perceptions: [] })).rejects.toThrow();
		await expect(vibe({ vision_summary: { alignment_score: 11 } })).rejects.toThrow();
	});

	it("reads different people differently, and relevantly", async () => {
		const bright = await vibe({ bio_text: BIO, vision_summary: SMILING });
		const low = await vibe({ bio_text: QUIET_BIO, vision_summary: SLOUCHED });
		expect(bright.vibe_score).toBeGreaterThan(low.vibe_score);
		expect(bright.vibe_tags).toEqual(expect.arrayContaining(["approachable", "poised", "smart casual"]));
		expect(bright.vibe_tags).toContain("tech");
		expect(low.vibe_tags).toEqual(expect.arrayContaining(["reserved", "composed"]));
		expect(bright.strengths.join(" ")).toMatch(/I build payment APIs/);
		expect(bright.strengths.join(" ")).toMatch(/Upright, open posture \(alignment 8\/10\)/);
		expect(low.improvement_areas.join(" ")).toMatch(/Roll your shoulders back.*alignment 3\.5\/10/);
		expect(low.improvement_areas.join(" ")).toMatch(/genuine smile/);
		expect(bright.personality_summary).toMatch(/relaxed smile/);
		expect(low.personality_summary).not.toEqual(bright.personality_summary);
	});

	it("uses the trend of recent perceptions", async () => {
		const up = await vibe({ recent_perceptions: PERCEPTIONS });
		expect(up.strengths.join(" ")).toMatch(/read more positively \(6\.1 → 7\.2/);
		expect(up.vibe_tags).toEqual(expect.arrayContaining(["warm", "relaxed"]));
		const down = await vibe({ recent_perceptions: [...PERCEPTIONS].reverse() });
		expect(down.improvement_areas.join(" ")).toMatch(/a little less positively/);
	});

	it("scores by the documented weights, sharing out missing parts", () => {
		expect(vibeScore({ bio: 80, vision: 60, perceptions: 50 })).toBe(Math.round(80 * 0.4 + 60 * 0.4 + 50 * 0.2));
		expect(vibeScore({ bio: null, vision: 80, perceptions: 60 })).toBe(Math.round((80 * 0.4 + 60 * 0.2) / 0.6));
		expect(vibeScore({ bio: 70, vision: null, perceptions: null })).toBe(70);
		expect(vibeScore({ bio: null, vision: null, perceptions: null })).toBe(50);
		expect(visionPart({ expression: "happy", alignment_score: 8, social_score: 7 })).toBeCloseTo((VIBE_RULES.expressionScores.happy + 80 + 70) / 3);
		expect(visionPart({ expression: "something else" })).toBe(VIBE_RULES.unknownExpression);
		expect(visionPart({})).toBeNull();
		expect(perceptionsPart(PERCEPTIONS)).toBeCloseTo(66.5);
		expect(perceptionsPart([{ tags: ["x"] }])).toBeNull();
		expect(bioPart(extractFeatures(BIO))).toBeGreaterThan(bioPart(extractFeatures(QUIET_BIO)));
	});
});

describe("vibe_analysis on the OpenAI provider (fake server)", () => {
	let fake: FakeLlmServer;
	const ANSWER = {
		vibe_score: 78,
		vibe_tags: ["Approachable", "curious", "grounded"],
		personality_summary: "Curious and grounded, with a friendly smile.",
		strengths: ["Warm expression."],
		improvement_areas: ["Add one concrete detail to your bio."],
		confidence: 0.7
	};

	beforeAll(async () => {
		fake = await startFakeLlmServer({ apiKey: "k-123" });
	});
	afterAll(() => fake.close());
	beforeEach(() => {
		fake.reset();
		fake.answer = () => JSON.stringify(ANSWER);
	});
	const deps = () => ({ llm: new OpenAIProvider({ baseUrl: fake.baseUrl, apiKey: "k-123", model: "gpt-test", timeoutMs: 3000, maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 50 }) });

	it("answers the model's reading with provenance; the prompt carries every part", async () => {
		const out = await runAgent(vibeAnalysis, { bio_text: BIO, vision_summary: SMILING, recent_perceptions: PERCEPTIONS }, deps());
		expect(out).toMatchObject({ ...ANSWER, vibe_tags: ["approachable", "curious", "grounded"], provider: "openai", model: FAKE_MODEL, sources: ["bio", "vision", "perceptions"] });
		const user = fake.requests[0].json.messages[1].content as string;
		expect(user).toContain(JSON.stringify(BIO));
		expect(user).toContain('"alignment_score":8');
		expect(user).toContain('"social_score":7.2');
		expect(fake.requests[0].json.response_format.json_schema.name).toBe("vibe_analysis");
	});

	it("sends null for the parts it does not have", async () => {
		await runAgent(vibeAnalysis, { vision_summary: SLOUCHED }, deps());
		const user = fake.requests[0].json.messages[1].content as string;
		expect(user).toContain("Bio: null");
		expect(user).toContain("Bio features: null");
		expect(user).toContain("Recent perceptions, newest first: []");
	});

	it("re-asks when the score is out of range", async () => {
		fake.script(replies.json({ ...ANSWER, vibe_score: 140 }));
		const out = await runAgent(vibeAnalysis, { bio_text: BIO }, deps());
		expect(out.vibe_score).toBe(78);
		expect(fake.requests).toHaveLength(2);
		expect(VibeAnswer.safeParse({ ...ANSWER, vibe_tags: ["a1", "b2"] }).success).toBe(false);
	});
});
