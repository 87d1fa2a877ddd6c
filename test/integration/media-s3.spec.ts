import fs from "node:fs";
import path from "node:path";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { expectError, newUser as registerMediaUser, presign as presignUpload, startMediaNode, type User } from "../helpers/media";
import { tempDir, type Http, type TestNode } from "../helpers/node";
import { EXIF_SECRETS, HTML, exifJpeg, fetchUrl, filesUnder, jpeg, png, putTo, truncated, uploadForm, video, webp } from "../factories/images";
import { sha256 } from "../../lib/media/image";
import { S3Storage } from "../../lib/storage/s3";

// s3rver ships no type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require("s3rver") as new (opts: Record<string, unknown>) => {
	run(): Promise<{ address: string; port: number }>;
	close(): Promise<void>;
};

const BUCKET = "lifemirror-test";
const RECORD_FIELDS = ["id", "user_id", "media_type", "storage_url", "storage_key", "thumbnail_url", "keyframes", "size_bytes", "mime", "metadata", "created_at"];
const MB = 1024 * 1024;

/**
 * The S3 provider against a real S3-compatible server (s3rver) on 127.0.0.1: presigned PUTs go
 * straight to the bucket, reads are presigned GETs, nothing touches the node's DATA_DIR/media.
 */
describe("media over HTTP, S3-compatible storage (s3rver)", () => {
	let s3: InstanceType<typeof S3rver>;
	let s3dir: string;
	let endpoint: string;
	let client: S3Client;
	let node: TestNode;
	let request: Http;
	let base: string;
	let alice: User;
	let bob: User;

	const newUser = () => registerMediaUser(request);

	/** Every key in the bucket under a prefix, read with our own client (not the code under test). */
	async function bucketKeys(prefix = ""): Promise<string[]> {
		const res = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
		return (res.Contents ?? []).map(o => o.Key!).sort();
	}

	beforeAll(async () => {
		s3dir = tempDir("lm-s3rver-");
		s3 = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: s3dir, configureBuckets: [{ name: BUCKET }] });
		const addr = await s3.run();
		endpoint = `http://127.0.0.1:${addr.port}`;
		client = new S3Client({ region: "us-east-1", endpoint, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });

		({ node, request, base } = await startMediaNode({
			STORAGE: "s3",
			S3_BUCKET: BUCKET,
			S3_REGION: "us-east-1",
			S3_ENDPOINT: endpoint,
			S3_FORCE_PATH_STYLE: "true",
			S3_ACCESS_KEY_ID: "S3RVER",
			S3_SECRET_ACCESS_KEY: "S3RVER",
			THUMBNAIL_EDGE: "64",
			VIDEO_KEYFRAMES: "3",
			MAX_UPLOAD_MB: "2"
		}));
		alice = await newUser();
		bob = await newUser();
	});
	afterAll(async () => {
		await node?.stop();
		client?.destroy();
		await s3?.close();
		fs.rmSync(s3dir, { recursive: true, force: true });
	});

	const presign = (u: User, content_type?: string, filename?: string) => presignUpload(request, u, content_type, filename);

	/** A record as the frontend reads it; its files are in the bucket and served by presigned GETs. */
	async function expectRecord(rec: Record<string, any>, u: User, mime: string) {
		for (const f of RECORD_FIELDS) expect(rec).toHaveProperty(f);
		expect(rec).toMatchObject({ user_id: u.id, media_type: "image", mime });
		expect(rec.storage_key).toMatch(new RegExp(`^media/${u.id}/[A-Za-z0-9-]+\\.[a-z]+$`));
		for (const url of [rec.storage_url, rec.thumbnail_url]) {
			const u2 = new URL(url);
			expect(u2.origin).toBe(endpoint);
			expect(u2.pathname.startsWith(`/${BUCKET}/media/${u.id}/`)).toBe(true);
			expect(u2.searchParams.get("X-Amz-Signature")).toMatch(/^[0-9a-f]{64}$/);
			expect(Number(u2.searchParams.get("X-Amz-Expires"))).toBe(node.config.storage.signedUrlTtlS);
		}
		const stored = await fetchUrl(rec.storage_url);
		expect(stored.status).toBe(200);
		expect(stored.headers.get("content-type")).toBe(mime);
		expect(stored.bytes.length).toBe(rec.size_bytes);
		expect(sha256(stored.bytes)).toBe(rec.content_hash);
		const thumb = await fetchUrl(rec.thumbnail_url);
		expect(thumb.status).toBe(200);
		expect(thumb.headers.get("content-type")).toBe("image/jpeg");
		expect((await sharp(thumb.bytes).metadata()).format).toBe("jpeg");
		expect(await bucketKeys(rec.storage_key)).toEqual([rec.storage_key]);
		// Local storage is not used at all in S3 mode.
		expect(filesUnder(path.join(node.dataDir, "media"))).toEqual([]);
		return stored;
	}

	it("the S3 provider itself: put/get/head/list/delete and presigned URLs against the server", async () => {
		const st = new S3Storage(node.config.storage.s3);
		await st.put("probe/a.txt", Buffer.from("hello"), "text/plain");
		expect((await st.get("probe/a.txt")).toString()).toBe("hello");
		expect(await st.head("probe/a.txt")).toMatchObject({ size: 5, contentType: "text/plain" });
		expect(await st.head("probe/missing.txt")).toBeNull();
		expect(await st.list("probe/")).toEqual(["probe/a.txt"]);
		const chunks: Buffer[] = [];
		for await (const c of await st.stream("probe/a.txt")) chunks.push(Buffer.from(c as Uint8Array));
		expect(Buffer.concat(chunks).toString()).toBe("hello");
		const got = await fetchUrl(await st.downloadUrl("probe/a.txt", 60));
		expect(got.bytes.toString()).toBe("hello");
		const put = await putTo(await st.uploadUrl("probe/b.jpg", { contentType: "image/jpeg", maxBytes: 10, expiresS: 60 }), Buffer.from("bb"), "image/jpeg");
		expect(put.status).toBe(200);
		expect(await st.head("probe/b.jpg")).toMatchObject({ size: 2, contentType: "image/jpeg" });
		await st.delete("probe/a.txt");
		await st.delete("probe/b.jpg");
		expect(await st.list("probe/")).toEqual([]);
		await expect(st.put("../escape", Buffer.from("x"), "text/plain")).rejects.toThrow(/invalid storage key/);
		await expect(st.uploadUrl("uploads/../media/x.jpg", { contentType: "image/jpeg", maxBytes: 1, expiresS: 60 })).rejects.toThrow(/invalid storage key/);
		expect(await bucketKeys("probe/")).toEqual([]);
	});

	describe("three ways in", () => {
		it("multipart upload → the record; files in the bucket; thumbnail via its presigned URL", async () => {
			const res = await uploadForm(base, alice.token, await jpeg(300, 200));
			expect(res.status).toBe(200);
			expect(res.body).toMatchObject({ status: "ok", media_id: expect.any(String), size_bytes: expect.any(Number), mime: "image/jpeg", width: 300, height: 200 });
			expect(res.body.id).toBe(res.body.media_id);
			await expectRecord(res.body, alice, "image/jpeg");
			const got = await request("GET", `/media/${res.body.media_id}`, { token: alice.token });
			expect(got.status).toBe(200);
			expect(got.body).toMatchObject({ id: res.body.media_id, storage_key: res.body.storage_key, size_bytes: res.body.size_bytes });
			expect((await fetchUrl(got.body.thumbnail_url)).status).toBe(200);
		});

		it("presign → PUT to the bucket → POST /media/ {key}; the raw upload is removed from the bucket", async () => {
			const p = await presign(alice, "image/png", "shot.png");
			expect(p.key).toMatch(new RegExp(`^uploads/${alice.id}/[A-Za-z0-9-]+\\.png$`));
			const url = new URL(p.upload_url);
			expect(url.origin).toBe(endpoint);
			expect(url.pathname).toBe(`/${BUCKET}/${p.key}`);
			expect(url.searchParams.get("X-Amz-SignedHeaders")).toMatch(/content-type/);
			expect(p.headers).toEqual({ "Content-Type": "image/png" });
			const put = await putTo(p.upload_url, await png(120, 80), "image/png");
			expect(put.status).toBe(200);
			expect(await bucketKeys(p.key)).toEqual([p.key]);
			const res = await request("POST", "/media/", { token: alice.token, body: { key: p.key, mime: "image/png", metadata: { caption: "s3" } } });
			expect(res.status).toBe(200);
			expect(res.body).toMatchObject({ media_id: expect.any(String), width: 120, height: 80, metadata: { caption: "s3" } });
			await expectRecord(res.body, alice, "image/png");
			expect(await bucketKeys(p.key)).toEqual([]);
			expectError(await request("POST", "/media/", { token: alice.token, body: { key: p.key } }), 404);
		});

		it("presign → PUT → POST /media/ {storage_url: the upload URL without its query}", async () => {
			const p = await presign(alice, "image/webp", "a.webp");
			expect((await putTo(p.upload_url, await webp(90, 60), "image/webp")).status).toBe(200);
			const res = await request("POST", "/media/", { token: alice.token, body: { storage_url: p.upload_url.split("?")[0], mime: "image/webp" } });
			expect(res.status).toBe(200);
			expect(res.body).toMatchObject({ width: 90, height: 60 });
			await expectRecord(res.body, alice, "image/webp");
			expect(await bucketKeys(`uploads/${alice.id}/`)).toEqual([]);
		});

		it("the presigned PUT is signed for its content type and expires after PRESIGN_TTL_S; a replay cannot make a second media", async () => {
			// s3rver checks expiry but not V4 signatures, so the binding is asserted on the URL itself.
			const p = await presign(alice, "image/jpeg");
			const url = new URL(p.upload_url);
			expect(url.searchParams.get("X-Amz-SignedHeaders")!.split(";")).toEqual(expect.arrayContaining(["content-type", "host"]));
			expect(Number(url.searchParams.get("X-Amz-Expires"))).toBe(node.config.storage.presignTtlS);
			expect(url.searchParams.get("X-Amz-Credential")).toMatch(/^S3RVER\//);
			const img = await jpeg(74, 74);
			expect((await putTo(p.upload_url, img, "image/jpeg")).status).toBe(200);
			const first = await request("POST", "/media/", { token: alice.token, body: { key: p.key } });
			expect(first.status).toBe(200);
			// The URL itself is still valid at the bucket, but the key was claimed: no second media from it.
			await putTo(p.upload_url, await jpeg(75, 75), "image/jpeg");
			expectError(await request("POST", "/media/", { token: alice.token, body: { key: p.key } }), 404);
			expectError(await request("POST", "/media/", { token: alice.token, body: { storage_url: p.upload_url.split("?")[0] } }), 404);
		});
	});

	describe("records, dedupe, delete", () => {
		it("GET /media pages; dedupe across the ways in; delete removes every object and the old URLs → 404", async () => {
			const carol = await newUser();
			const img = await jpeg(80, 80);
			const a = await uploadForm(base, carol.token, img);
			expect(a.status).toBe(200);
			const p = await presign(carol);
			expect((await putTo(p.upload_url, img, "image/jpeg")).status).toBe(200);
			const b = await request("POST", "/media/", { token: carol.token, body: { key: p.key } });
			expect(b.status).toBe(200);
			expect(b.body.media_id).toBe(a.body.media_id);
			const c = await uploadForm(base, carol.token, img);
			expect(c.body.media_id).toBe(a.body.media_id);
			const d = await uploadForm(base, carol.token, await png(40, 40));
			expect(d.status).toBe(200);
			expect(await bucketKeys(`media/${carol.id}/`)).toHaveLength(4);
			expect(await bucketKeys(`uploads/${carol.id}/`)).toEqual([]);

			const page1 = await request("GET", "/media?limit=1", { token: carol.token });
			expect(page1.body).toMatchObject({ total: 2, limit: 1, offset: 0 });
			expect(page1.body.items.map((m: { id: string }) => m.id)).toEqual([d.body.media_id]);
			const page2 = await request("GET", "/media?limit=1&offset=1", { token: carol.token });
			expect(page2.body.items.map((m: { id: string }) => m.id)).toEqual([a.body.media_id]);
			expect((await fetchUrl(page2.body.items[0].thumbnail_url)).status).toBe(200);

			const del = await request("DELETE", `/media/${a.body.media_id}`, { token: carol.token });
			expect(del.status).toBe(200);
			expect(del.body).toMatchObject({ status: "deleted", media_id: a.body.media_id });
			const left = await bucketKeys(`media/${carol.id}/`);
			expect(left).toHaveLength(2);
			expect(left.every(k => k.startsWith(d.body.storage_key.replace(/\.png$/, "")))).toBe(true);
			expectError(await request("GET", `/media/${a.body.media_id}`, { token: carol.token }), 404);
			expect((await fetchUrl(a.body.storage_url)).status).toBe(404);
			expect((await fetchUrl(a.body.thumbnail_url)).status).toBe(404);
		});

		it("record URLs are presigned GETs that expire after SIGNED_URL_TTL_S (the bucket refuses them later)", async () => {
			const rec = (await uploadForm(base, alice.token, await jpeg(70, 70))).body;
			for (const url of [rec.storage_url, rec.thumbnail_url]) {
				const u = new URL(url);
				expect(u.searchParams.get("X-Amz-Algorithm")).toBe("AWS4-HMAC-SHA256");
				expect(Number(u.searchParams.get("X-Amz-Expires"))).toBe(node.config.storage.signedUrlTtlS);
				// The same URL, dated as if issued longer ago than its lifetime, is refused by the bucket.
				const issued = u.searchParams.get("X-Amz-Date")!;
				const t = Date.UTC(+issued.slice(0, 4), +issued.slice(4, 6) - 1, +issued.slice(6, 8), +issued.slice(9, 11), +issued.slice(11, 13), +issued.slice(13, 15));
				const old = new Date(t - (node.config.storage.signedUrlTtlS + 5) * 1000).toISOString().replace(/[-:]|\.\d{3}/g, "");
				u.searchParams.set("X-Amz-Date", old);
				expect((await fetchUrl(u.toString())).status).toBe(403);
				expect((await fetchUrl(url)).status).toBe(200);
			}
		});
	});

	describe("hygiene and ownership", () => {
		it("EXIF/GPS stripped and orientation applied, through presign + PUT + create", async () => {
			const p = await presign(alice);
			expect((await putTo(p.upload_url, await exifJpeg(), "image/jpeg")).status).toBe(200);
			const res = await request("POST", "/media/", { token: alice.token, body: { key: p.key } });
			expect(res.status).toBe(200);
			expect(res.body).toMatchObject({ width: 20, height: 40 });
			const obj = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: res.body.storage_key }));
			const bytes = Buffer.from(await obj.Body!.transformToByteArray());
			const m = await sharp(bytes).metadata();
			expect(m.exif).toBeUndefined();
			expect([m.width, m.height]).toEqual([20, 40]);
			for (const s of Object.values(EXIF_SECRETS)) expect(bytes.includes(s)).toBe(false);
			expect(await bucketKeys(p.key)).toEqual([]);
		});

		it("another user cannot claim an upload key or read/delete a media → 404; user_id of someone else → 403", async () => {
			const p = await presign(alice);
			expect((await putTo(p.upload_url, await jpeg(73, 73), "image/jpeg")).status).toBe(200);
			expectError(await request("POST", "/media/", { token: bob.token, body: { key: p.key } }), 404);
			expectError(await request("POST", "/media/", { token: bob.token, body: { storage_url: p.upload_url.split("?")[0] } }), 404);
			expect(await bucketKeys(p.key)).toEqual([p.key]);
			const own = await request("POST", "/media/", { token: alice.token, body: { key: p.key } });
			expect(own.status).toBe(200);
			expectError(await request("GET", `/media/${own.body.media_id}`, { token: bob.token }), 404);
			expectError(await request("DELETE", `/media/${own.body.media_id}`, { token: bob.token }), 404);
			expect(await bucketKeys(own.body.storage_key)).toEqual([own.body.storage_key]);
			expectError(await request("POST", "/media/presign", { token: bob.token, body: { filename: "a.jpg", content_type: "image/jpeg", user_id: alice.id } }), 403);
		});
	});

	describe("hostile input in S3 mode", () => {
		it("an object over MAX_UPLOAD_MB PUT straight to the bucket → 413 at create, and the object is deleted", async () => {
			const p = await presign(alice);
			const big = Buffer.concat([await jpeg(16, 16), Buffer.alloc(3 * MB, 0x20)]);
			// The bucket cannot enforce our size limit on a presigned PUT; the create does.
			expect((await putTo(p.upload_url, big, "image/jpeg")).status).toBe(200);
			const before = await bucketKeys(`media/${alice.id}/`);
			expectError(await request("POST", "/media/", { token: alice.token, body: { key: p.key } }), 413, "PAYLOAD_TOO_LARGE");
			expect(await bucketKeys(p.key)).toEqual([]);
			expect(await bucketKeys(`media/${alice.id}/`)).toEqual(before);
		});

		it("an HTML file and a truncated JPEG uploaded to the bucket → 415 / 422 at create, nothing kept", async () => {
			const before = await bucketKeys();
			const p = await presign(alice);
			// Uploaded under the issued content type: the bytes are what is judged.
			expect((await putTo(p.upload_url, HTML, "image/jpeg")).status).toBe(200);
			expectError(await request("POST", "/media/", { token: alice.token, body: { key: p.key } }), 415, "UNSUPPORTED_MEDIA_TYPE");
			const q = await presign(alice);
			expect((await putTo(q.upload_url, truncated(await jpeg(300, 300), 0.5), "image/jpeg")).status).toBe(200);
			expectError(await request("POST", "/media/", { token: alice.token, body: { key: q.key } }), 422);
			expect(await bucketKeys()).toEqual(before);
		});

		it("an object put in the bucket under an issued-looking key by someone else is not claimable", async () => {
			// Nobody issued this key: writing it directly into the bucket does not make it an upload.
			const key = `uploads/${alice.id}/00000000-0000-4000-8000-000000000000.jpg`;
			await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: await jpeg(10, 10), ContentType: "image/jpeg" }));
			expectError(await request("POST", "/media/", { token: alice.token, body: { key } }), 404);
		});
	});

	it("video: keyframes stored in the bucket and served by presigned URLs; the stored MP4 has no title", async () => {
		const dave = await newUser();
		const res = await uploadForm(base, dave.token, video({ durationS: 2, title: "SECRET-TITLE" }), { filename: "clip.mp4", type: "video/mp4" });
		expect(res.status).toBe(200);
		expect(res.body).toMatchObject({ media_type: "video", mime: "video/mp4" });
		expect(res.body.keyframes).toHaveLength(3);
		expect(res.body.keyframes.filter((k: { best: boolean }) => k.best)).toHaveLength(1);
		for (const k of res.body.keyframes) {
			const f = await fetchUrl(k.url);
			expect(f.status).toBe(200);
			expect(f.headers.get("content-type")).toBe("image/jpeg");
		}
		const stored = await fetchUrl(res.body.storage_url);
		expect(stored.bytes.includes("SECRET-TITLE")).toBe(false);
		expect(await bucketKeys(`media/${dave.id}/`)).toHaveLength(5);
		expect((await request("DELETE", `/media/${res.body.media_id}`, { token: dave.token })).status).toBe(200);
		expect(await bucketKeys(`media/${dave.id}/`)).toEqual([]);
	});
});
