import { randomUUID } from "node:crypto";
import Redis from "ioredis";
import { MemoryRateStore, RedisRateStore } from "../../lib/rate-limit";

const REDIS_URL = "redis://127.0.0.1:6379";
/** A window start: 2030-01-01T00:00:00Z is a multiple of every window used below. */
const T0 = Date.UTC(2030, 0, 1);

function size(store: MemoryRateStore): number {
	return (store as unknown as { counters: Map<string, unknown> }).counters.size;
}

describe("MemoryRateStore", () => {
	let store: MemoryRateStore;

	beforeEach(() => {
		jest.useFakeTimers({ now: T0 });
		store = new MemoryRateStore(10_000);
	});
	afterEach(async () => {
		await store.close();
		jest.useRealTimers();
	});

	it("counts hits per key within a fixed window and says when it resets", async () => {
		expect(await store.hit("auth:ip:1", 60)).toEqual({ count: 1, resetMs: 60_000 });
		expect(await store.hit("auth:ip:1", 60)).toEqual({ count: 2, resetMs: 60_000 });
		jest.setSystemTime(T0 + 59_999);
		expect(await store.hit("auth:ip:1", 60)).toEqual({ count: 3, resetMs: 1 });
		// Other keys count on their own.
		expect(await store.hit("auth:ip:2", 60)).toEqual({ count: 1, resetMs: 1 });
	});

	it("starts a new count when the window ends", async () => {
		await store.hit("k", 60);
		await store.hit("k", 60);
		jest.setSystemTime(T0 + 60_000);
		expect(await store.hit("k", 60)).toEqual({ count: 1, resetMs: 60_000 });
		jest.setSystemTime(T0 + 90_000);
		expect(await store.hit("k", 60)).toEqual({ count: 2, resetMs: 30_000 });
	});

	it("windows are aligned to the clock, not to the first hit", async () => {
		jest.setSystemTime(T0 + 9_000);
		expect(await store.hit("k", 10)).toEqual({ count: 1, resetMs: 1_000 });
		jest.setSystemTime(T0 + 10_000);
		expect(await store.hit("k", 10)).toEqual({ count: 1, resetMs: 10_000 });
	});

	it("sweep drops ended windows only", async () => {
		await store.hit("short", 1);
		await store.hit("long", 60);
		expect(size(store)).toBe(2);
		store.sweep(T0 + 999);
		expect(size(store)).toBe(2);
		store.sweep(T0 + 1_000);
		expect(size(store)).toBe(1);
		store.sweep(T0 + 60_000);
		expect(size(store)).toBe(0);
	});

	it("sweeps on its own timer", async () => {
		await store.hit("a", 1);
		await store.hit("b", 1);
		await store.hit("c", 3600);
		jest.advanceTimersByTime(9_999);
		expect(size(store)).toBe(3);
		jest.advanceTimersByTime(1);
		expect(size(store)).toBe(1);
	});

	it("close stops the sweeper and forgets the counts", async () => {
		await store.hit("a", 60);
		await store.close();
		expect(size(store)).toBe(0);
		expect(jest.getTimerCount()).toBe(0);
	});
});

describe("RedisRateStore (real Redis)", () => {
	let prefix: string;
	let admin: Redis;
	const stores: RedisRateStore[] = [];
	const open = () => {
		const s = new RedisRateStore(REDIS_URL, prefix);
		stores.push(s);
		return s;
	};

	beforeEach(() => {
		prefix = `lm-test-rl-${randomUUID()}`;
		admin = new Redis(REDIS_URL);
	});
	afterEach(async () => {
		await Promise.all(stores.splice(0).map(s => s.close()));
		const keys = await admin.keys(`${prefix}:*`);
		if (keys.length) await admin.del(...keys);
		admin.disconnect();
	});

	it("counts hits per key and sets an expiry just past the window's end", async () => {
		const store = open();
		const a = await store.hit("auth:ip:1", 60);
		const b = await store.hit("auth:ip:1", 60);
		const other = await store.hit("auth:ip:2", 60);
		expect(a.count).toBe(1);
		expect(b.count).toBe(2);
		expect(other.count).toBe(1);
		expect(a.resetMs).toBeGreaterThan(0);
		expect(a.resetMs).toBeLessThanOrEqual(60_000);

		const keys = await admin.keys(`${prefix}:*`);
		expect(keys).toHaveLength(2);
		for (const k of keys) {
			expect(k).toMatch(new RegExp(`^${prefix}:auth:ip:[12]:\\d+$`));
			const ttl = await admin.pttl(k);
			expect(ttl).toBeGreaterThan(0);
			expect(ttl).toBeLessThanOrEqual(61_000);
		}
	});

	it("two store instances (two gateway nodes) share one count, so the limit holds across nodes", async () => {
		const gatewayA = open();
		const gatewayB = open();
		const counts: number[] = [];
		for (let i = 0; i < 6; i++) counts.push((await (i % 2 ? gatewayB : gatewayA).hit("auth:ip:9", 60)).count);
		expect(counts).toEqual([1, 2, 3, 4, 5, 6]);
	});

	it("counts every one of many concurrent hits exactly once", async () => {
		const [a, b] = [open(), open()];
		const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).hit("burst", 60)));
		expect(results.map(r => r.count).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
	});

	it("stores with other prefixes (other namespaces) do not share counts", async () => {
		const mine = open();
		const theirs = new RedisRateStore(REDIS_URL, `${prefix}:other`);
		stores.push(theirs);
		await mine.hit("k", 60);
		await mine.hit("k", 60);
		expect((await theirs.hit("k", 60)).count).toBe(1);
	});

	it("a new window starts a new count", async () => {
		const store = open();
		// A 1 s window: wait for the next one to begin (real clock: Redis is real too).
		const first = await store.hit("k", 1);
		await new Promise(r => setTimeout(r, first.resetMs + 20));
		expect((await store.hit("k", 1)).count).toBe(1);
	});
});
