import sharp, { type Sharp } from "sharp";
import { CropSources } from "../../services/media.service";

/** Raw pixels of a photo-like image: noise over gradients, so a wrong crop shows. */
function noisy(w: number, h: number, channels: 1 | 3 | 4): Buffer {
	const px = Buffer.alloc(w * h * channels);
	let seed = 7;
	for (let i = 0; i < px.length; i++) {
		seed = (seed * 1103515245 + 12345) & 0x7fffffff;
		px[i] = ((i / channels) % w) + (seed % 64);
	}
	return px;
}

const crop = (img: Sharp, r: [number, number, number, number]) =>
	img.extract({ left: r[0], top: r[1], width: r[2], height: r[3] }).jpeg({ quality: 85 }).toBuffer();

describe("media.crop's decoded sources", () => {
	const formats: [string, (b: Buffer) => Promise<Buffer>, 1 | 3 | 4][] = [
		["jpeg", b => sharp(b, { raw: { width: 160, height: 120, channels: 3 } }).jpeg({ quality: 90, mozjpeg: true }).toBuffer(), 3],
		["png with alpha", b => sharp(b, { raw: { width: 160, height: 120, channels: 4 } }).png().toBuffer(), 4],
		["grey png", b => sharp(b, { raw: { width: 160, height: 120, channels: 1 } }).png().toBuffer(), 1],
		["webp", b => sharp(b, { raw: { width: 160, height: 120, channels: 3 } }).webp({ quality: 90 }).toBuffer(), 3]
	];

	it.each(formats)("%s: crops from one decode are byte-identical to decoding the file per crop", async (_name, encode, channels) => {
		const file = await encode(noisy(160, 120, channels));
		let reads = 0;
		const sources = new CropSources(async () => {
			reads++;
			return file;
		});
		const boxes: [number, number, number, number][] = [
			[0, 0, 160, 120],
			[10, 5, 40, 60],
			[100, 60, 60, 60],
			[37, 81, 2, 2]
		];
		const fromSources = await Promise.all(boxes.map(async b => crop(await sources.source("media/u/a.jpg"), b)));
		const direct = await Promise.all(boxes.map(b => crop(sharp(file), b)));
		expect(fromSources).toEqual(direct);
		expect([reads, sources.decodes]).toEqual([1, 1]);
	});

	it("decodes each image once while its crops keep coming; forgetting a media's image decodes it again", async () => {
		const files: Record<string, Buffer> = {
			a: await sharp(noisy(64, 48, 3), { raw: { width: 64, height: 48, channels: 3 } }).jpeg().toBuffer(),
			b: await sharp(noisy(48, 64, 3), { raw: { width: 48, height: 64, channels: 3 } }).jpeg().toBuffer()
		};
		const sources = new CropSources(async key => files[key]);
		for (let i = 0; i < 3; i++) for (const k of ["a", "b"]) await sources.source(k);
		expect(sources.decodes).toBe(2);
		sources.forget("a");
		const again = await crop(await sources.source("a"), [0, 0, 10, 10]);
		expect(sources.decodes).toBe(3);
		expect(again).toEqual(await crop(sharp(files.a), [0, 0, 10, 10]));
	});

	it("a file that does not decode fails the crop and is not kept", async () => {
		let reads = 0;
		const sources = new CropSources(async () => {
			reads++;
			return Buffer.from("not an image");
		});
		await expect(sources.source("x")).rejects.toThrow();
		await expect(sources.source("x")).rejects.toThrow();
		expect(reads).toBe(2);
	});
});
