import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const FILE = path.resolve(__dirname, "..", "..", "BENCHMARKS.md"); // dist/bench → project root

export function machine(): string {
	const cpu = os.cpus()[0]?.model ?? "unknown CPU";
	return `${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

/** Replaces (or appends) the section `## <title>` of BENCHMARKS.md with fresh figures. */
export function writeSection(title: string, body: string): void {
	const header = "# Benchmarks\n\nMeasured with `npm run bench` on the machine named in each section. These machines are small and noisy: read ratios and medians, not single numbers.\n";
	let text = fs.existsSync(FILE) ? fs.readFileSync(FILE, "utf8") : header;
	const section = `## ${title}\n\n_Measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC on ${machine()}._\n\n${body.trim()}\n`;
	const re = new RegExp(`## ${title.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\n[\\s\\S]*?(?=\\n## |$)`);
	text = re.test(text) ? text.replace(re, section) : `${text.trimEnd()}\n\n${section}`;
	fs.writeFileSync(FILE, text);
}
