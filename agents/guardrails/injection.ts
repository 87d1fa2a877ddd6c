/**
 * Prompt-injection markers in user text (a bio, a goal, a comment), flagged and neutralised
 * before the text reaches a language model. Pure and synchronous.
 *
 * What counts as a marker (each a `Finding` of category `injection`):
 * - instruction overrides: "ignore (all) previous instructions", "disregard your rules",
 *   "forget everything above", "new instructions:", "from now on you will…" (also in German,
 *   French, Spanish, Portuguese and Italian);
 * - jailbreak personas and role-play: "you are now DAN", "do anything now", "developer mode",
 *   "act as an unfiltered AI", "you are no longer an assistant", "let's role-play… you…",
 *   "stay in character", the "my late grandmother used to read me…" trick;
 * - system-prompt extraction: "reveal / print / repeat your system prompt", "what were your
 *   initial instructions";
 * - fake chat-template tokens and role tags: `<|im_start|>`, `<|system|>`, `[INST]`, `<<SYS>>`,
 *   `<system>`, and a line that starts with `system:` / `assistant:` / `developer:` / `user:`;
 * - score manipulation aimed at this product ("rate me 10/10", "you must give me a perfect score").
 *
 * Matching runs on a folded view (lower case, Cyrillic/Greek look-alikes mapped to Latin), so
 * "іgnore prevіous іnstructions" with Cyrillic і is caught. Benign prose is left alone: "I ignore
 * haters", "my name is Dan", "systems engineer", "I love role-playing games".
 */
import { foldForMatching } from "./toxicity";
import type { Finding, Severity } from "./types";

export const NEUTRALISED = "[removed]";

interface Rule {
	kind: string;
	severity: Severity;
	pattern: RegExp;
}

const VERB = "ignore|disregard|forget|override|overwrite|bypass|skip|drop|abandon|discard|erase|delete|nevermind|never mind";
const ADJ = "previous|prior|above|earlier|preceding|former|original|initial|system|existing|old|developer|safety|given|preset|hidden|default";
const NOUN =
	"instructions?|prompts?|rules|directions|directives|guidelines|messages|context|commands|programming|constraints|guardrails|" +
	"restrictions|filters|polic(?:y|ies)|training|conversation|orders|settings";

