import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import ffmpeg from "@ffmpeg-installer/ffmpeg";
import { ClientError } from "../errors";

/** The ffmpeg binary shipped inside the npm package: no system install, no download. */
export const FFMPEG = ffmpeg.path;

interface Run {
	code: number | null;
	stderr: string;
}

function run(args: string[], timeoutMs: number): Promise<Run> {
	return new Promise((resolve, reject) => {
		const p = spawn(FFMPEG, args, { stdio: ["ignore", "ignore", "pipe"] });
		let stderr = "";
		p.stderr.on("data", d => {
			if (stderr.length < 64_000) stderr += d;
		});
		const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
		p.on("error", err => {
			clearTimeout(timer);
			reject(err);
		});
		p.on("close", code => {
			clearTimeout(timer);
			resolve({ code, stderr });
		});
	});
}

const bad = (why: string) => new ClientError("VALIDATION", `The video could not be read: ${why}`, { validation_errors: [{ field: "file", message: why }] });

/** Duration in seconds from ffmpeg's stream summary (ffmpeg without an output prints it and exits 1). */
export async function probeDuration(file: string): Promise<number> {
	const { stderr } = await run(["-hide_banner", "-i", file], 20_000);
	const m = /Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)/.exec(stderr);
	if (!m || !/Stream #\d+:\d+.*Video:/.test(stderr)) throw bad("no video stream");
	return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
}

export interface ExtractedFrames {
	duration: number;
	frames: { time_s: number; data: Buffer }[];
	/** The video remuxed without any metadata (no GPS atoms), same codecs. */
	clean: Buffer;
}

/**
 * N evenly spaced frames (JPEG) from a video, and a metadata-free copy of the video.
 * Every frame then goes through the image hygiene path like an upload.
 */
export async function extractKeyframes(input: Buffer, ext: string, opts: { count: number; maxDurationS: number }): Promise<ExtractedFrames> {
	const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), "lm-video-"));
	try {
		const src = path.join(dir, `in.${ext}`);
		await fs.promises.writeFile(src, input);
		const duration = await probeDuration(src);
		if (!(duration > 0)) throw bad("zero duration");
		if (duration > opts.maxDurationS)
			throw new ClientError("PAYLOAD_TOO_LARGE", `Video is too long (${duration.toFixed(1)} s; at most ${opts.maxDurationS} s)`);
		const frames: { time_s: number; data: Buffer }[] = [];
		for (let i = 0; i < opts.count; i++) {
			const t = (duration * (i + 0.5)) / opts.count;
			const out = path.join(dir, `f${i}.jpg`);
			const r = await run(["-hide_banner", "-v", "error", "-ss", t.toFixed(3), "-i", src, "-frames:v", "1", "-q:v", "2", "-y", out], 30_000);
			if (r.code === 0 && fs.existsSync(out)) frames.push({ time_s: Number(t.toFixed(3)), data: await fs.promises.readFile(out) });
		}
		if (frames.length === 0) throw bad("no frame could be decoded");
		const cleanFile = path.join(dir, `clean.${ext}`);
		const r = await run(
			["-hide_banner", "-v", "error", "-i", src, "-map", "0", "-map_metadata", "-1", "-map_chapters", "-1", "-c", "copy", "-y", cleanFile],
			60_000
		);
		if (r.code !== 0) throw bad("the container is corrupt");
		return { duration, frames, clean: await fs.promises.readFile(cleanFile) };
	} finally {
		await fs.promises.rm(dir, { recursive: true, force: true });
	}
}
