import type { Context, Middleware } from "moleculer";
import { ErasureAckMiddleware } from "../../lib/privacy/erasure";
import { RequestScopeMiddleware } from "../../lib/request-scope";
import { freePort, realPhoto, uploadForm } from "../factories/images";
import { registerUser } from "../factories/users";
import { http, startNode, type Http, type TestNode } from "../helpers/node";
import { waitFor } from "../helpers/wait";

/**
 * Stored consents (SPEC §3 /privacy/consents, §5): per purpose, versioned, timestamped, with
 * history; combined with the request's consent for every analysis; withdrawing biometric
 * consent removes face vectors and demographic estimates at once.
 */

/** A real face (the samples collage's standing woman); each call encodes differently, so each upload is a new media. */

const calls: Record<string, number> = {};
const CallCounter = {
	name: "CallCounter",
	localAction(next: (ctx: Context) => Promise<unknown>, action: { name: string }) {
		return (ctx: Context) => {
			calls[action.name] = (calls[action.name] ?? 0) + 1;
			return next(ctx);
		};
	}
} as Middleware;

const PURPOSES = ["face_analysis", "fashion_analysis", "posture_analysis", "bio_analysis", "detailed_analysis", "biometric_analysis", "technical_metadata", "public_sharing"];

interface User {
	id: string;
	token: string;
}

