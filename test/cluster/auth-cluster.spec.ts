import fs from "node:fs";
import { http, startNode, tempDir, type TestNode } from "../helpers/node";
import {
	cleanRedis,
	clusterEnv,
	crashBroker,
	executionCounter,
	nodesOffering,
	sleep,
	uniqueNamespace,
	waitForNodes,
	waitForStatus,
	windowRemainingMs
} from "../helpers/cluster";
import { registerUser } from "../factories/users";

/**
 * The auth flow on several brokers in this process, joined by the real Redis transporter:
 * a gateway that runs only `api`, and users+auth nodes that share one NeDB store (safe in
 * one process; two processes must not share a DATA_DIR). Each test has its own namespace.
 */
describe("auth across a cluster of brokers on Redis", () => {
	// db.mixin fixes its directory when users.service is first loaded, so the file shares one.
	const dataDir = tempDir("lm-auth-cluster-");
	let namespace: string;
	let started: { node: TestNode; stopped: boolean }[];

	beforeEach(() => {
		namespace = uniqueNamespace("lm-auth");
		started = [];
	});

	afterEach(async () => {
		await Promise.allSettled(started.filter(s => !s.stopped).map(s => stop(s.node)));
		await cleanRedis(namespace);
	});

	afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

	async function start(nodeID: string, services: string[], opts: { env?: Record<string, string>; middlewares?: unknown[] } = {}) {
		const node = await startNode({
			services,
			// Every stop logs transporter warnings; errors are what matter here.
			env: clusterEnv(namespace, { DATA_DIR: dataDir, LOG_LEVEL: "error", ...opts.env }),
			broker: { nodeID, ...(opts.middlewares ? { middlewares: opts.middlewares as never } : {}) }
		});
		started.push({ node, stopped: false });
		return node;
	}

	/** Stops a node once (a second stop would release its shared NeDB store twice). */
	async function stop(node: TestNode) {
		const entry = started.find(s => s.node === node)!;
		if (entry.stopped) return;
		entry.stopped = true;
		await node.stop();
	}

	/** A gateway and users+auth nodes that see each other. */
	async function cluster(usersNodes: number) {
		const counters = Array.from({ length: usersNodes }, () => executionCounter());
		const users = [];
		for (let i = 0; i < usersNodes; i++) users.push(await start(`users-${i + 1}`, ["users", "auth"], { middlewares: counters[i].middlewares }));
		const gateway = await start("gateway-1", ["api"]);
		const ids = users.map(u => u.broker.nodeID);
		await waitForNodes(gateway.broker, "users", ids);
		await waitForNodes(gateway.broker, "auth", ids);
		return { gateway, users, counters, request: http(gateway.url) };
	}

	const meCalls = (counter: ReturnType<typeof executionCounter>) => counter.counts.get("users.me") ?? 0;

	it("serves register, login, me and refresh through a gateway that has no users service of its own", async () => {
		const { gateway, counters, request } = await cluster(1);
		expect(gateway.broker.getLocalService("users")).toBeUndefined();
		expect(gateway.broker.getLocalService("auth")).toBeUndefined();
		expect(nodesOffering(gateway.broker, "users")).toEqual(["users-1"]);

		const user = await registerUser(request);
		const login = await request("POST", "/auth/login", { body: { email: user.email, password: user.password } });
		expect(login.status).toBe(200);
		expect(login.body.token_type).toBe("bearer");

		const me = await request("GET", "/auth/me", { token: login.body.access_token });
		expect(me.status).toBe(200);
		expect(me.body.email).toBe(user.email);

		const refreshed = await request("POST", "/auth/refresh", { body: { refresh_token: login.body.refresh_token } });
		expect(refreshed.status).toBe(200);
		expect(refreshed.body.refresh_token).not.toBe(login.body.refresh_token);
		expect((await request("GET", "/auth/me", { token: refreshed.body.access_token })).status).toBe(200);

		// Every one of these ran on the users node, reached over Redis.
		const counts = counters[0].counts;
		expect(counts.get("auth.register")).toBe(1);
		expect(counts.get("auth.login")).toBe(1);
		expect(counts.get("auth.refresh")).toBe(1);
		expect(counts.get("users.me")).toBe(2);
	});

	it("spreads calls over two users nodes", async () => {
		const { counters, request } = await cluster(2);
		const user = await registerUser(request);
		const statuses: number[] = [];
		for (let i = 0; i < 40; i++) statuses.push((await request("GET", "/auth/me", { token: user.access_token })).status);
		expect(statuses.every(s => s === 200)).toBe(true);
		const served = counters.map(meCalls);
		expect(served[0] + served[1]).toBe(40);
		expect(served[0]).toBeGreaterThan(0);
		expect(served[1]).toBeGreaterThan(0);
	});

	it("notices a users node that leaves and fails over to the other", async () => {
		const { gateway, users, counters, request } = await cluster(2);
		const user = await registerUser(request);

		const left = Date.now();
		await stop(users[1]);
		await waitForNodes(gateway.broker, "users", ["users-1"], 3000);
		// A graceful stop says goodbye: no heartbeat timeout to wait for.
		expect(Date.now() - left).toBeLessThan(3000);

		const before = meCalls(counters[0]);
		const statuses: number[] = [];
		for (let i = 0; i < 20; i++) statuses.push((await request("GET", "/auth/me", { token: user.access_token })).status);
		expect(statuses).toEqual(Array(20).fill(200));
		expect(meCalls(counters[0]) - before).toBe(20);
	});

	it("drops a users node that dies without a goodbye after the heartbeat timeout, then fails over", async () => {
		const { gateway, users, counters, request } = await cluster(2);
		const user = await registerUser(request);

		const died = Date.now();
		await crashBroker(users[1].broker);
		// No DISCONNECT went out: for now the gateway still believes in the dead node.
		await sleep(500);
		expect(nodesOffering(gateway.broker, "users")).toEqual(["users-1", "users-2"]);

		await waitForNodes(gateway.broker, "users", ["users-1"], 10_000);
		const noticedAfter = Date.now() - died;
		// Moleculer checks heartbeats every HEARTBEAT_TIMEOUT_S (3 s) and drops a node silent for
		// longer than that; beats come every 1 s ± 0.5 s. So between ~1.5 s and ~6 s, never at once.
		expect(noticedAfter).toBeGreaterThanOrEqual(1000);
		expect(noticedAfter).toBeLessThan(9000);

		const before = meCalls(counters[0]);
		const statuses: number[] = [];
		for (let i = 0; i < 20; i++) statuses.push((await request("GET", "/auth/me", { token: user.access_token })).status);
		expect(statuses).toEqual(Array(20).fill(200));
		expect(meCalls(counters[0]) - before).toBe(20);
		expect(meCalls(counters[1])).toBeLessThanOrEqual(1); // at most the one before the crash
	});

	it("answers /ready 503 while no users node is up and 200 once one is", async () => {
		const gateway = await start("gateway-1", ["api"]);
		const request = http(gateway.url);

		const notReady = await request("GET", "/ready");
		expect(notReady.status).toBe(503);
		expect(notReady.body.status).toBe("not_ready");
		expect(notReady.body.checks).toMatchObject({ transporter: true, "service:users": false, "service:auth": false });

		const users = await start("users-1", ["users", "auth"]);
		await waitForStatus(`${gateway.url}/ready`, 200, { timeoutMs: 10_000 });
		const ready = await request("GET", "/ready");
		expect(ready.body).toMatchObject({
			status: "ready",
			checks: { "service:users": true, "service:auth": true, "db:users": true, "db:auth": true }
		});

		await stop(users);
		await waitForStatus(`${gateway.url}/ready`, 503, { timeoutMs: 5000 });
	});

	it("holds a rate limit across two gateway nodes", async () => {
		const env = { RATE_LIMITS: "auth=4/60" };
		const users = await start("users-1", ["users", "auth"], { env });
		const gateways = [await start("gateway-1", ["api"], { env }), await start("gateway-2", ["api"], { env })];
		for (const g of gateways) await waitForNodes(g.broker, "auth", ["users-1"]);

		// The account is made inside the cluster, so only the five logins count.
		const email = `limit-${namespace}@example.com`;
		const password = "Blue-Harbor-Lantern-42";
		await users.broker.call("users.create", { email, password });

		// The limiter counts in fixed 60 s windows: start the five logins well inside one.
		if (windowRemainingMs(60) < 10_000) await sleep(windowRemainingMs(60) + 50);
		const [one, two] = gateways.map(g => http(g.url));
		const login = (request: typeof one) => request("POST", "/auth/login", { body: { email, password } });
		const statuses = [];
		for (let i = 0; i < 3; i++) statuses.push((await login(one)).status);
		statuses.push((await login(two)).status);
		const fifth = await login(two);
		statuses.push(fifth.status);

		expect(statuses).toEqual([200, 200, 200, 200, 429]);
		expect(fifth.body).toMatchObject({ error_code: "RATE_LIMITED" });
		expect(Number(fifth.headers.get("retry-after"))).toBeGreaterThan(0);
		expect(fifth.headers.get("x-ratelimit-limit")).toBe("4");
	});
});
