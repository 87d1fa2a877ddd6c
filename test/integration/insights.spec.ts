import { jpeg, freePort, uploadForm } from "../factories/images";
import { registerUser } from "../factories/users";
import { expectError, type User } from "../helpers/media";
import { http, startNode, type Http, type TestNode } from "../helpers/node";

/**
 * The insight routes over HTTP (SPEC §3): perception history (self and public), fixit
 * suggestions, reverse goal / reverse analysis, vibe analysis and the comprehensive profile,
 * on real services and the local agents. Perceptions are stored the way the post-ingest job
 * stores them (media.setPerception), so no vision pass runs here.
 */

const SERVICES = [
	"api", "users", "auth", "storage", "media", "analyses", "insights",
	"agents/perception_history", "agents/fixit", "agents/reverse_analysis", "agents/vibe_analysis", "agents/social_graph"
];
const EXPRESSIONS = ["neutral", "neutral", "happy", "happy", "happy"];

describe("insights endpoints", () => {
	let node: TestNode;
	let request: Http;

	async function newUser(over: Record<string, unknown> = {}): Promise<User> {
		const u = await registerUser(request, over);
		const me = await request("GET", "/auth/me", { token: u.access_token });
		return { id: me.body.id, token: u.access_token };
	}

	async function upload(u: User): Promise<string> {
		const res = await uploadForm(node.url, u.token, await jpeg(), { type: "image/jpeg" });
		expect(res.status).toBe(200);
		return res.body.media_id;
	}

	/** Stores a perception as the post-ingest job does (emits media.perceived). */
	async function perceive(u: User, media_id: string, social_score: number, tags: string[], expression = "happy") {
		await node.broker.call("media.setPerception", {
			id: media_id,
			user_id: u.id,
			perception: {
				faces: [{ box: [10, 10, 40, 40], expression, emotions: { [expression]: 0.9 } }],
				posture: null,
				fashion: null,
				environment: { objects: [{ label: "person", score: 0.9 }] },
				quality: { blurry: false, too_dark: false, too_bright: false },
				social: { summary_text: `Comes across ${tags[0]}. A second sentence.`, tags, social_score, confidence: 0.7 },
				versions: { vision: "test", social_perception: "test" },
				created_at: new Date().toISOString()
			}
		});
	}

	/** A user with uploads perceived at rising scores, the recent ones warmer. */
	async function withHistory(over: Record<string, unknown> = {}, scores = [4.5, 5, 6, 6.5, 7.5]) {
		const u = await newUser(over);
		const ids: string[] = [];
		for (const [i, s] of scores.entries()) {
			const id = await upload(u);
			await perceive(u, id, s, i < 2 ? ["reserved", "calm", "warm"] : ["warm", "friendly", "calm"], EXPRESSIONS[i % EXPRESSIONS.length]);
			ids.push(id);
		}
		return { user: u, media: ids };
	}

	/** A completed analysis record of a media with the checkpoints the agents read. */
	async function analysed(u: User, media_id: string, overall: number) {
		const rec = await node.broker.call<any, object>("analyses.create", { user_id: u.id, media_id, pipeline: "core", graph_version: "core@1.0.0", request: {} });
		const aggregate = { overall_score: overall, style_score: overall - 1, presence_score: overall, confidence: 0.6, key_strengths: [], improvement_areas: ["There is room to grow in your posture (4/10)."], components: {} };
		for (const [n, output] of [["aggregator", aggregate], ["posture", { alignment_score: 4, tips: ["Let your left shoulder drop a little."], confidence: 0.7 }]] as const)
			await node.broker.call("analyses.checkpoint", { id: rec._id, node: n, record: { status: "done", attempts: 1, ms: 1 }, output, versions: {}, progress: 0.5 });
		await node.broker.call("analyses.finish", { id: rec._id, status: "completed", result: { media_id, overall_score: overall, style_score: overall - 1, presence_score: overall, recommendations: ["Stand tall.", "Face the light."] } });
		return rec._id as string;
	}

	const get = (u: User | null, p: string) => request("GET", p, { token: u?.token });
	const post = (u: User | null, p: string, body?: unknown) => request("POST", p, { token: u?.token, body });

	function expectHistory(h: any) {
		expect(typeof h.trend_summary).toBe("string");
		expect(h.trend_summary.length).toBeGreaterThan(10);
		expect(Array.isArray(h.score_trend)).toBe(true);
		for (const p of h.score_trend) {
			expect(Number.isNaN(Date.parse(p.timestamp))).toBe(false);
			expect(typeof p.score).toBe("number");
			expect(p.score).toBeGreaterThanOrEqual(0);
			expect(p.score).toBeLessThanOrEqual(10);
		}
		for (const k of ["improvement_tags", "decline_tags"]) for (const t of h[k]) expect(typeof t).toBe("string");
		expect(["improving", "declining", "stable", "insufficient_data"]).toContain(h.trend);
	}

	function expectFixit(f: any) {
		expect(Object.keys(f).sort()).toEqual(["detailed_plan", "focus_areas", "quick_tips"]);
		expect(f.quick_tips.length).toBeGreaterThanOrEqual(3);
		for (const t of f.quick_tips) expect(typeof t).toBe("string");
		expect(typeof f.detailed_plan).toBe("string");
		expect(Array.isArray(f.focus_areas)).toBe(true);
	}

	function expectReverse(r: any) {
		expect(r.recommended_changes.length).toBeGreaterThanOrEqual(3);
		expect(r.avoid_list.length).toBeGreaterThanOrEqual(2);
		for (const s of [...r.recommended_changes, ...r.avoid_list]) expect(typeof s).toBe("string");
		expect(typeof r.action_plan).toBe("string");
		expect(typeof r.goal).toBe("string");
	}

	beforeAll(async () => {
		const port = await freePort();
		node = await startNode({
			services: SERVICES,
			env: { PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, RATE_LIMITS: "upload=1000/60,auth=1000/60,goal=1000/60,profile=1000/60" }
		});
		request = http(node.url);
	}, 60_000);

	afterAll(async () => {
		await node?.stop();
	});

	it("refuses without access: every route answers 401 without a token", async () => {
		const { user } = await withHistory({}, [5]);
		for (const [m, p] of [
			["GET", `/history/${user.id}`],
			["GET", `/history/perception-history?user_id=${user.id}`],
			["GET", "/improvement/fixit-suggestions"],
			["POST", "/analysis/reverse-goal?goal=look%20confident"],
			["GET", "/analysis/reverse-analysis?goal=look%20confident"],
			["POST", "/analysis/reverse-analysis?goal=look%20confident"],
			["GET", "/analysis/vibe-analysis"],
			["POST", "/analysis/vibe-analysis"],
			["GET", "/analysis/profile/comprehensive"]
		])
			expectError(await request(m, p), 401);
	});

	describe("perception history", () => {
		it("self: the trend over the stored perceptions, on both paths", async () => {
			const { user } = await withHistory();
			const res = await get(user, `/history/${user.id}`);
			expect(res.status).toBe(200);
			expectHistory(res.body);
			expect(res.body.user_id).toBe(user.id);
			expect(res.body.score_trend.map((p: any) => p.score)).toEqual([4.5, 5, 6, 6.5, 7.5]);
			expect(res.body.trend).toBe("improving");
			expect(res.body.improvement_tags).toEqual(["friendly", "reserved"]);
			expect(res.body.decline_tags).toEqual([]);
			expect(res.body.sample_size).toBe(5);
			expect((await get(user, `/history/perception-history?user_id=${user.id}`)).body).toEqual(res.body);
			expect((await get(user, "/history/perception-history")).body).toEqual(res.body);
		});

		it("few or no data: 200 with insufficient_data and empty lists", async () => {
			const u = await newUser();
			const res = await get(u, `/history/${u.id}`);
			expect(res.status).toBe(200);
			expect(res.body).toMatchObject({ user_id: u.id, score_trend: [], improvement_tags: [], decline_tags: [], trend: "insufficient_data", sample_size: 0 });
			expectHistory(res.body);
		});

		it("another user: 404 unless they opted in; then only the public part; 404 again the moment they opt out", async () => {
			const alice = await newUser();
			const { user: bob } = await withHistory();
			const { user: carol } = await withHistory({ opt_in_public_analysis: true, public_alias: "carol" });
			expectError(await get(alice, `/history/${bob.id}`), 404, "NOT_FOUND");
			expectError(await get(alice, `/history/perception-history?user_id=${bob.id}`), 404, "NOT_FOUND");
			expectError(await get(alice, "/history/no-such-user"), 404, "NOT_FOUND");
			const pub = await get(alice, `/history/${carol.id}`);
			expect(pub.status).toBe(200);
			expect(Object.keys(pub.body).sort()).toEqual(["decline_tags", "improvement_tags", "sample_size", "score_trend", "trend", "trend_summary", "user_id"]);
			expectHistory(pub.body);
			expect(pub.body.score_trend).toHaveLength(5);
			expect(JSON.stringify(pub.body)).not.toMatch(/media_id|thumbnail|storage/);
			expect((await request("PATCH", "/auth/me", { token: carol.token, body: { opt_in_public_analysis: false } })).status).toBe(200);
			expectError(await get(alice, `/history/${carol.id}`), 404, "NOT_FOUND");
			// Their own view is unaffected.
			expect((await get(carol, `/history/${carol.id}`)).body.sample_size).toBe(5);
		});

		it("an opted-in user estimated to be a minor is never shown to others (their own view stays)", async () => {
			const alice = await newUser();
			const { user: teen, media } = await withHistory({ opt_in_public_analysis: true }, [6, 7]);
			expect((await get(alice, `/history/${teen.id}`)).status).toBe(200);
			const rec = await node.broker.call<any, object>("analyses.create", { user_id: teen.id, media_id: media[0], pipeline: "core", graph_version: "core@1.0.0", request: {} });
			await node.broker.call("analyses.checkpoint", { id: rec._id, node: "face", record: { status: "done", attempts: 1, ms: 1 }, output: { faces: [{ is_subject: true, age: 16 }] }, versions: {}, progress: 0.5 });
			await node.broker.call("analyses.finish", { id: rec._id, status: "completed", result: { media_id: media[0], overall_score: 6 } });
			expectError(await get(alice, `/history/${teen.id}`), 404, "NOT_FOUND");
			expect((await get(teen, `/history/${teen.id}`)).status).toBe(200);
		});

		it("cached, and cleaned by media.perceived and media.deleted: a new or deleted photo shows at once", async () => {
			const { user, media } = await withHistory({}, [5, 6]);
			expect((await get(user, `/history/${user.id}`)).body.sample_size).toBe(2);
			expect(await node.broker.cacher!.get(`agent.perception_history.run:"${user.id}"|50`)).toMatchObject({ sample_size: 2 });
			const id = await upload(user);
			await perceive(user, id, 8, ["warm"]);
			expect((await get(user, `/history/${user.id}`)).body.score_trend.map((p: any) => p.score)).toEqual([5, 6, 8]);
			expect((await request("DELETE", `/media/${media[0]}`, { token: user.token })).status).toBeLessThan(300);
			expect((await get(user, `/history/${user.id}`)).body.score_trend.map((p: any) => p.score)).toEqual([6, 8]);
		});

		it("hostile or malformed user_id → 4xx, never 500", async () => {
			const u = await newUser();
			for (const p of [`/history/${"x".repeat(65)}`, "/history/perception-history?user_id[$ne]=x", "/history/perception-history?user_id=a&user_id=b"]) {
				const res = await get(u, p);
				expect(res.status).toBeGreaterThanOrEqual(400);
				expect(res.status).toBeLessThan(500);
			}
		});
	});

	describe("fixit suggestions", () => {
		it("404 when the user has no media; the SPEC shape from stored perceptions; reverse analysis only when asked with a goal", async () => {
			const empty = await newUser();
			expectError(await get(empty, "/improvement/fixit-suggestions"), 404, "NOT_FOUND");
			const { user } = await withHistory();
			const res = await get(user, "/improvement/fixit-suggestions?recent_limit=3");
			expect(res.status).toBe(200);
			expect(Object.keys(res.body).sort()).toEqual(["fixit_suggestions", "reverse_analysis"]);
			expectFixit(res.body.fixit_suggestions);
			expect(res.body.reverse_analysis).toBeNull();
			// A goal without the flag (or with it false, as a query string) does not run the reverse analysis.
			expect((await get(user, "/improvement/fixit-suggestions?goal=look%20confident&with_reverse_analysis=false")).body.reverse_analysis).toBeNull();
			const withGoal = await get(user, "/improvement/fixit-suggestions?with_reverse_analysis=true&goal=look%20more%20confident");
			expect(withGoal.status).toBe(200);
			expectReverse(withGoal.body.reverse_analysis);
			expect(withGoal.body.reverse_analysis.matched_goals).toContain("confidence");
			expectError(await get(user, "/improvement/fixit-suggestions?with_reverse_analysis=true"), 422, "VALIDATION");
		});

		it("for one media: the caller's own (its analysis's scores lead); another user's media → 404", async () => {
			const { user, media } = await withHistory({}, [6, 7]);
			const { user: other, media: theirs } = await withHistory({}, [5]);
			await analysed(user, media[0], 5);
			const res = await get(user, `/improvement/fixit-suggestions?media_id=${media[0]}`);
			expect(res.status).toBe(200);
			expectFixit(res.body.fixit_suggestions);
			expect(res.body.fixit_suggestions.focus_areas.join(" ")).toMatch(/posture/);
			expectError(await get(user, `/improvement/fixit-suggestions?media_id=${theirs[0]}`), 404, "NOT_FOUND");
			expectError(await get(other, `/improvement/fixit-suggestions?media_id=${media[0]}`), 404, "NOT_FOUND");
			expectError(await get(user, "/improvement/fixit-suggestions?media_id=nope"), 404, "NOT_FOUND");
		});

		it("malformed query → 422; another user's user_id → 403", async () => {
			const { user } = await withHistory({}, [6]);
			for (const q of ["recent_limit=abc", "recent_limit=0", "recent_limit=999", "with_reverse_analysis=maybe", `goal=${"g".repeat(501)}`, `media_id=${"m".repeat(65)}`, "media_id[$gt]="])
				expectError(await get(user, `/improvement/fixit-suggestions?${q}`), 422, "VALIDATION");
			expectError(await get(user, "/improvement/fixit-suggestions?user_id=someone-else"), 403, "FORBIDDEN");
			expect((await get(user, `/improvement/fixit-suggestions?user_id=${user.id}`)).status).toBe(200);
		});
	});

	describe("reverse goal and reverse analysis", () => {
		it("POST /analysis/reverse-goal: flat + envelope, the goal in the body or the query", async () => {
			const { user, media } = await withHistory();
			await analysed(user, media[4], 6);
			const res = await post(user, "/analysis/reverse-goal", { goal: "I want to look more professional", recent_limit: 3 });
			expect(res.status).toBe(200);
			expect(Object.keys(res.body).sort()).toEqual(["action_plan", "avoid_list", "data", "goal", "recommended_changes", "success"]);
			expectReverse(res.body);
			expect(res.body.success).toBe(true);
			expect(res.body.data).toEqual({ goal: res.body.goal, recommended_changes: res.body.recommended_changes, avoid_list: res.body.avoid_list, action_plan: res.body.action_plan });
			const q = await post(user, "/analysis/reverse-goal?goal=I%20want%20to%20look%20more%20professional&recent_limit=3");
			expect(q.status).toBe(200);
			expect(q.body.recommended_changes).toEqual(res.body.recommended_changes);
		});

		it("GET and POST /analysis/reverse-analysis: the agent output, flat, informed by the recent items", async () => {
			const { user } = await withHistory();
			const g = await get(user, "/analysis/reverse-analysis?goal=look%20more%20confident&recent_limit=2");
			expect(g.status).toBe(200);
			expectReverse(g.body);
			expect(g.body.based_on).toBe(2);
			expect(g.body.matched_goals).toEqual(["confidence"]);
			const p = await post(user, "/analysis/reverse-analysis", { goal: "look more confident", recent_limit: 2 });
			expect(p.body).toEqual(g.body);
			// A user with nothing stored still gets an answer to the goal.
			const fresh = await newUser();
			const none = await get(fresh, "/analysis/reverse-analysis?goal=look%20more%20confident");
			expect([none.status, none.body.based_on]).toEqual([200, 0]);
		});

		it("a missing, short, oversized, non-string or operator goal, a malformed body → 4xx", async () => {
			const u = await newUser();
			for (const body of [{}, { goal: "ab" }, { goal: "x".repeat(501) }, { goal: 42 }, { goal: { $ne: "" } }, { goal: ["look confident"] }, { goal: "look confident", recent_limit: "many" }])
				expectError(await post(u, "/analysis/reverse-goal", body), 422, "VALIDATION");
			expectError(await request("POST", "/analysis/reverse-goal", { token: u.token, raw: "{not json", headers: { "content-type": "application/json" } }), 400);
			expectError(await request("POST", "/analysis/reverse-goal", { token: u.token, raw: "[1]", headers: { "content-type": "application/json" } }), 422);
			expectError(await post(u, "/analysis/reverse-goal", { goal: "look confident", user_id: "someone-else" }), 403, "FORBIDDEN");
			expectError(await get(u, "/analysis/reverse-analysis"), 422, "VALIDATION");
			expectError(await get(u, "/analysis/reverse-analysis?goal=look%20confident&goal=be%20calm"), 422, "VALIDATION");
		});
	});

	describe("vibe analysis", () => {
		it("GET and POST: the agent output, flat; 404 without media", async () => {
			const empty = await newUser();
			expectError(await get(empty, "/analysis/vibe-analysis"), 404, "NOT_FOUND");
			const { user } = await withHistory();
			const res = await get(user, "/analysis/vibe-analysis?recent_limit=3");
			expect(res.status).toBe(200);
			expect(Number.isInteger(res.body.vibe_score)).toBe(true);
			expect(res.body.vibe_score).toBeGreaterThanOrEqual(0);
			expect(res.body.vibe_score).toBeLessThanOrEqual(100);
			expect(res.body.vibe_tags.length).toBeGreaterThanOrEqual(3);
			expect(typeof res.body.personality_summary).toBe("string");
			for (const k of ["strengths", "improvement_areas"]) expect(res.body[k].length).toBeGreaterThan(0);
			expect(res.body.sources).toContain("perceptions");
			expect((await post(user, "/analysis/vibe-analysis?recent_limit=3")).body).toEqual(res.body);
			expectError(await get(user, "/analysis/vibe-analysis?recent_limit=-1"), 422, "VALIDATION");
			// A photo not read yet (the post-ingest job has not stored its perception): 404, not a 422 about internals.
			const fresh = await newUser();
			await upload(fresh);
			const unread = await get(fresh, "/analysis/vibe-analysis");
			expectError(unread, 404, "NOT_FOUND");
			expect(unread.body.error).toMatch(/Perception/);
			const profile = await get(fresh, "/analysis/profile/comprehensive");
			expect(profile.body.profile_components.current_vibe).toBeNull();
			expect(profile.body.profile_components.improvement_suggestions.quick_tips.length).toBeGreaterThanOrEqual(3);
		});
	});

	describe("comprehensive profile", () => {
		it("history, current vibe, suggestions; social position null with a reason when it cannot be read", async () => {
			const { user } = await withHistory();
			const res = await get(user, "/analysis/profile/comprehensive");
			expect(res.status).toBe(200);
			expect(res.body.user_id).toBe(user.id);
			expect(Number.isNaN(Date.parse(res.body.generated_at))).toBe(false);
			const c = res.body.profile_components;
			expect(Object.keys(c).sort()).toEqual(["current_vibe", "history", "improvement_suggestions", "social_position"]);
			expectHistory(c.history);
			expect(c.history.sample_size).toBe(5);
			expect(c.current_vibe.vibe_tags.length).toBeGreaterThanOrEqual(3);
			expect(c.improvement_suggestions.quick_tips.length).toBeGreaterThanOrEqual(3);
			// Not opted in: no social position, and the profile says why.
			expect(c.social_position).toBeNull();
			expect(res.body.warnings.join(" ")).toMatch(/Opt in to public analysis to see your social position/);
		});

		it("an opted-in user gets their social position from agent.social_graph; without that agent it is null with a reason", async () => {
			const { user } = await withHistory({ opt_in_public_analysis: true, public_alias: "pia" }, [6, 7]);
			const res = await get(user, "/analysis/profile/comprehensive");
			expect(res.status).toBe(200);
			expect(res.body.profile_components.social_position).toMatchObject({ user_id: user.id, cold_start: true, percentile: { overall: expect.any(Number) }, similar_users: expect.any(Array) });
			expect(res.body.profile_components.social_position.user_vibe_score).toBeGreaterThanOrEqual(0);
			const graph = node.broker.getLocalService("agent.social_graph")!;
			await node.broker.destroyService(graph);
			try {
				const { user: other } = await withHistory({ opt_in_public_analysis: true }, [6]);
				const without = await get(other, "/analysis/profile/comprehensive");
				expect(without.status).toBe(200);
				expect(without.body.profile_components.social_position).toBeNull();
				expect(without.body.warnings.join(" ")).toMatch(/not available/);
				expect(without.body.profile_components.history.sample_size).toBe(1);
			} finally {
				node.broker.createService(require("../../services/agents/social_graph.service").default);
				await node.broker.waitForServices(["agent.social_graph"]);
			}
		});

		it("a new user: an empty history and null readings, not an error", async () => {
			const u = await newUser();
			const res = await get(u, "/analysis/profile/comprehensive");
			expect(res.status).toBe(200);
			expect(res.body.profile_components).toMatchObject({ current_vibe: null, improvement_suggestions: null, social_position: null, history: { sample_size: 0, trend: "insufficient_data" } });
		});

		it("cached per user, cleaned when their data changes", async () => {
			const { user } = await withHistory({}, [5, 6]);
			const other = await newUser();
			const first = await get(user, "/analysis/profile/comprehensive");
			expect((await get(user, "/analysis/profile/comprehensive")).body.generated_at).toBe(first.body.generated_at);
			// Another user's profile is their own, never the cached one.
			expect((await get(other, "/analysis/profile/comprehensive")).body.user_id).toBe(other.id);
			const id = await upload(user);
			await perceive(user, id, 9, ["warm"]);
			const after = await get(user, "/analysis/profile/comprehensive");
			expect(after.body.generated_at).not.toBe(first.body.generated_at);
			expect(after.body.profile_components.history.sample_size).toBe(3);
		});
	});

	describe("rate classes", () => {
		let limited: TestNode;
		afterAll(async () => {
			await limited?.stop();
		});

		it("reverse-goal and reverse-analysis share the goal class; the profile has its own; 429 with Retry-After", async () => {
			const port = await freePort();
			limited = await startNode({ services: SERVICES, env: { PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, RATE_LIMITS: "auth=1000/60,goal=2/3600,profile=1/3600" } });
			const req = http(limited.url);
			const u = await registerUser(req);
			const token = u.access_token;
			expect((await req("POST", "/analysis/reverse-goal", { token, body: { goal: "look more confident" } })).status).toBe(200);
			expect((await req("GET", "/analysis/reverse-analysis?goal=look%20calm", { token })).status).toBe(200);
			const third = await req("POST", "/analysis/reverse-goal", { token, body: { goal: "look more confident" } });
			expectError(third, 429, "RATE_LIMITED");
			expect(Number(third.headers.get("retry-after"))).toBeGreaterThan(0);
			expect((await req("GET", "/analysis/profile/comprehensive", { token })).status).toBe(200);
			expectError(await req("GET", "/analysis/profile/comprehensive", { token }), 429, "RATE_LIMITED");
			// Other insight routes are in the default class.
			expect((await req("GET", `/history/perception-history`, { token })).status).toBe(200);
		}, 60_000);
	});
});
