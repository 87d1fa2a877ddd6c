import { Queue, UnrecoverableError, Worker, type Job as BullJob } from "bullmq";
import { redisOptions } from "../redis";
import {
	CANCELLED,
	PermanentJobError,
	type JobCounts,
	type JobHandler,
	type JobInfo,
	type JobQueue,
	type JobState,
	type QueueEvents,
	type QueueOptions
} from "./types";

/** What sits in Redis: the job's ids, and a cancel flag every node can see. */
interface Stored<T> {
	payload: T;
	cancelled?: boolean;
}

export interface BullQueueOptions extends QueueOptions {
	redisUrl: string;
	/** Key prefix: one per NAMESPACE, so clusters sharing a Redis never take each other's jobs. */
	prefix: string;
	onError?(err: Error): void;
}

/**
 * Cluster mode: BullMQ on Redis. Jobs survive restarts; a worker that dies mid-job has its job
 * picked up by another one once the lock expires (BullMQ's stalled-job check). Failed jobs are
 * kept (the last `keepFailed`) with their reason and attempt count for operators to retry.
 */
export class BullQueue<T> implements JobQueue<T> {
	private readonly queue: Queue<Stored<T>>;
	private worker: Worker<Stored<T>> | null = null;

	constructor(
		readonly name: string,
		private readonly opts: BullQueueOptions
	) {
		this.queue = new Queue<Stored<T>>(name, {
			connection: redisOptions(opts.redisUrl),
			prefix: opts.prefix,
			defaultJobOptions: {
				attempts: opts.attempts,
				backoff: { type: "exponential", delay: opts.backoffMs, jitter: 0.5 },
				removeOnComplete: { count: opts.keepCompleted },
				removeOnFail: { count: opts.keepFailed }
			}
		});
		this.queue.on("error", err => opts.onError?.(err));
	}

	async add(data: T, o: { jobId?: string } = {}): Promise<string> {
		// An existing id is not added twice: BullMQ answers the job that is already there.
		const job = await this.queue.add(this.name, { payload: data }, { jobId: o.jobId });
		return job.id!;
	}

	process(handler: JobHandler<T>, events: QueueEvents<T> = {}): void {
		if (this.worker) throw new Error(`queue ${this.name} already has a worker on this node`);
		const worker = new Worker<Stored<T>>(this.name, (job, _token, signal) => this.run(job, handler, signal), {
			connection: { ...redisOptions(this.opts.redisUrl), maxRetriesPerRequest: null },
			prefix: this.opts.prefix,
			concurrency: this.opts.concurrency,
			// A node that dies stops renewing its jobs' locks: another node's stalled check takes them
			// back within lockDuration + stalledInterval (BullMQ's defaults, 30 s each, are slow).
			lockDuration: this.opts.lockMs ?? 30_000,
			stalledInterval: this.opts.stalledIntervalMs ?? 15_000,
			// A job taken back from a dead node is run again; give up (failed) only after as many stalls as attempts.
			maxStalledCount: this.opts.attempts
		});
		worker.on("error", err => this.opts.onError?.(err));
		worker.on("completed", job => events.completed?.(this.view(job, "completed")));
		worker.on("failed", (job, err) => {
			if (!job) return;
			const final = err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
			events.failed?.(this.view(job, final ? "failed" : "delayed"), final);
		});
		this.worker = worker;
	}

	async get(id: string): Promise<JobInfo<T> | null> {
		const first = await this.queue.getJob(id);
		if (!first) return null;
		const state = await first.getState();
		// The job may have finished between the two reads: read it again so its result matches its state.
		const job = state === "completed" || state === "failed" ? ((await this.queue.getJob(id)) ?? first) : first;
		return this.view(job, state);
	}

	async cancel(id: string): Promise<JobInfo<T> | null> {
		const job = await this.queue.getJob(id);
		if (!job) return null;
		const state = await job.getState();
		if (state === "completed" || state === "failed") return this.view(job, state);
		// The flag is seen by whichever worker takes the job next; a running one is aborted where it runs.
		await job.updateData({ ...job.data, cancelled: true });
		if (state === "delayed") await job.promote().catch(() => undefined);
		if (state === "active") this.abortLocal(id);
		return this.view(job, state);
	}

	abortLocal(id: string): boolean {
		return this.worker?.cancelJob(id, CANCELLED) ?? false;
	}

	async counts(): Promise<JobCounts> {
		const c = await this.queue.getJobCounts("waiting", "prioritized", "active", "delayed", "paused", "completed", "failed");
		return {
			waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
			active: c.active ?? 0,
			delayed: c.delayed ?? 0,
			paused: c.paused ?? 0,
			completed: c.completed ?? 0,
			failed: c.failed ?? 0
		};
	}

