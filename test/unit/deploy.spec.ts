import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { CONFIG_VARIABLES, loadConfig } from "../../lib/config";

/**
 * The deployment files in docker/: the compose file (checked by docker-compose itself), every
 * Kubernetes manifest (checked offline against the API schemas), and that every variable they
 * set is one LifeMirror reads and accepts.
 */

const ROOT = path.join(__dirname, "..", "..");
const DOCKER = path.join(ROOT, "docker");
const K8S = path.join(DOCKER, "k8s");

type Manifest = { apiVersion: string; kind: string; metadata: { name: string }; spec?: any; data?: Record<string, string>; stringData?: Record<string, string> };

function manifests(): Manifest[] {
	return fs
		.readdirSync(K8S)
		.filter(f => f.endsWith(".yaml"))
		.sort()
		.flatMap(f => parseAllDocuments(fs.readFileSync(path.join(K8S, f), "utf8")).map(d => d.toJS() as Manifest))
		.filter(Boolean);
}

const SECRETS = { JWT_KEYS: "k1:0123456789abcdef0123456789abcdef", STORAGE_SIGNING_SECRET: "0123456789abcdef0123456789abcdef-storage", GRAFANA_ADMIN_PASSWORD: "x" };

describe("docker-compose.yml", () => {
	const file = path.join(DOCKER, "docker-compose.yml");
	const compose = parse(fs.readFileSync(file, "utf8"), { merge: true });

	function composeConfig(env: Record<string, string>) {
		return spawnSync("docker-compose", ["-f", file, "config", "-q"], { cwd: DOCKER, env: { PATH: process.env.PATH ?? "", ...env }, encoding: "utf8", timeout: 60_000 });
	}

	it("is valid for docker-compose (installed by .ci/run from Debian's docker-compose)", () => {
		const res = composeConfig(SECRETS);
		if (res.error) throw new Error(`docker-compose is not installed (apt-get install docker-compose): ${res.error.message}`);
		expect({ status: res.status, stderr: res.stderr }).toEqual({ status: 0, stderr: "" });
	});

	it("refuses to start without the secrets instead of running with defaults", () => {
		const res = composeConfig({ GRAFANA_ADMIN_PASSWORD: "x" });
		expect(res.status).not.toBe(0);
		expect(res.stderr).toMatch(/JWT_KEYS/);
	});

	it("runs redis, mongo, a gateway, two workers, prometheus and grafana on named volumes", () => {
		expect(Object.keys(compose.services).sort()).toEqual(["gateway", "grafana", "mongo", "prometheus", "redis", "worker"]);
		expect(compose.services.gateway.environment.ROLE).toBe("gateway");
		expect(compose.services.worker.environment.ROLE).toBe("worker");
		expect(compose.services.worker.deploy.replicas).toBe(2);
		for (const svc of Object.values<any>(compose.services))
			for (const v of svc.volumes ?? []) {
				const source = String(v).split(":")[0];
				if (source.startsWith(".")) expect(fs.existsSync(path.join(DOCKER, source))).toBe(true);
				else expect(Object.keys(compose.volumes)).toContain(source);
			}
	});

	it("sets only variables LifeMirror reads, and values its config accepts", () => {
		for (const name of ["gateway", "worker"]) {
			const env = Object.fromEntries(
				Object.entries<string>(compose.services[name].environment).map(([k, v]) => [k, String(v).replace(/\$\{(\w+)(?::?[-?][^}]*)?\}/g, (_m, n: string) => (SECRETS as Record<string, string>)[n] ?? (/:-([^}]*)\}/.exec(String(v))?.[1] ?? ""))])
			);
			expect(Object.keys(env).filter(k => !CONFIG_VARIABLES.includes(k) && k !== "NODE_ENV")).toEqual([]);
			expect(() => loadConfig(env)).not.toThrow();
		}
	});

	it("has an .env.example naming every variable the compose file requires", () => {
		const example = fs.readFileSync(path.join(DOCKER, ".env.example"), "utf8");
		const required = [...fs.readFileSync(file, "utf8").matchAll(/\$\{(\w+):\?/g)].map(m => m[1]);
		for (const name of new Set(required)) expect(example).toMatch(new RegExp(`^${name}=`, "m"));
	});
});

