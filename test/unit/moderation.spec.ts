import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { checkInput, checkInputModerated, mergeModeration, moderateRemote, moderationSettings, type ModerationSettings } from "../../agents/guardrails";

/**
 * A local stand-in for an OpenAI-compatible moderation endpoint (`POST /v1/moderations`,
 * `{model, input}` → `{id, model, results: [{flagged, categories, category_scores}]}`, errors as
 * `{error: {message, type, code}}`), on 127.0.0.1 with a port of its own. Tests queue replies;
 * with an empty queue it answers as the real API would for benign text.
 */
interface Reply {
	status?: number;
	headers?: Record<string, string>;
	json?: unknown;
	text?: string;
	delayMs?: number;
}
interface Seen {
	method: string;
	path: string;
	headers: IncomingHttpHeaders;
	body: any;
}

const CATEGORIES = [
	"harassment",
	"harassment/threatening",
	"hate",
	"hate/threatening",
	"illicit",
	"illicit/violent",
	"self-harm",
	"self-harm/intent",
	"self-harm/instructions",
	"sexual",
	"sexual/minors",
	"violence",
	"violence/graphic"
];

function moderation(flags: Record<string, number> = {}) {
	const categories: Record<string, boolean> = {};
	const scores: Record<string, number> = {};
	for (const c of CATEGORIES) {
		scores[c] = flags[c] ?? 0.0001;
		categories[c] = (flags[c] ?? 0) >= 0.5;
	}
	return { id: "modr-1", model: "omni-moderation-latest", results: [{ flagged: Object.values(categories).some(Boolean), categories, category_scores: scores, category_applied_input_types: {} }] };
}

const KEY = "sk-test-SECRET-123456";

function startFake(): Promise<{ url: string; seen: Seen[]; queue: Reply[]; close(): Promise<void> }> {
	const seen: Seen[] = [];
	const queue: Reply[] = [];
	const server: Server = createServer((req, res: ServerResponse) => {
		const chunks: Buffer[] = [];
		req.on("data", c => chunks.push(c as Buffer));
		req.on("end", () => {
			const raw = Buffer.concat(chunks).toString("utf8");
			let body: any = null;
			try {
				body = JSON.parse(raw);
			} catch {
				body = raw;
			}
			seen.push({ method: req.method!, path: req.url!, headers: req.headers, body });
			const send = (status: number, text: string, headers: Record<string, string> = {}) => {
				if (res.destroyed) return;
				res.writeHead(status, { "content-type": "application/json", ...headers });
				res.end(text);
			};
			const reply = queue.shift();
			const answer = () => {
				if (reply?.text !== undefined) return send(reply.status ?? 200, reply.text, reply.headers);
				if (reply?.json !== undefined || reply?.status) return send(reply.status ?? 200, JSON.stringify(reply.json ?? {}), reply.headers);
				if (req.url !== "/v1/moderations" || req.method !== "POST") return send(404, JSON.stringify({ error: { message: "not found", type: "invalid_request_error", code: "not_found" } }));
				if (req.headers.authorization !== `Bearer ${KEY}`) return send(401, JSON.stringify({ error: { message: `Incorrect API key provided: ${req.headers.authorization}`, type: "invalid_request_error", code: "invalid_api_key" } }));
				if (typeof body?.input !== "string" || typeof body?.model !== "string") return send(400, JSON.stringify({ error: { message: "input and model required", type: "invalid_request_error", code: null } }));
				send(200, JSON.stringify(moderation()));
			};
			if (reply?.delayMs) {
				const t = setTimeout(answer, reply.delayMs);
				res.once("close", () => clearTimeout(t));
			} else answer();
		});
	});
	return new Promise(resolve =>
		server.listen(0, "127.0.0.1", () => {
			const { port } = server.address() as AddressInfo;
			resolve({
				url: `http://127.0.0.1:${port}/v1`,
				seen,
				queue,
				close: () =>
					new Promise<void>(r => {
						server.closeAllConnections();
						server.close(() => r());
					})
			});
		})
	);
}

