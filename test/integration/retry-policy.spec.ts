import type { Middleware } from "moleculer";
import { RetryableError } from "../../lib/errors";
import { http, startNode, type TestNode } from "../helpers/node";

/** Sign-up and refresh are not idempotent: a retryable failure must not replay them. */
describe("retry policy at the edge", () => {
	let node: TestNode;
	const calls: Record<string, number> = {};
	// Counts executions of the named actions; `users.create` fails with a retryable error.
	const probe: Middleware = {
		name: "Probe",
		localAction(next: (ctx: unknown) => unknown, action: { name?: string }) {
			const name = action.name ?? "";
			if (!["api.rest", "auth.register", "users.create"].includes(name)) return next;
			return (ctx: unknown) => {
				calls[name] = (calls[name] ?? 0) + 1;
				if (name === "users.create") return Promise.reject(new RetryableError("SERVICE_UNAVAILABLE", "store busy"));
				return next(ctx);
			};
		}
	} as Middleware;

	beforeAll(async () => {
		node = await startNode({ services: ["api", "users", "auth"], env: { RETRIES: "3" }, broker: { middlewares: [probe] } });
	});
	afterAll(() => node.stop());

	it("runs a sign-up once at every hop, even with RETRIES=3", async () => {
		const res = await http(node.url)("POST", "/auth/register", { body: { email: "once@example.com", password: "Blue-Harbor-Lantern-42" } });
		expect(res.status).toBe(503);
		expect(res.body.error_code).toBe("SERVICE_UNAVAILABLE");
		expect(calls).toEqual({ "api.rest": 1, "auth.register": 1, "users.create": 1 });
	});
});
