import { randomUUID } from "node:crypto";
import type { Readable } from "node:stream";
import type { Context, ServiceSchema } from "moleculer";
import { z } from "zod";
import { config } from "../lib/config";
import { ClientError, notFound } from "../lib/errors";
import { readLimited } from "../lib/media/read";
import type { UrlSigner } from "../lib/signing";
import { createStorage, type Storage } from "../lib/storage";
import { dbMixin, type DbMethods } from "../mixins/db.mixin";

export const ACCEPTED_TYPES = ["image/jpeg", "image/png", "image/webp", "video/mp4", "video/quicktime", "video/webm"] as const;
export type AcceptedType = (typeof ACCEPTED_TYPES)[number];
const EXT: Record<AcceptedType, string> = {
	"image/jpeg": "jpg",
	"image/png": "png",
	"image/webp": "webp",
	"video/mp4": "mp4",
	"video/quicktime": "mov",
	"video/webm": "webm"
};

/** A presigned upload: issued → uploaded (the PUT arrived) → claimed (it became a media record). */
export interface UploadDoc {
	_id: string;
	key: string;
	user_id: string;
	content_type: AcceptedType;
	max_bytes: number;
	expires_at: string;
	state: "issued" | "receiving" | "uploaded" | "claimed";
}

const Key = z.string().min(1).max(512);
/** `?exp=&sig=` (and for uploads the bound `ct` and `max`) as the gateway passes them. */
const Signed = z.object({ key: Key, exp: z.string().max(20).optional(), sig: z.string().max(128).optional() });
const SignedUpload = Signed.extend({ ct: z.string().max(100).optional(), max: z.string().max(20).optional() });

interface Methods {
	upload(key: string): Promise<UploadDoc | null>;
	/** Removes uploads (records and objects) that expired more than an hour ago; answers how many. */
	sweep(now?: number): Promise<number>;
}

interface Vars {
	storage: Storage;
	signer: UrlSigner;
	sweepTimer: NodeJS.Timeout;
}

const gone = () => notFound("File");

/**
 * Presigned uploads and, in local storage mode, the signed file URLs the gateway serves
 * (`PUT /storage/upload/<key>`, `GET /storage/<key>`). With S3 the client talks to the
 * bucket directly and only `issue`/`claim` are used. Local files live in this node's
 * DATA_DIR, so `storage` and `media` run on the same node in local mode.
 */
