import type { Context, ServiceSchema } from "moleculer";
import { z } from "zod";
import socialGraphAgent, { type GraphDeps, type GraphUser } from "../../agents/social-graph";
import { config } from "../../lib/config";
import { forbidden } from "../../lib/errors";
import { agentMixin } from "../../mixins/agent.mixin";
import type { AnalysisDoc } from "../analyses.service";
import { analysisMinor } from "../../agents/public-feed";
import type { PublicProfile } from "../users.service";

/**
 * `agent.social_graph`: the social_graph agent over the broker. Its port `population()` gathers
 * the opted-in adults: their newest style and text vectors (never face descriptors), their
 * stored perceptions (tags, social scores) and their analyses' overall scores. The gathered
 * population is cached (it is the same for every subject) and cleaned on the events that change
 * it; who is public is checked afresh on every run, so a user who just left never shows.
 * The subject must be public (403 otherwise, also when the enhanced pipeline calls it).
 */

interface MediaSummary {
	media_id: string;
	perception: { social?: { tags?: string[]; social_score?: number } } | null;
}

interface EmbeddingItem {
	vector: number[];
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : null);

function topTags(media: MediaSummary[], n = 8): string[] {
	const counts = new Map<string, number>();
	for (const m of media) for (const t of m.perception?.social?.tags ?? []) counts.set(t, (counts.get(t) ?? 0) + 1);
	return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, n).map(([t]) => t);
}

/** A user's features for the graph, or null when they are an estimated minor. */
async function gather(ctx: Context, p: PublicProfile): Promise<GraphUser | null> {
	const [style, text, media, analyses] = await Promise.all([
		ctx.call<{ items: EmbeddingItem[] }, object>("embeddings.listForUser", { user_id: p.user_id, kind: "style" }).catch(() => ({ items: [] })),
		ctx.call<{ items: EmbeddingItem[] }, object>("embeddings.listForUser", { user_id: p.user_id, kind: "text" }).catch(() => ({ items: [] })),
		ctx.call<MediaSummary[], object>("media.summaries", { user_id: p.user_id, limit: 10 }).catch(() => [] as MediaSummary[]),
		ctx.call<{ items: AnalysisDoc[] }, object>("analyses.listForUser", { user_id: p.user_id, status: "completed", limit: 10 }).catch(() => ({ items: [] as AnalysisDoc[] }))
	]);
	if (analyses.items.some(analysisMinor)) return null;
	const overall = analyses.items.map(a => (a.result as { overall_score?: unknown } | null)?.overall_score).filter((v): v is number => typeof v === "number");
	const social = media.map(m => m.perception?.social?.social_score).filter((v): v is number => typeof v === "number");
	const round = (v: number | null) => (v === null ? null : Math.round(v * 100) / 100);
	return {
		user_id: p.user_id,
		alias: p.alias,
		style_vector: style.items[0]?.vector ?? null,
		text_vector: text.items[0]?.vector ?? null,
		tags: topTags(media),
		overall_score: round(mean(overall)),
		social_score: round(mean(social)),
		media_id: media[0]?.media_id ?? null
	};
}

const clean = async function (this: { broker: { cacher?: { clean(p: string): Promise<unknown> } } }) {
	await this.broker.cacher?.clean("agent.social_graph.**");
};

const SocialGraphService: ServiceSchema = {
	name: `agent.${socialGraphAgent.name}`,
	mixins: [
		agentMixin(socialGraphAgent, async function graphDeps(this: { broker: unknown }, ctx: Context): Promise<GraphDeps> {
			const subject = (ctx.params as { user_id: string }).user_id;
			const [me] = await ctx.call<PublicProfile[], object>("users.publicProfiles", { ids: [subject] });
			if (!me?.opt_in) throw forbidden("The social graph is only for users who opted in to public analysis");
			return {
				minPublicUsers: config().social.graphMinPublicUsers,
				population: async () => {
					const cached = await ctx.call<GraphUser[], object>("agent.social_graph.population", {});
					const now = new Map((await ctx.call<PublicProfile[], object>("users.publicProfiles", { ids: cached.map(u => u.user_id) })).map(p => [p.user_id, p]));
					return cached.filter(u => now.get(u.user_id)?.opt_in).map(u => ({ ...u, alias: now.get(u.user_id)?.alias ?? null }));
				}
			};
		})
	],

	merged(schema) {
		(schema.actions as Record<string, { cache?: unknown }>).population.cache = { keys: [], ttl: config().social.cacheTtlS };
	},

	actions: {
		/** Internal: the opted-in adults with their features (cached; at most 1000 users, oldest accounts first). */
		population: {
			visibility: "public",
			input: z.object({}),
			async handler(ctx: Context): Promise<GraphUser[]> {
				const users = await ctx.call<PublicProfile[], object>("users.publicUsers", { limit: 1000 });
				const out: GraphUser[] = [];
				for (let i = 0; i < users.length; i += 8) {
					const batch = await Promise.all(users.slice(i, i + 8).map(u => gather(ctx, u)));
					for (const u of batch) if (u) out.push(u);
				}
				return out;
			}
		}
	},

	events: {
		"analysis.completed": clean,
		"media.perceived": clean,
		"media.deleted": clean,
		"user.updated": clean,
		"user.erased": clean,
		"consent.changed": clean
	}
};

export default SocialGraphService;
