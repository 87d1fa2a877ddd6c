import path from "node:path";
import sharp from "sharp";
import { STYLE_DIM } from "../../agents/embedder";
import { HUMAN_DIR } from "../../agents/providers/vision/human";
import { TEXT_DIM } from "../../agents/vectors";
import { http, startNode, type Http, type TestNode } from "../helpers/node";
import { waitFor } from "../helpers/wait";
import { registerUser } from "../factories/users";
import { fetchUrl, freePort, uploadForm } from "../factories/images";
import { expectError } from "../helpers/media";

/**
 * Comparisons, vibe comparison and memory search over HTTP (SPEC §3), on data made by the real
 * flows: uploads, the post-ingest perception job, and analyses through the real pipeline (vision
 * built into dist/). Every id-taking route is tried with another user's ids (404), and with
 * hostile input (4xx, never 500).
 */

const SAMPLES = path.join(HUMAN_DIR, "assets", "samples.jpg");
/** The samples collage's standing woman; `variant` shifts hue and light so the two photos differ in style. */
async function photo(variant: number): Promise<Buffer> {
	let img = sharp(SAMPLES).extract({ left: 641, top: 0, width: 148, height: 159 }).resize({ width: 444 });
	if (variant) img = img.modulate({ hue: 150 * variant, brightness: 1 - 0.25 * variant, saturation: 1 + variant });
	return img.jpeg({ quality: 90 - variant }).toBuffer();
}

const BIO = "Trail runner and amateur photographer. I love cooking for friends and learning new languages.";

interface User {
	id: string;
	token: string;
}

