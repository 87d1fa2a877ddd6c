import { randomUUID } from "node:crypto";
import Redis from "ioredis";
import { Errors, ServiceBroker, type BrokerOptions, type Context } from "moleculer";
import { z } from "zod";
import { loadConfig } from "../../lib/config";
import { ClientError, RetryableError } from "../../lib/errors";
import { RequestScopeMiddleware, requestLogFields } from "../../lib/request-scope";
import { ZodValidator } from "../../lib/validator";
import { brokerOptions } from "../../moleculer.config";

const opts = (env: Record<string, string> = {}) => brokerOptions(loadConfig(env));

type Check = (err: Error) => boolean;
const cbCheck = (o: BrokerOptions) => (o.circuitBreaker as { check: Check }).check;
const retryCheck = (o: BrokerOptions) => (o.retryPolicy as { check: Check }).check;

describe("brokerOptions: embedded defaults", () => {
	const o = opts({ NODE_ID: "node-1", NAMESPACE: "ns1" });

	it("has no transporter, a memory cacher, JSON serializer, this node's id and namespace", () => {
		expect(o.transporter).toBeUndefined();
		expect(o.cacher).toBe("Memory");
		expect(o.serializer).toBe("JSONExt");
		expect(o.nodeID).toBe("node-1");
		expect(o.namespace).toBe("ns1");
	});

	it("validates with zod and scopes logs to the request", () => {
		expect(o.validator).toBeInstanceOf(ZodValidator);
		expect(o.middlewares).toContain(RequestScopeMiddleware);
	});

	it("maps timeouts, heartbeats, bulkhead and strategy from the config defaults", () => {
		expect(o.requestTimeout).toBe(30_000);
		expect(o.heartbeatInterval).toBe(5);
		expect(o.heartbeatTimeout).toBe(15);
		expect(o.bulkhead).toEqual({ enabled: true, concurrency: 32, maxQueueSize: 5000 });
		expect(o.registry).toMatchObject({ strategy: "RoundRobin", preferLocal: true });
		expect(o.tracking).toMatchObject({ enabled: true });
		expect(o.circuitBreaker).toMatchObject({ enabled: true, threshold: 0.5, minRequestCount: 20, windowTime: 60, halfOpenTime: 10_000 });
		expect(o.retryPolicy).toMatchObject({ enabled: true, retries: 2 });
		expect(o.tracing).toMatchObject({ enabled: false });
	});

	it("logs with the console logger (pretty) in development", () => {
		expect(o.logger).toMatchObject({ type: "Console", options: { level: "info" } });
	});
});

