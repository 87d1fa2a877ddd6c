import { ALIASES } from "../../services/api.service";
import { buildOpenApi, routesOf } from "../../lib/openapi";
import { allServices, http, startNode, type TestNode } from "../helpers/node";


type Doc = { openapi: string; paths: Record<string, Record<string, any>>; components: any };

describe("OpenAPI document and API docs", () => {
	let node: TestNode;
	let doc: Doc;
	beforeAll(async () => {
		node = await startNode({ services: allServices(), env: { VISION_THREADS: "1" } });
		const res = await http(node.url)("GET", "/openapi.json");
		expect(res.status).toBe(200);
		doc = res.body;
	}, 60_000);
	afterAll(() => node?.stop());

	it("is OpenAPI 3.1 with the error body and bearer auth", () => {
		expect(doc.openapi).toBe("3.1.0");
		expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
		expect(doc.components.schemas.Error.required).toEqual(["error", "error_code", "details", "timestamp"]);
	});

	it("documents exactly the gateway's route table: nothing undocumented, nothing extra", () => {
		// moleculer-web's own alias list: what the server actually routes.
		const api = node.broker.getLocalService("api") as unknown as { aliases: { method: string; path: string }[] };
		const served = api.aliases
			.map(a => `${a.method} ${`/${a.path}`.replace(/^\/\//, "/").replace(/[:*]([A-Za-z_][A-Za-z0-9_]*)/g, "{$1}").replace(/(.)\/$/, "$1")}`)
			.sort();
		const documented = Object.entries(doc.paths)
			.flatMap(([p, ops]) => Object.keys(ops).map(m => `${m.toUpperCase()} ${p}`))
			.sort();
		expect(served.length).toBeGreaterThan(20);
		expect(documented).toEqual(served);
	});

	it("has a live action behind every route, each with its input schema", () => {
		const offered = new Set(node.broker.registry.getActionList({ skipInternal: true }).map((a: { name: string }) => a.name));
		for (const route of routesOf(ALIASES)) {
			expect({ route: `${route.method} ${route.path}`, offered: offered.has(route.action) }).toEqual({ route: `${route.method} ${route.path}`, offered: true });
			const op = doc.paths[route.path][route.method.toLowerCase()];
			expect(op["x-moleculer-action"]).toBe(route.action);
		}
	});

	it("turns zod schemas into body, path and query parameters", () => {
		const register = doc.paths["/auth/register"].post;
		const body = register.requestBody.content["application/json"].schema;
		expect(body.required).toEqual(expect.arrayContaining(["email", "password"]));
		expect(body.properties.email.type).toBe("string");
		expect(register.security).toEqual([]);
		const list = doc.paths["/media"].get;
		expect(list.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`)).toEqual(expect.arrayContaining(["query:limit", "query:offset"]));
		expect(list.parameters.find((p: { name: string }) => p.name === "limit").schema).toMatchObject({ maximum: 100 });
		const get = doc.paths["/media/{id}"].get;
		expect(get.parameters).toEqual([expect.objectContaining({ name: "id", in: "path", required: true })]);
		expect(get.security).toBeUndefined();
		expect(doc.paths["/media/upload"].post.requestBody.content["multipart/form-data"]).toBeDefined();
		const analyze = doc.paths["/analysis/analyze"].post.requestBody.content["application/json"].schema;
		expect(Object.keys(analyze.properties.user_consent.anyOf?.[0]?.properties ?? analyze.properties.user_consent.properties)).toContain("biometric_analysis");
	});

	it("serves Swagger UI from the npm package, with no inline script", async () => {
		const request = http(node.url);
		const page = await request("GET", "/docs");
		expect(page.status).toBe(200);
		expect(page.headers.get("content-type")).toMatch(/text\/html/);
		expect(String(page.body)).not.toMatch(/<script>[^<]/);
		for (const src of String(page.body).match(/\/docs\/assets\/[A-Za-z0-9.-]+/g) ?? []) {
			const asset = await fetch(`${node.url}${src}`);
			expect({ src, status: asset.status }).toEqual({ src, status: 200 });
			await asset.arrayBuffer();
		}
		const css = await fetch(`${node.url}/docs/assets/swagger-ui.css`);
		expect(css.headers.get("content-type")).toMatch(/text\/css/);
		expect((await css.text()).length).toBeGreaterThan(1000);
	});

	it("serves ReDoc from the npm package at /redoc, with no inline script and no CDN", async () => {
		const request = http(node.url);
		const page = await request("GET", "/redoc");
		expect(page.status).toBe(200);
		expect(page.headers.get("content-type")).toMatch(/text\/html/);
		const html = String(page.body);
		expect(html).not.toMatch(/<script>[^<]/);
		expect(html).not.toMatch(/https?:\/\//);
		const srcs = html.match(/\/redoc\/assets\/[A-Za-z0-9.-]+/g) ?? [];
		expect(srcs).toEqual(["/redoc/assets/redoc.standalone.js", "/redoc/assets/init.js"]);
		for (const src of srcs) {
			const asset = await fetch(`${node.url}${src}`);
			expect({ src, status: asset.status, type: asset.headers.get("content-type") }).toEqual({ src, status: 200, type: expect.stringMatching(/javascript/) });
			await asset.arrayBuffer();
		}
		const bundle = await (await fetch(`${node.url}/redoc/assets/redoc.standalone.js`)).text();
		expect(bundle.length).toBeGreaterThan(500_000);
		expect(bundle).toContain("Redoc");
		expect(await (await fetch(`${node.url}/redoc/assets/init.js`)).text()).toMatch(/Redoc\.init\("\/openapi\.json"/);
		for (const name of ["package.json", "redoc.standalone.js.map", "..%2Fpackage.json", "swagger-ui.css"]) {
			const res = await request("GET", `/redoc/assets/${name}`);
			expect({ name, client_error: res.status >= 400 && res.status < 500, error_code: typeof res.body?.error_code }).toEqual({ name, client_error: true, error_code: "string" });
		}
	});

	it("refuses any other file under /docs/assets", async () => {
		const request = http(node.url);
		for (const name of ["package.json", "..%2F..%2Fpackage.json", "swagger-ui.css.map", "%00", "a".repeat(300)]) {
			const res = await request("GET", `/docs/assets/${name}`);
			expect({ name, status: res.status }).toEqual({ name, status: expect.any(Number) });
			expect(res.status).toBeGreaterThanOrEqual(400);
			expect(res.status).toBeLessThan(500);
			expect(res.body).toHaveProperty("error_code");
		}
	});
});

describe("buildOpenApi", () => {
	it("lists a route whose action no node offers, without parameters", () => {
		const out = buildOpenApi({ "GET /things/:id": "things.get" }, new Map(), { title: "t", version: "1" }) as Doc;
		expect(out.paths["/things/{id}"].get.parameters).toEqual([{ name: "id", in: "path", required: true, schema: { type: "string" } }]);
	});

	it("marks stream uploads as binary bodies and optional auth as either", () => {
		const out = buildOpenApi(
			{ "PUT /up/*key": "stream:store.put", "GET /feed": "feed.list" },
			new Map([["feed.list", { auth: "optional" as const, rateClass: "public" }]]),
			{ title: "t", version: "1" }
		) as Doc;
		expect(out.paths["/up/{key}"].put.requestBody.content["application/octet-stream"]).toBeDefined();
		expect(out.paths["/feed"].get.security).toEqual([{}, { bearer: [] }, { apiKey: [] }]);
		expect(out.paths["/feed"].get["x-rate-class"]).toBe("public");
	});
});
