import { runAgent } from "../../agents/agent";
import { CAUTION_TAGS, HISTORY_RULES, HistoryOutput, perceptionHistory, pointsOf, slope, tagShifts, trendOf, HistoryInput, type HistoryInput as In } from "../../agents/perception-history";
import { fixitInputFrom, historyInputOf, minorIn, perceptionScores, recentAnalysesOf, vibeInputFrom, type MediaSummary, type StoredAnalysis } from "../../agents/workflow/insights";
import { FixitInput } from "../../agents/fixit";
import { ReverseInput } from "../../agents/reverse-analysis";
import { VibeInput } from "../../agents/vibe-analysis";

const day = (n: number) => new Date(Date.UTC(2025, 0, 1 + n)).toISOString();
const history = (input: In) => runAgent(perceptionHistory, input, undefined);
/** Perceptions with the given scores (and tags), one a day, passed newest first as the store answers. */
const series = (scores: number[], tags: string[][] = []) => ({
	perceptions: scores.map((s, i) => ({ media_id: `m${i}`, timestamp: day(i), social_score: s, tags: tags[i] ?? [] })).reverse()
});

describe("perception_history: trend", () => {
	it("a rising series is improving, oldest first in score_trend, with its slope and average", async () => {
		const out = await history(series([5, 5.5, 6.2, 7]));
		expect(HistoryOutput.safeParse(out).success).toBe(true);
		expect(out.trend).toBe("improving");
		expect(out.score_trend).toEqual([5, 5.5, 6.2, 7].map((score, i) => ({ timestamp: day(i), score })));
		expect(out.slope_per_upload).toBeCloseTo(0.67, 2);
		expect(out.average_score).toBe(5.9);
		expect(out.sample_size).toBe(4);
		expect(out.trend_summary).toMatch(/improving \(from about 5\.3 to 6\.6\/10\)/);
	});

	it("a falling series is declining and the summary stays kind; a flat one is stable", async () => {
		const down = await history(series([8, 7.4, 6.9, 6]));
		expect(down.trend).toBe("declining");
		expect(down.trend_summary).toMatch(/dipped a little/);
		expect(down.trend_summary).toMatch(/bring it back/);
		const flat = await history(series([6, 6.1, 5.9, 6.05]));
		expect(flat.trend).toBe("stable");
		expect(flat.trend_summary).toMatch(/holding steady/);
	});

	it("the slope is least squares per upload; the stable band is ±stableSlope", () => {
		expect(slope([1, 2, 3])).toBe(1);
		expect(slope([3, 1, 2])).toBe(-0.5);
		expect(slope([4])).toBeNull();
		expect(trendOf([5, 5.2, 5.4])).toBe("improving");
		expect(trendOf([5.4, 5.2, 5])).toBe("declining");
		expect(trendOf([5, 5.05, 5.1])).toBe("stable");
	});

	it("upload order, not elapsed time: a burst and a long gap weigh the same", async () => {
		const out = await history({ perceptions: [
			{ media_id: "a", timestamp: "2024-01-01T00:00:00.000Z", social_score: 4, tags: [] },
			{ media_id: "b", timestamp: "2025-06-01T00:00:00.000Z", social_score: 5, tags: [] },
			{ media_id: "c", timestamp: "2025-06-01T00:00:01.000Z", social_score: 6, tags: [] }
		] });
		expect(out.slope_per_upload).toBe(1);
	});
});

describe("perception_history: few or no data", () => {
	it("no data: an invitation, empty lists, insufficient_data", async () => {
		const out = await history({});
		expect(out).toEqual({
			trend_summary: expect.stringMatching(/No photos have been read yet/),
			score_trend: [],
			improvement_tags: [],
			decline_tags: [],
			trend: "insufficient_data",
			slope_per_upload: null,
			average_score: null,
			sample_size: 0
		});
	});

	it("one photo: its score and no trend; two photos: both scores and still no trend", async () => {
		const one = await history(series([6.4]));
		expect([one.trend, one.sample_size, one.slope_per_upload]).toEqual(["insufficient_data", 1, null]);
		expect(one.trend_summary).toMatch(/One photo so far, read at 6\.4\/10/);
		const two = await history(series([5, 7]));
		expect([two.trend, two.slope_per_upload]).toEqual(["insufficient_data", 2]);
		expect(two.trend_summary).toMatch(/5 → 7\/10/);
	});

	it("fewer than minTagPoints tagged photos: no tag movement", async () => {
		const out = await history(series([5, 6, 7], [["calm"], ["warm"], ["warm"]]));
		expect([out.improvement_tags, out.decline_tags]).toEqual([[], []]);
	});
});

