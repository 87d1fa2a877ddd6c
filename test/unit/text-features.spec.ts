import { afinn, extractFeatures, fleschReadingEase, readabilityBand, sentencesOf, syllables, TextFeatures, withoutHedges } from "../../agents/text/features";

const ENGINEER =
	"I'm a backend engineer at Stripe in Berlin. I build payment APIs and I lead a team of 6 people. Maybe I think I'm kind of good at it!! 🚀 Love hiking and sourdough baking on weekends.";
const TEACHER =
	"Primary school teacher and mum of two. I have taught maths for 12 years and I organise our town's book club every month. Ask me about my favourite novels or my garden, which is slowly turning into a jungle.";

describe("text features: lexicons and formulas", () => {
	it("reads the whole AFINN-165 lexicon, phrases included", () => {
		const { words, phrases } = afinn();
		expect(words.size + phrases.size).toBe(3382);
		expect(words.get("love")).toBe(3);
		expect(words.get("hate")).toBe(-3);
		expect(phrases.get("can not stand")).toBe(-3);
	});

	it.each([
		["cat", 1],
		["made", 1],
		["hiking", 2],
		["table", 2],
		["engineer", 3],
		["readability", 5],
		["café", 1],
		["x", 1]
	])("syllables(%s) = %i", (word, n) => {
		expect(syllables(word)).toBe(n);
	});

	it("computes Flesch reading ease from counts, clamped to 0–100, with bands", () => {
		// 206.835 − 1.015·(100/5) − 84.6·(150/100) = 59.635
		expect(fleschReadingEase(100, 5, 150)).toBe(59.6);
		expect(fleschReadingEase(10, 1, 10)).toBe(100);
		expect(fleschReadingEase(60, 1, 200)).toBe(0);
		expect(fleschReadingEase(0, 0, 0)).toBe(0);
		expect(readabilityBand(92)).toBe("very easy");
		expect(readabilityBand(59.6)).toBe("fairly difficult");
		expect(readabilityBand(12)).toBe("very difficult");
	});
});

