import type { Context, Middleware } from "moleculer";
import { forbidden } from "./errors";
import type { Meta } from "../types/meta";

type Handler = (ctx: Context<unknown, Meta>) => unknown;

/** May a caller with these roles run an action that declares `required`? (any one role suffices) */
export function hasRequiredRole(required: readonly string[] | undefined, held: readonly string[] | undefined): boolean {
	if (!required?.length) return true;
	return required.some(r => (held ?? []).includes(r));
}

/**
 * Enforces an action's `roles` where the action runs, on every node, for every call that carries
 * a user (`ctx.meta.userId`): a call relayed by another service, or one that reaches a node
 * without passing the gateway, meets the same check as an HTTP request. Calls without a user
 * are the system's own (events, jobs, the operator REPL) and pass. The gateway additionally
 * refuses an anonymous HTTP request to such an action (401), so "no user" never means "from outside".
 */
export const RolesMiddleware: Middleware = {
	name: "Roles",
	localAction(handler: Handler, action: { name?: string; roles?: string[] }) {
		const required = Array.isArray(action.roles) ? action.roles : [];
		if (required.length === 0) return handler;
		return function roleChecked(ctx: Context<unknown, Meta>) {
			if (ctx.meta?.userId && !hasRequiredRole(required, ctx.meta.roles)) return Promise.reject(forbidden());
			return handler(ctx);
		};
	}
} as Middleware;
