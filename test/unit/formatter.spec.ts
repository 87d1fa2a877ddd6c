import { runAgent } from "../../agents/agent";
import { FormatterContent, FormatterInput, formatter, formatterRules, type Traced } from "../../agents/formatter";
import { aggregator } from "../../agents/aggregator";
import { disclaimersFor } from "../../agents/guardrails/disclaimers";
import { scanOutputText } from "../../agents/guardrails/output";
import { LocalProvider } from "../../agents/providers/llm/local";

const deps = { llm: new LocalProvider() };
const run = (input: unknown) => runAgent(formatter, input as never, deps);

const BANNED = /\b(ugly|fat|skinny|unattractive|surg\w*|botox|fillers?|inject\w*|race|ethnic\w*|religio\w*)\b/i;
const LOOKS = /\b(attractiv\w*|sexy|hot|beautiful|handsome|pretty|good[- ]looking|gorgeous|cute)\b/i;

const face = {
	num_faces: 1,
	faces: [{ expression: "happy", is_subject: true, emotions: { happy: 0.8 } }],
	quality: { blurry: false, too_dark: true, too_bright: false },
	confidence: 0.8
};
const fashion = {
	style: "smart-casual",
	palette: [{ name: "Navy", hex: "#1f2a44", share: 0.5 }, { name: "White", hex: "#f5f5f5", share: 0.3 }],
	harmony: "analogous",
	contrast: { level: "medium" },
	overall_rating: 8.1,
	confidence: 0.7
};
const posture = {
	visible: true,
	alignment_score: 5.2,
	tips: ["Your right shoulder sits about 6° higher than the other: let both shoulders drop and relax evenly, with your weight on both feet."],
	confidence: 0.75
};
const bio = {
	vibe_summary: "Your bio comes across as warm and curious. It mentions hiking and cooking.",
	strengths: ["Specific hobbies make you easy to start a conversation with"],
	weaknesses: ["A few hedging words"],
	improvements: ["Replace 'I guess I like hiking' with 'I hike most weekends'"],
	confidence: 0.6
};
const aggregate = {
	overall_score: 6.9,
	style_score: 7.8,
	presence_score: 6.1,
	attractiveness_score: 7.4,
	confidence: 0.71,
	confidences: { overall: 0.71 },
	key_strengths: ["Harmonious outfit colours"],
	improvement_areas: ["posture"]
};
const full = { aggregate, sections: { face, fashion, posture, bio }, flags: { minor: false, biometric: false, emotion_shown: true } };

