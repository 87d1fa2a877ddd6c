import fs from "node:fs";
import path from "node:path";
import type Redis from "ioredis";
import type { ServiceBroker } from "moleculer";

/**
 * Where any trace of a person could sit, searched for a list of needles (ids, email, hashes):
 * every file under the given directories (paths and bytes — NeDB files, stored media, exports,
 * secrets), the broker's memory cacher, each local service's in-process job queues, and Redis
 * keys and values under a prefix. Generic on purpose: a service that forgets `user.erased`
 * is found without being named here.
 */
export interface Finding {
	where: string;
	needle: string;
}

function filesIn(dir: string): string[] {
	if (!fs.existsSync(dir)) return [];
	return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
		.filter(e => e.isFile())
		.map(e => path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
}

export function scanFiles(dirs: string[], needles: string[]): Finding[] {
	const out: Finding[] = [];
	for (const file of [...new Set(dirs.flatMap(filesIn))]) {
		const text = fs.readFileSync(file).toString("latin1");
		for (const n of needles) if (file.includes(n) || text.includes(n)) out.push({ where: `file ${file}`, needle: n });
	}
	return out;
}

const json = (v: unknown) => {
	try {
		return JSON.stringify(v) ?? "";
	} catch {
		return String(v);
	}
};

/** The memory cacher's entries (keys and values). */
export function scanCacher(broker: ServiceBroker, needles: string[]): Finding[] {
	const cache = (broker.cacher as unknown as { cache?: Map<string, unknown> } | undefined)?.cache;
	if (!cache) return [];
	const out: Finding[] = [];
	for (const [key, value] of cache) {
		const text = key + json(value);
		for (const n of needles) if (text.includes(n)) out.push({ where: `cache ${key.slice(0, 80)}`, needle: n });
	}
	return out;
}

/** In-process job queues (embedded mode) of every local service that has `queues`. */
export function scanLocalQueues(broker: ServiceBroker, needles: string[]): Finding[] {
	const out: Finding[] = [];
	for (const svc of broker.services) {
		const queues = (svc as unknown as { queues?: Record<string, { jobs?: Map<string, unknown> }> }).queues;
		for (const [name, q] of Object.entries(queues ?? {})) {
			for (const [id, job] of q.jobs ?? []) {
				const text = id + json(job);
				for (const n of needles) if (text.includes(n)) out.push({ where: `queue ${svc.name}/${name} job ${id}`, needle: n });
			}
		}
	}
	return out;
}


/** Every Redis key matching `pattern`, its name and its whole value, whatever its type. */
export async function scanRedis(redis: Redis, pattern: string, needles: string[]): Promise<Finding[]> {
	const out: Finding[] = [];
	let cursor = "0";
	do {
		const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 500);
		cursor = next;
		for (const key of keys) {
			const t = await redis.type(key);
			const value =
				t === "string" ? await redis.get(key)
				: t === "hash" ? json(await redis.hgetall(key))
				: t === "list" ? json(await redis.lrange(key, 0, -1))
				: t === "set" ? json(await redis.smembers(key))
				: t === "zset" ? json(await redis.zrange(key, 0, -1))
				: t === "stream" ? json(await redis.xrange(key, "-", "+"))
				: "";
			const text = key + (value ?? "");
			for (const n of needles) if (text.includes(n)) out.push({ where: `redis ${key}`, needle: n });
		}
	} while (cursor !== "0");
	return out;
}
