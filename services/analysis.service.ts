import { createHash } from "node:crypto";
import type { Context, ServiceSchema } from "moleculer";
import { z } from "zod";
import { BioOutput } from "../agents/bio";
import { checkInputModerated, checkOutput, disclaimersFor, moderationSettings, supportiveResources, type Finding } from "../agents/guardrails";
import { AnalyzeRequest, resolveConsent, type UserConsent } from "../agents/workflow/consent";
import { fixitInput, PIPELINE_VERSIONS, type Consent, stateFromCheckpoints, vibeInput, type PipelineName } from "../agents/workflow/pipelines";
import { guardGoal, recentAnalysesOf } from "../agents/workflow/insights";
import { analysisView, enhancedEnvelope, historyView, hybridEnvelope } from "../agents/workflow/report";
import { config } from "../lib/config";
import { ClientError, notFound, RetryableError, unauthorized } from "../lib/errors";
import type { Meta } from "../types/meta";
import type { AnalysisDoc } from "./analyses.service";
import { createKeyLock, type KeyLock } from "../lib/jobs";
import { jobIdOf } from "./jobs.service";

export const BIO_LENGTH = { minLength: 10, maxLength: 5000 } as const;
export const BioRequest = z.object({ text: z.string().min(BIO_LENGTH.minLength).max(BIO_LENGTH.maxLength) });
type BioRequest = z.infer<typeof BioRequest>;

/** What a warning tells the caller: the category and our own words, never the matched text. */
export interface Warning {
	category: string;
	message: string;
}

export interface BioReport {
	vibe_summary: string;
	strengths: string[];
	weaknesses: string[];
	improvements: string[];
	confidence: number;
	warnings: Warning[];
	disclaimers: string[];
}

/** Fixed messages per finding category (prefix match), so a warning can never echo personal data. */
const WARNING_TEXT: [string, string][] = [
	["pii", "Personal details (such as an email address, phone number or link) were removed before the analysis."],
	["injection", "Parts of the text looked like instructions to the AI; they were treated as plain text and ignored."],
	["toxicity", "Some wording was flagged as offensive or threatening."],
	["sexual", "Some wording was flagged as sexual content."],
	["self_harm", "Your text mentions self-harm, so we are sharing support resources instead of an analysis."],
	["length", "The text must be between 10 and 5000 characters once invisible characters are removed."],
	["output", "Part of the generated analysis was removed by the safety check."]
];

/** One warning per category; the message comes from WARNING_TEXT (the finding's own message only as a fallback). */
export function warningsOf(findings: readonly Finding[]): Warning[] {
	const out: Warning[] = [];
	for (const f of findings) {
		if (out.some(w => w.category === f.category)) continue;
		const text = WARNING_TEXT.find(([prefix]) => f.category === prefix || f.category.startsWith(`${prefix}.`))?.[1];
		out.push({ category: f.category, message: text ?? f.message });
	}
	return out;
}

/** The self-harm answer: the report's shape, with a kind note and where to find help instead of an analysis. */
export function supportiveBioReport(warnings: Warning[], disclaimers: string[]): BioReport {
	const note = supportiveResources();
	return {
		vibe_summary: `${note.title}. ${note.message}`,
		strengths: [],
		weaknesses: [],
		improvements: note.resources.slice(0, 4).map(r => `${r.name} (${r.region}): ${r.contact}`),
		confidence: 0,
		warnings,
		disclaimers
	};
}

/** JSON with object keys sorted, so equal requests hash equally whatever the key order. */
function stableJson(v: unknown): string {
	if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
	if (v && typeof v === "object")
		return `{${Object.keys(v)
			.filter(k => (v as Record<string, unknown>)[k] !== undefined)
			.sort()
			.map(k => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
			.join(",")}}`;
	return JSON.stringify(v ?? null);
}

/** The part of an analysis request that changes its report: consent as sent, the guarded bio, the options. */
export function requestHash(request: { user_consent?: unknown; bio_text?: string | null; options?: unknown }): string {
	return createHash("sha256")
		.update(stableJson({ user_consent: request.user_consent ?? null, bio_text: request.bio_text ?? null, options: request.options ?? {} }))
		.digest("hex");
}

