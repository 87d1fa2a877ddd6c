import fs from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import type { UrlSigner } from "../signing";
import { assertKey, type Storage, type StoredObject, type UploadUrlOptions } from "./types";

/** Files under a directory; the gateway serves signed GET and PUT URLs for them (`/storage/...`). */
export class LocalStorage implements Storage {
	readonly kind = "local" as const;

	constructor(
		private readonly root: string,
		private readonly publicUrl: string,
		private readonly signer: UrlSigner
	) {
		fs.mkdirSync(root, { recursive: true });
	}

	path(key: string): string {
		return path.join(this.root, assertKey(key));
	}

	async put(key: string, body: Buffer, contentType: string): Promise<void> {
		const file = this.path(key);
		await fs.promises.mkdir(path.dirname(file), { recursive: true });
		// Write then rename: a reader never sees half a file.
		const tmp = `${file}.${process.pid}.${Date.now()}.part`;
		await fs.promises.writeFile(tmp, body);
		await fs.promises.rename(tmp, file);
		void contentType;
	}

	async get(key: string): Promise<Buffer> {
		return fs.promises.readFile(this.path(key));
	}

	async stream(key: string): Promise<Readable> {
		const file = this.path(key);
		await fs.promises.access(file);
		return fs.createReadStream(file);
	}

	async head(key: string): Promise<StoredObject | null> {
		try {
			const st = await fs.promises.stat(this.path(key));
			return st.isFile() ? { size: st.size } : null;
		} catch {
			return null;
		}
	}

	async delete(key: string): Promise<void> {
		await fs.promises.rm(this.path(key), { force: true });
	}

	async list(prefix: string): Promise<string[]> {
		const dir = path.join(this.root, prefix);
		const root = path.join(this.root, path.sep);
		if (dir !== this.root && !dir.startsWith(root)) return [];
		try {
			const entries = (await fs.promises.readdir(dir, { recursive: true, withFileTypes: true })) as fs.Dirent[];
			return entries
				.filter(e => e.isFile())
				.map(e => path.relative(this.root, path.join(e.parentPath ?? (e as { path?: string }).path ?? dir, e.name)).split(path.sep).join("/"))
				.sort();
		} catch {
			return [];
		}
	}

	async uploadUrl(key: string, opts: UploadUrlOptions): Promise<string> {
		const exp = Math.floor(Date.now() / 1000) + opts.expiresS;
		const p = `/storage/upload/${assertKey(key)}`;
		const bound = { ct: opts.contentType, max: String(opts.maxBytes) };
		const sig = this.signer.sign("PUT", p, exp, bound);
		const q = new URLSearchParams({ exp: String(exp), ...bound, sig });
		return `${this.publicUrl}${p}?${q}`;
	}

	async downloadUrl(key: string, expiresS: number): Promise<string> {
		const exp = Math.floor(Date.now() / 1000) + expiresS;
		const p = `/storage/${assertKey(key)}`;
		return `${this.publicUrl}${p}?exp=${exp}&sig=${this.signer.sign("GET", p, exp)}`;
	}
}
