import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { flagList } from "./flags";

/**
 * The one reader of `process.env`. Every knob of LifeMirror is declared here once,
 * validated with zod at start-up and handed out as a frozen, typed object.
 * A bad value stops the process with a message that names the variable.
 */

const bool = (def: boolean) =>
	z
		.enum(["true", "false", "1", "0", "yes", "no", "on", "off"], {
			error: "must be true or false"
		})
		.default(def ? "true" : "false")
		.transform(v => ["true", "1", "yes", "on"].includes(v));

const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
	z.coerce.number().int().min(min).max(max).default(def);

const num = (def: number, min: number, max: number) => z.coerce.number().min(min).max(max).default(def);

const list = z
	.string()
	.optional()
	.transform(v =>
		(v ?? "")
			.split(",")
			.map(s => s.trim())
			.filter(Boolean)
	);

const redisUrl = z.string().regex(/^rediss?:\/\//, "must be a redis:// or rediss:// URL");

/** `class=count/seconds` pairs, e.g. `auth=10/60,public=100/60`. */
const rateLimitList = z
	.string()
	.optional()
	.transform((v, ctx) => {
		const out: Record<string, RateLimit> = {};
		for (const part of (v ?? "").split(",").map(s => s.trim()).filter(Boolean)) {
			const m = /^([a-z][a-z0-9_-]*)=(\d+)\/(\d+)$/.exec(part);
			if (!m) {
				ctx.addIssue({ code: "custom", message: `"${part}" is not class=count/seconds` });
				return z.NEVER;
			}
			out[m[1]] = { limit: Number(m[2]), windowS: Number(m[3]) };
		}
		return out;
	});

/** `kid:secret` pairs; the first signs, all verify (so keys rotate without logging anyone out). */
const jwtKeyList = z
	.string()
	.optional()
	.transform((v, ctx) => {
		const keys: JwtKey[] = [];
		for (const part of (v ?? "").split(",").map(s => s.trim()).filter(Boolean)) {
			const i = part.indexOf(":");
			const kid = part.slice(0, i);
			const secret = part.slice(i + 1);
			if (i < 1 || !/^[A-Za-z0-9._-]{1,64}$/.test(kid) || secret.length < 32) {
				ctx.addIssue({
					code: "custom",
					message: "each entry must be kid:secret with a secret of at least 32 characters"
				});
				return z.NEVER;
			}
			keys.push({ kid, secret });
		}
		return keys;
	});

const EnvSchema = z.object({
	NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
	NODE_ID: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).optional(),
	NAMESPACE: z.string().regex(/^[A-Za-z0-9._-]{0,64}$/).default("lifemirror"),
	ROLE: z.enum(["all", "gateway", "worker"]).default("all"),
	SERVICES: list,

	PORT: int(8000, 0, 65535),
	HOST: z.string().default("0.0.0.0"),
	PUBLIC_URL: z.url().optional(),
	CORS_ALLOW_ORIGINS: z.string().optional(),
	BODY_LIMIT_BYTES: int(1024 * 1024, 1024, 64 * 1024 * 1024),
	TRUST_PROXY: bool(false),

	TRANSPORTER: z.union([redisUrl, z.literal("none"), z.literal("")]).optional(),
	CACHER: z.union([redisUrl, z.enum(["memory", "none"])]).default("memory"),
	REDIS_URL: redisUrl.optional(),
	REQUEST_TIMEOUT_MS: int(30_000, 0),
	RETRIES: int(2, 0, 10),
	CIRCUIT_BREAKER: bool(true),
	CB_THRESHOLD: num(0.5, 0.01, 1),
	CB_MIN_REQUESTS: int(20, 1),
	CB_WINDOW_S: int(60, 1),
	CB_HALF_OPEN_MS: int(10_000, 100),
	BULKHEAD: bool(true),
	BULKHEAD_CONCURRENCY: int(32, 1),
	BULKHEAD_MAX_QUEUE: int(5000, 0),
	LB_STRATEGY: z.enum(["RoundRobin", "Random", "CpuUsage", "Latency", "Shard"]).default("RoundRobin"),
	HEARTBEAT_INTERVAL_S: int(5, 1),
	HEARTBEAT_TIMEOUT_S: int(15, 2),
	SHUTDOWN_TIMEOUT_MS: int(25_000, 0, 10 * 60_000),
	METRICS: bool(true),
	METRICS_PORT: int(0, 0, 65535),
	FLAGS: flagList,
	SENTRY_DSN: z.url({ protocol: /^https?$/ }).optional(),

	// Retention (0 = keep forever): enforced by the retention service's sweep.
	RETENTION_ORIGINALS_DAYS: int(0, 0, 36_500),
	RETENTION_ANALYSES_MONTHS: int(0, 0, 1200),
	RETENTION_INACTIVE_MONTHS: int(0, 0, 1200),
	RETENTION_NOTICE_DAYS: int(30, 1, 365),
	RETENTION_SWEEP_S: int(24 * 3600, 0, 30 * 24 * 3600),
	TRACING: bool(false),
	LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace"]).default("info"),
	LOG_FORMAT: z.enum(["json", "pretty"]).optional(),

	DATA_DIR: z.string().min(1).default("./data"),
	MONGO_URI: z.string().regex(/^mongodb(\+srv)?:\/\//, "must be a mongodb:// URL").optional(),
	MONGO_DB: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default("lifemirror"),

	JWT_KEYS: jwtKeyList,
	ACCESS_TOKEN_TTL_S: int(30 * 60, 10),
	REFRESH_TOKEN_TTL_S: int(14 * 24 * 3600, 60),
	ARGON2_MEMORY_KIB: int(19 * 1024, 1024, 1024 * 1024),
	ARGON2_TIME_COST: int(2, 1, 20),
	LOGIN_MAX_FAILURES: int(5, 1),
	LOGIN_FAILURE_WINDOW_S: int(15 * 60, 1),
	LOGIN_LOCKOUT_S: int(15 * 60, 1),

	RATE_LIMITS: rateLimitList,

	STORAGE: z.enum(["local", "s3"]).default("local"),
	STORAGE_SIGNING_SECRET: z.string().min(32).optional(),
	S3_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be a valid bucket name").optional(),
	S3_REGION: z.string().default("us-east-1"),
	S3_ENDPOINT: z.url().optional(),
	S3_FORCE_PATH_STYLE: bool(false),
	S3_ACCESS_KEY_ID: z.string().optional(),
	S3_SECRET_ACCESS_KEY: z.string().optional(),
	SIGNED_URL_TTL_S: int(15 * 60, 10, 7 * 24 * 3600),
	PRESIGN_TTL_S: int(10 * 60, 10, 24 * 3600),
	MAX_UPLOAD_MB: num(50, 0.001, 2048),
	MAX_IMAGE_PIXELS: int(50_000_000, 1),
	IMAGE_MAX_EDGE: int(2048, 64, 16384),
	THUMBNAIL_EDGE: int(320, 16, 2048),
	VIDEO_MAX_DURATION_S: int(120, 1),
	VIDEO_KEYFRAMES: int(5, 1, 30),
	MEDIA_QUOTA_COUNT: int(1000, 1),
	MEDIA_QUOTA_MB: num(2048, 1, 10_000_000),

	AGENT_TIMEOUT_MS: int(20_000, 100),
	VISION_PROVIDER: z.enum(["local", "facepp", "openai"]).default("local"),
	VISION_THREADS: int(Math.max(1, os.availableParallelism?.() ?? os.cpus().length), 1, 64),
	VISION_TIMEOUT_MS: int(10_000, 100),
	FACEPP_API_KEY: z.string().optional(),
	FACEPP_API_SECRET: z.string().optional(),
	FACEPP_URL: z.url().default("https://api-us.faceplusplus.com/facepp/v3/detect"),
	OPENAI_API_KEY: z.string().optional(),
	OPENAI_BASE_URL: z.url().default("https://api.openai.com/v1"),
	VISION_OPENAI_MODEL: z.string().default("gpt-4o-mini"),

	LLM_PROVIDER: z.enum(["local", "openai"]).default("local"),
	LLM_BASE_URL: z.url().optional(),
	LLM_API_KEY: z.string().optional(),
	LLM_MODEL: z.string().default("gpt-4o-mini"),
	LLM_TIMEOUT_MS: int(15_000, 100),
	LLM_MAX_ATTEMPTS: int(3, 1, 10),
	MODERATION_PROVIDER: z.enum(["none", "openai"]).default("none"),
	MODERATION_MODEL: z.string().default("omni-moderation-latest"),

	JOB_CONCURRENCY: int(2, 1, 256),
	JOB_ATTEMPTS: int(3, 1, 50),
	JOB_BACKOFF_MS: int(1000, 0, 3_600_000),
	JOB_KEEP_FAILED: int(1000, 0, 1_000_000),
	JOB_LOCK_MS: int(30_000, 1000, 3_600_000),
	JOB_STALLED_INTERVAL_MS: int(15_000, 500, 3_600_000),
	ANALYSIS_IDEMPOTENCY_S: int(600, 0, 7 * 24 * 3600),

	// Social layer: feed, leaderboard, social graph.
	SOCIAL_GRAPH_MIN_PUBLIC_USERS: int(25, 1, 1_000_000),
	LEADERBOARD_REFRESH_S: int(300, 1, 24 * 3600),
	SOCIAL_CACHE_TTL_S: int(30, 1, 3600),

	// Privacy: consents, exports, erasures.
	POLICY_VERSION: z.string().regex(/^[A-Za-z0-9._-]{1,32}$/).default("2026-01"),
	EXPORT_URL_TTL_S: int(3600, 60, 7 * 24 * 3600),
	ERASURE_RETRY_S: int(60, 1, 24 * 3600),

	// Notifications.
	NOTIFICATION_SWEEP_S: int(6 * 3600, 0, 30 * 24 * 3600),
	NOTIFICATION_STREAM_TOKEN_TTL_S: int(60, 5, 3600),

	// Security: admins, API keys.
	ADMIN_EMAILS: list,
	API_KEY_MAX_ACTIVE: int(10, 1, 1000),
	API_KEY_DEFAULT_TTL_DAYS: int(90, 1, 3650),
	API_KEY_CACHE_TTL_S: int(30, 1, 3600)
});

export type Env = z.input<typeof EnvSchema>;
export interface RateLimit {
	limit: number;
	windowS: number;
}
export interface JwtKey {
	kid: string;
	secret: string;
}
export type Role = "all" | "gateway" | "worker";

/** Rate classes an action can declare; `RATE_LIMITS` overrides any of them. */
export const DEFAULT_RATE_LIMITS: Record<string, RateLimit> = {
	default: { limit: 600, windowS: 60 },
	auth: { limit: 10, windowS: 60 },
	public: { limit: 100, windowS: 60 },
	upload: { limit: 10, windowS: 3600 },
	bio: { limit: 20, windowS: 3600 },
	analyze: { limit: 10, windowS: 3600 },
	enhanced: { limit: 5, windowS: 3600 },
	search: { limit: 50, windowS: 3600 },
	compare: { limit: 15, windowS: 3600 },
	goal: { limit: 15, windowS: 3600 },
	profile: { limit: 10, windowS: 3600 },
	notify: { limit: 10, windowS: 3600 },
	export: { limit: 5, windowS: 3600 }
};

export class ConfigError extends Error {
	constructor(public readonly variables: string[], message: string) {
		super(message);
		this.name = "ConfigError";
	}
}

function build(e: z.output<typeof EnvSchema>) {
	const transporter = e.TRANSPORTER && e.TRANSPORTER !== "none" ? e.TRANSPORTER : null;
	const clustered = transporter !== null;
	const dataDir = path.resolve(e.DATA_DIR);
	const corsDefault = clustered ? "" : "*";
	const cacher = e.CACHER === "none" ? null : e.CACHER;
	return {
		env: e.NODE_ENV,
		nodeId: e.NODE_ID ?? `${os.hostname()}-${process.pid}`,
		namespace: e.NAMESPACE,
		role: e.ROLE as Role,
		/** An explicit `SERVICES` list wins over the `ROLE` preset. */
		services: e.SERVICES.length > 0 ? e.SERVICES : null,
		http: {
			port: e.PORT,
			host: e.HOST,
			publicUrl: (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ""),
			corsOrigins: (e.CORS_ALLOW_ORIGINS ?? corsDefault)
				.split(",")
				.map(s => s.trim())
				.filter(Boolean),
			bodyLimitBytes: e.BODY_LIMIT_BYTES,
			trustProxy: e.TRUST_PROXY
		},
		broker: {
			transporter,
			cacher,
			requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
			retries: e.RETRIES,
			circuitBreaker: {
				enabled: e.CIRCUIT_BREAKER,
				threshold: e.CB_THRESHOLD,
				minRequestCount: e.CB_MIN_REQUESTS,
				windowTime: e.CB_WINDOW_S,
				halfOpenTime: e.CB_HALF_OPEN_MS
			},
			bulkhead: {
				enabled: e.BULKHEAD,
				concurrency: e.BULKHEAD_CONCURRENCY,
				maxQueueSize: e.BULKHEAD_MAX_QUEUE
			},
			strategy: e.LB_STRATEGY,
			heartbeatIntervalS: e.HEARTBEAT_INTERVAL_S,
			heartbeatTimeoutS: e.HEARTBEAT_TIMEOUT_S,
			/** On SIGTERM, how long a node waits for its in-flight requests before it stops its services and leaves. */
			shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
			metrics: e.METRICS,
			/** A port for Moleculer's own Prometheus endpoint (`/metrics`), for nodes without the gateway (workers); 0 = none. */
			metricsPort: e.METRICS_PORT,
			tracing: e.TRACING,
			logLevel: e.LOG_LEVEL,
			logFormat: e.LOG_FORMAT ?? (clustered || e.NODE_ENV === "production" ? "json" : "pretty")
		},
		redis: {
			/** Shared state across nodes (rate limits); defaults to the transporter's Redis. */
			url: e.REDIS_URL ?? transporter ?? (cacher && cacher !== "memory" ? cacher : null)
		},
		db: {
			dataDir,
			mongoUri: e.MONGO_URI ?? null,
			mongoDb: e.MONGO_DB
		},
		auth: {
			jwtKeys: e.JWT_KEYS,
			/** Where generated signing keys live when `JWT_KEYS` is not set (embedded mode). */
			keyFile: path.join(dataDir, "secrets", "jwt-keys.json"),
			accessTtlS: e.ACCESS_TOKEN_TTL_S,
			refreshTtlS: e.REFRESH_TOKEN_TTL_S,
			argon2: { memoryCost: e.ARGON2_MEMORY_KIB, timeCost: e.ARGON2_TIME_COST },
			lockout: {
				maxFailures: e.LOGIN_MAX_FAILURES,
				windowS: e.LOGIN_FAILURE_WINDOW_S,
				durationS: e.LOGIN_LOCKOUT_S
			}
		},
		rateLimits: { ...DEFAULT_RATE_LIMITS, ...e.RATE_LIMITS },
		/** Retention limits (0 = keep forever) and how often the sweep runs (0 = never on its own). */
		retention: {
			originalsDays: e.RETENTION_ORIGINALS_DAYS,
			analysesMonths: e.RETENTION_ANALYSES_MONTHS,
			inactiveMonths: e.RETENTION_INACTIVE_MONTHS,
			noticeDays: e.RETENTION_NOTICE_DAYS,
			sweepS: e.RETENTION_SWEEP_S
		},
		/** Unexpected errors go to Sentry (or a compatible collector) when set (lib/error-tracking.ts). */
		errorTracking: { dsn: e.SENTRY_DSN ?? null },
		/** Feature flags with their rollout percentage (lib/flags.ts). */
		flags: e.FLAGS,
		storage: {
			kind: e.STORAGE,
			/** Local mode: files under DATA_DIR/media, served by the gateway at /storage/… */
			root: path.join(dataDir, "media"),
			signingSecret: e.STORAGE_SIGNING_SECRET ?? null,
			secretFile: path.join(dataDir, "secrets", "storage-signing.key"),
			s3: {
				bucket: e.S3_BUCKET ?? "lifemirror-media",
				region: e.S3_REGION,
				endpoint: e.S3_ENDPOINT ?? null,
				forcePathStyle: e.S3_FORCE_PATH_STYLE,
				accessKeyId: e.S3_ACCESS_KEY_ID ?? null,
				secretAccessKey: e.S3_SECRET_ACCESS_KEY ?? null
			},
			signedUrlTtlS: e.SIGNED_URL_TTL_S,
			presignTtlS: e.PRESIGN_TTL_S
		},
		media: {
			maxUploadBytes: Math.floor(e.MAX_UPLOAD_MB * 1024 * 1024),
			maxPixels: e.MAX_IMAGE_PIXELS,
			maxEdge: e.IMAGE_MAX_EDGE,
			thumbEdge: e.THUMBNAIL_EDGE,
			videoMaxDurationS: e.VIDEO_MAX_DURATION_S,
			videoKeyframes: e.VIDEO_KEYFRAMES,
			quotaCount: e.MEDIA_QUOTA_COUNT,
			quotaBytes: Math.floor(e.MEDIA_QUOTA_MB * 1024 * 1024)
		},
		agents: { timeoutMs: e.AGENT_TIMEOUT_MS },
		vision: {
			provider: e.VISION_PROVIDER,
			threads: e.VISION_THREADS,
			timeoutMs: e.VISION_TIMEOUT_MS,
			facepp: { url: e.FACEPP_URL, apiKey: e.FACEPP_API_KEY ?? null, apiSecret: e.FACEPP_API_SECRET ?? null },
			openai: { baseUrl: e.OPENAI_BASE_URL.replace(/\/+$/, ""), apiKey: e.OPENAI_API_KEY ?? null, model: e.VISION_OPENAI_MODEL }
		},
		llm: {
			provider: e.LLM_PROVIDER,
			/** Any OpenAI-compatible API; defaults to OPENAI_BASE_URL / OPENAI_API_KEY. */
			baseUrl: (e.LLM_BASE_URL ?? e.OPENAI_BASE_URL).replace(/\/+$/, ""),
			apiKey: e.LLM_API_KEY ?? e.OPENAI_API_KEY ?? null,
			model: e.LLM_MODEL,
			timeoutMs: e.LLM_TIMEOUT_MS,
			maxAttempts: e.LLM_MAX_ATTEMPTS
		},
		moderation: { provider: e.MODERATION_PROVIDER, model: e.MODERATION_MODEL },
		analysis: {
			/** The same request (user, media content, pipeline, graph version, consent, bio, options) within this window reuses the analysis; 0 = never. */
			idempotencyS: e.ANALYSIS_IDEMPOTENCY_S
		},
		social: {
			/** Fewer opted-in users than this: the social graph is a cold start read against a fixed baseline. */
			graphMinPublicUsers: e.SOCIAL_GRAPH_MIN_PUBLIC_USERS,
			/** Leaderboard snapshots are rebuilt on events and at least this often. */
			leaderboardRefreshS: e.LEADERBOARD_REFRESH_S,
			/** Lifetime of cached feed, leaderboard and social-graph reads (events clean them sooner). */
			cacheTtlS: e.SOCIAL_CACHE_TTL_S
		},
		jobs: {
			/** Jobs run at once per queue on each node that runs the `jobs` service. */
			concurrency: e.JOB_CONCURRENCY,
			attempts: e.JOB_ATTEMPTS,
			/** First retry delay; doubles per attempt, with up to half of it taken off at random. */
			backoffMs: e.JOB_BACKOFF_MS,
			keepFailed: e.JOB_KEEP_FAILED,
			keepCompleted: 1000,
			/** BullMQ: a job's lock lasts this long unless its worker renews it (every half of it); a dead worker's job is free after it. */
			lockMs: e.JOB_LOCK_MS,
			/** BullMQ: how often a node looks for jobs whose lock expired (their worker died) and queues them again. */
			stalledIntervalMs: e.JOB_STALLED_INTERVAL_MS,
			/** BullMQ key prefix (cluster mode): one per namespace. */
			prefix: `${e.NAMESPACE || "default"}:jobs`
		},
		notifications: {
			/** Period of the reminder / weekly-summary sweep (one node sweeps per period); 0 = no periodic sweep. */
			sweepS: e.NOTIFICATION_SWEEP_S,
			/** Lifetime of a `POST /notifications/stream-token` token (EventSource cannot send headers). */
			streamTokenTtlS: e.NOTIFICATION_STREAM_TOKEN_TTL_S
		},
		privacy: {
			/** The version of the privacy policy text in force: consents record it; a grant under an older one no longer counts. */
			policyVersion: e.POLICY_VERSION,
			/** How long an export's signed download URL works. */
			exportUrlTtlS: e.EXPORT_URL_TTL_S,
			/** An erasure not acknowledged by every data service within this time is sent again to those missing. */
			erasureRetryS: e.ERASURE_RETRY_S
		},
		security: {
			/** Accounts with these emails get the admin role when they sign up or sign in (granting only; revoke with `lm-revoke-admin`). */
			adminEmails: e.ADMIN_EMAILS.map(m => m.normalize("NFKC").toLowerCase()),
			/** Active (unrevoked, unexpired) API keys per user. */
			apiKeyMaxActive: e.API_KEY_MAX_ACTIVE,
			/** Lifetime of an API key created without `expires_in_days`. */
			apiKeyDefaultTtlDays: e.API_KEY_DEFAULT_TTL_DAYS,
			/** How long a key lookup stays cached; a revocation cleans it at once on every node. */
			apiKeyCacheTtlS: e.API_KEY_CACHE_TTL_S
		}
	};
}

export type Config = ReturnType<typeof build>;

function deepFreeze<T>(o: T): T {
	if (o && typeof o === "object" && !Object.isFrozen(o)) {
		Object.freeze(o);
		for (const v of Object.values(o)) deepFreeze(v);
	}
	return o;
}

/** Parse an environment into a config. Pure: tests pass their own env. */
export function loadConfig(env: Record<string, string | undefined>): Config {
	// An empty variable means "not set", as in most shells' `VAR= cmd`.
	const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
	const parsed = EnvSchema.safeParse(cleaned);
	if (!parsed.success) {
		const variables = [...new Set(parsed.error.issues.map(i => String(i.path[0])))];
		const lines = parsed.error.issues.map(i => `  ${String(i.path[0])}: ${i.message}`);
		throw new ConfigError(variables, `Invalid configuration:\n${lines.join("\n")}`);
	}
	return deepFreeze(build(parsed.data));
}

let current: Config | null = null;

/** The process-wide config, parsed from `process.env` on first use. */
export function config(): Config {
	current ??= loadConfig(process.env);
	return current;
}

/** Replace the process-wide config (tests and the CLI use it); returns the new config. */
/** A copy of this process's environment: the one place besides `configure()` that reads it (the CLI overlays its own settings). */
export function processEnvironment(): Record<string, string | undefined> {
	return { ...process.env };
}

export function configure(env: Record<string, string | undefined> = process.env): Config {
	current = loadConfig(env);
	return current;
}

/** The variables a config is made from, for documentation and the REPL. */
export const CONFIG_VARIABLES = Object.keys(EnvSchema.shape);

/** The config with secrets masked: for logs and the REPL, never the real values. */
export function redactedConfig(c: Config): unknown {
	const mask = (url: string | null) => (url ? url.replace(/\/\/([^@/]*)@/, "//***@") : url);
	return {
		...c,
		broker: { ...c.broker, transporter: mask(c.broker.transporter), cacher: mask(c.broker.cacher) },
		redis: { url: mask(c.redis.url) },
		errorTracking: { dsn: c.errorTracking.dsn ? "***" : null },
		db: { ...c.db, mongoUri: mask(c.db.mongoUri) },
		auth: { ...c.auth, jwtKeys: c.auth.jwtKeys.map(k => ({ kid: k.kid, secret: "***" })) },
		vision: {
			...c.vision,
			facepp: { ...c.vision.facepp, apiKey: c.vision.facepp.apiKey ? "***" : null, apiSecret: c.vision.facepp.apiSecret ? "***" : null },
			openai: { ...c.vision.openai, apiKey: c.vision.openai.apiKey ? "***" : null }
		},
		llm: { ...c.llm, apiKey: c.llm.apiKey ? "***" : null },
		storage: {
			...c.storage,
			signingSecret: c.storage.signingSecret ? "***" : null,
			s3: { ...c.storage.s3, secretAccessKey: c.storage.s3.secretAccessKey ? "***" : null }
		}
	};
}
