import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

/**
 * API keys for server-to-server clients: `lm_<prefix>_<secret>`. The prefix (12 hex) is the
 * public lookup id; the secret (32 random bytes, base64url) is stored only as its SHA-256
 * (a high-entropy secret needs no slow hash) and compared in constant time.
 */
export const API_KEY_SCOPES = ["read", "analysis:write", "media:write"] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

const KEY_RE = /^lm_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export function generateApiKey(): { prefix: string; secret: string; key: string } {
	const prefix = randomBytes(6).toString("hex");
	const secret = randomBytes(32).toString("base64url");
	return { prefix, secret, key: `lm_${prefix}_${secret}` };
}

export function parseApiKey(key: string): { prefix: string; secret: string } | null {
	const m = KEY_RE.exec(key);
	return m ? { prefix: m[1], secret: m[2] } : null;
}

export const secretDigest = (secret: string) => createHash("sha256").update(secret).digest("hex");

export function digestMatches(stored: string, secret: string): boolean {
	const a = Buffer.from(stored, "hex");
	const b = Buffer.from(secretDigest(secret), "hex");
	return a.length === b.length && timingSafeEqual(a, b);
}

/** An API key from `X-API-Key: lm_…` or `Authorization: Bearer lm_…`; null when the request carries none. */
export function apiKeyOf(headers: IncomingHttpHeaders): string | null {
	const x = headers["x-api-key"];
	if (typeof x === "string" && x.trim()) return x.trim();
	const auth = headers.authorization;
	if (typeof auth === "string") {
		const m = /^Bearer\s+(lm_\S*)$/i.exec(auth.trim());
		if (m) return m[1];
	}
	return null;
}

/** The write scope a non-GET call of a service's actions needs; services not listed take no API-key writes. */
const WRITE_SCOPE_BY_SERVICE: Record<string, ApiKeyScope> = {
	analysis: "analysis:write",
	jobs: "analysis:write",
	media: "media:write",
	storage: "media:write"
};

/** Never with an API key: key management, sign-in, the account itself, privacy requests. */
const KEY_FORBIDDEN_SERVICES = new Set(["apikeys", "auth", "users", "privacy", "consents"]);

/**
 * What an API key's scopes allow: `read` → GET (and HEAD) routes; `analysis:write` → the other
 * methods on analysis and job routes; `media:write` → on media and storage routes. Key
 * management, auth, the account, consents and privacy requests need a signed-in user's token.
 */
export function scopeAllows(scopes: readonly string[], method: string, action: string | undefined): boolean {
	const service = (action ?? "").split(".")[0];
	if (!service || KEY_FORBIDDEN_SERVICES.has(service)) return false;
	const m = method.toUpperCase();
	if (m === "GET" || m === "HEAD") return scopes.includes("read");
	const needed = WRITE_SCOPE_BY_SERVICE[service];
	return needed !== undefined && scopes.includes(needed);
}
