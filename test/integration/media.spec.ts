import fs from "node:fs";
import { request as httpRequest } from "node:http";
import path from "node:path";
import sharp from "sharp";
import { errorBody, newUser as registerMediaUser, presign as presignUpload, startMediaNode, type User } from "../helpers/media";
import type { Http, HttpResult, TestNode } from "../helpers/node";
import {
	EXIF_SECRETS,
	exifJpeg,
	fetchUrl,
	filesUnder,
	jpeg,
	png,
	putTo,
	uploadForm,
	video,
	webp,
	type Sent
} from "../factories/images";
import { UrlSigner } from "../../lib/signing";
import { sha256 } from "../../lib/media/image";

const UUIDISH = /^[A-Za-z0-9-]{8,}$/;
const RECORD_FIELDS = ["id", "user_id", "media_type", "storage_url", "storage_key", "thumbnail_url", "keyframes", "size_bytes", "mime", "metadata", "created_at"];
const THUMB = 64;

function expectError(res: HttpResult | Sent, status: number, code?: string) {
	expect({ status: res.status, body: res.body }).toEqual({
		status,
		body: errorBody(code)
	});
}

describe("media over HTTP, local storage", () => {
	let node: TestNode;
	let request: Http;
	let base: string;
	let mediaRoot: string;
	let alice: User;
	let bob: User;

	const newUser = () => registerMediaUser(request);

	beforeAll(async () => {
		({ node, request, base } = await startMediaNode({
			STORAGE: "local",
			THUMBNAIL_EDGE: String(THUMB),
			IMAGE_MAX_EDGE: "512",
			VIDEO_KEYFRAMES: "3"
		}));
		mediaRoot = path.join(node.dataDir, "media");
		alice = await newUser();
		bob = await newUser();
	});
	afterAll(() => node.stop());

	/** A GET with the path sent byte for byte as given. */
	function rawGet(p: string): Promise<{ status: number; text: string }> {
		const { port } = new URL(base);
		return new Promise((resolve, reject) => {
			const req = httpRequest({ host: "127.0.0.1", port, path: p, method: "GET" }, res => {
				let text = "";
				res.setEncoding("utf8");
				res.on("data", c => (text += c));
				res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
			});
			req.on("error", reject);
			req.end();
		});
	}

	const userFiles = (u: User) => filesUnder(path.join(mediaRoot, "media", u.id));
	const uploadFiles = (u: User) => filesUnder(path.join(mediaRoot, "uploads", u.id));

	const presign = (u: User, content_type?: string, filename?: string) => presignUpload(request, u, content_type, filename);

	/** Checks a media record as the frontend reads it, and that its files are where it says. */
	async function expectRecord(rec: Record<string, any>, u: User, o: { mime: string; media_type?: string }) {
		for (const f of RECORD_FIELDS) expect(rec).toHaveProperty(f);
		expect(rec.id).toMatch(UUIDISH);
		expect(rec.user_id).toBe(u.id);
		expect(rec.media_type).toBe(o.media_type ?? "image");
		expect(rec.mime).toBe(o.mime);
		expect(rec.storage_key).toMatch(new RegExp(`^media/${u.id}/[A-Za-z0-9-]+\\.[a-z0-9]+$`));
		expect(Number.isNaN(Date.parse(rec.created_at))).toBe(false);
		expect(typeof rec.metadata).toBe("object");
		for (const url of [rec.storage_url, rec.thumbnail_url]) {
			const u2 = new URL(url);
			expect(u2.origin).toBe(base);
			expect(u2.pathname.startsWith("/storage/media/")).toBe(true);
			expect(u2.searchParams.get("exp")).toMatch(/^\d+$/);
			expect(u2.searchParams.get("sig")).toBeTruthy();
		}
		// The stored file: fetchable without credentials through its signed URL, and what the record says.
		const stored = await fetchUrl(rec.storage_url);
		expect(stored.status).toBe(200);
		expect(stored.headers.get("content-type")).toBe(o.mime);
		expect(stored.bytes.length).toBe(rec.size_bytes);
		expect(sha256(stored.bytes)).toBe(rec.content_hash);
		expect(fs.readFileSync(path.join(mediaRoot, rec.storage_key)).equals(stored.bytes)).toBe(true);
		const thumb = await fetchUrl(rec.thumbnail_url);
		expect(thumb.status).toBe(200);
		expect(thumb.headers.get("content-type")).toBe("image/jpeg");
		const tm = await sharp(thumb.bytes).metadata();
		expect(tm.format).toBe("jpeg");
		expect(Math.max(tm.width!, tm.height!)).toBeLessThanOrEqual(THUMB);
		return stored;
	}

	describe("three ways in", () => {
		it("multipart upload → 200 {status, media_id, storage_url, size_bytes, mime} + the record; files on disk", async () => {
			const input = await jpeg(300, 200);
			const res = await uploadForm(base, alice.token, input, { filename: "holiday.jpg" });
			expect(res.status).toBe(200);
			expect(res.body).toMatchObject({ status: "ok", media_id: expect.any(String), size_bytes: expect.any(Number), mime: "image/jpeg", keyframes: [] });
			expect(res.body.id).toBe(res.body.media_id);
			expect(res.body).toMatchObject({ width: 300, height: 200 });
			const stored = await expectRecord(res.body, alice, { mime: "image/jpeg" });
			// Re-encoded: not the uploaded bytes.
			expect(stored.bytes.equals(input)).toBe(false);
			expect(userFiles(alice)).toEqual(expect.arrayContaining([path.basename(res.body.storage_key), expect.stringMatching(/\.thumb\.jpg$/)]));

			const got = await request("GET", `/media/${res.body.media_id}`, { token: alice.token });
			expect(got.status).toBe(200);
			for (const f of RECORD_FIELDS.filter(f => !f.endsWith("_url"))) expect(got.body[f]).toEqual(res.body[f]);
			expect((await fetchUrl(got.body.thumbnail_url)).status).toBe(200);
		});

		it("presign → PUT upload_url → POST /media/ {key}; the upload is consumed", async () => {
			const p = await presign(alice, "image/png", "screenshot.png");
			expect(p.key).toMatch(new RegExp(`^uploads/${alice.id}/[A-Za-z0-9-]+\\.png$`));
			const url = new URL(p.upload_url);
			expect(url.origin).toBe(base);
			expect(url.pathname).toBe(`/storage/upload/${p.key}`);
			expect(Object.fromEntries(url.searchParams)).toMatchObject({ ct: "image/png", exp: expect.stringMatching(/^\d+$/), sig: expect.any(String) });
			expect(p).toMatchObject({ method: "PUT", headers: { "Content-Type": "image/png" }, expires_in: expect.any(Number) });

			const put = await putTo(p.upload_url, await png(120, 80), "image/png");
			expect(put.status).toBe(200);
			expect(uploadFiles(alice)).toContain(path.basename(p.key));

			const res = await request("POST", "/media/", { token: alice.token, body: { key: p.key, mime: "image/png", metadata: { caption: "desk" } } });
			expect(res.status).toBe(200);
			expect(res.body.media_id).toBe(res.body.id);
			expect(res.body).toMatchObject({ width: 120, height: 80, metadata: { caption: "desk" } });
			await expectRecord(res.body, alice, { mime: "image/png" });
			// The raw upload is gone; only the clean renditions remain.
			expect(uploadFiles(alice)).not.toContain(path.basename(p.key));
			// Claimed once: the same key again is not found.
			expectError(await request("POST", "/media/", { token: alice.token, body: { key: p.key } }), 404);
		});

		it("presign → PUT → POST /media/ {storage_url: upload_url without its query} (the frontend's form)", async () => {
			const p = await presign(alice, "image/webp", "pic.webp");
			expect((await putTo(p.upload_url, await webp(90, 60), "image/webp")).status).toBe(200);
			const storage_url = p.upload_url.split("?")[0];
			const res = await request("POST", "/media/", { token: alice.token, body: { storage_url, mime: "image/webp", user_id: alice.id } });
			expect(res.status).toBe(200);
			expect(res.body).toMatchObject({ width: 90, height: 60 });
			await expectRecord(res.body, alice, { mime: "image/webp" });
			expect(uploadFiles(alice)).not.toContain(path.basename(p.key));
		});

		it("POST /media/ with a URL we never issued (another host, file://, a media key) → 404, nothing fetched", async () => {
			for (const storage_url of ["http://169.254.169.254/latest/meta-data/x.jpg", "file:///etc/passwd", `${base}/storage/media/${alice.id}/x.jpg`, "not a url"])
				expectError(await request("POST", "/media/", { token: alice.token, body: { storage_url } }), 404);
			// An issued key that was never PUT is not an object yet.
			const p = await presign(alice);
			expectError(await request("POST", "/media/", { token: alice.token, body: { key: p.key } }), 404);
			expectError(await request("POST", "/media/", { token: alice.token, body: {} }), 422);
		});

		it("the upload target answers CORS preflights (browsers PUT from another origin)", async () => {
			const p = await presign(alice);
			const res = await fetch(p.upload_url, {
				method: "OPTIONS",
				headers: { origin: "https://app.example", "access-control-request-method": "PUT", "access-control-request-headers": "content-type" }
			});
			expect(res.status).toBe(204);
			expect(res.headers.get("access-control-allow-origin")).toBeTruthy();
			expect(res.headers.get("access-control-allow-methods")).toMatch(/PUT/);
		});
	});

	describe("records", () => {
		it("GET /media pages the caller's media, newest first, and shows nobody else's", async () => {
			const carol = await newUser();
			const ids: string[] = [];
			for (let i = 0; i < 3; i++) {
				const r = await uploadForm(base, carol.token, await jpeg(40 + i, 30));
				expect(r.status).toBe(200);
				ids.push(r.body.media_id);
				await new Promise(r => setTimeout(r, 5));
			}
			const first = await request("GET", "/media?limit=2", { token: carol.token });
			expect(first.status).toBe(200);
			expect(first.body).toMatchObject({ total: 3, limit: 2, offset: 0 });
			expect(first.body.items.map((m: { id: string }) => m.id)).toEqual([ids[2], ids[1]]);
			for (const m of first.body.items) for (const f of RECORD_FIELDS) expect(m).toHaveProperty(f);
			const second = await request("GET", "/media?limit=2&offset=2", { token: carol.token });
			expect(second.body.items.map((m: { id: string }) => m.id)).toEqual([ids[0]]);
			expect((await fetchUrl(second.body.items[0].thumbnail_url)).status).toBe(200);
			const empty = await request("GET", "/media?offset=10", { token: carol.token });
			expect(empty.body).toMatchObject({ items: [], total: 3 });
			expectError(await request("GET", "/media?limit=1000", { token: carol.token }), 422);
			expectError(await request("GET", "/media?limit=abc", { token: carol.token }), 422);
			// Another user's list does not contain carol's media.
			const other = await request("GET", "/media?limit=100", { token: bob.token });
			expect(other.body.items.map((m: { id: string }) => m.id)).not.toEqual(expect.arrayContaining([ids[0]]));
		});

		it("dedupe: the same image twice (any way in) is the same media, stored once; another user gets their own", async () => {
			const dave = await newUser();
			const img = await jpeg(80, 80);
			const a = await uploadForm(base, dave.token, img);
			expect(a.status).toBe(200);
			const filesAfterFirst = userFiles(dave);
			expect(filesAfterFirst).toHaveLength(2);
			const b = await uploadForm(base, dave.token, img, { filename: "again.jpg" });
			expect(b.status).toBe(200);
			expect(b.body.media_id).toBe(a.body.media_id);
			expect(b.body.storage_key).toBe(a.body.storage_key);

			const p = await presign(dave);
			expect((await putTo(p.upload_url, img, "image/jpeg")).status).toBe(200);
			const c = await request("POST", "/media/", { token: dave.token, body: { key: p.key } });
			expect(c.status).toBe(200);
			expect(c.body.media_id).toBe(a.body.media_id);

			expect(userFiles(dave)).toEqual(filesAfterFirst);
			expect(uploadFiles(dave)).toEqual([]);
			expect((await request("GET", "/media", { token: dave.token })).body.total).toBe(1);

			const other = await uploadForm(base, bob.token, img);
			expect(other.status).toBe(200);
			expect(other.body.media_id).not.toBe(a.body.media_id);
			expect(other.body.user_id).toBe(bob.id);
		});

		it("DELETE /media/{id} removes the record and every file; later reads and old signed URLs → 404", async () => {
			const erin = await newUser();
			const keep = await uploadForm(base, erin.token, await jpeg(50, 50));
			const res = await uploadForm(base, erin.token, await png(60, 40));
			expect(res.status).toBe(200);
			const before = userFiles(erin);
			expect(before).toHaveLength(4);

			const del = await request("DELETE", `/media/${res.body.media_id}`, { token: erin.token });
			expect(del.status).toBe(200);
			expect(del.body).toMatchObject({ status: "deleted", media_id: res.body.media_id });
			expect(fs.existsSync(path.join(mediaRoot, res.body.storage_key))).toBe(false);
			expect(userFiles(erin)).toEqual(before.filter(f => !f.startsWith(path.basename(res.body.storage_key).split(".")[0])));
			expect(userFiles(erin)).toHaveLength(2);

			expectError(await request("GET", `/media/${res.body.media_id}`, { token: erin.token }), 404, "NOT_FOUND");
			expectError(await request("DELETE", `/media/${res.body.media_id}`, { token: erin.token }), 404, "NOT_FOUND");
			const old = await fetchUrl(res.body.storage_url);
			expectError(old, 404);
			expectError(await fetchUrl(res.body.thumbnail_url), 404);
			const list = await request("GET", "/media", { token: erin.token });
			expect(list.body.items.map((m: { id: string }) => m.id)).toEqual([keep.body.media_id]);
			// Deleting frees the content for a fresh upload.
			expect((await fetchUrl(keep.body.storage_url)).status).toBe(200);
		});

		it("DELETE emits media.deleted for the analyses and vectors to follow", async () => {
			const seen: unknown[] = [];
			const listener = node.broker.createService({ name: "media-deleted-listener", events: { "media.deleted": (ctx: { params: unknown }) => void seen.push(ctx.params) } });
			await node.broker.waitForServices(["media-deleted-listener"], 5000, 10);
			try {
				const r = await uploadForm(base, alice.token, await jpeg(33, 33));
				await request("DELETE", `/media/${r.body.media_id}`, { token: alice.token });
				for (let i = 0; i < 50 && seen.length === 0; i++) await new Promise(res => setTimeout(res, 10));
				expect(seen).toEqual([{ media_id: r.body.media_id, user_id: alice.id, content_hash: r.body.content_hash }]);
			} finally {
				await node.broker.destroyService(listener);
			}
		});
	});

	describe("metadata hygiene", () => {
		async function expectClean(bytes: Buffer) {
			const m = await sharp(bytes).metadata();
			expect(m.exif).toBeUndefined();
			expect(m.xmp).toBeUndefined();
			expect(m.orientation).toBeUndefined();
			for (const s of Object.values(EXIF_SECRETS)) expect(bytes.includes(s)).toBe(false);
			expect(bytes.includes("Exif\0")).toBe(false);
			return m;
		}

		it("a JPEG with EXIF, GPS and orientation 6 (multipart): stored upright (20×40) with no metadata at all", async () => {
			const input = await exifJpeg();
			for (const s of Object.values(EXIF_SECRETS)) expect(input.includes(s)).toBe(true);
			const res = await uploadForm(base, alice.token, input, { fields: { metadata: JSON.stringify({ caption: "trip", gps: "48.8,2.3", location: "Paris" }) } });
			expect(res.status).toBe(200);
			expect(res.body).toMatchObject({ width: 20, height: 40, metadata: { caption: "trip" } });
			expect(res.body.metadata).not.toHaveProperty("gps");
			expect(res.body.metadata).not.toHaveProperty("location");
			const stored = await fetchUrl(res.body.storage_url);
			const m = await expectClean(stored.bytes);
			expect([m.width, m.height]).toEqual([20, 40]);
			// The file on disk, and the thumbnail, are clean too.
			await expectClean(fs.readFileSync(path.join(mediaRoot, res.body.storage_key)));
			const thumb = await expectClean((await fetchUrl(res.body.thumbnail_url)).bytes);
			expect(thumb.height!).toBeGreaterThan(thumb.width!);
		});

		it("the same through presign + PUT + create: the raw upload with its GPS is deleted, the record is clean", async () => {
			const p = await presign(alice);
			expect((await putTo(p.upload_url, await exifJpeg(), "image/jpeg")).status).toBe(200);
			const rawFile = path.join(mediaRoot, p.key);
			expect(fs.readFileSync(rawFile).includes(EXIF_SECRETS.gpsDatum)).toBe(true);
			const res = await request("POST", "/media/", { token: alice.token, body: { key: p.key, metadata: { latitude: 1, note: "ok" } } });
			expect(res.status).toBe(200);
			expect(res.body).toMatchObject({ width: 20, height: 40, metadata: { note: "ok" } });
			expect(res.body.metadata).not.toHaveProperty("latitude");
			await expectClean((await fetchUrl(res.body.storage_url)).bytes);
			expect(fs.existsSync(rawFile)).toBe(false);
			// No file anywhere under the media root still carries the GPS datum.
			for (const f of filesUnder(mediaRoot)) expect(fs.readFileSync(path.join(mediaRoot, f)).includes(EXIF_SECRETS.gpsDatum)).toBe(false);
		});
	});

	describe("signed URLs", () => {
		let rec: Record<string, any>;
		let signer: UrlSigner;
		beforeAll(async () => {
			rec = (await uploadForm(base, alice.token, await jpeg(70, 70))).body;
			// The gateway's own secret (generated into DATA_DIR on first start): lets the test craft expired URLs.
			signer = new UrlSigner(Buffer.from(fs.readFileSync(path.join(node.dataDir, "secrets", "storage-signing.key"), "utf8").trim()));
		});
		const withQuery = (url: string, change: Record<string, string>) => {
			const u = new URL(url);
			for (const [k, v] of Object.entries(change)) u.searchParams.set(k, v);
			return u.toString();
		};

		it("a valid signature needs no auth (and ignores another user's token)", async () => {
			expect((await fetchUrl(rec.storage_url)).status).toBe(200);
			const r = await fetchUrl(rec.storage_url, { authorization: `Bearer ${bob.token}` });
			expect(r.status).toBe(200);
			expect(r.headers.get("x-content-type-options")).toBe("nosniff");
		});

		it("tampered signature → 404", async () => {
			const sig = new URL(rec.storage_url).searchParams.get("sig")!;
			const flipped = (sig[0] === "A" ? "B" : "A") + sig.slice(1);
			expectError(await fetchUrl(withQuery(rec.storage_url, { sig: flipped })), 404);
			expectError(await fetchUrl(withQuery(rec.storage_url, { sig: "" })), 404);
		});

		it("tampered path (another key with this signature) → 404", async () => {
			const thumbKey = new URL(rec.thumbnail_url).pathname;
			const u = new URL(rec.storage_url);
			u.pathname = thumbKey;
			expectError(await fetchUrl(u.toString()), 404);
			// Another user's object with this user's signature.
			const bobs = (await uploadForm(base, bob.token, await jpeg(71, 71))).body;
			const v = new URL(rec.storage_url);
			v.pathname = `/storage/${bobs.storage_key}`;
			expectError(await fetchUrl(v.toString()), 404);
		});

		it("a later expiry with the old signature → 404; a crafted expired URL → 404 while a fresh one → 200", async () => {
			const exp = Number(new URL(rec.storage_url).searchParams.get("exp"));
			expectError(await fetchUrl(withQuery(rec.storage_url, { exp: String(exp + 86400) })), 404);
			const p = `/storage/${rec.storage_key}`;
			const past = Math.floor(Date.now() / 1000) - 5;
			expectError(await fetchUrl(`${base}${p}?exp=${past}&sig=${signer.sign("GET", p, past)}`), 404);
			const future = Math.floor(Date.now() / 1000) + 60;
			expect((await fetchUrl(`${base}${p}?exp=${future}&sig=${signer.sign("GET", p, future)}`)).status).toBe(200);
		});

		it("the URL handed out stops working once SIGNED_URL_TTL_S has passed", async () => {
			expect(node.config.storage.signedUrlTtlS).toBe(15 * 60);
			const realNow = Date.now;
			const spy = jest.spyOn(Date, "now").mockImplementation(() => realNow() + 15 * 60 * 1000 + 2000);
			try {
				expectError(await fetchUrl(rec.storage_url), 404);
				expectError(await fetchUrl(rec.thumbnail_url), 404);
			} finally {
				spy.mockRestore();
			}
			expect((await fetchUrl(rec.storage_url)).status).toBe(200);
		});

		it("no signature, a PUT signature, or a validly signed traversal key → 404, never a file outside the media root", async () => {
			const p = `/storage/${rec.storage_key}`;
			const noSig = await fetchUrl(`${base}${p}`);
			expect([404, 422]).toContain(noSig.status);
			expectError(noSig, noSig.status);
			const exp = Math.floor(Date.now() / 1000) + 60;
			expectError(await fetchUrl(`${base}${p}?exp=${exp}&sig=${signer.sign("PUT", p, exp)}`), 404);
			const secret = fs.readFileSync(path.join(node.dataDir, "secrets", "storage-signing.key"), "utf8").trim();
			for (const key of ["../secrets/storage-signing.key", "media/../../secrets/storage-signing.key", "../db/users.db", "%2e%2e/secrets/storage-signing.key"]) {
				const q = `/storage/${key}`;
				// Sent verbatim (fetch would normalise the dots away before they reach the server).
				const res = await rawGet(`${q}?exp=${exp}&sig=${signer.sign("GET", q, exp)}`);
				expect(res.status).toBe(404);
				expect(res.text).not.toContain(secret);
				expect(res.text).not.toContain("password");
			}
		});
	});

	describe("ownership", () => {
		let rec: Record<string, any>;
		beforeAll(async () => {
			rec = (await uploadForm(base, alice.token, await jpeg(72, 72))).body;
		});

		it("another user's media id → 404 on GET and DELETE (no existence leak); the media survives", async () => {
			const get = await request("GET", `/media/${rec.media_id}`, { token: bob.token });
			const missing = await request("GET", `/media/no-such-id-123`, { token: bob.token });
			expectError(get, 404, "NOT_FOUND");
			expect(get.body.error).toBe(missing.body.error);
			expectError(await request("DELETE", `/media/${rec.media_id}`, { token: bob.token }), 404, "NOT_FOUND");
			expect((await request("GET", `/media/${rec.media_id}`, { token: alice.token })).status).toBe(200);
			expect(fs.existsSync(path.join(mediaRoot, rec.storage_key))).toBe(true);
		});

		it("another user cannot claim an upload key (by key or by URL); the owner still can", async () => {
			const p = await presign(alice);
			expect((await putTo(p.upload_url, await jpeg(73, 73), "image/jpeg")).status).toBe(200);
			expectError(await request("POST", "/media/", { token: bob.token, body: { key: p.key } }), 404);
			expectError(await request("POST", "/media/", { token: bob.token, body: { storage_url: p.upload_url.split("?")[0] } }), 404);
			const own = await request("POST", "/media/", { token: alice.token, body: { key: p.key } });
			expect(own.status).toBe(200);
			expect(own.body.user_id).toBe(alice.id);
		});

		it("user_id naming someone else → 403 on presign, create, list and upload; naming yourself is fine", async () => {
			expectError(await request("POST", "/media/presign", { token: bob.token, body: { filename: "a.jpg", content_type: "image/jpeg", user_id: alice.id } }), 403, "FORBIDDEN");
			expectError(await request("POST", "/media/", { token: bob.token, body: { key: `uploads/${alice.id}/x.jpg`, user_id: alice.id } }), 403, "FORBIDDEN");
			expectError(await request("GET", `/media?user_id=${alice.id}`, { token: bob.token }), 403, "FORBIDDEN");
			const before = (await request("GET", "/media", { token: alice.token })).body.total;
			expectError(await uploadForm(base, bob.token, await jpeg(74, 74), { fields: { user_id: alice.id } }), 403, "FORBIDDEN");
			expect((await request("GET", "/media", { token: alice.token })).body.total).toBe(before);
			expect((await request("GET", `/media?user_id=${bob.id}`, { token: bob.token })).status).toBe(200);
			expect((await request("POST", "/media/presign", { token: bob.token, body: { filename: "a.jpg", content_type: "image/jpeg", user_id: bob.id } })).status).toBe(200);
		});

		it("no token → 401 on every media route", async () => {
			expectError(await uploadForm(base, null, await jpeg(75, 75)), 401);
			expectError(await request("POST", "/media/presign", { body: { filename: "a.jpg", content_type: "image/jpeg" } }), 401);
			expectError(await request("POST", "/media/", { body: { key: "uploads/x/y.jpg" } }), 401);
			expectError(await request("GET", "/media"), 401);
			expectError(await request("GET", `/media/${rec.media_id}`), 401);
			expectError(await request("DELETE", `/media/${rec.media_id}`), 401);
		});
	});

	describe("video", () => {
		it("a 2 s MP4 → media_type video, 3 keyframes with signed URLs, one best; the stored video has no metadata", async () => {
			const mp4 = video({ durationS: 2, title: "SECRET-TITLE" });
			expect(mp4.includes("SECRET-TITLE")).toBe(true);
			const frank = await newUser();
			const res = await uploadForm(base, frank.token, mp4, { filename: "clip.mp4", type: "video/mp4" });
			expect(res.status).toBe(200);
			expect(res.body).toMatchObject({ status: "ok", media_type: "video", mime: "video/mp4" });
			expect(res.body.duration_s).toBeCloseTo(2, 0);
			expect(res.body.keyframes).toHaveLength(3);
			expect(res.body.keyframes.filter((k: { best: boolean }) => k.best === true)).toHaveLength(1);
			const times = res.body.keyframes.map((k: { time_s: number }) => k.time_s);
			expect([...times].sort((a, b) => a - b)).toEqual(times);
			expect(new Set(times).size).toBe(3);
			for (const k of res.body.keyframes) {
				expect(k).toMatchObject({ url: expect.any(String), width: 320, height: 240, sharpness: expect.any(Number) });
				const f = await fetchUrl(k.url);
				expect(f.status).toBe(200);
				expect(f.headers.get("content-type")).toBe("image/jpeg");
				expect((await sharp(f.bytes).metadata()).exif).toBeUndefined();
			}
			const best = res.body.keyframes.find((k: { best: boolean }) => k.best);
			expect(best.sharpness).toBe(Math.max(...res.body.keyframes.map((k: { sharpness: number }) => k.sharpness)));

			const stored = await fetchUrl(res.body.storage_url);
			expect(stored.status).toBe(200);
			expect(stored.headers.get("content-type")).toBe("video/mp4");
			expect(stored.bytes.includes("SECRET-TITLE")).toBe(false);
			expect(stored.bytes.subarray(4, 8).toString("latin1")).toBe("ftyp");
			expect((await fetchUrl(res.body.thumbnail_url)).headers.get("content-type")).toBe("image/jpeg");
			// image + thumbnail + 3 keyframes on disk; DELETE removes them all.
			expect(userFiles(frank)).toHaveLength(5);
			expect((await request("DELETE", `/media/${res.body.media_id}`, { token: frank.token })).status).toBe(200);
			expect(userFiles(frank)).toEqual([]);
			for (const k of res.body.keyframes) expectError(await fetchUrl(k.url), 404);
		});

		it.each([
			["mov", "video/quicktime"],
			["webm", "video/webm"]
		] as const)("a %s clip is accepted as %s, with keyframes", async (format, mime) => {
			const clip = video({ durationS: 1, size: "96x64", format, title: "SECRET-TITLE" });
			const res = await uploadForm(base, alice.token, clip, { filename: `clip.${format}`, type: "application/octet-stream" });
			expect(res.status).toBe(200);
			expect(res.body).toMatchObject({ media_type: "video", mime, keyframes: expect.any(Array) });
			expect(res.body.keyframes).toHaveLength(3);
			expect(res.body.storage_key.endsWith(`.${format}`)).toBe(true);
			const stored = await fetchUrl(res.body.storage_url);
			expect(stored.headers.get("content-type")).toBe(mime);
			expect(stored.bytes.includes("SECRET-TITLE")).toBe(false);
		});
	});
});
