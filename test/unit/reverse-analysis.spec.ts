import { runAgent } from "../../agents/agent";
import { scanOutputText } from "../../agents/guardrails/output";
import { LocalProvider } from "../../agents/providers/llm/local";
import { GOAL_KEYS, GOAL_RULES, ReverseContent, averages, matchGoals, reverseAnalysis, reverseRules, type RecentAnalysis } from "../../agents/reverse-analysis";

const deps = { llm: new LocalProvider() };
const run = (input: unknown) => runAgent(reverseAnalysis, input as never, deps);

const BANNED = /\b(surg\w*|botox|fillers?|inject\w*|cosmetic|lose weight|weight loss|diet\w*|slim\w*|ugly|fat|skinny)\b/i;

const recent = (scores: RecentAnalysis["scores"], tags: string[] = [], tips: string[] = []): RecentAnalysis => ({ scores, tags, tips });

describe("reverse_analysis agent", () => {
	it("gives the same answer for the same goal and history (deterministic)", async () => {
		const input = { goal: "I want to look more confident", recent_analyses: [recent({ posture: 5.1, expression: 7 })] };
		expect(await run(input)).toEqual(await run(input));
	});

	it("answers the goal it was given: confidence and professional goals differ", async () => {
		const confident = await run({ goal: "I want to look more confident" });
		const professional = await run({ goal: "Make me look professional for LinkedIn and job interviews" });
		expect(confident.goal).toBe("I want to look more confident");
		expect(confident.matched_goals).toEqual(["confidence"]);
		expect(professional.matched_goals).toEqual(["professional"]);
		expect(confident.recommended_changes[0]).toBe(GOAL_RULES.confidence.changes.posture);
		expect(professional.recommended_changes[0]).toBe(GOAL_RULES.professional.changes.style);
		expect(confident.avoid_list).toContain("Crossed arms or hands hidden in pockets.");
		expect(professional.avoid_list).toContain("Busy or distracting backgrounds.");
		expect(confident.action_plan).toMatch(/^To come across as confident: 1\. This week: stand tall/);
		expect(confident.based_on).toBe(0);
		expect(confident.action_plan).toMatch(/upload a photo for a first analysis/);
	});

	it.each([
		["I'd like to seem friendlier and more approachable", "approachable"],
		["help me look more creative and artistic", "creative"],
		["better photos for my dating profile on Hinge", "dating"],
		["I want a calm, relaxed vibe", "calm"],
		["look fun, outgoing and energetic", "energetic"],
		["more elegant and polished", "elegant"],
		["a sporty, outdoorsy look", "sporty"],
		["something nice?", "approachable"],
		["qwerty zxcv", "general"]
	])("matches %p to %p", (goal, key) => {
		expect(matchGoals(goal)[0]).toBe(key);
	});

	it("combines at most two goals, the one with more keyword hits first, then the one named first", () => {
		expect(matchGoals("confident, bold and strong but also approachable")).toEqual(["confidence", "approachable"]);
		expect(matchGoals("more approachable on LinkedIn")).toEqual(["approachable", "professional"]);
		expect(matchGoals("LinkedIn, but approachable")).toEqual(["professional", "approachable"]);
		expect(matchGoals("professional, creative, confident, calm")).toHaveLength(2);
	});

	it("puts a weak lever first and names its average; leaves out a strong one and names it as a strength", async () => {
		const weakPosture = await run({ goal: "more confident", recent_analyses: [recent({ posture: 4.2 }), recent({ posture: 5.0 })] });
		expect(weakPosture.recommended_changes[0]).toContain("Your posture averages 4.6/10 across your recent analyses, so there is room to gain here.");
		expect(weakPosture.based_on).toBe(2);

		const weakExpression = await run({ goal: "more confident", recent_analyses: [recent({ posture: 8.6, expression: 4.0 })] });
		expect(weakExpression.recommended_changes[0]).toContain(GOAL_RULES.confidence.changes.expression!);
		expect(weakExpression.recommended_changes.join(" ")).not.toContain(GOAL_RULES.confidence.changes.posture!);
		expect(weakExpression.action_plan).toContain("Keep what already works for coming across as confident: your posture (8.6/10)");
	});

	it("notes recent tags that pull away from the goal, and a tip that keeps coming back", async () => {
		const tip = "Let your shoulders drop and relax evenly.";
		const out = await run({
			goal: "look professional at work",
			recent_analyses: [recent({ style: 6 }, ["casual", "warm"], [tip]), recent({ style: 5 }, ["casual"], [tip]), recent({ style: 7 }, ["polished"])]
		});
		expect(out.recommended_changes.some(c => c.includes('tagged "casual" in 2 of your last 3 analyses'))).toBe(true);
		expect(out.avoid_list.some(a => a.includes('"casual"'))).toBe(true);
		expect(out.recommended_changes).toContain(`A tip that keeps coming up in your recent analyses: ${tip}`);
	});

	it("never gives a minor dating advice", async () => {
		const out = await run({ goal: "better photos for my dating profile", minor: true });
		expect(out.matched_goals).toEqual(["approachable"]);
		expect([...out.recommended_changes, ...out.avoid_list, out.action_plan].join(" ")).not.toMatch(/\b(dating|match|romantic)\b/i);
		expect(out.action_plan).toMatch(/^This plan focuses on coming across as friendly and approachable/);
	});

	it("averages each dimension over the analyses that measured it", () => {
		expect(averages([recent({ posture: 4, style: 8 }), recent({ posture: 6 }), recent({})])).toEqual({ posture: 5, style: 8 });
	});

	it("refuses a goal that is too short or too long, and more than 20 analyses", async () => {
		await expect(run({ goal: "ab" })).rejects.toThrow();
		await expect(run({ goal: "x".repeat(501) })).rejects.toThrow();
		await expect(run({ goal: "more confident", recent_analyses: Array.from({ length: 21 }, () => recent({})) })).rejects.toThrow();
		await expect(run({ goal: "more confident", recent_analyses: [recent({ posture: 12 })] })).rejects.toThrow();
	});

	it("keeps every list in range for every goal and history shape, and never uses banned words", () => {
		const histories: RecentAnalysis[][] = [
			[],
			[recent({ posture: 2, style: 3, expression: 1, presence: 2, photo_quality: 3, bio: 2 }, ["casual", "reserved", "serious", "formal"], ["a", "a"])],
			[recent({ posture: 9, style: 9.5, expression: 9, presence: 8.5, photo_quality: 9, bio: 8 }), recent({ posture: 9.5 })],
			Array.from({ length: 20 }, (_, i) => recent({ posture: i / 2, style: 10 - i / 2 }, ["casual", "intense", "understated"], ["Stand tall."]))
		];
		const goals = [...GOAL_KEYS.map(k => `I want to look ${k}`), "confident professional creative approachable", "???"];
		for (const goal of goals)
			for (const h of histories)
				for (const minor of [false, true]) {
					const out = reverseRules({ goal, recent_analyses: h, minor });
					const parsed = ReverseContent.safeParse(out);
					if (!parsed.success) throw new Error(`${goal} / ${h.length}: ${parsed.error.message}`);
					expect(new Set(out.recommended_changes).size).toBe(out.recommended_changes.length);
					const text = [...out.recommended_changes, ...out.avoid_list, out.action_plan].join(" ");
					expect(text).not.toMatch(BANNED);
					expect(scanOutputText(text, { minor })).toEqual([]);
				}
	});
});
