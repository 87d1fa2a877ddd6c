import fs from "node:fs";
import path from "node:path";
import Redis from "ioredis";
import sharp from "sharp";
import { HUMAN_DIR } from "../../agents/providers/vision/human";
import { isWorkerService } from "../../lib/roles";
import { freePort, jpeg, putTo, uploadForm } from "../factories/images";
import { registerUser, type TestUser } from "../factories/users";
import { cleanRedis, clusterEnv, REDIS_URL, uniqueNamespace } from "../helpers/cluster";
import { scanCacher, scanFiles, scanLocalQueues, scanRedis, type Finding } from "../helpers/inventory";
import { allServices, http, startNode, type Http, type TestNode } from "../helpers/node";
import { waitFor } from "../helpers/wait";

/**
 * Erasure (GDPR Art. 17, SPEC §5): a rich account — media (multipart and presigned), analyses
 * with biometric consent (crops, vectors), an async job, stored consents, several refresh
 * tokens, follows both ways, notifications, an export — is erased, and then every file under
 * DATA_DIR (all NeDB collections, whatever services exist; stored media; exports), the cacher
 * and the job queues are searched for its id, email, media ids and content hashes: nothing.
 * Every service in services/ runs, so a service that forgets `user.erased` is caught.
 */

const SAMPLES = path.join(HUMAN_DIR, "assets", "samples.jpg");
const realPhoto = (q: number) => sharp(SAMPLES).extract({ left: 641, top: 0, width: 148, height: 159 }).resize({ width: 444 }).jpeg({ quality: q }).toBuffer();

interface Account {
	id: string;
	email: string;
	creds: TestUser;
	token: string;
	media: string[];
	hashes: string[];
	analyses: string[];
}