const StorageService: ServiceSchema<Record<string, never>, Methods & DbMethods, Vars> = {
	name: "storage",
	mixins: [dbMixin("uploads", { indexes: [{ fields: ["key"], unique: true }, { fields: ["user_id"] }] })],

	actions: {
		/** A signed, expiring, single-use upload URL bound to one key, content type and size. */
		issue: {
			visibility: "public",
			input: z.object({ user_id: z.string().min(1).max(64), content_type: z.enum(ACCEPTED_TYPES) }),
			async handler(ctx: Context<{ user_id: string; content_type: AcceptedType }>) {
				const c = config();
				const key = `uploads/${ctx.params.user_id}/${randomUUID()}.${EXT[ctx.params.content_type]}`;
				await this.dbInsert<Omit<UploadDoc, "_id">>({
					key,
					user_id: ctx.params.user_id,
					content_type: ctx.params.content_type,
					max_bytes: c.media.maxUploadBytes,
					expires_at: new Date(Date.now() + c.storage.presignTtlS * 1000).toISOString(),
					state: "issued"
				});
				const upload_url = await this.storage.uploadUrl(key, {
					contentType: ctx.params.content_type,
					maxBytes: c.media.maxUploadBytes,
					expiresS: c.storage.presignTtlS
				});
				return { upload_url, key, expires_in: c.storage.presignTtlS };
			}
		},

		/** Hands an uploaded object to its owner exactly once; anything else looks like "not found". */
		claim: {
			visibility: "public",
			input: z.object({ key: Key, user_id: z.string().min(1).max(64) }),
			async handler(ctx: Context<{ key: string; user_id: string }>) {
				const up = await this.upload(ctx.params.key);
				if (!up || up.user_id !== ctx.params.user_id || up.state === "claimed" || up.state === "receiving") throw notFound("Upload");
				const head = await this.storage.head(up.key);
				if (!head) throw notFound("Upload");
				const won = await this.dbUpdateMany({ _id: up._id, state: up.state }, { state: "claimed" });
				if (won !== 1) throw notFound("Upload");
				return { key: up.key, content_type: up.content_type, max_bytes: up.max_bytes, size: head.size };
			}
		},

		/** PUT /storage/upload/<key> (local mode): the body is the file, read up to the bound size. */
		receive: {
			auth: "none",
			rateClass: "upload",
			input: SignedUpload,
			async handler(ctx: Context<z.infer<typeof SignedUpload>>) {
				const { key, exp, sig, ct, max } = ctx.params;
				const up = await this.upload(key);
				if (!up || !ct || !max || !this.signer.verify("PUT", `/storage/upload/${key}`, exp, sig, { ct, max }) || up.content_type !== ct)
					throw new ClientError("FORBIDDEN", "Invalid or expired upload URL");
				// Single use: only an issued URL can receive, and only once.
				if ((await this.dbUpdateMany({ _id: up._id, state: "issued" }, { state: "receiving" })) !== 1)
					throw new ClientError("CONFLICT", "This upload URL was already used");
				try {
					if (!ctx.stream) throw new ClientError("VALIDATION", "Empty upload");
					const bytes = await readLimited(ctx.stream as Readable, Math.min(Number(max), up.max_bytes));
					await this.storage.put(key, bytes, ct);
					await this.dbUpdate(up._id, { state: "uploaded" });
					return { status: "ok", key, size_bytes: bytes.length };
				} catch (err) {
					await this.storage.delete(key);
					await this.dbRemove(up._id);
					throw err;
				}
			}
		},

		/** GET /storage/<key>?exp=&sig= (local mode): 404 once expired, tampered or deleted. */
		download: {
			auth: "none",
			input: Signed,
			async handler(ctx: Context<z.infer<typeof Signed>, { $responseType?: string; $responseHeaders?: Record<string, string> }>) {
				const { key, exp, sig } = ctx.params;
				if (this.storage.kind !== "local" || !this.signer.verify("GET", `/storage/${key}`, exp, sig)) throw gone();
				let head;
				try {
					head = await this.storage.head(key);
				} catch {
					throw gone();
				}
				if (!head) throw gone();
				ctx.meta.$responseType = contentTypeOf(key);
				ctx.meta.$responseHeaders = { "Cache-Control": "private, max-age=300", "Content-Length": String(head.size) };
				return this.storage.stream(key);
			}
		}
	},

	/** Every hour: presigned uploads that expired unused, or were claimed, leave no record or object behind. */
	async started() {
		this.sweepTimer = setInterval(() => void this.sweep().catch(err => this.logger.warn("upload sweep failed:", err)), 3600_000);
		this.sweepTimer.unref();
	},

	async stopped() {
		clearInterval(this.sweepTimer);
	},

	events: {
		async "user.erased"(ctx: Context<{ user_id: string }>) {
			const ups = await this.dbFind<UploadDoc>({ query: { user_id: ctx.params.user_id } });
			for (const up of ups) await this.storage.delete(up.key);
			await this.dbRemoveMany({ user_id: ctx.params.user_id });
		}
	},

	methods: {
		async sweep(now = Date.now()) {
			const grace = 3600_000;
			const stale = await this.dbFind<UploadDoc>({ query: { expires_at: { $lt: new Date(now - grace).toISOString() } } });
			for (const up of stale) {
				// A claimed key's object was deleted at claim; deleting again also removes a replayed PUT (S3).
				await this.storage.delete(up.key);
				await this.dbRemove(up._id);
			}
			return stale.length;
		},

		async upload(key: string) {
			const up = await this.dbFindOne<UploadDoc>({ key });
			if (!up) return null;
			if (Date.parse(up.expires_at) < Date.now() && up.state === "issued") return null;
			return up;
		}
	},

	created() {
		const { storage, signer } = createStorage(config());
		this.storage = storage;
		this.signer = signer;
	}
};

function contentTypeOf(key: string): string {
	const ext = key.split(".").pop();
	return (
		{ jpg: "image/jpeg", png: "image/png", webp: "image/webp", mp4: "video/mp4", mov: "video/quicktime", webm: "video/webm" }[ext ?? ""] ??
		"application/octet-stream"
	);
}

export default StorageService;
