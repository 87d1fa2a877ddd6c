import { apiKeyOf, digestMatches, generateApiKey, parseApiKey, scopeAllows, secretDigest } from "../../lib/apikeys";

describe("API key format", () => {
	it("generates lm_<prefix>_<secret> keys that parse back, each different", () => {
		const a = generateApiKey();
		const b = generateApiKey();
		expect(a.key).toMatch(/^lm_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
		expect(parseApiKey(a.key)).toEqual({ prefix: a.prefix, secret: a.secret });
		expect(a.key).not.toBe(b.key);
		for (const bad of ["", "lm_", `lm_${a.prefix}`, `lm_${a.prefix}_${a.secret}x`, `LM_${a.prefix}_${a.secret}`, `lm_${a.prefix.toUpperCase()}_${a.secret}`]) expect(parseApiKey(bad)).toBeNull();
	});

	it("compares the stored digest with a presented secret", () => {
		const { secret } = generateApiKey();
		expect(digestMatches(secretDigest(secret), secret)).toBe(true);
		expect(digestMatches(secretDigest(secret), secret.slice(1) + "A")).toBe(false);
		expect(digestMatches("abcd", secret)).toBe(false);
	});

	it("reads the key from X-API-Key or a Bearer lm_ token only", () => {
		expect(apiKeyOf({ "x-api-key": " lm_k " })).toBe("lm_k");
		expect(apiKeyOf({ authorization: "Bearer lm_k" })).toBe("lm_k");
		expect(apiKeyOf({ authorization: "Bearer eyJhbGciOi.x.y" })).toBeNull();
		expect(apiKeyOf({})).toBeNull();
	});
});

describe("scopeAllows", () => {
	it("read → GET only; write scopes → their own services; never auth, keys, account, privacy", () => {
		expect(scopeAllows(["read"], "GET", "media.list")).toBe(true);
		expect(scopeAllows(["read"], "HEAD", "analysis.get")).toBe(true);
		expect(scopeAllows(["read"], "POST", "analysis.analyze")).toBe(false);
		expect(scopeAllows(["analysis:write"], "POST", "analysis.analyze")).toBe(true);
		expect(scopeAllows(["analysis:write"], "POST", "jobs.cancel")).toBe(true);
		expect(scopeAllows(["analysis:write"], "GET", "analysis.get")).toBe(false);
		expect(scopeAllows(["analysis:write"], "POST", "media.presign")).toBe(false);
		expect(scopeAllows(["media:write"], "DELETE", "media.remove")).toBe(true);
		expect(scopeAllows(["media:write"], "PUT", "storage.receive")).toBe(true);
		expect(scopeAllows(["read", "media:write", "analysis:write"], "POST", "follows.follow")).toBe(false);
		for (const action of ["apikeys.list", "auth.refresh", "users.me", "privacy.export", "consents.get"])
			expect(scopeAllows(["read", "media:write", "analysis:write"], "GET", action)).toBe(false);
		expect(scopeAllows(["read"], "GET", undefined)).toBe(false);
	});
});
