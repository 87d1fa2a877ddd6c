import fs from "node:fs";
import path from "node:path";
import { PassThrough, Readable } from "node:stream";
import sharp from "sharp";
import { detectType } from "../../lib/media/detect";
import { processImage, sha256, sharpness } from "../../lib/media/image";
import { readLimited } from "../../lib/media/read";
import { MediaMetadata } from "../../lib/media/record";
import { UrlSigner, loadSecret } from "../../lib/signing";
import { LocalStorage } from "../../lib/storage/local";
import { assertKey } from "../../lib/storage/types";
import { keyFromUrl } from "../../services/media.service";
import { tempDir } from "../helpers/node";
import { HTML, SAMPLES, SVG, checkerboard, exifJpeg, jpeg, png, pngBomb, truncated, video, webp } from "../factories/images";

const LIMITS = { maxPixels: 50_000_000, maxEdge: 2048, thumbEdge: 128 };

describe("detectType: magic bytes, not names", () => {
	let files: Record<string, Buffer>;
	beforeAll(async () => {
		files = {
			jpeg: await jpeg(8, 8),
			png: await png(8, 8),
			webp: await webp(8, 8),
			mp4: video({ durationS: 1, size: "32x32", rate: 5 }),
			mov: video({ durationS: 1, size: "32x32", rate: 5, format: "mov" }),
			webm: video({ durationS: 1, size: "32x32", rate: 5, format: "webm" })
		};
	});

	it.each([
		["jpeg", "image/jpeg", "image", "jpg"],
		["png", "image/png", "image", "png"],
		["webp", "image/webp", "image", "webp"],
		["mp4", "video/mp4", "video", "mp4"],
		["mov", "video/quicktime", "video", "mov"],
		["webm", "video/webm", "video", "webm"]
	])("a real %s file → %s", (name, mime, kind, ext) => {
		expect(detectType(files[name].subarray(0, 16))).toEqual({ mime, kind, ext });
	});

	it.each([
		["ftyp mp42 header", "video/mp4", SAMPLES.mp4v2],
		["ftyp isom header", "video/mp4", SAMPLES.mp4],
		["ftyp qt header", "video/quicktime", SAMPLES.mov],
		["EBML header", "video/webm", SAMPLES.webm]
	])("%s → %s", (_n, mime, bytes) => {
		expect(detectType(bytes)?.mime).toBe(mime);
	});

	it.each([
		["HEIC (ftypheic)", SAMPLES.heic],
		["AVIF (ftypavif)", SAMPLES.avif],
		["GIF", SAMPLES.gif],
		["SVG", SVG],
		["HTML", HTML],
		["a RIFF that is not WebP (WAV)", SAMPLES.riffWav],
		["PDF", SAMPLES.pdf],
		["BMP", SAMPLES.bmp],
		["TIFF", SAMPLES.tiff],
		["empty", Buffer.alloc(0)],
		["two JPEG bytes only", Buffer.from([0xff, 0xd8])],
		["PNG signature cut short", Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a])],
		["RIFF without the WEBP tag", Buffer.from("RIFF\0\0\0\0", "latin1")],
		["text", Buffer.from("hello world, not an image")]
	])("%s → null (415)", (_n: string, bytes: Buffer) => {
		expect(detectType(bytes)).toBeNull();
	});

	it("a filename or declared type plays no part: HTML bytes stay HTML whatever they are called", () => {
		// detectType has no name parameter at all; the same bytes always give the same answer.
		expect(detectType(Buffer.from("<html>.jpg"))).toBeNull();
		expect(detectType(Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.from("<script>")]))?.mime).toBe("image/jpeg");
	});
});

