import type { BrokerOptions } from "moleculer";
import { config, type Config } from "./lib/config";
import { ErasureAckMiddleware } from "./lib/privacy/erasure";
import { captureError, flushErrorTracking, initErrorTracking } from "./lib/error-tracking";
import { flagsMiddleware } from "./lib/flags";
import { EXCLUDED_METRICS, opsMetricsMiddleware } from "./lib/metrics";
import { redisOptions } from "./lib/redis";
import { replCommands } from "./lib/repl-commands";
import { RequestScopeMiddleware, requestLogFields } from "./lib/request-scope";
import { RolesMiddleware } from "./lib/roles-guard";
import { gracefulShutdownMiddleware } from "./lib/shutdown";
import { ZodValidator } from "./lib/validator";
import { PACKAGE_VERSION } from "./lib/version";

/**
 * The broker's options, every knob taken from the typed config (lib/config.ts).
 * The same file configures the embedded single process and every cluster node.
 */
export function brokerOptions(c: Config = config()): BrokerOptions {
	const b = c.broker;
	return {
		// Nodes of one deployment share a namespace; tests give each run its own.
		namespace: c.namespace,
		nodeID: c.nodeId,

		// No transporter = embedded: every service in this process, nothing on the network.
		transporter: b.transporter ? { type: "Redis", options: redisOptions(b.transporter) } : undefined,

		// Memory cacher on one node; Redis when nodes must share cached results (e.g. the vision pass).
		cacher:
			b.cacher === null
				? undefined
				: b.cacher === "memory"
					? "Memory"
					: { type: "Redis", options: { prefix: `${c.namespace}-cache`, redis: redisOptions(b.cacher) } },

		// JSON (readable with MONITOR) extended with Buffers as base64, so image bytes cross nodes intact.
		serializer: "JSONExt",

		// A node silent for heartbeatTimeout is dropped at the next check (so within about twice that);
		// its endpoints leave the registry and calls go to the others.
		heartbeatInterval: b.heartbeatIntervalS,
		heartbeatTimeout: b.heartbeatTimeoutS,

		// Calls that hang are cut off; agents set tighter per-action timeouts.
		requestTimeout: b.requestTimeoutMs,

		// Only errors marked retryable (timeouts, unavailable nodes) are retried, with backoff.
		retryPolicy: {
			enabled: b.retries > 0,
			retries: b.retries,
			delay: 100,
			maxDelay: 2000,
			factor: 2,
			check: (err: Error) => Boolean((err as { retryable?: boolean }).retryable)
		},

		// A failing endpoint is skipped for halfOpenTime once its failure rate passes threshold.
		circuitBreaker: {
			enabled: b.circuitBreaker.enabled,
			threshold: b.circuitBreaker.threshold,
			minRequestCount: b.circuitBreaker.minRequestCount,
			windowTime: b.circuitBreaker.windowTime,
			halfOpenTime: b.circuitBreaker.halfOpenTime,
			// Client errors (4xx) are the caller's fault, not the node's.
			check: (err: Error) => {
				const code = (err as { code?: unknown }).code;
				return !(typeof code === "number" && code >= 400 && code < 500);
			}
		},

		// Bounds concurrent executions per action so a burst queues instead of exhausting memory.
		bulkhead: {
			enabled: b.bulkhead.enabled,
			concurrency: b.bulkhead.concurrency,
			maxQueueSize: b.bulkhead.maxQueueSize
		},

		registry: {
			strategy: b.strategy,
			// Prefer an endpoint on this node when one exists (saves a Redis round trip).
			preferLocal: true
		},

		// Waits for in-flight requests before a node leaves (rolling restarts).
		tracking: { enabled: true, shutdownTimeout: b.shutdownTimeoutMs },

		// `npm run repl`: Moleculer's REPL plus LifeMirror's operator commands (lm-config, lm-ready).
		replOptions: { delimiter: "lifemirror $", customCommands: replCommands },

		// Log lines inside an action carry the request id, on whichever node it runs.
		// …and every `user.erased` handler reports to the privacy service when its data is gone (lib/privacy/erasure.ts).
		// …and an action's `roles` are checked where it runs, for every call that carries a user (lib/roles-guard.ts).
		// …and every node exports its event-loop delay (lib/metrics.ts).
		// …and on SIGTERM the node drains, then hands back what still runs (lib/shutdown.ts).
		middlewares: [RequestScopeMiddleware, ErasureAckMiddleware, RolesMiddleware, opsMetricsMiddleware(), flagsMiddleware(() => c.flags), gracefulShutdownMiddleware(() => b.shutdownTimeoutMs)],

		// zod validates action params: `input: z.object(...)` on an action.
		validator: new ZodValidator(),

		// Built-in metrics; the gateway renders them in the Prometheus format at GET /metrics.
		metrics: {
			enabled: b.metrics,
			// Process metrics (memory, CPU) on every node, tests included (Moleculer turns them off under NODE_ENV=test).
			collectProcessMetrics: true,
			// Worker nodes have no gateway: Moleculer's Prometheus reporter serves their metrics on a port of their own.
			reporter: b.metrics && b.metricsPort ? [{ type: "Prometheus", options: { port: b.metricsPort, path: "/metrics", excludes: EXCLUDED_METRICS } }] : undefined
		},

		// Spans per action call; exported to the logs when switched on.
		tracing: {
			enabled: b.tracing,
			exporter: b.tracing ? [{ type: "Console", options: { logger: null } }] : undefined
		},

		// pino writes JSON lines (cluster, production); the console logger reads better in dev.
		logger:
			b.logFormat === "json"
				? {
						type: "Pino",
						options: {
							level: b.logLevel,
							pino: {
								options: {
									// Every line written while serving a request carries its id.
									mixin: requestLogFields,
									redact: {
										paths: ["*.password", "*.access_token", "*.refresh_token", "*.authorization", "*.secret"],
										censor: "[redacted]"
									}
								}
							}
						}
					}
				: { type: "Console", options: { level: b.logLevel, colors: true, moduleColors: false, formatter: "short" } },

		// Unexpected errors to Sentry when SENTRY_DSN is set: the gateway sends its 5xx; here, event handlers' errors.
		created() {
			initErrorTracking({ dsn: c.errorTracking.dsn, environment: c.env, release: `lifemirror@${PACKAGE_VERSION}` });
		},
		async stopped() {
			await flushErrorTracking();
		},
		errorHandler(err, info) {
			const i = info as { event?: { name?: string }; ctx?: { requestID?: string | null } };
			if (i.event) captureError(err, { event: i.event.name, requestId: i.ctx?.requestID, nodeId: this.nodeID });
			throw err;
		}
	};
}

export default brokerOptions();
