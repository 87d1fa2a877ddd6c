import path from "node:path";
import { CONFIG_VARIABLES, ConfigError, DEFAULT_RATE_LIMITS, loadConfig } from "../../lib/config";

/** The ConfigError thrown by loadConfig(env); fails the test when nothing is thrown. */
function configError(env: Record<string, string | undefined>): ConfigError {
	try {
		loadConfig(env);
	} catch (err) {
		expect(err).toBeInstanceOf(ConfigError);
		return err as ConfigError;
	}
	throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

const SECRET = "s".repeat(32);

describe("loadConfig defaults", () => {
	it("embedded mode: port 8000, CORS *, memory cacher, no transporter, pretty logs in development", () => {
		const c = loadConfig({});
		expect(c.http.port).toBe(8000);
		expect(c.http.host).toBe("0.0.0.0");
		expect(c.http.publicUrl).toBe("http://localhost:8000");
		expect(c.http.corsOrigins).toEqual(["*"]);
		expect(c.http.trustProxy).toBe(false);
		expect(c.broker.transporter).toBeNull();
		expect(c.broker.cacher).toBe("memory");
		expect(c.broker.logFormat).toBe("pretty");
		expect(c.role).toBe("all");
		expect(c.services).toBeNull();
		expect(c.db.mongoUri).toBeNull();
		expect(c.db.dataDir).toBe(path.resolve("./data"));
		expect(c.auth.jwtKeys).toEqual([]);
		expect(c.auth.keyFile).toBe(path.join(path.resolve("./data"), "secrets", "jwt-keys.json"));
		expect(c.redis.url).toBeNull();
		expect(c.rateLimits).toEqual(DEFAULT_RATE_LIMITS);
	});

	it("cluster mode: no CORS origins by default, JSON logs, the transporter's Redis for shared state", () => {
		const c = loadConfig({ TRANSPORTER: "redis://redis:6379" });
		expect(c.broker.transporter).toBe("redis://redis:6379");
		expect(c.http.corsOrigins).toEqual([]);
		expect(c.broker.logFormat).toBe("json");
		expect(c.redis.url).toBe("redis://redis:6379");
	});

	it("production logs JSON even in embedded mode; LOG_FORMAT wins over both", () => {
		expect(loadConfig({ NODE_ENV: "production" }).broker.logFormat).toBe("json");
		expect(loadConfig({ TRANSPORTER: "redis://r:6379", LOG_FORMAT: "pretty" }).broker.logFormat).toBe("pretty");
	});

	it("TRANSPORTER=none and an empty variable both mean embedded", () => {
		expect(loadConfig({ TRANSPORTER: "none" }).broker.transporter).toBeNull();
		expect(loadConfig({ TRANSPORTER: "" }).broker.transporter).toBeNull();
		// Empty means "not set" for every variable, so an empty PORT is the default, not an error.
		expect(loadConfig({ PORT: "" }).http.port).toBe(8000);
	});

	it("parses lists, booleans and URLs", () => {
		const c = loadConfig({
			SERVICES: " api, users ,,auth ",
			CORS_ALLOW_ORIGINS: "https://a.example, https://b.example",
			TRUST_PROXY: "yes",
			METRICS: "0",
			PUBLIC_URL: "https://life.example/",
			CACHER: "none",
			REDIS_URL: "redis://cache:6380/2",
			JWT_KEYS: `new:${SECRET}, old:${SECRET}x`
		});
		expect(c.services).toEqual(["api", "users", "auth"]);
		expect(c.http.corsOrigins).toEqual(["https://a.example", "https://b.example"]);
		expect(c.http.trustProxy).toBe(true);
		expect(c.broker.metrics).toBe(false);
		expect(c.http.publicUrl).toBe("https://life.example");
		expect(c.broker.cacher).toBeNull();
		expect(c.redis.url).toBe("redis://cache:6380/2");
		expect(c.auth.jwtKeys).toEqual([
			{ kid: "new", secret: SECRET },
			{ kid: "old", secret: `${SECRET}x` }
		]);
	});

	it("a Redis cacher is the shared-state Redis when there is no transporter", () => {
		const c = loadConfig({ CACHER: "redis://cache:6379" });
		expect(c.broker.cacher).toBe("redis://cache:6379");
		expect(c.redis.url).toBe("redis://cache:6379");
	});

	it("lists every variable it reads", () => {
		expect(CONFIG_VARIABLES).toEqual(expect.arrayContaining(["PORT", "TRANSPORTER", "JWT_KEYS", "RATE_LIMITS", "MONGO_URI"]));
	});
});

describe("loadConfig rejects bad values, naming the variable", () => {
	it.each([
		["PORT", "abc"],
		["PORT", "70000"],
		["PORT", "80.5"],
		["TRANSPORTER", "http://x"],
		["TRANSPORTER", "nats://x:4222"],
		["JWT_KEYS", "k1:short"],
		["JWT_KEYS", SECRET],
		["JWT_KEYS", `bad kid:${SECRET}`],
		["RATE_LIMITS", "bad"],
		["RATE_LIMITS", "auth=10"],
		["RATE_LIMITS", "auth=10/60,public=x/60"],
		["CACHER", "foo"],
		["MONGO_URI", "x"],
		["MONGO_URI", "postgres://db/x"],
		["TRUST_PROXY", "maybe"],
		["ROLE", "boss"],
		["LOG_LEVEL", "loud"],
		["CB_THRESHOLD", "2"],
		["NAMESPACE", "has space"],
		["PUBLIC_URL", "not a url"]
	])("%s=%s", (variable, value) => {
		const err = configError({ [variable]: value });
		expect(err.variables).toEqual([variable]);
		expect(err.message).toContain(`${variable}:`);
		expect(err.name).toBe("ConfigError");
	});

	it("names every bad variable at once, and never echoes a secret", () => {
		const err = configError({ PORT: "abc", CACHER: "foo", JWT_KEYS: "k1:tooshortsecret", LOG_LEVEL: "info" });
		expect(err.variables.sort()).toEqual(["CACHER", "JWT_KEYS", "PORT"]);
		for (const v of ["PORT", "CACHER", "JWT_KEYS"]) expect(err.message).toContain(v);
		expect(err.message).not.toContain("tooshortsecret");
	});
});

describe("RATE_LIMITS", () => {
	it("overrides merge with the defaults", () => {
		const c = loadConfig({ RATE_LIMITS: "auth=3/10, custom_class=5/3600" });
		expect(c.rateLimits).toEqual({
			...DEFAULT_RATE_LIMITS,
			auth: { limit: 3, windowS: 10 },
			custom_class: { limit: 5, windowS: 3600 }
		});
		expect(c.rateLimits.default).toEqual({ limit: 600, windowS: 60 });
		expect(c.rateLimits.public).toEqual({ limit: 100, windowS: 60 });
	});

	it("does not change the defaults object", () => {
		loadConfig({ RATE_LIMITS: "auth=1/1" });
		expect(DEFAULT_RATE_LIMITS.auth).toEqual({ limit: 10, windowS: 60 });
	});
});

describe("the config object", () => {
	it("is deeply frozen", () => {
		const c = loadConfig({ JWT_KEYS: `k1:${SECRET}`, RATE_LIMITS: "auth=3/10" });
		const frozen: unknown[] = [c, c.http, c.http.corsOrigins, c.broker, c.broker.circuitBreaker, c.auth, c.auth.jwtKeys, c.auth.jwtKeys[0], c.auth.argon2, c.rateLimits, c.rateLimits.auth, c.rateLimits.default];
		for (const o of frozen) expect(Object.isFrozen(o)).toBe(true);
		expect(() => {
			(c.http as { port: number }).port = 1;
		}).toThrow(TypeError);
		expect(() => {
			(c.rateLimits.auth as { limit: number }).limit = 1;
		}).toThrow(TypeError);
		expect(c.rateLimits.auth.limit).toBe(3);
	});

	it("freezing one config leaves the shared defaults usable by the next", () => {
		const a = loadConfig({});
		const b = loadConfig({ RATE_LIMITS: "default=1/1" });
		expect(a.rateLimits.default).toEqual({ limit: 600, windowS: 60 });
		expect(b.rateLimits.default).toEqual({ limit: 1, windowS: 1 });
	});
});
