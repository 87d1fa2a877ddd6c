import { createHash } from "node:crypto";
import type { Context, ServiceSchema } from "moleculer";
import { z } from "zod";
import type { SocialOutput } from "../agents/social-perception";
import type { VisionResult } from "../agents/providers/vision/types";
import { resolveConsent, type UserConsent } from "../agents/workflow/consent";
import { config } from "../lib/config";
import { conflict, notFound, unauthorized } from "../lib/errors";
import { JOB_KINDS, PermanentJobError, createQueue, type Job, type JobContext, type JobInfo, type JobKind, type JobQueue, type QueuedJob } from "../lib/jobs";
import { perceptionOf, socialInputOf } from "../lib/jobs/ingest";
import { SseChannels, asEventStream, sseFrame, type EventStreamMeta } from "../lib/sse";
import type { Meta } from "../types/meta";

const Id = z.string().min(1).max(64);
const JobId = z.string().min(1).max(128);
const JobSchema = z.discriminatedUnion("kind", [
	z.object({ kind: z.literal("analysis"), analysis_id: Id }),
	z.object({ kind: z.literal("ingest"), media_id: Id, user_id: Id }),
	z.object({ kind: z.literal("vibe_compare"), media_id_1: Id, media_id_2: Id, user_id: Id }),
	z.object({ kind: z.literal("export"), export_id: Id, user_id: Id })
]);
const EnqueueInput = z.object({ job: JobSchema, user_id: Id, idempotency_key: z.string().min(1).max(256).optional() });
const OpsInput = z.object({ queue: z.enum(JOB_KINDS as [JobKind, ...JobKind[]]).optional(), id: JobId.optional(), limit: z.coerce.number().int().min(1).max(1000).default(20) });
type OpsInput = z.infer<typeof OpsInput>;

const COMPLETED = "lifemirror.jobs.completed";
const FAILED = "lifemirror.jobs.failed";
const RETRIED = "lifemirror.jobs.retried";
const DEPTH = "lifemirror.queue.jobs";
/** How often the queue depth gauge is sampled (the HPA and the backlog alert read it). */
const DEPTH_SAMPLE_MS = 15_000;

type Status = "queued" | "running" | "completed" | "failed" | "cancelled";
const STATUS: Record<JobInfo<QueuedJob>["state"], Status> = {
	waiting: "queued", delayed: "queued", paused: "queued", active: "running", completed: "completed", failed: "failed", cancelled: "cancelled"
};

/** The SPEC shape of a job: `{job_id, status, progress, result?, error?}` (plus its kind and attempts). */
export function jobView(info: JobInfo<QueuedJob>) {
	const status = STATUS[info.state];
	return {
		job_id: info.id,
		kind: info.data.job.kind,
		status,
		progress: status === "completed" ? 100 : info.progress,
		attempts: info.attemptsMade,
		...(status === "completed" ? { result: info.result ?? null } : {}),
		...(status === "failed" || status === "cancelled" ? { error: info.failedReason ?? status } : {})
	};
}

