import type { Context, ServiceSchema } from "moleculer";
import { freePort, realPhoto, uploadForm, video } from "../factories/images";
import { registerUser } from "../factories/users";
import { http, startNode, type Http, type TestNode } from "../helpers/node";
import { waitFor } from "../helpers/wait";

/**
 * The life of an analysis beyond the happy path, on one embedded node with the real services:
 * a cancelled job marks its analysis cancelled and its run stops at the next node boundary;
 * identical requests arriving together make one analysis (the idempotency lock); a video is
 * analysed through its best keyframe and lists the others in processing_metadata.
 */


interface User {
	id: string;
	token: string;
}

let node: TestNode;
let request: Http;
let alice: User;
const progress: { analysis_id: string; node: string; status: string }[] = [];
const completed: string[] = [];

async function newUser(): Promise<User> {
	const u = await registerUser(request);
	const me = await request("GET", "/auth/me", { token: u.access_token });
	return { id: me.body.id, token: u.access_token };
}

async function upload(user: User, file?: Buffer, o: { filename?: string; type?: string } = {}): Promise<string> {
	const res = await uploadForm(node.url, user.token, file ?? (await realPhoto(296)), { type: "image/jpeg", ...o });
	expect(res.status).toBe(200);
	return res.body.media_id;
}

const stored = (id: string, user = alice) => request("GET", `/analysis/${id}`, { token: user.token });
const jobStatus = (id: string, user = alice) => request("GET", `/analysis/jobs/${id}`, { token: user.token });

beforeAll(async () => {
	const port = await freePort();
	node = await startNode({
		services: [
			"api", "users", "auth", "storage", "media", "vision", "analyses", "orchestrator", "analysis", "embeddings",
			"agents/face", "agents/fashion", "agents/posture", "agents/bio", "agents/embedder", "agents/social_perception",
			"agents/formatter", "jobs"
		],
		env: {
			PORT: String(port),
			PUBLIC_URL: `http://127.0.0.1:${port}`,
			VISION_THREADS: "1",
			VIDEO_KEYFRAMES: "3",
			JOB_CONCURRENCY: "1",
			JOB_BACKOFF_MS: "10",
			AGENT_TIMEOUT_MS: "10000",
			RATE_LIMITS: "default=100000/60,upload=1000/60,analyze=1000/60,enhanced=1000/60,auth=1000/60"
		}
	});
	node.broker.createService({
		name: "lifecycle-probe",
		events: {
			"analysis.progress"(ctx: Context<{ analysis_id: string; node: string; status: string }>) {
				progress.push(ctx.params);
			},
			"analysis.completed"(ctx: Context<{ analysis_id: string }>) {
				completed.push(ctx.params.analysis_id);
			}
		}
	});
	request = http(node.url);
	alice = await newUser();
}, 60_000);

afterAll(async () => {
	await node?.stop();
});

describe("cancelling an analysis job", () => {
	/** agent.fashion held at a gate the test opens: a run stays between two node boundaries. */
	async function withGatedFashion(fn: (gate: { entered: Promise<void>; open: () => void; calls: () => number }) => Promise<void>) {
		let open!: () => void;
		let entered!: () => void;
		const opened = new Promise<void>(r => (open = r));
		const enteredP = new Promise<void>(r => (entered = r));
		let calls = 0;
		const fake: ServiceSchema = {
			name: "agent.fashion",
			actions: {
				run: {
					visibility: "public",
					async handler(_ctx: Context) {
						calls++;
						entered();
						await opened;
						return { style: "casual", outfit_score: 6, items: [], colors: [], tips: [] };
					}
				}
			}
		};
		const real = node.broker.getLocalService("agent.fashion")!;
		await node.broker.destroyService(real);
		const svc = node.broker.createService(fake);
		await node.broker.waitForServices(["agent.fashion"]);
		try {
			await fn({ entered: enteredP, open, calls: () => calls });
		} finally {
			open();
			await node.broker.destroyService(svc);
			node.broker.createService(require("../../services/agents/fashion.service").default);
			await node.broker.waitForServices(["agent.fashion"]);
		}
	}

	it("marks a running job's analysis cancelled, stops its run at the next node boundary, and a queued one never runs", async () => {
		await withGatedFashion(async gate => {
			const [m1, m2] = [await upload(alice), await upload(alice)];
			const first = await request("POST", "/analysis/analyze?async=true", { token: alice.token, body: { media_id: m1 } });
			expect(first.status).toBe(202);
			await gate.entered;
			// JOB_CONCURRENCY=1: the second waits behind the first.
			const second = await request("POST", "/analysis/analyze?async=true", { token: alice.token, body: { media_id: m2 } });
			expect(second.status).toBe(202);
			expect((await stored(first.body.analysis_id)).body.status).toBe("running");
			expect((await stored(second.body.analysis_id)).body.status).toBe("queued");

			const c2 = await request("POST", `/analysis/jobs/${second.body.job_id}/cancel`, { token: alice.token });
			expect(c2.body).toEqual({ job_id: second.body.job_id, status: "cancelled" });
			const c1 = await request("POST", `/analysis/jobs/${first.body.job_id}/cancel`, { token: alice.token });
			expect(c1.body).toEqual({ job_id: first.body.job_id, status: "cancelled" });
			expect((await stored(first.body.analysis_id)).body).toMatchObject({ status: "cancelled", result: null, error: { type: "CANCELLED" } });
			expect((await stored(second.body.analysis_id)).body).toMatchObject({ status: "cancelled", result: null });

			// The fashion node finishes after the cancel: that is the boundary, nothing after it starts.
			const of = (id: string) => progress.filter(p => p.analysis_id === id).map(p => `${p.node}:${p.status}`);
			expect(of(first.body.analysis_id)).not.toContain("fashion:done");
			gate.open();
			await waitFor(() => of(first.body.analysis_id).includes("fashion:done"), 10_000);
			await new Promise(r => setTimeout(r, 500));
			expect(of(first.body.analysis_id).filter(e => /^(aggregator|formatter):/.test(e))).toEqual([]);
			expect(completed).not.toContain(first.body.analysis_id);
			const after = (await stored(first.body.analysis_id)).body;
			expect(after.status).toBe("cancelled");
			expect(after.result).toBeNull();
			// The cancelled record is not written to any more (not even the boundary node's checkpoint).
			expect(after.nodes.fashion).toBeUndefined();
			expect(after.nodes.aggregator).toBeUndefined();
			expect(after.nodes.formatter).toBeUndefined();
			expect((await jobStatus(first.body.job_id)).body.status).toBe("cancelled");

			// The queued one never ran: no node of it, and the fake was entered by the first run only.
			const never = (await stored(second.body.analysis_id)).body;
			expect(never.status).toBe("cancelled");
			expect(never.nodes).toEqual({});
			expect(gate.calls()).toBe(1);
			expect((await jobStatus(second.body.job_id)).body.status).toBe("cancelled");
		});
	}, 60_000);
});

