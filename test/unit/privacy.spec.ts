import { consentsView, nextEntry, storedForAnalysis, stripBiometric, type ConsentDoc } from "../../lib/privacy/consents";
import { ackKey, compactStore, subjectHash } from "../../lib/privacy/erasure";
import { unzip, zip } from "../../lib/privacy/zip";

const entry = (prev: ConsentDoc | null, patch: object, version = "v1", at = "2026-01-01T00:00:00.000Z") => {
	const e = nextEntry(prev, patch, version, "user", at);
	return e ? ({ _id: `c${e.seq}`, user_id: "u1", ...e } as ConsentDoc) : null;
};

describe("consents (lib/privacy/consents)", () => {
	it("a history entry carries the whole state; unchanged values add nothing; timestamps and versions are per purpose", () => {
		const first = entry(null, { face_analysis: false }, "v1", "2026-01-01T00:00:00.000Z")!;
		expect(first).toMatchObject({ seq: 1, purposes: { face_analysis: false }, changed: ["face_analysis"], policy_version: "v1" });
		expect(entry(first, { face_analysis: false }, "v1")).toBeNull();
		const second = entry(first, { biometric_analysis: true, face_analysis: false }, "v1", "2026-02-01T00:00:00.000Z")!;
		expect(second.changed).toEqual(["biometric_analysis"]);
		expect(second.timestamps).toEqual({ face_analysis: "2026-01-01T00:00:00.000Z", biometric_analysis: "2026-02-01T00:00:00.000Z" });
		// The same value under a new policy version is a new consent.
		expect(entry(second, { biometric_analysis: true }, "v2")?.changed).toEqual(["biometric_analysis"]);
	});

	it("for analyses: a stored no always counts, a stored yes only under the policy version in force", () => {
		const doc = entry(entry(null, { biometric_analysis: true, technical_metadata: true }, "v1"), { face_analysis: false, public_sharing: true }, "v2")!;
		expect(storedForAnalysis(doc, "v1")).toEqual({ biometric_analysis: true, technical_metadata: true, face_analysis: false });
		expect(storedForAnalysis(doc, "v2")).toEqual({ face_analysis: false });
		expect(storedForAnalysis(null, "v2")).toBeNull();
	});

	it("the view: defaults where nothing is stored, public sharing from the profile", () => {
		const v = consentsView(entry(null, { fashion_analysis: false }), true, "v1");
		expect(v).toMatchObject({ face_analysis: true, fashion_analysis: false, biometric_analysis: false, public_sharing: true, policy_version: "v1" });
		expect(v.timestamps.face_analysis).toBeNull();
		expect(consentsView(null, false, "v3")).toMatchObject({ policy_version: "v3", updated_at: null, technical_metadata: false });
	});

	it("strips biometric estimates wherever they sit, and says whether anything changed", () => {
		const stored = { face: { faces: [{ age: 31.2, age_range: "26-36", gender: "female", gender_confidence: 0.9, descriptor: [0.1], expression: "happy" }], biometric: true }, bio: { text: "x" } };
		const out = stripBiometric(stored);
		expect(out.changed).toBe(true);
		expect(out.value).toEqual({ face: { faces: [{ age: null, age_range: null, gender: null, gender_confidence: null, expression: "happy" }], biometric: false }, bio: { text: "x" } });
		expect(stripBiometric(out.value).changed).toBe(false);
	});
});

describe("erasure helpers (lib/privacy/erasure)", () => {
	it("hashes the subject and makes safe field keys", async () => {
		expect(subjectHash("u1")).toMatch(/^[0-9a-f]{64}$/);
		expect(subjectHash("u1")).not.toBe(subjectHash("u2"));
		expect(ackKey("agent.face$x")).toBe("agent_face_x");
		let compacted = 0;
		await compactStore({ adapter: { db: { compactDatafileAsync: async () => void compacted++ } } });
		await compactStore({ adapter: {} });
		expect(compacted).toBe(1);
	});
});

describe("zip (lib/privacy/zip)", () => {
	it("round-trips stored and deflated entries with UTF-8 names, and rejects corruption", () => {
		const entries = [
			{ name: "data.json", data: Buffer.from(JSON.stringify({ text: "é".repeat(5000) })) },
			{ name: "files/ü.jpg", data: Buffer.from([0xff, 0xd8, 1, 2, 3]) },
			{ name: "empty.txt", data: Buffer.alloc(0) }
		];
		const archive = zip(entries);
		expect(archive.length).toBeLessThan(5000); // the JSON was deflated
		expect(unzip(archive)).toEqual(entries);
		const bad = Buffer.from(archive);
		bad[archive.indexOf(Buffer.from([0xff, 0xd8, 1, 2, 3])) + 2] ^= 0xff;
		expect(() => unzip(bad)).toThrow(/CRC/);
		expect(() => unzip(Buffer.from("not a zip"))).toThrow(/not a ZIP/);
	});
});
