import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import net from "node:net";
import path from "node:path";
import Redis from "ioredis";
import type { Middleware, ServiceBroker } from "moleculer";
import { RequestScopeMiddleware } from "../../lib/request-scope";

export const REDIS_URL = "redis://127.0.0.1:6379";

/** One signing key every node of a test cluster shares, so a gateway verifies what auth signs. */
export const TEST_JWT_KEYS = "cluster-test:0123456789abcdef0123456789abcdef-cluster";

/** A namespace no other test (or earlier run) uses: nodes of different tests never meet. */
export function uniqueNamespace(prefix = "lmt"): string {
	return `${prefix}-${process.pid}-${randomUUID().slice(0, 8)}`;
}

/** The env of a cluster node: real Redis transporter, fast heartbeats, shared JWT keys. */
export function clusterEnv(namespace: string, extra: Record<string, string> = {}): Record<string, string> {
	return {
		TRANSPORTER: REDIS_URL,
		NAMESPACE: namespace,
		HEARTBEAT_INTERVAL_S: "1",
		HEARTBEAT_TIMEOUT_S: "3",
		REQUEST_TIMEOUT_MS: "5000",
		JWT_KEYS: TEST_JWT_KEYS,
		LOG_LEVEL: "warn",
		...extra
	};
}

export const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms));

/** `promise`, or a rejection with `message()` after `ms` (the timer never outlives the race). */
export async function withTimeout<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	try {
		return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message())), ms)))]);
	} finally {
		clearTimeout(timer);
	}
}

/** Polls `check` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 10_000, everyMs = 100): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	let last: unknown;
	for (;;) {
		try {
			const v = await check();
			if (v) return v;
		} catch (err) {
			last = err;
		}
		if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
		await sleep(everyMs);
	}
}

/** The node ids that currently offer an available `service` in `broker`'s registry. */
export function nodesOffering(broker: ServiceBroker, service: string): string[] {
	return broker.registry
		.getServiceList({ onlyAvailable: true, withActions: false })
		.filter(s => s.name === service)
		.map(s => s.nodeID ?? broker.nodeID)
		.sort();
}

/** Waits until `broker` sees `service` on exactly the nodes `nodeIDs` (an empty list: nowhere). */
export function waitForNodes(broker: ServiceBroker, service: string, nodeIDs: string[], timeoutMs = 10_000): Promise<true> {
	const want = [...nodeIDs].sort().join(",");
	return waitFor(
		`${broker.nodeID} to see ${service} on [${want}] (sees [${nodesOffering(broker, service).join(",")}])`,
		() => nodesOffering(broker, service).join(",") === want || undefined,
		timeoutMs
	) as Promise<true>;
}

/**
 * A broker middleware counting the local executions of each action on one node, so a test
 * sees where the load balancer sent calls. The request-scope middleware is kept in front.
 */
export function executionCounter(): { counts: Map<string, number>; middlewares: Middleware[] } {
	const counts = new Map<string, number>();
	const counter = {
		name: "ExecutionCounter",
		localAction(handler: (ctx: unknown) => unknown, action: { name: string }) {
			return function counted(ctx: unknown) {
				counts.set(action.name, (counts.get(action.name) ?? 0) + 1);
				return handler(ctx);
			};
		}
	} as unknown as Middleware;
	return { counts, middlewares: [RequestScopeMiddleware, counter] };
}

/**
 * Kills a broker without a goodbye: its Redis connections close, no DISCONNECT packet goes
 * out and heartbeats stop, as when a process dies. Others notice only by the heartbeat timeout.
 */
export async function crashBroker(broker: ServiceBroker): Promise<void> {
	const transit = broker.transit as unknown as { tx: { disconnect(): Promise<void>; connected: boolean } };
	await transit.tx.disconnect();
	transit.tx.connected = false;
}

