import path from "node:path";
import sharp from "sharp";
import { HUMAN_DIR } from "../../agents/providers/vision/human";
import type { VisionResult } from "../../agents/providers/vision/types";
import type { FaceOutput } from "../../agents/face";
import { NOT_VISIBLE, type PostureOutput } from "../../agents/posture";
import { http, startNode, type TestNode } from "../helpers/node";
import { registerUser } from "../factories/users";
import { fetchUrl, filesUnder, freePort, uploadForm } from "../factories/images";

/**
 * face and posture over a real broker with the real models (the vision worker runs from
 * dist/: `npm run build` first). Images are tiles of Human's own sample collage of real people,
 * plus a synthetic landscape with nobody in it.
 */

const SAMPLES = path.join(HUMAN_DIR, "assets", "samples.jpg");
type Region = [left: number, top: number, width: number, height: number];
/** Regions of samples.jpg (1280×1158): the top row is a strip of 156 px tiles. */
const TILES = {
	/** Head and shoulders of a woman. */
	portrait: [166, 1, 151, 156] as Region,
	/** A man in a suit at a table. */
	suit: [326, 1, 211, 156] as Region,
	/** A woman standing, seen to the knees. */
	standing: [641, 1, 148, 156] as Region,
	/** Two people in the group photo below the strip. */
	group: [200, 380, 500, 500] as Region
};

async function tile(r: Region, scale: number): Promise<Buffer> {
	return sharp(SAMPLES)
		.extract({ left: r[0], top: r[1], width: r[2], height: r[3] })
		.resize({ height: Math.round(r[3] * scale) })
		.jpeg({ quality: 92 })
		.toBuffer();
}

