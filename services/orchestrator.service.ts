import fs from "node:fs";
import path from "node:path";
import type { Context, ServiceSchema } from "moleculer";
import { z } from "zod";
import { runAgent, type Agent } from "../agents/agent";
import { aggregator } from "../agents/aggregator";
import { checkOutput } from "../agents/guardrails";
import { resolveConsent } from "../agents/workflow/consent";
import { executeGraph, type ExecutorPorts, type NodeRecord, type RunResult } from "../agents/workflow/execute";
import { compileGraph, type CompiledGraph, type NodeDef } from "../agents/workflow/graph";
import { AGGREGATOR_ACTION, emotionShown, estimatedMinor, pipelines, PIPELINES, pipelineTimeouts, SPECIALIZED_NODES, type Consent, type PipelineName } from "../agents/workflow/pipelines";
import { checkpointOutput, finalResponse, ReportText, reportText, specializedOf, versionsOf, videoKeyframes, type NodeVersions, type VideoKeyframes } from "../agents/workflow/report";
import { config } from "../lib/config";
import { ClientError, RetryableError, type ErrorLike } from "../lib/errors";
import { handingBack } from "../lib/shutdown";
import type { AnalysisDoc } from "./analyses.service";

/**
 * The orchestrator (a worker): runs an analysis record's pipeline graph over the broker — every
 * agent through `ctx.call` with its node's timeout — checkpoints each finished node on the
 * record (a re-run resumes: finished nodes are not run again), applies the output rails to the
 * report text, stores the FinalAnalysisResponse and emits `analysis.completed`. Progress goes
 * out as `analysis.progress` events.
 *
 * Pure agents (the aggregator) run here as `local.*` actions: no broker hop, nothing to deploy.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const LOCAL_ACTIONS: Record<string, Agent<any, any, unknown>> = { [AGGREGATOR_ACTION]: aggregator };
/** `agent.<name>.run` for every agent service in this build, plus the shared vision pass. */
const SHIPPED_ACTIONS = new Set([
	"vision.analyze",
	...fs
		.readdirSync(path.join(__dirname, "agents"))
		.filter(f => /\.service\.(ts|js)$/.test(f) && !f.endsWith(".d.ts"))
		.map(f => `agent.${f.replace(/\.service\.(ts|js)$/, "")}.run`)
]);
const SPECIALIZED: string[] = [...SPECIALIZED_NODES];
const OUTPUT_WARNING = "Part of the generated report was removed by the safety check.";

/** `attempt`: the job attempt running it (1 for a sync request), recorded on each node it runs. */
const RunInput = z.object({ analysis_id: z.string().min(1).max(64), attempt: z.number().int().min(1).max(1000).optional() });
const CANCELLED_MESSAGE = "The analysis was cancelled";

/** A cancelled analysis: not retried (a 4xx that is not retryable), never stored as completed. */
const cancelledError = () => new ClientError("CONFLICT", CANCELLED_MESSAGE, { cancelled: true });
/** A "no input: a, b" skip where one of the missing keys is a graph node's output (not the request's, like bio_text). */
const skippedForNode = (graph: CompiledGraph, reason?: string) =>
	Boolean(reason?.startsWith("no input:")) &&
	reason!
		.slice("no input:".length)
		.split(",")
		.some(key => graph.nodes.some(n => n.writes === key.trim()));
/** This worker is shutting down past its grace period (lib/shutdown.ts): the caller retries elsewhere, resuming from the checkpoints. */
const handedBackError = () => new RetryableError("SERVICE_UNAVAILABLE", "The worker is shutting down; the analysis resumes on another worker", { handed_back: true });

interface RunOutcome {
	result: Record<string, unknown>;
	specialized: Record<string, unknown> | null;
}

interface Vars {
	graphs: Record<PipelineName, CompiledGraph>;
}

interface Methods {
	execute(ctx: Context, rec: AnalysisDoc, consent: Consent, attempt?: number): Promise<{ run: RunResult; errors: Map<string, ErrorLike>; versions: Record<string, NodeVersions>; ms: number; handedBack: boolean }>;
	agentVersions(): Map<string, string>;
	finishRun(ctx: Context, rec: AnalysisDoc, consent: Consent, run: RunResult, versions: Record<string, NodeVersions>, ms: number, keyframes?: VideoKeyframes | null): Promise<RunOutcome>;
	requiredFailure(ctx: Context, rec: AnalysisDoc, run: RunResult, errors: Map<string, ErrorLike>): Promise<never>;
}

/** Analyses per pipeline and outcome: the dashboard's analyses per minute. */
const ANALYSES = "lifemirror.analyses.total";

