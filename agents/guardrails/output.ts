/**
 * The output rail: every model answer (LLM or local) passes here before it is stored or shown.
 * Pure and synchronous.
 *
 * 1. Schema: the value must satisfy the agent's zod schema (`output.schema` otherwise, and
 *    `ok: false`: the caller re-asks or fails closed).
 * 2. Content: every string in the value is split into sentences, and a sentence that breaks a
 *    rule is removed (never the whole field; a field left empty gets a neutral placeholder, an
 *    emptied array item is dropped when the schema allows it). The rules, SPEC §5:
 *    - `output.banned`: cosmetic surgery, injectables, fillers, Botox and other procedures, or
 *      appearance "hacks" like mewing; offensive, sexual or hateful language;
 *    - `output.medical`: health inferences and diagnoses (physical or mental), medication and
 *      "see a dermatologist"-style medical advice;
 *    - `output.sensitive_inference`: race, ethnicity, religion, sexual orientation;
 *    - `output.body_shaming`: "ugly"-style labels, body-shaming words, weight-loss pressure;
 *    - `output.tone`: harsh or absolute judgements ("you will never…", "pathetic", "nobody will…");
 *    - `output.minor` (only when `minor`): attractiveness wording of any kind.
 *    Fashion vocabulary that merely looks like a body word is allowed ("skinny jeans",
 *    "slim-fit", "chunky sneakers", "filler words", "black and white outfit", "Japanese-inspired").
 * 3. Disclaimers: with `disclaimers` set and an object value, the mandatory disclaimers are
 *    merged into its `disclaimers` array.
 *
 * `ok` means the cleaned value satisfies the schema (usable as is); `findings` say what was
 * removed and why, each with its span in the string it was found in and the field's path in the
 * message. When `ok` is false, `value` is the cleaned input, not a schema-valid value.
 */
import type { z } from "zod";
import { withDisclaimers, type DisclaimerOptions } from "./disclaimers";
import { detectToxicity, foldForMatching } from "./toxicity";
import type { Finding, OutputVerdict, Severity } from "./types";

export interface OutputOptions<T> {
	schema: z.ZodType<T>;
	/** The subject is an estimated or declared minor (< 18): no attractiveness wording at all. */
	minor: boolean;
	/** Merge the mandatory disclaimers into `value.disclaimers` (object values only). */
	disclaimers?: DisclaimerOptions;
	/** Keys whose strings are identifiers, not prose (never checked). Default: ids, URLs, keys, hashes, colours, timestamps. */
	skipKey?: (key: string) => boolean;
}

export const REMOVED_PLACEHOLDER = "Part of this text was left out because it did not meet our content guidelines.";

interface Rule {
	category: string;
	severity: Severity;
	pattern: RegExp;
	message: string;
	minorOnly?: boolean;
}

const SUBJ = String.raw`(?:you|he|she|they|the (?:person|subject|user|individual)|this (?:person|user))`;
const INFER_VERB = String.raw`(?:look|looks|appear|appears|seem|seems|come across as|comes across as|might be|may be|must be|could be|are|is|'re|'s)`;
const HEDGE = String.raw`(?:(?:likely|probably|clearly|definitely|obviously|possibly|most likely)\s+)?`;
const ETHNIC =
	"asian|east asian|south asian|southeast asian|african|african[- ]american|caucasian|latino|latina|latinx|hispanic|arab|arabic|" +
	"middle[- ]eastern|indian|pakistani|bangladeshi|chinese|japanese|korean|vietnamese|filipino|thai|mexican|european|slavic|nordic|" +
	"scandinavian|mediterranean|persian|turkish|jewish|native american|indigenous|aboriginal|mixed[- ]race|biracial|multiracial|roma|gypsy";
