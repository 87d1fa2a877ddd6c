import { randomUUID } from "node:crypto";
import type { Config } from "../config";
import { ClientError } from "../errors";
import { detectType, type DetectedType } from "./detect";
import { processImage, sha256, sharpness } from "./image";
import { extractKeyframes } from "./video";

/** A file to store, with the key it goes to. */
export interface OutFile {
	key: string;
	data: Buffer;
	mime: string;
}

export interface Keyframe {
	key: string;
	time_s: number;
	width: number;
	height: number;
	sharpness: number;
}

/** What an upload becomes: clean files to store and the facts of the media record. */
export interface Ingested {
	media_type: "image" | "video";
	mime: string;
	files: OutFile[];
	storage_key: string;
	thumbnail_key: string;
	keyframes: Keyframe[];
	/** Index into keyframes of the frame analysis uses (sharpest). */
	best_keyframe: number | null;
	/** Key of the image analysis reads: the image itself, or the best keyframe of a video. */
	analysis_key: string;
	width: number;
	height: number;
	size_bytes: number;
	content_hash: string;
	duration_s: number | null;
}

export function unsupported(): ClientError {
	return new ClientError("UNSUPPORTED_MEDIA_TYPE", "Unsupported file type: JPEG, PNG, WebP, MP4, QuickTime or WebM only");
}

/**
 * Turns uploaded bytes into stored renditions: type by magic bytes, then the image hygiene
 * path (or keyframes of a video through the same path). Keys live under `media/<user>/`.
 */
export async function ingest(bytes: Buffer, userId: string, c: Config): Promise<Ingested> {
	if (bytes.length === 0) throw new ClientError("VALIDATION", "The file is empty", { validation_errors: [{ field: "file", message: "empty file" }] });
	const type: DetectedType | null = detectType(bytes.subarray(0, 16));
	if (!type) throw unsupported();
	const base = `media/${userId}/${randomUUID()}`;
	const limits = { maxPixels: c.media.maxPixels, maxEdge: c.media.maxEdge, thumbEdge: c.media.thumbEdge };

	if (type.kind === "image") {
		const img = await processImage(bytes, limits);
		const ext = img.mime.split("/")[1].replace("jpeg", "jpg");
		const storage_key = `${base}.${ext}`;
		const thumbnail_key = `${base}.thumb.jpg`;
		return {
			media_type: "image",
			mime: img.mime,
			files: [
				{ key: storage_key, data: img.data, mime: img.mime },
				{ key: thumbnail_key, data: img.thumbnail, mime: "image/jpeg" }
			],
			storage_key,
			thumbnail_key,
			keyframes: [],
			best_keyframe: null,
			analysis_key: storage_key,
			width: img.width,
			height: img.height,
			size_bytes: img.data.length,
			content_hash: img.sha256,
			duration_s: null
		};
	}

	const video = await extractKeyframes(bytes, type.ext, { count: c.media.videoKeyframes, maxDurationS: c.media.videoMaxDurationS });
	const files: OutFile[] = [];
	const keyframes: Keyframe[] = [];
	let thumb: Buffer | null = null;
	for (const [i, frame] of video.frames.entries()) {
		const img = await processImage(frame.data, limits);
		const key = `${base}.kf${i}.jpg`;
		files.push({ key, data: img.data, mime: img.mime });
		keyframes.push({ key, time_s: frame.time_s, width: img.width, height: img.height, sharpness: Number((await sharpness(img.data)).toFixed(3)) });
		thumb ??= img.thumbnail;
	}
	const best = keyframes.reduce((b, k, i) => (k.sharpness > keyframes[b].sharpness ? i : b), 0);
	const storage_key = `${base}.${type.ext}`;
	const thumbnail_key = `${base}.thumb.jpg`;
	files.push({ key: storage_key, data: video.clean, mime: type.mime }, { key: thumbnail_key, data: thumb!, mime: "image/jpeg" });
	return {
		media_type: "video",
		mime: type.mime,
		files,
		storage_key,
		thumbnail_key,
		keyframes,
		best_keyframe: best,
		analysis_key: keyframes[best].key,
		width: keyframes[best].width,
		height: keyframes[best].height,
		size_bytes: video.clean.length,
		content_hash: sha256(video.clean),
		duration_s: video.duration
	};
}
