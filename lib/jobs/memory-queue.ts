import {
	CANCELLED,
	PermanentJobError,
	backoffDelay,
	type JobCounts,
	type JobHandler,
	type JobInfo,
	type JobQueue,
	type QueueEvents,
	type QueueOptions
} from "./types";

interface Entry<T> extends JobInfo<T> {
	timer?: NodeJS.Timeout;
	abort?: AbortController;
}

/**
 * Embedded mode: the queue lives in this process. Same contract as the BullMQ queue —
 * concurrency, attempts with exponential backoff and jitter, failed jobs kept with their
 * reason — but nothing survives a restart.
 */
export class MemoryQueue<T> implements JobQueue<T> {
	private readonly jobs = new Map<string, Entry<T>>();
	private readonly waiting: string[] = [];
	private active = 0;
	private paused = false;
	private closed = false;
	private seq = 0;
	private handler: JobHandler<T> | null = null;
	private events: QueueEvents<T> = {};

	constructor(
		readonly name: string,
		private readonly opts: QueueOptions
	) {}

	async add(data: T, o: { jobId?: string } = {}): Promise<string> {
		const id = o.jobId ?? `${++this.seq}`;
		if (this.jobs.has(id)) return id;
		this.jobs.set(id, { id, queue: this.name, data, state: "waiting", attemptsMade: 0, progress: 0, createdAt: Date.now() });
		this.waiting.push(id);
		this.pump();
		return id;
	}

	process(handler: JobHandler<T>, events: QueueEvents<T> = {}): void {
		this.handler = handler;
		this.events = events;
		this.pump();
	}

	async get(id: string): Promise<JobInfo<T> | null> {
		const e = this.jobs.get(id);
		return e ? this.view(e) : null;
	}

	async cancel(id: string): Promise<JobInfo<T> | null> {
		const e = this.jobs.get(id);
		if (!e) return null;
		if (e.state === "completed" || e.state === "failed" || e.state === "cancelled") return this.view(e);
		if (e.state === "active") {
			e.abort?.abort(new PermanentJobError(CANCELLED));
		} else {
			clearTimeout(e.timer);
			this.unqueue(id);
			this.finish(e, "cancelled", CANCELLED);
		}
		return this.view(e);
	}

	abortLocal(id: string): boolean {
		const e = this.jobs.get(id);
		if (e?.state !== "active" || !e.abort) return false;
		e.abort.abort(new PermanentJobError(CANCELLED));
		return true;
	}

	async counts(): Promise<JobCounts> {
		const c: JobCounts = { waiting: 0, active: 0, delayed: 0, paused: 0, completed: 0, failed: 0 };
		for (const e of this.jobs.values()) {
			if (e.state === "waiting") c[this.paused ? "paused" : "waiting"]++;
			else if (e.state !== "cancelled" && e.state !== "paused") c[e.state]++;
		}
		return c;
	}

	async failed(limit = 50): Promise<JobInfo<T>[]> {
		return [...this.jobs.values()]
			.filter(e => e.state === "failed")
			.sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0))
			.slice(0, limit)
			.map(e => this.view(e));
	}

	async retryFailed(id?: string): Promise<number> {
		const targets = id ? [this.jobs.get(id)].filter(e => e !== undefined) : [...this.jobs.values()];
		let n = 0;
		for (const e of targets) {
			if (e.state !== "failed") continue;
			Object.assign(e, { state: "waiting", attemptsMade: 0, progress: 0, failedReason: undefined, finishedAt: undefined });
			this.waiting.push(e.id);
			n++;
		}
		this.pump();
		return n;
	}

	async pause(): Promise<void> {
		this.paused = true;
	}

	async resume(): Promise<void> {
		this.paused = false;
		this.pump();
	}

	async isPaused(): Promise<boolean> {
		return this.paused;
	}

	async close(): Promise<void> {
		this.closed = true;
		for (const e of this.jobs.values()) clearTimeout(e.timer);
	}

	async purge(match: (data: T) => boolean): Promise<{ removed: number; active: string[] }> {
		let removed = 0;
		const active: string[] = [];
		for (const e of [...this.jobs.values()]) {
			if (!match(e.data)) continue;
			if (e.state === "active") {
				e.abort?.abort(new PermanentJobError(CANCELLED));
				active.push(e.id);
				continue;
			}
			clearTimeout(e.timer);
			this.unqueue(e.id);
			this.jobs.delete(e.id);
			removed++;
		}
		return { removed, active };
	}

	private pump(): void {
		while (!this.closed && !this.paused && this.handler && this.active < this.opts.concurrency && this.waiting.length > 0) {
			const e = this.jobs.get(this.waiting.shift()!);
			if (e?.state === "waiting") void this.run(e, this.handler);
		}
	}

	private async run(e: Entry<T>, handler: JobHandler<T>): Promise<void> {
		this.active++;
		e.state = "active";
		e.attemptsMade++;
		const abort = new AbortController();
		e.abort = abort;
		try {
			const aborted = new Promise<never>((_, reject) => abort.signal.addEventListener("abort", () => reject(abort.signal.reason as Error), { once: true }));
			const result = await Promise.race([
				handler(e.data, {
					id: e.id,
					attempt: e.attemptsMade,
					signal: abort.signal,
					progress: async p => {
						e.progress = Math.max(0, Math.min(100, p));
					}
				}),
				aborted
			]);
			e.progress = 100;
			this.finish(e, "completed", undefined, result);
			this.events.completed?.(this.view(e));
		} catch (err) {
			const reason = err instanceof Error ? err.message : String(err);
			const final = err instanceof PermanentJobError || e.attemptsMade >= this.opts.attempts;
			if (final) this.finish(e, abort.signal.aborted && reason === CANCELLED ? "cancelled" : "failed", reason);
			else {
				e.state = "delayed";
				e.failedReason = reason;
				e.timer = setTimeout(() => {
					if (e.state !== "delayed") return;
					e.state = "waiting";
					this.waiting.push(e.id);
					this.pump();
				}, backoffDelay(this.opts.backoffMs, e.attemptsMade));
			}
			this.events.failed?.(this.view(e), final);
		} finally {
			e.abort = undefined;
			this.active--;
			this.pump();
		}
	}

	private finish(e: Entry<T>, state: "completed" | "failed" | "cancelled", reason?: string, result?: unknown): void {
		Object.assign(e, { state, failedReason: reason, result, finishedAt: Date.now() });
		this.trim(state === "completed" ? "completed" : "failed", state === "completed" ? this.opts.keepCompleted : this.opts.keepFailed);
	}

	/** Keep at most `keep` finished jobs of a kind: the oldest are forgotten first. */
	private trim(state: "completed" | "failed", keep: number): void {
		const done = [...this.jobs.values()].filter(j => j.state === state || (state === "failed" && j.state === "cancelled"));
		if (done.length <= keep) return;
		done.sort((a, b) => (a.finishedAt ?? 0) - (b.finishedAt ?? 0));
		for (const j of done.slice(0, done.length - keep)) this.jobs.delete(j.id);
	}

	private unqueue(id: string): void {
		const i = this.waiting.indexOf(id);
		if (i >= 0) this.waiting.splice(i, 1);
	}

	private view(e: Entry<T>): JobInfo<T> {
		const { timer: _t, abort: _a, ...info } = e;
		return { ...info, state: e.state === "waiting" && this.paused ? "paused" : e.state };
	}
}
