import { threadId } from "node:worker_threads";
import sharp from "sharp";
import { createHumanEngine, type HumanEngine } from "./human";

/**
 * A vision worker thread: loads the models once when the thread starts, then runs one
 * pass per task. Inference never runs on the event loop that serves HTTP and heartbeats.
 */
// Each inference thread does its own image work: libvips spawning a thread per core for every
// operation only makes the threads fight over the same cores.
sharp.concurrency(1);
const engine: Promise<HumanEngine> = createHumanEngine();
// Keep a failed load from being an unhandled rejection before the first task reports it.
engine.catch(() => undefined);

export interface VisionTask {
	image?: Uint8Array;
	biometric?: boolean;
	/** Wait for the models and answer the thread id (pool warm-up). */
	warm?: boolean;
}

export default async function run(task: VisionTask) {
	const e = await engine;
	if (task.warm) return { threadId, version: e.version };
	if (!task.image) throw new Error("vision task without an image");
	return e.analyze(Buffer.from(task.image.buffer, task.image.byteOffset, task.image.byteLength), { biometric: Boolean(task.biometric) });
}
