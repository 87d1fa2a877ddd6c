import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { benchImages } from "./images";
import { writeSection } from "./report";

/**
 * Read endpoints under load: the public feed, the leaderboard, a user's history and their
 * notifications, each hammered by autocannon with BENCH_CONNECTIONS (default 1000) concurrent
 * connections for BENCH_DURATION_S seconds, while real analyses run in the background.
 *
 * The node under test is a separate process (`ROLE=all`, embedded, memory cacher), so the load
 * generator does not share its event loop. It is seeded through the HTTP API only: BENCH_USERS
 * opted-in users, each uploading a real photo (post-ingest perception → feed) and analysing it
 * (analysis.completed → leaderboard, notifications, history).
 *
 * Env: BENCH_CONNECTIONS (1000), BENCH_DURATION_S (20), BENCH_USERS (12), BENCH_BACKGROUND (2:
 * analyses in flight during the load), BENCH_WRITE (1: write BENCHMARKS.md; 0 for a smoke run).
 */

interface AutocannonResult {
	latency: { p50: number; p90: number; p97_5: number; p99: number; average: number; max: number };
	requests: { average: number; total: number };
	errors: number;
	timeouts: number;
	non2xx: number;
	"2xx": number;
	duration: number;
}
type Autocannon = (opts: {
	url: string;
	connections: number;
	duration: number;
	headers?: Record<string, string>;
	timeout?: number;
}) => Promise<AutocannonResult>;
// autocannon ships no types; this is the part of its API used here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require("autocannon") as Autocannon;

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 1000);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 20);
const USERS = Number(process.env.BENCH_USERS ?? 12);
const BACKGROUND = Number(process.env.BENCH_BACKGROUND ?? 2);
const WRITE = (process.env.BENCH_WRITE ?? "1") !== "0";

function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const srv = net.createServer();
		srv.once("error", reject);
		srv.listen(0, "127.0.0.1", () => {
			const { port } = srv.address() as net.AddressInfo;
			srv.close(() => resolve(port));
		});
	});
}

async function json<T>(res: Response, what: string): Promise<T> {
	const text = await res.text();
	// Status and error code only: a body could echo a token.
	if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${(() => { try { return JSON.parse(text).error_code ?? ""; } catch { return ""; } })()}`);
	return JSON.parse(text) as T;
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

async function startServer(port: number, dataDir: string): Promise<ChildProcess> {
	const entry = path.join(__dirname, "..", "bin", "lifemirror-node.js");
	const child = spawn(process.execPath, [entry], {
		env: {
			...process.env,
			ROLE: "all",
			NODE_ENV: "production",
			LOG_LEVEL: "warn",
			HOST: "127.0.0.1",
			PORT: String(port),
			PUBLIC_URL: `http://127.0.0.1:${port}`,
			DATA_DIR: dataDir,
			VISION_THREADS: "1",
			RATE_LIMITS: "default=100000000/60,public=100000000/60,upload=100000/60,analyze=100000/60,enhanced=100000/60,auth=100000/60"
		},
		stdio: ["ignore", "inherit", "inherit"]
	});
	for (let i = 0; i < 300; i++) {
		if (child.exitCode !== null) throw new Error(`the node exited with ${child.exitCode}`);
		try {
			if ((await fetch(`http://127.0.0.1:${port}/ready`)).ok) return child;
		} catch {
			/* not listening yet */
		}
		await sleep(200);
	}
	child.kill("SIGTERM");
	throw new Error("the node did not become ready");
}

interface Client {
	id: string;
	auth: Record<string, string>;
}

