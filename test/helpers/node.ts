import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { ServiceBroker, type BrokerOptions, type ServiceSchema } from "moleculer";
import { configure, type Config } from "../../lib/config";
import { brokerOptions } from "../../moleculer.config";

export interface TestNode {
	broker: ServiceBroker;
	config: Config;
	dataDir: string;
	/** Base URL of the gateway when the node runs `api`. */
	url: string;
	stop(): Promise<void>;
}

export interface NodeOptions {
	/** Service names as in SERVICES: `api`, `users`, `auth`, `agents/face`. */
	services: string[];
	/** Environment on top of the test defaults (DATA_DIR is a fresh temp dir unless given). */
	env?: Record<string, string>;
	/** Broker options on top of the ones built from the config (e.g. a nodeID). */
	broker?: Partial<BrokerOptions>;
}

/** Every service of this tree (`api`, `users`, `agents/face`…), as the node launcher finds them: the whole backend. */
export function allServices(): string[] {
	const dir = path.join(__dirname, "..", "..", "services");
	return (fs.readdirSync(dir, { recursive: true }) as string[])
		.filter(f => f.endsWith(".service.ts"))
		.map(f => f.replace(/\\/g, "/").replace(/\.service\.ts$/, ""))
		.sort();
}

export function tempDir(prefix = "lm-test-"): string {
	return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * Starts a broker with the named services, configured from env like a real node.
 * Services are the real modules from services/; the gateway listens on a free port.
 */
export async function startNode(opts: NodeOptions): Promise<TestNode> {
	const dataDir = opts.env?.DATA_DIR ?? tempDir();
	const cfg = configure({ ...process.env, PORT: "0", HOST: "127.0.0.1", ...opts.env, DATA_DIR: dataDir });
	const broker = new ServiceBroker({ ...brokerOptions(cfg), ...opts.broker });
	for (const name of opts.services) {
		// eslint-disable-next-line @typescript-eslint/no-require-imports
		const mod = require(path.join(__dirname, "..", "..", "services", `${name}.service`)) as { default: ServiceSchema };
		broker.createService(mod.default);
	}
	try {
		await broker.start();
	} catch (err) {
		// A node that failed half-way must not leave a listening server or worker threads behind.
		await broker.stop().catch(() => undefined);
		throw err;
	}
	let url = "";
	const api = broker.getLocalService("api") as unknown as { server?: { address(): AddressInfo } } | undefined;
	if (api?.server) url = `http://127.0.0.1:${api.server.address().port}`;
	return { broker, config: cfg, dataDir, url, stop: () => broker.stop() };
}

export interface HttpResult<T = any> {
	status: number;
	headers: Headers;
	body: T;
	text: string;
}

export interface RequestOptions {
	body?: unknown;
	/** Sent as-is (no JSON encoding) when given. */
	raw?: string | Buffer;
	token?: string;
	headers?: Record<string, string>;
}

/** A tiny HTTP client for the gateway: JSON in, JSON out, the status and headers kept. */
export function http(base: string) {
	return async function request<T = any>(method: string, p: string, o: RequestOptions = {}): Promise<HttpResult<T>> {
		const headers: Record<string, string> = { ...o.headers };
		let body: string | Buffer | undefined;
		if (o.raw !== undefined) body = o.raw;
		else if (o.body !== undefined) {
			body = JSON.stringify(o.body);
			headers["content-type"] ??= "application/json";
		}
		if (o.token) headers.authorization = `Bearer ${o.token}`;
		const res = await fetch(base + p, { method, headers, body });
		const text = await res.text();
		let parsed: unknown = text;
		try {
			parsed = text ? JSON.parse(text) : undefined;
		} catch {
			/* not JSON */
		}
		return { status: res.status, headers: res.headers, body: parsed as T, text };
	};
}

export type Http = ReturnType<typeof http>;
