import path from "node:path";
import type { Context } from "moleculer";
import sharp from "sharp";
import { HUMAN_DIR } from "../../agents/providers/vision/human";
import { RetryableError } from "../../lib/errors";
import { http, startNode, type Http, type TestNode } from "../helpers/node";
import { registerUser } from "../factories/users";
import { freePort, uploadForm } from "../factories/images";

/**
 * Fault injection over the broker's circuit breaker: an agent that keeps failing with a
 * retryable error trips the breaker (CB_MIN_REQUESTS=2, CB_THRESHOLD=0.5), and from then on
 * analyses degrade at once — a partial report with the agent's warning — instead of calling it
 * (and waiting on it) again. Real HTTP, real photos, the real vision pass (dist/).
 */

const SAMPLES = path.join(HUMAN_DIR, "assets", "samples.jpg");
/** How long the failing fashion agent takes before it throws. */
const FAIL_AFTER_MS = 800;

describe("circuit breaker: a failing agent degrades the analysis instead of being waited on", () => {
	let node: TestNode;
	let request: Http;
	let token: string;
	let fashionCalls = 0;
	const opened: { action: string }[] = [];

	beforeAll(async () => {
		const port = await freePort();
		node = await startNode({
			services: [
				"api", "users", "auth", "storage", "media", "vision", "analyses", "orchestrator", "analysis", "embeddings",
				"agents/face", "agents/posture", "agents/bio", "agents/embedder", "agents/formatter"
			],
			env: {
				PORT: String(port),
				PUBLIC_URL: `http://127.0.0.1:${port}`,
				VISION_THREADS: "1",
				AGENT_TIMEOUT_MS: "5000",
				RATE_LIMITS: "upload=1000/60,analyze=1000/60,auth=1000/60",
				CIRCUIT_BREAKER: "true",
				CB_MIN_REQUESTS: "2",
				CB_THRESHOLD: "0.5",
				CB_WINDOW_S: "60",
				CB_HALF_OPEN_MS: "60000"
			}
		});
		// The fake fashion agent: every call fails, retryably, after a while.
		node.broker.createService({
			name: "agent.fashion",
			actions: {
				run: {
					visibility: "public",
					async handler() {
						fashionCalls++;
						await new Promise(r => setTimeout(r, FAIL_AFTER_MS));
						throw new RetryableError("AGENT_FAILED", "fashion backend overloaded", { agent: "fashion" });
					}
				}
			}
		});
		node.broker.createService({
			name: "cb-probe",
			events: {
				"$circuit-breaker.opened"(ctx: Context<{ action: string }>) {
					opened.push({ action: ctx.params.action });
				}
			}
		});
		await node.broker.waitForServices(["agent.fashion", "cb-probe"]);
		request = http(node.url);
		token = (await registerUser(request)).access_token;
	}, 60_000);

	afterAll(async () => {
		await node?.stop();
	});

	it("opens after the first failures; later analyses complete at once with a partial report, and the agent is not called any more", async () => {
		const photo = await sharp(SAMPLES).extract({ left: 641, top: 0, width: 148, height: 159 }).resize({ width: 444 }).jpeg({ quality: 90 }).toBuffer();
		const up = await uploadForm(node.url, token, photo, { type: "image/jpeg" });
		expect(up.status).toBe(200);
		const media_id = up.body.media_id;

		const runs: { ms: number; body: any; callsAfter: number }[] = [];
		for (let i = 0; i < 4; i++) {
			const started = Date.now();
			const res = await request("POST", "/analysis/analyze", { token, body: { media_id } });
			expect(res.status).toBe(200);
			runs.push({ ms: Date.now() - started, body: res.body, callsAfter: fashionCalls });
		}

		// Every run is a report (never a 500): partial, fashion failed, the others there, a fashion warning.
		for (const { body } of runs) {
			expect(typeof body.overall_score).toBe("number");
			expect(body.detailed_analysis.fashion).toBeUndefined();
			expect(body.detailed_analysis.face).toBeDefined();
			expect(body.processing_metadata.agents_failed.map((f: any) => f.agent)).toEqual(["fashion"]);
			expect(body.warnings.join(" ")).toMatch(/fashion could not be completed/);
		}
		// A partial report is never reused by idempotency: each request was a run of its own.
		expect(new Set(runs.map(r => r.body.analysis_id)).size).toBe(4);

		// The first run called the agent (first attempt and its retry) and opened the circuit.
		expect(runs[0].callsAfter).toBe(2);
		expect(runs[0].body.processing_metadata.agents_failed[0]).toMatchObject({ reason: "fashion backend overloaded", attempts: 2 });
		expect(runs[0].body.processing_metadata.timings.fashion).toBeGreaterThanOrEqual(2 * FAIL_AFTER_MS);
		expect(opened.map(o => o.action)).toContain("agent.fashion.run");

		// From then on the agent is not called at all, and the fashion node fails at once.
		for (const run of runs.slice(1)) {
			expect(run.callsAfter).toBe(2);
			const failed = run.body.processing_metadata.agents_failed[0];
			expect(failed.reason).toMatch(/not available/i);
			expect(run.body.processing_metadata.timings.fashion).toBeLessThan(FAIL_AFTER_MS / 4);
			expect(run.ms).toBeLessThan(runs[0].ms);
		}
	}, 60_000);
});