describe("comparisons and memory search", () => {
	let node: TestNode;
	let request: Http;
	let alice: User;
	let bob: User;
	let carol: User;
	let dave: User;
	/** Alice's two analysed media (A with a bio), and one she never analysed. */
	const A = { media: "", analysis: "" };
	const B = { media: "", analysis: "" };
	let unanalysed = "";
	let bobMedia = "";
	let bobAnalysis = "";

	async function newUser(body: Record<string, unknown> = {}): Promise<User> {
		const u = await registerUser(request, body);
		const me = await request("GET", "/auth/me", { token: u.access_token });
		return { id: me.body.id, token: u.access_token };
	}

	async function upload(user: User, variant: number): Promise<string> {
		const res = await uploadForm(node.url, user.token, await photo(variant), { type: "image/jpeg" });
		expect(res.status).toBe(200);
		return res.body.media_id;
	}

	const perceived = (user: User, id: string) => waitFor(async () => (await request("GET", `/media/media/${id}/perception`, { token: user.token })).status === 200, 60_000, 100);

	async function analyse(user: User, media_id: string, bio_text?: string): Promise<string> {
		const res = await request("POST", "/analysis/analyze", { token: user.token, body: { media_id, ...(bio_text ? { bio_text } : {}) } });
		expect(res.status).toBe(200);
		return res.body.analysis_id;
	}

	const post = (user: User | null, p: string, body: unknown) => request("POST", p, { token: user?.token, body });

	beforeAll(async () => {
		const port = await freePort();
		node = await startNode({
			services: [
				"api", "users", "auth", "storage", "media", "vision", "analyses", "orchestrator", "analysis", "embeddings", "jobs",
				"agents/face", "agents/fashion", "agents/posture", "agents/bio", "agents/embedder", "agents/social_perception", "agents/formatter",
				"comparisons", "vibe-comparison", "search", "agents/compare", "agents/memory", "agents/vibe_compare"
			],
			env: {
				PORT: String(port),
				PUBLIC_URL: `http://127.0.0.1:${port}`,
				VISION_THREADS: "1",
				AGENT_TIMEOUT_MS: "15000",
				RATE_LIMITS: "default=10000/60,upload=1000/60,analyze=1000/60,auth=1000/60,compare=1000/60,search=999/60"
			}
		});
		request = http(node.url);
		[alice, bob, carol, dave] = await Promise.all([
			newUser(),
			newUser({ public_alias: "Bobby", opt_in_public_analysis: true }),
			newUser({ public_alias: "Carol", opt_in_public_analysis: false }),
			newUser({ public_alias: "Dave", opt_in_public_analysis: true })
		]);
		A.media = await upload(alice, 0);
		B.media = await upload(alice, 1);
		unanalysed = await upload(alice, 2);
		bobMedia = await upload(bob, 1);
		const carolMedia = await upload(carol, 0);
		const daveMedia = await upload(dave, 2);
		for (const [u, id] of [[alice, A.media], [alice, B.media], [alice, unanalysed], [bob, bobMedia]] as const) await perceived(u, id);
		B.analysis = await analyse(alice, B.media);
		A.analysis = await analyse(alice, A.media, BIO);
		bobAnalysis = await analyse(bob, bobMedia);
		await analyse(carol, carolMedia);
		// Dave's record says his face reads as a minor: seeded through the analyses store (the offline models rarely estimate one).
		const rec = await node.broker.call<{ _id: string }, object>("analyses.create", { user_id: dave.id, media_id: daveMedia, pipeline: "core", graph_version: "core@1.0.0", status: "running" });
		await node.broker.call("analyses.checkpoint", { id: rec._id, node: "face", record: { status: "done" }, output: { num_faces: 1, faces: [{ is_subject: true, age: 15 }] }, progress: 0.5 });
		await node.broker.call("analyses.finish", { id: rec._id, status: "completed", result: { overall_score: 7, style_score: 7, presence_score: 7, summary: "x" } });
		// A newer analysis without a face reading does not make him an adult.
		await new Promise(r => setTimeout(r, 5));
		const later = await node.broker.call<{ _id: string }, object>("analyses.create", { user_id: dave.id, media_id: daveMedia, pipeline: "core", graph_version: "core@1.0.0", status: "running" });
		await node.broker.call("analyses.finish", { id: later._id, status: "completed", result: { overall_score: 6, summary: "y" } });
	}, 240_000);

	afterAll(async () => {
		await node?.stop();
	});

	/** No face data of anyone (descriptors, age, gender) in a comparison or search answer. */
	function expectNoBiometrics(body: unknown) {
		const text = JSON.stringify(body);
		for (const k of ['"descriptor"', '"age"', '"gender"', '"embedding"', '"face_vector"']) expect(text).not.toContain(k);
	}

	function expectComparison(b: any, type: string) {
		expect(b.comparison_type).toBe(type);
		for (const k of ["similarity_score", "style_similarity", "presence_similarity", "confidence"]) {
			expect(typeof b[k]).toBe("number");
			expect(b[k]).toBeGreaterThanOrEqual(0);
			expect(b[k]).toBeLessThanOrEqual(1);
		}
		for (const k of ["similarities", "differences", "insights", "recommendations"]) {
			expect(Array.isArray(b[k])).toBe(true);
			for (const s of b[k]) expect(typeof s).toBe("string");
		}
		expect(b.insights.length).toBeGreaterThan(0);
		expect(b.recommendations.length).toBeGreaterThan(0);
		expect(typeof b.comparison_metadata).toBe("object");
		expect("target_id" in b && "target_name" in b).toBe(true);
		expectNoBiometrics(b);
	}

	describe("GET /analysis/celebrities", () => {
		it("lists the archetype catalogue (signed in or not)", async () => {
			for (const token of [alice.token, undefined]) {
				const res = await request("GET", "/analysis/celebrities", { token });
				expect(res.status).toBe(200);
				expect(res.body.total).toBe(res.body.celebrities.length);
				expect(res.body.total).toBeGreaterThanOrEqual(10);
				expect(res.body.celebrities[0]).toEqual({ id: "celeb_1", name: "Classic Minimalist", category: expect.any(String), description: expect.any(String) });
				for (const c of res.body.celebrities) expect(Object.keys(c).sort()).toEqual(["category", "description", "id", "name"]);
				expect(res.body.categories).toEqual([...new Set(res.body.celebrities.map((c: any) => c.category))]);
			}
		});
	});

	describe("POST /analysis/compare", () => {
		it("refuses without a token", async () => {
			expectError(await post(null, "/analysis/compare", { media_id: A.media, comparison_type: "celebrity" }), 401);
		});

		it("celebrity: the nearest archetype by default, a named one on request, from the media's stored vectors and scores", async () => {
			const best = await post(alice, "/analysis/compare", { media_id: A.media, comparison_type: "celebrity" });
			expect(best.status).toBe(200);
			expectComparison(best.body, "celebrity");
			expect(best.body.target_id).toMatch(/^celeb_\d+$/);
			const meta = best.body.comparison_metadata;
			expect(meta.current).toEqual({ media_id: A.media, analysis_id: A.analysis });
			expect(meta.basis.style).toBe("vector+scores");
			expect(meta.top_matches[0].id).toBe(best.body.target_id);
			for (let i = 1; i < meta.top_matches.length; i++) expect(meta.top_matches[i - 1].similarity_score).toBeGreaterThanOrEqual(meta.top_matches[i].similarity_score);
			expect(best.body.similarity_score).toBe(meta.top_matches[0].similarity_score);

			const named = await post(alice, "/analysis/compare", { media_id: A.media, comparison_type: "celebrity", target_id: "celeb_4", user_id: alice.id });
			expect(named.status).toBe(200);
			expect([named.body.target_id, named.body.target_name]).toEqual(["celeb_4", "Power Professional"]);
			expect(named.body.similarity_score).toBeLessThanOrEqual(best.body.similarity_score);
			expect(named.headers.get("x-ratelimit-limit")).toBe("1000");

			expectError(await post(alice, "/analysis/compare", { media_id: A.media, comparison_type: "celebrity", target_id: "celeb_999" }), 404, "NOT_FOUND");
		});

		it("current_analysis: an analysis id of the caller's, or bare scores", async () => {
			const byId = await post(alice, "/analysis/compare", { current_analysis: { analysis_id: A.analysis, summary: "ignored", detailed_analysis: { face: {} } }, comparison_type: "celebrity", target_id: "celeb_2" });
			const byMedia = await post(alice, "/analysis/compare", { media_id: A.media, comparison_type: "celebrity", target_id: "celeb_2" });
			expect(byId.status).toBe(200);
			expect(byId.body.similarity_score).toBe(byMedia.body.similarity_score);
			const scores = await post(alice, "/analysis/compare", { current_analysis: { style_score: 8.4, presence_score: 8.6 }, comparison_type: "celebrity", target_id: "celeb_4" });
			expect(scores.status).toBe(200);
			expect(scores.body.comparison_metadata.basis).toEqual({ style: "scores", presence: "scores" });
			expect(scores.body.style_similarity).toBe(1);
			expect(scores.body.presence_similarity).toBe(1);
		});

		it("a media never analysed compares on its post-ingest social score", async () => {
			const res = await post(alice, "/analysis/compare", { media_id: unanalysed, comparison_type: "celebrity", target_id: "celeb_1" });
			expect(res.status).toBe(200);
			expect(res.body.comparison_metadata.current.analysis_id).toBeNull();
			expect(res.body.comparison_metadata.basis.presence).toBe("scores");
		});

		it("past_self: the media's latest analysis against the caller's others in the time range", async () => {
			const res = await post(alice, "/analysis/compare", { media_id: A.media, comparison_type: "past_self", time_range: "1_month" });
			expect(res.status).toBe(200);
			expectComparison(res.body, "past_self");
			expect(res.body.target_id).toBe("past_self");
			const meta = res.body.comparison_metadata;
			expect(meta).toMatchObject({ time_range: "1_month", past_count: 1, compared_count: 1 });
			expect(meta.top_matches.map((m: any) => m.id)).toEqual([B.analysis]);
			// Bob's only analysis: nothing earlier of his own to compare with, and never Alice's.
			const lonely = await post(bob, "/analysis/compare", { media_id: bobMedia, comparison_type: "past_self" });
			expect(lonely.status).toBe(200);
			expect(lonely.body).toMatchObject({ similarity_score: 0, confidence: 0, target_id: null });
			expect(lonely.body.comparison_metadata).toMatchObject({ time_range: "3_months", past_count: 0 });
		});

		it("peer: an opted-in user's style vector and scores, under their alias", async () => {
			const res = await post(alice, "/analysis/compare", { media_id: A.media, comparison_type: "peer", target_id: bob.id });
			expect(res.status).toBe(200);
			expectComparison(res.body, "peer");
			expect([res.body.target_id, res.body.target_name]).toEqual([bob.id, "Bobby"]);
			expect(res.body.comparison_metadata.top_matches).toEqual([]);
			expect(JSON.stringify(res.body)).not.toContain(bobMedia);
			expect(JSON.stringify(res.body)).not.toContain(bobAnalysis);
		});

		it("peer: not opted in, unknown, an estimated minor → 404; yourself or no target → 422", async () => {
			for (const target_id of [carol.id, "no-such-user", dave.id]) expectError(await post(alice, "/analysis/compare", { media_id: A.media, comparison_type: "peer", target_id }), 404, "NOT_FOUND");
			expectError(await post(alice, "/analysis/compare", { media_id: A.media, comparison_type: "peer", target_id: alice.id }), 422, "VALIDATION");
			expectError(await post(alice, "/analysis/compare", { media_id: A.media, comparison_type: "peer" }), 422, "VALIDATION");
		});

		it("peer: withdrawing opt-in hides a user at once; opting in again shows them", async () => {
			const body = { media_id: A.media, comparison_type: "peer", target_id: bob.id };
			try {
				expect((await request("PATCH", "/auth/me", { token: bob.token, body: { opt_in_public_analysis: false } })).status).toBe(200);
				expectError(await post(alice, "/analysis/compare", body), 404, "NOT_FOUND");
			} finally {
				await request("PATCH", "/auth/me", { token: bob.token, body: { opt_in_public_analysis: true } });
			}
			expect((await post(alice, "/analysis/compare", body)).status).toBe(200);
		});

		it("BOLA: another user's media or analysis → 404; another user_id → 403", async () => {
			expectError(await post(alice, "/analysis/compare", { media_id: bobMedia, comparison_type: "celebrity" }), 404, "NOT_FOUND");
			expectError(await post(alice, "/analysis/compare", { current_analysis: { analysis_id: bobAnalysis }, comparison_type: "celebrity" }), 404, "NOT_FOUND");
			expectError(await post(alice, "/analysis/compare", { current_analysis: { media_id: bobMedia }, comparison_type: "past_self" }), 404, "NOT_FOUND");
			expectError(await post(bob, "/analysis/compare", { media_id: A.media, comparison_type: "peer", target_id: bob.id }), 404, "NOT_FOUND");
			expectError(await post(alice, "/analysis/compare", { media_id: A.media, comparison_type: "celebrity", user_id: bob.id }), 403, "FORBIDDEN");
		});

		it("hostile input → 4xx", async () => {
			const bad: unknown[] = [
				{ media_id: A.media, comparison_type: "rival" },
				{ media_id: A.media },
				{ comparison_type: "celebrity" },
				{ media_id: { $gt: "" }, comparison_type: "celebrity" },
				{ media_id: 12, comparison_type: "celebrity" },
				{ media_id: A.media, comparison_type: "celebrity", target_id: ["celeb_1"] },
				{ media_id: A.media, comparison_type: "past_self", time_range: "10_years" },
				{ current_analysis: { style_score: "NaN" }, comparison_type: "celebrity" },
				{ current_analysis: { style_score: 1e308 }, comparison_type: "celebrity" },
				{ current_analysis: "x", comparison_type: "celebrity" },
				{ media_id: "x".repeat(65), comparison_type: "celebrity" }
			];
			for (const body of bad) expectError(await post(alice, "/analysis/compare", body), 422, "VALIDATION");
			expectError(await request("POST", "/analysis/compare", { token: alice.token, raw: '{"media_id": NaN}', headers: { "content-type": "application/json" } }), 400);
			expectError(await post(alice, "/analysis/compare", { current_analysis: {}, comparison_type: "celebrity" }), 409, "CONFLICT");
		});
	});

	describe("vibe comparison", () => {
		function expectVibe(b: any) {
			const flat = { summary: expect.any(String), better_media_id: b.better_media_id, comparison_tags: expect.any(Array), score_difference: expect.any(Number) };
			expect(b).toMatchObject({ ...flat, success: true, data: flat });
			expect([A.media, B.media, null]).toContain(b.better_media_id);
			expect(b.score_difference).toBeGreaterThanOrEqual(0);
			expect(b.summary.length).toBeGreaterThan(10);
			expectNoBiometrics(b);
		}

		it("POST /analysis/compare-media (body or query) and GET /compare/vibe-comparison agree", async () => {
			const body = await post(alice, "/analysis/compare-media", { media_id_1: A.media, media_id_2: B.media });
			expect(body.status).toBe(200);
			expectVibe(body.body);
			expect(body.body.basis).toBe("analysis");
			const query = await request("POST", `/analysis/compare-media?media_id_1=${A.media}&media_id_2=${B.media}`, { token: alice.token });
			const get = await request("GET", `/compare/vibe-comparison?media_id_1=${A.media}&media_id_2=${B.media}`, { token: alice.token });
			expect(query.body).toEqual(body.body);
			expect(get.body).toEqual(body.body);
			// Against a media with only its perception, both sides are read from their perceptions.
			const mixed = await post(alice, "/analysis/compare-media", { media_id_1: A.media, media_id_2: unanalysed });
			expect(mixed.status).toBe(200);
			expect(mixed.body.basis).toBe("social_perception");
		});

		it("BOLA and hostile input", async () => {
			expectError(await post(alice, "/analysis/compare-media", { media_id_1: A.media, media_id_2: bobMedia }), 404, "NOT_FOUND");
			expectError(await request("GET", `/compare/vibe-comparison?media_id_1=${bobMedia}&media_id_2=${A.media}`, { token: alice.token }), 404, "NOT_FOUND");
			expectError(await post(alice, "/compare/vibe-comparison/async", { media_id_1: A.media, media_id_2: bobMedia }), 404, "NOT_FOUND");
			expectError(await post(alice, "/analysis/compare-media", { media_id_1: A.media, media_id_2: B.media, user_id: bob.id }), 403, "FORBIDDEN");
			expectError(await post(null, "/analysis/compare-media", { media_id_1: A.media, media_id_2: B.media }), 401);
			for (const body of [{ media_id_1: A.media }, { media_id_1: A.media, media_id_2: A.media }, { media_id_1: { $ne: null }, media_id_2: B.media }, { media_id_1: [A.media], media_id_2: B.media }])
				expectError(await post(alice, "/analysis/compare-media", body), 422, "VALIDATION");
		});

		it("async: a queued job whose result is the comparison, visible to its owner only", async () => {
			const res = await post(alice, "/compare/vibe-comparison/async", { media_id_1: A.media, media_id_2: B.media });
			expect(res.status).toBe(200);
			expect(res.body).toEqual({ status: "queued", job_id: expect.stringMatching(/^vibe_compare-/), media_id_1: A.media, media_id_2: B.media });
			const done = await waitFor(async () => {
				const s = await request("GET", `/analysis/jobs/${res.body.job_id}`, { token: alice.token });
				return s.body.status === "completed" ? s.body : null;
			}, 30_000, 50);
			expectVibe(done.result);
			expect((await request("GET", `/analysis/jobs/${res.body.job_id}`, { token: bob.token })).status).toBe(404);
		});
	});

	describe("POST /analysis/search", () => {
		const search = (user: User | null, body: unknown) => post(user, "/analysis/search", body);

		function expectResults(b: any) {
			expect(b.total_results).toBe(b.results.length);
			expect(typeof b.search_metadata).toBe("object");
			for (const r of b.results) {
				expect(Object.keys(r).sort()).toEqual(["analysis_summary", "media_id", "media_url", "similarity_score", "thumbnail_url", "timestamp"]);
				expect(r.similarity_score).toBeGreaterThanOrEqual(0);
				expect(r.similarity_score).toBeLessThanOrEqual(1);
				expect(r.media_url).toMatch(/[?&]sig=/);
				expect(r.thumbnail_url).toMatch(/[?&]sig=/);
			}
			expectNoBiometrics(b);
		}

		it("no query: structured search over the caller's own analyses, newest first, signed URLs that work", async () => {
			const res = await search(alice, {});
			expect(res.status).toBe(200);
			expect(res.body.query_type).toBe("structured_search");
			expectResults(res.body);
			expect(res.body.results.map((r: any) => r.media_id)).toEqual([A.media, B.media]);
			expect(res.body.results[0].analysis_summary).toMatchObject({ analysis_id: A.analysis, pipeline: "core", overall_score: expect.any(Number), summary: expect.any(String) });
			expect((await fetchUrl(res.body.results[0].thumbnail_url)).status).toBe(200);
			expect(res.headers.get("x-ratelimit-limit")).toBe("999");
			const bobs = await search(bob, {});
			expect(bobs.body.results.map((r: any) => r.media_id)).toEqual([bobMedia]);
		});

		it("by vector: the caller's own style vector finds its analysis first", async () => {
			const { items } = await node.broker.call<{ items: { kind: string; vector: number[]; analysis_id: string }[] }, object>("embeddings.listForUser", { user_id: alice.id, media_id: B.media, kind: "style" });
			const res = await search(alice, { query_vector: items[0].vector, limit: 5, min_similarity: 0 });
			expect(res.status).toBe(200);
			expect(res.body.query_type).toBe("vector_search");
			expectResults(res.body);
			expect(res.body.results[0]).toMatchObject({ media_id: B.media, similarity_score: 1 });
			expect(res.body.search_metadata.vector_kind).toBe("style");
			// Bob's search with Alice's vector only ever sees Bob's data.
			const bobs = await search(bob, { query_vector: items[0].vector, min_similarity: 0 });
			expect(bobs.body.results.map((r: any) => r.media_id)).toEqual([bobMedia]);
		});

		it("by text: the bio and the report's words rank the matching analysis first", async () => {
			const res = await search(alice, { query_text: "trail runner photographer cooking", min_similarity: 0.05 });
			expect(res.status).toBe(200);
			expect(res.body.query_type).toBe("vector_search");
			expectResults(res.body);
			expect(res.body.results[0].media_id).toBe(A.media);
			expect(res.body.search_metadata.keywords).toEqual(["trail", "runner", "photographer", "cooking"]);
			const none = await search(alice, { query_text: "zxqv wqzx", min_similarity: 0.5 });
			expect(none.body).toMatchObject({ total_results: 0, results: [] });
		});

		it("date range, analysis types and limit filter; an empty future range finds nothing", async () => {
			const future = await search(alice, { date_range: { start: "2999-01-01", end: "2999-12-31" } });
			expect(future.body.total_results).toBe(0);
			const now = await search(alice, { date_range: { start: new Date(Date.now() - 3600_000).toISOString() }, limit: 1 });
			expect(now.body.results.map((r: any) => r.media_id)).toEqual([A.media]);
			const bio = await search(alice, { analysis_types: ["bio"] });
			expect(bio.body.results.map((r: any) => r.media_id)).toEqual([A.media]);
			const hybrid = await search(alice, { analysis_types: ["hybrid"] });
			expect(hybrid.body.total_results).toBe(0);
		});

		it("another user_id → 403; no token → 401", async () => {
			expectError(await search(alice, { user_id: bob.id }), 403, "FORBIDDEN");
			expectError(await search(null, {}), 401);
			expect((await search(alice, { user_id: alice.id })).status).toBe(200);
		});

		it("hostile input → 4xx: wrong dimensions, huge vectors, NaN, wrong types, $-keys, bad ranges", async () => {
			const bad: unknown[] = [
				{ query_vector: [1, 2, 3] },
				{ query_vector: new Array(STYLE_DIM + 1).fill(0.1) },
				{ query_vector: new Array(5000).fill(0.1) },
				{ query_vector: new Array(TEXT_DIM).fill("0.1") },
				{ query_vector: ["NaN"] },
				{ query_vector: "0.1,0.2" },
				{ query_text: { $regex: ".*" } },
				{ query_text: "x".repeat(1001) },
				{ limit: 51 },
				{ limit: 0 },
				{ limit: "ten" },
				{ min_similarity: 2 },
				{ date_range: { start: "yesterday-ish" } },
				{ date_range: { start: "2026-02-01", end: "2026-01-01" } },
				{ date_range: "2026" },
				{ analysis_types: ["everything"] },
				{ $where: "1" }
			];
			for (const body of bad) expectError(await search(alice, body), 422, "VALIDATION");
			expectError(await request("POST", "/analysis/search", { token: alice.token, raw: '{"query_vector": [NaN, Infinity]}', headers: { "content-type": "application/json" } }), 400);
			expectError(await request("POST", "/analysis/search", { token: alice.token, raw: "query_text=x", headers: { "content-type": "application/x-www-form-urlencoded" } }), 415);
		});
	});
});
