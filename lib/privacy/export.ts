import { zip, type ZipEntry } from "./zip";

/**
 * The data export (GDPR Art. 20): one ZIP with `data.json` — everything held about the user —
 * and every stored file of theirs under `files/`. Data comes from the `<service>.exportUser
 * {user_id}` actions found in the registry (the convention: each data service answers its own
 * records of that user), plus readers for the services that predate it.
 */
export interface ExportPorts {
	/** Calls an internal action with `{user_id}` (and the user as ctx.meta.userId for owner-checked ones). */
	call(action: string, params: Record<string, unknown>): Promise<unknown>;
	/** `<service>.exportUser` actions available now. */
	exporters: string[];
	listFiles(prefix: string): Promise<string[]>;
	readFile(key: string): Promise<Buffer>;
}

export const EXPORT_FORMAT = "lifemirror-export/1";

/** Readers for services without `exportUser`: used only when that service has none. */
const FALLBACKS: Record<string, (userId: string, p: ExportPorts) => Promise<unknown>> = {
	async media(_userId, p) {
		const items: Record<string, unknown>[] = [];
		for (let offset = 0; ; offset += 100) {
			const page = (await p.call("media.list", { limit: 100, offset })) as { items: Record<string, unknown>[]; total: number };
			// Signed URLs expire: the archive names the files instead.
			for (const { storage_url: _s, thumbnail_url: _t, keyframes, ...m } of page.items)
				items.push({ ...m, keyframes: ((keyframes as Record<string, unknown>[]) ?? []).map(({ url: _u, ...k }) => k) });
			if (offset + 100 >= page.total || !page.items.length) break;
		}
		return { items };
	},
	async analyses(userId, p) {
		return p.call("analyses.listForUser", { user_id: userId, limit: 100 });
	},
	async notifications(_userId, p) {
		const items: unknown[] = [];
		let cursor: string | null = null;
		for (let i = 0; i < 10_000; i++) {
			const page = (await p.call("notifications.list", { limit: 100, ...(cursor ? { cursor } : {}) })) as { items: unknown[]; next_cursor: string | null };
			items.push(...page.items);
			if (!page.next_cursor || !page.items.length) break;
			cursor = page.next_cursor;
		}
		return { items, preferences: await p.call("notifications.preferences", {}) };
	},
	async embeddings(userId, p) {
		const out = (await p.call("embeddings.listForUser", { user_id: userId })) as { items: Record<string, unknown>[] };
		// Metadata of the vectors (what is held, from which media); the numbers themselves are model internals.
		return { items: out.items.map(({ vector: _v, ...meta }) => meta) };
	}
};

export async function buildExport(userId: string, exportId: string, ports: ExportPorts, now = new Date()): Promise<Buffer> {
	const data: Record<string, unknown> = {};
	const served = new Set<string>();
	for (const action of [...ports.exporters].sort()) {
		const service = action.slice(0, -".exportUser".length);
		data[service] = await ports.call(action, { user_id: userId });
		served.add(service);
	}
	for (const [service, read] of Object.entries(FALLBACKS)) {
		if (served.has(service)) continue;
		try {
			data[service] = await read(userId, ports);
		} catch (err) {
			const e = err as { name?: string; type?: string };
			// A service that is not deployed holds nothing; any other failure fails the export (it is retried).
			if (e.name !== "ServiceNotFoundError" && e.type !== "SERVICE_NOT_FOUND") throw err;
		}
	}
	const files: ZipEntry[] = [];
	for (const key of await ports.listFiles(`media/${userId}/`)) files.push({ name: `files/${key.slice(`media/${userId}/`.length)}`, data: await ports.readFile(key) });
	const manifest = {
		format: EXPORT_FORMAT,
		export_id: exportId,
		user_id: userId,
		generated_at: now.toISOString(),
		files: files.map(f => ({ path: f.name, size: f.data.length })),
		data
	};
	return zip([{ name: "data.json", data: Buffer.from(JSON.stringify(manifest, null, 2)) }, ...files], now);
}
