import type { Context, Middleware } from "moleculer";
import { registerUser } from "../factories/users";
import { cleanRedis, clusterEnv, sleep, uniqueNamespace, waitFor, waitForNodes } from "../helpers/cluster";
import { http, startNode, tempDir, type TestNode } from "../helpers/node";
import { openSse } from "../helpers/sse";
import { brokerOptions } from "../../moleculer.config";
import { loadConfig } from "../../lib/config";

/**
 * Notifications across two gateways on real Redis: a client streaming from gateway A gets the
 * notifications made on gateway B (broadcast `notification.created`), a stream token works once
 * on any gateway, and only one node sweeps per period.
 */

const namespaces: string[] = [];
const nodes: TestNode[] = [];

afterAll(async () => {
	for (const n of nodes.reverse()) await n.stop();
	for (const ns of namespaces) await cleanRedis(ns);
});

/** The house middlewares plus one that records which node handled each `user.followed`. */
function countingEvents(handledOn: string[]): Middleware[] {
	const counter = {
		name: "EventCounter",
		localEvent(next: (ctx: Context) => unknown, event: { name: string }) {
			if (event.name !== "user.followed") return next;
			return (ctx: Context) => {
				handledOn.push(ctx.broker.nodeID);
				return next(ctx);
			};
		}
	} as unknown as Middleware;
	return [...((brokerOptions(loadConfig({})).middlewares ?? []) as Middleware[]), counter];
}

async function gateways(sweepS: string, handledOn: string[] = []) {
	const namespace = uniqueNamespace("lmt-notif");
	namespaces.push(namespace);
	const env = clusterEnv(namespace, { DATA_DIR: tempDir(), LOG_LEVEL: "error", NOTIFICATION_SWEEP_S: sweepS, RATE_LIMITS: "auth=1000/60" });
	const services = ["api", "users", "auth", "notifications", "notification-stream"];
	const a = await startNode({ services, env, broker: { nodeID: "gw-a", middlewares: countingEvents(handledOn) } });
	nodes.push(a);
	const b = await startNode({ services, env, broker: { nodeID: "gw-b", middlewares: countingEvents(handledOn) } });
	nodes.push(b);
	await waitForNodes(a.broker, "notifications", ["gw-a", "gw-b"]);
	await waitForNodes(b.broker, "notifications", ["gw-a", "gw-b"]);
	return { a, b };
}

it("a client streaming from gateway A receives notifications made on gateway B", async () => {
	const handledOn: string[] = [];
	const { a, b } = await gateways("0", handledOn);
	const reqA = http(a.url);
	const reqB = http(b.url);
	const alice = await registerUser(reqA);
	const aliceId = (await reqA("GET", "/auth/me", { token: alice.access_token })).body.id;

	const sse = await openSse(`${a.url}/notifications/stream`, alice.access_token);
	try {
		expect(await sse.next()).toEqual({ event: "ready", data: { unread_count: 0 } });

		// An event handled on B (emitted there: the local instance is preferred; the counter proves it).
		const fan = await registerUser(reqB, { public_alias: "Bea", opt_in_public_analysis: true });
		const fanId = (await reqB("GET", "/auth/me", { token: fan.access_token })).body.id;
		await b.broker.emit("user.followed", { follower_id: fanId, followee_id: aliceId });
		const ev = await sse.next();
		expect(ev).toEqual({ event: "notification", data: expect.objectContaining({ type: "new_follower", message: "Bea started following you." }) });
		expect(handledOn).toEqual(["gw-b"]);

		// An HTTP call answered by B: the caller's checks run there, the push reaches A.
		const svcB = b.broker.getLocalService("notifications") as unknown as { dbUpdate(id: string, set: object): Promise<unknown> };
		await waitFor("the settings record", () => svcB.dbUpdate(`settings:${aliceId}`, { last_upload_at: new Date(Date.now() - 30 * 86400_000).toISOString() }));
		const gen = await reqB("POST", "/analysis/notifications/generate", { token: alice.access_token });
		expect(gen.body).toMatchObject({ status: "notifications checked", created: 1 });
		expect(await sse.next()).toEqual({ event: "notification", data: expect.objectContaining({ type: "improvement_reminder" }) });

		// Both gateways list the same notifications, unread first.
		const listed = await reqB("GET", "/notifications", { token: alice.access_token });
		expect(listed.body.items.map((n: { type: string }) => n.type)).toEqual(["improvement_reminder", "new_follower"]);
	} finally {
		sse.close();
	}

	// A stream token from A works on B, once: a second use is refused on any gateway.
	const { token } = (await reqA("POST", "/notifications/stream-token", { token: alice.access_token })).body;
	const viaB = await openSse(`${b.url}/notifications/stream?token=${encodeURIComponent(token)}`, "");
	try {
		expect(viaB.status).toBe(200);
		expect((await viaB.next())?.event).toBe("ready");
	} finally {
		viaB.close();
	}
	expect((await reqA("GET", `/notifications/stream?token=${encodeURIComponent(token)}`)).status).toBe(401);
	expect((await reqB("GET", `/notifications/stream?token=${encodeURIComponent(token)}`)).status).toBe(401);
});

it("only one node sweeps per period (a Redis lock per period)", async () => {
	const { a, b } = await gateways("1");
	const sweeps = (n: TestNode) => (n.broker.getLocalService("notifications") as unknown as { sweepsRun: number }).sweepsRun;
	const started = Date.now();
	const before = sweeps(a) + sweeps(b);
	await waitFor("three sweeps", () => sweeps(a) + sweeps(b) - before >= 3, 10_000);
	await sleep(1500);
	const total = sweeps(a) + sweeps(b) - before;
	const periods = Math.ceil((Date.now() - started) / 1000) + 1;
	// Without the lock both nodes would sweep each period (about 2 × periods).
	expect(total).toBeLessThanOrEqual(periods);
	expect(total).toBeGreaterThanOrEqual(3);
});
