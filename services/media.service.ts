import type { Readable } from "node:stream";
import type { Context, ServiceSchema } from "moleculer";
import sharp from "sharp";
import { z } from "zod";
import { config } from "../lib/config";
import { ClientError, forbidden, notFound, unauthorized } from "../lib/errors";
import { perceptionView, type StoredPerception } from "../lib/jobs/ingest";
import { ingest } from "../lib/media/ingest";
import { readLimited, tooLarge } from "../lib/media/read";
import { MediaMetadata, mediaView, type MediaDoc, type MediaView } from "../lib/media/record";
import { createStorage, type Storage } from "../lib/storage";
import { dbMixin, type DbMethods } from "../mixins/db.mixin";
import { ACCEPTED_TYPES } from "./storage.service";
import type { Meta } from "../types/meta";

/** The frontend sends `user_id`; it may only name the caller (SPEC §3). */
const UserId = z.string().max(64).optional();
const Id = z.string().min(1).max(64);

const PresignInput = z.object({
	filename: z.string().min(1).max(255),
	content_type: z.enum(ACCEPTED_TYPES, { error: "must be image/jpeg, image/png, image/webp, video/mp4, video/quicktime or video/webm" }),
	user_id: UserId
});

const CreateInput = z
	.object({
		key: z.string().min(1).max(512).optional(),
		storage_url: z.string().min(1).max(2048).optional(),
		mime: z.string().max(100).optional(),
		user_id: UserId,
		metadata: MediaMetadata.optional()
	})
	.refine(v => v.key || v.storage_url, { message: "key or storage_url is required", path: ["key"] });

const ListInput = z.object({
	limit: z.coerce.number().int().min(1).max(100).default(20),
	offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
	user_id: UserId
});

interface Methods {
	caller(ctx: Context<unknown, Meta>, claimed?: string): string;
	owned(ctx: Context<unknown, Meta>, id: string): Promise<MediaDoc>;
	store(userId: string, bytes: Buffer, metadata: Record<string, unknown>): Promise<MediaDoc>;
	view(doc: MediaDoc): Promise<MediaView>;
	removeFiles(doc: MediaDoc): Promise<void>;
}

interface Vars {
	storage: Storage;
}