describe("Kubernetes manifests", () => {
	const docs = manifests();
	const byKind = (kind: string) => docs.filter(d => d.kind === kind);

	it("all validate against the Kubernetes API schemas (offline, kubernetes-models)", () => {
		const res = spawnSync(process.execPath, [path.join(ROOT, "test", "helpers", "validate-k8s.mjs")], { input: JSON.stringify(docs), encoding: "utf8", cwd: ROOT, timeout: 60_000 });
		expect(res.stderr).toBe("");
		const results = JSON.parse(res.stdout) as { kind: string; name: string; error: string | null }[];
		expect(results.length).toBe(docs.length);
		expect(results.filter(r => r.error)).toEqual([]);
	});

	it("the validator does catch a broken manifest", () => {
		const broken = { ...byKind("Deployment")[0], spec: { ...byKind("Deployment")[0].spec, replicas: "two" } };
		const res = spawnSync(process.execPath, [path.join(ROOT, "test", "helpers", "validate-k8s.mjs")], { input: JSON.stringify([broken]), encoding: "utf8", cwd: ROOT });
		expect(JSON.parse(res.stdout)[0].error).toMatch(/replicas/);
	});

	it("has gateway and worker Deployments, a Service, an Ingress, a ConfigMap, a Secret without values, PDBs and a worker HPA", () => {
		expect(byKind("Deployment").map(d => d.metadata.name).sort()).toEqual(["lifemirror-gateway", "lifemirror-worker"]);
		expect(byKind("Service")).toHaveLength(1);
		expect(byKind("Ingress")).toHaveLength(1);
		expect(byKind("PodDisruptionBudget")).toHaveLength(2);
		const [secret] = byKind("Secret");
		expect(Object.values(secret.stringData ?? {}).every(v => v === "")).toBe(true);
		const [hpa] = byKind("HorizontalPodAutoscaler");
		expect(hpa.spec.scaleTargetRef.name).toBe("lifemirror-worker");
		expect(hpa.spec.metrics.map((m: { type: string }) => m.type).sort()).toEqual(["External", "Resource"]);
	});

	it("every container has probes on /health and /ready (gateway) or its metrics port (worker), and resource requests and limits", () => {
		for (const d of byKind("Deployment")) {
			for (const c of d.spec.template.spec.containers) {
				expect(c.resources.requests.cpu).toBeDefined();
				expect(c.resources.requests.memory).toBeDefined();
				expect(c.resources.limits.memory).toBeDefined();
				expect(c.livenessProbe.httpGet.path).toBeDefined();
				expect(c.readinessProbe.httpGet.path).toBeDefined();
				if (d.metadata.name.endsWith("gateway")) {
					expect(c.livenessProbe.httpGet.path).toBe("/health");
					expect(c.readinessProbe.httpGet.path).toBe("/ready");
				}
			}
		}
	});

	it("the ConfigMap, the Secret and each Deployment's env make a config LifeMirror accepts", () => {
		const [cm] = byKind("ConfigMap");
		const [secret] = byKind("Secret");
		for (const d of byKind("Deployment")) {
			const env: Record<string, string> = { ...cm.data };
			for (const k of Object.keys(secret.stringData ?? {})) env[k] = (SECRETS as Record<string, string>)[k] ?? "filled-in-at-deploy-time";
			for (const e of d.spec.template.spec.containers[0].env) env[e.name] = e.value;
			expect(Object.keys(env).filter(k => !CONFIG_VARIABLES.includes(k) && k !== "NODE_ENV")).toEqual([]);
			expect(() => loadConfig(env)).not.toThrow();
		}
	});
});
