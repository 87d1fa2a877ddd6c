import { randomUUID } from "node:crypto";
import type { Http } from "../helpers/node";

export interface TestUser {
	email: string;
	password: string;
	access_token: string;
	refresh_token: string;
}

let n = 0;

/** Registers a fresh user through the HTTP API and returns its credentials and tokens. */
export async function registerUser(request: Http, overrides: Record<string, unknown> = {}): Promise<TestUser> {
	const email = `user${++n}-${randomUUID().slice(0, 8)}@example.com`;
	const password = "Blue-Harbor-Lantern-42";
	const res = await request("POST", "/auth/register", { body: { email, password, ...overrides } });
	if (res.status !== 200) throw new Error(`register failed: ${res.status} ${res.text}`);
	return { email: (overrides.email as string) ?? email, password: (overrides.password as string) ?? password, ...res.body };
}