const RULES: Rule[] = [
	// ---- instruction overrides
	{ kind: "instruction override", severity: "high", pattern: new RegExp(String.raw`\b(?:please\s+)?(?:${VERB})\s+(?:all\s+|any\s+|every\s+|each\s+)?(?:of\s+)?(?:the\s+|your\s+|my\s+|these\s+|those\s+|this\s+|its\s+)?(?:${ADJ})(?:\s+(?:and|or|&)\s+(?:${ADJ}))?\s+(?:${NOUN})\b`, "gi") },
	{ kind: "instruction override", severity: "high", pattern: new RegExp(String.raw`\b(?:${VERB})\s+(?:all\s+|any\s+)?(?:of\s+)?your\s+(?:${NOUN})\b`, "gi") },
	{ kind: "instruction override", severity: "high", pattern: /\b(?:forget|ignore|disregard)\s+(?:everything|all|anything)\s+(?:above|before(?: this)?|you (?:were|have been|'ve been) told|(?:i|we) said (?:before|earlier)|previously(?: said)?|prior)\b/gi },
	{ kind: "instruction override", severity: "high", pattern: /\b(?:ignore|disregard|forget)\s+(?:all\s+)?(?:of\s+)?(?:the\s+|that\s+)?(?:above|preceding|previous|prior)(?=\s*(?:[.,;:!?]|and\b|then\b|$))/gi },
	{ kind: "instruction override", severity: "high", pattern: /\b(?:system|safety|admin|developer)\s+override\b|\boverride\s+(?:code|mode|activated|enabled)\b/gi },
	{ kind: "instruction override", severity: "medium", pattern: /\b(?:new|updated|real|actual|true|revised|additional)\s+(?:system\s+)?(?:instructions?|prompt|rules)\s*:/gi },
	{ kind: "instruction override", severity: "medium", pattern: /\bfrom now on,?\s+(?:you|u)\s+(?:are|will|must|shall|should|act|respond|answer|reply|only|have to|can)\b/gi },
	{ kind: "instruction override", severity: "medium", pattern: /\byour\s+(?:new|real|actual|true)\s+(?:task|role|instructions?|goal|purpose|job|objective)\s+(?:is|are|will be)\b/gi },
	{ kind: "instruction override", severity: "high", pattern: /\b(?:ignorier(?:e|en sie|t)?|vergiss|missachte)\s+(?:alle\s+|die\s+)?(?:vorherigen|bisherigen|obigen|vorigen|früheren|deine)\s+(?:anweisungen|instruktionen|befehle|regeln|vorgaben)\b/giu },
	{ kind: "instruction override", severity: "high", pattern: /\b(?:ignore[zr]?|oublie[zr]?)\s+(?:toutes\s+)?(?:les\s+|tes\s+|vos\s+)?(?:instructions|consignes|règles)\s*(?:précédentes|antérieures|ci-dessus)?(?=[\s.,!]|$)/giu },
	{ kind: "instruction override", severity: "high", pattern: /\b(?:ignora(?:r)?|olvida)\s+(?:todas\s+)?(?:las\s+|tus\s+)?(?:instrucciones|reglas)\s+(?:anteriores|previas)\b/giu },
	{ kind: "instruction override", severity: "high", pattern: /\b(?:ignor(?:e|ar)|esqueça)\s+(?:todas\s+)?(?:as\s+|suas\s+)?(?:instruções|regras)\s+(?:anteriores|prévias)/giu },
	{ kind: "instruction override", severity: "high", pattern: /\b(?:ignora|dimentica)\s+(?:tutte\s+)?(?:le\s+)?(?:istruzioni|regole)\s+precedenti\b/giu },

	// ---- jailbreak personas and role-play
	{ kind: "jailbreak persona", severity: "high", pattern: /\b(?:you are|you're|youre|u r|you will be|act as|acting as|pretend to be|pretend you(?:'re| are)|role-?play as|become|behave like|simulate)\s+(?:now\s+)?(?:an?\s+|my\s+)?(?:(?:dan|jailbroken|unfiltered|uncensored|amoral)\b|evil\s?(?:bot|ai|assistant|confidant|twin|version)\b|(?:unrestricted|unlimited|unethical|rogue|unbound|unchained|evil|free|uncontrolled)\s+(?:ai|a\.i\.|assistant|model|language model|chatbot|bot|version|llm|gpt|mode)\b)/gi },
	{ kind: "jailbreak persona", severity: "high", pattern: /\b(?:do anything now|(?:dan|developer|sudo|jailbreak|jailbroken|unrestricted|unfiltered|uncensored|god|admin|debug)\s+mode\s+(?:on|enabled|activated)|(?:enable|activate|enter|switch to)\s+(?:dan|developer|sudo|jailbreak|unrestricted|unfiltered|uncensored|god|admin|debug)\s+mode|jailbreak(?:ing)? (?:prompt|mode|you|the (?:ai|model|assistant)))\b/gi },
	{ kind: "jailbreak persona", severity: "high", pattern: /\b(?:you are|you're|u r)\s+(?:now\s+)?(?:no longer|not)\s+(?:an?\s+|the\s+)?(?:ai|a\.i\.|assistant|language model|llm|chatbot|bot|bound by|restricted|limited|chatgpt|gpt|claude|llama|program)\b/gi },
	{ kind: "jailbreak persona", severity: "medium", pattern: /\b(?:respond|answer|reply|speak|talk|act|operate|write|generate|output)\s+(?:\w+\s+){0,3}?without\s+(?:any\s+)?(?:restrictions|filters|censorship|limitations|rules|guidelines|ethics|morals|safety)\b/gi },
	{ kind: "role-play jailbreak", severity: "medium", pattern: /\b(?:let'?s|lets|let us|we will|we'll)\s+(?:play a game|role-?play|pretend)\b[^.!?\n]{0,80}?\byou\b[^.!?\n]*/gi },
	{ kind: "role-play jailbreak", severity: "medium", pattern: /\b(?:stay in character|never break character|don'?t break character|remain in character)\b/gi },
	{ kind: "role-play jailbreak", severity: "medium", pattern: /\b(?:pretend|imagine)\s+(?:that\s+)?you\s+(?:are|have|were)\s+(?:no|not|an? (?:ai|model|assistant|character) (?:without|with no|that|who))\b/gi },
	{ kind: "role-play jailbreak", severity: "medium", pattern: /\bmy\s+(?:dead|deceased|late)\s+(?:grandma|grandmother|granny|grandpa|grandfather)\b[^.!?\n]{0,80}?\b(?:used to|would)\s+(?:tell|read|say|recite|give)\b[^.!?\n]*/gi },

	// ---- system-prompt extraction
	{ kind: "system prompt request", severity: "medium", pattern: /\b(?:reveal|show|print|display|repeat|output|echo|tell me|give me|share|leak|dump|write out|list|what (?:is|are|was|were))\s+(?:me\s+|us\s+)?(?:your|the|all of your|all your)\s+(?:full\s+|complete\s+|entire\s+|exact\s+|verbatim\s+)*(?:system|initial|hidden|original|secret|developer|pre-?)\s*(?:prompts?|instructions|message|rules|guidelines|configuration)\b/gi },
	{ kind: "system prompt request", severity: "medium", pattern: /\b(?:reveal|show|print|display|repeat|output|leak|dump)\s+(?:me\s+)?your\s+(?:prompts?|instructions|guidelines|rules)\b/gi },
	{ kind: "system prompt request", severity: "medium", pattern: /\b(?:repeat|print|output|echo)\s+(?:the|all|everything|all the)\s+(?:text|words|lines|content)?\s*(?:above|before this|preceding|so far)\b/gi },
	{ kind: "system prompt request", severity: "medium", pattern: /\bwhat (?:were you|have you been|are you) (?:told|instructed|programmed) (?:to do|before|initially|by your developers)?/gi },

	// ---- fake chat-template tokens and role tags
	{ kind: "role tag", severity: "high", pattern: /<\|\s*[a-z_]{2,24}\s*\|>|\[\/?inst\]|<<\/?sys>>|<\/?(?:system|assistant|user|developer|instructions?|sys)\s*>|<\/s>|<s>/gi },
	{ kind: "role tag", severity: "high", pattern: /^[ \t>]*(?:#{1,4}\s*)?(?:system|assistant|developer|user|sys|ai|bot)\s*(?:prompt|message)?\s*:/gim },
	{ kind: "role tag", severity: "high", pattern: /(?<=[.!?]\s{0,3})(?:system|assistant|developer)\s*:/gi },
	{ kind: "role tag", severity: "high", pattern: /^[ \t]*#{2,}\s*(?:system|instructions?|response|assistant)\b/gim },

	// ---- score manipulation aimed at the analysis
	{ kind: "score manipulation", severity: "low", pattern: /\b(?:give|rate|score|grade|mark)\s+(?:me|this|my\s+\w+|him|her|us)\s+(?:a\s+|an\s+)?(?:perfect|10|ten|100|maximum|max|highest|full|top)(?:\s*(?:\/|out of)\s*(?:10|100))?(?!\s*(?:minutes|mins|seconds|secs|days|hours|years|bucks|dollars|euros|reasons|more|tips|percent|%))\b(?:\s+(?:score|rating|points|marks|stars))?/gi },
	{ kind: "score manipulation", severity: "low", pattern: /\b(?:you must|you have to|you will|you need to)\s+(?:rate|score|give|grade)\s+(?:me|this|my)\b/gi }
];

/** Injection findings; spans index into `text`. */
export function detectInjection(text: string): Finding[] {
	const view = foldForMatching(text);
	const out: Finding[] = [];
	for (const rule of RULES) {
		rule.pattern.lastIndex = 0;
		for (const m of view.matchAll(rule.pattern)) {
			let start = m.index!;
			let end = start + m[0].length;
			while (start < end && /\s/.test(view[start])) start++;
			while (end > start && /\s/.test(view[end - 1])) end--;
			if (end <= start) continue;
			if (out.some(o => o.span && start < o.span[1] && o.span[0] < end)) {
				const o = out.find(o => o.span && start < o.span[1] && o.span[0] < end)!;
				o.span = [Math.min(o.span![0], start), Math.max(o.span![1], end)];
				continue;
			}
			out.push({
				category: "injection",
				severity: rule.severity,
				span: [start, end],
				message: `A prompt-injection marker (${rule.kind}) was found and neutralised.`
			});
		}
	}
	return out.sort((a, b) => a.span![0] - b.span![0]);
}

/** The text with each injection marker replaced by `[removed]`. */
export function neutraliseInjection(text: string, findings = detectInjection(text)): string {
	let out = "";
	let at = 0;
	for (const x of [...findings].sort((a, b) => a.span![0] - b.span![0])) {
		if (!x.span || x.span[0] < at) continue;
		out += text.slice(at, x.span[0]) + NEUTRALISED;
		at = x.span[1];
	}
	return out + text.slice(at);
}
