import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { DEMO_PASSWORD, DEMO_USERS, PID_FILE } from "../../bin/lifemirror";
import { freePort, killAllSpawned, spawnNode, waitForStatus, type NodeProcess } from "../helpers/cluster";
import { http, tempDir } from "../helpers/node";

/**
 * `lifemirror seed` (dist/bin/lifemirror.js, built by `npm run build`) fills a fresh DATA_DIR
 * through the real backend; then a node started on that directory (`node dist/bin/lifemirror-node.js`,
 * as `npm start` runs it) serves a populated feed and leaderboard, follows and notifications.
 */
const CLI = path.join(__dirname, "..", "..", "dist", "bin", "lifemirror.js");

function cli(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
	return new Promise(resolve => {
		const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, VISION_THREADS: "1", ...env } });
		let stdout = "";
		let stderr = "";
		child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
		child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
		child.on("exit", status => resolve({ status, stdout, stderr }));
	});
}

describe("lifemirror seed", () => {
	let dataDir: string;
	let seeded: { status: number | null; stdout: string; stderr: string };
	let seedMs = 0;
	let node: NodeProcess;
	let url: string;

	beforeAll(async () => {
		dataDir = tempDir("lm-seed-");
		const t0 = Date.now();
		seeded = await cli(["seed"], { DATA_DIR: dataDir });
		seedMs = Date.now() - t0;
	}, 180_000);

	afterAll(async () => {
		await killAllSpawned();
		fs.rmSync(dataDir, { recursive: true, force: true });
	});

	it("seeds a fresh data directory and says how to sign in", () => {
		expect({ status: seeded.status, stderr: seeded.status ? seeded.stderr : "" }).toEqual({ status: 0, stderr: "" });
		expect(seeded.stdout).toMatch(new RegExp(`${DEMO_USERS.length} demo users, \\d+ photos and analyses, \\d+ follows, \\d+ notifications`));
		expect(seeded.stdout).toContain(`password (every demo account): ${DEMO_PASSWORD}`);
		expect(seeded.stdout.split(DEMO_PASSWORD).length).toBe(2); // printed once
		expect(seeded.stderr).toMatch(/analysed \d+\/\d+/);
		// The in-process backend is gone: no pid file left behind.
		expect(fs.existsSync(path.join(dataDir, PID_FILE))).toBe(false);
		// eslint-disable-next-line no-console
		console.log(`seed took ${seedMs} ms`);
	});

	it("a node started on the seeded directory serves a populated feed and leaderboard, follows and notifications", async () => {
		const port = await freePort();
		url = `http://127.0.0.1:${port}`;
		node = spawnNode("seeded", { DATA_DIR: dataDir, PORT: String(port), HOST: "127.0.0.1", VISION_THREADS: "1", LOG_LEVEL: "error" });
		await waitForStatus(`${url}/ready`, 200, { proc: node, timeoutMs: 60_000 });
		const request = http(url);

		const feed = await request("GET", "/public/feed?limit=100");
		expect(feed.status).toBe(200);
		expect(feed.body.items.length).toBeGreaterThanOrEqual(5);
		const aliases = new Set(DEMO_USERS.map(u => u.alias));
		for (const item of feed.body.items) {
			expect(aliases.has(item.alias)).toBe(true);
			expect(item.perception.tags.length).toBeGreaterThan(0);
			expect(typeof item.perception.social_score).toBe("number");
		}
		const board = await request("GET", "/public/leaderboard?limit=50");
		expect(board.status).toBe(200);
		expect(board.body.items.length).toBeGreaterThanOrEqual(3);
		expect(board.body.items[0]).toMatchObject({ rank: 1, alias: expect.any(String), score: expect.any(Number) });

		// A demo account signs in with the printed password and sees its follows and notifications.
		const login = await request("POST", "/auth/login", { body: { email: "demo1@lifemirror.demo", password: DEMO_PASSWORD } });
		expect(login.status).toBe(200);
		const token = login.body.access_token;
		const following = await request("GET", "/social/following", { token });
		expect(following.status).toBe(200);
		expect(following.body.items.length).toBe(DEMO_USERS.length - 1);
		const followers = await request("GET", "/social/followers", { token });
		expect(followers.body.items.length).toBeGreaterThanOrEqual(2);
		const notes = await request("GET", "/notifications", { token });
		expect(notes.status).toBe(200);
		const types = new Set(notes.body.items.map((n: { type: string }) => n.type));
		expect(types.has("analysis_ready")).toBe(true);
		expect(types.has("new_follower")).toBe(true);
		const history = await request("GET", "/media", { token });
		expect(history.body.items?.length ?? history.body.length).toBeGreaterThanOrEqual(1);
	}, 90_000);

	it("refuses while a node uses the directory", async () => {
		const res = await cli(["seed", "--force"], { DATA_DIR: dataDir });
		expect(res.status).toBe(1);
		expect(res.stderr).toMatch(/a LifeMirror node \(pid \d+\) is using .*stop it before the seed/);
		await node.kill("SIGTERM");
	}, 60_000);

	it("refuses a directory that already holds accounts unless --force", async () => {
		const res = await cli(["seed"], { DATA_DIR: dataDir });
		expect(res.status).toBe(1);
		expect(res.stderr).toMatch(/already holds \d+ account\(s\).*--force/);
		expect(res.stdout).toBe("");
		const usage = await cli(["seed", "--bogus"], { DATA_DIR: dataDir });
		expect(usage.status).toBe(1);
		expect(usage.stderr).toMatch(/usage: lifemirror seed/);
		// --force adds a second set of demo accounts (new addresses) next to the first.
		const again = await cli(["seed", "--force"], { DATA_DIR: dataDir });
		expect({ status: again.status, stderr: again.status ? again.stderr : "" }).toEqual({ status: 0, stderr: "" });
		expect(again.stdout).toMatch(/Sign in as demo1\+[0-9a-f]{6}@lifemirror\.demo/);
		const twice = await cli(["seed"], { DATA_DIR: dataDir });
		expect(twice.stderr).toMatch(new RegExp(`already holds ${2 * DEMO_USERS.length} account`));
	}, 120_000);
});