describe("privacy: erasure of an account everywhere", () => {
	let node: TestNode;
	let request: Http;

	async function account(): Promise<Account> {
		const creds = await registerUser(request);
		const me = await request("GET", "/auth/me", { token: creds.access_token });
		return { id: me.body.id, email: creds.email, creds, token: creds.access_token, media: [], hashes: [], analyses: [] };
	}

	async function upload(a: Account, bytes: Buffer) {
		const res = await uploadForm(node.url, a.token, bytes, { type: "image/jpeg" });
		expect(res.status).toBe(200);
		a.media.push(res.body.media_id);
		a.hashes.push(res.body.content_hash);
		return res.body.media_id as string;
	}

	/** Everything the inventory looks at, for these needles. The audit log keeps ids by design (see below). */
	function inventory(needles: string[]): Finding[] {
		return [
			...scanFiles([node.dataDir, node.config.storage.root], needles),
			...scanCacher(node.broker, needles),
			...scanLocalQueues(node.broker, needles)
		];
	}

	beforeAll(async () => {
		const port = await freePort();
		node = await startNode({
			services: allServices(),
			env: {
				PORT: String(port),
				PUBLIC_URL: `http://127.0.0.1:${port}`,
				VISION_THREADS: "1",
				AGENT_TIMEOUT_MS: "10000",
				ANALYSIS_IDEMPOTENCY_S: "0",
				ERASURE_RETRY_S: "2",
				RATE_LIMITS: "upload=1000/60,analyze=1000/60,enhanced=1000/60,auth=1000/60,export=1000/60,default=10000/60"
			}
		});
		request = http(node.url);
	}, 120_000);

	afterAll(async () => {
		await node?.stop();
	});

	it("refuses without access: DELETE /auth/me without a token → 401; an unknown erasure id → 404", async () => {
		expect((await request("DELETE", "/auth/me")).status).toBe(401);
		const res = await request("GET", "/privacy/erasure/00000000-0000-4000-8000-000000000000");
		expect([res.status, res.body.error_code]).toEqual([404, "NOT_FOUND"]);
	});

	it("a rich account is erased from every collection, the storage, the cache and the queues; the bystander keeps everything", async () => {
		const [alice, bob] = [await account(), await account()];

		// Alice: consents (biometric, public), more refresh tokens, media by multipart and presign, analyses sync and async.
		expect((await request("PUT", "/privacy/consents", { token: alice.token, body: { biometric_analysis: true, public_sharing: true } })).status).toBe(200);
		const login = await request("POST", "/auth/login", { body: { email: alice.email, password: alice.creds.password } });
		expect((await request("POST", "/auth/refresh", { body: { refresh_token: login.body.refresh_token } })).status).toBe(200);
		const photo = await upload(alice, await realPhoto(88));
		await upload(alice, await jpeg(96, 64));
		const pre = await request("POST", "/media/presign", { token: alice.token, body: { filename: "me.jpg", content_type: "image/jpeg" } });
		expect(pre.status).toBe(200);
		expect((await putTo(pre.body.upload_url, await jpeg(80, 60), "image/jpeg")).status).toBeLessThan(300);
		const created = await request("POST", "/media", { token: alice.token, body: { key: pre.body.key } });
		expect(created.status).toBe(200);
		alice.media.push(created.body.media_id ?? created.body.id);
		alice.hashes.push(created.body.content_hash);
		const sync = await request("POST", "/analysis/analyze", { token: alice.token, body: { media_id: photo, bio_text: "Weekend climber, amateur baker and a keen reader of history books." } });
		expect(sync.status).toBe(200);
		expect(typeof sync.body.detailed_analysis.face.faces[0].age).toBe("number");
		alice.analyses.push(sync.body.analysis_id);
		const queued = await request("POST", "/analysis/analyze?async=true", { token: alice.token, body: { media_id: alice.media[1] } });
		expect(queued.status).toBe(202);
		alice.analyses.push(queued.body.analysis_id);
		await waitFor(async () => (await request("GET", `/analysis/jobs/${queued.body.job_id}`, { token: alice.token })).body.status === "completed", 60_000, 200);
		expect((await node.broker.call<any, object>("embeddings.listForUser", { user_id: alice.id, kind: "face" })).items.length).toBeGreaterThan(0);

		// Social: follows both ways between public users (notifications follow from them), and an export archive.
		expect((await request("PATCH", "/auth/me", { token: bob.token, body: { opt_in_public_analysis: true } })).status).toBe(200);
		expect((await request("POST", `/social/follow/${bob.id}`, { token: alice.token })).status).toBeLessThan(300);
		expect((await request("POST", `/social/follow/${alice.id}`, { token: bob.token })).status).toBeLessThan(300);
		const exp = await request("POST", "/privacy/export", { token: alice.token });
		expect(exp.status).toBe(202);
		await waitFor(async () => (await request("GET", `/privacy/export/${exp.body.export_id}`, { token: alice.token })).body.status === "completed", 30_000, 100);

		// Bob: his own media and analysis, which must survive.
		const bobPhoto = await upload(bob, await realPhoto(77));
		expect((await request("POST", "/analysis/analyze", { token: bob.token, body: { media_id: bobPhoto } })).status).toBe(200);

		const needles = [alice.id, alice.email, ...alice.media, ...alice.hashes, ...alice.analyses];
		// The inventory can see Alice before: in the collections, the stored files, the cache and the queue.
		const before = inventory(needles);
		expect(before.some(f => f.where.includes("users.db") && f.needle === alice.email)).toBe(true);
		expect(before.some(f => f.where.includes(`media/${alice.id}/`))).toBe(true);
		expect(before.some(f => f.where.includes("exports"))).toBe(true);
		expect(before.some(f => f.where.startsWith("cache"))).toBe(true);
		expect(before.some(f => f.where.startsWith("queue"))).toBe(true);

		// Erase: 202 at once; the account stops working now (login, refresh, profile).
		const erased = await request("DELETE", "/auth/me", { token: alice.token });
		expect(erased.status).toBe(202);
		const { erasure_id } = erased.body;
		expect(typeof erasure_id).toBe("string");
		expect((await request("POST", "/auth/login", { body: { email: alice.email, password: alice.creds.password } })).status).toBe(401);
		expect((await request("POST", "/auth/refresh", { body: { refresh_token: alice.creds.refresh_token } })).status).toBe(401);
		expect((await request("GET", "/auth/me", { token: alice.token })).status).toBe(401);
		// Her access token is still a valid JWT, but no route serves it any more (nothing can be written back).
		expect((await request("GET", "/media", { token: alice.token })).status).toBe(401);
		expect((await uploadForm(node.url, alice.token, await jpeg(50, 40), { type: "image/jpeg" })).status).toBe(401);
		expect((await request("PUT", "/privacy/consents", { token: alice.token, body: { face_analysis: false } })).status).toBe(401);
		expect((await request("GET", "/media", { token: bob.token })).status).toBe(200);

		const status = await waitFor(async () => {
			const s = await request("GET", `/privacy/erasure/${erasure_id}`);
			return s.body.status === "completed" ? s : null;
		}, 60_000, 100).catch(async err => {
			throw new Error(`${(err as Error).message}; record: ${JSON.stringify(await node.broker.call("privacy.erasureStatus", { id: erasure_id }))}`);
		});
		expect(status.status).toBe(200);
		expect(Number.isNaN(Date.parse(status.body.completed_at))).toBe(false);
		expect(Object.keys(status.body).sort()).toEqual(["completed_at", "erasure_id", "requested_at", "status"]);

		// Nothing of Alice anywhere. The audit log alone may keep her id (the proof of the erasure, ids only, docs/decisions.md): never her email, media or analyses.
		const auditLog = (f: Finding) => /[/\\]audit[^/\\]*\.db$/.test(f.where);
		const left = inventory(needles).filter(f => !(auditLog(f) && f.needle === alice.id));
		expect(before.some(auditLog)).toBe(true);
		expect(left).toEqual([]);
		// …and the search really looks: Bob is all there.
		const bobLeft = inventory([bob.id, bob.email, bobPhoto]);
		for (const where of ["users.db", "media.db", "analyses.db", "embeddings.db", "refresh_tokens.db"]) expect(bobLeft.some(f => f.where.endsWith(where))).toBe(true);
		expect((await request("GET", "/media", { token: bob.token })).body.total).toBe(1);

		// The completion record names no one.
		const record = fs.readFileSync(path.join(node.dataDir, "db", "privacy.db"), "utf8");
		expect(record).toContain(erasure_id);
		expect(record).not.toContain(alice.id);

		// Erasing again with the old token: the account is gone (401), nothing restarts.
		expect((await request("DELETE", "/auth/me", { token: alice.token })).status).toBe(401);
	}, 240_000);
});

