import type { Readable } from "node:stream";
import { ClientError } from "../errors";

export const tooLarge = (max: number) => new ClientError("PAYLOAD_TOO_LARGE", `File too large (at most ${max} bytes)`, { max_bytes: max });

/**
 * Reads a stream into memory up to `max` bytes. One byte more and a 413 is thrown: nothing more is
 * kept and the rest of the stream is discarded as it arrives, so an oversized upload never fills
 * memory or disk. The stream is drained rather than destroyed: for a PUT body it is the request
 * itself, and destroying it would reset the connection before the client could read the 413.
 */
export function readLimited(stream: Readable, max: number): Promise<Buffer> {
	return new Promise((resolve, reject) => {
		const chunks: Buffer[] = [];
		let size = 0;
		let done = false;
		const finish = (err: Error | null, value?: Buffer) => {
			if (done) return;
			done = true;
			stream.removeAllListeners("data");
			if (err) reject(err);
			else resolve(value!);
		};
		stream.on("data", (chunk: Buffer) => {
			size += chunk.length;
			if (size > max) {
				chunks.length = 0;
				finish(tooLarge(max));
				stream.resume();
				return;
			}
			chunks.push(chunk);
		});
		stream.on("end", () => finish(null, Buffer.concat(chunks, size)));
		stream.on("error", err => finish((err as { type?: string }).type === "PAYLOAD_TOO_LARGE" || (err as { code?: number }).code === 413 ? tooLarge(max) : err));
		stream.on("close", () => finish(size > max ? tooLarge(max) : new ClientError("BAD_REQUEST", "Upload interrupted")));
	});
}