describe("identical requests arriving together (the idempotency lock)", () => {
	it("async: two identical requests at the same instant answer one job and one analysis", async () => {
		const media_id = await upload(alice);
		const body = { media_id, bio_text: "Weekend climber and coffee nerd who loves long walks." };
		const [x, y, z] = await Promise.all([0, 1, 2].map(() => request("POST", "/analysis/analyze?async=true", { token: alice.token, body })));
		for (const r of [x, y, z]) expect(r.status).toBe(202);
		expect(new Set([x, y, z].map(r => r.body.job_id)).size).toBe(1);
		expect(new Set([x, y, z].map(r => r.body.analysis_id)).size).toBe(1);
		const done = await waitFor(async () => {
			const r = await jobStatus(x.body.job_id);
			return r.body.status === "completed" ? r.body : null;
		}, 30_000);
		expect(done.result.analysis_id).toBe(x.body.analysis_id);
		const listed = await node.broker.call<{ items: { media_id: string }[] }, object>("analyses.listForUser", { user_id: alice.id, limit: 100 });
		expect(listed.items.filter(d => d.media_id === media_id)).toHaveLength(1);
	}, 60_000);

	it("sync: two identical requests at the same instant run once and answer the same report", async () => {
		const media_id = await upload(alice);
		const [x, y] = await Promise.all([0, 1].map(() => request("POST", "/analysis/analyze", { token: alice.token, body: { media_id } })));
		expect([x.status, y.status]).toEqual([200, 200]);
		expect(y.body.analysis_id).toBe(x.body.analysis_id);
		expect(y.body).toEqual(x.body);
		const history = await request("GET", `/analysis/${media_id}/history`, { token: alice.token });
		expect(history.body.analysis_count).toBe(1);
		// A different request (another consent) is not held back by the lock and makes its own analysis.
		const other = await request("POST", "/analysis/analyze", { token: alice.token, body: { media_id, user_consent: { posture_analysis: false } } });
		expect(other.status).toBe(200);
		expect(other.body.analysis_id).not.toBe(x.body.analysis_id);
	}, 60_000);
});

describe("video", () => {
	it("is analysed through its best keyframe; processing_metadata lists it and the other keyframes by index and time", async () => {
		const mp4 = video({ durationS: 2 });
		const up = await uploadForm(node.url, alice.token, mp4, { filename: "clip.mp4", type: "video/mp4" });
		expect(up.status).toBe(200);
		expect(up.body.keyframes).toHaveLength(3);
		const bestIndex = up.body.keyframes.findIndex((k: { best: boolean }) => k.best);
		const res = await request("POST", "/analysis/analyze", { token: alice.token, body: { media_id: up.body.media_id } });
		expect(res.status).toBe(200);
		const kf = res.body.processing_metadata.keyframes;
		expect(kf.analysed).toEqual({ index: bestIndex, time_s: up.body.keyframes[bestIndex].time_s });
		expect(kf.others).toEqual(
			up.body.keyframes.map((k: { time_s: number }, index: number) => ({ index, time_s: k.time_s })).filter((k: { index: number }) => k.index !== bestIndex)
		);
		// No URLs in the report: keyframes are named by index and time only.
		expect(JSON.stringify(kf)).not.toMatch(/https?:/);

		// A photo's report has no keyframe listing.
		const photo = await request("POST", "/analysis/analyze", { token: alice.token, body: { media_id: await upload(alice) } });
		expect(photo.status).toBe(200);
		expect(photo.body.processing_metadata.keyframes).toBeUndefined();
	}, 60_000);
});
