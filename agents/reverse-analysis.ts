import { z } from "zod";
import { defineAgent } from "./agent";
import { AnalysisScores, DIMENSIONS, DIMENSION_INFO, type Dimension } from "./fixit";
import { askLlm, mean, Provenance, r1, type LlmDeps } from "./shared";

/**
 * reverse_analysis: "I want to look more confident" → what to change, what to avoid and a
 * short plan. The goal text (already guarded: PII redacted, injections neutralised) is matched
 * against GOAL_RULES by keywords; each matched goal brings its levers (the dimensions that
 * move that impression most, in order) with a concrete change per lever, an avoid list and
 * the photo tags that pull the other way. Recent analyses personalise the order:
 *
 * - a lever whose recent average is below REVERSE_RULES.weakBelow moves up by
 *   REVERSE_RULES.weakLift places and its change names the average; one at or above
 *   REVERSE_RULES.strongFrom is left out of the changes and named in the plan as a strength;
 * - recent tags listed as conflicting for the goal add a change and an avoid entry;
 * - a tip that recurs in two or more recent analyses is added as a change.
 *
 * At most two goals are used (the most keyword hits, then the one named first); no match → "general".
 * For a minor, the dating goal is replaced by "approachable" and never produces dating advice.
 */

export const REVERSE_RULES = {
	weakBelow: 6.5,
	strongFrom: 8,
	weakLift: 2,
	maxGoals: 2,
	minChanges: 3,
	maxChanges: 8,
	/** Changes from the goal levers; the rest of maxChanges is kept for tag notes and a recurring tip. */
	maxLeverChanges: 5,
	minAvoid: 2,
	maxAvoid: 6
} as const;

export const GOAL_KEYS = ["confidence", "professional", "approachable", "creative", "dating", "calm", "energetic", "elegant", "sporty", "general"] as const;
export type GoalKey = (typeof GOAL_KEYS)[number];

interface GoalRule {
	label: string;
	keywords: RegExp;
	/** Dimensions that move this impression, strongest lever first. */
	levers: Dimension[];
	changes: Partial<Record<Dimension, string>>;
	avoid: string[];
	/** Photo tags (social perception, vibe) that pull away from this impression. */
	conflicting: string[];
}

