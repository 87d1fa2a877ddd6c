import fs from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import { Errors, type ActionSchema, type Context, type ServiceSchema } from "moleculer";
import ApiGateway, { type ApiSettingsSchema } from "moleculer-web";
import { config, type Config } from "../lib/config";
import type { Server } from "node:http";
import { apiKeyOf, scopeAllows } from "../lib/apikeys";
import { hasRequiredRole } from "../lib/roles-guard";
import { ClientError, forbidden, rateLimited, unauthorized, validation } from "../lib/errors";
import {
	MAX_BODY_DEPTH,
	SECURITY_HEADERS,
	answerClientError,
	clientIp,
	nestedDeeperThan,
	renderError,
	requestIdOf,
	sendJson
} from "../lib/http";
import { captureError } from "../lib/error-tracking";
import { prometheusRenderer, recordHttp, registerHttpMetrics } from "../lib/metrics";
import { MemoryRateStore, RedisRateStore, type RateStore } from "../lib/rate-limit";
import { runInRequest } from "../lib/request-scope";
import { loadKeyRing, type KeyRing } from "../lib/tokens";
import type { Meta } from "../types/meta";
import type { ApiKeyPrincipal } from "./apikeys.service";

type Req = IncomingMessage & { $action?: ActionSchema; $requestId?: string; $params?: Record<string, unknown>; body?: unknown };

/**
 * The HTTP alias table: the only way in. `mappingPolicy: "restrict"` means an action that is
 * not listed here cannot be reached over HTTP (no agent.*, no $node.*, no db internals).
 */
export const ALIASES: Record<string, string> = {
	"GET /health": "api.health",
	"GET /ready": "api.ready",
	"GET /metrics": "api.metrics",
	"GET /openapi.json": "docs.openapi",
	"GET /docs": "docs.docs",
	"GET /docs/assets/:file": "docs.docsAsset",
	"GET /redoc": "docs.redoc",
	"GET /redoc/assets/:file": "docs.redocAsset",
	"GET /admin/flags": "flags.list",

	"POST /auth/register": "auth.register",
	"POST /auth/login": "auth.login",
	"POST /auth/refresh": "auth.refresh",
	"GET /auth/me": "users.me",
	"PATCH /auth/me": "users.updateMe",
	"DELETE /auth/me": "privacy.erase",
	"GET /privacy/consents": "consents.get",
	"PUT /privacy/consents": "consents.update",
	"POST /privacy/export": "privacy.export",
	"GET /privacy/export/:id": "privacy.exportStatus",
	"GET /privacy/erasure/:id": "privacy.erasureStatus",
	"POST /auth/api-keys": "apikeys.create",
	"GET /auth/api-keys": "apikeys.list",
	"DELETE /auth/api-keys/:id": "apikeys.revoke",
	"GET /admin/audit/verify": "audit.verify",
	"GET /admin/audit": "audit.list",
	"GET /admin/compliance/report": "audit.complianceReport",
	"GET /api/users/profile": "users.me",
	"PUT /api/users/profile": "users.updateProfile",

	"POST /media/upload": "multipart:media.upload",
	"POST /media/presign": "media.presign",
	"POST /media": "media.create",
	"GET /media": "media.list",
	"GET /media/:id": "media.get",
	"DELETE /media/:id": "media.remove",
	"PUT /storage/upload/*key": "stream:storage.receive",
	"GET /storage/*key": "storage.download",
	"GET /media/media/:id/perception": "media.perception",

	"POST /social/follow/:user_id": "follows.follow",
	"DELETE /social/follow/:user_id": "follows.unfollow",
	"GET /social/followers": "follows.followers",
	"GET /social/following": "follows.following",
	"GET /graph/social-graph": "graph.legacy",
	"GET /graph/:user_id": "graph.get",
	"GET /public/feed": "feed.list",
	"GET /public/leaderboard": "leaderboard.get",

	"GET /analysis/jobs/:id": "jobs.status",
	"GET /analysis/jobs/:id/events": "jobs.events",
	"POST /analysis/jobs/:id/cancel": "jobs.cancel",

	"GET /notifications": "notifications.list",
	"GET /notifications/stream": "notification_stream.stream",
	"POST /notifications/stream-token": "notification_stream.streamToken",
	"GET /notifications/preferences": "notifications.preferences",
	"PUT /notifications/preferences": "notifications.setPreferences",
	"POST /notifications/read-all": "notifications.readAll",
	"POST /notifications/:id/read": "notifications.read",
	"GET /notifications/notifications": "notifications.legacyList",
	"GET /notifications/notifications/unread": "notifications.legacyUnread",
	"PATCH /notifications/notifications/:id/mark-read": "notifications.legacyMarkRead",
	"POST /analysis/notifications/generate": "notifications.generate",

	"POST /analysis/analyze/bio": "analysis.bio",
	"POST /analysis/analyze": "analysis.analyze",
	"POST /analysis/analyze/enhanced": "analysis.enhanced",
	"POST /analysis/analyze/hybrid": "analysis.hybrid",
	"POST /analysis/full-analysis": "analysis.fullAnalysis",
	"POST /analysis/search": "search.query",
	"POST /analysis/compare": "comparisons.compare",
	"GET /analysis/celebrities": "comparisons.celebrities",
	"POST /analysis/compare-media": "vibe_comparison.compareMedia",
	"GET /compare/vibe-comparison": "vibe_comparison.compareMedia",
	"POST /compare/vibe-comparison/async": "vibe_comparison.vibeComparisonAsync",
	"GET /analysis/profile/comprehensive": "insights.profile",
	"POST /analysis/reverse-goal": "insights.reverseGoal",
	"GET /analysis/reverse-analysis": "insights.reverseAnalysis",
	"POST /analysis/reverse-analysis": "insights.reverseAnalysis",
	"GET /analysis/vibe-analysis": "insights.vibeAnalysis",
	"POST /analysis/vibe-analysis": "insights.vibeAnalysis",
	"GET /improvement/fixit-suggestions": "insights.fixitSuggestions",
	"GET /history/perception-history": "insights.history",
	"GET /history/:user_id": "insights.history",
	"GET /analysis/:media_id/history": "analysis.history",
	"GET /analysis/analysis/:media_id/history": "analysis.history",
	"GET /analysis/:id": "analysis.get"
};

