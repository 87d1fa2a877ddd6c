import fs from "node:fs";
import path from "node:path";
import Piscina from "piscina";
// sharp is loaded in the main thread before any worker (libvips must be initialised once per process).
import "sharp";
import type { VisionResult } from "./types";
import type { VisionTask } from "./worker";

/** The compiled worker: next to this file in dist/, or dist/ of the project when running from source. */
export function workerFile(): string {
	const here = path.join(__dirname, "worker.js");
	if (fs.existsSync(here)) return here;
	const built = path.resolve(__dirname, "..", "..", "..", "dist", "agents", "providers", "vision", "worker.js");
	if (fs.existsSync(built)) return built;
	throw new Error(`vision worker not built: run \`npm run build\` (looked for ${here} and ${built})`);
}

export interface VisionPool {
	threads: number;
	analyze(image: Buffer, opts: { biometric: boolean }): Promise<Omit<VisionResult, "content_hash">>;
	/** Resolves when every thread has loaded its models; answers the thread ids. */
	warm(): Promise<number[]>;
	/** Tasks waiting for a free thread. */
	queued(): number;
	close(): Promise<void>;
}

/** A piscina pool of vision worker threads, one model copy per thread. */
export function createVisionPool(opts: { threads: number; maxQueue?: number }): VisionPool {
	const pool = new Piscina({
		filename: workerFile(),
		minThreads: opts.threads,
		maxThreads: opts.threads,
		idleTimeout: Number.POSITIVE_INFINITY,
		maxQueue: opts.maxQueue ?? 1000,
		// One task per thread at a time: inference is CPU-bound.
		concurrentTasksPerWorker: 1
	});
	return {
		threads: opts.threads,
		analyze: (image, { biometric }) => pool.run({ image: new Uint8Array(image), biometric } satisfies VisionTask),
		async warm() {
			const ids: { threadId: number }[] = await Promise.all(Array.from({ length: opts.threads }, () => pool.run({ warm: true } satisfies VisionTask)));
			return [...new Set(ids.map(r => r.threadId))];
		},
		queued: () => pool.queueSize,
		close: () => pool.destroy()
	};
}