/**
 * The same in cluster mode: a gateway node (data services, jobs on BullMQ) and a worker node
 * (agents, orchestrator, vision) over the Redis transporter, with the Redis cacher. After the
 * erasure, the job queue keys (jobs, results, event streams) and the cache keys of the
 * namespace in Redis hold nothing of the user, and neither does either node's DATA_DIR.
 */
describe("privacy: erasure in cluster mode (Redis queues and cache)", () => {
	const namespace = uniqueNamespace("lm-erase");
	let gateway: TestNode;
	let worker: TestNode;
	let request: Http;
	let redis: Redis;

	beforeAll(async () => {
		const port = await freePort();
		const env = clusterEnv(namespace, {
			CACHER: REDIS_URL,
			PORT: String(port),
			PUBLIC_URL: `http://127.0.0.1:${port}`,
			VISION_THREADS: "1",
			AGENT_TIMEOUT_MS: "10000",
			REQUEST_TIMEOUT_MS: "30000",
			ANALYSIS_IDEMPOTENCY_S: "0",
			ERASURE_RETRY_S: "2",
			RATE_LIMITS: "upload=1000/60,analyze=1000/60,auth=1000/60,default=10000/60"
		});
		const all = allServices();
		gateway = await startNode({ services: all.filter(n => !isWorkerService(n)), env, broker: { nodeID: `${namespace}-gw` } });
		worker = await startNode({ services: all.filter(isWorkerService), env: { ...env, PORT: "0" }, broker: { nodeID: `${namespace}-wk` } });
		await gateway.broker.waitForServices(["orchestrator", "vision", "agent.face", "agent.embedder"], 30_000);
		await worker.broker.waitForServices(["media", "analyses", "embeddings"], 30_000);
		request = http(gateway.url);
		redis = new Redis(REDIS_URL);
	}, 120_000);

	afterAll(async () => {
		await worker?.stop();
		await gateway?.stop();
		redis?.disconnect();
		await cleanRedis(namespace);
	});

	it("leaves nothing of the user in the BullMQ queues, the Redis cache or any node's files", async () => {
		const user = async () => {
			const creds = await registerUser(request);
			return { creds, id: (await request("GET", "/auth/me", { token: creds.access_token })).body.id as string };
		};
		const [alice, bob] = [await user(), await user()];
		const token = alice.creds.access_token;
		await request("PUT", "/privacy/consents", { token, body: { biometric_analysis: true } });
		const up = await uploadForm(gateway.url, token, await realPhoto(86), { type: "image/jpeg" });
		expect(up.status).toBe(200);
		const { media_id, content_hash } = up.body;
		const job = await request("POST", "/analysis/analyze?async=true", { token, body: { media_id } });
		expect(job.status).toBe(202);
		await waitFor(async () => (await request("GET", `/analysis/jobs/${job.body.job_id}`, { token })).body.status === "completed", 90_000, 250);
		const bobUp = await uploadForm(gateway.url, bob.creds.access_token, await realPhoto(75), { type: "image/jpeg" });
		expect(bobUp.status).toBe(200);

		const needles = [alice.id, alice.creds.email, media_id, content_hash, job.body.analysis_id];
		const redisFindings = async (n: string[]) => [
			...(await scanRedis(redis, `${namespace}:jobs*`, n)),
			...(await scanRedis(redis, `${namespace}-cache*`, n))
		];
		// Before: the queue (job and result) and the cache (the vision pass of her photo) hold her.
		const before = await redisFindings(needles);
		expect(before.some(f => f.where.includes(":jobs"))).toBe(true);
		expect(before.some(f => f.where.includes("-cache"))).toBe(true);

		const erased = await request("DELETE", "/auth/me", { token });
		expect(erased.status).toBe(202);
		await waitFor(async () => (await request("GET", `/privacy/erasure/${erased.body.erasure_id}`)).body.status === "completed", 60_000, 100);

		const auditLog = (f: Finding) => /[/\\]audit[^/\\]*\.db$/.test(f.where);
		const files = scanFiles([gateway.dataDir, gateway.config.storage.root, worker.dataDir], needles).filter(f => !(auditLog(f) && f.needle === alice.id));
		expect([...(await redisFindings(needles)), ...files]).toEqual([]);
		// The scan sees the bystander's job-free data and his cached vision pass.
		expect((await scanRedis(redis, `${namespace}-cache*`, [bobUp.body.content_hash])).length + scanFiles([gateway.dataDir], [bob.id]).length).toBeGreaterThan(0);
	}, 240_000);
});

