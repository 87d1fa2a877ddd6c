import type { Context, ServiceSchema } from "moleculer";

/**
 * A stand-in `orchestrator` the test steers: each run announces the vision node, then waits
 * until the test releases it (`gates.get(id)()`), then completes with `result(id, nodeID)`.
 * Ids starting with "broken" throw, to exercise retries. `runs` records every attempt.
 */
export function steeredOrchestrator(result: (analysis_id: string, nodeID: string) => object) {
	const gates = new Map<string, () => void>();
	const owners = new Map<string, string>();
	const runs: string[] = [];
	const schema: ServiceSchema = {
		name: "orchestrator",
		actions: {
			run: {
				visibility: "public",
				async handler(ctx: Context<{ analysis_id: string }>) {
					const analysis_id = ctx.params.analysis_id;
					const user_id = owners.get(analysis_id);
					runs.push(analysis_id);
					if (analysis_id.startsWith("broken")) throw new Error("the orchestrator broke");
					ctx.emit("analysis.progress", { analysis_id, user_id, node: "vision", status: "started" });
					await new Promise<void>(release => gates.set(analysis_id, release));
					ctx.emit("analysis.progress", { analysis_id, user_id, node: "vision", status: "finished" });
					ctx.emit("analysis.completed", { analysis_id, user_id, media_id: "media-1" });
					return result(analysis_id, this.broker.nodeID);
				}
			}
		}
	};
	return { schema, gates, owners, runs };
}
