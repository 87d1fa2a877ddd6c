#!/usr/bin/env node
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { ServiceBroker, type ServiceSchema } from "moleculer";
import { ConfigError, configure, processEnvironment, type Config } from "../lib/config";
import { brokerOptions } from "../moleculer.config";
import { PID_FILE, listServices } from "./lifemirror-node";

/**
 * The operator's command line:
 *   lifemirror analyze PHOTO [--bio TEXT] [--json] [--pipeline core|enhanced|hybrid] [--biometric]
 *   lifemirror backup DIR      copy the embedded data directory (DATA_DIR) into DIR/<timestamp>
 *   lifemirror restore DIR     put a backup back into DATA_DIR
 *   lifemirror seed [--force]  fill a fresh DATA_DIR with demo users, photos, analyses, follows, notifications
 *
 * `analyze` needs no server: it starts the whole backend in this process (a throwaway data
 * directory, no network beyond 127.0.0.1), sends the photo through the same HTTP API, agents
 * and workflow graph as the frontend, prints progress on stderr and the report on stdout.
 */

const SERVICE_DIR = path.join(__dirname, "..", "services");
export { PID_FILE };
const MANIFEST = "lifemirror-backup.json";

export class CliError extends Error {}

interface Io {
	out: (s: string) => void;
	err: (s: string) => void;
}

const stdio: Io = { out: s => process.stdout.write(s), err: s => process.stderr.write(s) };

function flag(args: string[], name: string): string | undefined {
	const i = args.indexOf(name);
	if (i < 0) return undefined;
	const v = args[i + 1];
	if (v === undefined || v.startsWith("--")) throw new CliError(`${name} needs a value`);
	args.splice(i, 2);
	return v;
}

function bool(args: string[], name: string): boolean {
	const i = args.indexOf(name);
	if (i < 0) return false;
	args.splice(i, 1);
	return true;
}

/** Starts every service of this build in one broker on a free 127.0.0.1 port, with its own data directory. */
async function startEmbedded(env: NodeJS.ProcessEnv, dataDir: string): Promise<{ broker: ServiceBroker; url: string; config: Config }> {
	const cfg = configure({
		...env,
		DATA_DIR: dataDir,
		PORT: "0",
		HOST: "127.0.0.1",
		TRANSPORTER: "",
		CACHER: "memory",
		MONGO_URI: "",
		STORAGE: "local",
		RATE_LIMITS: "analyze=1000/60,enhanced=1000/60,upload=1000/60,auth=1000/60"
	});
	const broker = new ServiceBroker({ ...brokerOptions(cfg), logger: false });
	for (const name of listServices(SERVICE_DIR)) {
		// eslint-disable-next-line @typescript-eslint/no-require-imports
		broker.createService((require(path.join(SERVICE_DIR, `${name}.service.js`)) as { default: ServiceSchema }).default);
	}
	await broker.start();
	const api = broker.getLocalService("api") as unknown as { server: { address(): AddressInfo } };
	return { broker, url: `http://127.0.0.1:${api.server.address().port}`, config: cfg };
}

async function call(url: string, method: string, p: string, token: string | null, body?: unknown | FormData): Promise<any> {
	const headers: Record<string, string> = {};
	if (token) headers.authorization = `Bearer ${token}`;
	let payload: string | FormData | undefined;
	if (body instanceof FormData) payload = body;
	else if (body !== undefined) {
		payload = JSON.stringify(body);
		headers["content-type"] = "application/json";
	}
	const res = await fetch(url + p, { method, headers, body: payload });
	const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
	if (!res.ok) throw new CliError(String(json.error ?? `${method} ${p} answered ${res.status}`));
	return json;
}