export const GOAL_RULES: Record<GoalKey, GoalRule> = {
	confidence: {
		label: "confident",
		keywords: /\b(confiden\w*|self[- ]assured|assertive|bold|strong|powerful|leader\w*|commanding|sure of myself)\b/gi,
		levers: ["posture", "presence", "expression", "style", "bio"],
		changes: {
			posture: "Stand tall with your shoulders relaxed and level and your weight on both feet: an upright, balanced stance is the clearest confidence signal in a photo.",
			presence: "Face the camera squarely and let your arms hang loosely or use an open gesture: open body language reads as self-assured.",
			expression: "Look straight into the lens with a calm, steady expression or a closed-mouth smile.",
			style: "Wear something that fits well at the shoulders in a solid, clear colour: structured clothes read as self-assured.",
			bio: "Write in active first-person sentences about what you do ('I lead…', 'I build…') instead of hedging words like 'maybe' or 'kind of'."
		},
		avoid: ["Slouching or dropping your head toward the camera.", "Crossed arms or hands hidden in pockets.", "Hedging words in your bio such as 'just', 'maybe' or 'kind of'."],
		conflicting: ["reserved", "guarded", "tense", "shy", "laid-back"]
	},
	professional: {
		label: "professional",
		keywords: /\b(professional\w*|career|job|interview\w*|linkedin|business|corporate|work|office|executive|competent|credible|recruit\w*|cv|resume)\b/gi,
		levers: ["style", "posture", "photo_quality", "expression", "bio"],
		changes: {
			style: "Choose a well-fitting jacket, blazer or collared top in a neutral or navy tone, with a simple, uncluttered look.",
			posture: "Keep your shoulders level and your head over your shoulders: a composed, upright stance reads as competent.",
			photo_quality: "Use soft, even light and a plain, tidy background, framed from mid-chest up.",
			expression: "A relaxed, closed-mouth smile with direct eye contact reads as both friendly and capable.",
			bio: "Lead with your role and one concrete achievement, in two or three clear sentences."
		},
		avoid: ["Busy or distracting backgrounds.", "Very casual or sporty clothing for a work profile.", "Heavy filters that change how you look."],
		conflicting: ["casual", "sporty", "playful", "vibrant"]
	},
	approachable: {
		label: "approachable",
		keywords: /\b(approachable|friendly|friendlier|warm\w*|kind|welcoming|likeable|likable|trustworthy|open|nice|relatable)\b/gi,
		levers: ["expression", "presence", "style", "photo_quality", "bio"],
		changes: {
			expression: "Smile naturally, ideally a genuine smile that reaches your eyes: it is the strongest signal of warmth.",
			presence: "Relax your shoulders and keep your arms uncrossed; a slight head tilt reads as engaged and open.",
			style: "Soft, warm colours (earth tones, warm blues, muted pastels) and comfortable, well-kept clothes read as approachable.",
			photo_quality: "Natural daylight and a friendly setting, such as a café or a park, support a warm impression.",
			bio: "Mention something you enjoy sharing with others and end with a friendly question or invitation."
		},
		avoid: ["A stern or blank expression.", "Crossed arms or turning away from the camera.", "Very dark or harsh lighting that hides your face."],
		conflicting: ["serious", "intense", "reserved", "distant", "guarded"]
	},
	creative: {
		label: "creative",
		keywords: /\b(creative|creativity|artist\w*|artsy|artistic|unique|original|expressive|quirky|individual\w*|fashionable|stylish|designer)\b/gi,
		levers: ["style", "photo_quality", "bio", "presence", "expression"],
		changes: {
			style: "Add one expressive element, such as a bold colour, a pattern or a statement accessory, to an otherwise simple outfit.",
			photo_quality: "Pick a setting with character, such as a textured wall, your workspace or a place where you create, with good light.",
			bio: "Name what you make or love to explore, with one specific example.",
			presence: "Try a more dynamic pose: a slight angle, your hands in use, or interacting with your surroundings.",
			expression: "Let your expression match your personality: playful, curious or thoughtful all work when they feel genuine."
		},
		avoid: ["An outfit with no point of interest.", "Generic, stock-style backgrounds.", "Copying a trend that does not feel like you."],
		conflicting: ["formal", "understated", "conventional"]
	},
	dating: {
		label: "appealing on a dating profile",
		keywords: /\b(dating|date|dates|romantic|romance|tinder|bumble|hinge|partner|girlfriend|boyfriend|relationship|matches)\b/gi,
		levers: ["expression", "photo_quality", "style", "bio", "presence"],
		changes: {
			expression: "Use a genuine smile and look into the lens: warmth and eye contact are what people respond to most.",
			photo_quality: "Use natural light and a clear, recent photo where your face is easy to see; keep sunglasses out of the main photo.",
			style: "Wear an outfit you feel at your best in, that fits well, in colours that suit the setting.",
			bio: "Share two specific interests and something you would enjoy doing with a match: it gives people an easy way to start a conversation.",
			presence: "Show yourself doing something you enjoy: a candid, relaxed moment reads better than a stiff pose."
		},
		avoid: ["A group photo as your main photo, where it is hard to tell which person you are.", "Heavy filters or very old photos.", "A bio that only lists what you do not want."],
		conflicting: ["reserved", "serious", "distant"]
	},
	calm: {
		label: "calm",
		keywords: /\b(calm\w*|relaxed|chill|easy[- ]?going|laid[- ]back|peaceful|serene|grounded|composed)\b/gi,
		levers: ["posture", "expression", "style", "photo_quality", "bio"],
		changes: {
			posture: "Let your shoulders drop and rest and keep your weight settled on both feet: a loose, upright stance reads as calm.",
			expression: "A soft, relaxed expression with a slight smile reads as calm; breathe out slowly just before the shot.",
			style: "Muted, harmonious colours such as soft neutrals, greens or blues support a calm impression.",
			photo_quality: "Soft, even daylight and an uncluttered background keep the photo quiet and calm.",
			bio: "Use an even, unhurried tone and mention what helps you unwind."
		},
		avoid: ["Harsh flash or very high-contrast lighting.", "Busy, cluttered backgrounds.", "Tense, raised shoulders."],
		conflicting: ["intense", "tense", "energetic"]
	},
	energetic: {
		label: "fun and energetic",
		keywords: /\b(fun|energetic|energy|lively|outgoing|social|sociable|playful|vibrant|bubbly|adventurous|exciting)\b/gi,
		levers: ["expression", "presence", "style", "photo_quality", "bio"],
		changes: {
			expression: "Let a full, open smile or a laugh come through: candid joy reads as energetic.",
			presence: "Show movement: a step, a gesture or a candid moment with friends reads as lively.",
			style: "Bring in one bright colour or a playful pattern.",
			photo_quality: "Choose bright, natural light and a setting with some life in it, such as an event, the outdoors or a favourite place.",
			bio: "Mention an activity you love doing with others, with an exclamation-worthy detail."
		},
		avoid: ["A stiff, posed stance.", "Dim lighting that flattens the mood.", "A bio that only lists facts."],
		conflicting: ["reserved", "serious", "calm", "understated"]
	},
	elegant: {
		label: "elegant and polished",
		keywords: /\b(elegant|classy|sophisticated|polished|refined|mature|chic|sharp|put[- ]together|well[- ]dressed)\b/gi,
		levers: ["style", "posture", "photo_quality", "expression", "bio"],
		changes: {
			style: "Choose clean lines and a restrained palette of two or three colours, with one quality detail such as a watch, a scarf or good shoes.",
			posture: "An upright, unhurried posture with relaxed shoulders reads as poised.",
			photo_quality: "Soft, directional light and a simple, tidy background give a polished look.",
			expression: "A composed, gentle smile reads as refined.",
			bio: "Keep your bio short and well edited, with one specific detail about your taste."
		},
		avoid: ["Clashing colours or too many patterns at once.", "Wrinkled or poorly fitting clothes.", "Busy backgrounds."],
		conflicting: ["casual", "sporty", "playful"]
	},
	sporty: {
		label: "sporty and active",
		keywords: /\b(athletic|sporty|active|outdoorsy|outdoors)\b/gi,
		levers: ["presence", "style", "photo_quality", "expression", "bio"],
		changes: {
			presence: "Show yourself in motion or mid-activity: action shots read as active.",
			style: "Well-fitting activewear or outdoor clothes in clear colours fit an active look.",
			photo_quality: "Outdoor daylight and a setting tied to your activity tell the story.",
			expression: "A relaxed, genuine smile keeps an action shot friendly.",
			bio: "Name the activities you do and one recent highlight."
		},
		avoid: ["Only indoor, static photos.", "Blurry action shots: use a faster setting or burst mode."],
		conflicting: ["formal", "understated"]
	},
	general: {
		label: "at your best",
		keywords: /$^/g,
		levers: ["expression", "posture", "photo_quality", "style", "bio"],
		changes: {
			expression: "Use a natural, relaxed smile and look into the lens.",
			posture: "Stand upright with relaxed, level shoulders and your weight on both feet.",
			photo_quality: "Face soft daylight and hold the camera steady so the photo is sharp and evenly lit.",
			style: "Wear an outfit that fits well and uses two or three colours that go together.",
			bio: "Add two concrete details about what you do or enjoy."
		},
		avoid: ["Dim or back-lit photos.", "Heavy filters that change how you look."],
		conflicting: []
	}
};

