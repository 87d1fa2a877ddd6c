import type { Role } from "./config";

/**
 * Which services a node runs. `SERVICES` (a list of names such as `api,users` or
 * `agents/face`) wins; otherwise the `ROLE` preset: `gateway` is the HTTP gateway with
 * every data-owning and social service, `worker` every stateless agent, the vision pass and the
 * orchestrator's job workers, `all` everything (embedded mode).
 */
export function isWorkerService(name: string): boolean {
	return name.startsWith("agents/") || name === "orchestrator" || name === "vision";
}

export function selectServices(available: string[], role: Role, explicit: string[] | null): string[] {
	if (explicit) {
		const unknown = explicit.filter(n => !available.includes(n));
		if (unknown.length) throw new Error(`SERVICES names unknown services: ${unknown.join(", ")} (known: ${available.join(", ")})`);
		return explicit;
	}
	if (role === "gateway") return available.filter(n => !isWorkerService(n));
	if (role === "worker") return available.filter(isWorkerService);
	return available;
}
