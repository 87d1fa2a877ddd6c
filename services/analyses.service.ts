import type { Context, ServiceSchema } from "moleculer";
import { z } from "zod";
import { notFound } from "../lib/errors";
import type { NodeVersions } from "../agents/workflow/report";
import { stripBiometric } from "../lib/privacy/consents";
import { dbMixin, type DbMethods } from "../mixins/db.mixin";

/**
 * The analyses store: one record per analysis run — who, which media (and its content hash),
 * which pipeline and graph version, status and progress, per-node status/timings/attempts,
 * small checkpoints (node outputs with the agent, model and prompt versions that made them;
 * never image bytes), the final report and the error of a failed run. Not reachable over HTTP:
 * the `analysis` and `orchestrator` services call it.
 */

export const STATUSES = ["queued", "running", "completed", "failed", "cancelled"] as const;
export type AnalysisStatus = (typeof STATUSES)[number];

export interface Checkpoint {
	output: unknown;
	versions: NodeVersions;
	at: string;
}

export interface AnalysisDoc {
	_id: string;
	user_id: string;
	media_id: string;
	content_hash: string | null;
	pipeline: string;
	graph_version: string;
	/** Hash of the request's consent, bio and options: with the fields above, the idempotency key. */
	request_hash?: string | null;
	status: AnalysisStatus;
	progress: number;
	/** What the run was asked for (consent as sent, the guarded bio, options), so a resumed run repeats it. */
	request: { user_consent?: Record<string, boolean> | null; bio_text?: string | null; options?: Record<string, unknown>; input_warnings?: string[] };
	nodes: Record<string, unknown>;
	checkpoints: Record<string, Checkpoint>;
	result: Record<string, unknown> | null;
	/** enhanced/hybrid: the specialized agents' outputs, or `{error}` in place of a failed one. */
	specialized: Record<string, unknown> | null;
	error: { type: string; message: string } | null;
	created_at: string;
	updated_at: string;
}

const Id = z.string().min(1).max(64);
const CreateInput = z.object({
	user_id: Id,
	media_id: Id,
	content_hash: z.string().max(128).nullish(),
	pipeline: z.string().max(32),
	graph_version: z.string().max(64),
	request_hash: z.string().max(128).nullish(),
	status: z.enum(STATUSES).default("queued"),
	request: z.record(z.string(), z.unknown()).default({})
});
const GetInput = z.object({ id: Id, user_id: Id.optional() });
const CheckpointInput = z.object({
	id: Id,
	node: z.string().regex(/^[a-z_]{1,40}$/),
	record: z.record(z.string(), z.unknown()),
	output: z.unknown().optional(),
	versions: z.record(z.string(), z.unknown()).optional(),
	progress: z.number().min(0).max(1)
});
const FinishInput = z.object({
	id: Id,
	status: z.enum(STATUSES),
	content_hash: z.string().max(128).nullish(),
	result: z.record(z.string(), z.unknown()).nullish(),
	specialized: z.record(z.string(), z.unknown()).nullish(),
	error: z.object({ type: z.string(), message: z.string() }).nullish()
});
const HistoryInput = z.object({ media_id: Id, user_id: Id, limit: z.number().int().min(1).max(50).default(10) });
const RecentInput = z.object({
	user_id: Id,
	media_id: Id.optional(),
	content_hash: z.string().min(1).max(128),
	pipeline: z.string().max(32),
	graph_version: z.string().max(64),
	request_hash: z.string().min(1).max(128),
	/** ISO time: only records created at or after it. */
	since: z.string().min(1).max(40),
	statuses: z.array(z.enum(STATUSES)).min(1).default(["completed"])
});
const ListInput = z.object({ user_id: Id, status: z.enum(STATUSES).optional(), limit: z.number().int().min(1).max(100).default(20) });

const now = () => new Date().toISOString();