/** Goals matched by keywords, in tie-break order ("general" is the fallback, never matched). */
const GOAL_ORDER = GOAL_KEYS.filter(k => k !== "general");
const UNSAFE = /\b(surg\w*|botox|fillers?|inject\w*|cosmetic|lose weight|weight loss|diet\w*|slim\w*|ugly|fat|skinny)\b/i;

export const RecentAnalysis = z.object({
	scores: AnalysisScores,
	tags: z.array(z.string().trim().min(1).max(60)).max(20).default([]),
	tips: z.array(z.string().trim().min(1).max(500)).max(20).default([]),
	timestamp: z.string().max(64).optional()
});
export type RecentAnalysis = z.infer<typeof RecentAnalysis>;

export const ReverseInput = z.object({
	/** The goal as the user wrote it, after the input guardrails. */
	goal: z.string().trim().min(3).max(500),
	recent_analyses: z.array(RecentAnalysis).max(20).default([]),
	minor: z.boolean().default(false)
});
export type ReverseInput = z.infer<typeof ReverseInput>;

export const ReverseContent = z.object({
	goal: z.string().max(500),
	matched_goals: z.array(z.enum(GOAL_KEYS)).min(1).max(REVERSE_RULES.maxGoals),
	recommended_changes: z.array(z.string().min(1).max(600)).min(REVERSE_RULES.minChanges).max(REVERSE_RULES.maxChanges),
	avoid_list: z.array(z.string().min(1).max(300)).min(REVERSE_RULES.minAvoid).max(REVERSE_RULES.maxAvoid),
	action_plan: z.string().min(20).max(2000),
	/** How many recent analyses informed the answer. */
	based_on: z.number().int().min(0)
});
export type ReverseContent = z.infer<typeof ReverseContent>;

