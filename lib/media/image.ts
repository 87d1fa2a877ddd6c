import { createHash } from "node:crypto";
import sharp, { type Metadata } from "sharp";
import { ClientError } from "../errors";

export interface ImageLimits {
	/** Largest decoded size (width × height) accepted: decompression bombs stop at the header. */
	maxPixels: number;
	/** The stored image's longest edge. */
	maxEdge: number;
	thumbEdge: number;
}

export interface ProcessedImage {
	data: Buffer;
	mime: "image/jpeg" | "image/png" | "image/webp";
	width: number;
	height: number;
	thumbnail: Buffer;
	/** sha256 of the stored bytes (dedupe, vision cache key). */
	sha256: string;
}

export const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

const unreadable = (why: string) => new ClientError("VALIDATION", `The image could not be read: ${why}`, { validation_errors: [{ field: "file", message: why }] });

/**
 * Image hygiene: the header is checked against the pixel limit before any decoding, then
 * the image is decoded (a truncated or corrupt file fails here), turned upright from its
 * EXIF orientation, converted to sRGB, bounded to `maxEdge`, and re-encoded with *no*
 * metadata (EXIF, GPS, XMP, ICC are all dropped; sharp writes none unless asked).
 * The original bytes are never kept.
 */
export async function processImage(input: Buffer, limits: ImageLimits): Promise<ProcessedImage> {
	let meta: Metadata;
	try {
		meta = await sharp(input, { limitInputPixels: false }).metadata();
	} catch {
		throw unreadable("not a valid image");
	}
	if (!meta.width || !meta.height) throw unreadable("missing dimensions");
	if (meta.width * meta.height > limits.maxPixels)
		throw new ClientError("PAYLOAD_TOO_LARGE", `Image has too many pixels (${meta.width}×${meta.height}; at most ${limits.maxPixels})`);
	const format = meta.format === "png" ? "png" : meta.format === "webp" ? "webp" : "jpeg";
	try {
		let img = sharp(input, { limitInputPixels: limits.maxPixels, failOn: "warning", pages: 1 })
			.rotate()
			.toColourspace("srgb")
			.resize({ width: limits.maxEdge, height: limits.maxEdge, fit: "inside", withoutEnlargement: true });
		img = format === "png" ? img.png({ compressionLevel: 8 }) : format === "webp" ? img.webp({ quality: 90 }) : img.jpeg({ quality: 90, mozjpeg: true });
		const { data, info } = await img.toBuffer({ resolveWithObject: true });
		const thumbnail = await sharp(data)
			.resize({ width: limits.thumbEdge, height: limits.thumbEdge, fit: "inside", withoutEnlargement: true })
			.jpeg({ quality: 80 })
			.toBuffer();
		return { data, mime: `image/${format}`, width: info.width, height: info.height, thumbnail, sha256: sha256(data) };
	} catch (err) {
		if (err instanceof ClientError) throw err;
		throw unreadable(/truncat|premature|end of/i.test((err as Error).message) ? "the file is truncated" : "corrupt image data");
	}
}

/**
 * Sharpness as the standard deviation of a Laplacian-filtered greyscale copy: blurry frames
 * have few edges and score low. Used to pick a video's best keyframe.
 */
export async function sharpness(image: Buffer): Promise<number> {
	const stats = await sharp(image)
		.greyscale()
		.resize({ width: 512, height: 512, fit: "inside", withoutEnlargement: true })
		.convolve({ width: 3, height: 3, kernel: [0, 1, 0, 1, -4, 1, 0, 1, 0], offset: 128 })
		.stats();
	return stats.channels[0].stdev;
}
