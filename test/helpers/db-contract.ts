import type { ServiceBroker } from "moleculer";
import type { DbDoc, DbMethods } from "../../mixins/db.mixin";

/**
 * The db adapter contract: what every service may rely on from `dbMixin`, whichever
 * adapter runs underneath (NeDB files in embedded mode, MongoDB in a cluster).
 * `dbContract` defines one describe block; call it once per adapter.
 *
 * The service under test uses `dbMixin("contract_items", { indexes: [{ fields: ["code"], unique: true }] })`,
 * so every record needs its own `code`.
 */
export interface DbContractTarget {
	broker: ServiceBroker;
	svc: DbMethods;
	/** Stops the broker and starts a new one on the same storage; resolves to the new service. */
	restart(): Promise<DbMethods>;
	/** Stops whichever broker is current and removes the storage. */
	cleanup(): Promise<void>;
}

export interface Item extends DbDoc {
	code: string;
	n?: number;
	tag?: string;
	group?: string;
	note?: string;
	flag?: boolean;
}

async function rejection(p: Promise<unknown>): Promise<{ type?: string; code?: number; message?: string }> {
	try {
		await p;
	} catch (err) {
		return err as { type?: string; code?: number };
	}
	throw new Error("expected a rejection");
}

const codes = (docs: { code: string }[]) => docs.map(d => d.code);
const sorted = (docs: { code: string }[]) => codes(docs).sort();