describe("extractFeatures", () => {
	it("is deterministic and within the schema's ranges", () => {
		const a = extractFeatures(ENGINEER);
		expect(extractFeatures(ENGINEER)).toEqual(a);
		expect(TextFeatures.parse(a)).toEqual(a);
	});

	it("counts words and sentences without contraction halves", () => {
		const f = extractFeatures("I can't swim. We don't mind! You're here?");
		expect(f.sentences).toBe(3);
		expect(f.words).toBe(8);
		expect(f.longest_sentence_words).toBe(3);
	});

	it("scores sentiment with AFINN: positive, negative, negation and multi-word entries", () => {
		expect(extractFeatures("I love my friends and this wonderful city.").sentiment).toBeGreaterThan(0.5);
		const sad = extractFeatures("I hate mornings and I can't stand rude people.");
		expect(sad.sentiment).toBeLessThan(-0.5);
		// "can't stand" is one entry, and its "not" does not flip "rude".
		expect(sad.negative_words).toEqual(["hate", "can't stand", "rude"]);
		const notHappy = extractFeatures("Honestly I am not happy with how things are going at all.");
		expect(notHappy.sentiment).toBeLessThan(0);
		expect(notHappy.negative_words).toContain("not happy");
		expect(extractFeatures("The weather is not bad today, we walk to the shop.").sentiment).toBeGreaterThan(0);
		expect(extractFeatures("The meeting is on Tuesday at the office.").sentiment).toBe(0);
	});

	it("derives the tone by the documented rules", () => {
		expect(extractFeatures("I'M SO EXCITED!!! 😀😀 NEW CAFÉ OPENING!!!").tone).toBe("intense");
		expect(extractFeatures("I hate crowds, I am tired of bad drivers and awful coffee.").tone).toBe("downbeat");
		expect(extractFeatures("I love good food, kind friends and happy dogs! 😊").tone).toBe("enthusiastic");
		expect(extractFeatures("I love good food, kind friends and happy dogs.").tone).toBe("warm");
		expect(extractFeatures("Maybe I am sort of into chess, I guess. Probably.").tone).toBe("reserved");
		expect(extractFeatures("I work in logistics and live near the river with two cats. I play chess on Sundays.").tone).toBe("neutral");
	});

	it("finds first-person confidence markers, not negated ones", () => {
		const f = extractFeatures("I build robots. I've led three teams and I can cook. I can't sing. I am good at chess.");
		expect(f.confidence_markers.phrases).toEqual(["I build robots", "I've led three teams", "I can cook", "I am good at chess"]);
		expect(f.confidence_markers.count).toBe(4);
		expect(f.assertiveness).toBe("assertive");
	});

	it("finds hedges, but not 'kind of' in a question about a kind", () => {
		const f = extractFeatures("Maybe I think I'm kind of good at it. Probably. What kind of music do you like?");
		expect(f.hedges.phrases).toEqual(["maybe", "i think", "kind of", "probably"]);
		expect(f.assertiveness).toBe("tentative");
		expect(extractFeatures("What kind of music do you like? I play the sort of jazz nobody dances to.").hedges.count).toBe(0);
	});

	it("rewrites a hedged sentence without its deletable hedges", () => {
		expect(withoutHedges("Maybe I think I'm kind of good at it!!")).toBe("I'm good at it!!");
		expect(withoutHedges("I probably run too much, sort of.")).toBe("I run too much.");
		expect(withoutHedges("What kind of music do you like?")).toBe("What kind of music do you like?");
		expect(sentencesOf("One. Two!  Three?")).toEqual(["One.", "Two!", "Three?"]);
	});

	it("takes keywords from nouns and proper nouns by frequency, without stop words or generic nouns", () => {
		const f = extractFeatures("Coffee first. I roast coffee at home, read about coffee farms in Kenya and play chess with friends on Sundays. Things and stuff.");
		expect(f.keywords[0]).toEqual({ term: "coffee", count: 3 });
		const terms = f.keywords.map(k => k.term);
		expect(terms).toEqual(expect.arrayContaining(["farm", "Kenya", "chess"]));
		expect(terms).not.toEqual(expect.arrayContaining(["things"]));
		expect(terms).not.toContain("stuff");
		expect(terms).not.toContain("i");
		expect(f.topics[0]).toBe("food");
		expect(f.topics).toContain("gaming");
	});

	it("maps keywords to topics for different bios", () => {
		expect(extractFeatures(ENGINEER).topics).toEqual(expect.arrayContaining(["tech", "outdoors"]));
		expect(extractFeatures(TEACHER).topics).toEqual(expect.arrayContaining(["reading", "learning", "family"]));
	});

	it("measures specificity: numbers, names and concrete nouns up, vague words down", () => {
		const specific = extractFeatures(ENGINEER);
		expect(specific.specificity).toBeGreaterThan(0.5);
		expect(specific.details).toEqual(expect.arrayContaining(["6 people", "Stripe", "Berlin"]));
		expect(specific.numbers).toBe(1);
		const vague = extractFeatures("I like stuff and things and whatever, you know, everything really.");
		expect(vague.specificity).toBeLessThan(0.2);
		expect(vague.vague_words).toEqual(expect.arrayContaining(["stuff", "things", "whatever", "everything"]));
		expect(extractFeatures(TEACHER).details).toContain("12 years");
	});

	it("does not take a sentence's first word or 'I' as a name", () => {
		const f = extractFeatures("Paris is lovely. I moved there from Lyon. I'm happy.");
		expect(f.named_entities).toEqual(["Lyon"]);
	});

	it("measures energy from exclamation marks, emoji and shouting, not acronyms", () => {
		const loud = extractFeatures("SO EXCITED!!! 🎉🎉 BEST DAY EVER!!!");
		expect(loud.energy).toBe(1);
		expect(loud.exclamations).toBe(6);
		expect(loud.emojis).toBe(2);
		expect(loud.caps_words).toBeGreaterThanOrEqual(4);
		const calm = extractFeatures("I work at NASA as a UX researcher. I like maps.");
		expect(calm.energy).toBe(0);
		expect(calm.caps_words).toBe(0);
		expect(calm.named_entities).toEqual(expect.arrayContaining(["NASA", "UX"]));
	});

	it("finds invitations and first/second-person voice", () => {
		const f = extractFeatures("Ask me about bread. I'm looking for a hiking buddy; let's talk!");
		expect(f.invitations).toEqual(["ask me", "looking for", "let's"]);
		expect(f.first_person).toBeGreaterThan(0);
		expect(extractFeatures("You will love this place, your favourite.").second_person).toBeGreaterThan(0.2);
	});

	it("ignores the guardrails' redaction placeholders", () => {
		const f = extractFeatures("Write to me at [email] or [phone], [removed] not <PHONE> or [EMAIL]. I bake bread.");
		const terms = f.keywords.map(k => k.term.toLowerCase());
		for (const tag of ["email", "phone", "removed"]) expect(terms).not.toContain(tag);
		expect(terms).toContain("bread");
	});

	it("handles 5000 characters quickly", () => {
		const long = `${TEACHER} ${ENGINEER} `.repeat(30).slice(0, 5000);
		const started = Date.now();
		const f = extractFeatures(long);
		expect(Date.now() - started).toBeLessThan(1500);
		expect(f.words).toBeGreaterThan(800);
		expect(TextFeatures.safeParse(f).success).toBe(true);
		expect(f.confidence_markers.phrases.length).toBeLessThanOrEqual(5);
	});
});
