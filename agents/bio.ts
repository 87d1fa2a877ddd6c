import { z } from "zod";
import { defineAgent } from "./agent";
import { askLlm, list, Provenance, type LlmDeps } from "./shared";
import { extractFeatures, sentencesOf, TextFeatures, withoutHedges } from "./text/features";

/**
 * bio: how a short self-description comes across — a vibe summary, strengths, weaknesses,
 * kind and specific improvements, tags — from the text (already guardrailed: PII redacted,
 * injections neutralised) and the features measured from it (agents/text/features.ts).
 *
 * The LLM provider answers; the local provider answers with `readBio`, rules over the same
 * features (below, each with its threshold), quoting the person's own words so two different
 * bios get different, relevant readings. Either way the output carries the measured features,
 * the provider, model and prompt version.
 */

export const BIO_RULES = {
	/** Strengths. */
	specificDetails: 0.5,
	easyReading: 60,
	minWordsForReadability: 15,
	lowEnergy: 0.1,
	highEnergy: 0.67,
	/** Weaknesses. */
	general: 0.35,
	hardReading: 50,
	minWordsForMarkers: 12,
	short: 20,
	/** A change since the last reading worth naming. */
	progressSpecificity: 0.1,
	progressSentiment: 0.2,
	maxStrengths: 4,
	maxWeaknesses: 3,
	maxImprovements: 4,
	maxTags: 8,
	/** confidence = base + 0.4·min(1, words/60) + 0.1·min(1, (sentences − 1)/3) + 0.05 with any signal, ≤ cap. */
	confidence: { base: 0.35, words: 60, cap: 0.9 }
} as const;

const Line = z.string().min(3).max(300);
const Tag = z.string().min(2).max(40);

/** What the model (or the local rules) answers. No optional keys: strict structured output needs every key. */
export const BioAnswer = z.object({
	vibe_summary: z.string().min(10).max(600),
	strengths: z.array(Line).min(1).max(6),
	weaknesses: z.array(Line).max(6),
	improvements: z.array(Line).min(1).max(6),
	confidence: z.number().min(0).max(1),
	tags: z.array(Tag).min(1).max(8)
});
export type BioAnswer = z.infer<typeof BioAnswer>;

/** An earlier bio reading (a stored bio output, newest first); only the fields used are checked. */
export const PastBioAnalysis = z.looseObject({
	created_at: z.string().max(40).optional(),
	vibe_summary: z.string().max(1000).optional(),
	tags: z.array(z.string().max(60)).max(20).optional(),
	features: z
		.looseObject({
			sentiment: z.number().min(-1).max(1).optional(),
			specificity: z.number().min(0).max(1).optional(),
			readability: z.number().min(0).max(100).optional(),
			hedges: z.looseObject({ count: z.number().int().min(0) }).optional(),
			confidence_markers: z.looseObject({ count: z.number().int().min(0) }).optional()
		})
		.optional()
});
export type PastBioAnalysis = z.infer<typeof PastBioAnalysis>;

export const BioInput = z.object({
	text: z.string().trim().min(10).max(5000),
	past_analyses: z.array(PastBioAnalysis).max(20).optional()
});
export type BioInput = z.infer<typeof BioInput>;

export const BioOutput = z.strictObject({
	...BioAnswer.shape,
	features: TextFeatures,
	...Provenance.shape
});
export type BioOutput = z.infer<typeof BioOutput>;

export type BioDeps = LlmDeps;

// ---------------------------------------------------------------------------------------------
// Wording helpers
// ---------------------------------------------------------------------------------------------