const AnalysesService: ServiceSchema<Record<string, never>, DbMethods & { owned(id: string, userId?: string): Promise<AnalysisDoc> }> = {
	name: "analyses",
	mixins: [dbMixin("analyses", { indexes: [{ fields: ["user_id"] }, { fields: ["media_id"] }, { fields: ["user_id", "created_at"] }, { fields: ["user_id", "content_hash", "created_at"] }] })],

	actions: {
		create: {
			visibility: "public",
			input: CreateInput,
			async handler(ctx: Context<z.infer<typeof CreateInput>>): Promise<AnalysisDoc> {
				const at = now();
				return this.dbInsert({ ...ctx.params, content_hash: ctx.params.content_hash ?? null, progress: 0, nodes: {}, checkpoints: {}, result: null, specialized: null, error: null, created_at: at, updated_at: at }) as never;
			}
		},

		/** One record; with `user_id` only the owner's (anyone else: 404, no existence leak). */
		get: {
			visibility: "public",
			input: GetInput,
			handler(ctx: Context<z.infer<typeof GetInput>>) {
				return this.owned(ctx.params.id, ctx.params.user_id);
			}
		},

		/**
		 * A finished node: its status and timings, its output and versions (outputs only for nodes
		 * that produced one). A cancelled record is left alone and says so (`cancelled`): the
		 * orchestrator then starts no further node.
		 */
		checkpoint: {
			visibility: "public",
			input: CheckpointInput,
			async handler(ctx: Context<z.infer<typeof CheckpointInput>>) {
				const { id, node, record, output, versions, progress } = ctx.params;
				const set: Record<string, unknown> = { [`nodes.${node}`]: record, status: "running", progress, updated_at: now() };
				if (output !== undefined) set[`checkpoints.${node}`] = { output, versions: versions ?? {}, at: now() };
				// One atomic conditional write: a cancel that lands in between is never overwritten.
				if (await this.dbUpdateMany({ _id: id, status: { $ne: "cancelled" } }, set)) return { saved: true, cancelled: false };
				const doc = await this.dbGet<AnalysisDoc>(id);
				return { saved: false, cancelled: doc?.status === "cancelled" };
			}
		},

		/** Status changes (running, completed, failed, cancelled) with the report or the error. */
		finish: {
			visibility: "public",
			input: FinishInput,
			async handler(ctx: Context<z.infer<typeof FinishInput>>) {
				const { id, ...rest } = ctx.params;
				const set: Record<string, unknown> = { ...rest, updated_at: now() };
				if (rest.status === "completed") set.progress = 1;
				for (const k of Object.keys(set)) if (set[k] === undefined) delete set[k];
				// Cancelled is final (a run still going must not mark it running or completed); only an unfinished run can be cancelled.
				const from = rest.status === "cancelled" ? { $in: ["queued", "running"] } : { $ne: "cancelled" };
				await this.dbUpdateMany({ _id: id, status: from }, set);
				return this.dbGet<AnalysisDoc>(id);
			}
		},

		/** A media's completed analyses, newest first (the owner's only), and how many there are. */
		history: {
			visibility: "public",
			input: HistoryInput,
			async handler(ctx: Context<z.infer<typeof HistoryInput>>) {
				const query = { media_id: ctx.params.media_id, user_id: ctx.params.user_id, status: "completed" };
				const [items, total] = await Promise.all([this.dbFind<AnalysisDoc>({ query, sort: ["-created_at", "-_id"], limit: ctx.params.limit }), this.dbCount(query)]);
				return { items, total };
			}
		},

		/**
		 * Idempotency: the newest record of the same request (user, content hash, pipeline, graph
		 * version, request hash) created since `since` in one of `statuses`, or null. A completed
		 * run with a failed node (a partial report) is not reused: asking again retries it.
		 */
		recent: {
			visibility: "public",
			input: RecentInput,
			async handler(ctx: Context<z.infer<typeof RecentInput>>): Promise<AnalysisDoc | null> {
				const { since, statuses, ...same } = ctx.params;
				const query: Record<string, unknown> = { ...same, status: { $in: statuses }, created_at: { $gte: since } };
				if (query.media_id === undefined) delete query.media_id;
				const docs = await this.dbFind<AnalysisDoc>({ query, sort: ["-created_at", "-_id"], limit: 10 });
				const partial = (d: AnalysisDoc) => d.status === "completed" && ((d.result?.processing_metadata as { agents_failed?: unknown[] } | undefined)?.agents_failed?.length ?? 0) > 0;
				return docs.find(d => !partial(d)) ?? null;
			}
		},

		/** A user's analyses, newest first. */
		listForUser: {
			visibility: "public",
			input: ListInput,
			async handler(ctx: Context<z.infer<typeof ListInput>>) {
				const query: Record<string, unknown> = { user_id: ctx.params.user_id };
				if (ctx.params.status) query.status = ctx.params.status;
				return { items: await this.dbFind<AnalysisDoc>({ query, sort: ["-created_at", "-_id"], limit: ctx.params.limit }) };
			}
		},

		/** Internal (retention): deletes finished analyses created before `before`, with their checkpoints; `analysis.expired` for each. */
		expire: {
			visibility: "public",
			input: z.object({ before: z.string().max(40), limit: z.number().int().min(1).max(10_000).default(1000) }),
			async handler(ctx: Context<{ before: string; limit: number }>) {
				const docs = await this.dbFind<AnalysisDoc>({ query: { created_at: { $lt: ctx.params.before }, status: { $in: ["completed", "failed", "cancelled"] } }, limit: ctx.params.limit });
				for (const doc of docs) {
					await this.dbRemove(doc._id);
					ctx.emit("analysis.expired", { analysis_id: doc._id, user_id: doc.user_id, media_id: doc.media_id });
				}
				return { expired: docs.length };
			}
		}
	},

	events: {
		async "user.erased"(ctx: Context<{ user_id: string }>) {
			await this.dbRemoveMany({ user_id: ctx.params.user_id });
		},
		async "media.deleted"(ctx: Context<{ media_id: string }>) {
			await this.dbRemoveMany({ media_id: ctx.params.media_id });
		},
		/** Withdrawn biometric consent: age, gender and descriptors leave every stored report and checkpoint at once. */
		async "consent.biometric_withdrawn"(ctx: Context<{ user_id: string }>) {
			for (const doc of await this.dbFind<AnalysisDoc>({ query: { user_id: ctx.params.user_id } })) {
				const cleaned = stripBiometric({ result: doc.result, specialized: doc.specialized, checkpoints: doc.checkpoints });
				// A run not started yet (or resumed later) reads its consent from the record: it runs without biometrics now.
				const pending = (doc.status === "queued" || doc.status === "running") && doc.request?.user_consent?.biometric_analysis === true;
				if (cleaned.changed || pending)
					await this.dbUpdate(doc._id, { ...(cleaned.value as object), ...(pending ? { "request.user_consent.biometric_analysis": false } : {}), updated_at: now() });
			}
		}
	},

	methods: {
		async owned(id: string, userId?: string) {
			const doc = await this.dbGet<AnalysisDoc>(id);
			if (!doc || (userId !== undefined && doc.user_id !== userId)) throw notFound("Analysis");
			return doc;
		}
	}
};

export default AnalysesService;
