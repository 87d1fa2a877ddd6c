import type { Context, ServiceSchema } from "moleculer";
import { z } from "zod";
import { BioOutput } from "../agents/bio";
import { checkInputModerated, checkOutput, disclaimersFor, moderationSettings, supportiveResources, type Finding } from "../agents/guardrails";
import { config } from "../lib/config";
import { ClientError, RetryableError } from "../lib/errors";
import type { Meta } from "../types/meta";

export const BIO_LENGTH = { minLength: 10, maxLength: 5000 } as const;
export const BioRequest = z.object({ text: z.string().min(BIO_LENGTH.minLength).max(BIO_LENGTH.maxLength) });
type BioRequest = z.infer<typeof BioRequest>;

/** What a warning tells the caller: the category and our own words, never the matched text. */
export interface Warning {
	category: string;
	message: string;
}

export interface BioReport {
	vibe_summary: string;
	strengths: string[];
	weaknesses: string[];
	improvements: string[];
	confidence: number;
	warnings: Warning[];
	disclaimers: string[];
}

/** Fixed messages per finding category (prefix match), so a warning can never echo personal data. */
const WARNING_TEXT: [string, string][] = [
	["pii", "Personal details (such as an email address, phone number or link) were removed before the analysis."],
	["injection", "Parts of the text looked like instructions to the AI; they were treated as plain text and ignored."],
	["toxicity", "Some wording was flagged as offensive or threatening."],
	["sexual", "Some wording was flagged as sexual content."],
	["self_harm", "Your text mentions self-harm, so we are sharing support resources instead of an analysis."],
	["length", "The text must be between 10 and 5000 characters once invisible characters are removed."],
	["output", "Part of the generated analysis was removed by the safety check."]
];

/** One warning per category; the message comes from WARNING_TEXT (the finding's own message only as a fallback). */
export function warningsOf(findings: readonly Finding[]): Warning[] {
	const out: Warning[] = [];
	for (const f of findings) {
		if (out.some(w => w.category === f.category)) continue;
		const text = WARNING_TEXT.find(([prefix]) => f.category === prefix || f.category.startsWith(`${prefix}.`))?.[1];
		out.push({ category: f.category, message: text ?? f.message });
	}
	return out;
}

/** The self-harm answer: the report's shape, with a kind note and where to find help instead of an analysis. */
export function supportiveBioReport(warnings: Warning[], disclaimers: string[]): BioReport {
	const note = supportiveResources();
	return {
		vibe_summary: `${note.title}. ${note.message}`,
		strengths: [],
		weaknesses: [],
		improvements: note.resources.slice(0, 4).map(r => `${r.name} (${r.region}): ${r.contact}`),
		confidence: 0,
		warnings,
		disclaimers
	};
}

/** The analyses the frontend asks for. For now: a bio on its own (`POST /analysis/analyze/bio`). */
const AnalysisService: ServiceSchema = {
	name: "analysis",

	actions: {
		/** POST /analysis/analyze/bio — guard the text, read it with agent.bio, guard the answer. */
		bio: {
			rateClass: "bio",
			input: BioRequest,
			async handler(ctx: Context<BioRequest, Meta>): Promise<BioReport> {
				const c = config();
				const verdict = await checkInputModerated(ctx.params.text, { ...BIO_LENGTH, moderation: moderationSettings(c.llm, c.moderation) });
				const warnings = warningsOf(verdict.findings);
				if (verdict.blocked) {
					const tooShortOrLong = verdict.findings.some(f => f.category === "length");
					throw new ClientError("VALIDATION", "The text cannot be analysed", {
						validation_errors: [{ field: "text", message: tooShortOrLong ? "must be 10–5000 characters" : "was refused by the content checks" }],
						findings: warnings
					});
				}
				const disclaimers = disclaimersFor({ emotion: false, biometric: false });
				if (verdict.self_harm) return supportiveBioReport(warnings, disclaimers);

				const raw = await ctx.call<unknown, { text: string }>("agent.bio.run", { text: verdict.text });
				const checked = checkOutput(raw, { schema: BioOutput, minor: false });
				if (!checked.ok) throw new RetryableError("AGENT_FAILED", "The bio analysis gave an invalid answer", { agent: "bio" });
				const { vibe_summary, strengths, weaknesses, improvements, confidence } = checked.value;
				return { vibe_summary, strengths, weaknesses, improvements, confidence, warnings: [...warnings, ...warningsOf(checked.findings)], disclaimers };
			}
		}
	}
};

export default AnalysisService;
