import { isWorkerService, selectServices } from "../../lib/roles";

const AVAILABLE = [
	"api",
	"users",
	"auth",
	"media",
	"analyses",
	"feed",
	"orchestrator",
	"agents/face",
	"agents/fashion",
	"agents/posture"
];
const WORKERS = ["orchestrator", "agents/face", "agents/fashion", "agents/posture"];
const GATEWAY = ["api", "users", "auth", "media", "analyses", "feed"];

describe("isWorkerService", () => {
	it("is true for agents and the orchestrator only", () => {
		for (const n of WORKERS) expect(isWorkerService(n)).toBe(true);
		for (const n of GATEWAY) expect(isWorkerService(n)).toBe(false);
		// Only the folder prefix counts, not a similar name.
		expect(isWorkerService("agents")).toBe(false);
		expect(isWorkerService("orchestrator-ui")).toBe(false);
	});
});

describe("selectServices", () => {
	it("ROLE=all runs everything", () => {
		expect(selectServices(AVAILABLE, "all", null)).toEqual(AVAILABLE);
	});

	it("ROLE=gateway runs the api and every data-owning and social service, no workers", () => {
		expect(selectServices(AVAILABLE, "gateway", null)).toEqual(GATEWAY);
	});

	it("ROLE=worker runs every agent and the orchestrator, nothing else", () => {
		expect(selectServices(AVAILABLE, "worker", null)).toEqual(WORKERS);
	});

	it("gateway and worker together cover every service exactly once", () => {
		const both = [...selectServices(AVAILABLE, "gateway", null), ...selectServices(AVAILABLE, "worker", null)];
		expect(both.sort()).toEqual([...AVAILABLE].sort());
	});

	it("an explicit SERVICES list wins over the role", () => {
		expect(selectServices(AVAILABLE, "worker", ["api", "users"])).toEqual(["api", "users"]);
		expect(selectServices(AVAILABLE, "gateway", ["agents/face"])).toEqual(["agents/face"]);
	});

	it("refuses unknown names, naming them and the known ones", () => {
		expect(() => selectServices(AVAILABLE, "all", ["api", "nope", "agents/ghost"])).toThrow(
			/SERVICES names unknown services: nope, agents\/ghost \(known: api, users/
		);
	});

	it("does not modify the list it is given", () => {
		const copy = [...AVAILABLE];
		selectServices(AVAILABLE, "gateway", null);
		selectServices(AVAILABLE, "worker", null);
		expect(AVAILABLE).toEqual(copy);
	});
});
