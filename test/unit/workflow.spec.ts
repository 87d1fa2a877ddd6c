import { compileGraph, GraphError, type GraphDef, type NodeDef } from "../../agents/workflow/graph";
import { executeGraph, type ExecutorPorts, type WorkflowEvent } from "../../agents/workflow/execute";

const node = (id: string, over: Partial<NodeDef> = {}): NodeDef => ({
	id,
	action: `agent.${id}.run`,
	reads: [],
	writes: id,
	input: s => ({ from: id, state: Object.keys(s) }),
	required: false,
	timeoutMs: 1000,
	retries: 0,
	...over
});

const graph = (nodes: NodeDef[], edges: [string, string][], extra: Partial<GraphDef> = {}): GraphDef => ({ name: "toy", version: "1", inputs: ["media_id"], nodes, edges, ...extra });

function ports(impl: Record<string, (params: unknown, attempt: number) => Promise<unknown>>, over: Partial<ExecutorPorts> = {}) {
	const events: WorkflowEvent[] = [];
	const calls: Record<string, number> = {};
	const p: ExecutorPorts = {
		invoke: async n => {
			calls[n.id] = (calls[n.id] ?? 0) + 1;
			return impl[n.id](undefined, calls[n.id]);
		},
		consented: () => true,
		onEvent: e => events.push(e),
		...over
	};
	return { p, events, calls };
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

describe("compileGraph", () => {
	it("orders a valid graph", () => {
		const g = compileGraph(graph([node("a"), node("b", { reads: ["a"] }), node("c", { reads: ["a", "b"] })], [["a", "b"], ["b", "c"]]));
		expect(g.order).toEqual(["a", "b", "c"]);
	});

	it.each([
		["a cycle", graph([node("a"), node("b")], [["a", "b"], ["b", "a"]]), /cycle/],
		["an unknown node in an edge", graph([node("a")], [["a", "zzz"]]), /unknown node "zzz"/],
		["a duplicate id", graph([node("a"), node("a")], []), /duplicate node "a"/],
		["a read no earlier node writes", graph([node("a", { reads: ["ghost"] })], []), /reads "ghost"/],
		["a read written only by a later node", graph([node("a", { reads: ["b"] }), node("b")], [["a", "b"]]), /reads "b"/],
		["concurrent writers without a reducer", graph([node("a", { writes: "x" }), node("b", { writes: "x" })], []), /no reducer/]
	])("rejects %s", (_, g, msg) => {
		expect(() => compileGraph(g)).toThrow(GraphError);
		expect(() => compileGraph(g)).toThrow(msg);
	});

	it("rejects an unknown agent when it knows the actions", () => {
		expect(() => compileGraph(graph([node("a")], []), a => a !== "agent.a.run")).toThrow(/unknown agent "agent.a.run"/);
	});

	it("accepts concurrent writers that declare a reducer", () => {
		expect(() => compileGraph(graph([node("a", { writes: "x" }), node("b", { writes: "x" })], [], { reducers: { x: (a, b) => [a, b] } }))).not.toThrow();
	});
});

describe("executeGraph", () => {
	it("runs independent nodes in parallel: both start before either finishes", async () => {
		const g = compileGraph(graph([node("a"), node("b"), node("c", { reads: ["a", "b"] })], [["a", "c"], ["b", "c"]]));
		const { p, events } = ports({ a: () => sleep(100).then(() => 1), b: () => sleep(100).then(() => 2), c: async () => 3 });
		const res = await executeGraph(g, { media_id: "m" }, p);
		const order = events.map(e => `${e.type === "node.started" ? "start" : "end"}:${e.node}`);
		expect(order.slice(0, 2).sort()).toEqual(["start:a", "start:b"]);
		expect(order.indexOf("start:c")).toBeGreaterThan(Math.max(order.indexOf("end:a"), order.indexOf("end:b")));
		expect(res.state).toMatchObject({ a: 1, b: 2, c: 3 });
		expect(res.failed).toBeNull();
	});

	it("merges concurrent writes through the reducer", async () => {
		const g = compileGraph(graph([node("a", { writes: "tips" }), node("b", { writes: "tips" })], [], { reducers: { tips: (x, y) => [...(x as string[]), ...(y as string[])] } }));
		const { p } = ports({ a: async () => ["sit up"], b: async () => ["smile"] });
		const res = await executeGraph(g, {}, p);
		expect((res.state.tips as string[]).sort()).toEqual(["sit up", "smile"]);
	});

	it("times a node out and turns an optional failure into a warning and a partial result", async () => {
		const g = compileGraph(graph([node("slow", { timeoutMs: 50 }), node("ok")], []));
		const { p } = ports({ slow: () => sleep(1000), ok: async () => "fine" });
		const res = await executeGraph(g, {}, p);
		expect(res.nodes.slow).toMatchObject({ status: "failed" });
		expect(res.nodes.slow.reason).toMatch(/timed out after 50 ms/);
		expect(res.warnings[0]).toMatch(/^slow could not be completed/);
		expect(res.state.ok).toBe("fine");
		expect(res.failed).toBeNull();
	});

	it("retries a retryable failure, then succeeds", async () => {
		const g = compileGraph(graph([node("flaky", { retries: 2 })], []));
		const { p, calls } = ports({
			flaky: async (_, attempt) => {
				if (attempt < 3) throw Object.assign(new Error("busy"), { retryable: true });
				return "ok";
			}
		});
		const res = await executeGraph(g, {}, p);
		expect(calls.flaky).toBe(3);
		expect(res.nodes.flaky).toMatchObject({ status: "done", attempts: 3 });
	});

	it("does not retry a client error", async () => {
		const g = compileGraph(graph([node("bad", { retries: 3 })], []));
		const { p, calls } = ports({ bad: async () => Promise.reject(Object.assign(new Error("no"), { code: 422, retryable: false })) });
		await executeGraph(g, {}, p);
		expect(calls.bad).toBe(1);
	});

	it("fails the run when a required node fails and starts nothing after it", async () => {
		const g = compileGraph(graph([node("vision", { required: true }), node("face", { reads: ["vision"] })], [["vision", "face"]]));
		const { p, calls } = ports({ vision: async () => Promise.reject(new Error("models missing")), face: async () => "x" });
		const res = await executeGraph(g, {}, p);
		expect(res.failed).toEqual({ node: "vision", reason: "models missing" });
		expect(calls.face).toBeUndefined();
	});

	it("skips nodes without consent, without input, or whose condition is false", async () => {
		const g = compileGraph(
			graph(
				[
					node("face", { consent: "face_analysis" }),
					node("bio", { reads: ["bio_text"] }),
					node("compare", { when: s => Boolean(s.compare) }),
					node("after", { reads: ["face"] })
				],
				[["face", "after"]],
				{ inputs: ["bio_text", "compare"] }
			)
		);
		const { p, calls } = ports({ face: async () => 1, bio: async () => 2, compare: async () => 3, after: async () => 4 }, { consented: c => c !== "face_analysis" });
		const res = await executeGraph(g, {}, p);
		expect(res.nodes.face).toMatchObject({ status: "skipped", reason: "no face_analysis consent" });
		expect(res.nodes.bio).toMatchObject({ status: "skipped", reason: "no input: bio_text" });
		expect(res.nodes.compare).toMatchObject({ status: "skipped", reason: "condition not met" });
		expect(res.nodes.after).toMatchObject({ status: "skipped", reason: "no input: face" });
		expect(calls).toEqual({});
	});

	it("checkpoints each finished node and resumes without running finished nodes again", async () => {
		const g = compileGraph(graph([node("a"), node("b", { reads: ["a"] })], [["a", "b"]]));
		const saved: Record<string, { record: never; output: unknown }> = {};
		const first = ports({ a: async () => "A", b: async () => Promise.reject(Object.assign(new Error("worker died"), { required: true })) }, {
			checkpoint: (id, record, output) => void (saved[id] = { record: record as never, output })
		});
		await executeGraph(g, {}, first.p);
		expect(saved.a.output).toBe("A");
		const done = Object.fromEntries(Object.entries(saved).filter(([, v]) => (v.record as { status: string }).status === "done"));
		const second = ports({ a: async () => "A again", b: async () => "B" }, { resume: done });
		const res = await executeGraph(g, {}, second.p);
		expect(second.calls.a).toBeUndefined();
		expect(res.state).toMatchObject({ a: "A", b: "B" });
		expect(res.nodes.a.resumed).toBe(true);
	});
});
