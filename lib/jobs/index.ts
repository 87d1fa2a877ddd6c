import type { Config } from "../config";
import { BullQueue } from "./bullmq-queue";
import { MemoryQueue } from "./memory-queue";
import type { JobQueue } from "./types";

export * from "./types";
export { BullQueue } from "./bullmq-queue";
export { MemoryQueue } from "./memory-queue";
export { createKeyLock, MemoryKeyLock, RedisKeyLock, type KeyLock } from "./lock";

/** A queue for this node: in-process without Redis (embedded mode), BullMQ on Redis otherwise. */
export function createQueue<T>(name: string, c: Config, onError?: (err: Error) => void): JobQueue<T> {
	const opts = {
		concurrency: c.jobs.concurrency,
		attempts: c.jobs.attempts,
		backoffMs: c.jobs.backoffMs,
		keepFailed: c.jobs.keepFailed,
		keepCompleted: c.jobs.keepCompleted,
		lockMs: c.jobs.lockMs,
		stalledIntervalMs: c.jobs.stalledIntervalMs
	};
	return c.redis.url ? new BullQueue<T>(name, { ...opts, redisUrl: c.redis.url, prefix: c.jobs.prefix, onError }) : new MemoryQueue<T>(name, opts);
}