/** A readable report: scores with their ranges, summary, insights, recommendations, warnings, disclaimers. */
export function renderReport(r: any): string {
	const lines: string[] = [];
	const score = (name: string, v: unknown, range?: unknown) => {
		if (typeof v !== "number") return;
		const ci = Array.isArray(range) ? ` (${range[0]}–${range[1]})` : "";
		lines.push(`  ${name.padEnd(16)} ${v.toFixed(2)} / 10${ci}`);
	};
	lines.push(`LifeMirror report for ${r.media_id}`, "");
	lines.push("Scores");
	// The ranges travel in the technical metadata (asked for by the CLI).
	const ranges = r.detailed_analysis?.metadata?.aggregate?.scores ?? {};
	score("overall", r.overall_score, ranges.overall?.range);
	score("style", r.style_score, ranges.style?.range);
	score("presence", r.presence_score, ranges.presence?.range);
	score("attractiveness", r.attractiveness_score, ranges.attractiveness?.range);
	lines.push(`  ${"confidence".padEnd(16)} ${Number(r.confidence ?? 0).toFixed(2)}`, "");
	lines.push("Summary", `  ${r.summary}`, "");
	const list = (title: string, items: unknown) => {
		if (!Array.isArray(items) || !items.length) return;
		lines.push(title, ...items.map(i => `  - ${typeof i === "string" ? i : (i as { message?: string }).message ?? JSON.stringify(i)}`), "");
	};
	list("Key insights", r.key_insights);
	list("Recommendations", r.recommendations);
	list("Warnings", r.warnings);
	list("Disclaimers", r.disclaimers);
	return `${lines.join("\n").trimEnd()}\n`;
}

