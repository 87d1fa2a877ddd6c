import { z } from "zod";
import { checkOutput, cleanOutputText, DISCLAIMERS, disclaimersFor, REMOVED_PLACEHOLDER, scanOutputText, splitSentences } from "../../agents/guardrails";
import { BAD_OUTPUTS, GOOD_OUTPUTS } from "../fixtures/guardrail-corpus";

const LEAD = "Nice framing and natural light here.";

describe("output rail: the corpus of bad model outputs", () => {
	it(`has at least 40 bad outputs (${BAD_OUTPUTS.length}) across every rule, and good ones (${GOOD_OUTPUTS.length})`, () => {
		expect(BAD_OUTPUTS.length).toBeGreaterThanOrEqual(40);
		for (const cat of ["output.banned", "output.medical", "output.sensitive_inference", "output.body_shaming", "output.tone", "output.minor"]) {
			expect(BAD_OUTPUTS.filter(b => b.category === cat).length).toBeGreaterThanOrEqual(5);
		}
		expect(GOOD_OUTPUTS.length).toBeGreaterThanOrEqual(20);
	});

	it.each(BAD_OUTPUTS.map(b => [b.category, b.text, b] as const))("%s: %s", (_cat, _text, bad) => {
		const r = cleanOutputText(`${LEAD} ${bad.text} Keep experimenting with colour.`, { minor: !!bad.minor });
		expect(r.findings.map(f => f.category)).toContain(bad.category);
		expect(r.text.toLowerCase()).not.toContain(bad.banned.toLowerCase());
		// Only the offending sentence goes: the rest of the field stays as written.
		expect(r.text).toBe(`${LEAD} Keep experimenting with colour.`);
		expect(r.removed).toBe(1);
		for (const f of r.findings) expect(f.span![1]).toBeGreaterThan(f.span![0]);
	});

	it("catches every banned phrase when they all come in one answer", () => {
		const all = BAD_OUTPUTS.filter(b => !b.minor).map(b => b.text).join(" ");
		const r = cleanOutputText(all, { minor: true });
		for (const b of BAD_OUTPUTS) expect(r.text.toLowerCase()).not.toContain(b.banned.toLowerCase());
		expect(r.text).toBe("");
	});

	it("attractiveness wording is only removed for minors", () => {
		for (const bad of BAD_OUTPUTS.filter(b => b.minor && !/sexy|heartthrob|hot|dates/i.test(b.banned))) {
			expect(scanOutputText(bad.text, { minor: false }).filter(f => f.category === "output.minor")).toEqual([]);
		}
	});

	it.each(GOOD_OUTPUTS.flatMap(g => (g.minor ? [[g.text, false], [g.text, true]] : [[g.text, false]])) as [string, boolean][])(
		"passes untouched: %s (minor: %s)",
		(text, minor) => {
			const r = cleanOutputText(text, { minor });
			expect(r.findings).toEqual([]);
			expect(r.text).toBe(text);
		}
	);
});

const Report = z.object({
	media_id: z.string(),
	summary: z.string().min(1),
	key_insights: z.array(z.string()).min(3).max(5),
	recommendations: z.array(z.string()).min(1),
	vibe_tags: z.array(z.string()),
	detailed_analysis: z.object({ face: z.object({ notes: z.string(), crop_url: z.string() }).optional() }).nullable(),
	confidence: z.number().min(0).max(1),
	disclaimers: z.array(z.string()).default([])
});
type Report = z.infer<typeof Report>;

function report(over: Partial<Report> = {}): Report {
	return {
		media_id: "m-ugly-fat-1",
		summary: "You come across as warm and relaxed. Your posture is open.",
		key_insights: ["Warm smile.", "Balanced colours.", "Open posture."],
		recommendations: ["Try a slightly higher camera angle."],
		vibe_tags: ["warm", "creative"],
		detailed_analysis: { face: { notes: "Expression reads as calm.", crop_url: "https://x.test/ugly.jpg" } },
		confidence: 0.8,
		disclaimers: [],
		...over
	};
}