/**
 * The demo page (public/: index.html at `/`, its files under `/assets/`), served by moleculer-web's
 * static handler only when no alias matched: the API route keeps `mappingPolicy: "restrict"`, and
 * the alias table (so the OpenAPI document) holds only the API. Found from services/ and dist/services/.
 */
const PUBLIC_DIR = [path.join(__dirname, "..", "public"), path.join(__dirname, "..", "..", "public")].find(d => fs.existsSync(path.join(d, "index.html")));
/** The page runs only its own files: no inline script or style, no other origin (images: signed S3 URLs too). */
export const PAGE_CSP =
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data: https:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** Services the gateway needs before it reports ready. */
const REQUIRED_SERVICES = ["users", "auth"];

interface Methods {
	identify(ctx: Context<unknown, Meta>, req: Req): Promise<void>;
	limit(ctx: Context<unknown, Meta>, req: Req, res: ServerResponse): Promise<void>;
}

interface Vars {
	keys: KeyRing;
	rateLimits: Config["rateLimits"];
	trustProxy: boolean;
	rateStore: RateStore;
	renderMetrics: () => string;
}

/**
 * The settings that come from the config. `merged` applies them when a service is created, not
 * when this module loads, so each node in a process (tests, in-process restarts) serves its own.
 */
function configuredSettings(c: Config): Partial<ApiSettingsSchema> {
	const wildcardCors = c.http.corsOrigins.includes("*");
	return {
		port: c.http.port,
		ip: c.http.host,
		// Preflights answer on every path, the 404s included.
		cors: c.http.corsOrigins.length
			? {
					origin: wildcardCors ? "*" : c.http.corsOrigins,
					methods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
					allowedHeaders: ["Content-Type", "Authorization", "X-Request-Id", "Prefer"],
					exposedHeaders: ["X-Request-Id", "Retry-After"],
					credentials: !wildcardCors,
					maxAge: 600
				}
			: undefined
	};
}

