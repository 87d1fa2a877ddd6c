import type { Readable } from "node:stream";

export interface StoredObject {
	size: number;
	contentType?: string;
}

export interface UploadUrlOptions {
	contentType: string;
	maxBytes: number;
	expiresS: number;
}

/**
 * Where media bytes live. Keys are opaque paths such as `media/<user>/<id>.jpg`;
 * every URL handed to a client is signed and expires.
 */
export interface Storage {
	readonly kind: "local" | "s3";
	put(key: string, body: Buffer, contentType: string): Promise<void>;
	get(key: string): Promise<Buffer>;
	stream(key: string): Promise<Readable>;
	head(key: string): Promise<StoredObject | null>;
	delete(key: string): Promise<void>;
	/** Every key under a prefix (for erasure and inventories). */
	list(prefix: string): Promise<string[]>;
	/** A URL the client PUTs the file to. */
	uploadUrl(key: string, opts: UploadUrlOptions): Promise<string>;
	/** A signed, expiring URL to read the object. */
	downloadUrl(key: string, expiresS: number): Promise<string>;
}

/** Keys are ours, but check anyway: no traversal, no odd characters. */
export function assertKey(key: string): string {
	if (!/^[A-Za-z0-9][A-Za-z0-9/_.-]{0,255}$/.test(key) || key.split("/").some(p => p === ".." || p === "." || p === ""))
		throw new Error(`invalid storage key: ${JSON.stringify(key)}`);
	return key;
}
