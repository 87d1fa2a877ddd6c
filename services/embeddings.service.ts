import type { Context, ServiceSchema } from "moleculer";
import { z } from "zod";
import { cosine } from "../agents/vectors";
import { ClientError } from "../lib/errors";
import { dbMixin, type DbMethods } from "../mixins/db.mixin";

const Id = z.string().min(1).max(64);
export const EmbeddingKind = z.enum(["face", "style", "text"]);
export type EmbeddingKind = z.infer<typeof EmbeddingKind>;
const Vector = z.array(z.number().finite()).min(1).max(4096);

const StoreInput = z.object({
	user_id: Id,
	media_id: Id,
	analysis_id: Id.nullish(),
	kind: EmbeddingKind,
	vector: Vector,
	version: z.string().max(100).nullish(),
	/** A face vector is biometric: the caller states that it holds biometric consent. */
	biometric_consent: z.boolean().default(false)
});

const ListInput = z.object({ user_id: Id, kind: EmbeddingKind.optional(), media_id: Id.optional() });

const NearestInput = z.object({
	user_id: Id,
	kind: EmbeddingKind,
	vector: Vector,
	limit: z.number().int().min(1).max(50).default(10),
	min_similarity: z.number().min(-1).max(1).default(0.1),
	exclude_media_id: Id.optional()
});

const DeleteInput = z.object({ user_id: Id, media_id: Id.optional(), analysis_id: Id.optional(), kind: EmbeddingKind.optional() });

const UserEvent = z.object({ user_id: Id });
const MediaEvent = z.object({ media_id: Id, user_id: Id.optional() });

export interface EmbeddingDoc {
	_id: string;
	user_id: string;
	media_id: string;
	analysis_id: string | null;
	kind: EmbeddingKind;
	vector: number[];
	dim: number;
	version: string | null;
	created_at: string;
}

const view = (d: EmbeddingDoc) => ({
	id: d._id,
	user_id: d.user_id,
	media_id: d.media_id,
	analysis_id: d.analysis_id,
	kind: d.kind,
	dim: d.dim,
	version: d.version,
	vector: d.vector,
	created_at: d.created_at
});

/**
 * Stored vectors (style, text and, with biometric consent only, face) with their owner,
 * media and analysis. Internal: no gateway route reaches it. Erased with the user, with the
 * media, and (face vectors) when biometric consent is withdrawn.
 */
const EmbeddingsService: ServiceSchema<Record<string, never>, DbMethods> = {
	name: "embeddings",
	mixins: [dbMixin("embeddings", { indexes: [{ fields: ["user_id"] }, { fields: ["media_id"] }] })],

	actions: {
		/** One vector per (user, media, analysis, kind): a second store replaces the first. */
		store: {
			visibility: "public",
			input: StoreInput,
			async handler(ctx: Context<z.infer<typeof StoreInput>>) {
				const p = ctx.params;
				if (p.kind === "face" && !p.biometric_consent) throw new ClientError("CONSENT_REQUIRED", "A face vector is stored only with biometric consent");
				const key = { user_id: p.user_id, media_id: p.media_id, analysis_id: p.analysis_id ?? null, kind: p.kind };
				await this.dbRemoveMany(key);
				const doc = await this.dbInsert({ ...key, vector: p.vector, dim: p.vector.length, version: p.version ?? null, created_at: new Date().toISOString() });
				return { id: doc._id, kind: p.kind, dim: p.vector.length };
			}
		},

		/** The user's vectors, newest first (memory, compare and the export read them). */
		listForUser: {
			visibility: "public",
			input: ListInput,
			async handler(ctx: Context<z.infer<typeof ListInput>>) {
				const query: Record<string, unknown> = { user_id: ctx.params.user_id };
				if (ctx.params.kind) query.kind = ctx.params.kind;
				if (ctx.params.media_id) query.media_id = ctx.params.media_id;
				const docs = await this.dbFind<EmbeddingDoc>({ query, sort: ["-created_at", "_id"] });
				return { items: docs.map(view) };
			}
		},

		/** The user's vectors of one kind nearest to `vector` by cosine similarity. */
		nearest: {
			visibility: "public",
			input: NearestInput,
			async handler(ctx: Context<z.infer<typeof NearestInput>>) {
				const p = ctx.params;
				const docs = await this.dbFind<EmbeddingDoc>({ query: { user_id: p.user_id, kind: p.kind } });
				const items = docs
					.filter(d => d.vector.length === p.vector.length && d.media_id !== p.exclude_media_id)
					.map(d => ({ id: d._id, media_id: d.media_id, analysis_id: d.analysis_id, kind: d.kind, created_at: d.created_at, similarity: Number(cosine(p.vector, d.vector).toFixed(6)) }))
					.filter(r => r.similarity >= p.min_similarity)
					.sort((a, b) => b.similarity - a.similarity || b.created_at.localeCompare(a.created_at))
					.slice(0, p.limit);
				return { items };
			}
		},

		deleteFor: {
			visibility: "public",
			input: DeleteInput,
			async handler(ctx: Context<z.infer<typeof DeleteInput>>) {
				const query = Object.fromEntries(Object.entries(ctx.params).filter(([, v]) => v !== undefined));
				return { deleted: await this.dbRemoveMany(query) };
			}
		}
	},

	events: {
		async "user.erased"(ctx: Context<unknown>) {
			const p = UserEvent.safeParse(ctx.params);
			if (p.success) await this.dbRemoveMany({ user_id: p.data.user_id });
		},
		async "media.deleted"(ctx: Context<unknown>) {
			const p = MediaEvent.safeParse(ctx.params);
			if (p.success) await this.dbRemoveMany(p.data.user_id ? { media_id: p.data.media_id, user_id: p.data.user_id } : { media_id: p.data.media_id });
		},
		/** Retention removed an old analysis: its vectors go with it. */
		async "analysis.expired"(ctx: Context<unknown>) {
			const p = z.object({ analysis_id: Id }).safeParse(ctx.params);
			if (p.success) await this.dbRemoveMany({ analysis_id: p.data.analysis_id });
		},
		/** Withdrawing biometric consent deletes the stored face descriptors (SPEC §3, §5). */
		async "consent.biometric_withdrawn"(ctx: Context<unknown>) {
			const p = UserEvent.safeParse(ctx.params);
			if (p.success) await this.dbRemoveMany({ user_id: p.data.user_id, kind: "face" });
		}
	}
};

export default EmbeddingsService;
