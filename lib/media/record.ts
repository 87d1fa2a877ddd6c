import { z } from "zod";
import type { Ingested } from "./ingest";

/** User-supplied metadata: small, flat, and never location data. */
export const MediaMetadata = z
	.record(z.string().min(1).max(64), z.union([z.string().max(1000), z.number(), z.boolean(), z.null()]))
	.refine(m => Object.keys(m).length <= 32, { message: "at most 32 keys" })
	.transform(m => Object.fromEntries(Object.entries(m).filter(([k]) => !/gps|latitude|longitude|location|geo/i.test(k))));

/** A stored media record: the facts of its ingest plus owner, user metadata and crops. */
export interface MediaDoc extends Omit<Ingested, "files"> {
	_id: string;
	user_id: string;
	metadata: Record<string, unknown>;
	/** Stored crops of faces, garments and bodies (deleted with the media). */
	crop_keys?: string[];
	/** When the retention policy deleted the full-size files (the thumbnail stays). */
	original_deleted_at?: string;
	created_at: string;
}

/** The media record as the frontend reads it: every URL signed and expiring. */
export interface MediaView {
	id: string;
	user_id: string;
	media_type: "image" | "video";
	/** Null once the retention policy deleted the original. */
	storage_url: string | null;
	storage_key: string;
	thumbnail_url: string;
	keyframes: { url: string; time_s: number; width: number; height: number; sharpness: number; best: boolean }[];
	size_bytes: number;
	mime: string;
	width: number;
	height: number;
	duration_s: number | null;
	content_hash: string;
	metadata: Record<string, unknown>;
	created_at: string;
}

export async function mediaView(doc: MediaDoc, url: (key: string) => Promise<string>): Promise<MediaView> {
	return {
		id: doc._id,
		user_id: doc.user_id,
		media_type: doc.media_type,
		storage_url: doc.original_deleted_at ? null : await url(doc.storage_key),
		storage_key: doc.storage_key,
		thumbnail_url: await url(doc.thumbnail_key),
		keyframes: await Promise.all(
			(doc.keyframes ?? []).map(async (k, i) => ({
				url: await url(k.key),
				time_s: k.time_s,
				width: k.width,
				height: k.height,
				sharpness: k.sharpness,
				best: i === doc.best_keyframe
			}))
		),
		size_bytes: doc.size_bytes,
		mime: doc.mime,
		width: doc.width,
		height: doc.height,
		duration_s: doc.duration_s ?? null,
		content_hash: doc.content_hash,
		metadata: doc.metadata ?? {},
		created_at: doc.created_at,
		...(doc.original_deleted_at ? { original_deleted_at: doc.original_deleted_at } : {})
	};
}
