/**
 * Background jobs: a typed union of ids only. A job never carries image bytes or reports;
 * its handler loads what it needs by id, so a job is small, replayable and safe to log.
 */
export type Job =
	| { kind: "analysis"; analysis_id: string }
	| { kind: "ingest"; media_id: string; user_id: string }
	| { kind: "vibe_compare"; media_id_1: string; media_id_2: string; user_id: string }
	| { kind: "export"; export_id: string; user_id: string };
export type JobKind = Job["kind"];
export const JOB_KINDS: readonly JobKind[] = ["analysis", "ingest", "vibe_compare", "export"];

/** What the jobs service queues: the job and the user who owns it (status and cancel are owner-only). */
export interface QueuedJob {
	job: Job;
	user_id: string;
}

/** Where a job is in its life; `cancelled` is final, like `completed` and `failed`. */
export type JobState = "waiting" | "delayed" | "paused" | "active" | "completed" | "failed" | "cancelled";

export interface JobInfo<T> {
	id: string;
	queue: string;
	data: T;
	state: JobState;
	/** Attempts started so far (the current one included while active). */
	attemptsMade: number;
	/** 0–100, set by the handler. */
	progress: number;
	result?: unknown;
	failedReason?: string;
	createdAt: number;
	finishedAt?: number;
}

export interface JobCounts {
	waiting: number;
	active: number;
	delayed: number;
	paused: number;
	completed: number;
	failed: number;
}

export interface JobContext {
	id: string;
	/** 1 on the first run, 2 on the first retry… */
	attempt: number;
	/** Aborted when the job is cancelled while it runs. */
	signal: AbortSignal;
	progress(percent: number): Promise<void>;
}

/** Throw to fail a job. Any error is retried with backoff until the attempts run out, except a `PermanentJobError`. */
export type JobHandler<T> = (data: T, ctx: JobContext) => Promise<unknown>;

/** A failure retrying cannot fix (the media is gone, the input is invalid, the job was cancelled). */
export class PermanentJobError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "PermanentJobError";
	}
}

export const CANCELLED = "cancelled";

export interface QueueEvents<T> {
	/** A job's handler returned: the only thing that counts as throughput. */
	completed?(info: JobInfo<T>): void;
	/** A job's attempt threw; `final` when it will not be retried. */
	failed?(info: JobInfo<T>, final: boolean): void;
}

export interface QueueOptions {
	concurrency: number;
	attempts: number;
	backoffMs: number;
	/** Failed jobs kept for inspection and retry (the oldest go first). */
	keepFailed: number;
	/** Completed jobs kept so their status and result can be read. */
	keepCompleted: number;
	/** Cluster mode: how long a running job's lock lasts without renewal (its node died → free after this). */
	lockMs?: number;
	/** Cluster mode: how often a node checks for jobs whose lock expired and queues them again. */
	stalledIntervalMs?: number;
}

/** One interface, two engines: in-process (embedded mode) and BullMQ on Redis (cluster mode). */
export interface JobQueue<T> {
	readonly name: string;
	/** Queue a job; adding an id that already exists returns it unchanged (idempotent). */
	add(data: T, opts?: { jobId?: string }): Promise<string>;
	/** Start processing on this node with the queue's concurrency. */
	process(handler: JobHandler<T>, events?: QueueEvents<T>): void;
	get(id: string): Promise<JobInfo<T> | null>;
	/** Cancel a job that has not finished: a waiting one never runs, a running one is aborted on this node. */
	cancel(id: string): Promise<JobInfo<T> | null>;
	/** Abort a job running on this node (cluster: every node is told, the one running it acts). */
	abortLocal(id: string): boolean;
	counts(): Promise<JobCounts>;
	failed(limit?: number): Promise<JobInfo<T>[]>;
	/** Retry one failed job, or all of them; returns how many were queued again. */
	retryFailed(id?: string): Promise<number>;
	pause(): Promise<void>;
	resume(): Promise<void>;
	isPaused(): Promise<boolean>;
	close(): Promise<void>;
	/**
	 * Erasure: removes every job whose data matches, whatever its state (its result and reason go
	 * with it). A job running right now cannot be removed: it is flagged cancelled and its id is
	 * returned in `active`, for the caller to abort and purge again once it stopped.
	 */
	purge(match: (data: T) => boolean): Promise<{ removed: number; active: string[] }>;
}

/** Exponential backoff with jitter: base·2^(attempt−1), minus up to half of it at random. */
export function backoffDelay(baseMs: number, attempt: number, random = Math.random): number {
	const full = baseMs * 2 ** Math.max(0, attempt - 1);
	return Math.round(full * (1 - 0.5 * random()));
}
