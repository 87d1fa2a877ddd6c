import { compileGraph, renderGraph, type GraphDef, type NodeDef } from "../../agents/workflow/graph";
import { pipelines, pipelineTimeouts } from "../../agents/workflow/pipelines";
import { configure } from "../../lib/config";
import { graphText, replCommands } from "../../lib/repl-commands";

const node = (id: string, over: Partial<NodeDef> = {}): NodeDef => ({ id, action: `agent.${id}.run`, reads: [], writes: id, input: () => ({}), required: false, timeoutMs: 1000, retries: 0, ...over });

describe("renderGraph", () => {
	it("prints the version, every node in order with action, required/optional, timeout, retries and consent, the edges and reducers", () => {
		const g: GraphDef = {
			name: "toy",
			version: "toy@2.1.0",
			inputs: ["x"],
			nodes: [
				node("b", { reads: ["a"], required: true, timeoutMs: 2500, retries: 2, consent: "face_analysis", when: () => true, writes: "out" }),
				node("a", { action: "vision.analyze", reads: ["x"], required: true }),
				node("c", { reads: ["a"], writes: "out" })
			],
			edges: [
				["a", "b"],
				["a", "c"]
			],
			reducers: { out: (x, y) => [x, y] }
		};
		const lines = renderGraph(compileGraph(g)).split("\n");
		expect(lines.slice(0, 3)).toEqual(["pipeline toy (version toy@2.1.0)", "inputs: x", "nodes (3, in execution order):"]);
		expect(lines[3]).toBe("  a                  vision.analyze | required | timeout 1000 ms | retries 0 | consent - | reads x | writes a | after -");
		expect(lines[4]).toBe("  b                  agent.b.run | required | timeout 2500 ms | retries 2 | consent face_analysis | conditional | reads a | writes out | after a");
		expect(lines[5]).toBe("  c                  agent.c.run | optional | timeout 1000 ms | retries 0 | consent - | reads a | writes out | after a");
		expect(lines.slice(6)).toEqual(["edges (2):", "  a -> b", "  a -> c", "reducers: out"]);
	});

	it("renders the real pipelines: core's nodes, consent gates, timeouts from the config and its edges", () => {
		const c = configure({ AGENT_TIMEOUT_MS: "4321", VISION_TIMEOUT_MS: "1000" });
		const text = renderGraph(compileGraph(pipelines(pipelineTimeouts(c)).core));
		expect(text).toMatch(/^pipeline core \(version core@1\.0\.0\)$/m);
		expect(text).toMatch(/^ {2}vision +vision\.analyze \| required \| timeout 12000 ms \| retries 1 \| consent - /m);
		expect(text).toMatch(/^ {2}face +agent\.face\.run \| optional \| timeout 4321 ms \| retries 1 \| consent face_analysis /m);
		expect(text).toMatch(/^ {2}aggregator +local\.aggregator \| required \| timeout 5000 ms \| retries 0 /m);
		expect(text).toContain("  aggregator -> formatter");
		expect(text).not.toContain("social_perception");
		expect(graphText("enhanced")).toMatch(/^ {2}social_perception +agent\.social_perception\.run \| optional/m);
		configure();
	});

	it("lm-graph prints the named pipeline, or the known ones for an unknown name", async () => {
		const cmd = replCommands.find(c => c.command.startsWith("lm-graph "))!;
		const out: string[] = [];
		const log = jest.spyOn(console, "log").mockImplementation((s: unknown) => void out.push(String(s)));
		try {
			await (cmd.action as (b: unknown, a: unknown) => Promise<void>)({}, { pipeline: "hybrid", options: {} });
			await (cmd.action as (b: unknown, a: unknown) => Promise<void>)({}, { pipeline: "nope", options: {} });
		} finally {
			log.mockRestore();
		}
		expect(out[0]).toMatch(/^pipeline hybrid \(version hybrid@1\.1\.0\)\n/);
		expect(out[0]).toContain("  social_perception -> vibe_analysis");
		expect(out[1]).toBe('Unknown pipeline "nope"; one of: core, enhanced, hybrid');
	});
});
