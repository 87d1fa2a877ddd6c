import fs from "node:fs";
import path from "node:path";
import { SignJWT } from "jose";
import { loadConfig } from "../../lib/config";
import { KeyRing, loadKeyRing, tokenDigest } from "../../lib/tokens";
import { tempDir } from "../helpers/node";

const SECRET_A = "a".repeat(40);
const SECRET_B = "b".repeat(40);

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

/** Resolves to the thrown error; fails the test when the promise resolves. */
async function rejection(p: Promise<unknown>): Promise<{ type?: string; code?: number; message: string }> {
	try {
		await p;
	} catch (err) {
		return err as { type?: string; code?: number; message: string };
	}
	throw new Error("expected a rejection");
}

async function expectInvalid(p: Promise<unknown>, message = "Invalid token") {
	const err = await rejection(p);
	expect(err).toMatchObject({ type: "INVALID_TOKEN", code: 401, message });
}

describe("KeyRing", () => {
	const ring = new KeyRing([{ kid: "k1", secret: SECRET_A }]);

	it("refuses an empty key list", () => {
		expect(() => new KeyRing([])).toThrow("at least one key");
	});

	it("signs and verifies, with kid, jti, iat and exp", async () => {
		const token = await ring.sign({ sub: "u1", type: "access", roles: ["user"] }, 60);
		const header = JSON.parse(Buffer.from(token.split(".")[0], "base64url").toString());
		expect(header).toEqual({ alg: "HS256", kid: "k1", typ: "JWT" });
		const claims = await ring.verify(token, "access");
		expect(claims).toMatchObject({ sub: "u1", type: "access", roles: ["user"] });
		expect(typeof claims.jti).toBe("string");
		const now = Math.floor(Date.now() / 1000);
		expect(claims.exp! - claims.iat!).toBe(60);
		expect(Math.abs(claims.iat! - now)).toBeLessThanOrEqual(2);
	});

	it("gives every token its own jti", async () => {
		const a = await ring.verify(await ring.sign({ sub: "u1", type: "refresh", fam: "f" }, 60), "refresh");
		const b = await ring.verify(await ring.sign({ sub: "u1", type: "refresh", fam: "f" }, 60), "refresh");
		expect(a.jti).not.toBe(b.jti);
		expect(a.fam).toBe("f");
	});

	it("rejects a token of the other type", async () => {
		await expectInvalid(ring.verify(await ring.sign({ sub: "u1", type: "refresh" }, 60), "access"));
		await expectInvalid(ring.verify(await ring.sign({ sub: "u1", type: "access" }, 60), "refresh"));
	});

	it("rejects an expired token as expired", async () => {
		const token = await ring.sign({ sub: "u1", type: "access" }, -5);
		await expectInvalid(ring.verify(token, "access"), "Token expired");
	});

	it("rejects a token signed with a kid it does not know", async () => {
		const other = new KeyRing([{ kid: "k9", secret: SECRET_A }]);
		await expectInvalid(ring.verify(await other.sign({ sub: "u1", type: "access" }, 60), "access"));
	});

	it("rejects a token whose kid it knows but whose secret differs", async () => {
		const forger = new KeyRing([{ kid: "k1", secret: SECRET_B }]);
		await expectInvalid(ring.verify(await forger.sign({ sub: "u1", type: "access" }, 60), "access"));
	});

	it("rejects a token without a kid", async () => {
		const token = await new SignJWT({ sub: "u1", type: "access" })
			.setProtectedHeader({ alg: "HS256" })
			.setExpirationTime("1m")
			.sign(new TextEncoder().encode(SECRET_A));
		await expectInvalid(ring.verify(token, "access"));
	});

	it("rejects alg none", async () => {
		const exp = Math.floor(Date.now() / 1000) + 60;
		const unsigned = `${b64url({ alg: "none", kid: "k1", typ: "JWT" })}.${b64url({ sub: "admin", type: "access", exp })}.`;
		await expectInvalid(ring.verify(unsigned, "access"));
	});

	it("rejects another HMAC algorithm with the right secret", async () => {
		const token = await new SignJWT({ sub: "u1", type: "access" })
			.setProtectedHeader({ alg: "HS512", kid: "k1" })
			.setExpirationTime("1m")
			.sign(new TextEncoder().encode(SECRET_A));
		await expectInvalid(ring.verify(token, "access"));
	});

	it("rejects a tampered payload", async () => {
		const token = await ring.sign({ sub: "u1", type: "access", roles: ["user"] }, 60);
		const [h, p, s] = token.split(".");
		const claims = JSON.parse(Buffer.from(p, "base64url").toString());
		const forged = `${h}.${b64url({ ...claims, roles: ["admin"] })}.${s}`;
		await expectInvalid(ring.verify(forged, "access"));
	});

	it("rejects a tampered signature and garbage", async () => {
		const token = await ring.sign({ sub: "u1", type: "access" }, 60);
		const [h, p, sig] = token.split(".");
		// Change the first signature character: the last one carries base64 padding bits.
		const forged = `${h}.${p}.${sig[0] === "A" ? "B" : "A"}${sig.slice(1)}`;
		await expectInvalid(ring.verify(forged, "access"));
		await expectInvalid(ring.verify("not.a.jwt", "access"));
		await expectInvalid(ring.verify("", "access"));
	});

	it("rejects a token without a subject", async () => {
		const token = await ring.sign({ sub: "", type: "access" }, 60);
		await expectInvalid(ring.verify(token, "access"));
	});

	it("rotates: a new key signs, tokens of the old key still verify", async () => {
		const old = new KeyRing([{ kid: "old", secret: SECRET_A }]);
		const oldToken = await old.sign({ sub: "u1", type: "access" }, 60);
		const rotated = new KeyRing([
			{ kid: "new", secret: SECRET_B },
			{ kid: "old", secret: SECRET_A }
		]);
		expect(rotated.signingKid).toBe("new");
		expect(rotated.kids).toEqual(["new", "old"]);
		await expect(rotated.verify(oldToken, "access")).resolves.toMatchObject({ sub: "u1" });
		const newToken = await rotated.sign({ sub: "u2", type: "access" }, 60);
		expect(JSON.parse(Buffer.from(newToken.split(".")[0], "base64url").toString()).kid).toBe("new");
		await expect(rotated.verify(newToken, "access")).resolves.toMatchObject({ sub: "u2" });
		// A node still on the old ring does not accept the new kid; once the old key is dropped its tokens die.
		await expectInvalid(old.verify(newToken, "access"));
		await expectInvalid(new KeyRing([{ kid: "new", secret: SECRET_B }]).verify(oldToken, "access"));
	});
});

