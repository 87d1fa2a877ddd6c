import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { createVisionPool } from "../agents/providers/vision/pool";
import { benchImages, percentile } from "./images";
import { writeSection } from "./report";

const run = promisify(execFile);
const N = Number(process.env.BENCH_IMAGES ?? 40);
const perMin = (count: number, ms: number) => Math.round((count * 60_000) / ms);

interface Bare {
	count: number;
	wallMs: number;
	coldMs: number;
	latencies: number[];
	rssMb: number;
}

async function bare(count: number, offset: number): Promise<Bare> {
	const { stdout } = await run(process.execPath, [path.join(__dirname, "vision-bare.js"), String(count), String(offset)], { maxBuffer: 1 << 24 });
	return JSON.parse(stdout.trim().split("\n").pop()!);
}

async function pool(threads: number, images: Buffer[]) {
	const rss0 = process.memoryUsage().rss;
	const t0 = Date.now();
	const p = createVisionPool({ threads });
	await p.warm();
	const coldMs = Date.now() - t0;
	const rssMb = Math.round((process.memoryUsage().rss - rss0) / 2 ** 20 / threads);
	const start = Date.now();
	const results = await Promise.all(images.map(img => p.analyze(img, { biometric: true })));
	const wallMs = Date.now() - start;
	await p.close();
	const lat = results.map(r => r.inference_ms);
	return { threads, wallMs, coldMs, rssMb, rate: perMin(images.length, wallMs), p50: percentile(lat, 50), p95: percentile(lat, 95) };
}

async function main() {
	console.log(`vision bench: ${N} distinct 640-px images, biometric pass (face+mesh+emotion+descriptor+antispoof+liveness+body+objects), cache off`);
	const one = await bare(N, 0);
	const bare1 = { rate: perMin(N, one.wallMs), p50: percentile(one.latencies, 50), p95: percentile(one.latencies, 95), rssMb: one.rssMb, coldMs: one.coldMs };
	console.log("bare, 1 process:", bare1);
	const half = Math.ceil(N / 2);
	const two = await Promise.all([bare(half, 0), bare(N - half, half)]);
	// Both processes load their models, then run at the same time; the slower one bounds the rate.
	const bare2Rate = perMin(N, Math.max(...two.map(r => r.wallMs)));
	console.log("bare, 2 processes:", bare2Rate, "images/min");
	const images = await benchImages(N);
	const p1 = await pool(1, images);
	console.log("pool, 1 thread:", p1);
	const p2 = await pool(2, images);
	console.log("pool, 2 threads:", p2);
	const ratio = p2.rate / bare2Rate;
	console.log(`pool(2) / bare(2 processes) = ${(ratio * 100).toFixed(1)} %`);

	writeSection(
		"Vision pass",
		`${N} distinct 640-px photos cut from the sample collage of @vladmandic/human; the full biometric pass (face, mesh, emotion, descriptor, antispoof, liveness, body, objects) on the tfjs WASM backend, sharp decode + resize + quality included, Human's result cache off and LifeMirror's cache bypassed.

| setup | images/min | p50 ms | p95 ms | RSS per worker MB | cold start ms |
|---|---|---|---|---|---|
| bare engine, 1 process | ${bare1.rate} | ${bare1.p50} | ${bare1.p95} | ${bare1.rssMb} | ${bare1.coldMs} |
| bare engine, 2 processes | ${bare2Rate} | – | – | – | – |
| piscina pool, 1 thread | ${p1.rate} | ${p1.p50} | ${p1.p95} | ${p1.rssMb} | ${p1.coldMs} |
| piscina pool, 2 threads | ${p2.rate} | ${p2.p50} | ${p2.p95} | ${p2.rssMb} | ${p2.coldMs} |

Pool with 2 threads against 2 bare processes, same run: **${(ratio * 100).toFixed(1)} %** (goal ≥ 90 %). Latencies are per inference (excluding queueing); the pool's rate is wall-clock over all images submitted at once. The bare two-process rate is all images over the slower process's inference time (model loading excluded).`
	);
}

main().catch(err => {
	console.error(err);
	process.exit(1);
});
