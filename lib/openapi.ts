/**
 * The OpenAPI 3.1 document of the HTTP API, built from the gateway's alias table and the JSON
 * Schemas the zod validator records on every action (`inputSchema`, see lib/validator.ts).
 * Nothing is written by hand: a route added to the table appears here with its parameters.
 */

/** What the document needs of an action, as the registry holds it (any node's). */
export interface ActionDoc {
	inputSchema?: Record<string, unknown>;
	auth?: "required" | "optional" | "none";
	rateClass?: string;
	roles?: string[];
	summary?: string;
}

export interface Route {
	method: string;
	/** OpenAPI path, `{id}` for `:id`, `{key}` for `*key`. */
	path: string;
	action: string;
	/** `multipart` and `stream` aliases take a file, not JSON. */
	kind: "json" | "multipart" | "stream";
	pathParams: string[];
}

/** The alias table as routes: `"POST /media/upload": "multipart:media.upload"` → one Route. */
export function routesOf(aliases: Record<string, string>): Route[] {
	return Object.entries(aliases).map(([key, target]) => {
		const [method, rawPath] = key.split(" ");
		const [kind, action] = target.includes(":") ? (target.split(":") as [Route["kind"], string]) : (["json", target] as const);
		const pathParams: string[] = [];
		const path = rawPath.replace(/[:*]([A-Za-z_][A-Za-z0-9_]*)/g, (_m, name: string) => {
			pathParams.push(name);
			return `{${name}}`;
		});
		return { method: method.toUpperCase(), path: path.length > 1 ? path.replace(/\/$/, "") : path, action, kind, pathParams };
	});
}

const ErrorBody = {
	type: "object",
	required: ["error", "error_code", "details", "timestamp"],
	properties: {
		error: { type: "string" },
		error_code: { type: "string" },
		details: { type: "object" },
		timestamp: { type: "string", format: "date-time" },
		detail: { type: "string", description: "The same message as `error`, for FastAPI-style clients." }
	}
};

const ERROR_RESPONSES: Record<string, string> = {
	"400": "Malformed request (for example invalid JSON)",
	"401": "Missing, expired or invalid access token",
	"403": "Not allowed",
	"404": "Not found (also another user's resource)",
	"413": "Request too large",
	"415": "Unsupported content type",
	"422": "Validation failed: `details.validation_errors[{field, message}]`",
	"429": "Rate limited: see `Retry-After`"
};

type Schema = Record<string, unknown>;

function propertiesOf(schema: Schema | undefined): { props: Record<string, Schema>; required: string[] } {
	const props = (schema?.properties as Record<string, Schema> | undefined) ?? {};
	return { props, required: (schema?.required as string[] | undefined) ?? [] };
}

function operation(route: Route, doc: ActionDoc | undefined): Schema {
	const input = doc?.inputSchema;
	const { props, required } = propertiesOf(input);
	const parameters: Schema[] = route.pathParams.map(name => ({
		name,
		in: "path",
		required: true,
		schema: props[name] ?? { type: "string" }
	}));
	const op: Schema = {
		operationId: `${route.action}:${route.method.toLowerCase()}:${route.path}`,
		summary: doc?.summary ?? route.action,
		tags: [route.path.split("/")[1] || "root"],
		"x-moleculer-action": route.action
	};
	const bodyless = route.method === "GET" || route.method === "DELETE";
	const rest = Object.entries(props).filter(([name]) => !route.pathParams.includes(name));
	if (bodyless) {
		for (const [name, schema] of rest) parameters.push({ name, in: "query", required: required.includes(name), schema });
	} else if (route.kind === "multipart") {
		op.requestBody = {
			required: true,
			content: { "multipart/form-data": { schema: { type: "object", required: ["file"], properties: { file: { type: "string", format: "binary" } } } } }
		};
	} else if (route.kind === "stream") {
		op.requestBody = { required: true, content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } } };
	} else if (rest.length || input) {
		const body: Schema = { ...(input ?? { type: "object" }) };
		body.properties = Object.fromEntries(rest);
		body.required = required.filter(n => !route.pathParams.includes(n));
		if (!(body.required as string[]).length) delete body.required;
		op.requestBody = { required: (body.required as string[] | undefined)?.length ? true : false, content: { "application/json": { schema: body } } };
	}
	if (parameters.length) op.parameters = parameters;
	const auth = doc?.auth ?? "required";
	if (auth === "none") op.security = [];
	else if (auth === "optional") op.security = [{}, { bearer: [] }, { apiKey: [] }];
	if (doc?.rateClass) op["x-rate-class"] = doc.rateClass;
	if (doc?.roles?.length) op["x-roles"] = doc.roles;
	op.responses = {
		"200": { description: "Success" },
		...Object.fromEntries(
			Object.entries(ERROR_RESPONSES)
				.filter(([code]) => auth !== "none" || code !== "401")
				.map(([code, description]) => [code, { description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } }])
		)
	};
	return op;
}

export interface OpenApiOptions {
	title: string;
	version: string;
	serverUrl?: string;
}

/** The document: one operation per alias; an alias whose action no node offers right now is still listed, without parameters. */
export function buildOpenApi(aliases: Record<string, string>, actions: Map<string, ActionDoc>, opts: OpenApiOptions): Schema {
	const paths: Record<string, Record<string, Schema>> = {};
	for (const route of routesOf(aliases)) {
		paths[route.path] ??= {};
		paths[route.path][route.method.toLowerCase()] = operation(route, actions.get(route.action));
	}
	return {
		openapi: "3.1.0",
		info: {
			title: opts.title,
			version: opts.version,
			description: "LifeMirror: AI self-perception analysis. Errors everywhere have the body `{error, error_code, details, timestamp}`."
		},
		...(opts.serverUrl ? { servers: [{ url: opts.serverUrl }] } : {}),
		security: [{ bearer: [] }, { apiKey: [] }],
		paths,
		components: {
			securitySchemes: {
				bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "An access token from /auth/login, or an API key (`lm_…`) as the bearer" },
				apiKey: { type: "apiKey", in: "header", name: "X-API-Key", description: "An API key from POST /auth/api-keys (scoped; see the README)" }
			},
			schemas: { Error: ErrorBody }
		}
	};
}
