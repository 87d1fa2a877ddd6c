import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

/**
 * HMAC-signed, expiring URLs for files the gateway serves itself (local storage mode):
 * `?exp=<unix s>&sig=<hmac>` over the method, the path and any bound fields.
 */
export class UrlSigner {
	constructor(private readonly secret: Buffer) {}

	sign(method: string, pathname: string, exp: number, bound: Record<string, string> = {}): string {
		const extra = Object.keys(bound)
			.sort()
			.map(k => `${k}=${bound[k]}`)
			.join("&");
		return createHmac("sha256", this.secret).update(`${method}\n${pathname}\n${exp}\n${extra}`).digest("base64url");
	}

	verify(method: string, pathname: string, exp: unknown, sig: unknown, bound: Record<string, string> = {}, now = Date.now()): boolean {
		const e = Number(exp);
		if (!Number.isInteger(e) || e * 1000 < now || typeof sig !== "string" || sig.length > 128) return false;
		const want = Buffer.from(this.sign(method, pathname, e, bound));
		const got = Buffer.from(sig);
		return want.length === got.length && timingSafeEqual(want, got);
	}
}

/** A secret from config, or generated once into a 0600 file (embedded mode). */
export function loadSecret(given: string | null, file: string): Buffer {
	if (given) return Buffer.from(given);
	if (!fs.existsSync(file)) {
		fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
		try {
			fs.writeFileSync(file, randomBytes(32).toString("base64url"), { mode: 0o600, flag: "wx" });
		} catch (err) {
			if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
		}
	}
	return Buffer.from(fs.readFileSync(file, "utf8").trim());
}
