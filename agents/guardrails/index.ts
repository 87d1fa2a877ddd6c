/**
 * Guardrails: pure checks on every input and output of the language agents (SPEC §2 step 1
 * and step 5, §5). No Moleculer, no config: settings come in as parameters.
 *
 *   const v = checkInput(bio, { minLength: 10, maxLength: 5000 });
 *   if (v.self_harm) return supportiveResources();
 *   if (v.blocked) → a 422 with v.findings explained;
 *   … provider sees v.text only …
 *   const out = checkOutput(answer, { schema, minor, disclaimers: { emotion, biometric } });
 *
 * With `MODERATION_PROVIDER=openai`, `checkInputModerated` adds the remote verdict.
 */
import { checkInput, type InputOptions } from "./input";
import { mergeModeration, moderateRemote, type ModerationSettings } from "./moderation";
import type { InputVerdict } from "./types";

export type { Finding, InputVerdict, OutputVerdict, Severity } from "./types";
export { checkInput, categoriesOf, normaliseInput, DEFAULT_MAX_LENGTH, DEFAULT_MIN_LENGTH, type InputOptions } from "./input";
export { checkOutput, cleanOutputText, scanOutputText, splitSentences, REMOVED_PLACEHOLDER, type OutputOptions } from "./output";
export { detectPii, redactPii, luhnValid, ibanValid, cardNetwork, PHONE_REGIONS, type PiiKind, type PiiMatch } from "./pii";
export { detectToxicity, TOXICITY_CATEGORIES, TAXONOMY, type ToxicityCategory } from "./toxicity";
export { detectInjection, neutraliseInjection, NEUTRALISED } from "./injection";
export { disclaimersFor, withDisclaimers, DISCLAIMERS, type DisclaimerOptions } from "./disclaimers";
export { supportiveResources, supportiveResourcesText, supportiveResourcesParagraph, SELF_HARM_NOTE, HELP_RESOURCES, type HelpResource, type SupportNote } from "./resources";
export { moderateRemote, mergeModeration, moderationSettings, type ModerationResult, type ModerationSettings } from "./moderation";

/** The input rail, then (when settings are given and the input is not blocked) the remote moderation of its redacted text. */
export async function checkInputModerated(text: string, opts: InputOptions & { moderation?: ModerationSettings | null }): Promise<InputVerdict> {
	const local = checkInput(text, opts);
	if (!opts.moderation || local.blocked || local.text.length === 0) return local;
	return mergeModeration(local, await moderateRemote(local.text, opts.moderation));
}
