/**
 * The mandatory disclaimers every report carries (SPEC §5), as plain sentences.
 *
 * - Always: the report is for entertainment and self-reflection, not professional (medical,
 *   psychological, legal, financial) advice; AI estimates can be wrong.
 * - With emotion recognition: the emotions shown are estimates from facial expression, not a
 *   reading of how the person feels (EU AI Act Art. 50(3): people exposed to an emotion
 *   recognition system are told so).
 * - With biometric estimates (age, gender): they are estimates from appearance, not facts about
 *   the person's age or gender identity.
 */

export const DISCLAIMERS = {
	entertainment:
		"This report is for entertainment and self-reflection only. It is not professional advice (medical, psychological, legal or financial).",
	estimates: "AI estimates can be wrong: treat the scores and observations as one perspective, not a verdict.",
	emotion:
		"This analysis uses AI emotion recognition: the emotions shown are estimates from facial expression in this photo, not a reading of how you actually feel.",
	biometric:
		"Age and gender are AI estimates from appearance. They can be wrong and say nothing about your actual age or gender identity."
} as const;

export interface DisclaimerOptions {
	/** The report shows emotions or expressions read from a face. */
	emotion?: boolean;
	/** The report shows age or gender estimates (biometric consent). */
	biometric?: boolean;
}

/** The disclaimers a report must carry, in a stable order. */
export function disclaimersFor(opts: DisclaimerOptions = {}): string[] {
	const out: string[] = [DISCLAIMERS.entertainment, DISCLAIMERS.estimates];
	if (opts.emotion) out.push(DISCLAIMERS.emotion);
	if (opts.biometric) out.push(DISCLAIMERS.biometric);
	return out;
}

/** `existing` plus any mandatory disclaimer it lacks (existing order kept, no duplicates). */
export function withDisclaimers(existing: readonly string[] | null | undefined, opts: DisclaimerOptions = {}): string[] {
	const out = [...(existing ?? [])];
	for (const d of disclaimersFor(opts)) if (!out.includes(d)) out.push(d);
	return out;
}
