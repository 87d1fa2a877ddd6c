import { BullQueue, type BullQueueOptions } from "../../lib/jobs/bullmq-queue";
import { PermanentJobError, type JobQueue } from "../../lib/jobs/types";
import { REDIS_URL, cleanRedis, uniqueNamespace } from "../helpers/cluster";
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

	it("keeps a job whose attempts run out as failed, with the reason and the attempt count", async () => {
		const q = queue({ attempts: 2 });
		const finals: boolean[] = [];
		q.process(async () => {
			throw new Error("the vision pass is down");
		}, { failed: (_i, final) => finals.push(final) });
		const id = await q.add({ n: 1 });
		expect(await settled(q, id, "failed")).toMatchObject({ attemptsMade: 2, failedReason: "the vision pass is down" });
		await waitFor(() => finals.length === 2);
		expect(finals).toEqual([false, true]);
		expect(await q.failed()).toEqual([expect.objectContaining({ id, failedReason: "the vision pass is down", attemptsMade: 2 })]);
		expect((await q.counts()).failed).toBe(1);
	});

	it("does not retry a PermanentJobError", async () => {
		const q = queue({ attempts: 5 });
		let calls = 0;
		q.process(async () => {
			calls++;
			throw new PermanentJobError("media not found");
		});
		const id = await q.add({ n: 1 });
		expect(await settled(q, id, "failed")).toMatchObject({ attemptsMade: 1, failedReason: "media not found" });
		expect(calls).toBe(1);
	});

	it("runs at most `concurrency` jobs at once on a worker", async () => {
		const q = queue({ concurrency: 2 });
		let running = 0;
		let peak = 0;
		q.process(async () => {
			peak = Math.max(peak, ++running);
			await sleep(50);
			running--;
		});
		for (let n = 0; n < 6; n++) await q.add({ n });
		await waitFor(async () => (await q.counts()).completed === 6, 10_000);
		expect(peak).toBe(2);
	});

	it("holds jobs while paused and runs them on resume", async () => {
		const q = queue();
		const seen: number[] = [];
		q.process(async d => {
			seen.push(d.n);
		});
		await q.pause();
		expect(await q.isPaused()).toBe(true);
		const id = await q.add({ n: 7 });
		await sleep(200);
		expect(seen).toEqual([]);
		expect((await q.counts()).paused + (await q.counts()).waiting).toBe(1);
		await q.resume();
		await settled(q, id, "completed");
		expect(seen).toEqual([7]);
	});

	it("retries failed jobs on request, one by id or all of them", async () => {
		const q = queue({ attempts: 1 });
		let healthy = false;
		q.process(async d => {
			if (!healthy) throw new Error("down");
			return d.n;
		});
		const a = await q.add({ n: 1 });
		const b = await q.add({ n: 2 });
		await settled(q, a, "failed");
		await settled(q, b, "failed");
		healthy = true;
		expect(await q.retryFailed(a)).toBe(1);
		await settled(q, a, "completed");
		expect(await q.get(b)).toMatchObject({ state: "failed" });
		expect(await q.retryFailed()).toBe(1);
		expect(await settled(q, b, "completed")).toMatchObject({ result: 2, attemptsMade: 1 });
	});

	it("adds a job id only once", async () => {
		const q = queue();
		let calls = 0;
		q.process(async () => {
			calls++;
		});
		const first = await q.add({ n: 1 }, { jobId: "analysis-abc" });
		expect(first).toBe("analysis-abc");
		expect(await q.add({ n: 2 }, { jobId: "analysis-abc" })).toBe(first);
		await settled(q, first, "completed");
		expect(await q.add({ n: 3 }, { jobId: "analysis-abc" })).toBe(first);
		await sleep(100);
		expect(calls).toBe(1);
		expect((await q.get(first))?.data).toEqual({ n: 1 });
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