describe("remote moderation (OpenAI-compatible /moderations)", () => {
	let fake: Awaited<ReturnType<typeof startFake>>;
	let settings: ModerationSettings;
	beforeAll(async () => {
		fake = await startFake();
	});
	afterAll(() => fake.close());
	beforeEach(() => {
		fake.seen.length = 0;
		fake.queue.length = 0;
		settings = { baseUrl: fake.url, apiKey: KEY, model: "omni-moderation-latest", timeoutMs: 2000, maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 };
	});

	it("sends {model, input} with the bearer key; a benign text gives no findings", async () => {
		const r = await moderateRemote("I love hiking and baking.", settings);
		expect(r).toMatchObject({ ok: true, flagged: false, findings: [], self_harm: false, block: false });
		expect(fake.seen).toHaveLength(1);
		expect(fake.seen[0]).toMatchObject({ method: "POST", path: "/v1/moderations", body: { model: "omni-moderation-latest", input: "I love hiking and baking." } });
		expect(fake.seen[0].headers.authorization).toBe(`Bearer ${KEY}`);
	});

	it("maps flagged categories to findings with severities; threatening/intent/minors are high and block or set self_harm", async () => {
		fake.queue.push({ json: moderation({ harassment: 0.62, "harassment/threatening": 0.55, "self-harm/intent": 0.9, sexual: 0.97, "sexual/minors": 0.51 }) });
		const r = await moderateRemote("…", settings);
		const by = Object.fromEntries(r.findings.map(f => [f.message.match(/flagged (\S+)/)![1], f]));
		expect(by["harassment"]).toMatchObject({ category: "toxicity.harassment", severity: "medium", span: null });
		expect(by["harassment/threatening"]).toMatchObject({ category: "toxicity.threat", severity: "high" });
		expect(by["self-harm/intent"]).toMatchObject({ category: "self_harm", severity: "high" });
		expect(by["sexual"]).toMatchObject({ category: "sexual", severity: "high" });
		expect(by["sexual/minors"]).toMatchObject({ category: "sexual.minors", severity: "high" });
		expect(r).toMatchObject({ ok: true, flagged: true, self_harm: true, block: true });
	});

	it("takes scores at or above the threshold when a server sends scores only", async () => {
		fake.queue.push({ json: { results: [{ category_scores: { hate: 0.85, violence: 0.3, "custom/thing": 0.95 } }] } });
		const r = await moderateRemote("…", settings);
		expect(r.findings.map(f => f.category).sort()).toEqual(["moderation.custom_thing", "toxicity.hate"]);
		expect(r.findings.find(f => f.category === "toxicity.hate")).toMatchObject({ severity: "high" });
	});

	it("429 then success: retried (Retry-After honoured), the result is used", async () => {
		fake.queue.push({ status: 429, headers: { "retry-after": "0" }, json: { error: { message: "Rate limit", type: "requests", code: "rate_limit_exceeded" } } });
		fake.queue.push({ json: moderation({ hate: 0.91 }) });
		const r = await moderateRemote("…", settings);
		expect(fake.seen).toHaveLength(2);
		expect(r).toMatchObject({ ok: true, flagged: true, block: true });
		expect(r.findings).toEqual([expect.objectContaining({ category: "toxicity.hate", severity: "high" })]);
	});

	it("500 on every attempt: one low-severity moderation.unavailable finding, and the local verdict stands", async () => {
		for (let i = 0; i < 3; i++) fake.queue.push({ status: 500, json: { error: { message: "boom", type: "server_error", code: "server_error" } } });
		const r = await moderateRemote("…", settings);
		expect(fake.seen).toHaveLength(3);
		expect(r).toMatchObject({ ok: false, flagged: false, self_harm: false, block: false });
		expect(r.findings).toEqual([expect.objectContaining({ category: "moderation.unavailable", severity: "low", span: null })]);
		expect(r.error).toMatch(/HTTP 500/);
		const local = checkInput("I want to kill myself", {});
		const merged = mergeModeration(local, r);
		expect(merged).toMatchObject({ text: local.text, blocked: local.blocked, self_harm: true });
		expect(merged.findings).toEqual([...local.findings, ...r.findings]);
	});

	it("malformed JSON and an unexpected shape are unavailable, not a crash", async () => {
		fake.queue.push({ text: '{"results": [ {"flagged": tru' });
		const bad = await moderateRemote("…", settings);
		expect(bad).toMatchObject({ ok: false, error: "moderation: invalid JSON" });
		fake.queue.push({ json: { results: [] } });
		const empty = await moderateRemote("…", settings);
		expect(empty).toMatchObject({ ok: false, error: "moderation: unexpected reply shape" });
		fake.queue.push({ json: { results: [{ categories: { hate: "yes" } }] } });
		expect(await moderateRemote("…", settings)).toMatchObject({ ok: false });
	});

	it("a slow server times out within the deadline", async () => {
		fake.queue.push({ delayMs: 3000, json: moderation() });
		const t = Date.now();
		const r = await moderateRemote("…", { ...settings, timeoutMs: 200, maxAttempts: 1 });
		expect(Date.now() - t).toBeLessThan(1500);
		expect(r).toMatchObject({ ok: false });
		expect(r.error).toMatch(/timeout/);
		expect(r.findings[0]).toMatchObject({ category: "moderation.unavailable", severity: "low" });
	});

	it("a 401 is not retried and the key never appears in the result", async () => {
		const r = await moderateRemote("…", { ...settings, apiKey: "sk-wrong-KEY-999999" });
		expect(fake.seen).toHaveLength(1);
		expect(r).toMatchObject({ ok: false });
		expect(r.error).toMatch(/401 invalid_api_key/);
		expect(JSON.stringify(r)).not.toContain("sk-wrong-KEY-999999");
	});

	it("checkInputModerated sends only the redacted text, and skips the call for blocked input", async () => {
		fake.queue.push({ json: moderation({ harassment: 0.7 }) });
		const v = await checkInputModerated("Write to jane.doe@example.com or +44 20 7946 0958, you idiot", { minLength: 10, moderation: settings });
		expect(fake.seen).toHaveLength(1);
		expect(fake.seen[0].body.input).toBe("Write to [email] or [phone], you idiot");
		expect(JSON.stringify(fake.seen[0].body)).not.toMatch(/jane|7946/);
		expect(v.findings.map(f => f.category)).toEqual(expect.arrayContaining(["pii.email", "pii.phone", "toxicity.harassment"]));
		expect(v.findings.filter(f => f.category === "toxicity.harassment" && f.span === null)).toHaveLength(1);

		fake.seen.length = 0;
		const blocked = await checkInputModerated("short", { minLength: 10, moderation: settings });
		expect(blocked.blocked).toBe(true);
		expect(fake.seen).toHaveLength(0);
		const off = await checkInputModerated("A perfectly normal bio text.", { moderation: null });
		expect(off.findings).toEqual([]);
		expect(fake.seen).toHaveLength(0);
	});

	it("moderationSettings: null unless the provider is openai; reuses the LLM endpoint and key", () => {
		const llm = { baseUrl: "https://api.example.test/v1", apiKey: "k", timeoutMs: 1234, maxAttempts: 2 };
		expect(moderationSettings(llm, { provider: "none", model: "m" })).toBeNull();
		expect(moderationSettings(llm, { provider: "openai", model: "omni-moderation-latest" })).toEqual({
			baseUrl: "https://api.example.test/v1",
			apiKey: "k",
			model: "omni-moderation-latest",
			timeoutMs: 1234,
			maxAttempts: 2
		});
	});
});
