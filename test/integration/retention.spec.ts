import fs from "node:fs";
import path from "node:path";
import { monthsBefore } from "../../services/retention.service";
import { allServices, http, startNode, type Http, type TestNode } from "../helpers/node";
import { registerUser, type TestUser } from "../factories/users";
import { freePort, realPhoto, uploadForm } from "../factories/images";

/**
 * The retention policy with a fake clock: `retention.sweep` takes the time to act as of, so a
 * year passes in a test. Real services throughout (media, analyses, users, notifications,
 * privacy); the photo is analysed by the real pipeline.
 */

const DAY = 86_400_000;
const at = (t0: number, days: number) => new Date(t0 + days * DAY).toISOString();

describe("retention", () => {
	let node: TestNode;
	let request: Http;
	let alice: TestUser;
	let bob: TestUser;
	let media_id: string;
	let analysis_id: string;
	let storageKey: string;
	const t0 = Date.now();

	const sweep = (now: string) => node.broker.call<any, object>("retention.sweep", { now });

	beforeAll(async () => {
		const port = await freePort();
		node = await startNode({
			services: allServices(),
			env: {
				PORT: String(port),
				PUBLIC_URL: `http://127.0.0.1:${port}`,
				VISION_THREADS: "1",
				RETENTION_ORIGINALS_DAYS: "30",
				RETENTION_ANALYSES_MONTHS: "6",
				RETENTION_INACTIVE_MONTHS: "12",
				RETENTION_NOTICE_DAYS: "30",
				RETENTION_SWEEP_S: "0",
				ERASURE_RETRY_S: "1",
				RATE_LIMITS: "auth=1000/60,upload=1000/60,analyze=1000/60"
			}
		});
		request = http(node.url);
		alice = await registerUser(request);
		bob = await registerUser(request);
		const up = await uploadForm(node.url, alice.access_token, await realPhoto());
		expect(up.status).toBe(200);
		media_id = up.body.media_id;
		storageKey = up.body.storage_key;
		const analysed = await request("POST", "/analysis/analyze", { token: alice.access_token, body: { media_id } });
		expect(analysed.status).toBe(200);
		analysis_id = analysed.body.analysis_id;
	}, 90_000);
	afterAll(() => node?.stop());

	const stored = (key: string) => fs.existsSync(path.join(node.dataDir, "media", ...key.split("/").slice(1)));

	it("does nothing before any limit is reached", async () => {
		expect(await sweep(at(t0, 10))).toMatchObject({ originals_expired: 0, analyses_expired: 0, notices_sent: 0, accounts_erased: 0 });
		expect((await request("GET", `/media/${media_id}`, { token: alice.access_token })).body.storage_url).toEqual(expect.any(String));
	});

	it("deletes originals after RETENTION_ORIGINALS_DAYS, keeping the record, thumbnail and analyses", async () => {
		const before = (await request("GET", `/media/${media_id}`, { token: alice.access_token })).body;
		expect(fs.readdirSync(path.join(node.dataDir, "media"), { recursive: true }).length).toBeGreaterThan(0);
		expect(await sweep(at(t0, 31))).toMatchObject({ originals_expired: 1 });
		const after = await request("GET", `/media/${media_id}`, { token: alice.access_token });
		expect(after.status).toBe(200);
		expect(after.body.storage_url).toBeNull();
		expect(after.body.original_deleted_at).toEqual(expect.any(String));
		expect((await fetch(before.storage_url)).status).toBe(404);
		expect((await fetch(after.body.thumbnail_url)).status).toBe(200);
		expect(stored(storageKey)).toBe(false);
		expect((await request("GET", `/analysis/${analysis_id}`, { token: alice.access_token })).status).toBe(200);
		// A new analysis of it says why it cannot run.
		const again = await request("POST", "/analysis/analyze", { token: alice.access_token, body: { media_id, bio_text: "A new request after the original expired." } });
		expect(again.status).toBe(404);
		expect(again.body.error).toMatch(/retention/);
		// Already expired: a later sweep does not count it again.
		expect(await sweep(at(t0, 40))).toMatchObject({ originals_expired: 0 });
	});

	it("deletes analyses after RETENTION_ANALYSES_MONTHS, with their vectors", async () => {
		const sixMonthsOn = monthsBefore(new Date(t0), -6).getTime();
		const me = (await request("GET", "/auth/me", { token: alice.access_token })).body.id;
		const vectors = async () => (await node.broker.call<{ items: { analysis_id?: string | null }[] }, object>("embeddings.listForUser", { user_id: me })).items;
		expect((await vectors()).some(v => v.analysis_id === analysis_id)).toBe(true);
		// The analysis, and the failed attempt on the expired original above.
		expect(await sweep(new Date(sixMonthsOn + DAY).toISOString())).toMatchObject({ analyses_expired: 2 });
		expect((await request("GET", `/analysis/${analysis_id}`, { token: alice.access_token })).status).toBe(404);
		await waitFor(async () => (await vectors()).every(v => v.analysis_id !== analysis_id));
	});

	it("warns inactive accounts, erases them after the notice; signing in starts a new stretch (a new notice, no erasure)", async () => {
		const yearOn = monthsBefore(new Date(t0), -12).getTime();
		const noticeAt = new Date(yearOn + 2 * DAY).toISOString();
		// The notice cannot be switched off: bob turning the kind off still gets it.
		expect((await request("PUT", "/notifications/preferences", { token: bob.access_token, body: { account_inactive: false } })).status).toBe(200);
		const first = await sweep(noticeAt);
		expect(first).toMatchObject({ notices_sent: 2, accounts_erased: 0 });
		const notices = await request("GET", "/notifications", { token: bob.access_token });
		const notice = notices.body.items.find((n: { type: string }) => n.type === "account_inactive");
		expect(notice).toMatchObject({ title: expect.stringMatching(/deleted/), metadata: { erase_after: expect.any(String) } });
		// A sweep during the notice period neither repeats the notice nor erases.
		expect(await sweep(new Date(yearOn + 10 * DAY).toISOString())).toMatchObject({ notices_sent: 0, accounts_erased: 0 });

		// Bob signs in (now): a new stretch of activity begins.
		expect((await request("POST", "/auth/login", { body: { email: bob.email, password: bob.password } })).status).toBe(200);

		const past = await sweep(new Date(yearOn + 40 * DAY).toISOString());
		// Alice never came back: erased. Bob's last sign-in is newer: a new notice for his new stretch, no erasure.
		expect(past.accounts_erased).toBe(1);
		expect(past.notices_sent).toBe(1);
		expect((await request("GET", "/auth/me", { token: alice.access_token })).status).toBe(401);
		expect((await request("GET", "/auth/me", { token: bob.access_token })).status).toBe(200);
		await waitFor(async () => (await node.broker.call<{ id: string | null }, object>("users.idByEmail", { email: alice.email })).id === null, 15_000);
	}, 60_000);

	it("computes calendar months in UTC", () => {
		expect(monthsBefore(new Date("2026-03-31T12:00:00Z"), 1).toISOString()).toBe("2026-03-03T12:00:00.000Z");
		expect(monthsBefore(new Date("2026-11-25T00:00:00Z"), 12).toISOString()).toBe("2025-11-25T00:00:00.000Z");
	});
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		if (await check()) return;
		await new Promise(r => setTimeout(r, 100));
	}
	throw new Error("condition not met in time");
}
