import { BullQueue, type BullQueueOptions } from "../../lib/jobs/bullmq-queue";
import { REDIS_URL, cleanRedis, uniqueNamespace } from "../helpers/cluster";
import { waitFor } from "../helpers/wait";

/**
 * A node that dies with a job running: its lock is no longer renewed, and another node's
 * stalled check (JOB_LOCK_MS, JOB_STALLED_INTERVAL_MS) takes the job back and runs it — within
 * seconds, not BullMQ's default half minute or more.
 */

interface Data {
	n: number;
}

const namespace = uniqueNamespace("lmt-stalled");
const open: BullQueue<Data>[] = [];

afterAll(async () => {
	await Promise.all(open.map(q => q.close().catch(() => undefined)));
	await cleanRedis(namespace);
});

function queue(o: Partial<BullQueueOptions> = {}) {
	const q = new BullQueue<Data>("analysis", {
		concurrency: 1,
		attempts: 3,
		backoffMs: 10,
		keepFailed: 100,
		keepCompleted: 100,
		redisUrl: REDIS_URL,
		prefix: `${namespace}:jobs`,
		lockMs: 1000,
		stalledIntervalMs: 500,
		...o
	});
	open.push(q);
	return q;
}

it("a job whose node died mid-run is taken back by another node's stalled check and completes there", async () => {
	const dying = queue();
	let entered = false;
	dying.process(async () => {
		entered = true;
		return new Promise(() => undefined); // the node dies while it runs: never settles
	});
	const id = await dying.add({ n: 7 }, { jobId: "analysis-stalled-1" });
	await waitFor(() => entered, 10_000);
	// The node dies: its worker stops at once, without finishing or releasing the job; the lock is no longer renewed.
	await (dying as unknown as { worker: { close(force: boolean): Promise<void> } }).worker.close(true);
	expect((await dying.get(id))?.state).toBe("active");

	const diedAt = Date.now();
	const survivor = queue();
	const attempts: number[] = [];
	survivor.process(async (d, ctx) => {
		attempts.push(ctx.attempt);
		return { doubled: d.n * 2 };
	});
	const done = await waitFor(async () => {
		const info = await survivor.get(id);
		return info?.state === "completed" ? info : null;
	}, 10_000);
	expect(done.result).toEqual({ doubled: 14 });
	expect(attempts).toHaveLength(1);
	// Within lockMs + stalledInterval (+ scheduling slack), far below BullMQ's 30 s defaults.
	expect(Date.now() - diedAt).toBeLessThan(5000);
}, 30_000);