const clip = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1).trimEnd()}…` : s);
const q = (s: string, max = 80) => `"${clip(s.trim(), max)}"`;
const lettersOnly = (s: string) => s.toLowerCase().replace(/[^\p{L}]+/gu, "");
const round2 = (n: number) => Math.round(n * 100) / 100;

export const TONE_WORDS: Record<TextFeatures["tone"], { summary: string; tag: string }> = {
	warm: { summary: "Warm and approachable", tag: "warm" },
	enthusiastic: { summary: "Upbeat and enthusiastic", tag: "enthusiastic" },
	intense: { summary: "High-energy and intense", tag: "high-energy" },
	downbeat: { summary: "Candid and critical", tag: "candid" },
	reserved: { summary: "Calm and reserved", tag: "reserved" },
	neutral: { summary: "Matter-of-fact", tag: "matter-of-fact" }
};

const STANCE: Record<TextFeatures["assertiveness"], string> = {
	assertive: "You state what you do with confidence. ",
	tentative: "A few hedges make it sound less sure than it could. ",
	balanced: ""
};

/** The person's own top keywords, as written. */
const keywordTerms = (f: TextFeatures, n = 3) => f.keywords.slice(0, n).map(k => clip(k.term, 30));

// ---------------------------------------------------------------------------------------------
// The local reading
// ---------------------------------------------------------------------------------------------

interface Finding {
	strength?: string;
	weakness?: string;
	improvement?: string;
}

/** Rules over the features, in priority order; each may give a strength, or a weakness with its fix. */
function findings(f: TextFeatures, text: string, past: PastBioAnalysis[]): Finding[] {
	const R = BIO_RULES;
	const kw = keywordTerms(f);
	// In a downbeat text the main keyword may be what the person dislikes: not a conversation opener.
	const top = f.tone === "downbeat" ? undefined : kw[0];
	const out: Finding[] = [];

	// What works; progress first, it is the most encouraging thing to hear.
	const progress = progressSince(f, past);
	if (progress) out.push({ strength: progress });
	if (f.confidence_markers.count > 0) {
		out.push({ strength: `You say what you do with confidence: ${q(f.confidence_markers.phrases[0])} reads as capable and direct.` });
	}
	if (f.specificity >= R.specificDetails && f.details.length > 0) {
		out.push({ strength: `Concrete details (${list(f.details.slice(0, 3))}) make you easy to picture and remember.` });
	}
	if (kw.length > 0 && f.tone !== "downbeat") {
		const topics = f.topics.length ? ` — ${list(f.topics.slice(0, 2))} —` : "";
		out.push({ strength: `Your interests come through${topics} with ${list(kw.map(k => q(k, 30)))}, which gives people easy ways to start a conversation.` });
	}
	if ((f.tone === "warm" || f.tone === "enthusiastic") && f.positive_words.length > 0) {
		out.push({ strength: `A positive tone (${list(f.positive_words.slice(0, 3).map(w => q(w, 30)))}) makes you come across as approachable.` });
	}
	if (f.invitations.length > 0) out.push({ strength: `You invite a reply (${q(f.invitations[0], 30)}), which makes reaching out easy.` });
	if (f.readability >= R.easyReading && f.words >= R.minWordsForReadability) {
		out.push({ strength: `It's easy to read: sentences average ${f.avg_sentence_words} words, so it skims well.` });
	}
	if (f.energy >= R.lowEnergy && f.energy < R.highEnergy) {
		// Name only the marks the bio actually uses.
		const marks = [f.exclamations > 0 ? "exclamation marks" : null, f.emojis > 0 ? "emoji" : null].filter(Boolean).join(" and ") || "emphasis";
		out.push({ strength: `Your energy shows through the ${marks} without drowning out what you say.` });
	}

	// What holds it back, each with a specific fix.
	if (f.hedges.count > 0) {
		// Rewrite the first sentence whose hedges can simply be deleted, in the person's own words.
		const hedged = sentencesOf(text).find(s => lettersOnly(withoutHedges(s)) !== lettersOnly(s));
		const plain = hedged ? withoutHedges(hedged) : "";
		out.push({
			weakness: `Hedging (${list(f.hedges.phrases.slice(0, 3).map(h => q(h, 20)))}) softens your points and can read as unsure.`,
			improvement:
				hedged && plain.split(/\s+/).length >= 2
					? `Say it without the hedge: ${q(plain, 110)} instead of ${q(hedged, 110)}.`
					: `Replace ${q(f.hedges.phrases[0], 20)} with a plain statement of what you do know — one thing you enjoy or can do.`
		});
	}
	if (f.words >= R.short && f.confidence_markers.count === 0) {
		out.push({
			weakness: "It says little about what you do or what you're good at.",
			improvement: `Add one line about something you do well, starting with "I build", "I lead" or "I can"${top ? ` — for example about ${q(top, 30)}` : ""}.`
		});
	}
	if (f.vague_words.length > 0) {
		out.push({
			weakness: `Vague words (${list(f.vague_words.slice(0, 3).map(v => q(v, 20)))}) stand in for details you could name.`,
			improvement: `Replace ${q(f.vague_words[0], 20)} with the actual thing — one named example says more than a list.`
		});
	}
	if (f.specificity < R.general) {
		out.push({
			weakness: `Few specifics so far (${f.numbers === 0 && f.named_entities.length === 0 ? "no numbers, names or examples" : "only a few details"}), so it's harder for readers to picture you.`,
			improvement: `Add one concrete detail about ${top ? q(top, 30) : "something you enjoy"}: how long, how many, where, or a recent example.`
		});
	}
	if (f.tone === "downbeat" && f.negative_words.length > 0) {
		out.push({
			weakness: `The tone leans negative (${list(f.negative_words.slice(0, 3).map(w => q(w, 30)))}); readers tend to remember that first.`,
			improvement: `Turn ${q(f.negative_words[0], 30)} into what you enjoy instead: say what you're drawn to rather than what you avoid.`
		});
	}
	if (f.words < R.short) {
		out.push({
			weakness: `It's very short (${f.words} words), so there isn't much yet for people to connect with.`,
			improvement: `Add a sentence about ${top ? q(top, 30) : "one thing you love doing"} — what draws you to it.`
		});
	}
	if (f.energy >= R.highEnergy) {
		out.push({
			weakness: `Lots of exclamation marks, emoji or capitals (${f.exclamations + f.emojis + f.caps_words}) can drown out what you say.`,
			improvement: "Keep one exclamation mark or emoji where it matters most and let your words carry the rest."
		});
	}
	if (f.readability < R.hardReading && f.words >= R.minWordsForReadability) {
		out.push({
			weakness: `Long or complex sentences (about ${f.avg_sentence_words} words each) make it slower to skim.`,
			improvement: `Split your longest sentence (${f.longest_sentence_words} words) in two; around 15–20 words per sentence reads easily.`
		});
	}
	if (kw.length === 0 && f.topics.length === 0) {
		out.push({ weakness: "Your interests don't come through yet.", improvement: "Name two interests specifically — what you play, read, make or explore." });
	}
	if (f.invitations.length === 0) {
		out.push({ improvement: `End with an easy opener, e.g. "Ask me about ${top ?? "my favourite weekend plan"}."` });
	}
	return out;
}

