import { dummyHash, hashPassword, passwordIssues, verifyPassword } from "../../lib/passwords";

const messages = (password: string, email?: string) => passwordIssues(password, email).map(i => i.message);

describe("passwordIssues", () => {
	it.each([
		["Correct-Horse-9", undefined],
		["abcdefgh", undefined],
		["aab12345", undefined],
		["x".repeat(60) + "yz", undefined],
		["p".repeat(120) + "Ab1.xyz!", undefined],
		["Tr0ub4dor&3", "alice@example.com"],
		// A local part shorter than 4 characters is too common a substring to refuse.
		["bobcat-sunrise", "bob@example.com"]
	])("accepts %s", (password, email) => {
		expect(passwordIssues(password, email)).toEqual([]);
	});

	it("refuses short passwords", () => {
		expect(messages("Ab1!xyz")).toEqual(["must be at least 8 characters"]);
		expect(messages("")).toEqual(["must be at least 8 characters"]);
	});

	it("refuses passwords over 128 characters, accepts exactly 128", () => {
		const varied = (n: number) => Array.from({ length: n }, (_, i) => "abcdefghij"[i % 10]).join("");
		expect(messages(varied(129))).toEqual(["must be at most 128 characters"]);
		expect(messages(varied(128))).toEqual([]);
		expect(messages(varied(8))).toEqual([]);
	});

	it.each(["password", "PASSWORD", "Password1", "qwerty123", "12345678", "iloveyou", "lifemirror", "P@ssw0rd"])(
		"refuses the common password %s, in any case",
		password => {
			expect(messages(password)).toContain("is too common");
		}
	);

	it("refuses a short common password for both reasons", () => {
		expect(messages("123456")).toEqual(["must be at least 8 characters", "is too common"]);
	});

	it("refuses repetitive passwords (fewer than 3 distinct characters)", () => {
		expect(messages("aaaaaaaaaa")).toEqual(["is too repetitive"]);
		expect(messages("abababababab")).toEqual(["is too repetitive"]);
		expect(messages("abcabcabcabc")).toEqual([]);
		// Not reported as repetitive when already too short.
		expect(messages("aaaa")).toEqual(["must be at least 8 characters"]);
	});

	it("refuses a password containing the email's local part, in any case", () => {
		expect(messages("my-Jessica-2024!", "jessica@example.com")).toEqual(["must not contain your email"]);
		expect(messages("xxJOHNDOExx", "JohnDoe@example.com")).toEqual(["must not contain your email"]);
		expect(messages("unrelated-phrase-9", "jessica@example.com")).toEqual([]);
	});
});

describe("hashPassword / verifyPassword", () => {
	const opts = { memoryCost: 1024, timeCost: 1 };

	it("hashes with argon2id and a random salt, and verifies", async () => {
		const a = await hashPassword("Correct-Horse-9", opts);
		const b = await hashPassword("Correct-Horse-9", opts);
		expect(a).toMatch(/^\$argon2id\$v=19\$m=1024,p=1,t=1\$/);
		expect(a).not.toBe(b);
		expect(a).not.toContain("Correct-Horse-9");
		await expect(verifyPassword(a, "Correct-Horse-9")).resolves.toBe(true);
		await expect(verifyPassword(a, "correct-horse-9")).resolves.toBe(false);
		await expect(verifyPassword(a, "")).resolves.toBe(false);
	});

	it("returns false, not an error, for a malformed hash", async () => {
		await expect(verifyPassword("not-a-hash", "whatever")).resolves.toBe(false);
		await expect(verifyPassword("", "whatever")).resolves.toBe(false);
	});

	it("dummyHash is computed once and never verifies a guess", async () => {
		const p = dummyHash(opts);
		expect(dummyHash(opts)).toBe(p);
		const hash = await p;
		expect(hash).toMatch(/^\$argon2id\$/);
		await expect(verifyPassword(hash, "password")).resolves.toBe(false);
	});
});
