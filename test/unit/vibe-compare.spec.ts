import { runAgent } from "../../agents/agent";
import vibeCompare, { scoresOf, VibeCompareInput, type VibeSide } from "../../agents/vibe-compare";

const side = (media_id: string, o: Partial<VibeSide> = {}): VibeSide => ({ media_id, ...o });
const social = (social_score: number, tags: string[] = [], summary_text = "A photo.") => ({ summary_text, tags, social_score });
const run = (a: VibeSide, b: VibeSide) => runAgent(vibeCompare, { media_1: a, media_2: b }, undefined);

describe("vibe_compare agent", () => {
	it("names the better media, the absolute difference and tags that describe it", async () => {
		const out = await run(side("m1", { social: social(5.5, ["calm", "warm"]) }), side("m2", { social: social(7.5, ["confident", "warm", "friendly"]) }));
		expect(out.better_media_id).toBe("m2");
		expect(out.score_difference).toBe(2);
		expect(out.basis).toBe("social_perception");
		expect(out.comparison_tags).toEqual(expect.arrayContaining(["clear difference", "more confident", "more friendly", "both warm"]));
		expect(out.summary).toMatch(/second photo comes across noticeably better \(social score 7\.5 vs 5\.5\)/);
		expect(out.summary).toContain("Both read as warm");
	});

	it("equal scores → better_media_id null and a similar-vibe tag", async () => {
		const out = await run(side("m1", { social: social(6.02) }), side("m2", { social: social(6) }));
		expect(out.better_media_id).toBeNull();
		expect(out.comparison_tags).toContain("similar vibe");
		expect(out.summary).toMatch(/about the same/);
		expect(out.score_difference).toBe(0.02);
	});

	it("just over the tie band picks a winner (slight difference)", async () => {
		const out = await run(side("m1", { social: social(6.1) }), side("m2", { social: social(6) }));
		expect(out.better_media_id).toBe("m1");
		expect(out.comparison_tags[0]).toBe("slight difference");
	});

	it("uses the analyses' overall scores when both media have one, even against the social scores", async () => {
		const out = await run(
			side("m1", { social: social(9), analysis: { overall_score: 5 } }),
			side("m2", { social: social(4), analysis: { overall_score: 7.25 } })
		);
		expect(out.basis).toBe("analysis");
		expect(out.better_media_id).toBe("m2");
		expect(out.score_difference).toBe(2.25);
	});

	it("mixes bases only when one side has nothing else", async () => {
		const out = await run(side("a", { analysis: { overall_score: 6 } }), side("b", { social: social(8) }));
		expect(out.basis).toBe("mixed");
		expect(out.scores).toEqual({ media_1: 6, media_2: 8 });
		expect(scoresOf(VibeCompareInput.parse({ media_1: side("a", { social: social(3) }), media_2: side("b", { social: social(8) }) }).media_1, { media_id: "b", social: social(8) })).toEqual({ s1: 3, s2: 8, basis: "social_perception" });
	});

	it("mentions image quality and a visible face", async () => {
		const out = await run(
			side("m1", { social: social(4), quality: { blurry: true, too_dark: true, too_bright: false }, faces: 0 }),
			side("m2", { social: social(7), quality: { blurry: false, too_dark: false, too_bright: false }, faces: 1 })
		);
		expect(out.comparison_tags).toEqual(expect.arrayContaining(["better image quality", "face visible"]));
		expect(out.summary).toMatch(/first photo loses some impact to blur and dark/);
	});

	it("refuses a side with neither perception nor analysis, and out-of-range scores", () => {
		expect(vibeCompare.input.safeParse({ media_1: side("a"), media_2: side("b", { social: social(5) }) }).success).toBe(false);
		expect(vibeCompare.input.safeParse({ media_1: side("a", { social: social(11) }), media_2: side("b", { social: social(5) }) }).success).toBe(false);
		expect(vibeCompare.input.safeParse({ media_1: side("a", { social: social(NaN) }), media_2: side("b", { social: social(5) }) }).success).toBe(false);
	});
});