/** Deletes every Redis key of a namespace (rate-limit counters, cache entries). */
export async function cleanRedis(namespace: string): Promise<number> {
	const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
	try {
		await redis.connect();
		let removed = 0;
		for (const pattern of [`${namespace}:*`, `${namespace}-*`]) {
			let cursor = "0";
			do {
				const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 500);
				cursor = next;
				if (keys.length) removed += await redis.del(...keys);
			} while (cursor !== "0");
		}
		return removed;
	} finally {
		redis.disconnect();
	}
}

/** Seconds left in the current fixed window of `windowS` (the rate limiter's windows). */
export function windowRemainingMs(windowS: number, now = Date.now()): number {
	const ms = windowS * 1000;
	return ms - (now % ms);
}

/** A TCP port free right now on 127.0.0.1. */
export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const srv = net.createServer();
		srv.unref();
		srv.on("error", reject);
		srv.listen(0, "127.0.0.1", () => {
			const { port } = srv.address() as net.AddressInfo;
			srv.close(() => resolve(port));
		});
	});
}

export const NODE_BIN = path.join(__dirname, "..", "..", "dist", "bin", "lifemirror-node.js");

export interface NodeProcess {
	name: string;
	child: ChildProcess;
	/** Everything written to stdout and stderr so far. */
	output(): string;
	/** Resolves with the exit code (or the signal) once the process has ended. */
	exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
	/** SIGKILL unless told otherwise; resolves when the process is gone. */
	kill(signal?: NodeJS.Signals): Promise<void>;
}

const running = new Set<NodeProcess>();

/**
 * Starts `node dist/bin/lifemirror-node.js` as an operator would, with `env` on top of a
 * minimal environment (PATH, HOME; no inherited LifeMirror variables). Needs `npm run build`.
 */
export function spawnNode(name: string, env: Record<string, string>, cwd?: string): NodeProcess {
	const base: Record<string, string> = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" };
	const child = spawn(process.execPath, [NODE_BIN], { env: { ...base, ...env }, cwd: cwd ?? env.DATA_DIR, stdio: ["ignore", "pipe", "pipe"] });
	let out = "";
	child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
	child.stderr!.on("data", (b: Buffer) => (out += b.toString()));
	const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(resolve => {
		if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
		child.once("exit", (code, signal) => resolve({ code, signal }));
	});
	const proc: NodeProcess = {
		name,
		child,
		output: () => out,
		exited,
		async kill(signal: NodeJS.Signals = "SIGKILL") {
			if (child.exitCode === null && child.signalCode === null) child.kill(signal);
			await exited;
			running.delete(proc);
		}
	};
	running.add(proc);
	exited.then(() => running.delete(proc));
	return proc;
}

/** Kills every process `spawnNode` started that is still running (for afterAll). */
export async function killAllSpawned(): Promise<void> {
	await Promise.all([...running].map(p => p.kill("SIGKILL")));
}

/** Waits until GET `url` answers `status`; a process that exits meanwhile fails the wait at once, with its output. */
export async function waitForStatus(url: string, status: number, opts: { timeoutMs?: number; proc?: NodeProcess } = {}): Promise<void> {
	const { timeoutMs = 15_000, proc } = opts;
	const deadline = Date.now() + timeoutMs;
	let last = "no answer";
	for (;;) {
		if (proc && (proc.child.exitCode !== null || proc.child.signalCode !== null))
			throw new Error(`${proc.name} exited (${proc.child.exitCode ?? proc.child.signalCode}) while waiting for ${url}:\n${proc.output()}`);
		try {
			const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
			last = String(res.status);
			await res.body?.cancel();
			if (res.status === status) return;
		} catch (err) {
			last = String(err);
		}
		if (Date.now() > deadline)
			throw new Error(`Timed out after ${timeoutMs} ms waiting for ${url} to answer ${status} (last: ${last})${proc ? `\n${proc.name} output:\n${proc.output()}` : ""}`);
		await sleep(200);
	}
}