const OrchestratorService: ServiceSchema<Record<string, never>, Methods, Vars> = {
	name: "orchestrator",

	actions: {
		/** Runs (or resumes) one stored analysis; answers the report and, for enhanced/hybrid, the specialized outputs. */
		run: {
			visibility: "public",
			input: RunInput,
			timeout: 0,
			async handler(ctx: Context<z.infer<typeof RunInput>>): Promise<RunOutcome> {
				const rec = await ctx.call<AnalysisDoc, object>("analyses.get", { id: ctx.params.analysis_id });
				if (rec.status === "completed" && rec.result) return { result: rec.result, specialized: rec.specialized };
				if (rec.status === "cancelled") throw cancelledError();
				const consent = resolveConsent(rec.request.user_consent ?? null);
				// A video is analysed through its best keyframe; the report lists the others (read alongside the run).
				const keyframes = ctx
					.call<{ media_type?: string; keyframes?: { time_s: number; best?: boolean }[] }, object>("media.get", { id: rec.media_id }, { meta: { userId: rec.user_id } })
					.then(videoKeyframes, () => null);
				await ctx.call("analyses.finish", { id: rec._id, status: "running" });
				const { run, errors, versions, ms, handedBack } = await this.execute(ctx, rec, consent, ctx.params.attempt);
				if (run.stopped) throw handedBack ? handedBackError() : cancelledError();
				if (run.failed) return this.requiredFailure(ctx, rec, run, errors);
				const outcome = await this.finishRun(ctx, rec, consent, run, versions, ms, await keyframes);
				this.broker.metrics.increment(ANALYSES, { pipeline: rec.pipeline, status: "completed" });
				ctx.emit("analysis.completed", { analysis_id: rec._id, user_id: rec.user_id, media_id: rec.media_id });
				return outcome;
			}
		}
	},

	methods: {
		async execute(ctx, rec, consent, attempt = 1) {
			const graph = this.graphs[rec.pipeline as PipelineName];
			const started = Date.now();
			const budgetS = Number(rec.request.options?.pipeline_timeout_s) || 0;
			const deadline = budgetS > 0 ? started + budgetS * 1000 : Infinity;
			const errors = new Map<string, ErrorLike>();
			const agentVersions = this.agentVersions();
			const versions: Record<string, NodeVersions> = {};
			const versionFor = (node: NodeDef, output: unknown) => versionsOf(output, LOCAL_ACTIONS[node.action]?.version ?? agentVersions.get(node.action.replace(/\.[a-z]+$/, "")) ?? null, graph.version);
			const resume: NonNullable<ExecutorPorts["resume"]> = {};
			for (const [id, rec2] of Object.entries(rec.nodes ?? {})) {
				const cp = rec.checkpoints?.[id];
				const record = rec2 as NodeRecord;
				// Done and skipped nodes are final; a failed one runs again, and a done one needs its output.
				if (record.status === "failed" || (record.status === "done" && !cp)) continue;
				// …except a node skipped for want of a node's output (that node failed in that run): it runs again, so does this one.
				if (record.status === "skipped" && skippedForNode(graph, record.reason)) continue;
				if (cp && (cp.output as { ref?: string })?.ref) continue; // a reference (the vision pass): see below
				resume[id] = { record, output: cp?.output };
				if (cp) versions[id] = cp.versions;
			}
			// A referenced output (the vision pass) is asked for again (from the cache) only while a node that reads it is
			// still to run; when every reader has finished, the reference itself stands in for it and nothing runs again.
			for (const [id, cp] of Object.entries(rec.checkpoints ?? {}) as [string, { output: unknown; versions: NodeVersions }][]) {
				const record = rec.nodes?.[id] as NodeRecord | undefined;
				if (resume[id] || record?.status !== "done" || !(cp.output as { ref?: string })?.ref) continue;
				const key = graph.byId.get(id)?.writes;
				const readersDone = graph.nodes.every(n => !key || !n.reads.includes(key) || resume[n.id]);
				if (readersDone) {
					resume[id] = { record, output: cp.output };
					versions[id] = cp.versions;
				}
			}
			let finished = Object.keys(resume).length;
			let cancelled = false;
			const previous = rec.nodes ?? {};
			const ports: ExecutorPorts = {
				consented: purpose => Boolean(consent[purpose as keyof Consent]),
				resume,
				tag: node => ({ node_id: this.broker.nodeID, run: attempt, runs: ((previous[node] as NodeRecord | undefined)?.runs ?? 0) + 1 }),
				// Cancelled, or this worker is shutting down past its grace period: no further node starts.
				stopped: () => cancelled || handingBack(this.broker),
				invoke: async (node, params, { timeoutMs }) => {
					try {
						const local = LOCAL_ACTIONS[node.action];
						if (local) return await runAgent(local, params, {});
						const timeout = Math.min(timeoutMs, deadline - Date.now());
						if (timeout <= 0) throw new RetryableError("AGENT_TIMEOUT", "the analysis ran out of time");
						return await ctx.call(node.action, params, { timeout, retries: 0 });
					} catch (err) {
						errors.set(node.id, err as ErrorLike);
						throw err;
					}
				},
				checkpoint: async (node, record, output) => {
					const def = graph.byId.get(node)!;
					if (record.status === "done") versions[node] = versionFor(def, output);
					const cp = record.status === "done" ? checkpointOutput(node, output).output : undefined;
					const progress = Math.min(1, ++finished / graph.nodes.length);
					const saved = (await ctx.call("analyses.checkpoint", { id: rec._id, node, record, output: cp, versions: versions[node], progress })) as { cancelled?: boolean } | boolean;
					// The record says cancelled (POST /analysis/jobs/{id}/cancel, on any node): no further node starts.
					if (typeof saved === "object" && saved?.cancelled) cancelled = true;
				},
				onEvent: e => {
					const status = e.type === "node.started" ? "started" : e.status;
					ctx.emit("analysis.progress", { analysis_id: rec._id, user_id: rec.user_id, node: e.node, status });
				}
			};
			const input = { media_id: rec.media_id, user_id: rec.user_id, analysis_id: rec._id, consent, bio_text: rec.request.bio_text ?? undefined };
			const run = await executeGraph(graph, input, ports);
			return { run, errors, versions, ms: Date.now() - started, handedBack: Boolean(run.stopped) && !cancelled };
		},

		async finishRun(ctx, rec, consent, run, versions, ms, keyframes) {
			const { state, nodes } = run;
			const minor = estimatedMinor(state.face);
			const text = reportText(state.formatter, state.aggregate);
			const formatterDisclaimers = (state.formatter as { disclaimers?: string[] } | undefined)?.disclaimers ?? [];
			const biometricShown = consent.biometric_analysis && Boolean((state.face as { biometric?: boolean } | undefined)?.biometric);
			const checked = checkOutput({ ...text, disclaimers: formatterDisclaimers }, { schema: ReportText, minor, disclaimers: { emotion: emotionShown(state), biometric: biometricShown } });
			const warnings = [...(rec.request.input_warnings ?? [])];
			if (checked.findings.length) warnings.push(OUTPUT_WARNING);
			if (nodes.formatter && nodes.formatter.status !== "done") warnings.push("The report text was written from the scores only.");
			const vision = state.vision as { content_hash?: string } | undefined;
			const timestamp = new Date().toISOString();
			const result = finalResponse({ analysis_id: rec._id, media_id: rec.media_id, pipeline: rec.pipeline, graph_version: rec.graph_version, timestamp, consent, state, nodes, versions, text: checked.value, warnings, total_ms: ms, keyframes });
			const specialized = rec.pipeline === "core" ? null : specializedOf(state, nodes, SPECIALIZED);
			const stored = (await ctx.call("analyses.finish", { id: rec._id, status: "completed", result, specialized, content_hash: vision?.content_hash ?? rec.content_hash })) as { status?: string } | null;
			// Cancelled after its last node: the record stays cancelled and the report is not handed out.
			if (stored?.status === "cancelled") throw cancelledError();
			return { result, specialized };
		},

		/** A required node failed: the record says why, the caller gets a clear 4xx/503 (never a bare 500). */
		async requiredFailure(ctx, rec, run, errors) {
			const failed = run.failed!;
			const err = errors.get(failed.node);
			let out: Error;
			if (err?.type === "NOT_FOUND") out = new ClientError("NOT_FOUND", err.message || "Media not found");
			else if (err?.type === "VALIDATION" || err?.code === 422 || /unsupported image|corrupt|decode|input buffer/i.test(err?.message ?? ""))
				out = new ClientError("VALIDATION", "The image could not be read", { validation_errors: [{ field: "media_id", message: "the image could not be read" }] });
			else out = new RetryableError("SERVICE_UNAVAILABLE", `The analysis could not run: ${failed.node} is unavailable`, { node: failed.node });
			await ctx.call("analyses.finish", { id: rec._id, status: "failed", error: { type: (out as ErrorLike).type ?? "ERROR", message: failed.reason } });
			this.broker.metrics.increment(ANALYSES, { pipeline: rec.pipeline, status: "failed" });
			throw out;
		},

		/** `agent.<name>` → its agent version, from the services' metadata in the registry (any node). */
		agentVersions() {
			const out = new Map<string, string>();
			for (const s of this.broker.registry.getServiceList({ withActions: false }) as { name: string; metadata?: { version?: string } }[])
				if (s.metadata?.version) out.set(s.name, s.metadata.version);
			out.set("vision", "shared-pass");
			return out;
		}
	},

	created() {
		if (!this.broker.metrics.getMetric(ANALYSES))
			this.broker.metrics.register({ type: "counter", name: ANALYSES, labelNames: ["pipeline", "status"], description: "Analyses finished, by pipeline and outcome (completed, failed)" });
	},

	started() {
		// Compiled once: a graph that names an unknown action, reads state nobody writes or has a cycle stops the node here.
		// Known actions: those in the registry now, and those of the services this build ships (agents on other nodes may
		// not be discovered yet; a missing one at run time is a failed node, not a start-up error).
		const c = config();
		const defs = pipelines(pipelineTimeouts(c));
		const registered = new Set((this.broker.registry.getActionList({}) as { name: string }[]).map(a => a.name));
		const knownAction = (a: string) => a in LOCAL_ACTIONS || registered.has(a) || SHIPPED_ACTIONS.has(a);
		this.graphs = Object.fromEntries(PIPELINES.map(p => [p, compileGraph(defs[p], knownAction)])) as Record<PipelineName, CompiledGraph>;
	}
};

export default OrchestratorService;
