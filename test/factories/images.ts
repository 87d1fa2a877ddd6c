import { spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { deflateSync } from "node:zlib";
import ffmpeg from "@ffmpeg-installer/ffmpeg";
import sharp from "sharp";
import { HUMAN_DIR } from "../../agents/providers/vision/human";

/**
 * Test media made at test time: real encoders (sharp, the shipped ffmpeg), nothing downloaded.
 * Every image differs by its colour, so distinct calls give distinct content hashes.
 */

const HUMAN_SAMPLES = path.join(HUMAN_DIR, "assets", "samples.jpg");
let photos = 0;
/**
 * A real photo: the tile of a standing woman (face and full body) from the samples collage
 * shipped in @vladmandic/human, scaled to `width` (×3 by default; smaller is faster). Each call encodes it a little differently, so an
 * upload is always a new media (an identical re-upload would be the same one).
 */
export async function realPhoto(width = 444): Promise<Buffer> {
	return sharp(HUMAN_SAMPLES)
		.extract({ left: 641, top: 0, width: 148, height: 159 })
		.resize({ width })
		.jpeg({ quality: 92 - (++photos % 60) })
		.toBuffer();
}

let colours = 0;
/** A new solid colour each call (distinct images → distinct content hashes). */
export function nextColour(): string {
	const n = ++colours;
	const rgb = [(n * 67 + 40) % 256, (n * 131 + 90) % 256, (n * 29 + 170) % 256];
	return `#${rgb.map(v => v.toString(16).padStart(2, "0")).join("")}`;
}

const canvas = (width: number, height: number, background: string) => sharp({ create: { width, height, channels: 3, background } });

export async function jpeg(width = 64, height = 48, background = nextColour()): Promise<Buffer> {
	return canvas(width, height, background).jpeg({ quality: 90 }).toBuffer();
}

export async function png(width = 64, height = 48, background = nextColour()): Promise<Buffer> {
	return canvas(width, height, background).png().toBuffer();
}

export async function webp(width = 64, height = 48, background = nextColour()): Promise<Buffer> {
	return canvas(width, height, background).webp().toBuffer();
}

/** Strings planted in the EXIF of `exifJpeg`: none of them may survive into a stored file. */
export const EXIF_SECRETS = { copyright: "COPYRIGHT-SECRET-7731", artist: "ARTIST-SECRET-4410", gpsDatum: "GPS-DATUM-SECRET-0912" };

/**
 * A 40×20 JPEG that carries EXIF (copyright, artist), a GPS IFD (latitude, longitude, a datum
 * string) and orientation 6 (displayed rotated 90°: upright it is 20×40).
 */
export async function exifJpeg(background = nextColour()): Promise<Buffer> {
	return canvas(40, 20, background)
		.jpeg({ quality: 90 })
		.withExif({
			IFD0: { Copyright: EXIF_SECRETS.copyright, Artist: EXIF_SECRETS.artist },
			IFD3: {
				GPSLatitudeRef: "N",
				GPSLatitude: "48/1 51/1 2400/100",
				GPSLongitudeRef: "E",
				GPSLongitude: "2/1 21/1 0/1",
				GPSMapDatum: EXIF_SECRETS.gpsDatum
			}
		})
		.withMetadata({ orientation: 6 })
		.toBuffer();
}

/** A sharp black/white checkerboard (greyscale PNG) and the same board blurred. */
export async function checkerboard(size = 256, cell = 8): Promise<Buffer> {
	const raw = Buffer.alloc(size * size);
	for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) raw[y * size + x] = (Math.floor(x / cell) + Math.floor(y / cell)) % 2 ? 255 : 0;
	return sharp(raw, { raw: { width: size, height: size, channels: 1 } }).png().toBuffer();
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
	let c = n;
	for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
	return c >>> 0;
});
function crc32(b: Buffer): number {
	let c = 0xffffffff;
	for (const byte of b) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
	return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Buffer): Buffer {
	const len = Buffer.alloc(4);
	len.writeUInt32BE(data.length);
	const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
	const crc = Buffer.alloc(4);
	crc.writeUInt32BE(crc32(body));
	return Buffer.concat([len, body, crc]);
}

/**
 * A genuine PNG decompression bomb: a valid 1-bit greyscale PNG of side×side black pixels
 * (20000×20000 = 400 megapixels, 1.2 GB as RGB) whose whole file is a few tens of KB.
 */
export function pngBomb(side = 20000): Buffer {
	const ihdr = Buffer.alloc(13);
	ihdr.writeUInt32BE(side, 0);
	ihdr.writeUInt32BE(side, 4);
	ihdr[8] = 1; // bit depth
	ihdr[9] = 0; // greyscale
	// Each row: filter byte 0 + side/8 zero bytes.
	const raw = Buffer.alloc((1 + Math.ceil(side / 8)) * side);
	const idat = deflateSync(raw, { level: 9 });
	return Buffer.concat([
		Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
		chunk("IHDR", ihdr),
		chunk("IDAT", idat),
		chunk("IEND", Buffer.alloc(0))
	]);
}

/** The first `fraction` of a file (a download cut short). */
export const truncated = (file: Buffer, fraction = 0.5) => file.subarray(0, Math.floor(file.length * fraction));

export const POLYGLOT_SCRIPT = "<script>alert('polyglot-7f3a')</script>";
/** Valid JPEG bytes followed by HTML/script text. */
export async function polyglotJpeg(): Promise<Buffer> {
	return Buffer.concat([await jpeg(48, 48), Buffer.from(`\n<html><body>${POLYGLOT_SCRIPT}</body></html>\n`)]);
}