describe("checkOutput", () => {
	it("a clean, valid answer passes as it is (plus the disclaimers asked for)", () => {
		const v = checkOutput(report(), { schema: Report, minor: false, disclaimers: { emotion: true } });
		expect(v.ok).toBe(true);
		expect(v.findings).toEqual([]);
		expect(v.value).toEqual({ ...report(), disclaimers: disclaimersFor({ emotion: true }) });
	});

	it("walks nested strings and arrays, removes sentences (never whole fields), and names the field in each finding", () => {
		const input = report({
			summary: "You come across as warm and relaxed. Honestly, you look a bit chubby here. Your posture is open.",
			key_insights: ["Warm smile.", "Balanced colours; lip fillers would add volume.", "Open posture.", "You appear to be of South Asian descent."],
			vibe_tags: ["warm", "ugly", "creative"],
			detailed_analysis: { face: { notes: "Expression reads as calm. You look depressed.", crop_url: "https://x.test/ugly.jpg" } }
		});
		const frozen = JSON.stringify(input);
		const v = checkOutput(input, { schema: Report, minor: false });
		expect(v.ok).toBe(true);
		expect(v.value.summary).toBe("You come across as warm and relaxed. Your posture is open.");
		expect(v.value.key_insights).toEqual(["Warm smile.", "Balanced colours.", "Open posture."]);
		expect(v.value.vibe_tags).toEqual(["warm", "creative"]);
		expect(v.value.detailed_analysis!.face!.notes).toBe("Expression reads as calm.");
		// Identifiers and URLs are not prose.
		expect(v.value.media_id).toBe("m-ugly-fat-1");
		expect(v.value.detailed_analysis!.face!.crop_url).toBe("https://x.test/ugly.jpg");
		expect(v.findings.map(f => f.category).sort()).toEqual(
			["output.banned", "output.body_shaming", "output.body_shaming", "output.medical", "output.sensitive_inference"].sort()
		);
		expect(v.findings.map(f => f.message.split(":")[0]).sort()).toEqual(
			["detailed_analysis.face.notes", "key_insights[1]", "key_insights[3]", "summary", "vibe_tags[1]"].sort()
		);
		expect(JSON.stringify(input)).toBe(frozen);
	});

	it("keeps a placeholder where dropping emptied items would break the schema, and in an emptied field", () => {
		const v = checkOutput(report({ summary: "You look ugly.", key_insights: ["Warm smile.", "Get Botox.", "Try a nose job."] }), { schema: Report, minor: false });
		expect(v.ok).toBe(true);
		expect(v.value.summary).toBe(REMOVED_PLACEHOLDER);
		expect(v.value.key_insights).toEqual(["Warm smile.", REMOVED_PLACEHOLDER, REMOVED_PLACEHOLDER]);
		expect(v.findings.filter(f => f.category === "output.banned")).toHaveLength(2);
	});

	it("minors: attractiveness wording removed, the rest kept", () => {
		const input = report({ summary: "You look confident. You are really attractive in this photo.", vibe_tags: ["confident", "gorgeous"] });
		const minor = checkOutput(input, { schema: Report, minor: true });
		expect(minor.value.summary).toBe("You look confident.");
		expect(minor.value.vibe_tags).toEqual(["confident"]);
		expect(minor.findings.every(f => f.category === "output.minor" && f.severity === "high")).toBe(true);
		const adult = checkOutput(input, { schema: Report, minor: false });
		expect(adult.findings).toEqual([]);
		expect(adult.value.summary).toBe(input.summary);
	});

	it("a schema violation is ok: false with an output.schema finding (the caller re-asks or fails closed), content still cleaned", () => {
		const v = checkOutput({ ...report({ summary: "You look ugly. Nice light." }), confidence: 3, key_insights: ["one"] }, { schema: Report, minor: false });
		expect(v.ok).toBe(false);
		expect(v.findings[0]).toMatchObject({ category: "output.schema", severity: "high", span: null });
		expect(v.findings[0].message).toMatch(/confidence|key_insights/);
		expect((v.value as Report).summary).toBe("Nice light.");
		expect(checkOutput("not an object", { schema: Report, minor: false }).ok).toBe(false);
	});

	it("merges disclaimers without duplicates, keeping the model's own first", () => {
		const v = checkOutput(report({ disclaimers: ["Made with care.", DISCLAIMERS.estimates] }), { schema: Report, minor: false, disclaimers: { emotion: true, biometric: true } });
		expect(v.value.disclaimers).toEqual(["Made with care.", DISCLAIMERS.estimates, DISCLAIMERS.entertainment, DISCLAIMERS.emotion, DISCLAIMERS.biometric]);
		const none = checkOutput(report(), { schema: Report, minor: false });
		expect(none.value.disclaimers).toEqual([]);
	});

	it("works on a bare string schema and arrays of strings", () => {
		expect(checkOutput("Great colours. You look ugly.", { schema: z.string(), minor: false }).value).toBe("Great colours.");
		expect(checkOutput(["ok", "fat"], { schema: z.array(z.string()), minor: false }).value).toEqual(["ok"]);
	});
});

describe("splitSentences", () => {
	it("keeps abbreviations, decimals and initials inside a sentence; pieces join back to the text", () => {
		const text = "Try e.g. navy, i.e. a dark tone. Dr. Smith's 3.5 rating is fine! Next? A. B. Cool\nnew line";
		const parts = splitSentences(text).map(([a, b]) => text.slice(a, b));
		expect(parts.join("")).toBe(text);
		expect(parts).toEqual(["Try e.g. navy, i.e. a dark tone. ", "Dr. Smith's 3.5 rating is fine! ", "Next? ", "A. B. Cool\n", "new line"]);
	});

	it("is fast on a long answer", () => {
		const long = Array.from({ length: 400 }, (_, i) => `Sentence ${i} about colour and light.`).join(" ");
		const t = Date.now();
		for (let i = 0; i < 5; i++) cleanOutputText(long, { minor: true });
		expect(Date.now() - t).toBeLessThan(1500);
	});
});