describe("UrlSigner", () => {
	const signer = new UrlSigner(Buffer.from("unit-test-secret-0123456789"));
	const now = Date.now();
	const exp = Math.floor(now / 1000) + 60;

	it("a signature verifies for the same method, path, expiry and bound fields", () => {
		const sig = signer.sign("GET", "/storage/media/u/a.jpg", exp);
		expect(sig).toMatch(/^[A-Za-z0-9_-]{43}$/);
		expect(signer.verify("GET", "/storage/media/u/a.jpg", exp, sig)).toBe(true);
		// exp as it arrives from a query string
		expect(signer.verify("GET", "/storage/media/u/a.jpg", String(exp), sig)).toBe(true);
	});

	it("expired → false, even with the right signature", () => {
		const past = Math.floor(now / 1000) - 1;
		const sig = signer.sign("GET", "/p", past);
		expect(signer.verify("GET", "/p", past, sig)).toBe(false);
		const soon = Math.floor(now / 1000) + 5;
		const sig2 = signer.sign("GET", "/p", soon);
		expect(signer.verify("GET", "/p", soon, sig2, {}, now)).toBe(true);
		expect(signer.verify("GET", "/p", soon, sig2, {}, now + 10_000)).toBe(false);
	});

	it("tampering with the signature, the path, the method, the expiry or the key → false", () => {
		const sig = signer.sign("GET", "/storage/media/u/a.jpg", exp);
		const flipped = (sig[0] === "A" ? "B" : "A") + sig.slice(1);
		expect(signer.verify("GET", "/storage/media/u/a.jpg", exp, flipped)).toBe(false);
		expect(signer.verify("GET", "/storage/media/u/b.jpg", exp, sig)).toBe(false);
		expect(signer.verify("PUT", "/storage/media/u/a.jpg", exp, sig)).toBe(false);
		expect(signer.verify("GET", "/storage/media/u/a.jpg", exp + 3600, sig)).toBe(false);
		expect(new UrlSigner(Buffer.from("another-secret")).verify("GET", "/storage/media/u/a.jpg", exp, sig)).toBe(false);
	});

	it("malformed input → false, not a throw", () => {
		const sig = signer.sign("GET", "/p", exp);
		expect(signer.verify("GET", "/p", "12.5", sig)).toBe(false);
		expect(signer.verify("GET", "/p", "abc", sig)).toBe(false);
		expect(signer.verify("GET", "/p", undefined, sig)).toBe(false);
		expect(signer.verify("GET", "/p", exp, undefined)).toBe(false);
		expect(signer.verify("GET", "/p", exp, ["a"])).toBe(false);
		expect(signer.verify("GET", "/p", exp, "")).toBe(false);
		expect(signer.verify("GET", "/p", exp, "x".repeat(129))).toBe(false);
		expect(signer.verify("GET", "/p", exp, sig.slice(0, -1))).toBe(false);
	});

	it("bound fields are part of the signature, in any order, and cannot be changed", () => {
		const bound = { ct: "image/jpeg", max: "1048576" };
		const sig = signer.sign("PUT", "/storage/upload/uploads/u/x.jpg", exp, bound);
		expect(signer.verify("PUT", "/storage/upload/uploads/u/x.jpg", exp, sig, { max: "1048576", ct: "image/jpeg" })).toBe(true);
		expect(signer.verify("PUT", "/storage/upload/uploads/u/x.jpg", exp, sig, { ct: "image/jpeg", max: "99999999" })).toBe(false);
		expect(signer.verify("PUT", "/storage/upload/uploads/u/x.jpg", exp, sig, { ct: "text/html", max: "1048576" })).toBe(false);
		expect(signer.verify("PUT", "/storage/upload/uploads/u/x.jpg", exp, sig)).toBe(false);
	});

	it("loadSecret: a given secret wins; otherwise one is generated once into a 0600 file and reused", () => {
		const dir = tempDir();
		expect(loadSecret("given", path.join(dir, "s.key")).toString()).toBe("given");
		expect(fs.existsSync(path.join(dir, "s.key"))).toBe(false);
		const file = path.join(dir, "secrets", "s.key");
		const a = loadSecret(null, file);
		expect(a.length).toBeGreaterThanOrEqual(32);
		expect(fs.statSync(file).mode & 0o777).toBe(0o600);
		expect(loadSecret(null, file).equals(a)).toBe(true);
	});
});

