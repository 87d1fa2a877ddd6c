import fs from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { allServices, http, startNode, type TestNode } from "../helpers/node";
import { registerUser } from "../factories/users";
import { realPhoto, uploadForm } from "../factories/images";

/**
 * The Grafana dashboard and the Prometheus alert rules read metrics by name: after a real
 * analysis, every name they use must be in a scrape of GET /metrics (a renamed metric would
 * leave an empty panel or an alert that can never fire).
 */

const DOCKER = path.join(__dirname, "..", "..", "docker");
/** Series Prometheus makes up itself (not exported by any target). */
const SYNTHETIC = new Set(["up"]);
const PROMQL_WORDS = new Set(["sum", "rate", "increase", "max", "min", "by", "le", "histogram_quantile", "clamp_min", "avg", "without", "on", "and", "or", "unless", "count"]);

/** Metric names in a PromQL expression: identifiers followed by `{`, `[`, `)` or the end, not functions or labels. */
function metricNames(expr: string): string[] {
	const noStrings = expr.replace(/"[^"]*"/g, '""').replace(/\{[^}]*\}/g, "{}");
	const out = new Set<string>();
	for (const m of noStrings.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)) {
		const name = m[1];
		if (PROMQL_WORDS.has(name) || /^\d/.test(name)) continue;
		// Labels inside `by (...)` are not metrics.
		const before = noStrings.slice(0, m.index);
		if (/\bby\s*\([^)]*$/.test(before)) continue;
		out.add(name);
	}
	return [...out];
}

function dashboardExprs(): string[] {
	const dash = JSON.parse(fs.readFileSync(path.join(DOCKER, "grafana", "dashboards", "lifemirror.json"), "utf8"));
	return dash.panels.flatMap((p: { targets: { expr: string }[] }) => p.targets.map(t => t.expr));
}

function alertExprs(): string[] {
	const rules = parse(fs.readFileSync(path.join(DOCKER, "prometheus", "alerts.yml"), "utf8"));
	return rules.groups.flatMap((g: { rules: { expr: string }[] }) => g.rules.map(r => String(r.expr)));
}

describe("dashboard and alert metrics", () => {
	let node: TestNode;
	let exported: Set<string>;

	beforeAll(async () => {
		node = await startNode({ services: allServices(), env: { VISION_THREADS: "1" } });
		const request = http(node.url);
		const user = await registerUser(request);
		const up = await uploadForm(node.url, user.access_token, await realPhoto());
		expect(up.status).toBe(200);
		const analysed = await request("POST", "/analysis/analyze", { token: user.access_token, body: { media_id: up.body.media_id } });
		expect(analysed.status).toBe(200);
		const text = (await request("GET", "/metrics")).text as string;
		exported = new Set([...text.matchAll(/^# TYPE (\S+) (\w+)/gm)].map(m => m[1]));
	}, 90_000);
	afterAll(() => node?.stop());

	it("reads metric names out of PromQL", () => {
		expect(metricNames('histogram_quantile(0.95, sum by (le, route) (rate(a_b_bucket{status=~"5.."}[5m]))) / clamp_min(sum(rate(c_total[1m])), 1e-9)').sort()).toEqual(["a_b_bucket", "c_total"]);
	});

	it("the dashboard and the alerts have queries", () => {
		expect(dashboardExprs().length).toBeGreaterThanOrEqual(10);
		expect(alertExprs().length).toBeGreaterThanOrEqual(5);
	});

	it("every metric the dashboard and the alerts use is exported by GET /metrics", () => {
		const used = new Set([...dashboardExprs(), ...alertExprs()].flatMap(metricNames));
		const missing = [...used]
			.filter(n => !SYNTHETIC.has(n))
			.map(n => n.replace(/_(bucket|count|sum)$/, ""))
			.filter(n => !exported.has(n));
		expect(missing).toEqual([]);
	});

	it("never exports the process's command line (it can carry paths and secrets)", async () => {
		const text = (await http(node.url)("GET", "/metrics")).text as string;
		expect(text).toMatch(/^process_memory_rss /m);
		expect(text).not.toMatch(/process_arguments/);
	});

	it("counts HTTP requests per route pattern, not per raw URL", async () => {
		const text = (await http(node.url)("GET", "/metrics")).text as string;
		expect(text).toMatch(/lifemirror_http_requests_total\{method="POST",route="\/analysis\/analyze",status="200"\} 1/);
		expect(text).not.toMatch(/route="\/media\/[0-9a-zA-Z]{10,}/);
	});
});