describe("privacy: consents", () => {
	let node: TestNode;
	let request: Http;
	const events: { name: string; params: any }[] = [];

	async function newUser(): Promise<User> {
		const u = await registerUser(request);
		const me = await request("GET", "/auth/me", { token: u.access_token });
		return { id: me.body.id, token: u.access_token };
	}
	const put = (u: User, body: unknown) => request("PUT", "/privacy/consents", { token: u.token, body });
	const get = (u: User) => request("GET", "/privacy/consents", { token: u.token });
	async function upload(u: User): Promise<string> {
		const res = await uploadForm(node.url, u.token, await realPhoto(), { type: "image/jpeg" });
		expect(res.status).toBe(200);
		return res.body.media_id;
	}

	beforeAll(async () => {
		const port = await freePort();
		node = await startNode({
			services: [
				"api", "users", "auth", "consents", "storage", "media", "vision", "analyses", "orchestrator", "analysis", "embeddings",
				"agents/face", "agents/fashion", "agents/posture", "agents/bio", "agents/embedder", "agents/formatter", "agents/social_perception", "jobs"
			],
			env: {
				PORT: String(port),
				PUBLIC_URL: `http://127.0.0.1:${port}`,
				VISION_THREADS: "1",
				AGENT_TIMEOUT_MS: "5000",
				ANALYSIS_IDEMPOTENCY_S: "0",
				RATE_LIMITS: "upload=1000/60,analyze=1000/60,bio=1000/60,auth=1000/60,default=10000/60"
			},
			broker: { middlewares: [RequestScopeMiddleware, ErasureAckMiddleware, CallCounter] }
		});
		node.broker.createService({
			name: "probe",
			events: {
				"consent.changed"(ctx: Context) {
					events.push({ name: "consent.changed", params: ctx.params });
				},
				"consent.biometric_withdrawn"(ctx: Context) {
					events.push({ name: "consent.biometric_withdrawn", params: ctx.params });
				},
				"user.updated"(ctx: Context) {
					events.push({ name: "user.updated", params: ctx.params });
				}
			}
		});
		request = http(node.url);
	}, 60_000);

	afterAll(async () => {
		await node?.stop();
	});

	it("refuses without access: no token → 401 on GET and PUT", async () => {
		expect((await request("GET", "/privacy/consents")).status).toBe(401);
		expect((await request("PUT", "/privacy/consents", { body: { face_analysis: false } })).status).toBe(401);
	});

	it("nothing stored: the SPEC defaults, no timestamps, the current policy version", async () => {
		const u = await newUser();
		const res = await get(u);
		expect(res.status).toBe(200);
		expect(res.body).toMatchObject({
			face_analysis: true, fashion_analysis: true, posture_analysis: true, bio_analysis: true, detailed_analysis: true,
			biometric_analysis: false, technical_metadata: false, public_sharing: false,
			policy_version: "2026-01", current_policy_version: "2026-01", updated_at: null
		});
		for (const p of PURPOSES) expect(res.body.timestamps[p]).toBeNull();
	});

	it("partial updates: each purpose keeps its own timestamp, and every change is kept in the history", async () => {
		const u = await newUser();
		const first = await put(u, { face_analysis: false, policy_version: "2026-01" });
		expect(first.status).toBe(200);
		expect(first.body).toMatchObject({ face_analysis: false, fashion_analysis: true, biometric_analysis: false });
		const faceAt = first.body.timestamps.face_analysis;
		expect(Number.isNaN(Date.parse(faceAt))).toBe(false);
		expect(first.body.timestamps.fashion_analysis).toBeNull();
		await new Promise(r => setTimeout(r, 5));
		const second = await put(u, { fashion_analysis: false, technical_metadata: true });
		expect(second.body).toMatchObject({ face_analysis: false, fashion_analysis: false, technical_metadata: true });
		expect(second.body.timestamps.face_analysis).toBe(faceAt);
		expect(second.body.timestamps.fashion_analysis > faceAt).toBe(true);
		// The same values again change nothing (no new history entry).
		await put(u, { fashion_analysis: false });
		expect(await get(u)).toMatchObject({ status: 200, body: second.body });
		const { history } = await node.broker.call<any, object>("consents.exportUser", { user_id: u.id });
		expect(history.map((h: any) => h.changed)).toEqual([["face_analysis"], ["fashion_analysis", "technical_metadata"]]);
		expect(history[0].purposes).toEqual({ face_analysis: false });
		expect(history.every((h: any) => h.policy_version === "2026-01")).toBe(true);
		await waitFor(() => events.some(e => e.name === "consent.changed" && e.params.user_id === u.id && e.params.changed.includes("technical_metadata")));
	});

	it("refuses malformed input with 422 and stores nothing", async () => {
		const u = await newUser();
		for (const body of [{ face_analysis: "no" }, { biometric_analysis: 1 }, { face_analysis: { $ne: true } }, { policy_version: "1999-01" }, { policy_version: "x".repeat(100) }]) {
			const res = await put(u, body);
			expect([res.status, res.body.error_code]).toEqual([422, "VALIDATION"]);
		}
		expect((await request("PUT", "/privacy/consents", { token: u.token, raw: "[true]", headers: { "content-type": "application/json" } })).status).toBe(422);
		expect((await get(u)).body.updated_at).toBeNull();
	});

	it("public_sharing is the profile's opt-in: setting either one shows in both, with user.updated for the feed", async () => {
		const u = await newUser();
		const set = await put(u, { public_sharing: true });
		expect(set.body.public_sharing).toBe(true);
		expect((await request("GET", "/auth/me", { token: u.token })).body.opt_in_public_analysis).toBe(true);
		await waitFor(() => events.some(e => e.name === "user.updated" && e.params.user_id === u.id && e.params.changed.includes("opt_in_public_analysis")));
		const at = set.body.timestamps.public_sharing;
		expect(typeof at).toBe("string");
		await new Promise(r => setTimeout(r, 5));
		expect((await request("PATCH", "/auth/me", { token: u.token, body: { opt_in_public_analysis: false } })).status).toBe(200);
		await waitFor(async () => (await get(u)).body.timestamps.public_sharing > at);
		expect((await get(u)).body.public_sharing).toBe(false);
	});

	describe("analyses use the stored consents", () => {
		it("stored biometric yes + no flag in the request → biometric estimates", async () => {
			const u = await newUser();
			const media_id = await upload(u);
			expect((await put(u, { biometric_analysis: true })).status).toBe(200);
			const res = await request("POST", "/analysis/analyze", { token: u.token, body: { media_id } });
			expect(res.status).toBe(200);
			expect(typeof res.body.detailed_analysis.face.faces[0].age).toBe("number");
		}, 60_000);

		it("stored face_analysis false + request true → no face section, and agent.face is never called", async () => {
			const u = await newUser();
			const media_id = await upload(u);
			await put(u, { face_analysis: false });
			const before = calls["agent.face.run"] ?? 0;
			const res = await request("POST", "/analysis/analyze", { token: u.token, body: { media_id, user_consent: { face_analysis: true, biometric_analysis: true } } });
			expect(res.status).toBe(200);
			expect(res.body.detailed_analysis.face).toBeUndefined();
			expect(res.body.processing_metadata.agents_run).not.toContain("face");
			expect(calls["agent.face.run"] ?? 0).toBe(before);
		}, 60_000);

		it("the post-ingest perception honours stored consents: face analysis withdrawn → no faces read", async () => {
			const perception = async (u: User, media_id: string) => {
				for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise(r => setTimeout(r, 200))) {
					const res = await request("GET", `/media/media/${media_id}/perception`, { token: u.token });
					if (res.status === 200) return res.body;
				}
				throw new Error("no perception stored");
			};
			const withdrawn = await newUser();
			await put(withdrawn, { face_analysis: false });
			const without = await perception(withdrawn, await upload(withdrawn));
			expect(without.faces).toEqual([]);
			const other = await newUser();
			const withFaces = await perception(other, await upload(other));
			expect(withFaces.faces.length).toBeGreaterThan(0);
		}, 60_000);

		it("the bio endpoint: stored bio_analysis false → 403 CONSENT_REQUIRED and agent.bio is never called", async () => {
			const u = await newUser();
			const text = "Weekend climber, amateur baker and a keen reader of history books.";
			expect((await request("POST", "/analysis/analyze/bio", { token: u.token, body: { text } })).status).toBe(200);
			await put(u, { bio_analysis: false });
			const before = calls["agent.bio.run"] ?? 0;
			const res = await request("POST", "/analysis/analyze/bio", { token: u.token, body: { text } });
			expect([res.status, res.body.error_code]).toEqual([403, "CONSENT_REQUIRED"]);
			expect(calls["agent.bio.run"] ?? 0).toBe(before);
		});

		it("nothing stored → the defaults (face yes, biometric no)", async () => {
			const u = await newUser();
			const media_id = await upload(u);
			const res = await request("POST", "/analysis/analyze", { token: u.token, body: { media_id } });
			expect(res.status).toBe(200);
			expect(res.body.detailed_analysis.face.num_faces).toBeGreaterThan(0);
			expect(res.body.detailed_analysis.face.faces[0].age).toBeNull();
		}, 60_000);

		it("a queued analysis asked with biometric consent runs without it once consent is withdrawn", async () => {
			const u = await newUser();
			const media_id = await upload(u);
			await node.broker.call("jobs.pause", { queue: "analysis" });
			let job: any;
			try {
				job = await request("POST", "/analysis/analyze?async=true", { token: u.token, body: { media_id, user_consent: { biometric_analysis: true } } });
				expect(job.status).toBe(202);
				expect((await put(u, { biometric_analysis: false })).status).toBe(200);
				await waitFor(async () => (await node.broker.call<any, object>("analyses.get", { id: job.body.analysis_id })).request.user_consent.biometric_analysis === false);
			} finally {
				await node.broker.call("jobs.resume", { queue: "analysis" });
			}
			const done = await waitFor(async () => {
				const s = await request("GET", `/analysis/jobs/${job.body.job_id}`, { token: u.token });
				return s.body.status === "completed" ? s.body : null;
			}, 30_000, 100);
			expect(done.result.detailed_analysis.face.faces[0].age).toBeNull();
			expect((await node.broker.call<any, object>("embeddings.listForUser", { user_id: u.id, kind: "face" })).items).toEqual([]);
		}, 60_000);

		it("withdrawing biometric consent removes face vectors and demographic estimates at once; other users keep theirs", async () => {
			const [u, other] = await Promise.all([newUser(), newUser()]);
			const run = async (x: User) => {
				await put(x, { biometric_analysis: true });
				const res = await request("POST", "/analysis/analyze", { token: x.token, body: { media_id: await upload(x) } });
				expect(res.status).toBe(200);
				return res.body.analysis_id as string;
			};
			const [mine, theirs] = [await run(u), await run(other)];
			const faceVectors = async (x: User) => (await node.broker.call<any, object>("embeddings.listForUser", { user_id: x.id, kind: "face" })).items.length;
			expect(await faceVectors(u)).toBeGreaterThan(0);
			const hasEstimates = (doc: any) => /"(age|gender)":(?!null)/.test(JSON.stringify([doc.result, doc.checkpoints]));
			expect(hasEstimates(await node.broker.call("analyses.get", { id: mine }))).toBe(true);

			const res = await put(u, { biometric_analysis: false });
			expect([res.status, res.body.biometric_analysis]).toEqual([200, false]);
			await waitFor(() => events.some(e => e.name === "consent.biometric_withdrawn" && e.params.user_id === u.id));
			await waitFor(async () => (await faceVectors(u)) === 0 && !hasEstimates(await node.broker.call("analyses.get", { id: mine })));
			const doc = await node.broker.call<any, object>("analyses.get", { id: mine });
			expect(doc.result.detailed_analysis.face.faces[0]).toMatchObject({ age: null, age_range: null, gender: null, gender_confidence: null });
			expect(doc.checkpoints.face.output.faces[0].age).toBeNull();
			expect(JSON.stringify(doc)).not.toContain("descriptor");
			// The analysis stays readable to its owner; the other user's data is untouched.
			expect((await request("GET", `/analysis/${mine}`, { token: u.token })).status).toBe(200);
			expect(await faceVectors(other)).toBeGreaterThan(0);
			expect(hasEstimates(await node.broker.call("analyses.get", { id: theirs }))).toBe(true);
			// Later analyses of this user run without biometrics even when the request asks (the stored "no" wins).
			const again = await request("POST", "/analysis/analyze", { token: u.token, body: { media_id: await upload(u), user_consent: { biometric_analysis: true } } });
			expect(again.body.detailed_analysis.face.faces[0].age).toBeNull();
		}, 120_000);
	});
});
