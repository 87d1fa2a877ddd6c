import { z } from "zod";

/** [x, y, w, h] in pixels of the analysed image. */
export const Box = z.tuple([z.number(), z.number(), z.number(), z.number()]);
export const Point = z.tuple([z.number(), z.number()]);

export const VisionFace = z.object({
	box: Box,
	score: z.number().min(0).max(1),
	landmarks: z.object({ left_eye: Point, right_eye: Point, nose_tip: Point }),
	/** Degrees; yaw left/right, pitch up/down, roll tilt. */
	head_pose: z.object({ yaw: z.number(), pitch: z.number(), roll: z.number() }),
	/** Emotion distribution (sums to ≤ 1; estimates). */
	emotions: z.record(z.string(), z.number()),
	/** Biometric estimates: present only when the pass ran with biometric consent. */
	age: z.number().nullable(),
	gender: z.enum(["female", "male"]).nullable(),
	gender_confidence: z.number().nullable(),
	descriptor: z.array(z.number()).nullable(),
	/** Anti-spoofing (is this a real face, not a photo of a photo) and liveness scores. */
	real: z.number().nullable(),
	live: z.number().nullable()
});

export const KEYPOINT_NAMES = [
	"nose",
	"leftEye",
	"rightEye",
	"leftEar",
	"rightEar",
	"leftShoulder",
	"rightShoulder",
	"leftElbow",
	"rightElbow",
	"leftWrist",
	"rightWrist",
	"leftHip",
	"rightHip",
	"leftKnee",
	"rightKnee",
	"leftAnkle",
	"rightAnkle"
] as const;
export type KeypointName = (typeof KEYPOINT_NAMES)[number];

export const Keypoint = z.object({ name: z.enum(KEYPOINT_NAMES), x: z.number(), y: z.number(), z: z.number(), score: z.number() });
export type Keypoint = z.infer<typeof Keypoint>;

export const VisionBody = z.object({ box: Box, score: z.number(), keypoints: z.array(Keypoint) });
export const VisionObject = z.object({ label: z.string(), score: z.number(), box: Box });

export const ImageQuality = z.object({
	width: z.number().int(),
	height: z.number().int(),
	/** Mean luma 0–1. */
	brightness: z.number(),
	/** Luma standard deviation 0–1. */
	contrast: z.number(),
	/** Laplacian standard deviation: higher is sharper. */
	sharpness: z.number(),
	blurry: z.boolean(),
	too_dark: z.boolean(),
	too_bright: z.boolean()
});

/** A palette colour as the pass carries it: sRGB and its share (hex and Lab follow from the sRGB). */
const Channel = z.number().int().min(0).max(255);
export const PassColour = z.object({ rgb: z.tuple([Channel, Channel, Channel]), share: z.number().min(0).max(1) });
const PassPalette = z.array(PassColour).max(16);

/**
 * The fashion agent's pixel reading of the pass (agents/fashion.ts fashionColours), done in the
 * vision worker on its decoded copy of the image so no pixel work runs on the event loop.
 * `key` names the regions, accessories and face it was read for: the agent uses these colours
 * only when the pass it gets still gives the same ones. Absent from remote providers' passes.
 */
export const PassColours = z.object({
	key: z.string().max(4000),
	background: PassPalette,
	torso: PassPalette,
	legs: PassPalette,
	accessories: z.array(PassPalette).max(100),
	outfit: PassPalette,
	with_skin: z.number().nullable()
});

/**
 * The embedder's style vector of the image (agents/embedder.ts styleVector), computed in the
 * vision worker from the same encoded bytes, so the embedder does not decode the image again.
 * `key` is the style vector's version: the embedder uses the vector only when it is its own
 * version and the pass's content_hash is the media's. Absent from remote providers' passes.
 */
export const PassStyle = z.object({ key: z.string().max(200), vector: z.array(z.number()).max(256) });

/** The shared vision pass: one inference per image content hash, read by face, fashion and posture. */
export const VisionResult = z.object({
	content_hash: z.string(),
	width: z.number().int(),
	height: z.number().int(),
	faces: z.array(VisionFace),
	bodies: z.array(VisionBody),
	objects: z.array(VisionObject),
	quality: ImageQuality,
	biometric: z.boolean(),
	provider: z.string(),
	model_version: z.string(),
	inference_ms: z.number(),
	colours: PassColours.optional(),
	style: PassStyle.optional()
});

export type VisionFace = z.infer<typeof VisionFace>;
export type VisionBody = z.infer<typeof VisionBody>;
export type VisionObject = z.infer<typeof VisionObject>;
export type ImageQuality = z.infer<typeof ImageQuality>;
export type VisionResult = z.infer<typeof VisionResult>;
export type PassColour = z.infer<typeof PassColour>;
export type PassColours = z.infer<typeof PassColours>;
export type PassStyle = z.infer<typeof PassStyle>;