const FullInput = z.object({ goal: z.string().max(500).optional(), recent_limit: z.coerce.number().int().min(1).max(20).default(5) });
const Id = z.string().min(1).max(64);
type Outcome = { result: Record<string, unknown>; specialized: Record<string, unknown> | null };
interface Prepared {
	analysis_id: string;
	content_hash: string;
	timeoutMs: number | null;
	/** The idempotency key: user, content hash, pipeline, graph version and request hash. */
	key: string;
	/** A recent record of the same request (within ANALYSIS_IDEMPOTENCY_S) that is reused instead of a new one. */
	reused: AnalysisDoc | null;
}
type Ctx<P> = Context<P, Meta>;

interface Methods {
	caller(ctx: Ctx<unknown>): string;
	start(ctx: Ctx<AnalyzeRequest>, pipeline: PipelineName, over?: { media_id: string }): Promise<Outcome>;
	prepare(ctx: Ctx<AnalyzeRequest>, pipeline: PipelineName, over?: { media_id: string }, reuse?: AnalysisDoc["status"][]): Promise<Prepared>;
	enqueue(ctx: Ctx<AnalyzeRequest>, pipeline: PipelineName): Promise<{ job_id: string; analysis_id: string; status: "queued" }>;
	enqueueUnlocked(ctx: Ctx<AnalyzeRequest>, pipeline: PipelineName): Promise<{ job_id: string; analysis_id: string; status: "queued" }>;
	singleFlight<T>(ctx: Ctx<AnalyzeRequest>, pipeline: PipelineName, over: { media_id: string } | undefined, fn: () => Promise<T>): Promise<T>;
	guardBio(text: string | null | undefined): Promise<{ text: string | null; warnings: string[] }>;
	consentFor(ctx: Ctx<unknown>, userId: string, asked: AnalyzeRequest["user_consent"]): Promise<Consent>;
}

/**
 * The analyses the frontend asks for: the sync pipelines (core, enhanced, hybrid), the legacy
 * full-analysis, a media's history, one stored analysis, and a bio on its own. Ownership is
 * checked here (media.get answers 404 for anyone else's media); the orchestrator does the work.
 */
