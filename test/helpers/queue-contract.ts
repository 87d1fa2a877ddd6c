import { PermanentJobError, type JobQueue, type JobState, type QueueOptions } from "../../lib/jobs/types";
import { sleep, waitFor } from "./wait";

/**
 * The job queue contract: what the jobs service may rely on from a `JobQueue`, whichever
 * engine runs underneath (in-process in embedded mode, BullMQ on Redis in a cluster).
 * `queueContract` defines one describe block; call it once per implementation.
 *
 * `make` builds a queue with the implementation's defaults overridden by `opts`; the spec file
 * owns the setup around it (tracking open queues, closing them, cleaning Redis keys…).
 */
export interface QueueContractData {
	n: number;
}

export interface QueueContractHooks {
	/** How long a handler's unit of work lasts when a test needs jobs to overlap. */
	workMs: number;
	/** How long to wait to be sure something does NOT happen (a paused job runs, a duplicate id runs again). */
	quietMs: number;
	/** How long to wait for a job to settle. */
	timeoutMs: number;
	/** Whether a job added to a paused queue is reported in state `paused` (and counted as paused) rather than `waiting`. */
	reportsPausedState: boolean;
}

export function queueContract(
	name: string,
	make: (opts?: Partial<QueueOptions>) => JobQueue<QueueContractData>,
	hooks: QueueContractHooks
): void {
	describe(`job queue contract: ${name}`, () => {
		const settled = async (q: JobQueue<QueueContractData>, id: string, state: JobState) =>
			waitFor(async () => {
				const info = await q.get(id);
				return info?.state === state ? info : null;
			}, hooks.timeoutMs);

		it("keeps a job whose attempts run out as failed, with the reason and the attempt count", async () => {
			const q = make({ attempts: 2 });
			const finals: boolean[] = [];
			q.process(async () => {
				throw new Error("the vision pass is down");
			}, { failed: (_info, final) => finals.push(final) });
			const id = await q.add({ n: 1 });
			expect(await settled(q, id, "failed")).toMatchObject({ state: "failed", attemptsMade: 2, failedReason: "the vision pass is down" });
			await waitFor(() => finals.length === 2, hooks.timeoutMs);
			expect(finals).toEqual([false, true]);
			expect(await q.failed()).toEqual([expect.objectContaining({ id, failedReason: "the vision pass is down", attemptsMade: 2 })]);
			expect((await q.counts()).failed).toBe(1);
		});

		it("does not retry a PermanentJobError", async () => {
			const q = make({ attempts: 5 });
			let calls = 0;
			q.process(async () => {
				calls++;
				throw new PermanentJobError("media not found");
			});
			const id = await q.add({ n: 1 });
			expect(await settled(q, id, "failed")).toMatchObject({ attemptsMade: 1, failedReason: "media not found" });
			expect(calls).toBe(1);
		});

		it("runs at most `concurrency` jobs at once", async () => {
			const q = make({ concurrency: 2 });
			let running = 0;
			let peak = 0;
			q.process(async () => {
				peak = Math.max(peak, ++running);
				await sleep(hooks.workMs);
				running--;
			});
			const ids = await Promise.all(Array.from({ length: 7 }, (_, n) => q.add({ n })));
			await waitFor(async () => (await q.counts()).completed === ids.length, hooks.timeoutMs);
			expect(peak).toBe(2);
		});

		it("holds jobs while paused and runs them on resume", async () => {
			const q = make();
			const seen: number[] = [];
			q.process(async d => {
				seen.push(d.n);
			});
			await q.pause();
			expect(await q.isPaused()).toBe(true);
			const id = await q.add({ n: 7 });
			await sleep(hooks.quietMs);
			expect(seen).toEqual([]);
			expect((await q.counts()).paused + (await q.counts()).waiting).toBe(1);
			if (hooks.reportsPausedState) {
				expect(await q.get(id)).toMatchObject({ state: "paused" });
				expect((await q.counts()).paused).toBe(1);
			}
			await q.resume();
			expect(await settled(q, id, "completed")).toMatchObject({ state: "completed" });
			expect(seen).toEqual([7]);
		});

		it("retries failed jobs on request, one by id or all of them", async () => {
			const q = make({ attempts: 1 });
			let healthy = false;
			q.process(async d => {
				if (!healthy) throw new Error("down");
				return d.n;
			});
			const a = await q.add({ n: 1 });
			const b = await q.add({ n: 2 });
			await settled(q, a, "failed");
			await settled(q, b, "failed");
			await waitFor(async () => (await q.counts()).failed === 2, hooks.timeoutMs);
			healthy = true;
			expect(await q.retryFailed("missing")).toBe(0);
			expect(await q.retryFailed(a)).toBe(1);
			await settled(q, a, "completed");
			expect(await q.get(b)).toMatchObject({ state: "failed" });
			expect(await q.retryFailed()).toBe(1);
			expect(await settled(q, b, "completed")).toMatchObject({ result: 2, attemptsMade: 1 });
			expect(await q.counts()).toMatchObject({ completed: 2, failed: 0 });
		});

		it("adds a job id only once", async () => {
			const q = make();
			let calls = 0;
			q.process(async () => {
				calls++;
				await sleep(10);
			});
			const first = await q.add({ n: 1 }, { jobId: "analysis-abc" });
			expect(first).toBe("analysis-abc");
			expect(await q.add({ n: 2 }, { jobId: "analysis-abc" })).toBe(first);
			await settled(q, first, "completed");
			expect(await q.add({ n: 3 }, { jobId: "analysis-abc" })).toBe(first);
			await sleep(hooks.quietMs);
			expect(calls).toBe(1);
			expect((await q.get(first))?.data).toEqual({ n: 1 });
		});
	});
}
