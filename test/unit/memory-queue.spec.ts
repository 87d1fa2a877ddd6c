import { MemoryQueue } from "../../lib/jobs/memory-queue";
import { backoffDelay, type JobHandler, type QueueOptions } from "../../lib/jobs/types";
import { queueContract } from "../helpers/queue-contract";
import { sleep, waitFor } from "../helpers/wait";

interface Data {
	n: number;
}

const OPTS: QueueOptions = { concurrency: 2, attempts: 3, backoffMs: 5, keepFailed: 100, keepCompleted: 100 };

const open: MemoryQueue<Data>[] = [];
afterEach(() => Promise.all(open.splice(0).map(q => q.close())));

function queue(o: Partial<QueueOptions> = {}) {
	const q = new MemoryQueue<Data>("test", { ...OPTS, ...o });
	open.push(q);
	return q;
}

describe("backoffDelay", () => {
	it("doubles per attempt and takes off up to half at random", () => {
		expect(backoffDelay(1000, 1, () => 0)).toBe(1000);
		expect(backoffDelay(1000, 2, () => 0)).toBe(2000);
		expect(backoffDelay(1000, 3, () => 0)).toBe(4000);
		expect(backoffDelay(1000, 3, () => 1)).toBe(2000);
		expect(backoffDelay(1000, 3, () => 0.5)).toBe(3000);
	});
});

queueContract("MemoryQueue", queue, { workMs: 20, quietMs: 30, timeoutMs: 5000, reportsPausedState: true });

describe("MemoryQueue", () => {
	it("retries a failing job, then completes it with its result", async () => {
		const q = queue();
		let calls = 0;
		q.process(async d => {
			if (++calls < 3) throw new Error(`flaky ${calls}`);
			return { doubled: d.n * 2 };
		});
		const id = await q.add({ n: 21 });
		const done = await waitFor(async () => ((await q.get(id))?.state === "completed" ? q.get(id) : null));
		expect(done).toMatchObject({ state: "completed", attemptsMade: 3, result: { doubled: 42 }, progress: 100 });
		expect(calls).toBe(3);
	});

	it("never swallows a throwing handler: every throw reaches the queue and is retried", async () => {
		const q = queue({ attempts: 3 });
		const attempts: number[] = [];
		const completed: string[] = [];
		q.process(
			async (_d, ctx) => {
				attempts.push(ctx.attempt);
				if (ctx.attempt < 3) throw new TypeError("boom");
				return "ok";
			},
			{ completed: info => completed.push(info.id) }
		);
		const id = await q.add({ n: 1 });
		await waitFor(() => completed.includes(id));
		expect(attempts).toEqual([1, 2, 3]);
	});

	it("cancels a waiting job (it never runs) and aborts a running one", async () => {
		const q = queue({ concurrency: 1 });
		const started: number[] = [];
		const handler: JobHandler<Data> = async (d, ctx) => {
			started.push(d.n);
			await new Promise(r => ctx.signal.addEventListener("abort", r));
		};
		q.process(handler);
		const running = await q.add({ n: 1 });
		const waiting = await q.add({ n: 2 });
		await waitFor(() => started.length === 1);
		expect(await q.cancel(waiting)).toMatchObject({ state: "cancelled" });
		await q.cancel(running);
		await waitFor(async () => (await q.get(running))?.state === "cancelled");
		await sleep(20);
		expect(started).toEqual([1]);
		expect(await q.failed()).toEqual([]);
		expect(await q.retryFailed()).toBe(0);
	});

	it("keeps only the last `keepFailed` failed jobs", async () => {
		const q = queue({ attempts: 1, keepFailed: 2, concurrency: 1 });
		q.process(async d => {
			throw new Error(`fail ${d.n}`);
		});
		for (let n = 0; n < 4; n++) await q.add({ n });
		await waitFor(async () => (await q.counts()).failed === 2 && (await q.counts()).waiting === 0 && (await q.counts()).active === 0);
		await sleep(10);
		expect((await q.failed()).map(j => j.failedReason).sort()).toEqual(["fail 2", "fail 3"]);
	});

	it("records progress reported by the handler", async () => {
		const q = queue();
		let release!: () => void;
		q.process(async (_d, ctx) => {
			await ctx.progress(40);
			await new Promise<void>(r => (release = r));
		});
		const id = await q.add({ n: 1 });
		await waitFor(async () => (await q.get(id))?.progress === 40);
		expect(await q.get(id)).toMatchObject({ state: "active", progress: 40, attemptsMade: 1 });
		release();
		await waitFor(async () => (await q.get(id))?.state === "completed");
	});
});