describe("perception_history: tags", () => {
	it("tags gaining in the recent half improve, tags fading decline; caution tags count the other way", () => {
		const pts = [["calm", "reserved"], ["calm", "reserved"], ["warm", "friendly"], ["warm", "calm"]].map(tags => ({ tags }));
		const t = tagShifts(pts);
		// Largest shift first (warm and reserved: 100 points; friendly: 50), then by name.
		expect(t.improvement).toEqual(["reserved", "warm", "friendly"]);
		expect(t.decline).toEqual(["calm"]);
		expect(CAUTION_TAGS).toContain("reserved");
	});

	it("a rising caution tag is a decline; the summary says which way each tag moved", async () => {
		const out = await history(series([6, 6, 6, 6], [["warm"], ["warm"], ["reserved"], ["reserved", "warm"]]));
		expect(out.decline_tags).toEqual(["reserved", "warm"]);
		expect(out.improvement_tags).toEqual([]);
		expect(out.trend_summary).toMatch(/lately they read more reserved and less warm/);
		const better = await history(series([5, 5.5, 6, 6.5], [["reserved"], ["reserved"], ["warm"], ["warm"]]));
		expect(better.improvement_tags).toEqual(["reserved", "warm"]);
		expect(better.trend_summary).toMatch(/less reserved and more warm/);
	});

	it("a shift under tagShift is not a movement; at most maxTags each", () => {
		const few = [["a"], ["a"], ["a"], ["a"], ["a"], ["a"], ["a"], ["a", "b"]].map(tags => ({ tags }));
		expect(tagShifts(few)).toEqual({ improvement: ["b"], decline: [] }); // b: 0 → 1/4 = 0.25, exactly the threshold
		const fewer = [["a"], ["a"], ["a"], ["a"], ["a"], ["a"], ["a"], ["a"], ["a"], ["a", "b"]].map(tags => ({ tags }));
		expect(tagShifts(fewer).improvement).toEqual([]); // 1/5 = 0.2
		const many = [[], [], ["t1", "t2", "t3", "t4", "t5", "t6", "t7"], ["t1", "t2", "t3", "t4", "t5", "t6", "t7"]];
		expect(tagShifts([{ tags: ["x"] }, { tags: ["x"] }, ...many.slice(2).map(tags => ({ tags }))]).improvement).toHaveLength(HISTORY_RULES.maxTags);
	});
});

describe("perception_history: points", () => {
	it("one point per media: the perception's score, else the newest completed analysis's", () => {
		const input = HistoryInput.parse({
			perceptions: [{ media_id: "p", timestamp: day(2), social_score: 6, tags: ["warm"] }],
			analyses: [
				{ media_id: "p", timestamp: day(3), overall_score: 9 },
				{ media_id: "q", timestamp: day(1), overall_score: 4 },
				{ media_id: "q", timestamp: day(4), overall_score: 5 },
				{ media_id: "r", timestamp: day(0), overall_score: null }
			]
		});
		expect(pointsOf(input)).toEqual([
			{ media_id: "p", timestamp: day(2), score: 6, tags: ["warm"] },
			{ media_id: "q", timestamp: day(4), score: 5, tags: [] }
		]);
	});

	it("refuses out-of-range scores and oversized input", () => {
		expect(HistoryInput.safeParse({ perceptions: [{ media_id: "a", timestamp: day(0), social_score: 11 }] }).success).toBe(false);
		expect(HistoryInput.safeParse({ perceptions: Array.from({ length: HISTORY_RULES.maxPoints + 1 }, (_, i) => ({ media_id: `m${i}`, timestamp: day(0), social_score: 5 })) }).success).toBe(false);
	});
});