function configuredRoute(c: Config) {
	return {
		bodyParsers: { json: { strict: true, limit: c.http.bodyLimitBytes }, urlencoded: false },
		// One file per multipart upload, cut off at the size limit (the action sees the stream end early).
		busboyConfig: { limits: { files: 1, fileSize: c.media.maxUploadBytes, fields: 10, fieldSize: 64 * 1024, parts: 12 } },
		callOptions: { timeout: c.broker.requestTimeoutMs }
	};
}

const ApiService: ServiceSchema<ApiSettingsSchema, Methods, Vars> = {
	name: "api",
	mixins: [ApiGateway],

	settings: {
		logRequest: "debug",
		logResponse: "debug",
		log4XXResponses: false,
		// GET/HEAD of a path no alias matched: a file of public/ or the usual 404 (no directory listing, redirect or dotfile).
		assets: PUBLIC_DIR
			? { folder: PUBLIC_DIR, options: { index: "index.html", redirect: false, dotfiles: "ignore", setHeaders: (res: ServerResponse) => res.setHeader("Content-Security-Policy", PAGE_CSP) } }
			: undefined,
		routes: [
			{
				path: "/",
				mappingPolicy: "restrict",
				autoAliases: false,
				aliases: ALIASES,
				mergeParams: true,
				async onBeforeCall(this: never, ctx: Context<unknown, Meta>, _route: unknown, req: Req, res: ServerResponse, alias?: { type?: string }) {
					const self = this as unknown as Methods;
					ctx.meta.requestId = req.$requestId;
					const method = req.method ?? "GET";
					// Who is calling comes first: an anonymous caller learns nothing about a protected route.
					await self.identify(ctx, req);
					// The params are parsed: a token in the query string (EventSource streams) leaves the URL moleculer-web logs.
					for (const key of ["url", "originalUrl"] as const) {
						const u = (req as Req & { originalUrl?: string })[key];
						if (typeof u === "string" && /[?&](token|access_token)=/.test(u)) (req as Req & Record<string, string>)[key] = u.replace(/([?&](?:token|access_token)=)[^&]*/g, "$1[redacted]");
					}
					if (alias?.type === "multipart") {
						if (!/^multipart\/form-data\s*;/i.test(req.headers["content-type"] ?? ""))
							throw new ClientError("UNSUPPORTED_MEDIA_TYPE", "Content-Type must be multipart/form-data with the file in field `file`");
					} else if (alias?.type !== "stream" && ["POST", "PUT", "PATCH"].includes(method) && hasBody(req) && !isJson(req))
						throw new ClientError("UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json");
					await self.limit(ctx, req, res);
					// A body is one JSON object of bounded depth (arrays would merge into params as "0", "1", …).
					if (Array.isArray(req.body)) throw validation([{ field: "(body)", message: "must be a JSON object" }]);
					if (nestedDeeperThan(req.body, MAX_BODY_DEPTH))
						throw validation([{ field: "(body)", message: `must not nest deeper than ${MAX_BODY_DEPTH} levels` }]);
					// `Prefer: respond-async` (RFC 7240) = `?async=true`: set on the params the action receives (headers never reach actions, ctx.meta stays as it is).
					if (req.$action?.name === "analysis.analyze" && req.$params && /(^|[\s,])respond-async\s*(,|;|$)/i.test(String(req.headers.prefer ?? ""))) req.$params.async = true;
				}
			}
		],
		onError(this: never, req: IncomingMessage, res: ServerResponse, err: Error) {
			// moleculer-web's multipart handler reports a form without a file as a bare client error.
			if (err?.message === "File missing in the request")
				err = new ClientError("VALIDATION", "A file is required in field `file`", { validation_errors: [{ field: "file", message: "required" }] });
			// A broken multipart body (the parser's own errors: no boundary, truncated, bad part header) is the client's.
			else if ((req as Req & { $alias?: { type?: string } }).$alias?.type === "multipart" && !(err instanceof Errors.MoleculerError))
				err = new ClientError("BAD_REQUEST", "Malformed multipart/form-data body", { reason: String(err?.message ?? "").slice(0, 100) });
			const { status, body } = renderError(err as never);
			const svc = this as unknown as { logger: { error(...a: unknown[]): void }; broker: { nodeID: string } };
			if (status >= 500) {
				svc.logger.error(`${req.method} ${req.url?.split("?")[0]} failed:`, err);
				captureError(err, { requestId: (req as Req).$requestId, nodeId: svc.broker.nodeID, action: (req as Req).$action?.name });
			}
			const retry = body.details.retry_after;
			sendJson(res, status, body, typeof retry === "number" ? { "Retry-After": String(retry) } : {});
		}
	},

	merged(schema) {
		const c = config();
		const settings = schema.settings as ApiSettingsSchema;
		Object.assign(settings, configuredSettings(c));
		for (const route of settings.routes ?? []) Object.assign(route, configuredRoute(c));
	},

	actions: {
		// moleculer-web's request handler must never be retried as a whole: the calls it makes
		// carry their own retry policy, and a replayed POST (register, refresh) is not idempotent.
		// Nor bulkheaded: open connections already bound it, and shedding here would turn a burst of
		// reads into 503s before the actions behind it (which keep their own bulkheads) are even busy.
		rest: { retryPolicy: { enabled: false }, bulkhead: { enabled: false } },

		/** GET /health — liveness: the process answers. */
		health: { auth: "none", handler: () => ({ status: "ok" }) },

		/** GET /ready — broker started, transporter connected, required services and their stores reachable. */
		ready: {
			auth: "none",
			async handler(ctx: Context<unknown, Meta & { $statusCode?: number }>) {
				const transit = this.broker.transit;
				const checks: Record<string, boolean> = {
					broker: this.broker.started === true,
					transporter: !transit || transit.connected
				};
				const available = new Set(this.broker.registry.getServiceList({ onlyAvailable: true }).map(s => s.name));
				for (const name of REQUIRED_SERVICES) checks[`service:${name}`] = available.has(name);
				const probes = this.broker.registry
					.getActionList({ onlyAvailable: true, skipInternal: true })
					.map((a: { name: string }) => a.name)
					.filter((n: string) => n.endsWith(".dbHealth"));
				await Promise.all(
					[...new Set<string>(probes)].map(async name => {
						try {
							await ctx.call(name, {}, { timeout: 2000, retries: 0 });
							checks[`db:${name.split(".")[0]}`] = true;
						} catch {
							checks[`db:${name.split(".")[0]}`] = false;
						}
					})
				);
				const ready = Object.values(checks).every(Boolean);
				if (!ready) ctx.meta.$statusCode = 503;
				return { status: ready ? "ready" : "not_ready", checks };
			}
		},

		/** GET /metrics — this node's metrics in the Prometheus text format. */
		metrics: {
			auth: "none",
			handler(ctx: Context<unknown, { $responseType?: string }>) {
				ctx.meta.$responseType = "text/plain; version=0.0.4; charset=utf-8";
				return this.renderMetrics();
			}
		}
	},

	methods: {
		/** Every request passes here first: request id, security headers, a log scope. */
		httpHandler(req: Req, res: ServerResponse, next?: () => void) {
			const id = requestIdOf(req);
			req.headers["x-request-id"] = id;
			req.$requestId = id;
			res.setHeader("X-Request-Id", id);
			for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
			if (this.broker.isMetricsEnabled()) {
				const started = process.hrtime.bigint();
				res.once("finish", () => {
					const alias = (req as Req & { $alias?: { method?: string; path?: string } }).$alias;
					const route = alias?.path !== undefined ? `/${alias.path}`.replace(/^\/\//, "/") : "unmatched";
					recordHttp(this.broker.metrics, req.method ?? "GET", route, res.statusCode, Number(process.hrtime.bigint() - started) / 1e9);
				});
			}
			return runInRequest(id, () => ApiGateway.methods!.httpHandler.call(this, req, res, next));
		},

		/** Bearer token or API key → ctx.meta.userId/roles; the action's `auth` policy decides if one is needed. */
		async identify(ctx, req) {
			const policy = req.$action?.auth ?? "required";
			const header = req.headers.authorization;
			const apiKey = apiKeyOf(req.headers);
			const token = !apiKey && typeof header === "string" && /^Bearer\s+/i.test(header) ? header.replace(/^Bearer\s+/i, "").trim() : null;
			if (apiKey && policy !== "none") {
				// A key acts for its owner with no roles, within its scopes (lib/apikeys.ts); open routes ignore it.
				const principal = (await ctx.call("apikeys.authenticate", { key: apiKey }).catch((err: { type?: string }) => {
					// A deployment without the apikeys service accepts no keys: the caller's credential is what fails.
					throw err?.type === "SERVICE_NOT_FOUND" ? new ClientError("INVALID_TOKEN", "Invalid API key") : err;
				})) as ApiKeyPrincipal;
				if (!scopeAllows(principal.scopes, req.method ?? "GET", req.$action?.name)) throw forbidden("This API key's scopes do not allow this request");
				ctx.meta.userId = principal.user_id;
				ctx.meta.roles = [];
			}
			if (token) {
				try {
					const claims = await this.keys.verify(token, "access");
					ctx.meta.userId = claims.sub;
					ctx.meta.roles = Array.isArray(claims.roles) ? claims.roles.map(String) : [];
				} catch (err) {
					if (policy !== "none") throw err;
				}
			}
			// An action that needs a role needs a user (the roles middleware lets user-less internal calls pass);
			// the role is checked here too, so a refused caller learns nothing from param validation either.
			if ((policy === "required" || req.$action?.roles?.length) && !ctx.meta.userId) throw unauthorized();
			if (!hasRequiredRole(req.$action?.roles, ctx.meta.roles)) throw forbidden();
		},

		/** Fixed-window limit per rate class: per user when signed in, per IP for open actions. */
		async limit(ctx, req, res) {
			const action = req.$action;
			const cls = action?.rateClass ?? "default";
			const rule = this.rateLimits[cls] ?? this.rateLimits.default;
			const who = action?.auth === "none" || !ctx.meta.userId ? `ip:${clientIp(req, this.trustProxy)}` : `user:${ctx.meta.userId}`;
			const hit = await this.rateStore.hit(`${cls}:${who}`, rule.windowS);
			res.setHeader("X-RateLimit-Limit", String(rule.limit));
			res.setHeader("X-RateLimit-Remaining", String(Math.max(0, rule.limit - hit.count)));
			if (hit.count > rule.limit) throw rateLimited(hit.resetMs / 1000);
		}
	},

	created() {
		// This node's config, not the module's first one: two gateways in one process (tests) differ.
		const cfg = config();
		this.keys = loadKeyRing(cfg);
		this.rateLimits = cfg.rateLimits;
		this.trustProxy = cfg.http.trustProxy;
		this.rateStore = cfg.redis.url ? new RedisRateStore(cfg.redis.url, `${cfg.namespace}:rl`) : new MemoryRateStore();
		this.renderMetrics = prometheusRenderer(this.broker.metrics);
		if (this.broker.isMetricsEnabled()) registerHttpMetrics(this.broker.metrics);
		(this as unknown as { server?: Server }).server?.on("clientError", answerClientError);
	},

	async stopped() {
		await this.rateStore.close();
	}
};

function hasBody(req: IncomingMessage): boolean {
	const len = req.headers["content-length"];
	return (len !== undefined && len !== "0") || req.headers["transfer-encoding"] !== undefined;
}

function isJson(req: IncomingMessage): boolean {
	return /^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i.test(req.headers["content-type"] ?? "");
}

export default ApiService;