/** A named improvement since the newest earlier reading with features, or null. */
function progressSince(f: TextFeatures, past: PastBioAnalysis[]): string | null {
	const last = past.find(p => p.features)?.features;
	if (!last) return null;
	const R = BIO_RULES;
	const changes: string[] = [];
	if (last.specificity !== undefined && f.specificity - last.specificity >= R.progressSpecificity) changes.push(`more concrete (specificity ${last.specificity} → ${f.specificity})`);
	if (last.hedges && f.hedges.count < last.hedges.count) changes.push(`fewer hedges (${last.hedges.count} → ${f.hedges.count})`);
	if (last.sentiment !== undefined && f.sentiment - last.sentiment >= R.progressSentiment) changes.push(`a warmer tone (${last.sentiment} → ${f.sentiment})`);
	if (last.confidence_markers && f.confidence_markers.count > last.confidence_markers.count) changes.push("more confident statements");
	return changes.length ? `Progress since your last bio: ${list(changes)}.` : null;
}

function summary(f: TextFeatures): string {
	const tone = TONE_WORDS[f.tone].summary;
	const kw = keywordTerms(f);
	const about = f.topics.length
		? `${f.tone === "downbeat" ? "touching on" : "with interests in"} ${list(f.topics.slice(0, 3))}${kw.length ? ` (${list(kw)})` : ""}`
		: kw.length
			? `talking about ${list(kw)}`
			: "with few specific interests named yet";
	const clarity = f.specificity >= BIO_RULES.specificDetails ? " and gives concrete details" : f.specificity < BIO_RULES.general ? " but stays general" : "";
	return clip(`${tone}, ${about}. ${STANCE[f.assertiveness]}It reads ${f.readability_band}${clarity}.`, 600);
}