describe("readLimited", () => {
	const from = (...chunks: Buffer[]) => Readable.from(chunks);

	it("under the limit → all the bytes", async () => {
		const out = await readLimited(from(Buffer.alloc(10, 1), Buffer.alloc(5, 2)), 100);
		expect(out.length).toBe(15);
		expect(out[14]).toBe(2);
	});

	it("exactly at the limit → accepted", async () => {
		expect((await readLimited(from(Buffer.alloc(60), Buffer.alloc(40)), 100)).length).toBe(100);
	});

	it("one byte over → 413 at once; the rest is discarded as it arrives (drained, so a request can still be answered)", async () => {
		const total = 8 * 1024 * 1024;
		let produced = 0;
		const big = new Readable({
			read() {
				// One chunk per macrotask, like a socket.
				setImmediate(() => {
					if (produced >= total) return void this.push(null);
					produced += 64 * 1024;
					this.push(Buffer.alloc(64 * 1024));
				});
			}
		});
		const ended = new Promise(r => big.once("end", r));
		let producedAtRejection = -1;
		await expect(
			readLimited(big, 100 * 1024).catch(err => {
				producedAtRejection = produced;
				throw err;
			})
		).rejects.toMatchObject({ code: 413, type: "PAYLOAD_TOO_LARGE", data: { max_bytes: 100 * 1024 } });
		// Rejected as soon as the limit was passed, not after reading everything.
		expect(producedAtRejection).toBeLessThan(1024 * 1024);
		// The remainder flows to nowhere (no listener keeps it) and the stream reaches its end.
		await ended;
		expect(big.listenerCount("data")).toBe(0);
		expect(produced).toBe(total);
		await expect(readLimited(Readable.from([Buffer.alloc(101)]), 100)).rejects.toMatchObject({ code: 413 });
	});

	it("a stream error is passed on; an upstream size-limit error becomes 413", async () => {
		const s = new PassThrough();
		const p = readLimited(s, 100);
		s.write(Buffer.alloc(10));
		s.destroy(new Error("socket hang up"));
		await expect(p).rejects.toThrow("socket hang up");

		const t = new PassThrough();
		const q = readLimited(t, 100);
		t.destroy(Object.assign(new Error("Payload too large"), { code: 413 }));
		await expect(q).rejects.toMatchObject({ code: 413, type: "PAYLOAD_TOO_LARGE" });
	});

	it("a stream closed before its end → 400 (interrupted), not a hang", async () => {
		const s = new PassThrough();
		const p = readLimited(s, 100);
		s.write(Buffer.alloc(10));
		s.destroy();
		await expect(p).rejects.toMatchObject({ code: 400 });
	});
});

describe("keyFromUrl: the upload URL without its query maps back to the issued key", () => {
	it.each([
		["http://localhost:8000/storage/upload/uploads/u1/0b7a-11.jpg", "uploads/u1/0b7a-11.jpg"],
		["http://127.0.0.1:9000/lifemirror-media/uploads/abc/ffff-0000.png", "uploads/abc/ffff-0000.png"],
		["https://bucket.s3.amazonaws.com/uploads/u-2/d3adb33f.webm", "uploads/u-2/d3adb33f.webm"],
		["http://localhost/storage/upload/uploads/u1/a.jpg?exp=1&sig=x", "uploads/u1/a.jpg"]
	])("%s → %s", (url, key) => {
		expect(keyFromUrl(url)).toBe(key);
	});

	it.each([
		["not a URL", "uploads/u1/a.jpg"],
		["a media key, not an upload", "http://localhost/storage/media/u1/a.jpg"],
		["traversal", "http://localhost/storage/upload/uploads/../media/a.jpg"],
		["encoded traversal", "http://localhost/storage/upload/uploads/u1/..%2F..%2Fetc.jpg"],
		["a deeper path", "http://localhost/storage/upload/uploads/u1/x/a.jpg"],
		["no extension", "http://localhost/storage/upload/uploads/u1/a"],
		["empty", ""]
	])("%s → null", (_n, url) => {
		expect(keyFromUrl(url)).toBeNull();
	});
});

describe("MediaMetadata", () => {
	it("keeps small flat values and drops anything that looks like location", () => {
		const out = MediaMetadata.parse({
			caption: "at the beach",
			rating: 4,
			public: true,
			note: null,
			gps: "48.85,2.35",
			GPSLatitude: 48.85,
			latitude: 48.85,
			Longitude: 2.35,
			location: "Paris",
			home_location: "x",
			geo: "u09tvw",
			geohash: "u09tvw"
		});
		expect(out).toEqual({ caption: "at the beach", rating: 4, public: true, note: null });
	});

	it("at most 32 keys; keys 1–64 chars; strings ≤ 1000; no nested objects", () => {
		const keys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
		expect(MediaMetadata.safeParse(keys(32)).success).toBe(true);
		expect(MediaMetadata.safeParse(keys(33)).success).toBe(false);
		expect(MediaMetadata.safeParse({ ["k".repeat(65)]: 1 }).success).toBe(false);
		expect(MediaMetadata.safeParse({ "": 1 }).success).toBe(false);
		expect(MediaMetadata.safeParse({ a: "x".repeat(1001) }).success).toBe(false);
		expect(MediaMetadata.safeParse({ a: { nested: true } }).success).toBe(false);
		expect(MediaMetadata.safeParse({ a: [1, 2] }).success).toBe(false);
		expect(MediaMetadata.safeParse("string").success).toBe(false);
	});
});

