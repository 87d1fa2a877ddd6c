/**
 * Toxicity, sexual content and self-harm signals in free text. Pure and synchronous.
 *
 * The categories follow the OpenAI moderation and Llama Guard 3 taxonomies, folded into the
 * dotted names of `types.ts` (the mapping is `TAXONOMY` below):
 *
 * | ours                  | OpenAI moderation                         | Llama Guard 3                    |
 * |-----------------------|-------------------------------------------|----------------------------------|
 * | `toxicity.profanity`  | (none: swearing is not a policy category) | (none)                           |
 * | `toxicity.harassment` | harassment                                | S5-like insults / bullying       |
 * | `toxicity.threat`     | harassment/threatening, violence          | S1 violent crimes                |
 * | `toxicity.hate`       | hate, hate/threatening                    | S10 hate                         |
 * | `sexual`              | sexual                                    | S12 sexual content               |
 * | `sexual.minors`       | sexual/minors                             | S4 child sexual exploitation     |
 * | `self_harm`           | self-harm, self-harm/intent, /instructions| S11 suicide and self-harm        |
 *
 * Sources: obscenity's English dataset (which undoes leetspeak, confusable characters and
 * repeated letters) over a view of the text where spaced-out letters are joined ("f u c k",
 * "s.h.i.t"), plus curated lexicons with severities (English, and the commonest German, French,
 * Spanish, Portuguese and Italian terms). Benign look-alikes are excluded on purpose: place names
 * (Scunthorpe, Penistone), food (cumin, shiitake), "scat singing", "tit for tat", "drop dead
 * gorgeous", and hyperbole that is not a self-harm signal ("this workout kills me", "I'd die for
 * pizza", "dying of laughter").
 */
import { DataSet, RegExpMatcher, englishDataset, englishRecommendedTransformers } from "obscenity";
import type { Finding, Severity } from "./types";

export const TOXICITY_CATEGORIES = [
	"toxicity.profanity",
	"toxicity.harassment",
	"toxicity.threat",
	"toxicity.hate",
	"sexual",
	"sexual.minors",
	"self_harm"
] as const;
export type ToxicityCategory = (typeof TOXICITY_CATEGORIES)[number];

/** Reference taxonomy: which of our categories each external category lands in. */
export const TAXONOMY: Record<string, ToxicityCategory> = {
	harassment: "toxicity.harassment",
	"harassment/threatening": "toxicity.threat",
	hate: "toxicity.hate",
	"hate/threatening": "toxicity.hate",
	violence: "toxicity.threat",
	"violence/graphic": "toxicity.threat",
	illicit: "toxicity.threat",
	"illicit/violent": "toxicity.threat",
	sexual: "sexual",
	"sexual/minors": "sexual.minors",
	"self-harm": "self_harm",
	"self-harm/intent": "self_harm",
	"self-harm/instructions": "self_harm",
	S1: "toxicity.threat",
	S4: "sexual.minors",
	S10: "toxicity.hate",
	S11: "self_harm",
	S12: "sexual"
};

// ---------------------------------------------------------------- text views

/**
 * Patterns use ASCII `\b` (a Unicode-aware boundary made of lookarounds compiles ~30× slower in
 * V8); the few terms that end in a non-ASCII letter spell their boundary out (`/(?<!\p{L})enculé(?!\p{L})/`).
 */
const re = (src: string) => new RegExp(src, "giu");

/** Look-alike letters (Cyrillic, Greek) folded to Latin, one for one, so spans stay put. */
const HOMOGLYPHS: Record<string, string> = {
	а: "a", е: "e", о: "o", р: "p", с: "c", у: "y", х: "x", і: "i", ј: "j", ѕ: "s", ԁ: "d", һ: "h", ӏ: "l",
	α: "a", ε: "e", ο: "o", ρ: "p", ι: "i", κ: "k", ν: "v", τ: "t", υ: "u", χ: "x",
	"’": "'", "‘": "'", "ʼ": "'", "`": "'"
};

