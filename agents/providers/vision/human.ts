import fs from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { STYLE_VECTOR_VERSION, styleVector, warmStyleVector } from "../../embedder";
import { fashionColours, passColours, rasterFromRgb, warmColourReading } from "../../fashion";
import { KEYPOINT_NAMES, type ImageQuality, type Keypoint, type VisionResult } from "./types";

/**
 * The offline vision engine: @vladmandic/human on TensorFlow.js with the WASM backend.
 * Models are read from the npm package's `models/` folder through a tfjs IO router for
 * `file://` URLs (no network, no patched global fetch); the WASM binaries come from
 * @tensorflow/tfjs-backend-wasm. Human's frame cache is off: it is meant for video, and two
 * different users' photos must never share a result.
 */

/** A package's root folder, found from its entry point (Human's `exports` map hides package.json). */
function pkgDir(name: string): string {
	let dir = path.dirname(require.resolve(name));
	while (!fs.existsSync(path.join(dir, "package.json")) || JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).name !== name) {
		const up = path.dirname(dir);
		if (up === dir) throw new Error(`package ${name} not found`);
		dir = up;
	}
	return dir;
}
export const HUMAN_DIR = pkgDir("@vladmandic/human");
export const MODEL_DIR = path.join(HUMAN_DIR, "models");
export const WASM_DIR = path.join(pkgDir("@tensorflow/tfjs-backend-wasm"), "dist") + path.sep;
export const HUMAN_VERSION: string = JSON.parse(fs.readFileSync(path.join(HUMAN_DIR, "package.json"), "utf8")).version;

/** The models a full pass loads; a missing file is a start-up error naming it. */
export const REQUIRED_MODELS = ["blazeface", "facemesh", "emotion", "faceres", "antispoof", "liveness", "movenet-lightning", "centernet"];

/** Longest edge fed to the models: detection quality is flat above it and cost grows with it. */
export const INFERENCE_EDGE = 640;

type Tf = {
	io: {
		registerLoadRouter(r: (url: string | string[]) => unknown): void;
		getModelArtifactsForJSON(json: unknown, load: (m: { paths: string[]; weights: unknown[] }[]) => Promise<[unknown[], ArrayBuffer]>): Promise<unknown>;
	};
	tensor3d(data: Uint8Array, shape: [number, number, number], dtype: string): { dispose(): void };
	getBackend(): string;
};

interface HumanFace {
	box: [number, number, number, number];
	score: number;
	annotations: Record<string, [number, number, number?][]>;
	rotation?: { angle: { yaw: number; pitch: number; roll: number } };
	emotion?: { score: number; emotion: string }[];
	age?: number;
	gender?: string;
	genderScore?: number;
	embedding?: number[];
	real?: number;
	live?: number;
}
interface HumanResult {
	face: HumanFace[];
	body: { box: [number, number, number, number]; score: number; keypoints: { part: string; score: number; position: [number, number, number?] }[] }[];
	object: { label: string; score: number; box: [number, number, number, number] }[];
}
interface HumanInstance {
	tf: Tf;
	load(): Promise<void>;
	warmup(): Promise<unknown>;
	detect(input: unknown, config?: unknown): Promise<HumanResult>;
}

let routerRegistered = false;

/** tfjs IO handler for `file://…/model.json`: the manifest and its weight shards from disk. */
function registerFileRouter(tf: Tf) {
	if (routerRegistered) return;
	routerRegistered = true;
	tf.io.registerLoadRouter(url => {
		if (typeof url !== "string" || !url.startsWith("file://")) return null;
		const file = url.slice("file://".length);
		return {
			async load() {
				if (!fs.existsSync(file)) throw new Error(`vision model file missing: ${file}`);
				const json = JSON.parse(await fs.promises.readFile(file, "utf8"));
				return tf.io.getModelArtifactsForJSON(json, async manifest => {
					const specs: unknown[] = [];
					const shards: Buffer[] = [];
					for (const group of manifest) {
						for (const p of group.paths) shards.push(await fs.promises.readFile(path.join(path.dirname(file), p)));
						specs.push(...group.weights);
					}
					const all = Buffer.concat(shards);
					return [specs, all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer];
				});
			}
		};
	});
}