export const ReverseOutput = ReverseContent.extend(Provenance.shape);
export type ReverseOutput = z.infer<typeof ReverseOutput>;

/** Goals the text names, most keyword hits first (ties: the one named first), at most two; "general" when none. */
export function matchGoals(goal: string, minor = false): GoalKey[] {
	const hits = GOAL_ORDER.map(key => {
		const found = [...goal.matchAll(GOAL_RULES[key].keywords)];
		return { key, n: found.length, first: found[0]?.index ?? Infinity };
	})
		.filter(h => h.n > 0)
		.sort((a, b) => b.n - a.n || a.first - b.first || GOAL_ORDER.indexOf(a.key) - GOAL_ORDER.indexOf(b.key))
		.map(h => (minor && h.key === "dating" ? "approachable" : h.key));
	const keys = [...new Set(hits)].slice(0, REVERSE_RULES.maxGoals);
	return keys.length ? keys : ["general"];
}

/** Mean of each dimension over the recent analyses that measured it. */
export function averages(recent: readonly RecentAnalysis[]): Partial<Record<Dimension, number>> {
	const out: Partial<Record<Dimension, number>> = {};
	for (const d of DIMENSIONS) {
		const xs = recent.map(a => a.scores[d]).filter((s): s is number => typeof s === "number");
		if (xs.length) out[d] = r1(mean(xs));
	}
	return out;
}

/** The lead clause of a change ("Stand tall …: because …" → "stand tall …"), for the plan. */
const lead = (s: string) => {
	const head = s.split(/[:;]|\.(?:\s|$)/)[0].trim();
	return head.charAt(0).toLowerCase() + head.slice(1);
};

