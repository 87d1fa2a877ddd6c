/**
 * The analysis workflow as data: nodes (what runs, what it reads and writes, whether the run
 * can do without it, its timeout and retries, its consent gate and condition), edges, and
 * reducers for state keys that parallel nodes may both write. `compileGraph` checks a graph
 * once at start-up; the executor (./execute.ts) runs it.
 */

export type State = Record<string, unknown>;

export interface NodeDef {
	id: string;
	/** The action that does the work, e.g. `agent.face.run` or `vision.analyze`. */
	action: string;
	/** State keys the node reads; each must be written by a node before it (or be an input). */
	reads: string[];
	/** The state key its output goes to. */
	writes: string;
	/** Builds the action's params from the state. */
	input(state: State): unknown;
	/** A required node's failure fails the run; an optional one's becomes a warning. */
	required: boolean;
	timeoutMs: number;
	/** Extra attempts after a retryable failure. */
	retries: number;
	/** Consent purpose that must be granted, e.g. `face_analysis`. */
	consent?: string;
	/** Runs only when this holds; otherwise the node is skipped (not failed). */
	when?(state: State): boolean;
}

export interface GraphDef {
	name: string;
	version: string;
	/** Keys present before any node runs (ids, consents, options). */
	inputs: string[];
	nodes: NodeDef[];
	/** [from, to]: `to` starts after `from` has finished (done, skipped or failed-optional). */
	edges: [string, string][];
	/** Merge rules for keys that more than one node may write. */
	reducers?: Record<string, (current: unknown, next: unknown) => unknown>;
}

export interface CompiledGraph extends GraphDef {
	byId: Map<string, NodeDef>;
	parents: Map<string, string[]>;
	/** Node ids in a valid execution order. */
	order: string[];
}

export class GraphError extends Error {
	constructor(graph: string, message: string) {
		super(`workflow ${graph}: ${message}`);
		this.name = "GraphError";
	}
}

/**
 * Validates a graph: unique ids, edges between known nodes, no cycle, every node reachable
 * from the inputs, every key a node reads written by an ancestor (or an input), and keys
 * written by nodes that may run concurrently declare a reducer.
 */
export function compileGraph(g: GraphDef, knownActions?: (action: string) => boolean): CompiledGraph {
	const fail = (msg: string): never => {
		throw new GraphError(g.name, msg);
	};
	const byId = new Map<string, NodeDef>();
	for (const n of g.nodes) {
		if (byId.has(n.id)) fail(`duplicate node "${n.id}"`);
		if (knownActions && !knownActions(n.action)) fail(`node "${n.id}" calls unknown agent "${n.action}"`);
		byId.set(n.id, n);
	}
	const parents = new Map<string, string[]>(g.nodes.map(n => [n.id, []]));
	const children = new Map<string, string[]>(g.nodes.map(n => [n.id, []]));
	for (const [from, to] of g.edges) {
		if (!byId.has(from)) fail(`edge from unknown node "${from}"`);
		if (!byId.has(to)) fail(`edge to unknown node "${to}"`);
		parents.get(to)!.push(from);
		children.get(from)!.push(to);
	}

	// Kahn's algorithm: an order, or a cycle.
	const indegree = new Map(g.nodes.map(n => [n.id, parents.get(n.id)!.length]));
	const queue = g.nodes.filter(n => indegree.get(n.id) === 0).map(n => n.id);
	const order: string[] = [];
	while (queue.length) {
		const id = queue.shift()!;
		order.push(id);
		for (const c of children.get(id)!) {
			indegree.set(c, indegree.get(c)! - 1);
			if (indegree.get(c) === 0) queue.push(c);
		}
	}
	if (order.length !== g.nodes.length) fail(`cycle through ${g.nodes.filter(n => !order.includes(n.id)).map(n => n.id).join(", ")}`);

	const ancestors = new Map<string, Set<string>>();
	for (const id of order) {
		const set = new Set<string>();
		for (const p of parents.get(id)!) {
			set.add(p);
			for (const a of ancestors.get(p)!) set.add(a);
		}
		ancestors.set(id, set);
	}

	const inputs = new Set(g.inputs);
	for (const n of g.nodes) {
		for (const key of n.reads) {
			if (inputs.has(key)) continue;
			const writers = [...ancestors.get(n.id)!].filter(a => byId.get(a)!.writes === key);
			if (writers.length === 0) fail(`node "${n.id}" reads "${key}", which no earlier node writes`);
		}
	}

	// Two writers of one key that are not ordered by edges may run at once: they need a reducer.
	const writers = new Map<string, string[]>();
	for (const n of g.nodes) writers.set(n.writes, [...(writers.get(n.writes) ?? []), n.id]);
	for (const [key, ids] of writers) {
		for (let i = 0; i < ids.length; i++)
			for (let j = i + 1; j < ids.length; j++) {
				const ordered = ancestors.get(ids[i])!.has(ids[j]) || ancestors.get(ids[j])!.has(ids[i]);
				if (!ordered && !g.reducers?.[key]) fail(`nodes "${ids[i]}" and "${ids[j]}" may write "${key}" concurrently and it has no reducer`);
			}
	}
	return { ...g, byId, parents, order };
}

/**
 * A compiled graph as text, for operators (the `lm-graph` REPL command): its name and version,
 * each node in execution order with its action, required/optional, timeout, retries, consent
 * gate, condition and what it reads and writes, then the edges and the reducers.
 */
export function renderGraph(g: CompiledGraph): string {
	const lines = [`pipeline ${g.name} (version ${g.version})`, `inputs: ${g.inputs.join(", ") || "none"}`, `nodes (${g.nodes.length}, in execution order):`];
	for (const id of g.order) {
		const n = g.byId.get(id)!;
		const after = g.parents.get(id)!;
		const parts = [
			n.action,
			n.required ? "required" : "optional",
			`timeout ${n.timeoutMs} ms`,
			`retries ${n.retries}`,
			`consent ${n.consent ?? "-"}`,
			...(n.when ? ["conditional"] : []),
			`reads ${n.reads.join(", ") || "-"}`,
			`writes ${n.writes}`,
			`after ${after.join(", ") || "-"}`
		];
		lines.push(`  ${n.id.padEnd(18)} ${parts.join(" | ")}`);
	}
	lines.push(`edges (${g.edges.length}):`);
	for (const [from, to] of g.edges) lines.push(`  ${from} -> ${to}`);
	const reducers = Object.keys(g.reducers ?? {});
	lines.push(`reducers: ${reducers.join(", ") || "none"}`);
	return lines.join("\n");
}
