import type { Context, Service, ServiceSchema } from "moleculer";
import { z } from "zod";
import { runAgent } from "../../agents/agent";
import { HISTORY_LIMIT, perceptionHistory, type HistoryOutput } from "../../agents/perception-history";
import { historyInputOf, type MediaSummary } from "../../agents/workflow/insights";
import type { AnalysisDoc } from "../analyses.service";

/** Bounds staleness where a node's memory cacher missed an invalidation (another node got the event). */
const CACHE_TTL_S = 300;

const RunInput = z.object({ user_id: z.string().min(1).max(64), limit: z.number().int().min(1).max(100).default(HISTORY_LIMIT) });

/**
 * `agent.perception_history`: gathers a user's stored perceptions (media.summaries) and
 * completed analyses, and reads the trend with the pure agent (agents/perception-history.ts).
 * No ownership check: callers (the insights service, the enhanced pipeline) decide who may see
 * whose history. Cached per user; any event that changes a user's data cleans their entries.
 */
const PerceptionHistoryService: ServiceSchema = {
	name: `agent.${perceptionHistory.name}`,
	metadata: { agent: perceptionHistory.name, version: perceptionHistory.version },

	actions: {
		run: {
			visibility: "public",
			input: RunInput,
			cache: { keys: ["user_id", "limit"], ttl: CACHE_TTL_S },
			async handler(ctx: Context<z.infer<typeof RunInput>>): Promise<HistoryOutput> {
				const { user_id, limit } = ctx.params;
				const [media, analyses] = await Promise.all([
					ctx.call<MediaSummary[], object>("media.summaries", { user_id, limit }),
					ctx.call<{ items: AnalysisDoc[] }, object>("analyses.listForUser", { user_id, status: "completed", limit })
				]);
				return runAgent(perceptionHistory, historyInputOf(media, analyses.items), undefined);
			}
		}
	},

	events: {
		"analysis.completed": { handler: forget },
		"media.perceived": { handler: forget },
		"media.deleted": { handler: forget },
		"user.erased": { handler: forget },
		"user.updated": { handler: forget }
	}
};

/** Drops the cached histories of the event's user (every `limit`), keys built by the cacher's own keygen. */
async function forget(this: Service, ctx: Context<{ user_id?: string }>) {
	const id = ctx.params.user_id;
	const cacher = this.broker.cacher;
	if (!cacher || typeof id !== "string" || !/^[\w-]{1,64}$/.test(id)) return;
	const key = cacher.getCacheKey({ name: `${this.name}.run` } as never, { keys: ["user_id"] } as never, { params: { user_id: id } } as never);
	await cacher.clean(`${key}|*`);
}

export default PerceptionHistoryService;
