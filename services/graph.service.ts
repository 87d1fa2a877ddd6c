import type { Context, ServiceSchema } from "moleculer";
import { z } from "zod";
import type { GraphOutput } from "../agents/social-graph";
import { forbidden, unauthorized } from "../lib/errors";
import type { Meta } from "../types/meta";
import type { PublicProfile } from "./users.service";

/**
 * `GET /graph/{user_id}` and the original's `GET /graph/social-graph?user_id`: the social_graph
 * agent's reading of a user, for a caller who opted in to public analysis about a user who did
 * too (403 otherwise, the same answer whether or not the account exists). The agent runs on the
 * workers; this gateway-side service is the only way to it over HTTP.
 */

const Id = z.string().min(1).max(64);

interface Methods {
	read(ctx: Context<unknown, Meta>, target: string | undefined): Promise<GraphOutput>;
}

const GraphService: ServiceSchema<Record<string, never>, Methods> = {
	name: "graph",

	actions: {
		/** GET /graph/:user_id */
		get: {
			flag: "social_graph",
			input: z.object({ user_id: Id }),
			handler(ctx: Context<{ user_id: string }, Meta>) {
				return this.read(ctx, ctx.params.user_id);
			}
		},

		/** GET /graph/social-graph?user_id — the caller's own graph when user_id is absent. */
		legacy: {
			flag: "social_graph",
			input: z.object({ user_id: Id.optional() }),
			handler(ctx: Context<{ user_id?: string }, Meta>) {
				return this.read(ctx, ctx.params.user_id);
			}
		}
	},

	methods: {
		async read(ctx: Context<unknown, Meta>, target: string | undefined) {
			const me = ctx.meta.userId;
			if (!me) throw unauthorized();
			const subject = target ?? me;
			const profiles = await ctx.call<PublicProfile[], object>("users.publicProfiles", { ids: [me, subject] });
			if (!profiles.every(p => p.opt_in)) throw forbidden("Both you and this user must have opted in to public analysis");
			return ctx.call<GraphOutput, object>("agent.social_graph.run", { user_id: subject });
		}
	}
};

export default GraphService;
