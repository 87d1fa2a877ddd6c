/**
 * File type by magic bytes — never by the filename or the declared type.
 * Only what LifeMirror accepts is recognised; everything else is `null` (→ 415).
 */
export type MediaKind = "image" | "video";

export interface DetectedType {
	mime: "image/jpeg" | "image/png" | "image/webp" | "video/mp4" | "video/quicktime" | "video/webm";
	kind: MediaKind;
	ext: string;
}

const ascii = (b: Buffer, at: number, s: string) => b.length >= at + s.length && b.toString("latin1", at, at + s.length) === s;

export function detectType(head: Buffer): DetectedType | null {
	if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return { mime: "image/jpeg", kind: "image", ext: "jpg" };
	if (head.length >= 8 && head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])))
		return { mime: "image/png", kind: "image", ext: "png" };
	if (ascii(head, 0, "RIFF") && ascii(head, 8, "WEBP")) return { mime: "image/webp", kind: "image", ext: "webp" };
	if (head.length >= 4 && head.readUInt32BE(0) === 0x1a45dfa3) return { mime: "video/webm", kind: "video", ext: "webm" };
	if (ascii(head, 4, "ftyp")) {
		const brand = head.toString("latin1", 8, 12);
		if (brand === "qt  ") return { mime: "video/quicktime", kind: "video", ext: "mov" };
		// ISO base media brands used for MP4 video (HEIC/AVIF stills are not accepted).
		if (/^(isom|iso[2-9]|mp4[12v]|avc1|M4V |MSNV|dash|3gp[4-9]|mmp4|f4v )$/.test(brand))
			return { mime: "video/mp4", kind: "video", ext: "mp4" };
		return null;
	}
	return null;
}

/** Bytes needed to recognise every accepted type. */
export const DETECT_BYTES = 16;
