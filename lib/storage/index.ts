import type { Config } from "../config";
import { UrlSigner, loadSecret } from "../signing";
import { LocalStorage } from "./local";
import { S3Storage } from "./s3";
import type { Storage } from "./types";

export type { Storage } from "./types";

/** The storage provider the config names, and the signer for URLs the gateway serves itself. */
export function createStorage(c: Config): { storage: Storage; signer: UrlSigner } {
	const signer = new UrlSigner(loadSecret(c.storage.signingSecret, c.storage.secretFile));
	const storage = c.storage.kind === "s3" ? new S3Storage(c.storage.s3) : new LocalStorage(c.storage.root, c.http.publicUrl, signer);
	return { storage, signer };
}
