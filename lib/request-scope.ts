import { AsyncLocalStorage } from "node:async_hooks";
import type { Context, Middleware } from "moleculer";

/** The request being served, so every log line written while serving it names it. */
const scope = new AsyncLocalStorage<{ requestId: string }>();

export function runInRequest<T>(requestId: string, fn: () => T): T {
	return scope.run({ requestId }, fn);
}

/** `{requestId}` for the pino logger's mixin; empty outside a request. */
export function requestLogFields(): { requestId?: string } {
	const s = scope.getStore();
	return s ? { requestId: s.requestId } : {};
}

/** Carries ctx.requestID (which crosses the transporter) into the async scope of each local action. */
export const RequestScopeMiddleware: Middleware = {
	name: "RequestScope",
	localAction(handler: (ctx: Context) => unknown) {
		return function requestScoped(ctx: Context) {
			return ctx.requestID ? runInRequest(ctx.requestID, () => handler(ctx)) : handler(ctx);
		};
	}
} as Middleware;
