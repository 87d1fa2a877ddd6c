#!/usr/bin/env node
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { ServiceBroker, type ServiceSchema } from "moleculer";
import { ConfigError, configure, type Config } from "../lib/config";
import { brokerOptions } from "../moleculer.config";
import { PID_FILE, listServices } from "./lifemirror-node";

/**
 * The operator's command line:
 *   lifemirror analyze PHOTO [--bio TEXT] [--json] [--pipeline core|enhanced|hybrid] [--biometric]
 *   lifemirror backup DIR      copy the embedded data directory (DATA_DIR) into DIR/<timestamp>
 *   lifemirror restore DIR     put a backup back into DATA_DIR
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

export async function analyze(argv: string[], io: Io = stdio, env: NodeJS.ProcessEnv = process.env): Promise<number> {
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

export function backup(argv: string[], io: Io = stdio, env: NodeJS.ProcessEnv = process.env): number {
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

export function restore(argv: string[], io: Io = stdio, env: NodeJS.ProcessEnv = process.env): number {
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

export async function main(argv: string[], io: Io = stdio, env: NodeJS.ProcessEnv = process.env): Promise<number> {
	const [command, ...rest] = argv;
	try {
		switch (command) {
			case "analyze":
				return await analyze(rest, io, env);
			case "backup":
				return backup(rest, io, env);
			case "restore":
				return restore(rest, io, env);
			default:
				io.err("usage: lifemirror <analyze PHOTO [--bio TEXT] [--json] | backup DIR | restore BACKUP_DIR [--force]>\n");
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
