import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { expectError as expectErrorFormat, newUser as registerMediaUser, presign as presignUpload, startMediaNode, type User } from "../helpers/media";
import type { Http, HttpResult, TestNode } from "../helpers/node";
import {
	HTML,
	POLYGLOT_SCRIPT,
	SVG,
	fetchUrl,
	filesUnder,
	jpeg,
	png,
	pngBomb,
	polyglotJpeg,
	putTo,
	truncated,
	uploadForm,
	video,
	type Sent
} from "../factories/images";
import { UrlSigner } from "../../lib/signing";

const MB = 1024 * 1024;

function expectError(res: HttpResult | Sent, status: number | number[], code?: string) {
	expectErrorFormat(res, status, code);
	// Never a stack trace or a path of ours in an error.
	expect(JSON.stringify(res.body)).not.toMatch(/at .*\.(ts|js):\d+|\/work\/|node_modules/);
}

/**
 * Hostile input against one node with tight limits: 1 MB uploads, 1 s videos, 2 media or 1 MB per
 * user, presigned URLs that live 10 s (the smallest PRESIGN_TTL_S allows; expiry is tested by moving
 * the clock, not by waiting).
 */
describe("hostile media", () => {
	let node: TestNode;
	let request: Http;
	let base: string;
	let mediaRoot: string;

	const newUser = () => registerMediaUser(request);

	beforeAll(async () => {
		({ node, request, base } = await startMediaNode({
			MAX_UPLOAD_MB: "1",
			VIDEO_MAX_DURATION_S: "1",
			VIDEO_KEYFRAMES: "2",
			MEDIA_QUOTA_COUNT: "2",
			MEDIA_QUOTA_MB: "1",
			PRESIGN_TTL_S: "10"
		}));
		mediaRoot = path.join(node.dataDir, "media");
	});
	afterAll(() => node.stop());

	/** Everything under DATA_DIR except the databases and secrets (which change with any request). */
	const stored = () => filesUnder(mediaRoot);
	const mediaCount = async (u: User) => (await request("GET", "/media?limit=100", { token: u.token })).body.total as number;

	/** Runs a hostile request and checks the invariants: the expected 4xx in the error format, nothing stored. */
	async function refused(u: User, send: () => Promise<HttpResult | Sent>, status: number | number[], code?: string) {
		const files = stored();
		const count = await mediaCount(u);
		const res = await send();
		expectError(res, status, code);
		expect(stored()).toEqual(files);
		expect(await mediaCount(u)).toBe(count);
		return res;
	}

	const presign = (u: User, content_type?: string, filename?: string) => presignUpload(request, u, content_type, filename);

	/** presign → PUT → create with hostile bytes: the create is refused and the upload is gone afterwards. */
	async function refusedViaPresign(u: User, bytes: Buffer, content_type: string, status: number | number[], code?: string) {
		const p = await presign(u, content_type);
		const put = await putTo(p.upload_url, bytes, content_type);
		expect(put.status).toBe(200);
		const files = stored().filter(f => f !== p.key);
		const res = await request("POST", "/media/", { token: u.token, body: { key: p.key } });
		expectError(res, status, code);
		expect(stored()).toEqual(files);
		expect(fs.existsSync(path.join(mediaRoot, p.key))).toBe(false);
		return res;
	}

	describe("files that are not what they claim", () => {
		let u: User;
		beforeAll(async () => {
			u = await newUser();
		});

		it("a PNG decompression bomb (20000×20000, a few KB) → 413 from the header, quickly, nothing stored", async () => {
			const bomb = pngBomb(20000);
			expect(bomb.length).toBeLessThan(200 * 1024);
			expect(await sharp(bomb, { limitInputPixels: false }).metadata()).toMatchObject({ width: 20000, height: 20000 });
			const t = Date.now();
			await refused(u, () => uploadForm(base, u.token, bomb, { filename: "bomb.png", type: "image/png" }), [413, 422]);
			expect(Date.now() - t).toBeLessThan(3000);
			await refusedViaPresign(u, bomb, "image/png", [413, 422]);
		});

		it("a truncated JPEG → 422 (multipart and presigned)", async () => {
			const cut = truncated(await jpeg(400, 300), 0.5);
			await refused(u, () => uploadForm(base, u.token, cut), 422, "VALIDATION");
			await refusedViaPresign(u, cut, "image/jpeg", 422, "VALIDATION");
		});

		it("a JPEG header followed by garbage → 422; an MP4 header followed by garbage → 422", async () => {
			const junk = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(2000, 0x41)]);
			await refused(u, () => uploadForm(base, u.token, junk), 422);
			const fakeMp4 = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from("ftypisom\0\0\0\0isomiso2", "latin1"), Buffer.alloc(4000, 0x42)]);
			await refused(u, () => uploadForm(base, u.token, fakeMp4, { filename: "clip.mp4", type: "video/mp4" }), 422);
		});

		it("a polyglot (a JPEG with a script appended) is stored re-encoded: the script bytes are never served back", async () => {
			const poly = await polyglotJpeg();
			expect(poly.includes(POLYGLOT_SCRIPT)).toBe(true);
			const res = await uploadForm(base, u.token, poly, { filename: "poly.html", type: "text/html" });
			if (res.status !== 200) {
				// Refusing it is also acceptable.
				expectError(res, [415, 422]);
				return;
			}
			expect(res.body.mime).toBe("image/jpeg");
			const served = await fetchUrl(res.body.storage_url);
			expect(served.status).toBe(200);
			expect(served.headers.get("content-type")).toBe("image/jpeg");
			expect(served.headers.get("x-content-type-options")).toBe("nosniff");
			expect(served.bytes.includes("<script")).toBe(false);
			expect(served.bytes.includes("<html")).toBe(false);
			expect(served.bytes.equals(poly)).toBe(false);
			expect((await sharp(served.bytes).metadata()).format).toBe("jpeg");
			for (const f of stored()) expect(fs.readFileSync(path.join(mediaRoot, f)).includes(POLYGLOT_SCRIPT)).toBe(false);
			await request("DELETE", `/media/${res.body.media_id}`, { token: u.token });
		});

		it("an SVG → 415, whatever it is called or declared as", async () => {
			await refused(u, () => uploadForm(base, u.token, SVG, { filename: "logo.svg", type: "image/svg+xml" }), 415, "UNSUPPORTED_MEDIA_TYPE");
			await refused(u, () => uploadForm(base, u.token, SVG, { filename: "logo.jpg", type: "image/jpeg" }), 415, "UNSUPPORTED_MEDIA_TYPE");
			await refusedViaPresign(u, SVG, "image/png", 415, "UNSUPPORTED_MEDIA_TYPE");
			// And it cannot even be presigned as SVG.
			expectError(await request("POST", "/media/presign", { token: u.token, body: { filename: "a.svg", content_type: "image/svg+xml" } }), 422);
		});

		it("an HTML file renamed .jpg → 415 (multipart and presigned)", async () => {
			await refused(u, () => uploadForm(base, u.token, HTML, { filename: "cat.jpg", type: "image/jpeg" }), 415, "UNSUPPORTED_MEDIA_TYPE");
			await refusedViaPresign(u, HTML, "image/jpeg", 415, "UNSUPPORTED_MEDIA_TYPE");
		});

		it("a GIF → 415", async () => {
			const gif = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#123456" } }).gif().toBuffer();
			await refused(u, () => uploadForm(base, u.token, gif, { filename: "a.gif", type: "image/gif" }), 415, "UNSUPPORTED_MEDIA_TYPE");
		});

		it("a zero-byte file → 422 (multipart and presigned)", async () => {
			await refused(u, () => uploadForm(base, u.token, Buffer.alloc(0), { filename: "empty.jpg" }), 422);
			await refusedViaPresign(u, Buffer.alloc(0), "image/jpeg", 422);
		});
	});

	describe("size limits (MAX_UPLOAD_MB=1)", () => {
		let u: User;
		beforeAll(async () => {
			u = await newUser();
		});

		it("3 MB through multipart → 413, nothing under DATA_DIR/media", async () => {
			const big = Buffer.concat([await jpeg(16, 16), Buffer.alloc(3 * MB, 0x20)]);
			await refused(u, () => uploadForm(base, u.token, big, { filename: "big.jpg" }), 413, "PAYLOAD_TOO_LARGE");
			expect(filesUnder(path.join(mediaRoot, "uploads"))).toEqual([]);
		});

		it("a 50 MB streamed multipart body → 413: cut off at the limit, never written to disk", async () => {
			const boundary = "----lmboundary7e3f";
			const head = Buffer.from(
				`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="huge.jpg"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff\xe0`,
				"latin1"
			);
			const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
			const total = 50 * MB;
			let sent = 0;
			let stage = 0;
			const body = new ReadableStream<Uint8Array>({
				pull(ctrl) {
					if (stage === 0) {
						stage = 1;
						ctrl.enqueue(head);
					} else if (sent < total) {
						const n = Math.min(256 * 1024, total - sent);
						sent += n;
						ctrl.enqueue(new Uint8Array(n));
					} else {
						ctrl.enqueue(tail);
						ctrl.close();
					}
				}
			});
			const files = stored();
			const rss = process.memoryUsage().rss;
			const res = await fetch(`${base}/media/upload`, {
				method: "POST",
				headers: { authorization: `Bearer ${u.token}`, "content-type": `multipart/form-data; boundary=${boundary}` },
				body,
				duplex: "half"
			} as RequestInit);
			expect(res.status).toBe(413);
			expectError({ status: res.status, headers: res.headers, body: await res.json(), bytes: Buffer.alloc(0) }, 413, "PAYLOAD_TOO_LARGE");
			expect(stored()).toEqual(files);
			// The server never held the 50 MB (the client and server share this process: a loose bound).
			expect(process.memoryUsage().rss - rss).toBeLessThan(40 * MB);
		});

		it("3 MB through the presigned PUT → 413 (answered, not a reset connection); the upload is dropped and cannot be claimed", async () => {
			const p = await presign(u);
			const files = stored();
			const big = Buffer.concat([await jpeg(16, 16), Buffer.alloc(3 * MB, 0x20)]);
			expectError(await putTo(p.upload_url, big, "image/jpeg"), 413, "PAYLOAD_TOO_LARGE");
			expect(stored()).toEqual(files);
			expect(fs.existsSync(path.join(mediaRoot, p.key))).toBe(false);
			expectError(await request("POST", "/media/", { token: u.token, body: { key: p.key } }), 404);
			// The URL is spent too.
			expectError(await putTo(p.upload_url, await jpeg(16, 16), "image/jpeg"), [403, 404, 409]);
		});

		it("a 50 MB streamed PUT → 413, nothing written", async () => {
			const p = await presign(u);
			const files = stored();
			const total = 50 * MB;
			let sent = 0;
			const body = new ReadableStream<Uint8Array>({
				pull(ctrl) {
					if (sent >= total) return ctrl.close();
					const n = Math.min(256 * 1024, total - sent);
					sent += n;
					ctrl.enqueue(new Uint8Array(n));
				}
			});
			const rss = process.memoryUsage().rss;
			const res = await fetch(p.upload_url, { method: "PUT", headers: { "content-type": "image/jpeg" }, body, duplex: "half" } as RequestInit);
			expectError({ status: res.status, headers: res.headers, body: await res.json(), bytes: Buffer.alloc(0) }, 413, "PAYLOAD_TOO_LARGE");
			expect(stored()).toEqual(files);
			expect(process.memoryUsage().rss - rss).toBeLessThan(40 * MB);
		});

		it("exactly at the limit is accepted by the PUT (and then judged by its content)", async () => {
			const p = await presign(u);
			const atLimit = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(MB - 4, 0x20)]);
			expect((await putTo(p.upload_url, atLimit, "image/jpeg")).status).toBe(200);
			expectError(await request("POST", "/media/", { token: u.token, body: { key: p.key } }), 422);
			expect(fs.existsSync(path.join(mediaRoot, p.key))).toBe(false);
		});

		it("JSON to /media/upload → 415; multipart without a `file` part → 422; a file in another field → 422", async () => {
			await refused(u, () => request("POST", "/media/upload", { token: u.token, body: { file: "aGVsbG8=" } }), 415, "UNSUPPORTED_MEDIA_TYPE");
			await refused(u, () => request("POST", "/media/upload", { token: u.token, raw: "x", headers: { "content-type": "application/octet-stream" } }), 415);
			await refused(u, () => uploadForm(base, u.token, null, { fields: { caption: "no file" } }), 422, "VALIDATION");
			await refused(u, async () => uploadForm(base, u.token, await jpeg(20, 20), { field: "photo" }), 422, "VALIDATION");
			const empty = `--b0\r\n\r\n--b0--\r\n`;
			const res = await request("POST", "/media/upload", { token: u.token, raw: empty, headers: { "content-type": "multipart/form-data; boundary=b0" } });
			expect(res.status).toBeGreaterThanOrEqual(400);
			expect(res.status).toBeLessThan(500);
			expectError(res, res.status);
		});
	});

	describe("paths and presigned URLs", () => {
		let u: User;
		let signer: UrlSigner;
		beforeAll(async () => {
			u = await newUser();
			signer = new UrlSigner(Buffer.from(fs.readFileSync(path.join(node.dataDir, "secrets", "storage-signing.key"), "utf8").trim()));
		});

		const outside = () => [path.resolve(node.dataDir, "..", "x.jpg"), path.resolve(node.dataDir, "x.jpg"), path.resolve(mediaRoot, "..", "x.jpg"), path.resolve(mediaRoot, "x.jpg")];

		it("a path-traversal filename in multipart is stored under a generated key, nothing outside the media root", async () => {
			const res = await uploadForm(base, u.token, await jpeg(21, 21), { filename: "../../x.jpg" });
			expect(res.status).toBe(200);
			expect(res.body.storage_key).toMatch(new RegExp(`^media/${u.id}/[0-9a-f-]{36}\\.jpg$`));
			expect(res.body.storage_key).not.toContain("x.jpg");
			for (const f of outside()) expect(fs.existsSync(f)).toBe(false);
			expect(stored().every(f => f.startsWith("media/") || f.startsWith("uploads/"))).toBe(true);
			expect(fs.readdirSync(node.dataDir).sort()).toEqual(expect.not.arrayContaining(["x.jpg"]));
			await request("DELETE", `/media/${res.body.media_id}`, { token: u.token });
		});

		it("a path-traversal filename in presign gives a generated key; a traversal PUT path is refused", async () => {
			for (const filename of ["../../x.jpg", "..\\..\\x.jpg", "/etc/passwd", "a/../../../x.jpg"]) {
				const p = await presign(u, "image/jpeg", filename);
				expect(p.key).toMatch(new RegExp(`^uploads/${u.id}/[0-9a-f-]{36}\\.jpg$`));
				expect(new URL(p.upload_url).pathname).toBe(`/storage/upload/${p.key}`);
			}
			expectError(await request("POST", "/media/presign", { token: u.token, body: { filename: "x".repeat(300), content_type: "image/jpeg" } }), 422);
			// A PUT to a path we never issued, even with a valid-looking signature for it.
			const exp = Math.floor(Date.now() / 1000) + 60;
			const bad = "/storage/upload/uploads/../x.jpg";
			const sig = signer.sign("PUT", bad, exp, { ct: "image/jpeg", max: String(MB) });
			const res = await fetch(`${base}/storage/upload/uploads/%2e%2e/x.jpg?exp=${exp}&ct=image%2Fjpeg&max=${MB}&sig=${sig}`, {
				method: "PUT",
				headers: { "content-type": "image/jpeg" },
				body: await jpeg(22, 22)
			});
			expect([403, 404]).toContain(res.status);
			for (const f of outside()) expect(fs.existsSync(f)).toBe(false);
		});

		it("presign replay: a second PUT to the same URL → 409, the first upload intact", async () => {
			const p = await presign(u);
			const first = await jpeg(23, 23);
			expect((await putTo(p.upload_url, first, "image/jpeg")).status).toBe(200);
			const again = await putTo(p.upload_url, await jpeg(24, 24), "image/jpeg");
			expectError(again, 409, "CONFLICT");
			expect(fs.readFileSync(path.join(mediaRoot, p.key)).equals(first)).toBe(true);
			const created = await request("POST", "/media/", { token: u.token, body: { key: p.key } });
			expect(created.status).toBe(200);
			expect(created.body).toMatchObject({ width: 23, height: 23 });
			// And after the claim, the URL is still spent.
			expectError(await putTo(p.upload_url, first, "image/jpeg"), [403, 404, 409]);
			await request("DELETE", `/media/${created.body.media_id}`, { token: u.token });
		});

		it("an expired presigned URL → 403/404, nothing stored; its key cannot be claimed", async () => {
			const p = await presign(u);
			const exp = Number(new URL(p.upload_url).searchParams.get("exp"));
			expect(exp - Date.now() / 1000).toBeLessThanOrEqual(10);
			const realNow = Date.now;
			const spy = jest.spyOn(Date, "now").mockImplementation(() => realNow() + 12_000);
			let res: Sent;
			try {
				res = await putTo(p.upload_url, await jpeg(25, 25), "image/jpeg");
			} finally {
				spy.mockRestore();
			}
			expectError(res, [403, 404]);
			expect(fs.existsSync(path.join(mediaRoot, p.key))).toBe(false);
			expectError(await request("POST", "/media/", { token: u.token, body: { key: p.key } }), 404);

			// A URL signed with an expiry in the past, for a key that is still issued → refused too.
			const q = await presign(u);
			const past = Math.floor(Date.now() / 1000) - 1;
			const pathname = `/storage/upload/${q.key}`;
			const sig = signer.sign("PUT", pathname, past, { ct: "image/jpeg", max: String(MB) });
			expectError(await putTo(`${base}${pathname}?exp=${past}&ct=image%2Fjpeg&max=${MB}&sig=${sig}`, await jpeg(26, 26), "image/jpeg"), [403, 404]);
			expect(fs.existsSync(path.join(mediaRoot, q.key))).toBe(false);
		});

		it("a PUT with a tampered max, ct, exp, sig or key → 403; the URL still works untampered", async () => {
			const p = await presign(u);
			const tamper = (change: Record<string, string>) => {
				const t = new URL(p.upload_url);
				for (const [k, v] of Object.entries(change)) t.searchParams.set(k, v);
				return t.toString();
			};
			const img = await jpeg(27, 27);
			expectError(await putTo(tamper({ max: String(100 * MB) }), img, "image/jpeg"), 403, "FORBIDDEN");
			expectError(await putTo(tamper({ ct: "image/png" }), img, "image/png"), 403, "FORBIDDEN");
			expectError(await putTo(tamper({ ct: "text/html" }), HTML, "text/html"), 403, "FORBIDDEN");
			expectError(await putTo(tamper({ exp: String(Number(new URL(p.upload_url).searchParams.get("exp")) + 3600) }), img, "image/jpeg"), 403);
			expectError(await putTo(tamper({ sig: "A".repeat(43) }), img, "image/jpeg"), 403);
			const other = await presign(u);
			const swapped = new URL(p.upload_url);
			swapped.pathname = `/storage/upload/${other.key}`;
			expectError(await putTo(swapped.toString(), img, "image/jpeg"), 403);
			expect(fs.existsSync(path.join(mediaRoot, p.key))).toBe(false);
			expect(fs.existsSync(path.join(mediaRoot, other.key))).toBe(false);
			// None of that spent the URL.
			expect((await putTo(p.upload_url, img, "image/jpeg")).status).toBe(200);
		});
	});

	describe("quota and video limits", () => {
		it("MEDIA_QUOTA_COUNT=2: the 3rd distinct image → QUOTA_EXCEEDED, nothing stored; deleting frees a slot", async () => {
			const u = await newUser();
			const first = await jpeg(30, 30);
			const a = await uploadForm(base, u.token, first);
			const b = await uploadForm(base, u.token, await jpeg(31, 31));
			expect([a.status, b.status]).toEqual([200, 200]);
			const res = await refused(u, async () => uploadForm(base, u.token, await jpeg(32, 32)), [403, 429], "QUOTA_EXCEEDED");
			expect(res.body.details).toMatchObject({ max_count: 2 });
			// The presigned way counts the same, and its upload is not left behind.
			await refusedViaPresign(u, await jpeg(33, 33), "image/jpeg", [403, 429], "QUOTA_EXCEEDED");
			// An identical re-upload is the media the user already has, quota or not.
			const again = await uploadForm(base, u.token, first);
			expect(again.status).toBe(200);
			expect(again.body.media_id).toBe(a.body.media_id);
			expect((await request("DELETE", `/media/${a.body.media_id}`, { token: u.token })).status).toBe(200);
			expect((await uploadForm(base, u.token, await jpeg(34, 34))).status).toBe(200);
		});

		it("MEDIA_QUOTA_MB=1: bytes count too", async () => {
			const u = await newUser();
			// Noise does not compress: ~600 KB stored per image.
			const noise = () => sharp(randomBytes(500 * 400 * 3), { raw: { width: 500, height: 400, channels: 3 } }).png({ compressionLevel: 9 }).toBuffer();
			const first = await uploadForm(base, u.token, await noise(), { filename: "n1.png", type: "image/png" });
			expect(first.status).toBe(200);
			expect(first.body.size_bytes).toBeGreaterThan(500 * 1024);
			await refused(u, async () => uploadForm(base, u.token, await noise(), { filename: "n2.png", type: "image/png" }), [403, 429], "QUOTA_EXCEEDED");
		});

		it("VIDEO_MAX_DURATION_S=1: a 2 s MP4 → 413; a truncated MP4 → 422; nothing stored", async () => {
			const u = await newUser();
			const two = video({ durationS: 2, size: "160x120" });
			expect(two.length).toBeLessThan(MB);
			await refused(u, () => uploadForm(base, u.token, two, { filename: "long.mp4", type: "video/mp4" }), 413, "PAYLOAD_TOO_LARGE");
			const one = video({ durationS: 1, size: "160x120" });
			await refused(u, () => uploadForm(base, u.token, truncated(one, 0.5), { filename: "cut.mp4", type: "video/mp4" }), 422, "VALIDATION");
			await refusedViaPresign(u, truncated(one, 0.5), "video/mp4", 422, "VALIDATION");
			// The same clip whole is fine.
			const ok = await uploadForm(base, u.token, one, { filename: "ok.mp4", type: "video/mp4" });
			expect(ok.status).toBe(200);
			expect(ok.body.keyframes).toHaveLength(2);
			// No temp files of ffmpeg's are left in the media root.
			expect(stored().filter(f => f.startsWith(`media/${u.id}/`))).toHaveLength(4);
		});

		it("images declared as video and videos declared as images are typed by their bytes", async () => {
			const u = await newUser();
			const img = await png(35, 35);
			const asVideo = await uploadForm(base, u.token, img, { filename: "clip.mp4", type: "video/mp4" });
			expect(asVideo.status).toBe(200);
			expect(asVideo.body).toMatchObject({ media_type: "image", mime: "image/png" });
			const p = await presign(u, "image/jpeg");
			expect((await putTo(p.upload_url, video({ durationS: 1, size: "64x48" }), "image/jpeg")).status).toBe(200);
			const v = await request("POST", "/media/", { token: u.token, body: { key: p.key, mime: "image/jpeg" } });
			expect(v.status).toBe(200);
			expect(v.body).toMatchObject({ media_type: "video", mime: "video/mp4" });
		});
	});
});
