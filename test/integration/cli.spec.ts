import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { PID_FILE, backup, main, renderReport, restore, runningNode } from "../../bin/lifemirror";
import { tempDir } from "../helpers/node";
import { realPhoto } from "../factories/images";

/** The `lifemirror` command line (dist/bin/lifemirror.js, built by `npm run build`). */
const CLI = path.join(__dirname, "..", "..", "dist", "bin", "lifemirror.js");

function run(args: string[], env: Record<string, string> = {}) {
	return spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", env: { ...process.env, ...env }, timeout: 120_000 });
}

function captured() {
	const io = { out: "", err: "" };
	return { io, sink: { out: (s: string) => void (io.out += s), err: (s: string) => void (io.err += s) } };
}

describe("lifemirror analyze", () => {
	let dir: string;
	let photo: string;
	beforeAll(async () => {
		dir = tempDir("lm-cli-");
		photo = path.join(dir, "me.jpg");
		fs.writeFileSync(photo, await realPhoto());
	});
	afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

	it("analyses a photo offline and prints the report as JSON, progress on stderr", () => {
		const res = run(["analyze", photo, "--json", "--bio", "Weekend hiker and home cook who loves learning languages."], { VISION_THREADS: "1" });
		expect(res.status).toBe(0);
		const report = JSON.parse(res.stdout);
		expect(typeof report.overall_score).toBe("number");
		expect(report.key_insights.length).toBeGreaterThanOrEqual(3);
		expect(report.detailed_analysis.bio).toBeDefined();
		expect(res.stderr).toMatch(/vision\s+started/);
		expect(res.stderr).toMatch(/formatter\s+done/);
	}, 120_000);

	it("prints a readable report by default", () => {
		const res = run(["analyze", photo], { VISION_THREADS: "1" });
		expect(res.status).toBe(0);
		expect(res.stdout).toMatch(/^LifeMirror report for /);
		expect(res.stdout).toMatch(/overall\s+\d+\.\d\d \/ 10 \(\d/);
		expect(res.stdout).toMatch(/Recommendations\n {2}- /);
	}, 120_000);

	it("fails with a clear message and a non-zero exit on a missing or unusable file", () => {
		const missing = run(["analyze", path.join(dir, "nope.jpg")]);
		expect(missing.status).toBe(1);
		expect(missing.stderr).toMatch(/cannot read .*nope\.jpg: ENOENT/);
		const text = path.join(dir, "notes.jpg");
		fs.writeFileSync(text, "this is not an image");
		const bad = run(["analyze", text], { VISION_THREADS: "1" });
		expect(bad.status).toBe(1);
		expect(bad.stderr).toMatch(/lifemirror: .*(type|image|supported)/i);
		expect(bad.stdout).toBe("");
	}, 120_000);

	it("answers usage errors with exit codes", async () => {
		const { io, sink } = captured();
		expect(await main([], sink)).toBe(2);
		expect(io.err).toMatch(/usage/);
		expect(await main(["analyze"], sink)).toBe(1);
		expect(await main(["analyze", "a.jpg", "--pipeline", "turbo"], sink)).toBe(1);
		expect(io.err).toMatch(/--pipeline must be/);
	});

	it("renders ranges, warnings and disclaimers", () => {
		const text = renderReport({
			media_id: "m1",
			overall_score: 7.456,
			style_score: 6,
			confidence: 0.8,
			summary: "Friendly and composed.",
			key_insights: ["a", "b"],
			recommendations: ["c"],
			warnings: [{ category: "quality", message: "The photo is dark." }],
			disclaimers: ["Not a medical assessment."],
			detailed_analysis: { metadata: { aggregate: { scores: { overall: { range: [6.5, 8.4] } } } } }
		});
		expect(text).toMatch(/overall\s+7\.46 \/ 10 \(6\.5–8\.4\)/);
		expect(text).toMatch(/style\s+6\.00 \/ 10\n/);
		expect(text).toMatch(/Warnings\n {2}- The photo is dark\./);
		expect(text).toMatch(/Disclaimers\n {2}- Not a medical assessment\./);
	});
});

describe("lifemirror backup and restore", () => {
	function seed(dataDir: string) {
		fs.mkdirSync(path.join(dataDir, "db"), { recursive: true });
		fs.mkdirSync(path.join(dataDir, "media", "u1"), { recursive: true });
		fs.writeFileSync(path.join(dataDir, "db", "users.db"), '{"_id":"u1","email":"a@example.com"}\n');
		fs.writeFileSync(path.join(dataDir, "media", "u1", "m1.jpg"), Buffer.from([1, 2, 3]));
	}

	it("copies DATA_DIR with a checksummed manifest and restores it into an empty directory", () => {
		const dataDir = tempDir("lm-cli-data-");
		const target = tempDir("lm-cli-backups-");
		seed(dataDir);
		const { io, sink } = captured();
		expect(backup([target], sink, { DATA_DIR: dataDir })).toBe(0);
		const made = io.out.trim();
		expect(JSON.parse(fs.readFileSync(path.join(made, "lifemirror-backup.json"), "utf8")).files.map((f: { path: string }) => f.path).sort()).toEqual(["db/users.db", "media/u1/m1.jpg"]);
		const fresh = path.join(tempDir("lm-cli-restore-"), "data");
		expect(restore([made], sink, { DATA_DIR: fresh })).toBe(0);
		expect(fs.readFileSync(path.join(fresh, "db", "users.db"), "utf8")).toContain("a@example.com");
		expect([...fs.readFileSync(path.join(fresh, "media", "u1", "m1.jpg"))]).toEqual([1, 2, 3]);
		// A second restore over data refuses unless forced.
		expect(() => restore([made], sink, { DATA_DIR: fresh })).toThrow(/not empty/);
		expect(restore([made, "--force"], sink, { DATA_DIR: fresh })).toBe(0);
	});

	it("refuses a damaged backup", () => {
		const dataDir = tempDir("lm-cli-data-");
		seed(dataDir);
		const { io, sink } = captured();
		backup([tempDir("lm-cli-backups-")], sink, { DATA_DIR: dataDir });
		const made = io.out.trim();
		fs.writeFileSync(path.join(made, "db", "users.db"), "tampered\n");
		expect(() => restore([made], sink, { DATA_DIR: path.join(tempDir(), "d") })).toThrow(/damaged: db\/users.db/);
		expect(() => restore([tempDir()], sink, { DATA_DIR: path.join(tempDir(), "d") })).toThrow(/not a LifeMirror backup/);
	});

	it("refuses while a node is using the data directory, and not after it stopped", async () => {
		const dataDir = tempDir("lm-cli-data-");
		seed(dataDir);
		const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"]);
		fs.writeFileSync(path.join(dataDir, PID_FILE), String(child.pid));
		try {
			expect(runningNode(dataDir)).toBe(child.pid);
			const { sink } = captured();
			expect(() => backup([tempDir()], sink, { DATA_DIR: dataDir })).toThrow(/stop it before the backup/);
			expect(() => restore([tempDir()], sink, { DATA_DIR: dataDir })).toThrow(/stop it before the restore/);
		} finally {
			child.kill("SIGKILL");
			await new Promise(resolve => child.once("exit", resolve));
		}
		expect(runningNode(dataDir)).toBeNull();
	});

	it("the node launcher records its pid in DATA_DIR while it runs", async () => {
		const dataDir = tempDir("lm-cli-node-");
		const node = spawn(process.execPath, [path.join(__dirname, "..", "..", "dist", "bin", "lifemirror-node.js")], {
			env: { ...process.env, DATA_DIR: dataDir, SERVICES: "users", PORT: "0", TRANSPORTER: "" },
			stdio: "ignore"
		});
		try {
			const deadline = Date.now() + 20_000;
			while (!fs.existsSync(path.join(dataDir, PID_FILE)) && Date.now() < deadline) await new Promise(r => setTimeout(r, 100));
			expect(runningNode(dataDir)).toBe(node.pid);
		} finally {
			node.kill("SIGTERM");
			await new Promise(resolve => node.once("exit", resolve));
		}
		expect(fs.existsSync(path.join(dataDir, PID_FILE))).toBe(false);
	}, 30_000);
});