/** Sky, a sunny horizon and green ground: a gradient with no person in it. */
async function landscape(): Promise<Buffer> {
	const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="400"><defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1">
		<stop offset="0" stop-color="#4a90d9"/><stop offset="0.6" stop-color="#f4d29c"/><stop offset="1" stop-color="#2e6b30"/></linearGradient></defs>
		<rect width="640" height="400" fill="url(#g)"/></svg>`;
	return sharp(Buffer.from(svg)).jpeg({ quality: 90 }).toBuffer();
}

describe("face and posture agents on real photos", () => {
	let node: TestNode;
	let userId: string;
	let token: string;
	const media: Record<"portrait" | "suit" | "standing" | "group" | "landscape", string> = {} as never;

	const analyze = (media_id: string, biometric: boolean) => node.broker.call<VisionResult, object>("vision.analyze", { media_id, user_id: userId, biometric });
	const runFace = (media_id: string, vision: VisionResult, consent: { face: boolean; biometric: boolean }) =>
		node.broker.call<FaceOutput, object>("agent.face.run", { vision, media_id, user_id: userId, consent });
	const runPosture = (media_id: string, vision: VisionResult, consent = { posture: true }) =>
		node.broker.call<PostureOutput, object>("agent.posture.run", { vision, media_id, user_id: userId, consent });

	async function expectJpegUrl(url: string | null): Promise<{ width: number; height: number }> {
		expect(url).toEqual(expect.stringContaining("/storage/"));
		const res = await fetchUrl(url!);
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toBe("image/jpeg");
		const meta = await sharp(res.bytes).metadata();
		return { width: meta.width!, height: meta.height! };
	}

	beforeAll(async () => {
		const port = await freePort();
		node = await startNode({
			services: ["api", "users", "auth", "storage", "media", "vision", "agents/face", "agents/posture"],
			env: {
				PORT: String(port),
				PUBLIC_URL: `http://127.0.0.1:${port}`,
				STORAGE: "local",
				VISION_THREADS: "1",
				RATE_LIMITS: "upload=1000/60,auth=1000/60"
			}
		});
		const request = http(node.url);
		const user = await registerUser(request);
		token = user.access_token;
		userId = (await request("GET", "/auth/me", { token })).body.id;
		const files = {
			portrait: await tile(TILES.portrait, 3),
			suit: await tile(TILES.suit, 3),
			standing: await tile(TILES.standing, 3),
			group: await tile(TILES.group, 1),
			landscape: await landscape()
		};
		for (const [name, bytes] of Object.entries(files)) {
			const up = await uploadForm(node.url, token, bytes, { filename: `${name}.jpg` });
			if (up.status !== 200) throw new Error(`upload ${name}: ${up.status} ${JSON.stringify(up.body)}`);
			media[name as keyof typeof media] = up.body.media_id;
		}
	}, 90_000);

	afterAll(async () => {
		await node?.stop();
	});

	it("refuses without consent: agent.face and agent.posture answer CONSENT_REQUIRED (403)", async () => {
		const vision = await analyze(media.portrait, false);
		await expect(runFace(media.portrait, vision, { face: false, biometric: true })).rejects.toMatchObject({ type: "CONSENT_REQUIRED", code: 403 });
		await expect(runPosture(media.portrait, vision, { posture: false })).rejects.toMatchObject({ type: "CONSENT_REQUIRED", code: 403 });
	});

	it("rejects params that do not match the agent's input schema (422)", async () => {
		await expect(node.broker.call("agent.face.run", { media_id: media.portrait, user_id: userId, consent: { face: true } })).rejects.toMatchObject({
			type: "VALIDATION",
			code: 422
		});
	});

	it.each(["portrait", "suit"] as const)("%s, biometric consent: one face where the face is, a sensible age band, a JPEG crop", async name => {
		const vision = await analyze(media[name], true);
		const out = await runFace(media[name], vision, { face: true, biometric: true });
		expect(out.num_faces).toBe(1);
		expect(out.subject_index).toBe(0);
		const f = out.faces[0];
		// The face sits in the upper part of the tile, away from the side edges.
		const [x, y, w, h] = f.bbox;
		expect(x + w / 2).toBeGreaterThan(vision.width * 0.25);
		expect(x + w / 2).toBeLessThan(vision.width * 0.8);
		expect(y + h / 2).toBeLessThan(vision.height * 0.5);
		expect(w * h).toBeGreaterThan(0.04 * vision.width * vision.height);
		// Landmarks fall inside the box; the eyes above the nose.
		for (const [px, py] of Object.values(f.landmarks)) {
			expect(px).toBeGreaterThanOrEqual(x);
			expect(px).toBeLessThanOrEqual(x + w);
			expect(py).toBeGreaterThanOrEqual(y);
			expect(py).toBeLessThanOrEqual(y + h);
		}
		expect(f.landmarks.left_eye[1]).toBeLessThan(f.landmarks.nose_tip[1]);
		// The eyes come from the face mesh, not from fixed fractions of the box (the fallback).
		expect(Math.hypot(f.landmarks.left_eye[0] - (x + w * 0.65), f.landmarks.left_eye[1] - (y + h * 0.4))).toBeGreaterThan(1.5);
		expect(Math.hypot(f.landmarks.right_eye[0] - (x + w * 0.35), f.landmarks.right_eye[1] - (y + h * 0.4))).toBeGreaterThan(1.5);
		// Adults: an estimate in a plausible adult range, and a 10-year band around it.
		expect(f.age).toBeGreaterThanOrEqual(15);
		expect(f.age).toBeLessThanOrEqual(65);
		const [lo, hi] = f.age_range!.split("-").map(Number);
		expect(hi - lo).toBe(10);
		expect(lo).toBeLessThanOrEqual(f.age!);
		expect(hi).toBeGreaterThanOrEqual(f.age!);
		expect([null, "female", "male"]).toContain(f.gender);
		expect(Object.keys(f.emotions)).toContain(f.expression);
		expect(out.biometric).toBe(true);
		expect(out.confidence).toBeGreaterThan(0.5);
		expect(out.confidence).toBeLessThanOrEqual(1);
		expect(JSON.stringify(out)).not.toMatch(/descriptor|race|ethnic/i);
		// The crop is the face with a margin, stored and served signed.
		const crop = await expectJpegUrl(f.crop_url);
		expect(crop.width).toBeGreaterThanOrEqual(w);
		expect(crop.width).toBeLessThanOrEqual(Math.ceil(w * 1.3) + 1);
	});

	it("without biometric consent no age, gender or descriptor leaves the agent (whichever pass it is given)", async () => {
		const plain = await analyze(media.portrait, false);
		expect(plain.faces[0]).toMatchObject({ age: null, gender: null, descriptor: null });
		const bio = await analyze(media.portrait, true);
		expect(bio.faces[0].descriptor).toHaveLength(1024);
		for (const vision of [plain, bio]) {
			const out = await runFace(media.portrait, vision, { face: true, biometric: false });
			expect(out.num_faces).toBe(1);
			expect(out.faces[0]).toMatchObject({ age: null, age_range: null, gender: null, gender_confidence: null });
			expect(out.faces[0].expression).toEqual(expect.any(String));
			expect(out.biometric).toBe(false);
			expect(JSON.stringify(out)).not.toMatch(/descriptor/);
		}
	});

	it("a group shot: several faces, one subject, and a warning saying which", async () => {
		const vision = await analyze(media.group, false);
		const out = await runFace(media.group, vision, { face: true, biometric: false });
		expect(out.num_faces).toBeGreaterThanOrEqual(2);
		expect(out.faces.filter(f => f.is_subject)).toHaveLength(1);
		expect(out.faces[out.subject_index!].is_subject).toBe(true);
		expect(out.warnings.join(" ")).toMatch(new RegExp(`${out.num_faces} faces were detected.*face ${out.subject_index! + 1} of ${out.num_faces}`));
		// The subject is the most prominent face: no other face is larger.
		const area = (b: number[]) => b[2] * b[3];
		expect(Math.max(...out.faces.map(f => area(f.bbox)))).toBe(area(out.faces[out.subject_index!].bbox));
	});

	it("a standing person: body keypoints, an alignment score with its metrics, tips and a body crop; a small face is flagged", async () => {
		const vision = await analyze(media.standing, false);
		const out = await runPosture(media.standing, vision);
		expect(out.visible).toBe(true);
		expect(out.keypoints.length).toBeGreaterThanOrEqual(10);
		expect(out.keypoint_names).toHaveLength(out.keypoints.length);
		expect(out.keypoint_names).toEqual(expect.arrayContaining(["leftShoulder", "rightShoulder", "leftHip", "rightHip"]));
		for (const [x, y, z] of out.keypoints) {
			expect(x).toBeGreaterThanOrEqual(0);
			expect(x).toBeLessThanOrEqual(vision.width);
			expect(y).toBeGreaterThanOrEqual(0);
			expect(y).toBeLessThanOrEqual(vision.height);
			expect(Number.isFinite(z)).toBe(true);
		}
		// Shoulders above hips, in image pixels.
		const at = (n: string) => out.keypoints[out.keypoint_names.indexOf(n)];
		expect(at("leftShoulder")[1]).toBeLessThan(at("leftHip")[1]);
		expect(out.alignment_score).toBeGreaterThanOrEqual(0);
		expect(out.alignment_score).toBeLessThanOrEqual(10);
		expect(out.metrics.shoulder_tilt_deg).toEqual(expect.any(Number));
		expect(out.tips.length).toBeGreaterThanOrEqual(1);
		expect(out.confidence).toBeGreaterThan(0.3);
		await expectJpegUrl(out.crop_url);

		const faces = await runFace(media.standing, vision, { face: true, biometric: false });
		expect(faces.num_faces).toBe(1);
		expect(faces.warnings.join(" ")).toMatch(/too small/);
	});

	it("a landscape with nobody in it: no face with a 'no face' warning, and posture not visible", async () => {
		const vision = await analyze(media.landscape, true);
		expect(vision.faces).toEqual([]);
		const face = await runFace(media.landscape, vision, { face: true, biometric: true });
		expect(face).toMatchObject({ num_faces: 0, faces: [], subject_index: null, confidence: 0 });
		expect(face.warnings.join(" ")).toMatch(/no face/i);
		const posture = await runPosture(media.landscape, vision);
		expect(posture).toMatchObject({ visible: false, alignment_score: null, keypoints: [], crop_url: null });
		expect(posture.warnings).toContain(NOT_VISIBLE);
	});

	it("crops made by both agents at once are all deleted with the media", async () => {
		// A media of its own (a different size, so a different content hash): deleting it touches no other test.
		const up = await uploadForm(node.url, token, await tile(TILES.standing, 2.5), { filename: "again.jpg" });
		expect(up.status).toBe(200);
		const id: string = up.body.media_id;
		const vision = await analyze(id, false);
		const [face, posture] = await Promise.all([runFace(id, vision, { face: true, biometric: false }), runPosture(id, vision)]);
		expect(face.faces[0].crop_url).toEqual(expect.any(String));
		expect(posture.crop_url).toEqual(expect.any(String));
		const base = path.basename(up.body.storage_key as string).replace(/\.[a-z0-9]+$/, "");
		const files = () => filesUnder(path.join(node.dataDir, "media")).filter(f => path.basename(f).startsWith(`${base}.`));
		expect(files().filter(f => f.includes(".crop-"))).toHaveLength(2);
		const del = await http(node.url)("DELETE", `/media/${id}`, { token });
		expect(del.status).toBe(200);
		expect(files()).toEqual([]);
	});
});
