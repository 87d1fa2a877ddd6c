import fs from "node:fs";
import path from "node:path";
import { http, startNode, type TestNode } from "../helpers/node";
import { registerUser } from "../factories/users";
import { jpeg } from "../factories/images";

describe("presigned upload sweep", () => {
	let node: TestNode;
	beforeAll(async () => {
		node = await startNode({ services: ["api", "users", "auth", "storage", "media"] });
	});
	afterAll(() => node.stop());

	it("removes uploads that expired unused, record and file, and leaves live ones", async () => {
		const request = http(node.url);
		const user = await registerUser(request);
		const presign = async () => (await request("POST", "/media/presign", { token: user.access_token, body: { filename: "a.jpg", content_type: "image/jpeg" } })).body;
		const old = await presign();
		// Signed URLs name PUBLIC_URL; this test node listens on a random port.
		const u = new URL(old.upload_url);
		const put = await fetch(node.url + u.pathname + u.search, { method: "PUT", body: new Uint8Array(await jpeg()), headers: { "content-type": "image/jpeg" } });
		expect(put.status).toBe(200);
		const file = path.join(node.dataDir, "media", old.key);
		expect(fs.existsSync(file)).toBe(true);

		const storage = node.broker.getLocalService("storage") as unknown as { sweep(now?: number): Promise<number> };
		// Nothing is stale yet.
		expect(await storage.sweep()).toBe(0);
		// Two hours after expiry the unused upload is gone: the file and the record (its URL now 404s on create).
		const later = Date.now() + (node.config.storage.presignTtlS + 7200) * 1000;
		expect(await storage.sweep(later)).toBe(1);
		expect(fs.existsSync(file)).toBe(false);
		const create = await request("POST", "/media", { token: user.access_token, body: { key: old.key } });
		expect(create.status).toBe(404);

		const fresh = await presign();
		expect(await storage.sweep()).toBe(0);
		expect((await request("POST", "/media/presign", { token: user.access_token, body: { filename: "b.jpg", content_type: "image/jpeg" } })).status).toBe(200);
		expect(fresh.key).toMatch(/^uploads\//);
	});
});
