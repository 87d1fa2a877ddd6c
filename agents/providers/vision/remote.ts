import sharp from "sharp";
import type { Config } from "../../../lib/config";
import { createFaceppProvider } from "./facepp";
import { imageQuality, INFERENCE_EDGE } from "./human";
import { createOpenAIVisionProvider } from "./openai";
import type { ImageQuality, VisionResult } from "./types";

/** A remote vision provider (Face++, an OpenAI-compatible vision model): same result shape as local. */
export interface VisionProvider {
	name: string;
	analyze(image: Buffer, opts: { biometric: boolean }): Promise<Omit<VisionResult, "content_hash">>;
}

/** The remote provider the config names, or null for the local models. */
export function createRemoteProvider(c: Config): VisionProvider | null {
	const v = c.vision;
	switch (v.provider) {
		case "local":
			return null;
		case "facepp":
			if (!v.facepp.apiKey || !v.facepp.apiSecret) throw new Error("VISION_PROVIDER=facepp needs FACEPP_API_KEY and FACEPP_API_SECRET");
			return createFaceppProvider({ url: v.facepp.url, apiKey: v.facepp.apiKey, apiSecret: v.facepp.apiSecret, timeoutMs: v.timeoutMs });
		case "openai":
			if (!v.openai.apiKey) throw new Error("VISION_PROVIDER=openai needs OPENAI_API_KEY");
			return createOpenAIVisionProvider({ baseUrl: v.openai.baseUrl, apiKey: v.openai.apiKey, model: v.openai.model, timeoutMs: v.timeoutMs });
	}
}

/** An image made ready for a remote provider. */
export interface PreparedImage {
	/** The upright image's size: every coordinate a provider returns is mapped back to it. */
	width: number;
	height: number;
	/** The JPEG to send (upright, longest edge ≤ the provider's limit, no metadata). */
	jpeg: Buffer;
	sentWidth: number;
	sentHeight: number;
	/** Brightness, contrast, sharpness: computed locally, the same way as the local pass. */
	quality: ImageQuality;
}

/**
 * Decodes once, turns the image upright (EXIF orientation, like the local pass), computes its
 * quality on the same 640 px copy the local models see (so thresholds mean the same thing
 * whichever provider ran) and encodes the copy to send. EXIF and GPS never leave the server.
 */
export async function prepareImage(image: Buffer, sendEdge: number, maxBytes = Number.POSITIVE_INFINITY): Promise<PreparedImage> {
	const upright = await sharp(image, { failOn: "none" }).rotate().removeAlpha().toColourspace("srgb").raw().toBuffer({ resolveWithObject: true });
	const { width, height, channels } = upright.info;
	const raw = () => sharp(upright.data, { raw: { width, height, channels } });
	const small = await raw()
		.resize({ width: INFERENCE_EDGE, height: INFERENCE_EDGE, fit: "inside", withoutEnlargement: true })
		.raw()
		.toBuffer({ resolveWithObject: true });
	const quality = { ...(await imageQuality(small.data, small.info.width, small.info.height)), width, height };
	let q = 88;
	for (;;) {
		const sent = await raw()
			.resize({ width: sendEdge, height: sendEdge, fit: "inside", withoutEnlargement: true })
			.jpeg({ quality: q, mozjpeg: false })
			.toBuffer({ resolveWithObject: true });
		if (sent.data.length <= maxBytes || q <= 40) return { width, height, jpeg: sent.data, sentWidth: sent.info.width, sentHeight: sent.info.height, quality };
		q -= 16;
	}
}

export const round = (n: number, d = 3) => Number(n.toFixed(d));
export const clamp01 = (n: number) => Math.min(1, Math.max(0, n));