export async function analyze(argv: string[], io: Io = stdio, env: NodeJS.ProcessEnv = processEnvironment()): Promise<number> {
	const args = [...argv];
	const json = bool(args, "--json");
	const biometric = bool(args, "--biometric");
	const bio = flag(args, "--bio");
	const pipeline = flag(args, "--pipeline") ?? "core";
	if (!["core", "enhanced", "hybrid"].includes(pipeline)) throw new CliError("--pipeline must be core, enhanced or hybrid");
	const [photo, ...rest] = args;
	if (!photo || rest.length) throw new CliError("usage: lifemirror analyze PHOTO [--bio TEXT] [--json] [--pipeline core|enhanced|hybrid] [--biometric]");
	let bytes: Buffer;
	try {
		bytes = fs.readFileSync(photo);
	} catch (err) {
		throw new CliError(`cannot read ${photo}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
	}
	const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "lifemirror-cli-"));
	io.err("starting the analysis backend…\n");
	const { broker, url } = await startEmbedded(env, dataDir);
	try {
		broker.createService({
			name: "cli-progress",
			events: {
				"analysis.progress"(ctx: { params: { node: string; status: string } }) {
					io.err(`  ${ctx.params.node.padEnd(18)} ${ctx.params.status}\n`);
				}
			}
		} as unknown as ServiceSchema);
		const email = `cli-${randomBytes(6).toString("hex")}@localhost.invalid`;
		const { access_token } = await call(url, "POST", "/auth/register", null, { email, password: `Cli-${randomBytes(12).toString("hex")}` });
		const form = new FormData();
		form.append("file", new Blob([new Uint8Array(bytes)]), path.basename(photo));
		const media = await call(url, "POST", "/media/upload", access_token, form);
		io.err(`uploaded ${path.basename(photo)} (${media.mime}, ${media.size_bytes} bytes); analysing…\n`);
		const route = pipeline === "core" ? "/analysis/analyze" : `/analysis/analyze/${pipeline}`;
		const body: Record<string, unknown> = { media_id: media.media_id, user_consent: { biometric_analysis: biometric, technical_metadata: true } };
		if (bio) body.bio_text = bio;
		const report = await call(url, "POST", route, access_token, body);
		io.out(json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(pipeline === "core" ? report : report.core_analysis));
		return 0;
	} finally {
		await broker.stop();
		fs.rmSync(dataDir, { recursive: true, force: true });
	}
}

/** The pid in DATA_DIR/lifemirror.pid when that process is alive: a node is using the directory. */
export function runningNode(dataDir: string): number | null {
	let pid: number;
	try {
		pid = Number(fs.readFileSync(path.join(dataDir, PID_FILE), "utf8").trim());
	} catch {
		return null;
	}
	if (!Number.isInteger(pid) || pid <= 0) return null;
	try {
		process.kill(pid, 0);
		return pid;
	} catch (err) {
		return (err as NodeJS.ErrnoException).code === "EPERM" ? pid : null;
	}
}

function filesUnder(dir: string): string[] {
	return (fs.readdirSync(dir, { recursive: true }) as string[]).filter(f => fs.statSync(path.join(dir, f)).isFile() && f !== PID_FILE).sort();
}

const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");

function refuseWhileRunning(dataDir: string, what: string) {
	const pid = runningNode(dataDir);
	if (pid) throw new CliError(`a LifeMirror node (pid ${pid}) is using ${dataDir}: stop it before the ${what} (NeDB files change while it runs)`);
}

export function backup(argv: string[], io: Io = stdio, env: NodeJS.ProcessEnv = processEnvironment()): number {
	const [target, ...rest] = argv;
	if (!target || rest.length) throw new CliError("usage: lifemirror backup DIR");
	const cfg = configure(env);
	if (cfg.db.mongoUri) io.err("note: the data is in MongoDB (MONGO_URI): back it up with mongodump; this copies the local files only\n");
	const source = cfg.db.dataDir;
	if (!fs.existsSync(source)) throw new CliError(`no data directory at ${source}`);
	refuseWhileRunning(source, "backup");
	const dest = path.join(path.resolve(target), `lifemirror-${new Date().toISOString().replace(/[:.]/g, "-")}`);
	fs.mkdirSync(dest, { recursive: true });
	const files = filesUnder(source);
	for (const f of files) {
		fs.mkdirSync(path.dirname(path.join(dest, f)), { recursive: true });
		fs.copyFileSync(path.join(source, f), path.join(dest, f));
	}
	const manifest = { created_at: new Date().toISOString(), source, files: files.map(f => ({ path: f, sha256: sha256(path.join(dest, f)) })) };
	fs.writeFileSync(path.join(dest, MANIFEST), JSON.stringify(manifest, null, 2));
	io.out(`${dest}\n`);
	io.err(`backed up ${files.length} files from ${source}\n`);
	return 0;
}

export function restore(argv: string[], io: Io = stdio, env: NodeJS.ProcessEnv = processEnvironment()): number {
	const args = [...argv];
	const force = bool(args, "--force");
	const [from, ...rest] = args;
	if (!from || rest.length) throw new CliError("usage: lifemirror restore BACKUP_DIR [--force]");
	const cfg = configure(env);
	const dest = cfg.db.dataDir;
	refuseWhileRunning(dest, "restore");
	let manifest: { files: { path: string; sha256: string }[] };
	try {
		manifest = JSON.parse(fs.readFileSync(path.join(from, MANIFEST), "utf8"));
	} catch {
		throw new CliError(`${from} is not a LifeMirror backup (no readable ${MANIFEST})`);
	}
	for (const f of manifest.files) {
		const file = path.resolve(from, f.path);
		if (!file.startsWith(path.resolve(from) + path.sep)) throw new CliError(`backup names a file outside itself: ${f.path}`);
		if (!fs.existsSync(file) || sha256(file) !== f.sha256) throw new CliError(`backup is damaged: ${f.path} is missing or changed`);
	}
	if (fs.existsSync(dest) && filesUnder(dest).length && !force) throw new CliError(`${dest} is not empty: restore into an empty DATA_DIR, or pass --force to replace it`);
	if (force) fs.rmSync(dest, { recursive: true, force: true });
	for (const f of manifest.files) {
		fs.mkdirSync(path.dirname(path.join(dest, f.path)), { recursive: true });
		fs.copyFileSync(path.join(from, f.path), path.join(dest, f.path));
	}
	io.err(`restored ${manifest.files.length} files into ${dest}\n`);
	return 0;
}

/** The known password of every demo account (printed by `seed`): demo data only, never a real install's. */
export const DEMO_PASSWORD = "LifeMirror-demo-2026";

/**
 * The demo people: an alias, a tile of the samples collage shipped in @vladmandic/human
 * (assets/samples.jpg, 1280×1158; the top row holds eight photos), a short bio, and for some a
 * second photo (the same tile mirrored and cropped tighter) so history and "improvement" have data.
 */
export const DEMO_USERS: { alias: string; tile: [number, number, number, number]; bio: string; second?: boolean }[] = [
	{ alias: "Ava Sterling", tile: [0, 0, 157, 159], bio: "Product designer who sketches on trains and bakes sourdough on Sundays.", second: true },
	{ alias: "Blake Rivers", tile: [166, 0, 150, 159], bio: "Lake swimmer, bookshop regular and patient chess teacher." },
	{ alias: "Carlos Vega", tile: [326, 0, 212, 159], bio: "Chef who loves hosting friends and trying new recipes from everywhere.", second: true },
	{ alias: "Dana Park", tile: [547, 0, 87, 159], bio: "Dancer and weekend hiker; always up for live music." },
	{ alias: "Elena Moreau", tile: [641, 0, 148, 159], bio: "Illustrator and coffee enthusiast who volunteers at the animal shelter." },
	{ alias: "Farah Haddad", tile: [797, 0, 105, 159], bio: "Architect with a soft spot for old cinemas and long walks." },
	{ alias: "Grace Lin", tile: [1130, 0, 137, 159], bio: "Event planner who brings people together; learning Italian." },
	{ alias: "Hugo Brandt", tile: [911, 0, 210, 159], bio: "Group trips, board games and good conversations with friends." }
];

/** A demo photo: one tile of the samples collage, enlarged ×2 (small, quick to analyse), as JPEG. */
async function demoPhoto(tile: [number, number, number, number], second: boolean): Promise<Buffer> {
	// Loaded here: sharp and the vision provider are heavy, and only `seed` needs them.
	const sharp = (await import("sharp")).default;
	const { HUMAN_DIR } = await import("../agents/providers/vision/human");
	const [left, top, width, height] = tile;
	const inset = second ? Math.round(width * 0.06) : 0;
	let img = sharp(path.join(HUMAN_DIR, "assets", "samples.jpg")).extract({ left: left + inset, top, width: width - 2 * inset, height });
	if (second) img = img.flop();
	return img.resize({ height: height * 2 }).jpeg({ quality: second ? 86 : 90 }).toBuffer();
}

/** Runs `fn` over `items` with at most `limit` at a time, in order of start. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
	const out: R[] = new Array(items.length);
	let next = 0;
	await Promise.all(
		Array.from({ length: Math.min(limit, items.length) }, async () => {
			while (next < items.length) {
				const i = next++;
				out[i] = await fn(items[i], i);
			}
		})
	);
	return out;
}

async function until<T>(what: string, check: () => Promise<T | null | undefined | false>, timeoutMs: number): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const v = await check();
		if (v) return v;
		if (Date.now() > deadline) throw new CliError(`timed out waiting for ${what}`);
		await new Promise(resolve => setTimeout(resolve, 250));
	}
}

/** How many accounts the embedded users store holds (NeDB file: one JSON line per live record). */
function usersIn(dataDir: string): number {
	let text: string;
	try {
		text = fs.readFileSync(path.join(dataDir, "db", "users.db"), "utf8");
	} catch {
		return 0;
	}
	const live = new Map<string, boolean>();
	for (const line of text.split("\n")) {
		if (!line.trim()) continue;
		try {
			const doc = JSON.parse(line) as { _id?: string; $$deleted?: boolean };
			if (doc._id) live.set(doc._id, !doc.$$deleted);
		} catch {
			/* a torn last line */
		}
	}
	return [...live.values()].filter(Boolean).length;
}

/**
 * `lifemirror seed [--force]`: demo data for a fresh embedded install (DATA_DIR), made the way
 * users would make it — the whole backend starts in this process on 127.0.0.1 with that data
 * directory and is driven through the HTTP API, so every event, feed entry, leaderboard snapshot
 * and notification comes from the real services. Refused while a node uses DATA_DIR, and when
 * it already holds accounts (unless --force, which adds the demo accounts next to them).
 */
export async function seed(argv: string[], io: Io = stdio, env: NodeJS.ProcessEnv = processEnvironment()): Promise<number> {
	const args = [...argv];
	const force = bool(args, "--force");
	if (args.length) throw new CliError("usage: lifemirror seed [--force]");
	const cfg = configure(env);
	if (cfg.db.mongoUri) throw new CliError("seed fills the embedded data directory (DATA_DIR); unset MONGO_URI to use it");
	const dataDir = path.resolve(cfg.db.dataDir);
	refuseWhileRunning(dataDir, "seed");
	const existing = usersIn(dataDir);
	if (existing && !force) throw new CliError(`${dataDir} already holds ${existing} account(s): seed a fresh DATA_DIR, or pass --force to add the demo accounts anyway`);
	const started = Date.now();
	fs.mkdirSync(dataDir, { recursive: true });
	io.err(`seeding ${dataDir}: starting the backend…\n`);
	const { broker, url } = await startEmbedded(env, dataDir);
	try {
		// Demo addresses are unique per run, so --force on a seeded directory adds a second set.
		const run = existing ? `+${randomBytes(3).toString("hex")}` : "";
		const users: ((typeof DEMO_USERS)[number] & { email: string; token: string; id: string; media: string[] })[] = [];
		for (const [i, d] of DEMO_USERS.entries()) {
			const email = `demo${i + 1}${run}@lifemirror.demo`;
			const { access_token } = await call(url, "POST", "/auth/register", null, { email, password: DEMO_PASSWORD, public_alias: d.alias, opt_in_public_analysis: true });
			const me = await call(url, "GET", "/auth/me", access_token);
			users.push({ ...d, email, token: access_token as string, id: me.id as string, media: [] as string[] });
		}
		io.err(`registered ${users.length} demo users\n`);
		for (const u of users) {
			for (const second of u.second ? [false, true] : [false]) {
				const form = new FormData();
				form.append("file", new Blob([new Uint8Array(await demoPhoto(u.tile, second))], { type: "image/jpeg" }), `${u.alias.split(" ")[0].toLowerCase()}${second ? "-2" : ""}.jpg`);
				u.media.push((await call(url, "POST", "/media/upload", u.token, form)).media_id);
			}
		}
		const media = users.flatMap(u => u.media.map(media_id => ({ u, media_id })));
		io.err(`uploaded ${media.length} photos; analysing…\n`);
		let done = 0;
		const consent = { face_analysis: true, fashion_analysis: true, posture_analysis: true, bio_analysis: true, detailed_analysis: true, biometric_analysis: false, technical_metadata: false };
		await pool(media, 2, async ({ u, media_id }) => {
			await call(url, "POST", "/analysis/analyze", u.token, { media_id, user_consent: consent, bio_text: u.bio });
			io.err(`  analysed ${++done}/${media.length} (${u.alias})\n`);
		});
		// Follows: everyone follows the next two people, and the first user follows everyone.
		let follows = 0;
		for (const [i, u] of users.entries()) {
			const targets = new Set([users[(i + 1) % users.length], users[(i + 2) % users.length], ...(i === 0 ? users.slice(1) : [])]);
			for (const t of targets) {
				await call(url, "POST", `/social/follow/${t.id}`, u.token);
				follows++;
			}
		}
		io.err(`${follows} follows\n`);
		// The post-ingest perceptions (background jobs) feed the public feed: wait for every one.
		await until(
			"the photos' perceptions",
			async () => {
				for (const { u, media_id } of media) {
					const res = await fetch(`${url}/media/media/${media_id}/perception`, { headers: { authorization: `Bearer ${u.token}` } });
					await res.arrayBuffer();
					if (res.status !== 200) return false;
				}
				return true;
			},
			180_000
		);
		// Then until the feed, the leaderboard and the notifications have settled (events are asynchronous).
		let last = "";
		const settled = await until(
			"the feed and the leaderboard",
			async () => {
				const feed = await call(url, "GET", "/public/feed?limit=100", null);
				const board = await call(url, "GET", "/public/leaderboard?limit=50", null);
				const unread = await Promise.all(users.map(async u => (await call(url, "GET", "/notifications", u.token)).unread_count as number));
				const now = JSON.stringify([feed.items.length, board.items.length, unread]);
				const same = now === last;
				last = now;
				return same && feed.items.length > 0 && { feed: feed.items.length as number, board: board.items.length as number, notifications: unread.reduce((a, b) => a + b, 0) };
			},
			60_000
		);
		io.out(
			[
				`Seeded ${dataDir} in ${((Date.now() - started) / 1000).toFixed(1)} s:`,
				`  ${users.length} demo users, ${media.length} photos and analyses, ${follows} follows, ${settled.notifications} notifications`,
				`  public feed: ${settled.feed} items, leaderboard: ${settled.board} rows`,
				`Sign in as ${users.map(u => u.email).slice(0, 2).join(", ")} … ${users[users.length - 1].email}`,
				`  password (every demo account): ${DEMO_PASSWORD}`,
				""
			].join("\n")
		);
		return 0;
	} finally {
		await broker.stop();
	}
}

export async function main(argv: string[], io: Io = stdio, env: NodeJS.ProcessEnv = processEnvironment()): Promise<number> {
	const [command, ...rest] = argv;
	try {
		switch (command) {
			case "analyze":
				return await analyze(rest, io, env);
			case "backup":
				return backup(rest, io, env);
			case "restore":
				return restore(rest, io, env);
			case "seed":
				return await seed(rest, io, env);
			default:
				io.err("usage: lifemirror <analyze PHOTO [--bio TEXT] [--json] | backup DIR | restore BACKUP_DIR [--force] | seed [--force]>\n");
				return 2;
		}
	} catch (err) {
		if (err instanceof CliError || err instanceof ConfigError) {
			io.err(`lifemirror: ${err.message}\n`);
			return 1;
		}
		throw err;
	}
}

if (require.main === module) {
	main(process.argv.slice(2)).then(
		code => process.exit(code),
		(err: Error) => {
			process.stderr.write(`lifemirror: ${err.message}\n`);
			process.exit(1);
		}
	);
}
