import type { Context, ServiceSchema } from "moleculer";
import type { Agent } from "../agents/agent";
import { config } from "../lib/config";
import { RetryableError } from "../lib/errors";

const LATENCY = "lifemirror.agent.latency";
const RUNS = "lifemirror.agent.runs";
const ERRORS = "lifemirror.agent.errors";

/**
 * Turns an agents/ module into the `agent.<name>` service: one `run` action whose params
 * are validated by the agent's input schema and whose result is parsed by its output schema
 * (an agent that returns something else fails, it never leaks a malformed result), with a
 * timeout from config and per-agent metrics. `deps` builds the agent's ports for a call.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function agentMixin<D>(agent: Agent<any, any, D>, deps: (this: any, ctx: Context) => D | Promise<D>): Partial<ServiceSchema> {
	return {
		name: `agent.${agent.name}`,
		metadata: { agent: agent.name, version: agent.version },
		actions: {
			run: {
				visibility: "public",
				input: agent.input,
				timeout: config().agents.timeoutMs,
				async handler(this: any, ctx: Context) {
					const started = process.hrtime.bigint();
					const labels = { agent: agent.name };
					try {
						const raw = await agent.run(ctx.params as never, await deps.call(this, ctx));
						const out = agent.output.safeParse(raw);
						if (!out.success) throw new RetryableError("AGENT_FAILED", `agent ${agent.name} returned an invalid result`, { agent: agent.name });
						this.broker.metrics.increment(RUNS, labels);
						return out.data;
					} catch (err) {
						this.broker.metrics.increment(ERRORS, { ...labels, type: (err as { type?: string }).type ?? "ERROR" });
						throw err;
					} finally {
						this.broker.metrics.observe(LATENCY, Number(process.hrtime.bigint() - started) / 1e6, labels);
					}
				}
			}
		},
		created(this: any) {
			const m = this.broker.metrics;
			if (!m.getMetric(LATENCY)) {
				m.register({ type: "histogram", name: LATENCY, labelNames: ["agent"], unit: "millisecond", description: "Agent run time", buckets: [5, 20, 50, 100, 250, 500, 1000, 2500, 5000, 10000] });
				m.register({ type: "counter", name: RUNS, labelNames: ["agent"], description: "Agent runs that succeeded" });
				m.register({ type: "counter", name: ERRORS, labelNames: ["agent", "type"], description: "Agent runs that failed" });
			}
		}
	};
}