describe("brokerOptions: mapping of each knob", () => {
	it("a redis:// TRANSPORTER becomes a Redis transporter object with parsed connection options", () => {
		const o = opts({ TRANSPORTER: "rediss://app:p%40ss@redis.internal:6380/3" });
		expect(o.transporter).toEqual({
			type: "Redis",
			options: { host: "redis.internal", port: 6380, username: "app", password: "p@ss", db: 3, tls: {} }
		});
		expect(opts({ TRANSPORTER: "redis://127.0.0.1:6379" }).transporter).toEqual({
			type: "Redis",
			options: { host: "127.0.0.1", port: 6379, username: undefined, password: undefined, db: 0, tls: undefined }
		});
		expect(opts({ TRANSPORTER: "none" }).transporter).toBeUndefined();
	});

	it("CACHER: memory -> Memory, redis URL -> Redis with a namespaced prefix, none -> no cacher", () => {
		expect(opts({ CACHER: "memory" }).cacher).toBe("Memory");
		expect(opts({ CACHER: "none" }).cacher).toBeUndefined();
		expect(opts({ CACHER: "redis://cache:6379/1", NAMESPACE: "prod" }).cacher).toEqual({
			type: "Redis",
			options: { prefix: "prod-cache", redis: expect.objectContaining({ host: "cache", port: 6379, db: 1 }) }
		});
	});

	it("circuit breaker and its settings", () => {
		const o = opts({ CIRCUIT_BREAKER: "false", CB_THRESHOLD: "0.25", CB_MIN_REQUESTS: "5", CB_WINDOW_S: "30", CB_HALF_OPEN_MS: "500" });
		expect(o.circuitBreaker).toMatchObject({ enabled: false, threshold: 0.25, minRequestCount: 5, windowTime: 30, halfOpenTime: 500 });
	});

	it("the circuit breaker counts server failures, never 4xx client errors", () => {
		const check = cbCheck(opts());
		expect(check(new ClientError("NOT_FOUND", "x"))).toBe(false);
		expect(check(new ClientError("VALIDATION", "x"))).toBe(false);
		expect(check(new ClientError("RATE_LIMITED", "x"))).toBe(false);
		expect(check(new Errors.ValidationError("bad", "VALIDATION_ERROR", []))).toBe(false);
		expect(check(new Errors.MoleculerClientError("teapot", 418))).toBe(false);
		expect(check(new Error("boom"))).toBe(true);
		expect(check(new Errors.MoleculerServerError("db down", 500, "DB"))).toBe(true);
		expect(check(new Errors.RequestTimeoutError({ action: "a.b", nodeID: "n" }))).toBe(true);
		expect(check(new RetryableError("AGENT_FAILED", "x"))).toBe(true);
		// Errors that crossed Redis arrive as plain objects.
		expect(check({ name: "MoleculerClientError", message: "x", code: 404 } as Error)).toBe(false);
		expect(check({ name: "MoleculerError", message: "x", code: 500 } as Error)).toBe(true);
	});

	it("retries only retryable errors, and only when RETRIES > 0", () => {
		const o = opts({ RETRIES: "4" });
		expect(o.retryPolicy).toMatchObject({ enabled: true, retries: 4 });
		const check = retryCheck(o);
		expect(check(new RetryableError("AGENT_TIMEOUT", "x"))).toBe(true);
		expect(check(new Errors.RequestTimeoutError({ action: "a.b", nodeID: "n" }))).toBe(true);
		expect(check(new Errors.ServiceNotAvailableError({ action: "a.b", nodeID: "n" }))).toBe(true);
		expect(check(new ClientError("CONFLICT", "x"))).toBe(false);
		expect(check(new Errors.ValidationError("bad", "VALIDATION_ERROR", []))).toBe(false);
		expect(check(new Error("boom"))).toBe(false);
		expect(check({ message: "over the wire", retryable: true } as unknown as Error)).toBe(true);
		expect(opts({ RETRIES: "0" }).retryPolicy).toMatchObject({ enabled: false, retries: 0 });
	});

	it("metrics and tracing follow their flags", () => {
		expect(opts({ METRICS: "true" }).metrics).toMatchObject({ enabled: true, collectProcessMetrics: true, reporter: undefined });
		expect(opts({ METRICS: "false" }).metrics).toMatchObject({ enabled: false });
		// A worker (no gateway) serves its metrics on METRICS_PORT with Moleculer's Prometheus reporter.
		expect(opts({ METRICS_PORT: "3030" }).metrics).toMatchObject({ enabled: true, reporter: [{ type: "Prometheus", options: { port: 3030, path: "/metrics", excludes: ["process.arguments"] } }] });
		expect(opts({ METRICS: "false", METRICS_PORT: "3030" }).metrics).toMatchObject({ reporter: undefined });
		expect(opts({ TRACING: "true" }).tracing).toMatchObject({ enabled: true, exporter: [{ type: "Console" }] });
		expect(opts({ TRACING: "false" }).tracing).toMatchObject({ enabled: false, exporter: undefined });
	});

	it("bulkhead, strategy, timeouts and heartbeats from their variables", () => {
		const o = opts({
			BULKHEAD: "off",
			BULKHEAD_CONCURRENCY: "4",
			BULKHEAD_MAX_QUEUE: "9",
			LB_STRATEGY: "Latency",
			REQUEST_TIMEOUT_MS: "1234",
			HEARTBEAT_INTERVAL_S: "2",
			HEARTBEAT_TIMEOUT_S: "7"
		});
		expect(o.bulkhead).toEqual({ enabled: false, concurrency: 4, maxQueueSize: 9 });
		expect(o.registry).toMatchObject({ strategy: "Latency" });
		expect(o.requestTimeout).toBe(1234);
		expect(o.heartbeatInterval).toBe(2);
		expect(o.heartbeatTimeout).toBe(7);
	});

	it("LOG_FORMAT json (and cluster mode) -> Pino with the level, the request id mixin and redaction", () => {
		const envs: Record<string, string>[] = [
			{ LOG_FORMAT: "json", LOG_LEVEL: "debug" },
			{ TRANSPORTER: "redis://r:6379", LOG_LEVEL: "debug" }
		];
		for (const env of envs) {
			const logger = opts(env).logger as { type: string; options: { level: string; pino: { options: Record<string, any> } } };
			expect(logger.type).toBe("Pino");
			expect(logger.options.level).toBe("debug");
			expect(logger.options.pino.options.mixin).toBe(requestLogFields);
			expect(logger.options.pino.options.redact.paths).toEqual(
				expect.arrayContaining(["*.password", "*.access_token", "*.refresh_token", "*.authorization", "*.secret"])
			);
		}
		expect(opts({ LOG_FORMAT: "pretty", LOG_LEVEL: "warn" }).logger).toMatchObject({ type: "Console", options: { level: "warn" } });
	});
});