const AnalysisService: ServiceSchema<Record<string, never>, Methods> = {
	name: "analysis",

	actions: {
		/** POST /analysis/analyze → FinalAnalysisResponse. */
		analyze: {
			rateClass: "analyze",
			input: AnalyzeRequest,
			async handler(ctx: Context<AnalyzeRequest, Meta & { $statusCode?: number }>) {
				if (!ctx.params.async) return (await this.start(ctx, "core")).result;
				const queued = await this.enqueue(ctx, "core");
				ctx.meta.$statusCode = 202;
				return queued;
			}
		},

		/** POST /analysis/analyze/enhanced → {success, core_analysis, specialized_analysis, metadata}. */
		enhanced: {
			flag: "enhanced_pipeline",
			rateClass: "enhanced",
			input: AnalyzeRequest,
			async handler(ctx: Ctx<AnalyzeRequest>) {
				const out = await this.start(ctx, "enhanced");
				return enhancedEnvelope(out.result, out.specialized ?? {}, this.caller(ctx), new Date().toISOString());
			}
		},

		/** POST /analysis/analyze/hybrid → {success, core_analysis, social_analysis, enhancements, metadata}. */
		hybrid: {
			flag: "hybrid_pipeline",
			rateClass: "enhanced",
			input: AnalyzeRequest,
			async handler(ctx: Ctx<AnalyzeRequest>) {
				const out = await this.start(ctx, "hybrid");
				return hybridEnvelope(out.result, out.specialized ?? {}, this.caller(ctx), new Date().toISOString());
			}
		},

		/** POST /analysis/full-analysis?goal&recent_limit → fixit, reverse analysis (with a goal), vibe, from the recent analyses. */
		fullAnalysis: {
			rateClass: "analyze",
			input: FullInput,
			async handler(ctx: Ctx<z.infer<typeof FullInput>>) {
				const userId = this.caller(ctx);
				const media = await ctx.call<{ items: { id: string }[]; total: number }, object>("media.list", { limit: 1 });
				if (!media.total) throw notFound("Media");
				const recent = async () => (await ctx.call<{ items: AnalysisDoc[] }, object>("analyses.listForUser", { user_id: userId, status: "completed", limit: ctx.params.recent_limit })).items;
				let docs = await recent();
				if (!docs.length) {
					await this.start(ctx as never as Ctx<AnalyzeRequest>, "core", { media_id: media.items[0].id });
					docs = await recent();
				}
				const state = stateFromCheckpoints(docs[0].checkpoints, resolveConsent(docs[0].request.user_consent));
				const goal = ctx.params.goal?.trim() ? guardGoal(ctx.params.goal) : undefined;
				if (goal === null) throw new ClientError("VALIDATION", "The goal cannot be used", { validation_errors: [{ field: "goal", message: "must be 3–500 characters and pass the content checks" }] });
				const part = (p: Promise<unknown>) => p.catch((err: Error) => ({ error: err.message }));
				const recent_analyses = recentAnalysesOf(docs, [], ctx.params.recent_limit);
				const [fixit_suggestions, vibe_analysis, reverse_analysis] = await Promise.all([
					part(ctx.call("agent.fixit.run", fixitInput(state))),
					part(ctx.call("agent.vibe_analysis.run", vibeInput(state))),
					goal ? part(ctx.call("agent.reverse_analysis.run", { goal, recent_analyses })) : null
				]);
				return { fixit_suggestions, reverse_analysis, vibe_analysis };
			}
		},

		/** GET /analysis/{media_id}/history — the newest 10 completed analyses of the caller's media. */
		history: {
			input: z.object({ media_id: Id }),
			async handler(ctx: Ctx<{ media_id: string }>) {
				await ctx.call("media.get", { id: ctx.params.media_id });
				const h = await ctx.call<{ items: AnalysisDoc[]; total: number }, object>("analyses.history", { media_id: ctx.params.media_id, user_id: this.caller(ctx) });
				return historyView(ctx.params.media_id, h.items, h.total);
			}
		},

		/** GET /analysis/{id} — one stored analysis, the owner's only. */
		get: {
			input: z.object({ id: Id }),
			async handler(ctx: Ctx<{ id: string }>) {
				return analysisView(await ctx.call<AnalysisDoc & Record<string, unknown>, object>("analyses.get", { id: ctx.params.id, user_id: this.caller(ctx) }));
			}
		},

		/** POST /analysis/analyze/bio — guard the text, read it with agent.bio, guard the answer. */
		bio: {
			rateClass: "bio",
			input: BioRequest,
			async handler(ctx: Context<BioRequest, Meta>): Promise<BioReport> {
				if (!(await this.consentFor(ctx, this.caller(ctx), null)).bio_analysis) throw new ClientError("CONSENT_REQUIRED", "Bio analysis is switched off in your consents");
				const c = config();
				const verdict = await checkInputModerated(ctx.params.text, { ...BIO_LENGTH, moderation: moderationSettings(c.llm, c.moderation) });
				const warnings = warningsOf(verdict.findings);
				if (verdict.blocked) {
					const tooShortOrLong = verdict.findings.some(f => f.category === "length");
					throw new ClientError("VALIDATION", "The text cannot be analysed", {
						validation_errors: [{ field: "text", message: tooShortOrLong ? "must be 10–5000 characters" : "was refused by the content checks" }],
						findings: warnings
					});
				}
				const disclaimers = disclaimersFor({ emotion: false, biometric: false });
				if (verdict.self_harm) return supportiveBioReport(warnings, disclaimers);

				const raw = await ctx.call<unknown, { text: string }>("agent.bio.run", { text: verdict.text });
				const checked = checkOutput(raw, { schema: BioOutput, minor: false });
				if (!checked.ok) throw new RetryableError("AGENT_FAILED", "The bio analysis gave an invalid answer", { agent: "bio" });
				const { vibe_summary, strengths, weaknesses, improvements, confidence } = checked.value;
				return { vibe_summary, strengths, weaknesses, improvements, confidence, warnings: [...warnings, ...warningsOf(checked.findings)], disclaimers };
			}
		}
	},

	methods: {
		caller(ctx: Ctx<unknown>) {
			if (!ctx.meta.userId) throw unauthorized();
			return ctx.meta.userId;
		},

		/**
		 * Checks the media is the caller's, guards the bio and stores the analysis, ready to run —
		 * unless the same request (user, media content, pipeline, graph version, consent, bio,
		 * options) made a record in one of the `reuse` statuses within ANALYSIS_IDEMPOTENCY_S:
		 * that one is answered instead (`reused`).
		 */
		async prepare(ctx: Ctx<AnalyzeRequest>, pipeline: PipelineName, over?: { media_id: string }, reuse: AnalysisDoc["status"][] = ["completed"]) {
			const p = { ...ctx.params, ...over };
			const userId = this.caller(ctx);
			const media = await ctx.call<{ content_hash: string }, object>("media.get", { id: p.media_id });
			const bio = await this.guardBio(p.bio_text);
			const options = p.options ?? {};
			// Consent in force = the request AND the stored consents (SPEC §2), written out in full so the run (and a resumed one) uses it.
			const request = { user_consent: await this.consentFor(ctx, userId, p.user_consent), bio_text: bio.text, options, input_warnings: bio.warnings };
			const same = { user_id: userId, content_hash: media.content_hash, pipeline, graph_version: PIPELINE_VERSIONS[pipeline], request_hash: requestHash(request) };
			const key = createHash("sha256").update(stableJson(same)).digest("hex");
			const timeoutMs = options.pipeline_timeout_s ? options.pipeline_timeout_s * 1000 + 5000 : null;
			const windowS = config().analysis.idempotencyS;
			if (windowS > 0 && media.content_hash && reuse.length) {
				const since = new Date(Date.now() - windowS * 1000).toISOString();
				// The media id too: a report names its media (another upload of the same bytes gets its own).
				const reused = await ctx.call<AnalysisDoc | null, object>("analyses.recent", { ...same, media_id: p.media_id, since, statuses: reuse });
				if (reused) return { analysis_id: reused._id, content_hash: media.content_hash, timeoutMs, key, reused };
			}
			const rec = await ctx.call<AnalysisDoc, object>("analyses.create", { ...same, media_id: p.media_id, request });
			return { analysis_id: rec._id, content_hash: media.content_hash, timeoutMs, key, reused: null };
		},

		/** Stores the analysis and runs it now (sync); a recent completed run of the same request answers its stored report. */
		async start(ctx: Ctx<AnalyzeRequest>, pipeline: PipelineName, over?: { media_id: string }) {
			// Held for the whole run: an identical request arriving meanwhile waits, then answers this run's stored report.
			return this.singleFlight(ctx, pipeline, over, async () => {
				const run = await this.prepare(ctx, pipeline, over);
				if (run.reused?.result) return { result: run.reused.result, specialized: run.reused.specialized ?? null };
				// No broker-level retry: each node has its own retry policy, and a failed run is final for a sync request.
				return ctx.call<Outcome, object>("orchestrator.run", { analysis_id: run.analysis_id }, { retries: 0, ...(run.timeoutMs ? { timeout: run.timeoutMs } : {}) });
			});
		},

		/**
		 * The idempotency lock: identical requests (same caller, pipeline, media and body) run `fn`
		 * one at a time — on any gateway node (a Redis lock in a cluster) — so the second finds the
		 * first's record (ANALYSIS_IDEMPOTENCY_S) instead of making its own.
		 */
		async singleFlight<T>(ctx: Ctx<AnalyzeRequest>, pipeline: PipelineName, over: { media_id: string } | undefined, fn: () => Promise<T>): Promise<T> {
			if (config().analysis.idempotencyS <= 0) return fn();
			const { async: _async, ...body } = { ...ctx.params, ...over } as AnalyzeRequest & { async?: unknown };
			const key = createHash("sha256").update(stableJson({ user_id: this.caller(ctx), pipeline, body })).digest("hex");
			const self = this as unknown as { idemLock?: KeyLock };
			self.idemLock ??= createKeyLock(config());
			const waitMs = body.options?.pipeline_timeout_s ? body.options.pipeline_timeout_s * 1000 + 5000 : 120_000;
			return self.idemLock.run(`analysis:${key}`, fn, { waitMs });
		},

		/**
		 * Stores the analysis and queues it (async): the job carries ids only. A recent queued,
		 * running or completed record of the same request is reused, and the job id derives from
		 * the key and that record, so asking again answers the existing job (a completed sync run
		 * gets a job that answers its stored report at once).
		 */
		async enqueue(ctx: Ctx<AnalyzeRequest>, pipeline: PipelineName) {
			// Held until the job is queued: an identical request meanwhile answers the same job and analysis.
			return this.singleFlight(ctx, pipeline, undefined, () => this.enqueueUnlocked(ctx, pipeline));
		},

		async enqueueUnlocked(ctx: Ctx<AnalyzeRequest>, pipeline: PipelineName) {
			const userId = this.caller(ctx);
			const jobOf = (run: Prepared) => ({ job: { kind: "analysis" as const, analysis_id: run.analysis_id }, user_id: userId, idempotency_key: `${run.key}:${run.analysis_id}` });
			let run = await this.prepare(ctx, pipeline, undefined, ["queued", "running", "completed"]);
			if (run.reused && run.reused.status !== "completed") {
				// Not finished yet: reused only while its job lives (a sync run in flight has none; a cancelled or failed job is over).
				const j = jobOf(run);
				const job = await ctx.call<{ status: string }, object>("jobs.status", { id: jobIdOf(j.job, userId, j.idempotency_key) }).catch(() => null);
				if (!job || job.status === "failed" || job.status === "cancelled") run = await this.prepare(ctx, pipeline, undefined, []);
			}
			const { job_id } = await ctx.call<{ job_id: string }, object>("jobs.enqueue", jobOf(run));
			return { job_id, analysis_id: run.analysis_id, status: "queued" as const };
		},

		/** The request's consent combined with the user's stored consents (`consents.forAnalysis`); without a consents service deployed, the request alone. */
		async consentFor(ctx: Ctx<unknown>, userId: string, asked: AnalyzeRequest["user_consent"]) {
			const deployed = (this.broker.registry.getServiceList({ withActions: false }) as { name: string }[]).some(s => s.name === "consents");
			if (!deployed) return resolveConsent(asked);
			const { stored } = await ctx.call<{ stored: UserConsent | null }, object>("consents.forAnalysis", { user_id: userId });
			return resolveConsent(asked, stored);
		},

		/** The bio of an analysis request through the input rails: refused → 422, self-harm → no bio analysis and a kind warning. */
		async guardBio(text: string | null | undefined) {
			if (!text?.trim()) return { text: null, warnings: [] };
			const c = config();
			const verdict = await checkInputModerated(text, { ...BIO_LENGTH, moderation: moderationSettings(c.llm, c.moderation) });
			if (verdict.blocked)
				throw new ClientError("VALIDATION", "The bio cannot be analysed", { validation_errors: [{ field: "bio_text", message: "must be 10–5000 characters and pass the content checks" }] });
			const warnings = warningsOf(verdict.findings).map(w => w.message);
			return verdict.self_harm ? { text: null, warnings } : { text: verdict.text, warnings };
		}
	},

	/** The idempotency lock's Redis connection (cluster mode) closes with the service. */
	async stopped() {
		await (this as unknown as { idemLock?: KeyLock }).idemLock?.close();
	}
};

export default AnalysisService;
