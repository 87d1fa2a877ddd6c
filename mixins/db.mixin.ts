import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { ServiceSchema } from "moleculer";
import DbService from "moleculer-db";
import MongoAdapter from "moleculer-db-adapter-mongo";
import { config } from "../lib/config";
import { ClientError } from "../lib/errors";

/** A record as stored: our own string ids on every adapter (no ObjectId leaks into the API). */
export interface DbDoc {
	_id: string;
	[key: string]: unknown;
}

export interface DbIndex {
	fields: string[];
	unique?: boolean;
	/** Documents without the field are not indexed (lets a unique index skip empty values). */
	sparse?: boolean;
}

export interface DbQuery {
	query?: Record<string, unknown>;
	/** Field names, `-` prefix for descending, e.g. `["-created_at", "_id"]`. */
	sort?: string[];
	limit?: number;
	offset?: number;
}

export interface DbMethods {
	dbInsert<T extends object>(doc: T): Promise<T & DbDoc>;
	dbGet<T = DbDoc>(id: string): Promise<T | null>;
	dbFindOne<T = DbDoc>(query: Record<string, unknown>): Promise<T | null>;
	dbFind<T = DbDoc>(q?: DbQuery): Promise<T[]>;
	dbCount(query?: Record<string, unknown>): Promise<number>;
	dbUpdate<T = DbDoc>(id: string, set: Record<string, unknown>): Promise<T | null>;
	dbUpdateMany(query: Record<string, unknown>, set: Record<string, unknown>): Promise<number>;
	dbRemove(id: string): Promise<boolean>;
	dbRemoveMany(query: Record<string, unknown>): Promise<number>;
}

interface Adapter {
	insert(doc: object): Promise<DbDoc>;
	findById(id: string): Promise<DbDoc | null>;
	findOne(query: object): Promise<DbDoc | null>;
	find(q: DbQuery): Promise<DbDoc[]>;
	count(q: { query?: object }): Promise<number>;
	updateById(id: string, update: object): Promise<DbDoc | null>;
	updateMany(query: object, update: object): Promise<number | unknown>;
	removeById(id: string): Promise<unknown>;
	removeMany(query: object): Promise<number>;
	collection?: {
		createIndex(spec: object, opts: object): Promise<unknown>;
	};
	db?: {
		ensureIndex(opts: object): Promise<unknown>;
		setAutocompactionInterval?(ms: number): void;
	};
}

/**
 * NeDB allows one Datastore per file. Two services in one process that open the same
 * file (two brokers in a test, a restart in place) share it instead of corrupting it.
 */
const openFiles = new Map<string, { db: unknown; refs: number; ready: Promise<void> }>();

class SharedFileAdapter extends DbService.MemoryAdapter {
	declare opts: { filename: string };
	declare db: unknown;

	override connect(): Promise<void> {
		const file = this.opts.filename;
		let entry = openFiles.get(file);
		if (!entry) {
			const ready = super.connect();
			entry = { db: this.db, refs: 0, ready };
			openFiles.set(file, entry);
			ready.catch(() => openFiles.delete(file));
		}
		entry.refs++;
		this.db = entry.db;
		return entry.ready;
	}

	override disconnect(): Promise<void> {
		const entry = openFiles.get(this.opts.filename);
		if (entry && --entry.refs <= 0) {
			openFiles.delete(this.opts.filename);
			(entry.db as { stopAutocompaction?(): void }).stopAutocompaction?.();
		}
		this.db = null;
		return Promise.resolve();
	}
}

/** NeDB reports a unique violation as `errorType: "uniqueViolated"`, MongoDB as code 11000. */
function isDuplicateKey(err: unknown): boolean {
	const e = err as { errorType?: string; code?: number };
	return e?.errorType === "uniqueViolated" || e?.code === 11000;
}

/** Strip `undefined` (NeDB stores it, MongoDB drops it: make both drop it). */
function clean<T extends object>(doc: T): T {
	return Object.fromEntries(Object.entries(doc).filter(([, v]) => v !== undefined)) as T;
}

function createAdapter(collection: string) {
	const c = config();
	if (c.db.mongoUri) return new MongoAdapter(c.db.mongoUri, {}, c.db.mongoDb);
	fs.mkdirSync(path.join(c.db.dataDir, "db"), { recursive: true });
	return new SharedFileAdapter({ filename: path.join(c.db.dataDir, "db", `${collection}.db`), autoload: false });
}