function tags(f: TextFeatures): string[] {
	const t = [TONE_WORDS[f.tone].tag];
	if (f.assertiveness === "assertive") t.push("self-assured");
	if (f.assertiveness === "tentative") t.push("tentative");
	if (f.specificity >= BIO_RULES.specificDetails) t.push("specific");
	if (f.invitations.length) t.push("inviting");
	if (f.energy >= BIO_RULES.highEnergy && f.tone !== "intense") t.push("high-energy");
	t.push(...f.topics);
	return normaliseTags(t).slice(0, BIO_RULES.maxTags);
}

export function confidenceOf(f: TextFeatures): number {
	const c = BIO_RULES.confidence;
	const signal = f.confidence_markers.count + f.hedges.count + f.keywords.length > 0 ? 0.05 : 0;
	return round2(Math.min(c.cap, c.base + 0.4 * Math.min(1, f.words / c.words) + 0.1 * Math.min(1, Math.max(0, f.sentences - 1) / 3) + signal));
}

/** Lower case, trimmed, unique, in order. */
export function normaliseTags(xs: string[]): string[] {
	return [...new Set(xs.map(x => x.trim().toLowerCase().replace(/\s+/g, " ")).filter(x => x.length >= 2))];
}

/** The deterministic reading: the same text (and history) always gives the same answer. */
export function readBio(f: TextFeatures, text: string, past: PastBioAnalysis[] = []): BioAnswer {
	const R = BIO_RULES;
	const all = findings(f, text, past);
	const line = (x: string) => clip(x, 300);
	let strengths = all.flatMap(x => (x.strength ? [line(x.strength)] : [])).slice(0, R.maxStrengths);
	if (!strengths.length) {
		strengths = [f.words < R.short ? "Short and to the point: nothing reads as filler." : "It's written in your own voice rather than a template, which feels personal."];
	}
	const weak = all.filter(x => x.weakness).slice(0, R.maxWeaknesses);
	const improvements = [...weak.map(x => x.improvement), ...all.filter(x => !x.weakness && x.improvement).map(x => x.improvement)]
		.filter((x): x is string => Boolean(x))
		.map(line)
		.slice(0, R.maxImprovements);
	return {
		vibe_summary: summary(f),
		strengths,
		weaknesses: weak.map(x => x.weakness).filter((x): x is string => Boolean(x)).map(line),
		improvements: improvements.length ? improvements : ["Keep it current: refresh one detail, such as a recent project or trip, every few months."],
		confidence: confidenceOf(f),
		tags: tags(f)
	};
}

/** What the model sees of earlier readings: a few, compact. */
function compactPast(past: PastBioAnalysis[]) {
	return past.slice(0, 3).map(p => ({
		created_at: p.created_at ?? null,
		vibe_summary: p.vibe_summary ?? null,
		tags: p.tags ?? [],
		specificity: p.features?.specificity ?? null,
		sentiment: p.features?.sentiment ?? null,
		hedges: p.features?.hedges?.count ?? null
	}));
}

export const bio = defineAgent({
	name: "bio",
	version: "1.0.0",
	input: BioInput,
	output: BioOutput,
	async run(input: BioInput, deps: BioDeps): Promise<BioOutput> {
		const features = extractFeatures(input.text);
		const past = input.past_analyses ?? [];
		const out = await askLlm(deps, "bio", { text: input.text, features, past_analyses: compactPast(past) }, BioAnswer, () => readBio(features, input.text, past));
		const tagList = normaliseTags(out.tags).slice(0, BIO_RULES.maxTags);
		return { ...out, tags: tagList.length ? tagList : [TONE_WORDS[features.tone].tag], features };
	}
});

export default bio;
