import type { Config } from "../../../lib/config";
import type { VisionResult } from "./types";

/** A remote vision provider (Face++, an OpenAI-compatible vision model): same result shape as local. */
export interface VisionProvider {
	name: string;
	analyze(image: Buffer, opts: { biometric: boolean }): Promise<Omit<VisionResult, "content_hash">>;
}

/** The remote provider the config names, or null for the local models. */
export function createRemoteProvider(c: Config): VisionProvider | null {
	if (c.vision.provider === "local") return null;
	throw new Error(`VISION_PROVIDER=${c.vision.provider} is not available in this build`);
}