function humanConfig(biometric: boolean) {
	return {
		backend: "wasm",
		wasmPath: WASM_DIR,
		modelBasePath: `file://${MODEL_DIR}/`,
		debug: false,
		cacheModels: false,
		// Still photos: never reuse any part of a previous input's result.
		cacheSensitivity: 0,
		skipAllowed: false,
		filter: { enabled: false },
		face: {
			enabled: true,
			detector: { rotation: false, maxDetected: 10, minConfidence: 0.3 },
			mesh: { enabled: true },
			iris: { enabled: false },
			// age, gender and the 1024-d descriptor: biometric, only with consent.
			description: { enabled: biometric },
			emotion: { enabled: true },
			antispoof: { enabled: true },
			liveness: { enabled: true }
		},
		body: { enabled: true, maxDetected: 1, minConfidence: 0.2 },
		hand: { enabled: false },
		object: { enabled: true, minConfidence: 0.3 },
		gesture: { enabled: false },
		segmentation: { enabled: false }
	};
}

export function checkModels(dir = MODEL_DIR): void {
	const missing = REQUIRED_MODELS.filter(m => !fs.existsSync(path.join(dir, `${m}.json`)) || !fs.existsSync(path.join(dir, `${m}.bin`)));
	if (missing.length) throw new Error(`vision models missing in ${dir}: ${missing.join(", ")}`);
}

const round = (n: number, d = 3) => Number(n.toFixed(d));
const deg = (rad: number) => round((rad * 180) / Math.PI, 1);
const centre = (raw: [number, number, number?][] | undefined): [number, number] | null => {
	const pts = (raw ?? []).filter(p => Array.isArray(p) && Number.isFinite(p[0]) && Number.isFinite(p[1]));
	if (!pts.length) return null;
	const [sx, sy] = pts.reduce(([a, b], p) => [a + p[0], b + p[1]], [0, 0]);
	return [round(sx / pts.length, 1), round(sy / pts.length, 1)];
};

/** Brightness, contrast and sharpness of the analysed image (sharp, greyscale). */
export async function imageQuality(rgb: Buffer, width: number, height: number): Promise<ImageQuality> {
	const grey = sharp(rgb, { raw: { width, height, channels: 3 } }).greyscale();
	const [stats, lap] = await Promise.all([
		grey.clone().stats(),
		grey
			.clone()
			.convolve({ width: 3, height: 3, kernel: [0, 1, 0, 1, -4, 1, 0, 1, 0], offset: 128 })
			.stats()
	]);
	const brightness = round(stats.channels[0].mean / 255);
	const contrast = round(stats.channels[0].stdev / 255);
	const sharpness = round(lap.channels[0].stdev, 2);
	return { width, height, brightness, contrast, sharpness, blurry: sharpness < 6, too_dark: brightness < 0.18, too_bright: brightness > 0.9 };
}

export interface HumanEngine {
	version: string;
	/** One full pass over an encoded image (JPEG/PNG/WebP); coordinates in the decoded image's pixels. */
	analyze(image: Buffer, opts: { biometric: boolean }): Promise<Omit<VisionResult, "content_hash">>;
}