export const SVG = Buffer.from(
	`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>`
);
export const HTML = Buffer.from(`<!doctype html><html><body><script>alert(document.cookie)</script></body></html>`);

/** Magic-byte samples for the detector (just enough bytes, not whole files). */
export const SAMPLES = {
	gif: Buffer.from("GIF89a\x01\x00\x01\x00\x00\x00\x00", "latin1"),
	heic: Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from("ftypheic\0\0\0\0mif1heic", "latin1")]),
	avif: Buffer.concat([Buffer.from([0, 0, 0, 0x1c]), Buffer.from("ftypavif\0\0\0\0avifmif1", "latin1")]),
	mp4: Buffer.concat([Buffer.from([0, 0, 0, 0x20]), Buffer.from("ftypisom\0\0\x02\0isomiso2", "latin1")]),
	mp4v2: Buffer.concat([Buffer.from([0, 0, 0, 0x1c]), Buffer.from("ftypmp42\0\0\0\0mp42isom", "latin1")]),
	mov: Buffer.concat([Buffer.from([0, 0, 0, 0x14]), Buffer.from("ftypqt  \0\0\x02\0qt  ", "latin1")]),
	webm: Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0xf7, 0x81, 0x01, 0x42, 0xf2, 0x81]),
	riffWav: Buffer.from("RIFF\x24\x00\x00\x00WAVEfmt ", "latin1"),
	pdf: Buffer.from("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "latin1"),
	bmp: Buffer.from("BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00", "latin1"),
	tiff: Buffer.from("II*\0\x08\0\0\0\0\0\0\0\0\0\0\0", "latin1")
};

export const FFMPEG = ffmpeg.path;

export interface VideoOptions {
	durationS?: number;
	size?: string;
	rate?: number;
	/** The container: mp4 (default), mov or webm. */
	format?: "mp4" | "mov" | "webm";
	title?: string;
}

/** Synthesises a short test video with the ffmpeg binary shipped in @ffmpeg-installer. */
export function video(o: VideoOptions = {}): Buffer {
	const format = o.format ?? "mp4";
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-vid-"));
	try {
		const out = path.join(dir, `out.${format}`);
		const args = ["-hide_banner", "-v", "error", "-f", "lavfi", "-i", `testsrc=duration=${o.durationS ?? 2}:size=${o.size ?? "320x240"}:rate=${o.rate ?? 10}`];
		if (format === "webm") args.push("-c:v", "libvpx", "-b:v", "200k");
		else args.push("-pix_fmt", "yuv420p");
		if (o.title) args.push("-metadata", `title=${o.title}`);
		if (format === "mov") args.push("-f", "mov");
		args.push("-y", out);
		const r = spawnSync(FFMPEG, args, { encoding: "utf8" });
		if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr}`);
		return fs.readFileSync(out);
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
}

/** Every file (relative path) under a directory, or [] if it does not exist. */
export function filesUnder(dir: string): string[] {
	if (!fs.existsSync(dir)) return [];
	return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
		.filter(e => e.isFile())
		.map(e => path.relative(dir, path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)))
		.sort();
}

// ---- Sending media to the gateway the way the frontend does --------------------------------------

/** A free TCP port on 127.0.0.1 (so PUBLIC_URL can name the gateway's real address). */
export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const srv = net.createServer();
		srv.once("error", reject);
		srv.listen(0, "127.0.0.1", () => {
			const { port } = srv.address() as net.AddressInfo;
			srv.close(() => resolve(port));
		});
	});
}

export interface Sent<T = any> {
	status: number;
	headers: Headers;
	body: T;
	/** The raw response bytes. */
	bytes: Buffer;
}

async function settle<T>(res: Response): Promise<Sent<T>> {
	const bytes = Buffer.from(await res.arrayBuffer());
	let body: unknown = undefined;
	if (/json/.test(res.headers.get("content-type") ?? "")) {
		try {
			body = JSON.parse(bytes.toString("utf8"));
		} catch {
			body = bytes.toString("utf8");
		}
	}
	return { status: res.status, headers: res.headers, body: body as T, bytes };
}

export interface MultipartOptions {
	filename?: string;
	/** The part's declared type (the server must not trust it). */
	type?: string;
	field?: string;
	/** Text fields sent before the file. */
	fields?: Record<string, string>;
}

/** POST /media/upload as a browser form: the file in `file` (or `field`), text fields first. */
export async function uploadForm(base: string, token: string | null, file: Buffer | null, o: MultipartOptions = {}): Promise<Sent> {
	const form = new FormData();
	for (const [k, v] of Object.entries(o.fields ?? {})) form.append(k, v);
	if (file) form.append(o.field ?? "file", new Blob([file], { type: o.type ?? "image/jpeg" }), o.filename ?? "photo.jpg");
	const res = await fetch(`${base}/media/upload`, { method: "POST", headers: token ? { authorization: `Bearer ${token}` } : {}, body: form });
	return settle(res);
}

/** PUT the bytes to an upload URL (ours or a bucket's) with the content type it was issued for. */
export async function putTo(url: string, bytes: Buffer, contentType: string): Promise<Sent> {
	const res = await fetch(url, { method: "PUT", headers: { "content-type": contentType }, body: bytes });
	return settle(res);
}

/** GET a (signed) URL without any credentials. */
export async function fetchUrl(url: string, headers: Record<string, string> = {}): Promise<Sent> {
	return settle(await fetch(url, { headers }));
}