export function dbContract(name: string, create: () => Promise<DbContractTarget>): void {
	describe(`db adapter contract: ${name}`, () => {
		let target: DbContractTarget;
		let db: DbMethods;

		beforeEach(async () => {
			target = await create();
			db = target.svc;
		});
		afterEach(async () => {
			await target.cleanup();
		});

		/** a..e with n = 1..5; d has no tag. */
		async function seed() {
			for (const doc of [
				{ code: "a", n: 1, tag: "x", group: "g1" },
				{ code: "b", n: 2, tag: "y", group: "g2" },
				{ code: "c", n: 3, tag: "x", group: "g1" },
				{ code: "d", n: 4, group: "g2" },
				{ code: "e", n: 5, tag: "z", group: "g1" }
			])
				await db.dbInsert(doc);
		}

		describe("create, get, update, remove", () => {
			it("insert gives a string id and returns the stored record", async () => {
				const doc = await db.dbInsert({ code: "a", n: 1, tag: "x" });
				expect(typeof doc._id).toBe("string");
				expect(doc._id.length).toBeGreaterThan(0);
				expect(doc).toMatchObject({ code: "a", n: 1, tag: "x" });
				expect(await db.dbGet(doc._id)).toEqual(doc);
				const other = await db.dbInsert({ code: "b" });
				expect(other._id).not.toBe(doc._id);
			});

			it("insert keeps a caller's _id and drops undefined fields", async () => {
				const doc = await db.dbInsert({ _id: "fixed-id-1", code: "a", note: undefined });
				expect(doc._id).toBe("fixed-id-1");
				const got = await db.dbGet<Item>("fixed-id-1");
				expect(got).toEqual({ _id: "fixed-id-1", code: "a" });
				expect(Object.keys(got!)).not.toContain("note");
			});

			it("get and findOne give null, not undefined or an error, when nothing matches", async () => {
				expect(await db.dbGet("no-such-id")).toBeNull();
				expect(await db.dbFindOne({ code: "nope" })).toBeNull();
			});

			it("findOne finds by any field", async () => {
				await seed();
				expect(await db.dbFindOne<Item>({ code: "c" })).toMatchObject({ code: "c", n: 3 });
				expect(await db.dbFindOne<Item>({ tag: "y", group: "g2" })).toMatchObject({ code: "b" });
			});

			it("update sets fields, keeps the others and returns the updated record", async () => {
				const doc = await db.dbInsert({ code: "a", n: 1, tag: "x" });
				const updated = await db.dbUpdate<Item>(doc._id, { n: 2, note: "hello" });
				expect(updated).toEqual({ _id: doc._id, code: "a", n: 2, tag: "x", note: "hello" });
				expect(await db.dbGet(doc._id)).toEqual(updated);
			});

			it("update with an undefined value unsets the field", async () => {
				const doc = await db.dbInsert({ code: "a", n: 1, tag: "x", note: "gone soon" });
				const updated = await db.dbUpdate<Item>(doc._id, { note: undefined, tag: undefined, n: 7 });
				expect(updated).toEqual({ _id: doc._id, code: "a", n: 7 });
				const got = await db.dbGet<Item>(doc._id);
				expect(got).toEqual({ _id: doc._id, code: "a", n: 7 });
				expect(Object.keys(got!).sort()).toEqual(["_id", "code", "n"]);
				expect(await db.dbCount({ note: "gone soon" })).toBe(0);
				// Only unsets, nothing to set.
				expect(await db.dbUpdate<Item>(doc._id, { n: undefined })).toEqual({ _id: doc._id, code: "a" });
				expect(await db.dbGet(doc._id)).toEqual({ _id: doc._id, code: "a" });
			});

			it("update of an unknown id returns null and creates nothing", async () => {
				expect(await db.dbUpdate("no-such-id", { n: 1 })).toBeNull();
				expect(await db.dbCount()).toBe(0);
			});

			it("remove says whether it removed", async () => {
				const doc = await db.dbInsert({ code: "a" });
				const keep = await db.dbInsert({ code: "b" });
				expect(await db.dbRemove(doc._id)).toBe(true);
				expect(await db.dbGet(doc._id)).toBeNull();
				expect(await db.dbRemove(doc._id)).toBe(false);
				expect(await db.dbGet(keep._id)).not.toBeNull();
			});

			it("removeMany removes what matches and returns how many", async () => {
				await seed();
				expect(await db.dbRemoveMany({ tag: "x" })).toBe(2);
				expect(sorted(await db.dbFind<Item>())).toEqual(["b", "d", "e"]);
				expect(await db.dbRemoveMany({ tag: "x" })).toBe(0);
				expect(await db.dbRemoveMany({})).toBe(3);
				expect(await db.dbCount()).toBe(0);
			});
		});

		describe("queries (the subset services use)", () => {
			beforeEach(seed);

			it("everything, without a query", async () => {
				expect(sorted(await db.dbFind<Item>())).toEqual(["a", "b", "c", "d", "e"]);
				expect(sorted(await db.dbFind<Item>({ query: {} }))).toEqual(["a", "b", "c", "d", "e"]);
			});

			it.each<[string, Record<string, unknown>, string[]]>([
				["equality", { tag: "x" }, ["a", "c"]],
				["equality on two fields", { tag: "x", n: 3 }, ["c"]],
				["equality that matches nothing", { tag: "nope" }, []],
				["$in", { tag: { $in: ["x", "z"] } }, ["a", "c", "e"]],
				["$in on _id-like field", { code: { $in: ["b", "d", "zz"] } }, ["b", "d"]],
				["$in with an empty list", { tag: { $in: [] } }, []],
				["$ne (includes records without the field)", { tag: { $ne: "x" } }, ["b", "d", "e"]],
				["$gt", { n: { $gt: 3 } }, ["d", "e"]],
				["$gte", { n: { $gte: 3 } }, ["c", "d", "e"]],
				["$lt", { n: { $lt: 3 } }, ["a", "b"]],
				["$lte", { n: { $lte: 3 } }, ["a", "b", "c"]],
				["a range", { n: { $gt: 1, $lte: 4 } }, ["b", "c", "d"]],
				["a range with equality", { n: { $gte: 2 }, group: "g1" }, ["c", "e"]],
				["$in with $ne on another field", { group: { $in: ["g1"] }, tag: { $ne: "z" } }, ["a", "c"]]
			])("%s", async (_name, query, expected) => {
				expect(sorted(await db.dbFind<Item>({ query }))).toEqual(expected);
				expect(await db.dbCount(query)).toBe(expected.length);
			});

			it("$gt/$lt compare strings too (ISO timestamps, ids)", async () => {
				expect(sorted(await db.dbFind<Item>({ query: { code: { $gt: "b", $lt: "e" } } }))).toEqual(["c", "d"]);
			});

			it("count with and without a query", async () => {
				expect(await db.dbCount()).toBe(5);
				expect(await db.dbCount({})).toBe(5);
				expect(await db.dbCount({ group: "g1" })).toBe(3);
			});

			it("sorts ascending and descending", async () => {
				expect(codes(await db.dbFind<Item>({ sort: ["n"] }))).toEqual(["a", "b", "c", "d", "e"]);
				expect(codes(await db.dbFind<Item>({ sort: ["-n"] }))).toEqual(["e", "d", "c", "b", "a"]);
				expect(codes(await db.dbFind<Item>({ sort: ["-code"] }))).toEqual(["e", "d", "c", "b", "a"]);
			});

			it("sorts by several keys, in order", async () => {
				expect(codes(await db.dbFind<Item>({ sort: ["group", "-n"] }))).toEqual(["e", "c", "a", "d", "b"]);
				expect(codes(await db.dbFind<Item>({ sort: ["-group", "n"] }))).toEqual(["b", "d", "a", "c", "e"]);
			});

			it("sorts, limits and offsets a filtered query", async () => {
				expect(codes(await db.dbFind<Item>({ query: { n: { $gte: 2 } }, sort: ["-n"], limit: 2 }))).toEqual(["e", "d"]);
				expect(codes(await db.dbFind<Item>({ query: { n: { $gte: 2 } }, sort: ["-n"], limit: 2, offset: 2 }))).toEqual(["c", "b"]);
			});
		});

		describe("paging", () => {
			it("limit/offset pages over a sort with ties are stable: every record exactly once, in order", async () => {
				// 23 records in 3 groups: many ties on `group`, broken by `_id`.
				for (let i = 0; i < 23; i++) await db.dbInsert({ code: `c${String(i).padStart(2, "0")}`, group: `g${i % 3}`, n: i });
				const sort = ["group", "_id"];
				const all = await db.dbFind<Item>({ sort });
				expect(all).toHaveLength(23);
				const pages: Item[] = [];
				for (let offset = 0; offset < 30; offset += 5) pages.push(...(await db.dbFind<Item>({ sort, limit: 5, offset })));
				expect(pages.map(d => d._id)).toEqual(all.map(d => d._id));
				expect(new Set(pages.map(d => d._id)).size).toBe(23);
				// The same page twice is the same page.
				expect(await db.dbFind<Item>({ sort, limit: 5, offset: 10 })).toEqual(await db.dbFind<Item>({ sort, limit: 5, offset: 10 }));
				// Groups come in order, ids ascending within a group.
				for (let i = 1; i < all.length; i++) {
					const [a, b] = [all[i - 1], all[i]];
					expect(a.group! < b.group! || (a.group === b.group && a._id < b._id)).toBe(true);
				}
			});

			it("limit alone, offset alone, and an offset past the end", async () => {
				for (let i = 0; i < 6; i++) await db.dbInsert({ code: `c${i}`, n: i });
				expect((await db.dbFind<Item>({ sort: ["n"], limit: 4 })).map(d => d.n)).toEqual([0, 1, 2, 3]);
				expect((await db.dbFind<Item>({ sort: ["n"], offset: 4 })).map(d => d.n)).toEqual([4, 5]);
				expect(await db.dbFind({ sort: ["n"], limit: 3, offset: 6 })).toEqual([]);
				expect(await db.dbFind({ sort: ["n"], offset: 100 })).toEqual([]);
			});
		});

		describe("unique index", () => {
			it("a duplicate insert throws CONFLICT and stores nothing", async () => {
				const first = await db.dbInsert({ code: "same", n: 1 });
				const err = await rejection(db.dbInsert({ code: "same", n: 2 }));
				expect(err).toMatchObject({ type: "CONFLICT", code: 409 });
				expect(await db.dbCount({ code: "same" })).toBe(1);
				expect(await db.dbFindOne({ code: "same" })).toEqual(first);
			});

			it("an update onto a taken value throws CONFLICT and changes nothing", async () => {
				await db.dbInsert({ code: "taken" });
				const other = await db.dbInsert({ code: "free", n: 1 });
				const err = await rejection(db.dbUpdate(other._id, { code: "taken", n: 2 }));
				expect(err).toMatchObject({ type: "CONFLICT", code: 409 });
				expect(await db.dbGet(other._id)).toEqual(other);
			});

			it("a removed value can be used again", async () => {
				const doc = await db.dbInsert({ code: "reuse" });
				await db.dbRemove(doc._id);
				await expect(db.dbInsert({ code: "reuse" })).resolves.toMatchObject({ code: "reuse" });
			});
		});

		describe("updateMany", () => {
			beforeEach(seed);

			it("returns the number of records changed and changes exactly those", async () => {
				expect(await db.dbUpdateMany({ tag: "x" }, { flag: true })).toBe(2);
				expect(sorted(await db.dbFind<Item>({ query: { flag: true } }))).toEqual(["a", "c"]);
				expect(await db.dbUpdateMany({ n: { $gte: 4 } }, { note: "big", group: "g9" })).toBe(2);
				expect(sorted(await db.dbFind<Item>({ query: { group: "g9", note: "big" } }))).toEqual(["d", "e"]);
				// Untouched fields stay.
				expect(await db.dbFindOne<Item>({ code: "e" })).toMatchObject({ n: 5, tag: "z" });
			});

			it("returns 0 when nothing matches", async () => {
				expect(await db.dbUpdateMany({ tag: "nope" }, { flag: true })).toBe(0);
				expect(await db.dbCount({ flag: true })).toBe(0);
			});
		});

		describe("concurrency", () => {
			it("200 inserts in parallel are all stored", async () => {
				const docs = await Promise.all(Array.from({ length: 200 }, (_, i) => db.dbInsert({ code: `p${i}`, n: i })));
				expect(new Set(docs.map(d => d._id)).size).toBe(200);
				expect(await db.dbCount()).toBe(200);
				const all = await db.dbFind<Item>({ sort: ["n"] });
				expect(all.map(d => d.n)).toEqual(Array.from({ length: 200 }, (_, i) => i));
			});

			it("parallel inserts of one unique value: exactly one wins, the rest are CONFLICT", async () => {
				const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => db.dbInsert({ code: "race", n: i })));
				const ok = results.filter(r => r.status === "fulfilled");
				const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
				expect(ok).toHaveLength(1);
				for (const f of failed) expect(f.reason).toMatchObject({ type: "CONFLICT" });
				expect(await db.dbCount({ code: "race" })).toBe(1);
			});
		});

		describe("durability", () => {
			it("data survives a broker restart on the same storage", async () => {
				await seed();
				const b = (await db.dbFindOne<Item>({ code: "b" }))!;
				const c = (await db.dbFindOne<Item>({ code: "c" }))!;
				await db.dbUpdate(b._id, { n: 20, tag: undefined });
				await db.dbRemove(c._id);
				await db.dbUpdateMany({ group: "g1" }, { flag: true });

				db = await target.restart();

				expect(await db.dbCount()).toBe(4);
				expect(await db.dbGet(c._id)).toBeNull();
				expect(await db.dbGet(b._id)).toEqual({ _id: b._id, code: "b", n: 20, group: "g2" });
				expect(sorted(await db.dbFind<Item>({ query: { flag: true } }))).toEqual(["a", "e"]);
				// The unique index is back too.
				await expect(rejection(db.dbInsert({ code: "a" }))).resolves.toMatchObject({ type: "CONFLICT" });
				// And the new broker writes as well as reads.
				await db.dbInsert({ code: "f", n: 6 });
				db = await target.restart();
				expect(sorted(await db.dbFind<Item>())).toEqual(["a", "b", "d", "e", "f"]);
			});
		});
	});
}