/**
 * The one db port. NeDB files under DATA_DIR by default (embedded), MongoDB when
 * MONGO_URI is set. Services use only the `db*` methods below, a query subset both
 * adapters share ($in, $ne, $gt/$gte/$lt/$lte, equality, sort, limit, offset).
 * moleculer-db's generic CRUD actions are switched off: nothing is reachable by accident.
 */
export function dbMixin(collection: string, opts: { indexes?: DbIndex[] } = {}): Partial<ServiceSchema> {
	const methods: DbMethods & ThisType<{ adapter: Adapter }> = {
		async dbInsert(doc) {
			try {
				return (await this.adapter.insert(clean({ _id: randomUUID(), ...doc }))) as never;
			} catch (err) {
				if (isDuplicateKey(err)) throw new ClientError("CONFLICT", "A record with this value already exists");
				throw err;
			}
		},
		async dbGet(id) {
			return ((await this.adapter.findOne({ _id: id })) ?? null) as never;
		},
		async dbFindOne(query) {
			return ((await this.adapter.findOne(query)) ?? null) as never;
		},
		async dbFind(q = {}) {
			return (await this.adapter.find({ query: q.query ?? {}, sort: q.sort, limit: q.limit, offset: q.offset })) as never;
		},
		async dbCount(query = {}) {
			return this.adapter.count({ query });
		},
		async dbUpdate(id, set) {
			const unset = Object.keys(set).filter(k => set[k] === undefined);
			const update: Record<string, object> = { $set: clean(set) };
			if (unset.length) update.$unset = Object.fromEntries(unset.map(k => [k, true]));
			try {
				const res = await this.adapter.updateById(id, update);
				return (res ?? null) as never;
			} catch (err) {
				if (isDuplicateKey(err)) throw new ClientError("CONFLICT", "A record with this value already exists");
				throw err;
			}
		},
		async dbUpdateMany(query, set) {
			const res = await this.adapter.updateMany(query, { $set: clean(set) });
			return typeof res === "number" ? res : Number((res as { modifiedCount?: number })?.modifiedCount ?? 0);
		},
		async dbRemove(id) {
			const n = await this.adapter.removeMany({ _id: id });
			return Number(n) > 0;
		},
		async dbRemoveMany(query) {
			return Number(await this.adapter.removeMany(query));
		}
	};

	return {
		mixins: [DbService],
		// The adapter is made when a service is created, not when its module loads: each node
		// uses the DATA_DIR / MONGO_URI it was started with (two nodes in one process differ).
		merged(schema: { adapter?: unknown }) {
			schema.adapter = createAdapter(collection);
		},
		collection,
		settings: { idField: "_id" },
		// moleculer-db's CRUD actions stay off: every action a service exposes is declared by it.
		actions: {
			find: false,
			count: false,
			list: false,
			create: false,
			insert: false,
			get: false,
			update: false,
			remove: false,
			/** Readiness probe of this service's store: GET /ready and `lm-ready` call every `*.dbHealth`. */
			dbHealth: {
				visibility: "public",
				async handler(): Promise<{ ok: true }> {
					await (this as unknown as DbMethods).dbCount({ _id: "-" });
					return { ok: true };
				}
			}
		},
		methods: methods as never,
		async afterConnected(this: { adapter: Adapter }) {
			for (const idx of opts.indexes ?? []) {
				if (this.adapter.collection?.createIndex) {
					await this.adapter.collection.createIndex(Object.fromEntries(idx.fields.map(f => [f, 1])), {
						unique: Boolean(idx.unique),
						sparse: Boolean(idx.sparse)
					});
				} else if (this.adapter.db?.ensureIndex && idx.fields.length === 1) {
					// NeDB indexes single fields; compound indexes are a MongoDB optimisation only.
					await this.adapter.db.ensureIndex({
						fieldName: idx.fields[0],
						unique: Boolean(idx.unique),
						sparse: Boolean(idx.sparse)
					});
				}
			}
			// NeDB appends every write to its file; compact it hourly so it does not grow forever.
			this.adapter.db?.setAutocompactionInterval?.(3600_000);
		}
	} as Partial<ServiceSchema>;
}
