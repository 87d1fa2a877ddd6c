import type { ZodType } from "zod";

/** How the gateway treats an action reachable over HTTP (enforced in one place: api.service). */
export type AuthPolicy = "required" | "optional" | "none";

declare module "moleculer/src/service" {
	interface ActionSchema<TThis> {
		/** zod schema of the params; the zod validator parses, strips unknown keys and replaces ctx.params. */
		input?: ZodType;
		/** The JSON Schema of `input`, set when the service is created (lib/validator.ts); the OpenAPI document reads it. */
		inputSchema?: Record<string, unknown>;
		/** One line for the OpenAPI document (the action's doc comment in short). */
		summary?: string;
		/** Who may call the action through the gateway; default "required". */
		auth?: AuthPolicy;
		/** Rate class from config (`RATE_LIMITS`); keyed per user when authenticated, else per IP. */
		rateClass?: string;
		/** A feature flag (lib/flags.ts) that must be on for the caller. */
		flag?: import("../lib/flags").FlagName;
		/** Roles the caller needs (checked in the service, not only the gateway). */
		roles?: string[];
		/** Moleculer's per-action call timeout in ms (missing from its types). */
		timeout?: number;
	}

	interface ServiceSchema<TSettings, TMethods, TVars, TThis> {
		/** Moleculer's hook between merging the mixins and setting the service up: the merged schema can still change. */
		merged?: (this: TThis, schema: ServiceSchema<TSettings, TMethods, TVars, TThis>) => void;
	}
}
