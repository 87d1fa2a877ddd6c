import fs from "node:fs";
import { http, tempDir } from "../helpers/node";
import {
	NODE_BIN,
	cleanRedis,
	clusterEnv,
	freePort,
	killAllSpawned,
	spawnNode,
	uniqueNamespace,
	waitFor,
	waitForStatus,
	withTimeout,
	type NodeProcess
} from "../helpers/cluster";
import { registerUser } from "../factories/users";

/**
 * LifeMirror nodes as an operator runs them: `node dist/bin/lifemirror-node.js` processes,
 * configured only by environment, joined by the Redis transporter. Needs `npm run build`.
 */
describe("lifemirror-node processes on Redis", () => {
	const dirs: string[] = [];
	const namespaces: string[] = [];

	beforeAll(() => {
		if (!fs.existsSync(NODE_BIN)) throw new Error(`${NODE_BIN} is missing: run \`npm run build\` first`);
	});

	afterEach(async () => {
		await killAllSpawned();
	});

	afterAll(async () => {
		await killAllSpawned();
		for (const ns of namespaces) await cleanRedis(ns);
		for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
	});

	function newNamespace() {
		const ns = uniqueNamespace("lm-proc");
		namespaces.push(ns);
		return ns;
	}

	/** A node process of its own: own DATA_DIR and port, the cluster's namespace and keys. */
	async function launch(name: string, namespace: string, env: Record<string, string>) {
		const dataDir = tempDir(`lm-proc-${name}-`);
		dirs.push(dataDir);
		const port = await freePort();
		const proc = spawnNode(name, clusterEnv(namespace, { DATA_DIR: dataDir, PORT: String(port), HOST: "127.0.0.1", ...env }));
		return { proc, url: `http://127.0.0.1:${port}` };
	}

	/** A gateway process (api only) and a users,auth process, ready together. */
	async function gatewayAndUsers() {
		const namespace = newNamespace();
		const gateway = await launch("gateway", namespace, { SERVICES: "api" });
		const users = await launch("users", namespace, { SERVICES: "users,auth" });
		await waitForStatus(`${gateway.url}/ready`, 200, { proc: gateway.proc, timeoutMs: 20_000 });
		expect(users.proc.child.exitCode).toBeNull();
		return { gateway, users, request: http(gateway.url) };
	}

	const expectErrorBody = (body: Record<string, unknown>, code: string) =>
		expect(body).toEqual({
			error: expect.any(String),
			error_code: code,
			details: expect.any(Object),
			timestamp: expect.any(String),
			detail: expect.any(String)
		});

	it("serves register, login, me and refresh through a gateway process backed by a users,auth process", async () => {
		const { request } = await gatewayAndUsers();

		const user = await registerUser(request);
		const login = await request("POST", "/auth/login", { body: { email: user.email, password: user.password } });
		expect(login.status).toBe(200);

		// The gateway verifies, with the shared JWT_KEYS, a token the other process signed.
		const me = await request("GET", "/auth/me", { token: login.body.access_token });
		expect(me.status).toBe(200);
		expect(me.body.email).toBe(user.email);

		const refreshed = await request("POST", "/auth/refresh", { body: { refresh_token: login.body.refresh_token } });
		expect(refreshed.status).toBe(200);
		expect((await request("GET", "/auth/me", { token: refreshed.body.access_token })).body.email).toBe(user.email);

		// The old refresh token was rotated away.
		const replay = await request("POST", "/auth/refresh", { body: { refresh_token: login.body.refresh_token } });
		expect(replay.status).toBe(401);
	}, 60_000);

	it("reports not ready and answers 503 (never hangs, never 500) when the users process is killed", async () => {
		const { gateway, users, request } = await gatewayAndUsers();
		const user = await registerUser(request);

		await users.proc.kill("SIGKILL");
		const killedAt = Date.now();

		// A call already on its way while the gateway still believes in the dead node.
		const inFlight = request("POST", "/auth/login", { body: { email: user.email, password: user.password } }).then(res => ({
			res,
			tookMs: Date.now() - killedAt
		}));

		// The dead store fails its 2 s readiness probe well within the 3 s heartbeat timeout.
		await waitForStatus(`${gateway.url}/ready`, 503, { proc: gateway.proc, timeoutMs: 3000 });

		// After the heartbeat timeout the node leaves the gateway's registry.
		await waitFor(
			"the gateway to drop the users node",
			async () => (await request("GET", "/ready")).body?.checks?.["service:users"] === false,
			10_000,
			250
		);
		const notReady = await request("GET", "/ready");
		expect(notReady.status).toBe(503);
		expect(notReady.body).toMatchObject({ status: "not_ready", checks: { "service:users": false, "service:auth": false } });

		const started = Date.now();
		const login = await request("POST", "/auth/login", { body: { email: user.email, password: user.password } });
		expect(login.status).toBe(503);
		expectErrorBody(login.body, "SERVICE_UNAVAILABLE");
		const me = await request("GET", "/auth/me", { token: user.access_token });
		expect(me.status).toBe(503);
		expectErrorBody(me.body, "SERVICE_UNAVAILABLE");
		expect(Date.now() - started).toBeLessThan(3000);

		// The in-flight call ends with a gateway error in the error format, bounded by
		// REQUEST_TIMEOUT_MS (5 s) and the heartbeat timeout, not by the client giving up.
		const { res, tookMs } = await inFlight;
		expect([503, 504]).toContain(res.status);
		expectErrorBody(res.body, res.status === 503 ? "SERVICE_UNAVAILABLE" : "TIMEOUT");
		expect(tookMs).toBeLessThan(20_000);
		expect(gateway.proc.child.exitCode).toBeNull();
	}, 60_000);

	it("exits non-zero with a message naming PORT when PORT is not a number", async () => {
		const dataDir = tempDir("lm-proc-bad-");
		dirs.push(dataDir);
		const bad = spawnNode("bad-port", clusterEnv(newNamespace(), { DATA_DIR: dataDir, SERVICES: "api", PORT: "abc" }));
		const exit = await withTimeout(bad.exited, 15_000, () => `still running:\n${bad.output()}`);
		expect(exit.code).not.toBe(0);
		expect(exit.code).not.toBeNull();
		expect(bad.output()).toMatch(/PORT/);
		expect(bad.output()).toMatch(/Invalid configuration/);
	}, 30_000);

	it("runs api, users and auth in one process with ROLE=gateway and no SERVICES, and stops cleanly on SIGTERM", async () => {
		const namespace = newNamespace();
		const { proc, url } = await launch("gateway-role", namespace, { ROLE: "gateway" });
		// Alone in its namespace: ready means users and auth run in this very process.
		await waitForStatus(`${url}/ready`, 200, { proc, timeoutMs: 20_000 });
		const request = http(url);
		const ready = await request("GET", "/ready");
		expect(ready.body.checks).toMatchObject({ "service:users": true, "service:auth": true, "db:users": true, "db:auth": true });

		const user = await registerUser(request);
		expect((await request("GET", "/auth/me", { token: user.access_token })).status).toBe(200);

		await stopWith(proc, "SIGTERM");
		expect(await proc.exited).toEqual({ code: 0, signal: null });
	}, 60_000);

	async function stopWith(proc: NodeProcess, signal: NodeJS.Signals) {
		proc.child.kill(signal);
		await withTimeout(proc.exited, 15_000, () => `${proc.name} ignored ${signal}:\n${proc.output()}`);
	}
});
