import fs from "node:fs";
import path from "node:path";
import type { Context, ServiceSchema } from "moleculer";
import { z } from "zod";
import { config } from "../lib/config";
import { buildOpenApi, type ActionDoc } from "../lib/openapi";
import { PACKAGE_VERSION } from "../lib/version";
import { ALIASES } from "./api.service";

/**
 * API documentation: `GET /openapi.json` built from the alias table and every action's zod
 * schema (on any node), and two viewers over it served from npm packages (no CDN), each an
 * HTML page plus a whitelist of files, the page's own script included (no inline script):
 * Swagger UI at `/docs` (swagger-ui-dist), ReDoc at `/redoc` (redoc's standalone bundle).
 */

interface Asset {
	/** A file of the package, or the page's own script. */
	file: string | { text: string };
	type: string;
}

interface Viewer {
	page: string;
	assets: Record<string, Asset>;
}

const JS = "text/javascript; charset=utf-8";
const SWAGGER = path.dirname(require.resolve("swagger-ui-dist/package.json"));
const REDOC = path.dirname(require.resolve("redoc/package.json"));

const VIEWERS: Record<"docs" | "redoc", Viewer> = {
	docs: {
		page: `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>LifeMirror API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"><link rel="icon" href="/docs/assets/favicon-32x32.png"></head>
<body><div id="swagger-ui"></div><script src="/docs/assets/swagger-ui-bundle.js"></script><script src="/docs/assets/init.js"></script></body></html>
`,
		assets: {
			"swagger-ui.css": { file: path.join(SWAGGER, "swagger-ui.css"), type: "text/css; charset=utf-8" },
			"swagger-ui-bundle.js": { file: path.join(SWAGGER, "swagger-ui-bundle.js"), type: JS },
			"favicon-32x32.png": { file: path.join(SWAGGER, "favicon-32x32.png"), type: "image/png" },
			"init.js": { file: { text: `window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });\n` }, type: JS }
		}
	},
	redoc: {
		page: `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>LifeMirror API (ReDoc)</title></head>
<body><div id="redoc"></div><script src="/redoc/assets/redoc.standalone.js"></script><script src="/redoc/assets/init.js"></script></body></html>
`,
		assets: {
			"redoc.standalone.js": { file: path.join(REDOC, "bundles", "redoc.standalone.js"), type: JS },
			"init.js": { file: { text: `Redoc.init("/openapi.json", { hideDownloadButton: false }, document.getElementById("redoc"));\n` }, type: JS }
		}
	}
};

type PageMeta = { $responseType?: string; $responseHeaders?: Record<string, string> };

/** The two actions of a viewer: its page and its whitelisted files. */
function viewerActions(name: keyof typeof VIEWERS, summary: string) {
	const viewer = VIEWERS[name];
	return {
		[name]: {
			auth: "none" as const,
			summary,
			handler(ctx: Context<unknown, PageMeta>) {
				ctx.meta.$responseType = "text/html; charset=utf-8";
				return viewer.page;
			}
		},
		[`${name}Asset`]: {
			auth: "none" as const,
			input: z.object({ file: z.enum(Object.keys(viewer.assets) as [string, ...string[]]) }),
			handler(ctx: Context<{ file: string }, PageMeta>) {
				const asset = viewer.assets[ctx.params.file];
				ctx.meta.$responseType = asset.type;
				ctx.meta.$responseHeaders = { "Cache-Control": "public, max-age=3600" };
				return typeof asset.file === "string" ? fs.createReadStream(asset.file) : asset.file.text;
			}
		}
	};
}

const DocsService: ServiceSchema = {
	name: "docs",
	actions: {
		/** GET /openapi.json — the OpenAPI 3.1 document of every route, from the actions' zod schemas (any node's). */
		openapi: {
			auth: "none",
			summary: "The OpenAPI document of this API",
			handler() {
				const actions = new Map<string, ActionDoc>();
				for (const item of this.broker.registry.getActionList({ skipInternal: true }) as { name: string; action?: ActionDoc }[])
					if (item.action && !actions.has(item.name)) actions.set(item.name, item.action);
				return buildOpenApi(ALIASES, actions, { title: "LifeMirror API", version: PACKAGE_VERSION, serverUrl: config().http.publicUrl || undefined });
			}
		},
		...viewerActions("docs", "Interactive API documentation (Swagger UI)"),
		...viewerActions("redoc", "API reference documentation (ReDoc)")
	}
};

export default DocsService;
