import Redis from "ioredis";
import { redisOptions } from "./redis";

export interface Hit {
	count: number;
	/** Milliseconds until the current window ends. */
	resetMs: number;
}

/** Fixed-window counters: `hit` counts one request for a key in the current window. */
export interface RateStore {
	hit(key: string, windowS: number): Promise<Hit>;
	close(): Promise<void>;
}

function windowOf(windowS: number, now: number) {
	const ms = windowS * 1000;
	const index = Math.floor(now / ms);
	return { index, resetMs: (index + 1) * ms - now };
}

/** One process (embedded mode): counters in a Map, swept as their windows end. */
export class MemoryRateStore implements RateStore {
	private readonly counters = new Map<string, { count: number; expires: number }>();
	private readonly timer: NodeJS.Timeout;

	constructor(sweepMs = 60_000) {
		this.timer = setInterval(() => this.sweep(), sweepMs);
		this.timer.unref();
	}

	async hit(key: string, windowS: number): Promise<Hit> {
		const now = Date.now();
		const { index, resetMs } = windowOf(windowS, now);
		const k = `${key}:${index}`;
		const entry = this.counters.get(k) ?? { count: 0, expires: now + resetMs };
		entry.count++;
		this.counters.set(k, entry);
		return { count: entry.count, resetMs };
	}

	sweep(now = Date.now()) {
		for (const [k, v] of this.counters) if (v.expires <= now) this.counters.delete(k);
	}

	async close() {
		clearInterval(this.timer);
		this.counters.clear();
	}
}

/** Several gateways (cluster mode): counters in Redis, so a limit holds across nodes. */
export class RedisRateStore implements RateStore {
	private readonly redis: Redis;

	constructor(url: string, private readonly prefix: string) {
		this.redis = new Redis({ ...redisOptions(url), lazyConnect: false, maxRetriesPerRequest: 2, enableOfflineQueue: true });
	}

	async hit(key: string, windowS: number): Promise<Hit> {
		const { index, resetMs } = windowOf(windowS, Date.now());
		const k = `${this.prefix}:${key}:${index}`;
		const res = await this.redis.multi().incr(k).pexpire(k, resetMs + 1000).exec();
		const count = Number(res?.[0]?.[1] ?? 0);
		return { count, resetMs };
	}

	async close() {
		this.redis.disconnect();
	}
}