const RELIGION = "religious|devout|muslim|christian|jewish|hindu|buddhist|sikh|catholic|protestant|mormon|atheist|orthodox|evangelical|pious";
const ORIENTATION = "gay|lesbian|bisexual|queer|homosexual|heterosexual|asexual|pansexual|trans|transgender|straight (?:man|woman|guy|girl)";
const PERSON = /\b(?:you|your|you're|yourself|face|faces|eyes|lips|smile|features|looks|appearance|body|figure|skin|he|she|him|her|his|girl|boy|kid|teen|child)\b/i;

const RULES: Rule[] = [
	// ---- cosmetic procedures and appearance "hacks" (SPEC §5: never advise surgery or injectables)
	{
		category: "output.banned",
		severity: "high",
		message: "Cosmetic procedure advice was removed.",
		pattern: new RegExp(
			String.raw`\b(?:surgery|surgeries|surgical(?:ly)?|surgeons?|plastic surgery|cosmetic (?:surgery|procedures?|treatments?|enhancements?|work)|nose ?jobs?|rhinoplasty|face ?lifts?|botox|botulinum|(?:dermal |lip |cheek |chin |jaw(?:line)? |under-?eye |tear trough )?fillers?(?!\s+words?)|lip (?:injections?|flip|augmentation)|injectables?|injections?|liposuction|lipo|tummy tucks?|abdominoplasty|breast (?:implants?|augmentation|reduction|lift)|boob jobs?|implants?|blepharoplasty|eyelid (?:surgery|lift)|brow lifts?|chin (?:augmentation)|jaw (?:contouring|reduction)|bbl|brazilian butt lift|kybella|thread lifts?|chemical peels?|laser (?:resurfacing|treatments?|hair removal)|microneedling|skin (?:bleaching|lightening|whitening)|(?:whitening|lightening|bleaching) creams?|hair transplants?|veneers|otoplasty|mewing|bone ?smashing|looksmax\w*|coolsculpting|fat (?:freezing|dissolving|transfer)|sculptra|juvederm|restylane|dysport|(?:get|getting|got|have|having|had)\s+(?:some\s+|a little\s+|a bit of\s+)?work done)\b`,
			"gi"
		)
	},
	// ---- health: inference, diagnosis, medical advice
	{
		category: "output.medical",
		severity: "high",
		message: "A health inference or medical remark was removed.",
		pattern: new RegExp(
			String.raw`\b(?:depression|depressed|depressive|clinically|anxiety disorder|(?:an )?anxiety (?:issues?|problems?)|panic disorder|adhd|autism|autistic|asperger'?s|on the spectrum|bipolar|schizophreni\w*|psychotic|ptsd|ocd|eating disorders?|anorexi\w*|bulimi\w*|body dysmorphi\w*|diabet\w*|thyroid|hypothyroid\w*|hormonal imbalance|pcos|alopecia|psoriasis|eczema|rosacea|acne|vitiligo|jaundice\w*|anemi\w*|anaemi\w*|malnourish\w*|malnutrition|insomnia|sleep apnea|dementia|parkinson'?s|down syndrome|disorders?|mental illness|mentally ill|illness(?:es)?|diseases?|syndrome|diagnos\w*|symptoms?|medical conditions?|health (?:conditions?|issues?|problems?)|mental health (?:issues?|problems?|conditions?)|chronic fatigue|dehydrat\w*|hair loss|(?<!(?:coffee|tea|gym|book|travel|adrenaline|chocolate|netflix|fitness|shopping|music|sports?|game|podcast|news|sugar|caffeine|workout|running)[ -])addict(?:ed|ion|s)?|alcoholi\w*|substance abuse)\b`,
			"gi"
		)
	},
	{
		category: "output.medical",
		severity: "high",
		message: "A health inference or medical remark was removed.",
		pattern: new RegExp(
			String.raw`\b${SUBJ}\s+(?:look|looks|seem|seems|appear|appears)\s+(?:to be\s+)?(?:(?:very|quite|a bit|rather|somewhat|a little|kind of)\s+)?(?:sick|ill|unwell|unhealthy|anorexic|bulimic|malnourished|diabetic|drunk|stoned|hungover|on drugs|high on)\b`,
			"gi"
		)
	},
	{
		category: "output.medical",
		severity: "high",
		message: "Medical advice was removed.",
		pattern:
			/\b(?:see|consult|talk to|visit|speak (?:to|with)|get checked by|ask)\s+(?:a|your|an)\s+(?:doctor|physician|dermatologist|psychiatrist|psychologist|therapist|gp|specialist|endocrinologist|nutritionist|dietitian|dentist)\b|\b(?:take|taking|try|trying|start|starting|consider)\s+(?:some\s+)?(?:antidepressants|medication|meds|pills|supplements|steroids|hormones|hormone therapy|collagen|biotin|accutane|isotretinoin|retinoids?|minoxidil|finasteride)\b|\b(?:ozempic|wegovy|semaglutide|accutane|finasteride|minoxidil|antidepressants)\b/gi
	},
	// ---- race, ethnicity, religion, sexual orientation
	{
		category: "output.sensitive_inference",
		severity: "high",
		message: "An inference about ethnicity was removed.",
		pattern: new RegExp(
			String.raw`\b${SUBJ}\s+${HEDGE}${INFER_VERB}\s+(?:to be\s+)?${HEDGE}(?:of\s+)?(?:an?\s+)?(?:${ETHNIC}|(?:black|white|brown) (?:person|man|woman|guy|girl|people))\b(?!\s*-?\s*(?:style|inspired|cuisine|food|fashion|design|tailoring|clothing|dress|print|pattern|minimalism))`,
			"gi"
		)
	},
	{
		category: "output.sensitive_inference",
		severity: "high",
		message: "An inference about ethnicity was removed.",
		pattern: new RegExp(
			String.raw`\b(?:ethnicity|ethnicities|ethnic(?:ally)?|racial(?:ly)?|(?:your|their|his|her)\s+(?:race|ancestry|heritage|ethnic\w*|roots|skin colou?r|complexion suggests))\b|\b(?:${ETHNIC})\s+(?:descent|origin|origins|heritage|ancestry|features|roots|genes|genetics|bloodline|background|looks)\b`,
			"gi"
		)
	},
	{
		category: "output.sensitive_inference",
		severity: "high",
		message: "An inference about religion was removed.",
		pattern: new RegExp(
			String.raw`\b${SUBJ}\s+${HEDGE}${INFER_VERB}\s+(?:to be\s+)?${HEDGE}(?:an?\s+)?(?:${RELIGION})\b|\b(?:your|their|his|her)\s+(?:religion|faith|religious (?:beliefs?|background|affiliation|views))\b|\b(?:hijab|headscarf|turban|kippah|yarmulke|cross necklace|crucifix|rosary|bindi|niqab|burqa)\b[^.!?]{0,40}\b(?:suggests|indicates|means|shows|signals|implies|reveals|tells)\b`,
			"gi"
		)
	},
	{
		category: "output.sensitive_inference",
		severity: "high",
		message: "An inference about sexual orientation was removed.",
		pattern: new RegExp(
			String.raw`\b${SUBJ}\s+${HEDGE}${INFER_VERB}\s+(?:to be\s+)?${HEDGE}(?:an?\s+)?(?:${ORIENTATION})\b|\b(?:sexual orientation|(?:your|their|his|her) sexuality|gaydar)\b`,
			"gi"
		)
	},
	// ---- body shaming, "ugly"-style labels, weight-loss pressure
	{
		category: "output.body_shaming",
		severity: "high",
		message: "A demeaning appearance label was removed.",
		pattern:
			/\b(?:ugly|uglier|ugliest|ugliness|hideous|unattractive|unsightly|repulsive|grotesque|homely|plain[- ]looking|unfortunate[- ]looking|funny[- ]looking|odd[- ]looking|gross|disgusting|revolting|beastly|freakish|deformed|monstrous|butterface|not (?:very |that |particularly |conventionally )?(?:attractive|good[- ]looking|pretty|handsome|beautiful))\b/gi
	},
	{
		category: "output.body_shaming",
		severity: "high",
		message: "Body-shaming language was removed.",
		pattern:
			/\b(?:fat|fatty|fatso|obese|obesity|overweight|chubby|pudgy|plump|flabby|tubby|porky|lardy|chunky (?:face|arms|legs|thighs|body|guy|girl|cheeks)|beer belly|pot ?belly|love handles|muffin top|double chin|thunder thighs|cankles|man ?boobs|moobs|bingo wings|turkey neck|jowls|scrawny|bony|skin and bones|(?:saggy|droopy|wrinkly|wrinkled|crooked|yellow|oily|greasy|blotchy|pimply|spotty|bad|flabby) (?:skin|arms|eyelids|jowls|cheeks|chin|belly|stomach|teeth|face|nose|complexion)|(?:big|huge|large|giant|crooked|hooked|bulbous|fat|pointy|beak-like) (?:nose|ears|forehead|teeth|chin|belly|stomach|thighs|arms|hips|butt|lips|jaw)|receding hairline|balding|bald spot|thinning hair|acne scars|your (?:flaws|imperfections|problem areas)|(?:facial|physical|body) (?:flaws|imperfections)|problem areas|(?:you|you're|you are)\s+(?:look\s+|seem\s+)?(?:too|very|so|really)\s+(?:skinny|thin|fat|heavy|big|short|tall|hairy|pale|dark|old|bulky|curvy|wide))\b/gi
	},
	{
		category: "output.body_shaming",
		severity: "high",
		message: "Body-shaming language was removed.",
		pattern:
			/\byour\s+(?:nose|ears|forehead|teeth|chin|jaw|belly|stomach|tummy|thighs|arms|hips|butt|bottom|legs|face|head|lips|cheeks|neck|skin|body|figure|waist|chest|shoulders|hairline)\s+(?:is|are|looks?|seems?|appears?)\s+(?:(?:a bit|a little|too|very|so|really|quite|rather|kind of|slightly|pretty)\s+)?(?:huge|big|large|massive|giant|enormous|fat|wide|crooked|uneven|asymmetrical|lopsided|weird|odd|strange|bad|awful|oily|greasy|blotchy|wrinkled|flabby|saggy|droopy|bony|skinny|hairy|tiny|stubby|chubby|thick|flat|pointy|yellow|thin)\b/gi
	},
	{
		category: "output.body_shaming",
		severity: "medium",
		message: "Weight-loss pressure was removed.",
		pattern:
			/\b(?:lose|losing|drop|dropping|shed|shedding|burn|burning)\s+(?:some\s+|a\s+few\s+|a\s+little\s+|a\s+bit\s+of\s+|the\s+extra\s+|extra\s+|those\s+|that\s+|more\s+)?(?:weight|pounds|lbs|kilos|kgs?|belly fat|body fat|fat|inches|baby weight)\b|\b(?:slim|thin|trim|skinny)\s+down\b|\b(?:go|going|get|start|starting)\s+on\s+a\s+diet\b|\byou\s+(?:should|need to|must|could|might want to|ought to)\s+(?:diet|eat less|exercise more|work out more|hit the gym|get in shape|tone up|lose)\b|\b(?:look|appear|seem)\s+(?:slimmer|thinner|skinnier|less (?:heavy|chubby|fat|bulky)|smaller|leaner)\b|\b(?:if you were|were you|if you got|once you get|you were|being|be|get|getting|become)\s+(?:a (?:bit|little|few pounds)\s+)?(?:thinner|slimmer|skinnier|lighter|leaner|less (?:heavy|chubby|fat|bulky))\b|\bhide\s+(?:your\s+)?(?:belly|stomach|tummy|weight|arms|thighs|hips|curves|figure|flaws|bulges?|size|double chin|chin)\b|\b(?:cut(?:ting)? (?:down on )?calories|calorie deficit|weight[- ]loss|slimming|fat[- ]burning|detox teas?|skip(?:ping)? meals|crash diets?)\b/gi
	},
	// ---- tone: harsh or absolute judgements
	{
		category: "output.tone",
		severity: "low",
		message: "A harsh judgement was removed.",
		pattern:
			/\b(?:terrible|awful|horrible|horrendous|atrocious|pathetic|embarrassing|cringe(?:y|-?worthy)?|(?:a|total|complete|real) (?:disaster|mess|joke|failure|letdown)|train ?wreck|hopeless|laughable|ridiculous|worst|tacky|trashy|cheap-looking|unbearable|lifeless|zero (?:style|taste|charisma|personality)|no (?:sense of )?style|no taste|no personality|clueless|ashamed|shameful|a lost cause|beyond (?:help|saving|repair)|what a shame)\b/gi
	},
	{
		category: "output.tone",
		severity: "low",
		message: "A harsh judgement was removed.",
		pattern:
			/\b(?:you|you're|you are|your \w+(?: \w+)? (?:is|are|looks?|seems?|sounds?|comes? across as)|you (?:look|seem|sound|come across as))\s+(?:(?:so|very|really|pretty|quite|extremely|incredibly|painfully|totally|completely|utterly)\s+)?(?:boring|lazy|sloppy|dull|bland|awkward|weird|creepy|unlikable|unlikeable|unpleasant|arrogant|fake|desperate|try-?hard|needy|annoying|lame|forgettable|mediocre|unfashionable|outdated|clueless|insecure|unapproachable|unfriendly|nerdy|a nerd|a loser|a failure)\b/gi
	},
	{
		category: "output.tone",
		severity: "medium",
		message: "An absolute judgement was removed.",
		pattern:
			/\b(?:you (?:will|'ll) never|you can never|you(?:'ll| will) always be|(?:nobody|no one|no-one) (?:will|would|could) (?:ever )?(?:like|love|date|want|hire|take you seriously|find you)|everyone (?:thinks|sees|knows) (?:that )?you(?:'re| are)?|objectively (?:bad|wrong|unattractive|worse|inferior)|(?:completely|totally|utterly|absolutely) (?:wrong|unflattering|hopeless|ruined|unacceptable)|you should be ashamed|there is nothing (?:good|positive|redeeming)|nothing (?:about you )?works)\b/gi
	},
	// ---- minors: no attractiveness wording
	{
		category: "output.minor",
		severity: "high",
		minorOnly: true,
		message: "Attractiveness wording about a minor was removed.",
		pattern:
			/\b(?:attractive(?:ness)?|sexy|sexiness|seductive|sultry|alluring|desirable|date-?able|eye candy|heartthrob|babe|flirt\w*|seduc\w*|hot(?:ness)? (?:score|rating)|(?:look|looks|looking|so|very|really|you're|you are)\s+(?:hot|fine|fit)\b|good[- ]looking|handsome|gorgeous|stunning|beautiful|beauty|pretty(?=\s*(?:[.!,;]|$|\s+(?:face|girl|boy|smile|eyes|lady|one|features)))|cute(?=\s*(?:[.!,;]|$|\s+(?:face|girl|boy|guy|smile|eyes|features)))|lovely (?:face|features|eyes|smile)|looks score|rating (?:your|of your) looks|your looks|(?:get|gets|got|land|score|attract)\s+(?:you\s+)?(?:a lot of |lots of |more |many |plenty of )?(?:dates|matches|girlfriends?|boyfriends?|admirers)|dating (?:profile|app|apps|life)|crush(?:es)? on you)\b/gi
	}
];

/** Words that need a person in the sentence before they count as attractiveness wording. */
const NEEDS_PERSON = /^(?:good[- ]looking|handsome|gorgeous|stunning|beautiful|beauty|pretty|cute)$/i;

// ---------------------------------------------------------------- sentences

const ABBREVIATIONS = new Set(["e.g", "i.e", "etc", "vs", "mr", "mrs", "ms", "dr", "st", "jr", "sr", "approx", "no", "fig", "inc", "ltd", "co"]);

/** [start, end) of each sentence, trailing whitespace included; the pieces concatenate back to the text. */
export function splitSentences(text: string): [number, number][] {
	const out: [number, number][] = [];
	let start = 0;
	const boundary = /[.!?]+["')\]”’]*(?=\s|$)|\n+|[;•]\s/g;
	for (const m of text.matchAll(boundary)) {
		let end = m.index! + m[0].length;
		if (m[0][0] === ".") {
			const word = /([\p{L}.]+)$/u.exec(text.slice(start, m.index!))?.[1]?.toLowerCase() ?? "";
			if (ABBREVIATIONS.has(word) || /^\p{L}$/u.test(word) || /\d$/.test(text.slice(0, m.index!)) && /^\d/.test(text.slice(end).trimStart())) continue;
		}
		while (end < text.length && /\s/.test(text[end])) end++;
		if (end > start) out.push([start, end]);
		start = end;
	}
	if (start < text.length) out.push([start, text.length]);
	return out;
}

// ---------------------------------------------------------------- one string

export interface TextCheck {
	text: string;
	findings: Finding[];
	/** Sentences removed. */
	removed: number;
}

/** Findings for one piece of text (spans in it), without removing anything. */
export function scanOutputText(text: string, opts: { minor: boolean; path?: string }): Finding[] {
	const view = foldForMatching(text);
	const at = opts.path ? `${opts.path}: ` : "";
	const out: Finding[] = [];
	// A tag or a short label ("gorgeous") describes the person it is about.
	const label = text.trim().split(/\s+/).length <= 3;
	const overlaps = (category: string, a: number, b: number) => out.some(o => o.category === category && o.span && a < o.span[1] && o.span[0] < b);
	for (const [s, e] of splitSentences(text)) {
		const sentence = view.slice(s, e);
		for (const rule of RULES) {
			if (rule.minorOnly && !opts.minor) continue;
			rule.pattern.lastIndex = 0;
			for (const m of sentence.matchAll(rule.pattern)) {
				if (rule.minorOnly && NEEDS_PERSON.test(m[0]) && !label && !PERSON.test(sentence)) continue;
				const a = s + m.index!;
				const b = a + m[0].length;
				if (overlaps(rule.category, a, b)) continue;
				out.push({ category: rule.category, severity: rule.severity, span: [a, b], message: `${at}${rule.message}` });
			}
		}
	}
	// Offensive, sexual or hateful language from the input lexicons.
	for (const x of detectToxicity(text)) {
		if (x.severity === "low" && x.category === "self_harm") continue;
		if (out.some(o => o.span && x.span && x.span[0] < o.span[1] && o.span[0] < x.span[1])) continue;
		out.push({ category: "output.banned", severity: x.severity === "low" ? "medium" : x.severity, span: x.span, message: `${at}Offensive or unsafe language (${x.category}) was removed.` });
	}
	return out.sort((a, b) => a.span![0] - b.span![0]);
}

/** The text with every offending sentence removed. */
export function cleanOutputText(text: string, opts: { minor: boolean; path?: string }): TextCheck {
	const findings = scanOutputText(text, opts);
	if (findings.length === 0) return { text, findings, removed: 0 };
	let out = "";
	let removed = 0;
	for (const [s, e] of splitSentences(text)) {
		if (findings.some(x => x.span && x.span[0] < e && s < x.span[1])) {
			removed++;
			continue;
		}
		out += text.slice(s, e);
	}
	// "Navy works; <removed>." leaves a dangling separator: end the sentence instead.
	return { text: out.trim().replace(/\s*[;,:•]$/, "."), findings, removed };
}

// ---------------------------------------------------------------- whole values

const DEFAULT_SKIP = (key: string) =>
	/(?:^|_)(?:id|ids|url|urls|uri|key|hash|mime|timestamp|created_at|updated_at|color|colour|dominant_color|pipeline|provider|model|version|prompt_id|prompt_version|langsmith_run_id)$/i.test(key);

/** A URL, a path, a hex id or a colour: not prose, even under a key that does not say so. */
const looksLikeIdentifier = (s: string) =>
	/^\S+$/.test(s) && (/^[a-z][a-z0-9+.-]*:\/\//i.test(s) || /[/\\]/.test(s) || /^[0-9a-f-]{16,}$/i.test(s) || /^#[0-9a-f]{3,8}$/i.test(s));

type Mode = "drop" | "placeholder";

function walk(node: unknown, path: string, key: string, opts: { minor: boolean; skip: (k: string) => boolean }, mode: Mode, findings: Finding[]): unknown {
	if (typeof node === "string") {
		if (opts.skip(key) || looksLikeIdentifier(node)) return node;
		const r = cleanOutputText(node, { minor: opts.minor, path });
		findings.push(...r.findings);
		if (r.removed > 0 && r.text === "") return EMPTIED;
		return r.text === "" && r.removed === 0 ? node : r.text;
	}
	if (Array.isArray(node)) {
		const out: unknown[] = [];
		node.forEach((item, i) => {
			const v = walk(item, `${path}[${i}]`, key, opts, mode, findings);
			if (v === EMPTIED) {
				if (mode === "placeholder") out.push(REMOVED_PLACEHOLDER);
			} else out.push(v);
		});
		return out;
	}
	if (node && typeof node === "object" && (Object.getPrototypeOf(node) === Object.prototype || Object.getPrototypeOf(node) === null)) {
		const out: Record<string, unknown> = {};
		for (const [k, v] of Object.entries(node)) {
			const w = walk(v, path ? `${path}.${k}` : k, k, opts, mode, findings);
			out[k] = w === EMPTIED ? REMOVED_PLACEHOLDER : w;
		}
		return out;
	}
	return node;
}
const EMPTIED = Symbol("emptied");

export function checkOutput<T>(value: unknown, opts: OutputOptions<T>): OutputVerdict<T> {
	const findings: Finding[] = [];
	const walkOpts = { minor: opts.minor, skip: opts.skipKey ?? DEFAULT_SKIP };
	const first = opts.schema.safeParse(value);
	if (!first.success) {
		findings.push({
			category: "output.schema",
			severity: "high",
			span: null,
			message: `The output does not match its schema: ${first.error.issues
				.slice(0, 3)
				.map(i => `${i.path.join(".") || "(root)"} ${i.message}`)
				.join("; ")}`
		});
	}
	const source = first.success ? first.data : value;
	let cleaned = walk(source, "", "", walkOpts, "drop", findings);
	let parsed = opts.schema.safeParse(cleaned);
	if (!parsed.success && first.success) {
		// Dropping emptied items broke the schema (e.g. a minimum count): keep them as placeholders instead.
		cleaned = walk(source, "", "", walkOpts, "placeholder", []);
		parsed = opts.schema.safeParse(cleaned);
		if (!parsed.success) {
			findings.push({ category: "output.schema", severity: "high", span: null, message: "The output no longer matches its schema after unsafe sentences were removed." });
		}
	}
	let result: unknown = parsed.success ? parsed.data : cleaned;
	if (opts.disclaimers && result && typeof result === "object" && !Array.isArray(result)) {
		const existing = (result as { disclaimers?: unknown }).disclaimers;
		result = { ...result, disclaimers: withDisclaimers(Array.isArray(existing) ? existing.filter((d): d is string => typeof d === "string") : [], opts.disclaimers) };
	}
	return { ok: first.success && parsed.success, value: result as T, findings };
}
