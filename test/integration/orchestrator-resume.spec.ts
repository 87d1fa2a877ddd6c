import { PIPELINE_VERSIONS } from "../../agents/workflow/pipelines";
import { realPhoto, uploadForm } from "../factories/images";
import { registerUser } from "../factories/users";
import { allServices, http, startNode, type TestNode } from "../helpers/node";

/**
 * Resuming an analysis whose earlier attempt failed at a required node (the vision pass, e.g. on a
 * worker that was stopping): the nodes that attempt recorded as "skipped: no input: vision" are
 * not final — they run again once the vision pass succeeds, so the retried job yields a full
 * report, not one "written from the scores only". A skip for want of a request input (no bio
 * text) stays final. Found by test/cluster/rolling-restart.spec.ts.
 */
describe("orchestrator resume after a failed required node", () => {
	let node: TestNode;
	beforeAll(async () => {
		node = await startNode({ services: allServices(), env: { VISION_THREADS: "1", RATE_LIMITS: "default=100000/60,upload=1000/60,analyze=1000/60,auth=1000/60" } });
	}, 60_000);
	afterAll(() => node?.stop());

	it("runs the nodes skipped for want of the failed node's output again; keeps a skip for a missing request input", async () => {
		const request = http(node.url);
		const u = await registerUser(request);
		const user_id = (await request("GET", "/auth/me", { token: u.access_token })).body.id;
		const up = await uploadForm(node.url, u.access_token, await realPhoto());
		expect(up.status).toBe(200);
		const rec = await node.broker.call<any, object>("analyses.create", { user_id, media_id: up.body.media_id, pipeline: "core", graph_version: PIPELINE_VERSIONS.core, request: {} });
		// What a first attempt whose vision pass failed leaves on the record.
		const tag = { node_id: "gone-worker", run: 1, runs: 1 };
		const records: Record<string, object> = {
			bio: { status: "skipped", reason: "no input: bio_text", attempts: 0, ms: 0, ...tag },
			vision: { status: "failed", reason: "Terminating worker thread", attempts: 2, ms: 40, ...tag },
			face: { status: "skipped", reason: "no input: vision", attempts: 0, ms: 0, ...tag },
			fashion: { status: "skipped", reason: "no input: vision", attempts: 0, ms: 0, ...tag },
			posture: { status: "skipped", reason: "no input: vision", attempts: 0, ms: 0, ...tag },
			embedder: { status: "skipped", reason: "no input: vision", attempts: 0, ms: 0, ...tag },
			aggregator: { status: "skipped", reason: "no input: vision", attempts: 0, ms: 0, ...tag },
			formatter: { status: "skipped", reason: "no input: aggregate", attempts: 0, ms: 0, ...tag }
		};
		for (const [id, record] of Object.entries(records)) await node.broker.call("analyses.checkpoint", { id: rec._id, node: id, record, progress: 0.1 });

		const out = await node.broker.call<any, object>("orchestrator.run", { analysis_id: rec._id, attempt: 2 });
		expect(out.result.warnings).toEqual([]);
		expect(out.result.detailed_analysis.face).toEqual(expect.any(Object));
		expect(out.result.processing_metadata.agents_failed).toEqual([]);
		const doc = await node.broker.call<any, object>("analyses.get", { id: rec._id });
		for (const id of ["vision", "face", "fashion", "posture", "aggregator", "formatter"]) expect({ id, status: doc.nodes[id].status, run: doc.nodes[id].run }).toEqual({ id, status: "done", run: 2 });
		// The bio skip did not depend on a node: resumed as it was, not run again.
		expect(doc.nodes.bio).toMatchObject({ status: "skipped", node_id: "gone-worker", runs: 1 });
		expect(out.result.processing_metadata.resumed_nodes).toEqual(["bio"]);
	}, 90_000);
});