/** Lower-cased, look-alikes folded: same length as the input, so a match's index is the input's. */
export function foldForMatching(text: string): string {
	let out = "";
	for (let i = 0; i < text.length; i++) {
		const ch = text[i];
		const lower = ch.toLowerCase();
		const c = lower.length === 1 ? lower : ch;
		out += HOMOGLYPHS[c] ?? c;
	}
	return out;
}

/**
 * Joins letters spaced out to dodge a filter ("f u c k", "s.h.i.t", "c-u-n-t"): a run of three or
 * more single characters, each followed by one separator. Returns the joined view and, for each
 * of its characters, the index in the original.
 */
export function despace(text: string): { view: string; map: number[] } {
	const map: number[] = [];
	let view = "";
	const runs = text.matchAll(/(?<![\p{L}\p{N}])(?:[\p{L}\p{N}@$!*][ .\-_·]){2,}[\p{L}\p{N}@$!*](?![\p{L}\p{N}])/gu);
	let at = 0;
	const push = (from: number, to: number, skipSeparators: boolean) => {
		for (let i = from; i < to; i++) {
			if (skipSeparators && /[ .\-_·]/.test(text[i])) continue;
			view += text[i];
			map.push(i);
		}
	};
	for (const m of runs) {
		push(at, m.index!, false);
		push(m.index!, m.index! + m[0].length, true);
		at = m.index! + m[0].length;
	}
	push(at, text.length, false);
	return { view, map };
}

// ---------------------------------------------------------------- obscenity

const HATE_WORDS = new Set(["abo", "abeed", "africoon", "arabush", "boonga", "chingchong", "chink", "dyke", "fag", "kike", "nigger", "tranny"]);
const ABLEIST_WORDS = new Set(["retard", "spastic"]);
const SEXUAL_WORDS = new Set([
	"anal", "anus", "bestiality", "blowjob", "boob", "buttplug", "cum", "deepthroat", "dildo", "doggystyle",
	"double penetration", "ejaculate", "felch", "fellatio", "finger bang", "fisting", "gangbang", "handjob", "hentai",
	"hooker", "incest", "jerk off", "jizz", "lubejob", "masturbate", "orgasm", "orgy", "penis", "porn", "rape", "semen",
	"vagina", "tit"
]);
const MILD_WORDS = new Set(["arse", "ass", "bollocks", "piss", "turd", "bastard"]);
/** Words that are also first names or surnames ("Dick Van Dyke", "Emily Dickinson"). */
const NAME_WORDS = new Set(["dick", "dyke", "cock", "prick"]);
/** Removed from the dataset: handled by our own lexicons, or too often benign ("vestido negro", scat singing). */
const DROPPED = new Set(["sex", "negro", "scat"]);
const EXTRA_WHITELIST = [
	"penistone", "cumin", "cumbria", "shiitake", "dickinson", "dickens", "cockpit", "cockatoo", "cocktail", "anusha",
	"analisa", "pussycat", "kikeriki", "fagioli", "wankel", "turdus", "retardant", "tit for tat", "titmouse", "scunthorpe",
	"hancock", "peacock", "shuttlecock", "hitchcock", "cockburn", "arsenal", "assessment", "classic", "bassist"
];

let matcher: RegExpMatcher | null = null;
let dataset: DataSet<{ originalWord: string }> | null = null;
function obscenity() {
	if (!matcher) {
		dataset = new DataSet<{ originalWord: string }>().addAll(englishDataset).removePhrasesIf(p => DROPPED.has(p.metadata?.originalWord ?? ""));
		const built = dataset.build();
		matcher = new RegExpMatcher({
			blacklistedTerms: built.blacklistedTerms,
			whitelistedTerms: [...(built.whitelistedTerms ?? []), ...EXTRA_WHITELIST],
			...englishRecommendedTransformers
		});
	}
	return { matcher, dataset: dataset! };
}

