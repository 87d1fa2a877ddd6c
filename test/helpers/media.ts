import { freePort, type Sent } from "../factories/images";
import { registerUser } from "../factories/users";
import { http, startNode, type Http, type HttpResult, type TestNode } from "./node";

/** What the media integration suites (local storage, hostile input, S3) share. */

export const MEDIA_SERVICES = ["api", "users", "auth", "storage", "media"];

export interface User {
	id: string;
	token: string;
}

/** The error format every refused request answers with. */
export function errorBody(code?: string) {
	return {
		error: expect.any(String),
		error_code: code ?? expect.any(String),
		details: expect.any(Object),
		timestamp: expect.any(String),
		detail: expect.any(String)
	};
}

/** The status is one of `status` and the body is in the error format (with `code` when given). */
export function expectError(res: HttpResult | Sent, status: number | number[], code?: string) {
	expect(Array.isArray(status) ? status : [status]).toContain(res.status);
	expect(res.body).toEqual(errorBody(code));
}

/**
 * A node with the media services on a free port, its PUBLIC_URL that port, and generous rate
 * limits; `env` adds to (or overrides) that.
 */
export async function startMediaNode(env: Record<string, string>): Promise<{ node: TestNode; request: Http; base: string }> {
	const port = await freePort();
	const base = `http://127.0.0.1:${port}`;
	const node = await startNode({
		services: MEDIA_SERVICES,
		env: { PORT: String(port), PUBLIC_URL: base, RATE_LIMITS: "upload=1000/60,auth=1000/60,default=10000/60", ...env }
	});
	return { node, request: http(node.url), base };
}

/** A new registered user, with the id the API knows them by. */
export async function newUser(request: Http): Promise<User> {
	const u = await registerUser(request);
	const me = await request("GET", "/auth/me", { token: u.access_token });
	return { id: me.body.id, token: u.access_token };
}

/** Asks for a presigned upload (expects 200). */
export async function presign(request: Http, u: User, content_type = "image/jpeg", filename = "photo.jpg") {
	const res = await request("POST", "/media/presign", { token: u.token, body: { filename, content_type } });
	expect(res.status).toBe(200);
	return res.body as { upload_url: string; key: string; expires_in: number; method: string; headers: Record<string, string> };
}