describe("processImage", () => {
	it("a clean JPEG: re-encoded, thumbnail, sha256 of the stored bytes", async () => {
		const input = await jpeg(300, 100);
		const out = await processImage(input, { ...LIMITS, thumbEdge: 50 });
		expect(out).toMatchObject({ mime: "image/jpeg", width: 300, height: 100 });
		expect(out.sha256).toBe(sha256(out.data));
		const t = await sharp(out.thumbnail).metadata();
		expect([t.format, t.width, t.height]).toEqual(["jpeg", 50, 17]);
	});

	it("bounds the longest edge and keeps PNG/WebP as they are", async () => {
		const big = await processImage(await png(400, 200), { ...LIMITS, maxEdge: 100 });
		expect([big.mime, big.width, big.height]).toEqual(["image/png", 100, 50]);
		const w = await processImage(await webp(30, 60), LIMITS);
		expect([w.mime, w.width, w.height]).toEqual(["image/webp", 30, 60]);
		// Never enlarged
		expect((await processImage(await png(20, 10), LIMITS)).width).toBe(20);
	});

	it("EXIF orientation applied, then every piece of metadata dropped", async () => {
		const input = await exifJpeg();
		expect((await sharp(input).metadata()).orientation).toBe(6);
		const out = await processImage(input, LIMITS);
		const m = await sharp(out.data).metadata();
		expect([m.width, m.height]).toEqual([20, 40]);
		expect(m.exif).toBeUndefined();
		expect(m.orientation).toBeUndefined();
		expect(m.xmp).toBeUndefined();
		expect(m.icc).toBeUndefined();
		expect(out.data.includes("GPS-DATUM-SECRET")).toBe(false);
		expect(out.data.includes("COPYRIGHT-SECRET")).toBe(false);
	});

	it("pixel limit from the header: a 400-megapixel bomb → 413 without decoding it", async () => {
		const bomb = pngBomb(20000);
		expect(bomb.length).toBeLessThan(200_000);
		const t = Date.now();
		await expect(processImage(bomb, LIMITS)).rejects.toMatchObject({ code: 413, type: "PAYLOAD_TOO_LARGE" });
		expect(Date.now() - t).toBeLessThan(1000);
		// The limit is the configured one, not a constant.
		await expect(processImage(await png(100, 100), { ...LIMITS, maxPixels: 9999 })).rejects.toMatchObject({ code: 413 });
		await expect(processImage(await png(100, 100), { ...LIMITS, maxPixels: 10000 })).resolves.toMatchObject({ width: 100 });
	});

	it("truncated or corrupt → 422 with a field error", async () => {
		const cut = truncated(await jpeg(256, 256), 0.6);
		await expect(processImage(cut, LIMITS)).rejects.toMatchObject({
			code: 422,
			type: "VALIDATION",
			data: { validation_errors: [{ field: "file", message: expect.any(String) }] }
		});
		await expect(processImage(truncated(await png(256, 256), 0.5), LIMITS)).rejects.toMatchObject({ code: 422 });
		await expect(processImage(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]), LIMITS)).rejects.toMatchObject({ code: 422 });
		await expect(processImage(Buffer.from("not an image at all"), LIMITS)).rejects.toMatchObject({ code: 422 });
	});
});

describe("sharpness", () => {
	it("a crisp checkerboard scores far higher than its blurred copy", async () => {
		const board = await checkerboard();
		const blurred = await sharp(board).blur(6).png().toBuffer();
		const a = await sharpness(board);
		const b = await sharpness(blurred);
		expect(a).toBeGreaterThan(b * 3);
		// A flat image has no edges at all.
		expect(await sharpness(await png(64, 64, "#808080"))).toBeLessThan(1);
	});
});