/** Queue ids: `<kind>-<id>` (BullMQ ids cannot hold `:` or be integers); the kind picks the queue. */
export function jobIdOf(job: Job, userId: string, key?: string): string {
	if (key) return `${job.kind}-k${createHash("sha256").update(`${userId}\0${key}`).digest("hex").slice(0, 32)}`;
	if (job.kind === "export") return `export-${job.export_id.replace(/[^A-Za-z0-9_-]/g, "_")}`;
	return `${job.kind}-${(job.kind === "analysis" ? job.analysis_id : job.kind === "ingest" ? job.media_id : `${job.media_id_1}_${job.media_id_2}`).replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

interface Running {
	ctx: JobContext;
	finished: number;
}

interface Vars {
	queues: Record<JobKind, JobQueue<QueuedJob>>;
	/** This node's progress streams, each under `job:<id>` and, for an analysis, `analysis:<id>`. */
	streams: SseChannels;
	running: Map<string, Running>;
	/** The last progress event per analysis seen by this node, replayed when a stream connects. */
	lastProgress: Map<string, Record<string, unknown>>;
	depthTimer?: NodeJS.Timeout;
}

interface Methods {
	queueOf(id: string): JobQueue<QueuedJob>;
	ownedJob(ctx: Context<unknown, Meta>, id: string, adminToo?: boolean): Promise<JobInfo<QueuedJob>>;
	handle(data: QueuedJob, jc: JobContext): Promise<unknown>;
	selected(p: OpsInput): JobQueue<QueuedJob>[];
}

/**
 * Background jobs: async analyses and the post-ingest perception. Owns the queues (BullMQ on
 * Redis in a cluster, in-process otherwise), runs their workers on this node, and answers job
 * status, cancel and the progress stream. A handler that fails throws: the queue retries it.
 */
const JobsService: ServiceSchema<Record<string, never>, Methods, Vars> = {
	name: "jobs",

	merged(schema) {
		// Progress and completion reach every node's jobs service (a group per node), wherever the job ran.
		for (const name of ["analysis.progress", "analysis.completed"]) {
			const ev = schema.events?.[name];
			if (ev && typeof ev === "object") ev.group = `jobs.${this.broker.nodeID}`;
		}
	},

	actions: {
		/** Internal: queue a job → {job_id}. The same job (or idempotency key) answers the existing id. */
		enqueue: {
			visibility: "public",
			input: EnqueueInput,
			async handler(ctx: Context<z.infer<typeof EnqueueInput>>) {
				const { job, user_id, idempotency_key } = ctx.params;
				const job_id = await this.queues[job.kind].add({ job, user_id }, { jobId: jobIdOf(job, user_id, idempotency_key) });
				return { job_id };
			}
		},

		/** GET /analysis/jobs/:id — owner only (404 for anyone else). */
		status: {
			input: z.object({ id: JobId }),
			async handler(ctx: Context<{ id: string }, Meta>) {
				return jobView(await this.ownedJob(ctx, ctx.params.id));
			}
		},

		/** POST /analysis/jobs/:id/cancel — owner or admin; a finished job cannot be cancelled (409). */
		cancel: {
			input: z.object({ id: JobId }),
			async handler(ctx: Context<{ id: string }, Meta>) {
				const info = await this.ownedJob(ctx, ctx.params.id, true);
				if (info.state === "completed" || info.state === "failed") throw conflict(`The job has already ${info.state === "completed" ? "completed" : "failed"}`);
				await this.queueOf(info.id).cancel(info.id);
				// The analysis record says so too: a run going on (anywhere) stops at its next node boundary, and is never stored as completed.
				if (info.data.job.kind === "analysis")
					await ctx
						.call("analyses.finish", { id: info.data.job.analysis_id, status: "cancelled", error: { type: "CANCELLED", message: "The job was cancelled" } })
						.catch((err: Error) => this.logger.warn(`job ${info.id}: the analysis could not be marked cancelled: ${err.message}`));
				// The node running it (maybe another one) aborts it; streams following it end.
				await ctx.broadcast("job.cancelled", { job_id: info.id, user_id: info.data.user_id });
				return { job_id: info.id, status: "cancelled" };
			}
		},

		/** GET /analysis/jobs/:id/events — server-sent events: the last state, then node progress, then the end. */
		events: {
			input: z.object({ id: JobId }),
			async handler(ctx: Context<{ id: string }, Meta & EventStreamMeta>) {
				const info = await this.ownedJob(ctx, ctx.params.id);
				const analysisId = info.data.job.kind === "analysis" ? info.data.job.analysis_id : null;
				asEventStream(ctx.meta);
				const stream = this.streams.open(analysisId ? [`job:${info.id}`, `analysis:${analysisId}`] : `job:${info.id}`);
				const last = analysisId ? this.lastProgress.get(analysisId) : undefined;
				stream.write(sseFrame("progress", { ...jobView(info), ...(last ? { node: last.node, node_status: last.status } : {}) }));
				// Read again now that the stream listens: a job that ended in between is not missed.
				const now = (await this.queueOf(info.id).get(info.id)) ?? info;
				const view = jobView(now);
				if (view.status !== "queued" && view.status !== "running") {
					stream.write(sseFrame(view.status, view));
					stream.end();
				}
				return stream;
			}
		},

		/** Operators (REPL): counts per queue. */
		counts: {
			visibility: "public",
			input: OpsInput,
			async handler(ctx: Context<OpsInput>) {
				const out: Record<string, unknown> = {};
				for (const q of this.selected(ctx.params)) out[q.name] = { ...(await q.counts()), paused: await q.isPaused() };
				return out;
			}
		},

		/** Operators: failed jobs with their reason and attempts, newest first. */
		failed: {
			visibility: "public",
			input: OpsInput,
			async handler(ctx: Context<OpsInput>) {
				const lists = await Promise.all(this.selected(ctx.params).map(q => q.failed(ctx.params.limit)));
				return lists.flat().map(j => ({ job_id: j.id, queue: j.queue, job: j.data.job, user_id: j.data.user_id, reason: j.failedReason, attempts: j.attemptsMade, failed_at: j.finishedAt }));
			}
		},

		/** Operators: retry one failed job (by id) or every failed job of the queues. */
		retry: {
			visibility: "public",
			input: OpsInput,
			async handler(ctx: Context<OpsInput>) {
				if (ctx.params.id) return { retried: await this.queueOf(ctx.params.id).retryFailed(ctx.params.id) };
				let retried = 0;
				for (const q of this.selected(ctx.params)) retried += await q.retryFailed();
				return { retried };
			}
		},

		pause: {
			visibility: "public",
			input: OpsInput,
			async handler(ctx: Context<OpsInput>) {
				for (const q of this.selected(ctx.params)) await q.pause();
				return { paused: this.selected(ctx.params).map(q => q.name) };
			}
		},

		resume: {
			visibility: "public",
			input: OpsInput,
			async handler(ctx: Context<OpsInput>) {
				for (const q of this.selected(ctx.params)) await q.resume();
				return { resumed: this.selected(ctx.params).map(q => q.name) };
			}
		}
	},

	events: {
		/** Every new media gets its perception in the background (idempotent per media). */
		async "media.created"(ctx: Context<{ media_id: string; user_id: string }>) {
			const job: Job = { kind: "ingest", media_id: ctx.params.media_id, user_id: ctx.params.user_id };
			await this.queues.ingest.add({ job, user_id: ctx.params.user_id }, { jobId: jobIdOf(job, ctx.params.user_id) });
		},

		"analysis.progress": {
			async handler(ctx: Context<{ analysis_id: string; user_id: string; node: string; status: string; progress?: number }>) {
				const p = ctx.params;
				const run = this.running.get(p.analysis_id);
				let progress = typeof p.progress === "number" ? p.progress : undefined;
				if (run) {
					if (p.status !== "started" && p.status !== "running") run.finished++;
					// Without a total from the orchestrator, each finished node closes a quarter of the remaining way.
					progress ??= Math.min(95, Math.round(100 * (1 - 0.75 ** run.finished)));
				}
				const event = { analysis_id: p.analysis_id, node: p.node, status: p.status, ...(progress !== undefined ? { progress } : {}) };
				this.lastProgress.set(p.analysis_id, event);
				if (this.lastProgress.size > 1000) this.lastProgress.delete(this.lastProgress.keys().next().value!);
				// Streams first and synchronously, so a client sees node events before the completion that follows them.
				this.streams.send(`analysis:${p.analysis_id}`, "progress", event);
				if (run && progress !== undefined) await run.ctx.progress(progress);
			}
		},

		"analysis.completed": {
			handler(ctx: Context<{ analysis_id: string; user_id: string; media_id?: string }>) {
				this.lastProgress.delete(ctx.params.analysis_id);
				this.streams.send(`analysis:${ctx.params.analysis_id}`, "completed", { ...ctx.params, status: "completed", progress: 100 }, { last: true });
			}
		},

		/** Broadcast by the node whose worker finished or failed a job for good. */
		"job.completed"(ctx: Context<{ job_id: string }>) {
			this.streams.send(`job:${ctx.params.job_id}`, "completed", { ...ctx.params, status: "completed", progress: 100 }, { last: true });
		},
		"job.failed"(ctx: Context<{ job_id: string; error: string }>) {
			this.streams.send(`job:${ctx.params.job_id}`, "failed", { ...ctx.params, status: "failed" }, { last: true });
		},
		"job.cancelled"(ctx: Context<{ job_id: string }>) {
			this.queueOf(ctx.params.job_id).abortLocal(ctx.params.job_id);
			this.streams.send(`job:${ctx.params.job_id}`, "cancelled", { job_id: ctx.params.job_id, status: "cancelled" }, { last: true });
		},

		/** Erasure: every job of the user goes (queued, failed, finished); a running one is aborted where it runs, then removed. */
		async "user.erased"(ctx: Context<{ user_id: string }>) {
			const mine = (d: QueuedJob) => d.user_id === ctx.params.user_id;
			for (const q of Object.values(this.queues)) {
				let { active } = await q.purge(mine);
				for (let i = 0; active.length && i < 50; i++) {
					for (const id of active) await ctx.broadcast("job.cancelled", { job_id: id, user_id: ctx.params.user_id });
					await new Promise(r => setTimeout(r, 200));
					({ active } = await q.purge(mine));
				}
				// Still running: the erasure is not confirmed, and the privacy service sends it again later.
				if (active.length) throw new Error(`${active.length} job(s) of the user still running in ${q.name}`);
			}
		}
	},

	methods: {
		queueOf(id: string) {
			const kind = id.slice(0, id.indexOf("-")) as JobKind;
			if (!JOB_KINDS.includes(kind)) throw notFound("Job");
			return this.queues[kind];
		},

		async ownedJob(ctx: Context<unknown, Meta>, id: string, adminToo = false) {
			if (!ctx.meta.userId) throw unauthorized();
			const info = await this.queueOf(id).get(id);
			const admin = adminToo && (ctx.meta.roles ?? []).includes("admin");
			if (!info || (info.data.user_id !== ctx.meta.userId && !admin)) throw notFound("Job");
			// An admin acting on someone else's job is data access: the audit log records who, whose and what.
			if (info.data.user_id !== ctx.meta.userId) ctx.emit("audit.access", { actor_id: ctx.meta.userId, subject_id: info.data.user_id, resource: "job", resource_id: id, action: "cancel" });
			return info;
		},

		selected(p: OpsInput) {
			return p.queue ? [this.queues[p.queue]] : JOB_KINDS.map(k => this.queues[k]);
		},

		/** One attempt of a job. Errors are thrown, never logged away: the queue retries them. */
		async handle({ job }: QueuedJob, jc: JobContext) {
			const opts = { timeout: 10 * 60_000, retries: 0 };
			try {
				if (job.kind === "analysis") {
					this.running.set(job.analysis_id, { ctx: jc, finished: 0 });
					try {
						// The job's result is the report itself (FinalAnalysisResponse), as GET /analysis/jobs/{id} promises.
						const out = await this.broker.call<{ result?: unknown }, object>("orchestrator.run", { analysis_id: job.analysis_id, attempt: jc.attempt }, opts);
						return out && typeof out === "object" && "result" in out ? out.result : out;
					} finally {
						this.running.delete(job.analysis_id);
					}
				}
				// Two media compared (services/vibe-comparison.service.ts); the job's result is the comparison.
				// A data export (services/privacy.service.ts); the job's result is only its id.
				if (job.kind === "export") return await this.broker.call("privacy.buildExport", { export_id: job.export_id, attempt: jc.attempt }, opts);
				if (job.kind === "vibe_compare") return await this.broker.call("vibe_comparison.run", { media_id_1: job.media_id_1, media_id_2: job.media_id_2, user_id: job.user_id }, opts);
				const ids = { media_id: job.media_id, user_id: job.user_id };
				// The stored consents apply here too: with face analysis withdrawn the perception reads no faces.
				const stored = this.broker.registry.getActionEndpoints("consents.forAnalysis")?.hasAvailable()
					? (await this.broker.call<{ stored: UserConsent | null }, object>("consents.forAnalysis", { user_id: job.user_id }, opts)).stored
					: null;
				const pass = await this.broker.call<VisionResult, object>("vision.analyze", { ...ids, biometric: false }, opts);
				const vision = resolveConsent(null, stored).face_analysis ? pass : { ...pass, faces: [] };
				await jc.progress(50);
				const social = await this.broker.call<SocialOutput, object>("agent.social_perception.run", socialInputOf(vision), opts);
				await this.broker.call("media.setPerception", { id: job.media_id, user_id: job.user_id, perception: perceptionOf(vision, social) }, opts);
				return { media_id: job.media_id };
			} catch (err) {
				// A 4xx (the media is gone, the input is invalid) will not get better by retrying.
				const e = err as { code?: number; retryable?: boolean; message?: string };
				if (e.retryable === false && typeof e.code === "number" && e.code >= 400 && e.code < 500) throw new PermanentJobError(e.message ?? "rejected");
				throw err;
			}
		}
	},

	created() {
		const m = this.broker.metrics;
		if (!m.getMetric(COMPLETED)) {
			m.register({ type: "counter", name: COMPLETED, labelNames: ["queue"], description: "Jobs that succeeded (the throughput)" });
			m.register({ type: "counter", name: FAILED, labelNames: ["queue"], description: "Jobs that failed for good (attempts exhausted or not retryable)" });
			m.register({ type: "counter", name: RETRIED, labelNames: ["queue"], description: "Job attempts that failed and will be retried" });
			m.register({ type: "gauge", name: DEPTH, labelNames: ["queue", "state"], description: "Jobs per queue and state (waiting, active, delayed, failed), sampled every 15 s" });
		}
		const c = config();
		const onError = (err: Error) => this.logger.error("job queue error:", err.message);
		this.queues = Object.fromEntries(JOB_KINDS.map(k => [k, createQueue<QueuedJob>(k, c, onError)])) as Record<JobKind, JobQueue<QueuedJob>>;
		// No cap per job: the owner may follow one job from several tabs.
		this.streams = new SseChannels({ maxPerKey: Infinity });
		this.running = new Map();
		this.lastProgress = new Map();
	},

	started() {
		for (const q of Object.values(this.queues))
			q.process((data, jc) => this.handle(data, jc), {
				completed: info => {
					this.broker.metrics.increment(COMPLETED, { queue: q.name });
					void this.broker.broadcast("job.completed", { job_id: info.id, user_id: info.data.user_id });
				},
				failed: (info, final) => {
					this.logger[final ? "warn" : "info"](`job ${info.id} attempt ${info.attemptsMade} failed${final ? " for good" : ", will retry"}: ${info.failedReason}`);
					if (info.state === "cancelled") return;
					if (!final) return void this.broker.metrics.increment(RETRIED, { queue: q.name });
					this.broker.metrics.increment(FAILED, { queue: q.name });
					void this.broker.broadcast("job.failed", { job_id: info.id, user_id: info.data.user_id, error: info.failedReason ?? "failed" });
				}
			});
		// Queue depth for the dashboard, the backlog alert and the worker autoscaler.
		const sample = async () => {
			for (const q of Object.values(this.queues)) {
				const counts = await q.counts().catch(() => null);
				if (counts) for (const state of ["waiting", "active", "delayed", "failed"] as const) this.broker.metrics.set(DEPTH, counts[state], { queue: q.name, state });
			}
		};
		void sample();
		this.depthTimer = setInterval(() => void sample(), DEPTH_SAMPLE_MS);
		this.depthTimer.unref();
	},

	async stopped() {
		if (this.depthTimer) clearInterval(this.depthTimer);
		this.streams.close();
		await Promise.all(Object.values(this.queues).map(q => q.close()));
	}
};

export default JobsService;
