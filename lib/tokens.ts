import { createHash, randomBytes, randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { SignJWT, errors as joseErrors, jwtVerify, type JWTPayload } from "jose";
import type { Config, JwtKey } from "./config";
import { ClientError } from "./errors";

export type TokenType = "access" | "refresh";

export interface TokenClaims extends JWTPayload {
	sub: string;
	type: TokenType;
	roles?: string[];
	/** Refresh tokens only: the family a chain of rotated tokens belongs to. */
	fam?: string;
}

const ALG = "HS256";
const encoder = new TextEncoder();

/**
 * Signing keys with ids. The first key signs; every key verifies, so a new key can be
 * put in front while tokens signed with the old one stay valid until they expire.
 */
export class KeyRing {
	private readonly byKid: Map<string, Uint8Array>;
	readonly signingKid: string;

	constructor(keys: readonly JwtKey[]) {
		if (keys.length === 0) throw new Error("KeyRing needs at least one key");
		this.byKid = new Map(keys.map(k => [k.kid, encoder.encode(k.secret)]));
		this.signingKid = keys[0].kid;
	}

	get kids(): string[] {
		return [...this.byKid.keys()];
	}

	async sign(claims: Omit<TokenClaims, "iat" | "exp" | "jti">, ttlS: number): Promise<string> {
		return new SignJWT({ ...claims })
			.setProtectedHeader({ alg: ALG, kid: this.signingKid, typ: "JWT" })
			.setIssuedAt()
			.setJti(randomUUID())
			.setExpirationTime(Math.floor(Date.now() / 1000) + ttlS)
			.sign(this.byKid.get(this.signingKid)!);
	}

	/** Verifies signature, algorithm, expiry and token type; any failure is INVALID_TOKEN. */
	async verify(token: string, type: TokenType): Promise<TokenClaims> {
		try {
			const { payload } = await jwtVerify(
				token,
				header => {
					const key = header.kid ? this.byKid.get(header.kid) : undefined;
					if (!key) throw new joseErrors.JWKSNoMatchingKey();
					return key;
				},
				{ algorithms: [ALG] }
			);
			if (payload.type !== type || typeof payload.sub !== "string" || !payload.sub)
				throw new ClientError("INVALID_TOKEN", "Invalid token");
			return payload as TokenClaims;
		} catch (err) {
			if (err instanceof joseErrors.JWTExpired) throw new ClientError("INVALID_TOKEN", "Token expired");
			throw new ClientError("INVALID_TOKEN", "Invalid token");
		}
	}
}

/**
 * The key ring from `JWT_KEYS`, or (embedded mode) from a key file under DATA_DIR that is
 * created with a random secret on first start. Never a default secret in code.
 */
export function loadKeyRing(c: Config): KeyRing {
	if (c.auth.jwtKeys.length) return new KeyRing(c.auth.jwtKeys);
	const file = c.auth.keyFile;
	const read = () => JSON.parse(fs.readFileSync(file, "utf8")) as JwtKey[];
	if (!fs.existsSync(file)) {
		fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
		const key: JwtKey = { kid: `k${Date.now().toString(36)}`, secret: randomBytes(48).toString("base64url") };
		try {
			// `wx`: when two nodes start at once, one writes and the other reads the winner's key.
			fs.writeFileSync(file, JSON.stringify([key]), { mode: 0o600, flag: "wx" });
		} catch (err) {
			if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
		}
	}
	return new KeyRing(read());
}

/** Refresh tokens are stored as this digest, never as themselves. */
export function tokenDigest(token: string): string {
	return createHash("sha256").update(token).digest("hex");
}