describe("LocalStorage", () => {
	let root: string;
	let storage: LocalStorage;
	const signer = new UrlSigner(Buffer.from("local-storage-secret"));

	beforeAll(() => {
		root = path.join(tempDir(), "media");
		storage = new LocalStorage(root, "http://files.test", signer);
	});

	it("put / get / head / list / delete", async () => {
		await storage.put("media/u1/a.jpg", Buffer.from("AAA"), "image/jpeg");
		await storage.put("media/u1/b.thumb.jpg", Buffer.from("BB"), "image/jpeg");
		await storage.put("uploads/u1/c.png", Buffer.from("C"), "image/png");
		expect((await storage.get("media/u1/a.jpg")).toString()).toBe("AAA");
		expect(await storage.head("media/u1/b.thumb.jpg")).toEqual({ size: 2 });
		expect(await storage.head("media/u1/missing.jpg")).toBeNull();
		expect(await storage.head("media/u1")).toBeNull(); // a directory is not an object
		expect(await storage.list("media/u1/")).toEqual(["media/u1/a.jpg", "media/u1/b.thumb.jpg"]);
		expect(await storage.list("")).toEqual(["media/u1/a.jpg", "media/u1/b.thumb.jpg", "uploads/u1/c.png"]);
		expect(await storage.list("nothing/")).toEqual([]);
		const chunks: Buffer[] = [];
		for await (const c of await storage.stream("media/u1/a.jpg")) chunks.push(c as Buffer);
		expect(Buffer.concat(chunks).toString()).toBe("AAA");
		await storage.delete("media/u1/a.jpg");
		await storage.delete("media/u1/a.jpg"); // idempotent
		expect(await storage.head("media/u1/a.jpg")).toBeNull();
		expect(fs.existsSync(path.join(root, "media/u1/a.jpg"))).toBe(false);
		await expect(storage.get("media/u1/a.jpg")).rejects.toThrow();
		await expect(storage.stream("media/u1/a.jpg")).rejects.toThrow();
		// No temp file is left behind by the write-then-rename.
		expect(fs.readdirSync(path.join(root, "media/u1")).filter(f => f.endsWith(".part"))).toEqual([]);
	});

	it("put replaces an object whole", async () => {
		await storage.put("media/u2/x.jpg", Buffer.from("first version"), "image/jpeg");
		await storage.put("media/u2/x.jpg", Buffer.from("second"), "image/jpeg");
		expect((await storage.get("media/u2/x.jpg")).toString()).toBe("second");
	});

	it.each(["../x.jpg", "media/../../x.jpg", "media/u1/../../../etc/passwd", "/etc/passwd", "media//a.jpg", "./a.jpg", "media/./a.jpg", "a\\..\\b", "a b.jpg", "", "media/u1/", ".hidden", "x".repeat(300), "media/%2e%2e/a"])(
		"assertKey refuses %j, and no storage operation touches it",
		async key => {
			expect(() => assertKey(key)).toThrow(/invalid storage key/);
			await expect(storage.put(key, Buffer.from("evil"), "image/jpeg")).rejects.toThrow(/invalid storage key/);
			await expect(storage.get(key)).rejects.toThrow(/invalid storage key/);
			await expect(storage.uploadUrl(key, { contentType: "image/jpeg", maxBytes: 1, expiresS: 60 })).rejects.toThrow(/invalid storage key/);
			await expect(storage.downloadUrl(key, 60)).rejects.toThrow(/invalid storage key/);
			expect(fs.existsSync(path.join(path.dirname(root), "x.jpg"))).toBe(false);
		}
	);

	it("list never reads outside the root, a sibling directory with the same prefix included", async () => {
		const sibling = `${root}-other`;
		fs.mkdirSync(sibling, { recursive: true });
		fs.writeFileSync(path.join(sibling, "secret.txt"), "outside");
		expect(await storage.list("../")).toEqual([]);
		expect(await storage.list(`../${path.basename(sibling)}/`)).toEqual([]);
		expect(await storage.list("../../")).toEqual([]);
	});

	it("signed URLs: a download URL and an upload URL bound to its content type and size", async () => {
		const get = new URL(await storage.downloadUrl("media/u1/b.thumb.jpg", 60));
		expect(get.origin).toBe("http://files.test");
		expect(get.pathname).toBe("/storage/media/u1/b.thumb.jpg");
		expect(signer.verify("GET", get.pathname, get.searchParams.get("exp"), get.searchParams.get("sig"))).toBe(true);
		expect(Number(get.searchParams.get("exp")) - Date.now() / 1000).toBeGreaterThan(55);

		const put = new URL(await storage.uploadUrl("uploads/u1/n.jpg", { contentType: "image/jpeg", maxBytes: 1234, expiresS: 30 }));
		expect(put.pathname).toBe("/storage/upload/uploads/u1/n.jpg");
		const q = Object.fromEntries(put.searchParams);
		expect(q).toMatchObject({ ct: "image/jpeg", max: "1234" });
		expect(signer.verify("PUT", put.pathname, q.exp, q.sig, { ct: q.ct, max: q.max })).toBe(true);
		expect(signer.verify("PUT", put.pathname, q.exp, q.sig, { ct: q.ct, max: "99999" })).toBe(false);
		expect(signer.verify("GET", put.pathname, q.exp, q.sig, { ct: q.ct, max: q.max })).toBe(false);
	});
});