export function reverseRules(input: ReverseInput): ReverseContent {
	const goals = matchGoals(input.goal, input.minor);
	const avg = averages(input.recent_analyses);
	const n = input.recent_analyses.length;

	// Levers of every matched goal, ranked: goal order, then position, a weak average lifting it.
	const levers: { goal: GoalKey; dim: Dimension; rank: number }[] = [];
	goals.forEach((g, gi) =>
		GOAL_RULES[g].levers.forEach((dim, i) => {
			if (levers.some(l => l.dim === dim)) return;
			const a = avg[dim];
			levers.push({ goal: g, dim, rank: i + gi * 0.5 - (a !== undefined && a < REVERSE_RULES.weakBelow ? REVERSE_RULES.weakLift : 0) });
		})
	);
	levers.sort((a, b) => a.rank - b.rank);

	const changes: string[] = [];
	const strengths: string[] = [];
	const push = (list: string[], s: string, max: number) => {
		if (list.length < max && !list.includes(s)) list.push(s);
	};
	for (const l of levers) {
		const text = GOAL_RULES[l.goal].changes[l.dim];
		if (!text) continue;
		const a = avg[l.dim];
		if (a !== undefined && a >= REVERSE_RULES.strongFrom) {
			strengths.push(`your ${DIMENSION_INFO[l.dim].label} (${a}/10)`);
			continue;
		}
		const note = a !== undefined && a < REVERSE_RULES.weakBelow ? ` Your ${DIMENSION_INFO[l.dim].label} averages ${a}/10 across your recent analyses, so there is room to gain here.` : "";
		push(changes, text + note, REVERSE_RULES.maxLeverChanges);
	}

	const avoid: string[] = [];
	for (const g of goals) for (const a of GOAL_RULES[g].avoid.slice(0, 3)) push(avoid, a, REVERSE_RULES.maxAvoid);

	// Tags of recent photos that pull away from the goal.
	const tagCount = new Map<string, number>();
	for (const a of input.recent_analyses) for (const t of new Set(a.tags.map(t => t.toLowerCase()))) tagCount.set(t, (tagCount.get(t) ?? 0) + 1);
	for (const g of goals) {
		const pulling = GOAL_RULES[g].conflicting.filter(t => tagCount.has(t)).sort((a, b) => tagCount.get(b)! - tagCount.get(a)!);
		if (!pulling.length) continue;
		const t = pulling[0];
		const where = n === 1 ? "your last analysis" : `${tagCount.get(t)} of your last ${n} analyses`;
		const note = `Your recent photos were tagged "${t}" in ${where}: to come across as ${GOAL_RULES[g].label}, let the changes above lead in your next photo.`;
		if (!changes.includes(note)) changes.splice(Math.min(2, changes.length), 0, note);
		push(avoid, `Leaning further into a "${t}" look while you work on coming across as ${GOAL_RULES[g].label}.`, REVERSE_RULES.maxAvoid);
	}

	// A tip that keeps coming back is worth acting on.
	const tipCount = new Map<string, number>();
	for (const a of input.recent_analyses) for (const t of new Set(a.tips)) if (!UNSAFE.test(t)) tipCount.set(t, (tipCount.get(t) ?? 0) + 1);
	const recurring = [...tipCount.entries()].filter(([, c]) => c >= 2).sort((a, b) => b[1] - a[1]);
	if (recurring.length) push(changes, `A tip that keeps coming up in your recent analyses: ${recurring[0][0]}`, REVERSE_RULES.maxChanges);

	for (const dim of GOAL_RULES.general.levers) if (changes.length < REVERSE_RULES.minChanges) push(changes, GOAL_RULES.general.changes[dim]!, REVERSE_RULES.maxChanges);
	for (const a of GOAL_RULES.general.avoid) if (avoid.length < REVERSE_RULES.minAvoid) push(avoid, a, REVERSE_RULES.maxAvoid);

	const label = goals.map(g => GOAL_RULES[g].label).join(" and ");
	const steps = changes
		.filter(c => !c.startsWith("Your recent photos") && !c.startsWith("A tip that"))
		.slice(0, 2)
		.map((c, i) => `${i + 1}. ${i === 0 ? "This week" : "Next"}: ${lead(c)}.`);
	const measured = levers.slice(0, 3).map(l => DIMENSION_INFO[l.dim].label);
	steps.push(
		n
			? `${steps.length + 1}. Then take a new photo and run an analysis to compare your ${measured.join(", ")} with your recent average.`
			: `${steps.length + 1}. Then upload a photo for a first analysis, so your next plan can build on your own scores.`
	);
	if (strengths.length) steps.push(`Keep what already works for coming across as ${label}: ${strengths.slice(0, 2).join(" and ")}.`);
	const intro = input.minor && /\b(dating|date|tinder|bumble|hinge|romantic)\b/i.test(input.goal) ? "This plan focuses on coming across as friendly and approachable. " : `To come across as ${label}: `;

	return {
		goal: input.goal,
		matched_goals: goals,
		recommended_changes: changes,
		avoid_list: avoid,
		action_plan: intro + steps.join(" "),
		based_on: n
	};
}

export const reverseAnalysis = defineAgent({
	name: "reverse_analysis",
	version: "1.0.0",
	input: ReverseInput,
	output: ReverseOutput,
	async run(input: ReverseInput, deps: LlmDeps): Promise<z.input<typeof ReverseOutput>> {
		const variables = { goal: input.goal, recent_analyses: input.recent_analyses, minor: input.minor };
		return askLlm(deps, "reverse_analysis", variables, ReverseContent, () => reverseRules(input));
	}
});

export default reverseAnalysis;