function obscenityFindings(text: string): Finding[] {
	const { view, map } = despace(text);
	const { matcher: m, dataset: ds } = obscenity();
	const out: Finding[] = [];
	for (const match of m.getAllMatches(view, true)) {
		const word = ds.getPayloadWithPhraseMetadata(match).phraseMetadata?.originalWord ?? "";
		const start = map[match.startIndex];
		let end = map[match.endIndex] + 1;
		// Extend to the end of the word ("fuckkkk", "bitches") so the span covers what was written.
		while (end < text.length && /[\p{L}]/u.test(text[end]) && end - start < 40) end++;
		const written = text.slice(start, end);
		if (NAME_WORDS.has(word) && /^[A-Z]/.test(written)) {
			// A capitalised name next to another capitalised word is a person or a place.
			const around = `${text.slice(Math.max(0, start - 20), start)}|${text.slice(end, end + 20)}`;
			if (/[A-Z][\p{L}.]*\s*\|/u.test(around) || /\|\s*(?:[A-Z]|van\b|von\b|de\b)/u.test(around)) continue;
		}
		if (HATE_WORDS.has(word)) out.push(f("toxicity.hate", "high", start, end, "A slur was found."));
		else if (ABLEIST_WORDS.has(word)) out.push(f("toxicity.hate", "medium", start, end, "An ableist slur was found."));
		else if (SEXUAL_WORDS.has(word)) out.push(f("sexual", word === "rape" ? "high" : "medium", start, end, "Sexual content was found."));
		else out.push(f("toxicity.profanity", MILD_WORDS.has(word) ? "low" : "medium", start, end, "Profanity was found."));
	}
	return out;
}

// ---------------------------------------------------------------- lexicons

interface Rule {
	category: ToxicityCategory;
	severity: Severity;
	pattern: RegExp;
	message: string;
}

const INSULT =
	"idiot|moron|imbecile|stupid|dumb|dumbass|ugly|worthless|pathetic|trash|garbage|scum|scumbag|retard(?:ed)?|freak|clown|failure|" +
	"waste of (?:space|air|oxygen)|piece of (?:shit|crap|garbage|trash)|bitch|cunt|bastard|dickhead|asshole|arsehole|twat|prick|slut|whore|" +
	"jerk|creep|disgusting|useless|loser|fat pig|pig|cow|joke";
const GROUPS =
	"gays?|lesbians?|queers?|trans(?:gender)? people|trannies|jews?|muslims?|christians?|hindus?|sikhs?|blacks|black people|whites|white people|" +
	"asians?|mexicans?|immigrants?|refugees?|migrants?|arabs?|africans?|women|men|females|disabled people|foreigners";
const MINOR = String.raw`\b(?:child(?:ren)?|kids?|minors?|underage|under-?age|under 18|pre-?teens?|tweens?|teens?|teenagers?|(?:1[0-7]|[5-9])\s*(?:yo|y/o|yrs?(?: old)?|years? old)|school ?girls?|school ?boys?|little (?:girls?|boys?)|young (?:girls?|boys?))\b`;