describe("insight inputs from stored data", () => {
	const media: MediaSummary[] = [
		{ media_id: "m2", created_at: day(2), perception: { faces: [{ expression: "happy" }], quality: { blurry: true, too_dark: false, too_bright: false }, social: { summary_text: "Warm.", tags: ["warm", "friendly"], social_score: 7 } } },
		{ media_id: "m1", created_at: day(1), perception: { faces: [], quality: { blurry: false, too_dark: true, too_bright: false }, social: { summary_text: "Calm.", tags: ["calm"], social_score: 5 } } },
		{ media_id: "m0", created_at: day(0), perception: null }
	];
	const analysis: StoredAnalysis = {
		_id: "a1",
		media_id: "m1",
		created_at: day(1),
		result: { overall_score: 6.5, style_score: 6, presence_score: 7, recommendations: ["Stand tall.", "Smile."] },
		checkpoints: { aggregator: { output: { overall_score: 6.5, style_score: 6, presence_score: 7, improvement_areas: ["outfit"], components: {} } }, posture: { output: { alignment_score: 5, tips: ["Relax your shoulders."] } } },
		request: { user_consent: null }
	};

	it("perception scores: social, expression warmth, photo quality", () => {
		expect(perceptionScores(media[0])).toEqual({ social: 7, expression: 10, photo_quality: 7 });
		expect(perceptionScores(media[1])).toEqual({ social: 5, expression: null, photo_quality: 8 });
		expect(perceptionScores(media[2])).toEqual({ social: null, expression: null, photo_quality: null });
	});

	it("history input: scored perceptions and every analysis", () => {
		expect(historyInputOf(media, [analysis])).toEqual({
			perceptions: [
				{ media_id: "m2", timestamp: day(2), social_score: 7, tags: ["warm", "friendly"] },
				{ media_id: "m1", timestamp: day(1), social_score: 5, tags: ["calm"] }
			],
			analyses: [{ media_id: "m1", timestamp: day(1), overall_score: 6.5 }]
		});
	});

	it("fixit input: the analysis's scores topped up from the perception, improved areas passed on", () => {
		const f = fixitInputFrom(analysis, media[0], ["confident"]);
		expect(FixitInput.safeParse(f).success).toBe(true);
		expect(f.scores).toMatchObject({ overall: 6.5, style: 6, presence: 7, posture: 5, social: 7, expression: 10, photo_quality: 7 });
		expect(f.improved_areas).toEqual(["confident"]);
		const bare = fixitInputFrom(null, media[1]);
		expect(FixitInput.safeParse(bare).success).toBe(true);
		expect(bare.scores).toEqual({ social: 5, expression: null, photo_quality: 8 });
	});

	it("vibe input: recent perceptions newest first, and a vision summary with or without an analysis", () => {
		const v = vibeInputFrom(null, media, 5) as any;
		expect(VibeInput.safeParse(v).success).toBe(true);
		expect(v.recent_perceptions.map((p: any) => p.social_score)).toEqual([7, 5]);
		expect(v.vision_summary).toEqual({ expression: "happy", social_score: 7, tags: ["warm", "friendly"] });
		const withAnalysis = vibeInputFrom(analysis, media, 1) as any;
		expect(VibeInput.safeParse(withAnalysis).success).toBe(true);
		expect(withAnalysis.recent_perceptions).toHaveLength(1);
		expect(withAnalysis.vision_summary.alignment_score).toBe(5);
		expect(withAnalysis.vision_summary.social_score).toBe(5); // the analysed media's own perception
	});

	it("an estimated minor: from the face checkpoint or the report's face section", () => {
		expect(minorIn(null)).toBe(false);
		expect(minorIn(analysis)).toBe(false);
		expect(minorIn({ ...analysis, checkpoints: { face: { output: { faces: [{ is_subject: true, age: 15 }] } } } })).toBe(true);
		expect(minorIn({ ...analysis, result: { detailed_analysis: { face: { faces: [{ age: 17 }] } } } })).toBe(true);
		expect(minorIn({ ...analysis, result: { detailed_analysis: { face: { faces: [{ age: 30 }] } } } })).toBe(false);
	});

	it("reverse input: one entry per recent media, newest first, analysis scores over perception scores", () => {
		const r = recentAnalysesOf([analysis], media, 5);
		expect(ReverseInput.safeParse({ goal: "look more confident", recent_analyses: r }).success).toBe(true);
		expect(r.map(e => e.timestamp)).toEqual([day(2), day(1)]);
		expect(r[1]).toMatchObject({ scores: { overall: 6.5, social: 5 }, tags: ["calm"], tips: ["Stand tall.", "Smile."] });
		expect(r[0]).toMatchObject({ scores: { social: 7 }, tags: ["warm", "friendly"], tips: [] });
		expect(recentAnalysesOf([analysis], media, 1)).toHaveLength(1);
	});
});
