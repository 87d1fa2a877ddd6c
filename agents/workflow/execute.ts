import type { CompiledGraph, NodeDef, State } from "./graph";

export type NodeStatus = "done" | "failed" | "skipped";

export interface NodeRecord {
	status: NodeStatus;
	/** Why a node was skipped or failed. */
	reason?: string;
	attempts: number;
	started_at?: string;
	ms: number;
	/** True when the output came from a checkpoint of an earlier, interrupted run. */
	resumed?: boolean;
	/** Which broker node ran it, and in which run (job attempt) of the analysis. */
	node_id?: string;
	run?: number;
	/** How many times this node has finished for this analysis (1 unless a run died between its end and its checkpoint). */
	runs?: number;
}

export type WorkflowEvent =
	| { type: "node.started"; node: string; attempt: number }
	| { type: "node.finished"; node: string; status: NodeStatus; ms: number; reason?: string };

/** What the executor needs from the outside world: invoking an action, saving checkpoints, reporting progress. */
export interface ExecutorPorts {
	invoke(node: NodeDef, params: unknown, opts: { timeoutMs: number }): Promise<unknown>;
	/** Called after each finished node with its output; a later run can resume from these. */
	checkpoint?(node: string, record: NodeRecord, output: unknown): Promise<void> | void;
	onEvent?(event: WorkflowEvent): void;
	/** Consent purposes granted for this run. */
	consented(purpose: string): boolean;
	/** Outputs of nodes that finished in an earlier run (resume): they are not run again. */
	resume?: Record<string, { record: NodeRecord; output: unknown }>;
	/** Fields added to every record this run makes (where and in which run the node ran). */
	tag?(node: string): Partial<NodeRecord>;
	/** Checked at every node boundary: true stops the run (no new node starts), e.g. when it was cancelled. */
	stopped?(): boolean;
}

export interface RunResult {
	state: State;
	nodes: Record<string, NodeRecord>;
	warnings: string[];
	/** The first required node that failed, when the run failed. */
	failed: { node: string; reason: string } | null;
	/** True when `stopped()` ended the run before every node had settled. */
	stopped?: boolean;
}

const isRetryable = (err: unknown) => Boolean((err as { retryable?: boolean })?.retryable) || (err as { type?: string })?.type === "AGENT_TIMEOUT";

function withTimeout<T>(p: Promise<T>, ms: number, node: string): Promise<T> {
	let timer: NodeJS.Timeout;
	const timeout = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(Object.assign(new Error(`node ${node} timed out after ${ms} ms`), { type: "AGENT_TIMEOUT", retryable: true })), ms);
	});
	return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Runs a compiled graph: every node whose parents have finished starts at once (parallel
 * fan-out), outputs merge into the state (through the key's reducer when it has one), each
 * node has its own timeout and retry budget, an optional node's failure becomes a warning,
 * and the first failed required node stops new work and fails the run.
 */
export async function executeGraph(graph: CompiledGraph, input: State, ports: ExecutorPorts): Promise<RunResult> {
	const state: State = { ...input };
	const nodes: Record<string, NodeRecord> = {};
	const warnings: string[] = [];
	let failed: RunResult["failed"] = null;
	const pending = new Set(graph.order);
	const running = new Map<string, Promise<void>>();

	const write = (node: NodeDef, output: unknown) => {
		const reducer = graph.reducers?.[node.writes];
		state[node.writes] = reducer && node.writes in state ? reducer(state[node.writes], output) : output;
	};

	const finish = (node: NodeDef, own: NodeRecord, output?: unknown) => {
		const record: NodeRecord = { ...own, ...ports.tag?.(node.id) };
		nodes[node.id] = record;
		ports.onEvent?.({ type: "node.finished", node: node.id, status: record.status, ms: record.ms, reason: record.reason });
		return ports.checkpoint?.(node.id, record, output);
	};

	async function run(node: NodeDef): Promise<void> {
		const resumed = ports.resume?.[node.id];
		if (resumed) {
			if (resumed.record.status === "done") write(node, resumed.output);
			nodes[node.id] = { ...resumed.record, resumed: true };
			return;
		}
		if (node.consent && !ports.consented(node.consent)) return void (await finish(node, { status: "skipped", reason: `no ${node.consent} consent`, attempts: 0, ms: 0 }));
		const missing = node.reads.filter(k => state[k] === undefined);
		if (missing.length) return void (await finish(node, { status: "skipped", reason: `no input: ${missing.join(", ")}`, attempts: 0, ms: 0 }));
		if (node.when && !node.when(state)) return void (await finish(node, { status: "skipped", reason: "condition not met", attempts: 0, ms: 0 }));

		const started = Date.now();
		const started_at = new Date(started).toISOString();
		let attempt = 0;
		for (;;) {
			attempt++;
			ports.onEvent?.({ type: "node.started", node: node.id, attempt });
			try {
				const output = await withTimeout(ports.invoke(node, node.input(state), { timeoutMs: node.timeoutMs }), node.timeoutMs, node.id);
				write(node, output);
				return void (await finish(node, { status: "done", attempts: attempt, started_at, ms: Date.now() - started }, output));
			} catch (err) {
				if (attempt <= node.retries && isRetryable(err)) continue;
				const reason = (err as Error)?.message?.slice(0, 200) || "failed";
				// An optional agent that refuses the caller (403: e.g. the social graph for a user who has not
				// opted in) does not apply to this run: skipped with its reason, like a consent gate, not a failure.
				if (!node.required && (err as { code?: unknown })?.code === 403)
					return void (await finish(node, { status: "skipped", reason: `not permitted: ${reason}`, attempts: attempt, started_at, ms: Date.now() - started }));
				await finish(node, { status: "failed", reason, attempts: attempt, started_at, ms: Date.now() - started });
				if (node.required) failed ??= { node: node.id, reason };
				else warnings.push(`${node.id} could not be completed (${reason}); the report is partial.`);
				return;
			}
		}
	}

	const settled = (id: string) => nodes[id] !== undefined;
	let stopped = false;
	while (pending.size || running.size) {
		if (!failed && pending.size && ports.stopped?.()) stopped = true;
		if (!failed && !stopped) {
			for (const id of [...pending]) {
				if (graph.parents.get(id)!.every(settled)) {
					pending.delete(id);
					running.set(id, run(graph.byId.get(id)!).finally(() => running.delete(id)));
				}
			}
		}
		if (running.size === 0) break;
		await Promise.race(running.values());
	}
	return { state, nodes, warnings, failed, ...(stopped ? { stopped } : {}) };
}
