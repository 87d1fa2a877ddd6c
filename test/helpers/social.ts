import type { Middleware, ServiceBroker } from "moleculer";
import { freePort, jpeg, uploadForm } from "../factories/images";
import { registerUser } from "../factories/users";
import { http, startNode, type Http, type TestNode } from "./node";

/** What the social suites (feed, leaderboard, follows and graph) share. */

export const SOCIAL_SERVICES = ["api", "users", "auth", "storage", "media", "analyses", "embeddings", "follows", "feed", "leaderboard", "graph", "agents/social_graph"];

export interface SocialUser {
	id: string;
	token: string;
	alias: string | null;
}

export async function startSocialNode(env: Record<string, string> = {}, services = SOCIAL_SERVICES, middlewares: Middleware[] = []): Promise<{ node: TestNode; request: Http }> {
	const port = await freePort();
	const node = await startNode({
		services,
		env: { PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, RATE_LIMITS: "upload=10000/60,auth=10000/60,public=100000/60,default=100000/60", ...env },
		broker: middlewares.length ? { middlewares } : undefined
	});
	return { node, request: http(node.url) };
}

let aliases = 0;
/** A registered user; public (opted in, with an alias unless `alias: null`) unless `opt_in: false`. */
export async function socialUser(request: Http, o: { opt_in?: boolean; alias?: string | null } = {}): Promise<SocialUser> {
	const opt_in = o.opt_in ?? true;
	const alias = o.alias === undefined ? `Tester ${++aliases}` : o.alias;
	const u = await registerUser(request, { opt_in_public_analysis: opt_in, ...(alias ? { public_alias: alias } : {}) });
	const me = await request("GET", "/auth/me", { token: u.access_token });
	return { id: me.body.id, token: u.access_token, alias };
}

/** An uploaded photo of the user (a new colour each time); no perception until `perceive`. */
export async function photo(url: string, u: SocialUser): Promise<string> {
	const res = await uploadForm(url, u.token, await jpeg(64, 48));
	if (res.status !== 200) throw new Error(`upload failed: ${res.status}`);
	return res.body.media_id;
}

export interface PerceptionOptions {
	summary_text?: string;
	tags?: string[];
	social_score?: number;
}

/** Stores a perception as the post-ingest job does (media.setPerception emits media.perceived). */
export async function perceive(broker: ServiceBroker, u: SocialUser, media_id: string, o: PerceptionOptions = {}): Promise<void> {
	await broker.call("media.setPerception", {
		id: media_id,
		user_id: u.id,
		perception: {
			faces: [],
			posture: null,
			fashion: null,
			environment: { objects: [] },
			quality: { blurry: false, too_dark: false, too_bright: false },
			social: { summary_text: o.summary_text ?? "A calm, friendly first impression.", tags: o.tags ?? ["calm", "friendly"], social_score: o.social_score ?? 6, confidence: 0.8 },
			versions: { vision: "test", social_perception: "test" },
			created_at: new Date().toISOString()
		}
	});
}

export interface AnalysisOptions {
	overall?: number;
	style?: number;
	presence?: number;
	/** The subject face's estimated age (as with biometric consent). */
	age?: number;
	warnings?: string[];
	input_warnings?: string[];
	summary?: string;
}

/** A completed analysis stored through the analyses service, then `analysis.completed` as the orchestrator emits it. */
export async function completeAnalysis(broker: ServiceBroker, u: SocialUser, media_id: string, o: AnalysisOptions = {}): Promise<string> {
	const rec = await broker.call<{ _id: string }, object>("analyses.create", {
		user_id: u.id,
		media_id,
		pipeline: "core",
		graph_version: "core@1.0.0",
		status: "running",
		request: { input_warnings: o.input_warnings ?? [] }
	});
	if (o.age !== undefined)
		await broker.call("analyses.checkpoint", { id: rec._id, node: "face", record: { status: "done" }, output: { faces: [{ is_subject: true, age: o.age, expression: "happy" }] }, progress: 0.5 });
	await broker.call("analyses.finish", {
		id: rec._id,
		status: "completed",
		result: {
			media_id,
			analysis_id: rec._id,
			overall_score: o.overall ?? 6,
			style_score: o.style ?? 6,
			presence_score: o.presence ?? 6,
			summary: o.summary ?? "You come across as relaxed and approachable.",
			warnings: o.warnings ?? []
		}
	});
	broker.emit("analysis.completed", { analysis_id: rec._id, user_id: u.id, media_id });
	return rec._id;
}

/** Counts local action calls by name (to tell a cached read from a computed one). */
export function callCounter(): { calls: Record<string, number>; middleware: Middleware } {
	const calls: Record<string, number> = {};
	const middleware = {
		name: "CallCounter",
		localAction(next: (ctx: unknown) => Promise<unknown>, action: { name: string }) {
			return (ctx: unknown) => {
				calls[action.name] = (calls[action.name] ?? 0) + 1;
				return next(ctx);
			};
		}
	} as unknown as Middleware;
	return { calls, middleware };
}