/**
 * Completion is proven, not assumed: a data service whose `user.erased` handler fails keeps the
 * erasure `running` until a retry succeeds; the erasure then runs a second round (for work that
 * was in flight) before it is `completed`.
 */
describe("privacy: an erasure completes only when every data service has confirmed", () => {
	let node: TestNode;
	let request: Http;
	const seen: { round: number; ok: boolean }[] = [];
	let failures = 0;

	beforeAll(async () => {
		node = await startNode({ services: ["api", "users", "auth", "consents", "privacy"], env: { ERASURE_RETRY_S: "1", RATE_LIMITS: "auth=1000/60,default=10000/60" } });
		node.broker.createService({
			name: "holder",
			events: {
				async "user.erased"(ctx: { params: { round?: number } }) {
					const ok = failures-- <= 0;
					seen.push({ round: ctx.params.round ?? 1, ok });
					if (!ok) throw new Error("store unavailable");
				}
			}
		});
		await node.broker.waitForServices(["holder"]);
		request = http(node.url);
	}, 60_000);

	afterAll(async () => {
		await node?.stop();
	});

	it("stays running while a service fails, is sent again, and completes after both rounds", async () => {
		const u = await registerUser(request);
		failures = 2;
		const res = await request("DELETE", "/auth/me", { token: u.access_token });
		expect(res.status).toBe(202);
		const status = async () => (await request("GET", `/privacy/erasure/${res.body.erasure_id}`)).body;
		await waitFor(() => seen.length >= 1);
		expect(await status()).toMatchObject({ status: "running", completed_at: null });
		await waitFor(async () => (await status()).status === "completed", 60_000, 50);
		// Two failures, then round 1 succeeded on a retry, then round 2.
		expect(seen).toEqual([{ round: 1, ok: false }, { round: 1, ok: false }, { round: 1, ok: true }, { round: 2, ok: true }]);
	}, 90_000);
});
