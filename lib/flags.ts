import { createHash } from "node:crypto";
import type { Context, Middleware } from "moleculer";
import { z } from "zod";
import { ClientError } from "./errors";
import type { Meta } from "../types/meta";

/**
 * Feature flags: typed, from the `FLAGS` variable (`name=on|off|N%`, comma-separated), each
 * rolled out to a percentage of users. A user's bucket is a hash of the flag name and the user
 * id, so it is stable (the same user stays in or out as the percentage grows) and independent
 * between flags. Anonymous callers see a flag only at 100 %.
 *
 * An action declares `flag: "<name>"`; the middleware below refuses it with 403
 * FEATURE_DISABLED where the flag is off for the caller, on whichever node the action runs.
 * Calls the system makes itself (no user, not relayed by the gateway) are not gated.
 */
export const FLAG_NAMES = ["enhanced_pipeline", "hybrid_pipeline", "public_feed", "social_graph", "comparisons"] as const;
export type FlagName = (typeof FLAG_NAMES)[number];

export interface FlagSetting {
	/** 0–100: the share of users the flag is on for (0 = off, 100 = everyone). */
	percent: number;
}

export type Flags = Record<FlagName, FlagSetting>;

export const FLAG_DEFAULTS: Flags = Object.fromEntries(FLAG_NAMES.map(n => [n, { percent: 100 }])) as Flags;

/** `enhanced_pipeline=25%,public_feed=off` → the flags (unnamed ones keep their default). */
export const flagList = z
	.string()
	.optional()
	.transform((text, ctx) => {
		const out: Partial<Flags> = {};
		for (const part of (text ?? "").split(",").map(p => p.trim()).filter(Boolean)) {
			const m = /^([a-z_]+)=(on|off|true|false|(\d{1,3})%)$/.exec(part);
			if (!m || !(FLAG_NAMES as readonly string[]).includes(m[1]) || (m[3] !== undefined && Number(m[3]) > 100)) {
				ctx.addIssue({ code: "custom", message: `"${part}" is not name=on|off|N% with a known flag (${FLAG_NAMES.join(", ")})` });
				return z.NEVER;
			}
			const percent = m[3] !== undefined ? Number(m[3]) : m[2] === "on" || m[2] === "true" ? 100 : 0;
			out[m[1] as FlagName] = { percent };
		}
		return { ...FLAG_DEFAULTS, ...out };
	});

/** The user's bucket 0–99 for a flag. */
export function bucketOf(flag: FlagName, userId: string): number {
	return createHash("sha256").update(`${flag}:${userId}`).digest().readUInt32BE(0) % 100;
}

export function flagOn(flags: Flags, flag: FlagName, userId: string | null | undefined): boolean {
	const { percent } = flags[flag];
	if (percent >= 100) return true;
	if (percent <= 0 || !userId) return false;
	return bucketOf(flag, userId) < percent;
}

/** Every flag as it stands for one user (or anonymous callers): for the admin endpoint and the REPL. */
export function flagsFor(flags: Flags, userId?: string | null) {
	return FLAG_NAMES.map(name => ({ name, percent: flags[name].percent, ...(userId !== undefined ? { on: flagOn(flags, name, userId) } : {}) }));
}

type Handler = (ctx: Context<unknown, Meta>) => unknown;

/** Refuses an action whose `flag` is off for the caller; `flags()` reads the node's config at call time. */
export function flagsMiddleware(flags: () => Flags): Middleware {
	return {
		name: "Flags",
		localAction(handler: Handler, action: { flag?: FlagName }) {
			const flag = action.flag;
			if (!flag) return handler;
			return function flagChecked(ctx: Context<unknown, Meta>) {
				// The system's own calls (jobs, events, the REPL: no user, not from the gateway) are not rolled out.
				const internal = !ctx.meta?.userId && ctx.caller !== "api";
				if (!internal && !flagOn(flags(), flag, ctx.meta?.userId)) return Promise.reject(new ClientError("FEATURE_DISABLED", "This feature is not available for your account yet", { flag }));
				return handler(ctx);
			};
		}
	} as Middleware;
}
