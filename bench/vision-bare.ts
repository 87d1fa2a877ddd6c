import { createHumanEngine } from "../agents/providers/vision/human";
import { benchImages } from "./images";

/**
 * The reference: the vision engine in this process's main thread, no pool, one image after
 * another. `node vision-bare.js <count> <offset>` prints one JSON line.
 */
async function main() {
	const count = Number(process.argv[2] ?? 20);
	const offset = Number(process.argv[3] ?? 0);
	const images = (await benchImages(offset + count)).slice(offset);
	const t0 = Date.now();
	const engine = await createHumanEngine();
	const coldMs = Date.now() - t0;
	const latencies: number[] = [];
	const start = Date.now();
	for (const img of images) {
		const t = Date.now();
		await engine.analyze(img, { biometric: true });
		latencies.push(Date.now() - t);
	}
	const wallMs = Date.now() - start;
	console.log(JSON.stringify({ count, wallMs, coldMs, latencies, rssMb: Math.round(process.memoryUsage().rss / 2 ** 20) }));
}

main().catch(err => {
	console.error(err);
	process.exit(1);
});
