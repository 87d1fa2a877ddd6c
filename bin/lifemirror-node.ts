#!/usr/bin/env node
import fs from "node:fs";
import path from "node:path";
import { Runner } from "moleculer";
import { ConfigError, config } from "../lib/config";
import { selectServices } from "../lib/roles";

const SERVICE_DIR = path.join(__dirname, "..", "services");
/** Written into DATA_DIR while a node runs, so `lifemirror backup` and `restore` can refuse to copy live files. */
export const PID_FILE = "lifemirror.pid";
const CONFIG_FILE = path.join(__dirname, "..", "moleculer.config.js");

/** Service names (`api`, `users`, `agents/face`) of the compiled service files. */
export function listServices(dir = SERVICE_DIR): string[] {
	return (fs.readdirSync(dir, { recursive: true }) as string[])
		.filter(f => f.endsWith(".service.js"))
		.map(f => f.replace(/\\/g, "/").replace(/\.service\.js$/, ""))
		.sort();
}

/**
 * moleculer-runner, with two changes: services come from the typed config (SERVICES or
 * ROLE) instead of the runner's own SERVICES/SERVICEDIR handling, and broker options are
 * not overwritten from the environment (lib/config.ts is the one reader of it).
 */
class LifeMirrorRunner extends Runner {
	override overwriteFromEnv(obj: object): object {
		return obj;
	}

	override loadServices(): void {
		const c = config();
		// A REPL joining a cluster is an operator console: it runs no services unless told to.
		if (this.flags?.repl && c.broker.transporter && !c.services) return;
		const names = selectServices(listServices(), c.role, c.services);
		for (const name of names) this.broker!.loadService(path.join(SERVICE_DIR, `${name}.service.js`));
	}
}

if (require.main === module) {
	// A bad configuration stops the node with the message that names the variable, not a stack trace.
	try {
		config();
	} catch (err) {
		if (!(err instanceof ConfigError)) throw err;
		console.error(err.message);
		process.exit(1);
	}
	const pidFile = path.join(config().db.dataDir, PID_FILE);
	fs.mkdirSync(path.dirname(pidFile), { recursive: true });
	fs.writeFileSync(pidFile, String(process.pid));
	process.once("exit", () => {
		try {
			if (fs.readFileSync(pidFile, "utf8") === String(process.pid)) fs.unlinkSync(pidFile);
		} catch {
			/* already gone */
		}
	});
	const args = process.argv.slice(2);
	const withConfig = args.some(a => a === "--config" || a === "-c" || a.startsWith("--config=")) ? args : ["--config", CONFIG_FILE, ...args];
	new LifeMirrorRunner().start([process.argv[0], process.argv[1], ...withConfig]).catch((err: Error) => {
		console.error(err.message);
		process.exit(1);
	});
}