/** Media: uploads (multipart, presigned), image hygiene, video keyframes, signed reads. */
const MediaService: ServiceSchema<Record<string, never>, Methods & DbMethods, Vars> = {
	name: "media",
	mixins: [dbMixin("media", { indexes: [{ fields: ["user_id"] }, { fields: ["content_hash"] }, { fields: ["user_id", "created_at"] }] })],

	actions: {
		/** POST /media/upload — multipart, field `file`; the stream is read up to the size limit, never further. */
		upload: {
			rateClass: "upload",
			async handler(ctx: Context<Record<string, unknown>, Meta>) {
				const userId = this.caller(ctx, typeof ctx.params?.user_id === "string" ? ctx.params.user_id : undefined);
				if (!ctx.stream) throw new ClientError("VALIDATION", "A file is required", { validation_errors: [{ field: "file", message: "required" }] });
				if (ctx.params?.$fieldname !== undefined && ctx.params.$fieldname !== "file")
					throw new ClientError("VALIDATION", "The file must be sent in the field `file`", { validation_errors: [{ field: "file", message: "required" }] });
				const bytes = await readLimited(ctx.stream as Readable, config().media.maxUploadBytes);
				const parsed = MediaMetadata.safeParse(parseJsonField(ctx.params?.metadata));
				const doc = await this.store(userId, bytes, parsed.success ? parsed.data : {});
				return { status: "ok", media_id: doc._id, ...(await this.view(doc)) };
			}
		},

		/** POST /media/presign → a signed, single-use, expiring URL bound to one key, size and type. */
		presign: {
			input: PresignInput,
			async handler(ctx: Context<z.infer<typeof PresignInput>, Meta>) {
				const userId = this.caller(ctx, ctx.params.user_id);
				const issued = await ctx.call<{ upload_url: string; key: string; expires_in: number }, object>("storage.issue", {
					user_id: userId,
					content_type: ctx.params.content_type
				});
				return { ...issued, method: "PUT", headers: { "Content-Type": ctx.params.content_type } };
			}
		},

		/** POST /media/ — turn an uploaded object (by key, or by the upload URL without its query) into a media record. */
		create: {
			input: CreateInput,
			async handler(ctx: Context<z.infer<typeof CreateInput>, Meta>) {
				const userId = this.caller(ctx, ctx.params.user_id);
				// A URL we never issued (another host, 127.0.0.1, file://…) maps to no key: 404, nothing fetched.
				const key = ctx.params.key ?? keyFromUrl(ctx.params.storage_url!);
				if (!key) throw notFound("Upload");
				const up = await ctx.call<{ key: string; max_bytes: number; size: number }, object>("storage.claim", { key, user_id: userId });
				try {
					if (up.size > up.max_bytes) throw tooLarge(up.max_bytes);
					const doc = await this.store(userId, await this.storage.get(up.key), ctx.params.metadata ?? {});
					return { media_id: doc._id, ...(await this.view(doc)) };
				} finally {
					await this.storage.delete(up.key);
				}
			}
		},

		/** GET /media/:id */
		get: {
			input: z.object({ id: Id }),
			async handler(ctx: Context<{ id: string }, Meta>) {
				return this.view(await this.owned(ctx, ctx.params.id));
			}
		},

		/** GET /media — the caller's media, newest first. */
		list: {
			input: ListInput,
			async handler(ctx: Context<z.infer<typeof ListInput>, Meta>) {
				const userId = this.caller(ctx, ctx.params.user_id);
				const query = { user_id: userId };
				const [docs, total] = await Promise.all([
					this.dbFind<MediaDoc>({ query, sort: ["-created_at", "_id"], limit: ctx.params.limit, offset: ctx.params.offset }),
					this.dbCount(query)
				]);
				return { items: await Promise.all(docs.map(d => this.view(d))), total, limit: ctx.params.limit, offset: ctx.params.offset };
			}
		},

		/** DELETE /media/:id — the record and every file (image, thumbnail, keyframes). */
		remove: {
			input: z.object({ id: Id }),
			async handler(ctx: Context<{ id: string }, Meta>) {
				const doc = await this.owned(ctx, ctx.params.id);
				await this.removeFiles(doc);
				await this.dbRemove(doc._id);
				ctx.emit("media.deleted", { media_id: doc._id, user_id: doc.user_id, content_hash: doc.content_hash });
				return { status: "deleted", media_id: doc._id };
			}
		},

		/** The stored image analysis reads (an image, or a video's best keyframe): for agents, not HTTP. */
		analysisImage: {
			visibility: "public",
			input: z.object({ id: Id, user_id: Id }),
			async handler(ctx: Context<{ id: string; user_id: string }>) {
				const doc = await this.dbGet<MediaDoc>(ctx.params.id);
				if (!doc || doc.user_id !== ctx.params.user_id) throw notFound("Media");
				if (doc.original_deleted_at) throw new ClientError("NOT_FOUND", "The original of this media was deleted under the retention policy", { original_deleted_at: doc.original_deleted_at });
				return { media_id: doc._id, content_hash: doc.content_hash, key: doc.analysis_key, data: await this.storage.get(doc.analysis_key) };
			}
		},

		/**
		 * Internal (retention): deletes the full-size files (original, analysis image, keyframes,
		 * crops) of media created before `before`; the record, its thumbnail and its perception stay.
		 */
		expireOriginals: {
			visibility: "public",
			input: z.object({ before: z.string().max(40), limit: z.number().int().min(1).max(10_000).default(1000) }),
			async handler(ctx: Context<{ before: string; limit: number }>) {
				const docs = await this.dbFind<MediaDoc>({ query: { created_at: { $lt: ctx.params.before }, original_deleted_at: { $exists: false } }, limit: ctx.params.limit });
				const at = new Date().toISOString();
				for (const doc of docs) {
					const keys = [doc.storage_key, doc.analysis_key, ...(doc.keyframes ?? []).map(k => k.key), ...(doc.crop_keys ?? [])];
					for (const key of new Set(keys)) if (key !== doc.thumbnail_key) await this.storage.delete(key);
					await this.dbUpdate(doc._id, { original_deleted_at: at, keyframes: [], crop_keys: [] });
				}
				return { expired: docs.length };
			}
		},


		/** Internal: the post-ingest job stores the media's perception here. */
		setPerception: {
			visibility: "public",
			input: z.object({ id: Id, user_id: Id, perception: z.record(z.string(), z.unknown()) }),
			async handler(ctx: Context<{ id: string; user_id: string; perception: Record<string, unknown> }>) {
				const doc = await this.dbGet<MediaDoc>(ctx.params.id);
				if (!doc || doc.user_id !== ctx.params.user_id) throw notFound("Media");
				await this.dbUpdate(doc._id, { perception: ctx.params.perception });
				ctx.emit("media.perceived", { media_id: doc._id, user_id: doc.user_id });
				return { media_id: doc._id };
			}
		},

		/**
		 * Internal read for the social and history services: a user's media with their stored
		 * perception (null until the post-ingest job ran) and a signed thumbnail URL, newest first.
		 * No ownership check: callers answer only for data they are allowed to show.
		 */
		summaries: {
			visibility: "public",
			input: z.object({
				user_id: Id.optional(),
				ids: z.array(Id).max(500).optional(),
				since: z.string().max(40).optional(),
				limit: z.number().int().min(1).max(1000).default(100)
			}),
			async handler(ctx: Context<{ user_id?: string; ids?: string[]; since?: string; limit: number }>) {
				const { user_id, ids, since, limit } = ctx.params;
				if (!user_id && !ids) return [];
				const query: Record<string, unknown> = {};
				if (user_id) query.user_id = user_id;
				if (ids) query._id = { $in: ids };
				if (since) query.created_at = { $gte: since };
				const docs = await this.dbFind<MediaDoc & { perception?: StoredPerception }>({ query, sort: ["-created_at", "_id"], limit });
				const ttl = config().storage.signedUrlTtlS;
				return Promise.all(
					docs.map(async d => ({
						media_id: d._id,
						user_id: d.user_id,
						media_type: d.media_type,
						created_at: d.created_at,
						content_hash: d.content_hash,
						thumbnail_url: await this.storage.downloadUrl(d.thumbnail_key ?? d.storage_key, ttl),
						perception: d.perception ?? null
					}))
				);
			}
		},

		/** GET /media/media/:id/perception — owner only; 404 until the post-ingest job has stored it. */
		perception: {
			input: z.object({ id: Id }),
			async handler(ctx: Context<{ id: string }, Meta>) {
				const doc = (await this.owned(ctx, ctx.params.id)) as MediaDoc & { perception?: StoredPerception };
				if (!doc.perception) throw notFound("Perception");
				return perceptionView(doc._id, await this.storage.downloadUrl(doc.storage_key, config().storage.signedUrlTtlS), doc.perception);
			}
		},

		/** Stores a crop of the analysed image (a face, a garment, the body) and answers its signed URL. */
		crop: {
			visibility: "public",
			input: z.object({
				media_id: Id,
				user_id: Id,
				kind: z.enum(["face", "body", "item"]),
				box: z.tuple([z.number(), z.number(), z.number(), z.number()])
			}),
			async handler(ctx: Context<{ media_id: string; user_id: string; kind: string; box: [number, number, number, number] }>) {
				const doc = await this.dbGet<MediaDoc>(ctx.params.media_id);
				if (!doc || doc.user_id !== ctx.params.user_id) throw notFound("Media");
				const region = clampBox(ctx.params.box, doc.width, doc.height);
				if (!region) return { url: null, key: null };
				const key = `${doc.analysis_key.replace(/\.[a-z0-9]+$/, "")}.crop-${ctx.params.kind}-${region.join("-")}.jpg`;
				if (!(doc.crop_keys ?? []).includes(key)) {
					const data = await sharp(await this.storage.get(doc.analysis_key))
						.extract({ left: region[0], top: region[1], width: region[2], height: region[3] })
						.jpeg({ quality: 85 })
						.toBuffer();
					await this.storage.put(key, data, "image/jpeg");
					await this.dbUpdate(doc._id, { crop_keys: [...(doc.crop_keys ?? []), key] });
				}
				return { key, url: await this.storage.downloadUrl(key, config().storage.signedUrlTtlS) };
			}
		}
	},

	events: {
		/** Erasure: every media record and file of the user. */
		async "user.erased"(ctx: Context<{ user_id: string }>) {
			const docs = await this.dbFind<MediaDoc>({ query: { user_id: ctx.params.user_id } });
			for (const doc of docs) await this.removeFiles(doc);
			await this.dbRemoveMany({ user_id: ctx.params.user_id });
			for (const key of await this.storage.list(`uploads/${ctx.params.user_id}/`)) await this.storage.delete(key);
		}
	},

	methods: {
		caller(ctx: Context<unknown, Meta>, claimed?: string) {
			const id = ctx.meta.userId;
			if (!id) throw unauthorized();
			if (claimed !== undefined && claimed !== id) throw forbidden("user_id must be your own");
			return id;
		},

		async owned(ctx: Context<unknown, Meta>, id: string) {
			const userId = this.caller(ctx);
			const doc = await this.dbGet<MediaDoc>(id);
			if (!doc || doc.user_id !== userId) throw notFound("Media");
			return doc;
		},

		async store(userId: string, bytes: Buffer, metadata: Record<string, unknown>) {
			const c = config();
			const mine = await this.dbFind<MediaDoc>({ query: { user_id: userId } });
			const out = await ingest(bytes, userId, c);
			// An identical re-upload by the same user is the media it already has (quota full or not: it adds nothing).
			const existing = mine.find(d => d.content_hash === out.content_hash);
			if (existing) return existing;
			const used = mine.reduce((n, d) => n + (d.size_bytes ?? 0), 0);
			if (mine.length >= c.media.quotaCount || used + out.size_bytes > c.media.quotaBytes)
				throw new ClientError("QUOTA_EXCEEDED", "Media quota exceeded: delete some media first", {
					count: mine.length,
					bytes: used,
					max_count: c.media.quotaCount,
					max_bytes: c.media.quotaBytes
				});
			for (const f of out.files) await this.storage.put(f.key, f.data, f.mime);
			const { files: _files, ...facts } = out;
			const doc = await this.dbInsert<Omit<MediaDoc, "_id">>({ ...facts, user_id: userId, metadata, created_at: new Date().toISOString() });
			this.broker.emit("media.created", { media_id: doc._id, user_id: userId, content_hash: doc.content_hash });
			return doc;
		},

		async view(doc: MediaDoc) {
			return mediaView(doc, key => this.storage.downloadUrl(key, config().storage.signedUrlTtlS));
		},

		async removeFiles(doc: MediaDoc) {
			const keys = [doc.storage_key, doc.thumbnail_key, ...(doc.keyframes ?? []).map(k => k.key), ...(doc.crop_keys ?? [])];
			// Crops stored at the same moment (face and posture agents in parallel) race on `crop_keys`
			// and one can be missing from it: also sweep every file named after this media.
			const base = `${doc.storage_key.replace(/\.[a-z0-9]+$/, "")}.`;
			for (const key of await this.storage.list(`media/${doc.user_id}/`)) if (key.startsWith(base)) keys.push(key);
			for (const key of new Set(keys)) await this.storage.delete(key);
		}
	},

	created() {
		this.storage = createStorage(config()).storage;
	}
};

/** A box [x, y, w, h] clipped to the image, in whole pixels; null when nothing is left. */
export function clampBox(box: [number, number, number, number], width: number, height: number): [number, number, number, number] | null {
	const x = Math.max(0, Math.floor(box[0]));
	const y = Math.max(0, Math.floor(box[1]));
	const w = Math.min(width - x, Math.ceil(box[2] + Math.min(0, box[0])));
	const h = Math.min(height - y, Math.ceil(box[3] + Math.min(0, box[1])));
	return w >= 2 && h >= 2 ? [x, y, w, h] : null;
}

/** `metadata` arrives as a JSON string in a multipart form. */
function parseJsonField(v: unknown): unknown {
	if (typeof v !== "string") return v ?? {};
	try {
		return JSON.parse(v);
	} catch {
		return {};
	}
}

/** The frontend posts its upload URL with the query cut off: map it back to the key we issued. */
export function keyFromUrl(url: string): string | null {
	let u: URL;
	try {
		u = new URL(url);
	} catch {
		return null;
	}
	const m = /\/(uploads\/[A-Za-z0-9-]+\/[A-Za-z0-9-]+\.[a-z0-9]+)$/.exec(decodeURIComponent(u.pathname));
	return m ? m[1] : null;
}

export default MediaService;
