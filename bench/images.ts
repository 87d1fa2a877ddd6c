import path from "node:path";
import sharp from "sharp";
import { HUMAN_DIR } from "../agents/providers/vision/human";

/**
 * Distinct 640-px photos cut from the sample collage shipped in @vladmandic/human
 * (different offsets, sizes and mirrorings), so no two benchmark inputs are the same.
 */
export async function benchImages(count: number): Promise<Buffer[]> {
	const src = path.join(HUMAN_DIR, "assets", "samples.jpg");
	const { width = 1280, height = 1158 } = await sharp(src).metadata();
	const out: Buffer[] = [];
	for (let i = 0; out.length < count; i++) {
		const size = 420 + ((i * 37) % 240);
		const left = (i * 97) % Math.max(1, width - size);
		const top = (i * 53) % Math.max(1, height - size);
		let img = sharp(src).extract({ left, top, width: size, height: size });
		if (i % 2) img = img.flop();
		out.push(await img.resize(640, 640).jpeg({ quality: 88 }).toBuffer());
	}
	return out;
}

export function percentile(values: number[], p: number): number {
	const s = [...values].sort((a, b) => a - b);
	return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
