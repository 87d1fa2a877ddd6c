import type { Context, ServiceSchema } from "moleculer";
import { z } from "zod";
import { config } from "../lib/config";
import { flagsFor } from "../lib/flags";
import type { Meta } from "../types/meta";

/** `GET /admin/flags`: the feature flags in force on this node, and (with `user_id`) whether each is on for that user. */
const FlagsService: ServiceSchema = {
	name: "flags",
	actions: {
		list: {
			roles: ["admin"],
			summary: "The feature flags in force (admin)",
			input: z.object({ user_id: z.string().min(1).max(64).optional() }),
			handler(ctx: Context<{ user_id?: string }, Meta>) {
				return { flags: flagsFor(config().flags, ctx.params.user_id) };
			}
		}
	}
};

export default FlagsService;