function expectTraced(out: { summary: string; key_insights: string[]; recommendations: string[]; trace: { summary: Traced[]; key_insights: Traced[]; recommendations: Traced[] } }, present: string[]) {
	expect(out.trace.key_insights.map(t => t.text)).toEqual(out.key_insights);
	expect(out.trace.recommendations.map(t => t.text)).toEqual(out.recommendations);
	expect(out.trace.summary.map(t => t.text).join(" ")).toBe(out.summary);
	for (const t of [...out.trace.summary, ...out.trace.key_insights, ...out.trace.recommendations]) {
		for (const s of t.sources) expect(present).toContain(s);
		// The finding names a field of the section it cites.
		expect(t.sources).toContain(t.finding.split(/[.[]/)[0]);
	}
}

describe("formatter agent", () => {
	it("gives the same report for the same input (deterministic)", async () => {
		expect(await run(full)).toEqual(await run(full));
	});

	it("writes a traced summary, 3–5 insights and 3–5 recommendations from every section", async () => {
		const out = await run(full);
		expect(out.summary).toBe(
			"Your overall score is 6.9/10: a positive impression with clear strengths. Your strongest area is style (7.8/10), helped by a smart-casual outfit with harmonious, analogous colours. The quickest win is posture (5.2/10): the recommendations show how."
		);
		expect(out.key_insights.length).toBeGreaterThanOrEqual(3);
		expect(out.key_insights.length).toBeLessThanOrEqual(5);
		expect(out.recommendations.length).toBeGreaterThanOrEqual(3);
		expect(out.recommendations.length).toBeLessThanOrEqual(5);
		expect(out.key_insights[0]).toBe("Your outfit reads as smart-casual in navy and white, with harmonious, analogous colours (outfit rating 8.1/10).");
		expect(out.key_insights).toContain("Your expression reads as warm and happy in this photo (an AI estimate from a single moment).");
		expect(out.key_insights).toContain("Your bio comes across as warm and curious.");
		// The weakest section's own measured tip leads, then the photo-light problem the face section found.
		expect(out.recommendations[0]).toBe(posture.tips[0]);
		expect(out.recommendations[1]).toBe("Face a window or soft daylight so your face is evenly lit.");
		expect(out.recommendations).toContain("Replace 'I guess I like hiking' with 'I hike most weekends'.");
		expectTraced(out, ["aggregate", "face", "fashion", "posture", "bio"]);
		expect(out.trace.recommendations[0]).toEqual({ text: posture.tips[0], sources: ["posture"], finding: "posture.tips[0]" });
		expect(`${out.summary} ${out.key_insights.join(" ")} ${out.recommendations.join(" ")}`).not.toMatch(BANNED);
		expect(out.provider).toBe("local");
	});

	it("never puts attractiveness into words, and gives a minor a gentler report without looks wording or numbers in the summary", async () => {
		const adult = await run(full);
		expect(JSON.stringify({ ...adult, disclaimers: null })).not.toMatch(LOOKS);
		const minor = await run({
			...full,
			aggregate: { ...aggregate, key_strengths: ["Attractive smile", "A steady, consistent presence"] },
			sections: { ...full.sections, bio: { ...bio, strengths: ["You sound cute and fun"] } },
			flags: { minor: true, biometric: false, emotion_shown: true }
		});
		const text = `${minor.summary} ${minor.key_insights.join(" ")} ${minor.recommendations.join(" ")}`;
		expect(text).not.toMatch(LOOKS);
		expect(minor.summary).not.toMatch(/\d+(\.\d+)?\/10/);
		expect(minor.key_insights).toContain("A clear strength: a steady, consistent presence.");
	});

	it("says different things for different analyses", async () => {
		const weakStyle = await run({
			aggregate: { ...aggregate, style_score: 4.2, presence_score: 8.3 },
			sections: { fashion: { ...fashion, harmony: "contrasting", overall_rating: 4.0, contrast: { level: "low" } }, posture: { ...posture, alignment_score: 8.6, tips: [] } },
			flags: {}
		});
		const strong = await run(full);
		expect(weakStyle.summary).toContain("Your strongest area is posture (8.6/10)");
		expect(weakStyle.summary).toContain("The quickest win is style (4.2/10)");
		expect(weakStyle.recommendations[0]).toBe("Try building your outfit around two or three colours that go together, such as a neutral base with one accent colour.");
		expect(weakStyle.key_insights).toContain("Your posture is a strength: balanced and upright (8.6/10).");
		expect(weakStyle.summary).not.toBe(strong.summary);
		expect(weakStyle.recommendations).not.toEqual(strong.recommendations);
	});

	it("leaves out what it was not given: missing sections are never cited, emotions only when shown", async () => {
		const bare = await run({ aggregate: { overall_score: 4.2 }, flags: {} });
		expect(bare.key_insights).toHaveLength(3);
		expect(bare.recommendations).toHaveLength(3);
		expectTraced(bare, ["aggregate"]);
		expect(bare.summary).toMatch(/^Your overall score is 4\.2\/10: a starting point/);

		const hidden = await run({ ...full, flags: { minor: false, biometric: false, emotion_shown: false } });
		expect(hidden.key_insights.join(" ")).not.toMatch(/expression/i);
		expect(hidden.trace.key_insights.every(t => !t.finding.includes("expression"))).toBe(true);
	});

	it("drops passthrough lines that stray into bodies or cosmetic procedures", async () => {
		const out = await run({ ...full, sections: { ...full.sections, bio: { ...bio, improvements: ["Get botox before your next photo"] } } });
		expect(out.recommendations.join(" ")).not.toMatch(BANNED);
	});

	it("carries the guardrails' disclaimers, the emotion and biometric ones only when they apply", async () => {
		const plain = await run({ ...full, flags: { minor: false, biometric: false, emotion_shown: false } });
		const both = await run({ ...full, flags: { minor: false, biometric: true, emotion_shown: true } });
		expect(plain.disclaimers).toEqual(disclaimersFor({ emotion: false, biometric: false }));
		expect(both.disclaimers).toEqual(disclaimersFor({ emotion: true, biometric: true }));
		expect(both.disclaimers.length).toBeGreaterThan(plain.disclaimers.length);
	});

	it("refuses an answer whose traces do not match its text (what a model answer is held to)", () => {
		const good = formatterRules(FormatterInput.parse(full));
		expect(FormatterContent.safeParse(good).success).toBe(true);
		const edited = { ...good, key_insights: [...good.key_insights.slice(0, -1), "An invented insight."] };
		expect(FormatterContent.safeParse(edited).success).toBe(false);
		const untraced = { ...good, summary: `${good.summary} And one more untraced sentence.` };
		expect(FormatterContent.safeParse(untraced).success).toBe(false);
	});

	it("reads the aggregator's own output, and does not repeat what a section already said", async () => {
		const agg = await runAgent(aggregator, { face, fashion, posture, bio, consent: { biometric: true } } as never, undefined);
		const out = await run({ aggregate: agg, sections: { face, fashion, posture, bio }, flags: { emotion_shown: true, biometric: true } });
		expectTraced(out, ["aggregate", "face", "fashion", "posture", "bio"]);
		expect(out.summary).toMatch(new RegExp(`^Your overall score is ${Number(agg.overall_score!.toFixed(1))}/10`));
		// The aggregator's strength and growth lines about posture and the outfit are already covered by their sections.
		expect([...out.key_insights, ...out.recommendations].filter(t => /stands out|room to grow/.test(t))).toEqual([]);
		expect(JSON.stringify([out.summary, out.key_insights, out.recommendations])).not.toMatch(LOOKS);

		const onlyAggregate = await run({ aggregate: agg, flags: {} });
		expect(onlyAggregate.key_insights.some(t => /stands out/.test(t))).toBe(true);
	});

	it("refuses out-of-range scores", async () => {
		await expect(run({ aggregate: { overall_score: 11 } })).rejects.toThrow();
		await expect(run({ aggregate: { overall_score: 5, confidence: 1.5 } })).rejects.toThrow();
		await expect(run({ aggregate: { overall_score: 5 }, sections: { posture: { alignment_score: -2 } } })).rejects.toThrow();
	});

	it("stays within its ranges for every combination of present sections and flags", () => {
		const sections = { face, fashion, posture, bio } as Record<string, unknown>;
		const keys = Object.keys(sections);
		let n = 0;
		for (let mask = 0; mask < 1 << keys.length; mask++)
			for (const overall of [0, 3.3, 5, 6.5, 8, 10])
				for (const flags of [{ minor: false, emotion_shown: true }, { minor: true, emotion_shown: false }]) {
					n++;
					const present = Object.fromEntries(keys.filter((_, i) => mask & (1 << i)).map(k => [k, sections[k]]));
					const input = FormatterInput.parse({ aggregate: { ...aggregate, overall_score: overall, style_score: mask & 1 ? 3 : null }, sections: present, flags });
					const out = formatterRules(input);
					const parsed = FormatterContent.safeParse(out);
					if (!parsed.success) throw new Error(`mask ${mask}, overall ${overall}: ${parsed.error.message}`);
					expectTraced(out, ["aggregate", ...Object.keys(present)]);
					if (flags.minor) expect(`${out.summary} ${out.key_insights.join(" ")}`).not.toMatch(LOOKS);
					expect(scanOutputText([out.summary, ...out.key_insights, ...out.recommendations].join(" "), { minor: flags.minor })).toEqual([]);
				}
		expect(n).toBe(16 * 6 * 2);
	});
});