const RULES: Rule[] = [
	// ---- profanity not in obscenity's dataset, masked swears, other languages
	{ category: "toxicity.profanity", severity: "low", pattern: re(String.raw`\b(?:damn|dammit|goddamn|crap|crappy|wtf|omfg|bloody hell|bugger|effing|frickin|freaking hell)\b`), message: "Mild profanity was found." },
	{ category: "toxicity.profanity", severity: "medium", pattern: re(String.raw`\b(?:stfu|jackass|dumbass|douche(?:bag)?|bullsh[i1!]t|motherf\w+|phuck\w*|fukk?(?:ing|er|ed)?|fk(?:ing|in)?|fcking|fking)\b`), message: "Profanity was found." },
	{ category: "toxicity.profanity", severity: "medium", pattern: /(?<![\p{L}])(?:f[*#@%!]{1,3}c?k\w*|f[*#@%!]{2,3}\w*|s[*#@%!]{1,2}i?t|sh[*#@%!]t|b[*#@%!]{1,3}t?ch|c[*#@%!]{1,2}nt|a[*#@%!$]{2}hole)(?![\p{L}])/giu, message: "Masked profanity was found." },
	{ category: "toxicity.profanity", severity: "medium", pattern: re(String.raw`\b(?:scheiße|scheisse|merde|putain|bordel de merde|mierda|joder|coño|porra|caralho|foda-se|cazzo|minchia|godverdomme|kurwa|blyat|cyka)\b`), message: "Profanity was found." },

	{ category: "toxicity.profanity", severity: "medium", pattern: /(?<!\p{L})scheiß(?!\p{L})/giu, message: "Profanity was found." },
	// ---- harassment: insults aimed at someone
	{ category: "toxicity.harassment", severity: "medium", pattern: re(String.raw`\b(?:you(?:'re| are| r)?|ur|u r|u)\s+(?:(?:such|so|a|an|the|really|just|one|total|complete|absolute|fucking|fuckin|stupid|little|fat|ugly|dumb|worthless|pathetic|useless)\s+){0,4}(?:${INSULT})\b`), message: "An insult aimed at someone was found." },
	{ category: "toxicity.harassment", severity: "medium", pattern: re(String.raw`\b(?:shut (?:the fuck |the hell )?up|go to hell|screw you|fuck (?:you|off|u|yourself)|f\W{0,3}ck (?:you|off)|piss off|bugger off|get lost,? (?:loser|idiot)|(?:nobody|no one|no-one) (?:likes|loves|cares about|wants) you|everyone hates you|you (?:suck|disgust me|make me sick)|eat shit|drop dead(?! gorgeous))\b`), message: "Harassment was found." },
	{ category: "toxicity.harassment", severity: "medium", pattern: re(String.raw`\b(?:du bist (?:so |ein |eine |echt |voll )*(?:idiot|arschloch|hurensohn|wichser|missgeburt|spast|opfer|hässlich)|arschloch|hurensohn|halt die fresse|halt's maul|halts maul|fick dich|verpiss dich|ta gueule|ferme ta gueule|va te faire foutre|connard|connasse|salope|t'es (?:con|moche|nul)|hijo de puta|vete a la mierda|pendejo|cabr[oó]n|gilipollas|eres (?:un |una )?(?:idiota|estúpido|estúpida|feo|fea)|vai se foder|vai tomar no cu|filho da puta|babaca|otário|vaffanculo|stronzo|klootzak|kankerlijer)\b`), message: "Harassment was found." },

	{ category: "toxicity.harassment", severity: "low", pattern: re(String.raw`\bnobody asked\b|(?:^|[,;:!?\-]\s*)(?:you\s+)?(?:loser|idiot|moron|imbecile|dumbass|clown)(?=\s*(?:[.!?,]|$))`), message: "An insult was found." },

	{ category: "toxicity.harassment", severity: "medium", pattern: /(?<!\p{L})enculé(?!\p{L})/giu, message: "Harassment was found." },
	// ---- threats and incitement (to the reader or others)
	{ category: "toxicity.threat", severity: "high", pattern: re(String.raw`\b(?:kill yourself|kill urself|kill your self|go kill yourself|kys|go die|neck yourself|hang yourself|drink bleach|hope you die|hope you get (?:cancer|raped|hit by a)|die in a fire|you should die|you deserve to die|you should kill yourself)\b`), message: "Incitement to self-harm aimed at someone was found." },
	{ category: "toxicity.threat", severity: "high", pattern: re(String.raw`\bi(?:'ll| will|'m going to| am going to|'m gonna| am gonna| gonna| wanna| want to)\s+(?:fucking\s+)?(?:kill|murder|hurt|stab|shoot|beat|rape|strangle|choke|punch|end)\s+(?:you|u|him|her|them|everyone|my (?:ex|boss|neighbou?r))\b`), message: "A threat of violence was found." },
	{ category: "toxicity.threat", severity: "high", pattern: re(String.raw`\bi(?:'ll| will|'m going to| am going to|'m gonna| am gonna| gonna)\s+(?:find|hunt|hunt down|track down)\s+(?:you|u)\b(?!\s+(?:a|an|the|some|something|someone|one|two|my|our)\b)`), message: "A threat was found." },
	{ category: "toxicity.threat", severity: "high", pattern: re(String.raw`\b(?:i know where you live|watch your back|you(?:'re| are) (?:going to|gonna) (?:die|pay|regret (?:this|it))|shoot up (?:the|a|my) (?:school|office|place|mall)|bomb (?:the|your) (?:school|office|house)|ich bring(?:e)? dich um|je vais te tuer|te voy a matar|vou te matar|ti ammazzo)\b`), message: "A threat of violence was found." },

	// ---- hate
	{ category: "toxicity.hate", severity: "high", pattern: re(String.raw`\b(?:i\s+)?(?:hate|despise|can't stand|cant stand)\s+(?:all\s+|the\s+)?(?:${GROUPS})\b`), message: "Hateful content about a group was found." },
	{ category: "toxicity.hate", severity: "high", pattern: re(String.raw`\b(?:all\s+)?(?:${GROUPS})\s+(?:are|r)\s+(?:(?:all|just|such|so|fucking)\s+)*(?:disgusting|vermin|animals|subhuman|inferior|trash|scum|evil|parasites|a disease|a plague|the problem|filth|cockroaches)\b`), message: "Hateful content about a group was found." },
	{ category: "toxicity.hate", severity: "high", pattern: re(String.raw`\b(?:${GROUPS})\s+should\s+(?:all\s+)?(?:die|be killed|be gassed|be shot|burn|be exterminated|go back (?:home|to their countr(?:y|ies)))\b`), message: "Hateful content about a group was found." },
	{ category: "toxicity.hate", severity: "high", pattern: re(String.raw`\b(?:heil hitler|sieg heil|white power|gas the \w+|1488|14 88|white genocide|race traitor)\b`), message: "Hate symbols or slogans were found." },

	// ---- sexual content
	{ category: "sexual", severity: "low", pattern: re(String.raw`\b(?:sex(?!\s+(?:pistols|and the city|education|ed\b|ratio|chromosomes?|differences?))|sexy time|lingerie)\b`), message: "Sexual content was found." },
	{ category: "sexual", severity: "medium", pattern: re(String.raw`\b(?:sexual(?:ly)? (?:explicit|active|favou?rs?|partners?)|sexting|sext|nudes|noods|nude (?:pics?|photos?|selfies?|pictures?)|naked (?:pics?|photos?|selfies?|pictures?)|send (?:me )?(?:nudes|pics|noods|n00ds)|porn\w*|nsfw|horny|h0rny|onlyfans|only fans|fansly|hook ?ups?|one[- ]night stands?|fwb|friends with benefits|dtf|netflix and chill|erotic\w*|kinky|fetish(?:es)?|bdsm|threesomes?|orgasms?|blow ?jobs?|hand ?jobs?|boobs|titties|dick pics?|nipples?|strippers?|escorts?|escorting|sugar (?:daddy|baby|daddies|babies)|booty calls?|sex tapes?|sex chat|cyber ?sex|sexcam|cam ?girl)\b`), message: "Sexual content was found." },
	{ category: "sexual", severity: "medium", pattern: re(String.raw`\b(?:sexe|cul nu|culo|tetas|pelada|nackt(?:bilder|fotos)?|ficken|bumsen|baiser|transar|follar|scopare)\b`), message: "Sexual content was found." },
	{ category: "sexual.minors", severity: "high", pattern: re(String.raw`\b(?:loli(?:con)?|shota(?:con)?|jailbait|child porn\w*|kiddie porn|cp links?|pedo(?:phile|philia)?s?|paedo(?:phile|philia)?s?|pthc)\b`), message: "Sexual content involving minors was found." },

	// ---- self-harm (first person). High: intent, plan or act; medium: ideation.
	{ category: "self_harm", severity: "high", pattern: re(String.raw`\b(?:kill|killing|unalive|unaliving|off|offing)\s+my\s?self\b`), message: "A self-harm statement was found." },
	{ category: "self_harm", severity: "high", pattern: /(?<![\d.]\s?)(?<![\p{L}\p{N}])kms(?![\p{L}\p{N}])/giu, message: "A self-harm statement was found." },
	{ category: "self_harm", severity: "high", pattern: re(String.raw`\b(?:end|ending|take|taking|took)\s+my\s+(?:own\s+)?life\b|\b(?:end|ending)\s+it\s+all\b|\bcommit(?:ting)?\s+suicide\b|\bsuicidal\b|\bsuicide\s+(?:note|plan|attempt)s?\b|\b(?:attempted|tried)\s+(?:suicide|to kill myself)\b`), message: "A self-harm statement was found." },
	{ category: "self_harm", severity: "high", pattern: re(String.raw`\b(?:want|wanna|going|gonna|plan(?:ning)?|planned|thinking about|think about|tempted|urge|ready|decided|need)\s+(?:to\s+|of\s+|about\s+)?(?:kill(?:ing)?|hurt(?:ing)?|harm(?:ing)?|cut(?:ting)?|starv(?:e|ing)|hang(?:ing)?|drown(?:ing)?|poison(?:ing)?|shoot(?:ing)?|burn(?:ing)?)\s+my\s?self\b`), message: "A self-harm statement was found." },
	{ category: "self_harm", severity: "high", pattern: re(String.raw`\bi(?:'ve been|'m| am| have been| keep| still| sometimes| often| started| was)?(?:\s+(?:still|again|always|secretly))?\s+(?:cut|cutting|harm|harming|burn|burning)\s+my\s?self\b(?!\s+(?:shaving|cooking|chopping|by accident|accidentally|on|while|when|in the|with the))`), message: "A self-harm statement was found." },
	{ category: "self_harm", severity: "high", pattern: re(String.raw`\b(?:overdos(?:e|ing)\s+on\s+purpose|(?:take|swallow|took|swallowed)\s+all\s+(?:my|the|of my)\s+pills)\b`), message: "A self-harm statement was found." },
	{ category: "self_harm", severity: "medium", pattern: re(String.raw`\b(?:i|i'm|im|i am|i've|ive|i'd|id)\b[^.!?\n]{0,25}?\b(?:want|wanna|wish|wished|ready|going|gonna|need|would like)\s+(?:to\s+)?(?:die|be dead|disappear forever|not exist|stop existing|not wake up|never wake up|sleep forever)\b(?!\s+(?:my|your|her|his|the)\s+hair)(?!\s+(?:of|from|laughing|for|than|happy|old|trying|a little|on the inside|in peace at))`), message: "A self-harm statement was found." },
	{ category: "self_harm", severity: "medium", pattern: re(String.raw`\bwish\s+i\s+(?:was|were|had)\s+(?:dead|never been born|not born|not alive|been born dead)\b|\bwish\s+i\s+could\s+(?:disappear forever|die|stop existing)\b`), message: "A self-harm statement was found." },
	{ category: "self_harm", severity: "medium", pattern: re(String.raw`\b(?:no|nothing|don't have (?:a|any)|lost (?:my|all|any)?)\s*(?:reason|point)\s+(?:to|in)\s+(?:live|living|go on|going on|stay alive)\b|\bnot worth living\b|\blife\s+(?:is\s+not|isn't|is no longer|is not really)\s+worth\s+(?:it|living)\b`), message: "A self-harm statement was found." },
	{ category: "self_harm", severity: "medium", pattern: re(String.raw`\b(?:everyone|everybody|the world|they|my family|my friends)\s+(?:would be|is|are|'d be|will be)\s+better off\s+(?:without me|if i (?:was|were|am) (?:gone|dead))\b|\bbetter off dead\b`), message: "A self-harm statement was found." },
	{ category: "self_harm", severity: "medium", pattern: re(String.raw`\bdon'?t\s+want\s+to\s+(?:live|be alive|exist|wake up)\b|\bdon'?t\s+want\s+to\s+be\s+here\s+any ?more\b|\bcan'?t\s+(?:go on|do this|take (?:it|this|life))\s+any ?more\b|\bcan'?t go on\b`), message: "A self-harm statement was found." },
	{ category: "self_harm", severity: "medium", pattern: re(String.raw`\b(?:don'?t|do not|can'?t|cannot)\s+see\s+(?:the|a|any)\s+(?:point|reason)\s+(?:in|of|to)\s+(?:living|life|going on|being alive|live|staying alive)\b|\b(?:think|thinking|thought|obsess(?:ing)?)\s+(?:a lot\s+|often\s+|constantly\s+)?about\s+(?:suicide|killing myself|ending (?:it|my life)|dying|my death|not being here)\b`), message: "A self-harm statement was found." },
	{ category: "self_harm", severity: "medium", pattern: re(String.raw`\bself[- ]?harm(?:ing|ed)?\b(?!\s+(?:awareness|prevention|support|charity|charities|research|researcher|education))|\bunalive\b`), message: "A self-harm statement was found." },
	{ category: "self_harm", severity: "high", pattern: re(String.raw`\b(?:mich (?:umbringen|töten|ritzen)|mir das leben nehmen|will nicht mehr leben|will (?:sterben|tot sein)|ich ritze mich|me suicider|me tuer|envie de mourir|(?:je )?veux mourir|en finir avec (?:la|ma) vie|mettre fin à mes jours|quiero morir(?:me)?|suicidarme|matarme|quitarme la vida|no quiero vivir|quero morrer|me matar|tirar (?:a )?minha (?:própria )?vida|não quero (?:mais )?viver|voglio morire|uccidermi)\b`), message: "A self-harm statement was found." },
	{ category: "self_harm", severity: "medium", pattern: re(String.raw`\b(?:selbstmord|suizid(?:al|gedanken)?)\b`), message: "A self-harm statement was found." },
	{ category: "self_harm", severity: "low", pattern: re(String.raw`\bsuicide\b(?!\s+(?:prevention|awareness|squad|hotline|helpline|lifeline|forest|doors?|bridge|watch|rates?|statistics|research))`), message: "Suicide was mentioned." }
];

function f(category: string, severity: Severity, start: number, end: number, message: string): Finding {
	return { category, severity, span: [start, end], message };
}

const RANK: Record<Severity, number> = { low: 0, medium: 1, high: 2 };

/** Keeps one finding per category and place: overlapping spans of the same category merge, the higher severity wins. */
export function dedupeFindings(findings: Finding[]): Finding[] {
	const sorted = [...findings].sort((a, b) => (a.span?.[0] ?? -1) - (b.span?.[0] ?? -1) || RANK[b.severity] - RANK[a.severity]);
	const out: Finding[] = [];
	for (const x of sorted) {
		const prev = out.find(o => o.category === x.category && o.span && x.span && x.span[0] < o.span[1] && o.span[0] < x.span[1]);
		if (!prev) {
			out.push({ ...x, span: x.span ? [x.span[0], x.span[1]] : null });
			continue;
		}
		prev.span = [Math.min(prev.span![0], x.span![0]), Math.max(prev.span![1], x.span![1])];
		if (RANK[x.severity] > RANK[prev.severity]) {
			prev.severity = x.severity;
			prev.message = x.message;
		}
	}
	return out;
}

/** Toxicity, sexual-content and self-harm findings; spans index into `text`. */
export function detectToxicity(text: string): Finding[] {
	const view = foldForMatching(text);
	const found: Finding[] = [];
	for (const rule of RULES) {
		rule.pattern.lastIndex = 0;
		for (const m of view.matchAll(rule.pattern)) {
			if (m[0].length === 0) continue;
			found.push(f(rule.category, rule.severity, m.index!, m.index! + m[0].length, rule.message));
		}
	}
	found.push(...obscenityFindings(text));
	// Sexual content next to a minor term is sexual content involving minors.
	const minor = re(MINOR);
	for (const x of [...found]) {
		if (x.category !== "sexual" || !x.span) continue;
		const from = Math.max(0, x.span[0] - 40);
		const window = view.slice(from, Math.min(view.length, x.span[1] + 40));
		minor.lastIndex = 0;
		if (minor.test(window)) found.push(f("sexual.minors", "high", x.span[0], x.span[1], "Sexual content involving minors was found."));
	}
	return dedupeFindings(found);
}
