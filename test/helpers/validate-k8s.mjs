// Validates Kubernetes manifests against the API schemas of the kubernetes-models packages,
// offline. Run by test/unit/deploy.spec.ts as a plain Node process (the packages are ESM).
// Input on stdin: a JSON array of manifests; output: a JSON array of {kind, name, error}.
const MODELS = {
	"v1/ConfigMap": "kubernetes-models/v1/ConfigMap",
	"v1/Secret": "kubernetes-models/v1/Secret",
	"v1/Service": "kubernetes-models/v1/Service",
	"apps/v1/Deployment": "kubernetes-models/apps/v1/Deployment",
	"networking.k8s.io/v1/Ingress": "kubernetes-models/networking.k8s.io/v1/Ingress",
	"policy/v1/PodDisruptionBudget": "kubernetes-models/policy/v1/PodDisruptionBudget",
	"autoscaling/v2/HorizontalPodAutoscaler": "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler"
};

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = [];
for (const doc of JSON.parse(input)) {
	const id = `${doc.apiVersion}/${doc.kind}`;
	const name = doc.metadata?.name ?? "(unnamed)";
	const module = MODELS[id];
	if (!module) {
		results.push({ kind: id, name, error: `no schema known for ${id}` });
		continue;
	}
	const exported = await import(module);
	const Model = exported[doc.kind];
	try {
		new Model(doc).validate();
		results.push({ kind: id, name, error: null });
	} catch (err) {
		results.push({ kind: id, name, error: String(err?.message ?? err) });
	}
}
process.stdout.write(JSON.stringify(results));
