import { executeGraph, type ExecutorPorts, type NodeRecord } from "../../agents/workflow/execute";
import { compileGraph, type GraphDef, type NodeDef } from "../../agents/workflow/graph";
import { videoKeyframes } from "../../agents/workflow/report";
import { MemoryKeyLock } from "../../lib/jobs/lock";

/** The executor's stop at a node boundary and its per-node tags; the video keyframe listing; the in-process idempotency lock. */

const node = (id: string, over: Partial<NodeDef> = {}): NodeDef => ({
	id,
	action: `agent.${id}.run`,
	reads: [],
	writes: id,
	input: () => ({}),
	required: false,
	timeoutMs: 1000,
	retries: 0,
	...over
});
const graph = (nodes: NodeDef[], edges: [string, string][]): GraphDef => ({ name: "toy", version: "1", inputs: [], nodes, edges });
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

describe("executeGraph: stopping and tagging", () => {
	// a → (b ∥ c) → d
	const g = compileGraph(graph([node("a"), node("b"), node("c"), node("d")], [["a", "b"], ["a", "c"], ["b", "d"], ["c", "d"]]));

	it("starts no node after `stopped()` turns true; nodes already running finish; the run says it stopped", async () => {
		let stop = false;
		const invoked: string[] = [];
		const checkpoints: string[] = [];
		const ports: ExecutorPorts = {
			consented: () => true,
			invoke: async n => {
				invoked.push(n.id);
				if (n.id === "b") stop = true; // cancelled while b and c run
				await sleep(n.id === "c" ? 30 : 5);
				return { ok: n.id };
			},
			checkpoint: n => void checkpoints.push(n),
			stopped: () => stop
		};
		const run = await executeGraph(g, {}, ports);
		expect(invoked.sort()).toEqual(["a", "b", "c"]);
		expect(checkpoints.sort()).toEqual(["a", "b", "c"]);
		expect(run.nodes.d).toBeUndefined();
		expect(run.stopped).toBe(true);
		expect(run.failed).toBeNull();
	});

	it("does not call a run stopped when every node had settled", async () => {
		let stop = false;
		const run = await executeGraph(g, {}, {
			consented: () => true,
			invoke: async n => {
				if (n.id === "d") stop = true;
				return {};
			},
			stopped: () => stop
		});
		expect(Object.keys(run.nodes).sort()).toEqual(["a", "b", "c", "d"]);
		expect(run.stopped).toBeUndefined();
	});

	it("tags every record it makes (ran or skipped), not the resumed ones", async () => {
		const gs = compileGraph(graph([node("a"), node("b", { consent: "x" }), node("c")], [["a", "b"], ["a", "c"]]));
		const resumed: NodeRecord = { status: "done", attempts: 1, ms: 3, node_id: "old-node", run: 1, runs: 1 };
		const saved: Record<string, NodeRecord> = {};
		const run = await executeGraph(gs, {}, {
			consented: p => p !== "x",
			invoke: async () => ({}),
			resume: { a: { record: resumed, output: {} } },
			tag: id => ({ node_id: "this-node", run: 2, runs: id === "c" ? 2 : 1 }),
			checkpoint: (id, record) => void (saved[id] = record)
		});
		expect(run.nodes.a).toEqual({ ...resumed, resumed: true });
		expect(run.nodes.b).toMatchObject({ status: "skipped", node_id: "this-node", run: 2, runs: 1 });
		expect(run.nodes.c).toMatchObject({ status: "done", node_id: "this-node", run: 2, runs: 2 });
		expect(saved.c).toEqual(run.nodes.c);
		expect(saved.a).toBeUndefined();
	});
});

describe("videoKeyframes", () => {
	it("lists the analysed (best) keyframe and the others by index and time; null for an image", () => {
		const media = {
			media_type: "video",
			keyframes: [
				{ time_s: 0.1, best: false, url: "https://x/kf0" },
				{ time_s: 0.9, best: true, url: "https://x/kf1" },
				{ time_s: 1.7, best: false, url: "https://x/kf2" }
			]
		};
		expect(videoKeyframes(media)).toEqual({ analysed: { index: 1, time_s: 0.9 }, others: [{ index: 0, time_s: 0.1 }, { index: 2, time_s: 1.7 }] });
		expect(videoKeyframes({ media_type: "image", keyframes: [] })).toBeNull();
		expect(videoKeyframes(null)).toBeNull();
	});
});

describe("MemoryKeyLock", () => {
	it("runs holders of one key one after the other, other keys at once, and goes on after a holder throws", async () => {
		const lock = new MemoryKeyLock();
		const log: string[] = [];
		const hold = (key: string, name: string, ms: number, fail = false) =>
			lock.run(key, async () => {
				log.push(`${name}+`);
				await sleep(ms);
				log.push(`${name}-`);
				if (fail) throw new Error(name);
				return name;
			});
		const results = await Promise.allSettled([hold("k", "a", 30, true), hold("k", "b", 5), hold("other", "c", 5)]);
		expect(results.map(r => r.status)).toEqual(["rejected", "fulfilled", "fulfilled"]);
		expect(log.indexOf("b+")).toBeGreaterThan(log.indexOf("a-"));
		expect(log.indexOf("c+")).toBeLessThan(log.indexOf("a-"));
	});

	it("stops waiting after waitMs (never a deadlock)", async () => {
		const lock = new MemoryKeyLock();
		let release!: () => void;
		void lock.run("k", () => new Promise<void>(r => (release = r)));
		const started = Date.now();
		expect(await lock.run("k", async () => "ran", { waitMs: 50 })).toBe("ran");
		expect(Date.now() - started).toBeLessThan(1000);
		release();
	});
});