	async failed(limit = 50): Promise<JobInfo<T>[]> {
		const jobs = await this.queue.getFailed(0, Math.max(0, limit - 1));
		return jobs.filter(j => !isCancelled(j)).map(j => this.view(j, "failed"));
	}

	async retryFailed(id?: string): Promise<number> {
		const jobs = id ? [await this.queue.getJob(id)] : await this.queue.getFailed(0, -1);
		let n = 0;
		for (const job of jobs) {
			if (!job || isCancelled(job) || (await job.getState()) !== "failed") continue;
			await job.retry("failed", { resetAttemptsMade: true, resetAttemptsStarted: true });
			n++;
		}
		return n;
	}

	async pause(): Promise<void> {
		await this.queue.pause();
	}

	async resume(): Promise<void> {
		await this.queue.resume();
	}

	async isPaused(): Promise<boolean> {
		return this.queue.isPaused();
	}

	async close(): Promise<void> {
		await this.worker?.close();
		await this.queue.close();
	}

	async purge(match: (data: T) => boolean): Promise<{ removed: number; active: string[] }> {
		const jobs = await this.queue.getJobs(["waiting", "prioritized", "delayed", "paused", "waiting-children", "active", "completed", "failed"]);
		const gone = new Set<string>();
		const active: string[] = [];
		for (const job of jobs) {
			if (!job?.id || !job.data || !match(job.data.payload)) continue;
			if ((await job.getState()) === "active") {
				await job.updateData({ ...job.data, cancelled: true }).catch(() => undefined);
				this.abortLocal(job.id);
				active.push(job.id);
				continue;
			}
			await job.remove();
			gone.add(job.id);
		}
		// The queue's event stream repeats job ids and results (a report): those entries go too.
		if (gone.size) {
			// BullMQ types its client narrowly; it is an ioredis client with the stream commands.
			const client = (await this.queue.client) as unknown as { xrange(k: string, a: string, b: string): Promise<[string, string[]][]>; xdel(k: string, ...ids: string[]): Promise<number> };
			const key = this.queue.keys.events;
			const entries = await client.xrange(key, "-", "+");
			const stale = entries.filter(([, f]) => f.some((v, i) => i % 2 === 1 && f[i - 1] === "jobId" && gone.has(v))).map(([id]) => id);
			for (let i = 0; i < stale.length; i += 500) await client.xdel(key, ...stale.slice(i, i + 500));
		}
		return { removed: gone.size, active };
	}

	/** Runs one attempt. Every failure is thrown back to BullMQ, which retries or keeps the job as failed. */
	private async run(job: BullJob<Stored<T>>, handler: JobHandler<T>, signal?: AbortSignal): Promise<unknown> {
		if (job.data.cancelled) throw new UnrecoverableError(CANCELLED);
		const abort = new AbortController();
		const aborted = new Promise<never>((_, reject) => {
			const stop = () => {
				abort.abort();
				reject(new UnrecoverableError(CANCELLED));
			};
			if (signal?.aborted) stop();
			else signal?.addEventListener("abort", stop, { once: true });
		});
		try {
			return await Promise.race([
				handler(job.data.payload, {
					id: job.id!,
					attempt: job.attemptsStarted || job.attemptsMade + 1,
					signal: abort.signal,
					progress: p => job.updateProgress(Math.max(0, Math.min(100, p)))
				}),
				aborted
			]);
		} catch (err) {
			if (err instanceof PermanentJobError) throw new UnrecoverableError(err.message);
			throw err;
		}
	}

	private view(job: BullJob<Stored<T>>, state: string): JobInfo<T> {
		return {
			id: job.id!,
			queue: this.name,
			data: job.data.payload,
			state: stateOf(job, state),
			attemptsMade: Math.max(job.attemptsMade, job.attemptsStarted ?? 0),
			progress: typeof job.progress === "number" ? job.progress : 0,
			result: job.returnvalue ?? undefined,
			failedReason: job.failedReason || undefined,
			createdAt: job.timestamp,
			finishedAt: job.finishedOn
		};
	}
}

function isCancelled(job: BullJob<Stored<unknown>>): boolean {
	return job.data?.cancelled === true || job.failedReason === CANCELLED;
}

function stateOf(job: BullJob<Stored<unknown>>, state: string): JobState {
	if (state === "completed") return "completed";
	if (isCancelled(job)) return "cancelled";
	switch (state) {
		case "active":
		case "delayed":
		case "failed":
			return state;
		default:
			return "waiting";
	}
}