async function main() {
	const url = `http://127.0.0.1:${await freePort()}`;
	const port = Number(new URL(url).port);
	const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-bench-api-"));
	const server = await startServer(port, dataDir);
	console.log(`api bench: ${CONNECTIONS} connections × ${DURATION_S} s per endpoint, ${USERS} seeded users, ${BACKGROUND} analyses in flight in the background`);
	let stopBackground = false;
	let backgroundDone = 0;
	let backgroundFailed = 0;
	try {
		const register = async (): Promise<Client> => {
			const body = { email: `bench-${randomBytes(6).toString("hex")}@example.com`, password: `Bench-${randomBytes(12).toString("base64url")}`, opt_in_public_analysis: true, public_alias: `Bench ${randomBytes(3).toString("hex")}` };
			const reg = await json<{ access_token: string }>(await fetch(`${url}/auth/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }), "register");
			const auth = { authorization: `Bearer ${reg.access_token}` };
			return { id: (await json<{ id: string }>(await fetch(`${url}/auth/me`, { headers: auth }), "me")).id, auth };
		};
		const upload = async (c: Client, photo: Buffer) => {
			const form = new FormData();
			form.append("file", new Blob([new Uint8Array(photo)], { type: "image/jpeg" }), "photo.jpg");
			return (await json<{ media_id: string }>(await fetch(`${url}/media/upload`, { method: "POST", headers: c.auth, body: form }), "upload")).media_id;
		};
		const analyze = async (c: Client, media_id: string) =>
			json(await fetch(`${url}/analysis/analyze`, { method: "POST", headers: { ...c.auth, "content-type": "application/json" }, body: JSON.stringify({ media_id }) }), "analyze");

		// Seed: every user uploads a photo and analyses it.
		const photos = await benchImages(USERS + 200);
		const users: Client[] = [];
		for (let i = 0; i < USERS; i++) {
			const c = await register();
			await analyze(c, await upload(c, photos[i]));
			users.push(c);
		}
		const reader = users[0];
		console.log(`seeded ${USERS} users with one analysed photo each`);

		// Background: analyses keep running while the reads are measured.
		let next = USERS;
		const background = Array.from({ length: BACKGROUND }, async () => {
			while (!stopBackground) {
				const c = users[next % users.length];
				try {
					await analyze(c, await upload(c, photos[next++ % photos.length]));
					backgroundDone++;
				} catch {
					backgroundFailed++;
				}
			}
		});

		const targets: { name: string; path: string; auth?: boolean }[] = [
			{ name: "GET /public/feed", path: "/public/feed?limit=20" },
			{ name: "GET /public/leaderboard", path: "/public/leaderboard?limit=10&period=all" },
			{ name: "GET /history/{user_id}", path: `/history/${reader.id}`, auth: true },
			{ name: "GET /notifications", path: "/notifications", auth: true }
		];
		const rows: string[] = [];
		for (const t of targets) {
			const probe = await fetch(`${url}${t.path}`, { headers: t.auth ? reader.auth : {} });
			await probe.arrayBuffer();
			if (probe.status === 404) {
				console.log(`${t.name}: 404, not served by this build; skipped`);
				rows.push(`| ${t.name} | — | — | — | — | — | not served by this build |`);
				continue;
			}
			const r = await autocannon({ url: `${url}${t.path}`, connections: CONNECTIONS, duration: DURATION_S, headers: t.auth ? reader.auth : {}, timeout: 10 });
			// autocannon's `errors` already counts the timeouts among its connection errors.
			const errors = r.errors + r.non2xx;
			console.log(`${t.name}: p50 ${r.latency.p50} ms, p97.5 ${r.latency.p97_5} ms, p99 ${r.latency.p99} ms, ${Math.round(r.requests.average)} req/s, ${errors} errors`);
			rows.push(`| ${t.name} | ${r.latency.p50} | ${r.latency.p97_5} | ${r.latency.p99} | ${Math.round(r.requests.average)} | ${r.requests.total} | ${errors} (${r.non2xx} non-2xx, ${r.timeouts} timeouts) |`);
		}
		stopBackground = true;
		await Promise.all(background);

		const body = `${CONNECTIONS} concurrent connections per endpoint for ${DURATION_S} s (autocannon, one endpoint at a time) against one embedded node (\`ROLE=all\`, memory cacher, 1 vision thread) in its own process, while ${BACKGROUND} real analyses (\`POST /analysis/analyze\`, upload + post-ingest perception + core pipeline) ran in the background: ${backgroundDone} completed during the run, ${backgroundFailed} failed. Seeded through the HTTP API: ${USERS} opted-in users, one analysed photo each. Goal: p95 < 50 ms, 0 errors.

autocannon reports p97.5 rather than p95; it is the stricter of the two.

| endpoint | p50 ms | p97.5 ms | p99 ms | req/s | requests | errors |
|---|---|---|---|---|---|---|
${rows.join("\n")}

Reads: the feed's ranked page and the leaderboard's snapshot come from the Moleculer cacher (cleaned by events); who is public is checked on every request (one indexed lookup), thumbnails are signed into the cached page (cache TTL below the signature TTL).`;
		if (WRITE) writeSection("API reads under load", body);
		else console.log(`${body}\n(BENCH_WRITE=0: BENCHMARKS.md not written)`);
	} finally {
		stopBackground = true;
		if (server.exitCode === null) {
			const exited = new Promise(r => server.once("exit", r));
			server.kill("SIGTERM");
			await exited;
		}
		fs.rmSync(dataDir, { recursive: true, force: true });
	}
}

main().catch(err => {
	console.error(err);
	process.exit(1);
});
