import { MemoryQueue } from "../../lib/jobs/memory-queue";
import { PermanentJobError, backoffDelay, type JobHandler, type QueueOptions } from "../../lib/jobs/types";
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

	it("keeps a job whose attempts run out as failed, with the reason and the attempt count", async () => {
		const q = queue({ attempts: 2 });
		const failures: boolean[] = [];
		q.process(async () => {
			throw new Error("the vision pass is down");
		}, { failed: (_info, final) => failures.push(final) });
		const id = await q.add({ n: 1 });
		const failed = await waitFor(async () => ((await q.get(id))?.state === "failed" ? q.get(id) : null));
		expect(failed).toMatchObject({ state: "failed", attemptsMade: 2, failedReason: "the vision pass is down" });
		expect(failures).toEqual([false, true]);
		expect(await q.failed()).toEqual([expect.objectContaining({ id, failedReason: "the vision pass is down", attemptsMade: 2 })]);
		expect((await q.counts()).failed).toBe(1);
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

	it("does not retry a PermanentJobError", async () => {
		const q = queue({ attempts: 5 });
		let calls = 0;
		q.process(async () => {
			calls++;
			throw new PermanentJobError("media not found");
		});
		const id = await q.add({ n: 1 });
		const failed = await waitFor(async () => ((await q.get(id))?.state === "failed" ? q.get(id) : null));
		expect(failed).toMatchObject({ attemptsMade: 1, failedReason: "media not found" });
		expect(calls).toBe(1);
	});

	it("runs at most `concurrency` jobs at once", async () => {
		const q = queue({ concurrency: 2 });
		let running = 0;
		let peak = 0;
		q.process(async () => {
			peak = Math.max(peak, ++running);
			await sleep(20);
			running--;
		});
		const ids = await Promise.all(Array.from({ length: 7 }, (_, n) => q.add({ n })));
		await waitFor(async () => (await q.counts()).completed === ids.length);
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
		await sleep(30);
		expect(seen).toEqual([]);
		expect(await q.get(id)).toMatchObject({ state: "paused" });
		expect((await q.counts()).paused).toBe(1);
		await q.resume();
		await waitFor(() => seen.length === 1);
		expect(await q.get(id)).toMatchObject({ state: "completed" });
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
		await waitFor(async () => (await q.counts()).failed === 2);
		healthy = true;
		expect(await q.retryFailed("missing")).toBe(0);
		expect(await q.retryFailed(a)).toBe(1);
		await waitFor(async () => (await q.get(a))?.state === "completed");
		expect(await q.get(b)).toMatchObject({ state: "failed" });
		expect(await q.retryFailed()).toBe(1);
		await waitFor(async () => (await q.get(b))?.state === "completed");
		expect(await q.counts()).toMatchObject({ completed: 2, failed: 0 });
	});

	it("adds a job id only once", async () => {
		const q = queue();
		let calls = 0;
		q.process(async () => {
			calls++;
			await sleep(10);
		});
		const first = await q.add({ n: 1 }, { jobId: "analysis-x" });
		const again = await q.add({ n: 2 }, { jobId: "analysis-x" });
		expect(again).toBe(first);
		await waitFor(async () => (await q.get(first))?.state === "completed");
		expect(await q.add({ n: 3 }, { jobId: "analysis-x" })).toBe(first);
		await sleep(20);
		expect(calls).toBe(1);
		expect((await q.get(first))?.data).toEqual({ n: 1 });
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