/** Loads Human once (per process or worker thread) and warms it up. */
export async function createHumanEngine(): Promise<HumanEngine> {
	checkModels();
	// The package's `exports` map has no node-wasm entry reachable by name: load the dist by path.
	// eslint-disable-next-line @typescript-eslint/no-require-imports
	const lib = require(path.join(HUMAN_DIR, "dist", "human.node-wasm.js")) as { Human: new (cfg: unknown) => HumanInstance };
	const human = new lib.Human(humanConfig(true));
	registerFileRouter(human.tf);
	await human.load();
	await human.warmup();
	warmColourReading();
	await warmStyleVector();
	const configs = { true: humanConfig(true), false: humanConfig(false) };

	return {
		version: `human-${HUMAN_VERSION}/tfjs-wasm`,
		async analyze(image, { biometric }) {
			const started = Date.now();
			const { data, info } = await sharp(image, { failOn: "none" })
				.rotate()
				.resize({ width: INFERENCE_EDGE, height: INFERENCE_EDGE, fit: "inside", withoutEnlargement: true })
				.removeAlpha()
				.toColourspace("srgb")
				.raw()
				.toBuffer({ resolveWithObject: true });
			// Coordinates are reported in the pixels of the image as stored, not of the resized copy.
			const meta = await sharp(image).metadata();
			const full = (meta.orientation ?? 1) >= 5 ? { w: meta.height ?? info.width, h: meta.width ?? info.height } : { w: meta.width ?? info.width, h: meta.height ?? info.height };
			const k = full.w / info.width;
			const px = (v: number) => round(v * k, 1);
			const pbox = (b: number[]) => b.map(v => Math.round(v * k)) as [number, number, number, number];
			const ppt = (p: [number, number]) => [px(p[0]), px(p[1])] as [number, number];
			const tensor = human.tf.tensor3d(new Uint8Array(data.buffer, data.byteOffset, data.length), [info.height, info.width, 3], "int32");
			let res: HumanResult;
			try {
				res = await human.detect(tensor, configs[String(biometric) as "true" | "false"]);
			} finally {
				tensor.dispose();
			}
			const quality = await imageQuality(data, info.width, info.height);
			const pass: Omit<VisionResult, "content_hash"> = {
				width: full.w,
				height: full.h,
				faces: res.face.map(f => {
					const a = f.annotations ?? {};
					const emotions = Object.fromEntries((f.emotion ?? []).map(e => [e.emotion, round(e.score)]));
					return {
						box: pbox(f.box),
						score: round(f.score ?? 0),
						landmarks: {
							// With iris off, `*EyeIris` is present but all nulls: fall back to the eye outline, not past it.
							left_eye: ppt(centre(a.leftEyeIris) ?? centre([...(a.leftEyeUpper0 ?? []), ...(a.leftEyeLower0 ?? [])]) ?? [f.box[0] + f.box[2] * 0.65, f.box[1] + f.box[3] * 0.4]),
							right_eye: ppt(centre(a.rightEyeIris) ?? centre([...(a.rightEyeUpper0 ?? []), ...(a.rightEyeLower0 ?? [])]) ?? [f.box[0] + f.box[2] * 0.35, f.box[1] + f.box[3] * 0.4]),
							nose_tip: ppt(centre(a.noseTip) ?? [f.box[0] + f.box[2] * 0.5, f.box[1] + f.box[3] * 0.6])
						},
						head_pose: {
							yaw: deg(f.rotation?.angle.yaw ?? 0),
							pitch: deg(f.rotation?.angle.pitch ?? 0),
							roll: deg(f.rotation?.angle.roll ?? 0)
						},
						emotions,
						age: biometric && typeof f.age === "number" ? round(f.age, 1) : null,
						gender: biometric && (f.gender === "female" || f.gender === "male") ? f.gender : null,
						gender_confidence: biometric && typeof f.genderScore === "number" ? round(f.genderScore) : null,
						descriptor: biometric && f.embedding?.length ? f.embedding.map(v => round(v, 5)) : null,
						real: typeof f.real === "number" ? round(f.real) : null,
						live: typeof f.live === "number" ? round(f.live) : null
					};
				}),
				// With nobody in the image movenet still answers one "body": no keypoints, a NaN/Infinity box.
				bodies: res.body.filter(b => b.keypoints.length > 0 && b.box.every(Number.isFinite)).map(b => ({
					box: pbox(b.box),
					score: round(b.score),
					keypoints: b.keypoints
						.filter(k => (KEYPOINT_NAMES as readonly string[]).includes(k.part))
						.map(kp => ({ name: kp.part as Keypoint["name"], x: px(kp.position[0]), y: px(kp.position[1]), z: round(kp.position[2] ?? 0, 1), score: round(kp.score) }))
				})),
				objects: res.object.map(o => ({ label: o.label, score: round(o.score), box: pbox(o.box) })),
				quality: { ...quality, width: full.w, height: full.h },
				biometric,
				provider: "local",
				model_version: `human-${HUMAN_VERSION}/tfjs-wasm`,
				inference_ms: 0
			};
			// The fashion agent's pixel work, here on this thread's decoded copy rather than on the
			// node's event loop. Without it the pass is still whole: the agent then reads the image itself.
			try {
				pass.colours = passColours(fashionColours(pass, await rasterFromRgb(data, info.width, info.height, full.w)));
			} catch {
				// no colours in this pass
			}
			// The embedder's style vector, from the same encoded bytes it would read (identical result).
			try {
				pass.style = { key: STYLE_VECTOR_VERSION, vector: await styleVector(image) };
			} catch {
				// no style vector in this pass: the embedder reads the image itself
			}
			pass.inference_ms = Date.now() - started;
			return pass;
		}
	};
}
