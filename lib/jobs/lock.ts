import { randomUUID } from "node:crypto";
import Redis from "ioredis";
import { redisOptions } from "../redis";

/**
 * One holder at a time per key: the idempotency lock of analysis requests, so two identical
 * requests arriving together make one analysis (the second waits, then finds the first's
 * record). In a cluster the lock is a Redis key (SET NX PX, renewed while held, released only by
 * its holder), so it holds across gateway nodes; a holder that dies frees it after `ttlMs`. In
 * embedded mode it is a queue of promises in this process.
 */
export interface KeyLock {
	/** Runs `fn` holding `key`; waits for the current holder up to `waitMs`, then runs anyway (the lock is advisory, never a deadlock). */
	run<T>(key: string, fn: () => Promise<T>, opts?: { ttlMs?: number; waitMs?: number }): Promise<T>;
	close(): Promise<void>;
}

const DEFAULT_TTL_MS = 30_000;
const DEFAULT_WAIT_MS = 120_000;
const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms));

/** In-process: each key's holders run one after the other. */
export class MemoryKeyLock implements KeyLock {
	private readonly tails = new Map<string, Promise<unknown>>();

	async run<T>(key: string, fn: () => Promise<T>, opts: { waitMs?: number } = {}): Promise<T> {
		const before = this.tails.get(key) ?? Promise.resolve();
		let release!: () => void;
		const mine = new Promise<void>(resolve => (release = resolve));
		const tail = before.then(() => mine);
		this.tails.set(key, tail);
		let timer: NodeJS.Timeout | undefined;
		try {
			await Promise.race([before.catch(() => undefined), new Promise<void>(resolve => (timer = setTimeout(resolve, opts.waitMs ?? DEFAULT_WAIT_MS)))]);
			return await fn();
		} finally {
			clearTimeout(timer);
			release();
			if (this.tails.get(key) === tail) this.tails.delete(key);
		}
	}

	async close(): Promise<void> {
		this.tails.clear();
	}
}

const RELEASE = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;
const RENEW = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`;

/** Cluster: a Redis key per lock under `prefix`, holding a random token of its holder. */
export class RedisKeyLock implements KeyLock {
	private readonly redis: Redis;

	constructor(
		url: string,
		private readonly prefix: string,
		private readonly pollMs = 25
	) {
		this.redis = new Redis({ ...redisOptions(url), lazyConnect: true, maxRetriesPerRequest: 2 });
		this.redis.on("error", () => undefined);
	}

	async run<T>(key: string, fn: () => Promise<T>, opts: { ttlMs?: number; waitMs?: number } = {}): Promise<T> {
		const ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
		const name = `${this.prefix}:${key}`;
		const token = randomUUID();
		const deadline = Date.now() + (opts.waitMs ?? DEFAULT_WAIT_MS);
		let held = false;
		for (;;) {
			try {
				held = (await this.redis.set(name, token, "PX", ttlMs, "NX")) === "OK";
			} catch {
				break; // Redis unreachable: run unlocked rather than fail the request (the idempotency window still applies)
			}
			if (held || Date.now() >= deadline) break;
			await sleep(this.pollMs);
		}
		const renew = held ? setInterval(() => void this.redis.eval(RENEW, 1, name, token, String(ttlMs)).catch(() => undefined), Math.max(100, ttlMs / 3)) : undefined;
		try {
			return await fn();
		} finally {
			clearInterval(renew);
			if (held) await this.redis.eval(RELEASE, 1, name, token).catch(() => undefined);
		}
	}

	async close(): Promise<void> {
		this.redis.disconnect();
	}
}

/** The lock for this node: Redis when the cluster has one, in-process otherwise. */
export function createKeyLock(c: { redis: { url: string | null }; jobs: { prefix: string } }): KeyLock {
	return c.redis.url ? new RedisKeyLock(c.redis.url, `${c.jobs.prefix}:lock`) : new MemoryKeyLock();
}
