import { BullQueue, type BullQueueOptions } from "../../lib/jobs/bullmq-queue";
import { type JobQueue } from "../../lib/jobs/types";
import { REDIS_URL, cleanRedis, uniqueNamespace } from "../helpers/cluster";
import { queueContract } from "../helpers/queue-contract";
import { sleep, waitFor } from "../helpers/wait";

interface Data {
	n: number;
}

/** Every test gets its own key prefix; its queues are closed and its keys deleted afterwards. */
let namespace = "";
let open: JobQueue<Data>[] = [];

beforeEach(() => {
	namespace = uniqueNamespace("lmt-bull");
	open = [];
});

afterEach(async () => {
	await Promise.all(open.map(q => q.close()));
	await cleanRedis(namespace);
});

function queue(o: Partial<BullQueueOptions> = {}, name = "analysis") {
	const q = new BullQueue<Data>(name, {
		concurrency: 2,
		attempts: 3,
		backoffMs: 10,
		keepFailed: 100,
		keepCompleted: 100,
		redisUrl: REDIS_URL,
		prefix: `${namespace}:jobs`,
		...o
	});
	open.push(q);
	return q;
}

const settled = async (q: JobQueue<Data>, id: string, state: string) => waitFor(async () => {
	const info = await q.get(id);
	return info?.state === state ? info : null;
}, 10_000);

queueContract("BullQueue (real Redis)", o => queue(o), { workMs: 50, quietMs: 200, timeoutMs: 10_000, reportsPausedState: false });

describe("BullQueue (real Redis)", () => {
	it("retries a failing job with backoff, then completes it with its result", async () => {
		const q = queue();
		const attempts: number[] = [];
		q.process(async (d, ctx) => {
			attempts.push(ctx.attempt);
			if (ctx.attempt < 3) throw new Error(`flaky ${ctx.attempt}`);
			return { doubled: d.n * 2 };
		});
		const id = await q.add({ n: 21 });
		expect(await settled(q, id, "completed")).toMatchObject({ attemptsMade: 3, result: { doubled: 42 }, data: { n: 21 } });
		expect(attempts).toEqual([1, 2, 3]);
	});

	it("records progress and cancels a waiting job and a running one", async () => {
		const q = queue({ concurrency: 1 });
		const started: number[] = [];
		q.process(async (d, ctx) => {
			started.push(d.n);
			await ctx.progress(30);
			await new Promise(r => ctx.signal.addEventListener("abort", r));
		});
		const running = await q.add({ n: 1 });
		const waiting = await q.add({ n: 2 });
		await waitFor(async () => (await q.get(running))?.progress === 30);
		expect(await q.get(running)).toMatchObject({ state: "active", progress: 30 });
		expect(await q.cancel(waiting)).toMatchObject({ state: "cancelled" });
		await q.cancel(running);
		await settled(q, running, "cancelled");
		await settled(q, waiting, "cancelled");
		expect(started).toEqual([1]);
		expect(await q.failed()).toEqual([]);
		expect(await q.retryFailed()).toBe(0);
	});

	it("shares the jobs of one queue between two workers", async () => {
		const producer = queue({ concurrency: 1 });
		const other = queue({ concurrency: 1 });
		const byWorker: Record<string, number> = { a: 0, b: 0 };
		const handler = (who: string) => async () => {
			byWorker[who]++;
			await sleep(30);
		};
		producer.process(handler("a"));
		other.process(handler("b"));
		for (let n = 0; n < 10; n++) await producer.add({ n });
		await waitFor(async () => (await producer.counts()).completed === 10, 10_000);
		expect(byWorker.a + byWorker.b).toBe(10);
		expect(byWorker.a).toBeGreaterThan(0);
		expect(byWorker.b).toBeGreaterThan(0);
	});

	it("keeps queues of different namespaces apart", async () => {
		const mine = queue();
		const theirs = new BullQueue<Data>("analysis", {
			concurrency: 1, attempts: 1, backoffMs: 10, keepFailed: 10, keepCompleted: 10, redisUrl: REDIS_URL, prefix: `${namespace}-other:jobs`
		});
		open.push(theirs);
		let stolen = 0;
		theirs.process(async () => {
			stolen++;
		});
		const id = await mine.add({ n: 1 });
		await sleep(200);
		expect(stolen).toBe(0);
		expect(await mine.get(id)).toMatchObject({ state: "waiting" });
	});
});