describe("loadKeyRing", () => {
	it("uses JWT_KEYS when set and writes no key file", async () => {
		const dir = tempDir();
		const c = loadConfig({ DATA_DIR: dir, JWT_KEYS: `k2:${SECRET_B},k1:${SECRET_A}` });
		const ring = loadKeyRing(c);
		expect(ring.kids).toEqual(["k2", "k1"]);
		expect(ring.signingKid).toBe("k2");
		expect(fs.existsSync(c.auth.keyFile)).toBe(false);
	});

	it("creates a 0600 key file on first use and reuses it", async () => {
		const dir = tempDir();
		const c = loadConfig({ DATA_DIR: dir });
		expect(c.auth.keyFile.startsWith(path.resolve(dir))).toBe(true);
		expect(fs.existsSync(c.auth.keyFile)).toBe(false);

		const first = loadKeyRing(c);
		const stat = fs.statSync(c.auth.keyFile);
		expect(stat.mode & 0o777).toBe(0o600);
		const stored = JSON.parse(fs.readFileSync(c.auth.keyFile, "utf8"));
		expect(stored).toHaveLength(1);
		expect(stored[0].kid).toBe(first.signingKid);
		expect(stored[0].secret.length).toBeGreaterThanOrEqual(32);

		const second = loadKeyRing(c);
		expect(second.signingKid).toBe(first.signingKid);
		expect(fs.readFileSync(c.auth.keyFile, "utf8")).toBe(JSON.stringify(stored));
		// Same secret: a token from the first start verifies after a restart.
		const token = await first.sign({ sub: "u1", type: "access" }, 60);
		await expect(second.verify(token, "access")).resolves.toMatchObject({ sub: "u1" });
	});

	it("two data dirs get two different secrets", async () => {
		const a = loadKeyRing(loadConfig({ DATA_DIR: tempDir() }));
		const b = loadKeyRing(loadConfig({ DATA_DIR: tempDir() }));
		await expectInvalid(b.verify(await a.sign({ sub: "u1", type: "access" }, 60), "access"));
	});
});

describe("tokenDigest", () => {
	it("is a stable sha256 hex digest that differs per token", () => {
		expect(tokenDigest("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
		expect(tokenDigest("abc")).toBe(tokenDigest("abc"));
		expect(tokenDigest("abd")).not.toBe(tokenDigest("abc"));
	});
});
