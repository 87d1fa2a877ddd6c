import { unzip } from "../../lib/privacy/zip";
import { fetchUrl, freePort, jpeg, uploadForm } from "../factories/images";
import { registerUser } from "../factories/users";
import { http, startNode, type Http, type TestNode } from "../helpers/node";
import { waitFor } from "../helpers/wait";

/**
 * Export (GDPR Art. 20, SPEC §3 /privacy/export): a background job builds a ZIP of everything
 * held about the caller (data.json + their stored files), downloadable through a signed,
 * expiring URL; nobody else can see it.
 */

interface User {
	id: string;
	email: string;
	token: string;
	media: string[];
}

describe("privacy: data export", () => {
	let node: TestNode;
	let request: Http;

	async function newUser(): Promise<User> {
		const u = await registerUser(request);
		const me = await request("GET", "/auth/me", { token: u.access_token });
		return { id: me.body.id, email: u.email, token: u.access_token, media: [] };
	}
	async function upload(u: User) {
		const res = await uploadForm(node.url, u.token, await jpeg(120, 90), { type: "image/jpeg" });
		expect(res.status).toBe(200);
		u.media.push(res.body.media_id);
		return res.body.media_id as string;
	}
	async function exported(u: User) {
		const res = await request("POST", "/privacy/export", { token: u.token });
		expect(res.status).toBe(202);
		const done = await waitFor(async () => {
			const s = await request("GET", `/privacy/export/${res.body.export_id}`, { token: u.token });
			return s.body.status === "completed" || s.body.status === "failed" ? s : null;
		}, 30_000, 50);
		return { export_id: res.body.export_id as string, status: done.body };
	}

	beforeAll(async () => {
		const port = await freePort();
		node = await startNode({
			services: [
				"api", "users", "auth", "consents", "privacy", "storage", "media", "vision", "analyses", "orchestrator", "analysis", "embeddings",
				"agents/face", "agents/fashion", "agents/posture", "agents/bio", "agents/embedder", "agents/formatter", "agents/social_perception", "jobs",
				"follows", "notifications"
			],
			env: {
				PORT: String(port),
				PUBLIC_URL: `http://127.0.0.1:${port}`,
				VISION_THREADS: "1",
				AGENT_TIMEOUT_MS: "10000",
				EXPORT_URL_TTL_S: "600",
				RATE_LIMITS: "upload=1000/60,analyze=1000/60,auth=1000/60,export=1000/60,default=10000/60"
			}
		});
		request = http(node.url);
	}, 60_000);

	afterAll(async () => {
		await node?.stop();
	});

	it("refuses without access: no token → 401; another user's export id → 404; a malformed id → 422", async () => {
		expect((await request("POST", "/privacy/export")).status).toBe(401);
		expect((await request("GET", "/privacy/export/abc")).status).toBe(401);
		const [alice, bob] = [await newUser(), await newUser()];
		const { export_id } = await exported(alice);
		const theirs = await request("GET", `/privacy/export/${export_id}`, { token: bob.token });
		expect([theirs.status, theirs.body.error_code]).toEqual([404, "NOT_FOUND"]);
		expect((await request("GET", "/privacy/export/00000000-0000-4000-8000-000000000000", { token: alice.token })).status).toBe(404);
		expect((await request("GET", `/privacy/export/${"x".repeat(200)}`, { token: alice.token })).status).toBe(422);
	});

	it("the archive holds my profile, consents, media records and files, analyses and vector metadata — and nothing of anyone else", async () => {
		const [alice, bob] = [await newUser(), await newUser()];
		await request("PUT", "/privacy/consents", { token: alice.token, body: { technical_metadata: true, posture_analysis: false } });
		const m1 = await upload(alice);
		await upload(alice);
		const analysis = await request("POST", "/analysis/analyze", { token: alice.token, body: { media_id: m1 } });
		expect(analysis.status).toBe(200);
		// A follower (social data about me: their id may appear, nothing else of theirs).
		const carol = await newUser();
		for (const u of [alice, carol]) await request("PATCH", "/auth/me", { token: u.token, body: { opt_in_public_analysis: true } });
		expect((await request("POST", `/social/follow/${alice.id}`, { token: carol.token })).status).toBeLessThan(300);
		await waitFor(async () => (await request("GET", "/notifications", { token: alice.token })).body.items?.length > 0, 10_000, 50);
		const bobMedia = await upload(bob);
		await request("POST", "/analysis/analyze", { token: bob.token, body: { media_id: bobMedia } });

		const { export_id, status } = await exported(alice);
		expect(status).toMatchObject({ export_id, status: "completed", download_url: expect.stringMatching(/^http/) });
		const left = Date.parse(status.expires_at) - Date.now();
		expect(left).toBeGreaterThan(500_000);
		expect(left).toBeLessThanOrEqual(600_000);

		const file = await fetchUrl(status.download_url);
		expect(file.status).toBe(200);
		const entries = unzip(file.bytes);
		const names = entries.map(e => e.name);
		expect(names[0]).toBe("data.json");
		const data = JSON.parse(entries[0].data.toString("utf8"));
		expect(data).toMatchObject({ format: "lifemirror-export/1", export_id, user_id: alice.id });
		expect(data.data.users).toMatchObject({ id: alice.id, email: alice.email });
		expect(data.data.users.password_hash).toBeUndefined();
		expect(data.data.consents.history.at(-1).purposes).toEqual({ technical_metadata: true, posture_analysis: false, public_sharing: true });
		expect(data.data.media.items.map((m: any) => m.id).sort()).toEqual([...alice.media].sort());
		expect(data.data.analyses.items.map((a: any) => a._id)).toEqual([analysis.body.analysis_id]);
		expect(data.data.embeddings.items.length).toBeGreaterThan(0);
		for (const e of data.data.embeddings.items) expect([e.media_id, e.vector]).toEqual([m1, undefined]);
		expect(JSON.stringify(data.data.follows)).toContain(carol.id);
		expect(data.data.notifications.items.length).toBeGreaterThan(0);
		expect(data.data.notifications.preferences).toEqual(expect.any(Object));

		// Every stored file of mine (originals, thumbnails…), byte for byte, and listed in data.json.
		const stored = await node.broker.call<any, object>("media.get", { id: m1 }, { meta: { userId: alice.id } });
		const original = await fetchUrl(stored.storage_url);
		const inZip = entries.find(e => e.name === `files/${stored.storage_key.slice(`media/${alice.id}/`.length)}`);
		expect(inZip?.data.equals(original.bytes)).toBe(true);
		expect(names.filter(n => n.startsWith("files/")).length).toBeGreaterThanOrEqual(4);
		expect(data.files.map((f: any) => f.path).sort()).toEqual(names.filter(n => n.startsWith("files/")).sort());

		// Nobody else's data.
		const all = Buffer.concat([file.bytes, ...entries.map(e => e.data)]).toString("latin1");
		for (const n of [bob.id, bob.email, bobMedia, carol.email]) expect(all.includes(n)).toBe(false);

		// The link is signed: tampered, it is refused.
		const tampered = status.download_url.replace(/sig=([^&])/, (_: string, c: string) => `sig=${c === "A" ? "B" : "A"}`);
		expect((await fetchUrl(tampered)).status).toBeGreaterThanOrEqual(400);
	}, 120_000);
});