describe("brokerOptions drive a real broker", () => {
	it("embedded: starts, validates with zod, caches in memory, reports metrics", async () => {
		const broker = new ServiceBroker(opts({ NODE_ID: `cfg-${randomUUID()}`, LOG_FORMAT: "json", LOG_LEVEL: "fatal", METRICS: "true" }));
		let runs = 0;
		broker.createService({
			name: "echo",
			actions: {
				twice: {
					input: z.object({ n: z.number() }),
					cache: { keys: ["n"] },
					handler(ctx: Context<{ n: number }>) {
						runs++;
						return ctx.params.n * 2;
					}
				}
			}
		});
		await broker.start();
		try {
			expect(broker.isMetricsEnabled()).toBe(true);
			await expect(broker.call("echo.twice", { n: 2 })).resolves.toBe(4);
			await expect(broker.call("echo.twice", { n: 2 })).resolves.toBe(4);
			expect(runs).toBe(1);
			await expect(broker.call("echo.twice", { n: "2" })).rejects.toMatchObject({ type: "VALIDATION" });
		} finally {
			await broker.stop();
		}
	});

	it("cluster: joins the real Redis transporter and caches in Redis under the namespace prefix", async () => {
		const namespace = `lm-test-cfg-${randomUUID().slice(0, 8)}`;
		const env = {
			NAMESPACE: namespace,
			TRANSPORTER: "redis://127.0.0.1:6379",
			CACHER: "redis://127.0.0.1:6379",
			LOG_LEVEL: "fatal",
			METRICS: "false"
		};
		const a = new ServiceBroker(opts({ ...env, NODE_ID: `${namespace}-a` }));
		const b = new ServiceBroker(opts({ ...env, NODE_ID: `${namespace}-b` }));
		a.createService({
			name: "where",
			actions: {
				am: {
					cache: true,
					handler() {
						return this.broker.nodeID;
					}
				}
			}
		});
		const admin = new Redis("redis://127.0.0.1:6379");
		try {
			await Promise.all([a.start(), b.start()]);
			await b.waitForServices("where", 10_000);
			await expect(b.call("where.am")).resolves.toBe(`${namespace}-a`);
			expect(b.isMetricsEnabled()).toBe(false);
			const keys = await admin.keys(`${namespace}-cache*`);
			expect(keys.length).toBeGreaterThan(0);
		} finally {
			await Promise.all([a.stop(), b.stop()]);
			const keys = await admin.keys(`${namespace}*`);
			if (keys.length) await admin.del(...keys);
			admin.disconnect();
		}
	});
});
