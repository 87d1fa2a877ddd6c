import type { ReplOptions, ServiceBroker } from "moleculer";
import { compileGraph, renderGraph } from "../agents/workflow/graph";
import { pipelines, PIPELINES, pipelineTimeouts, type PipelineName } from "../agents/workflow/pipelines";
import { config, redactedConfig } from "./config";
import { flagsFor } from "./flags";

type ReplCommand = NonNullable<ReplOptions["customCommands"]>[number];

/** Operator commands added to the Moleculer REPL (`npm run repl`), next to its own (nodes, services, call…). */
/** A command on one or both job queues (`lm-queue [queue]`…) that prints what its action answers. */
function queueCommand(name: string, description: string, action: string): ReplCommand {
	return {
		command: `${name} [queue]`,
		description,
		async action(broker: ServiceBroker, raw: unknown) {
			print(await broker.call(action, queueParam(argsOf(raw))));
		}
	};
}

export const replCommands: ReplCommand[] = [
	{
		command: "lm-config",
		description: "Show this node's LifeMirror configuration (secrets masked)",
		async action() {
			console.log(JSON.stringify(redactedConfig(config()), null, 2));
		}
	},
	{
		command: "lm-ready",
		description: "Probe every data store in the cluster (the *.dbHealth actions)",
		async action(broker: ServiceBroker) {
			const names = [
				...new Set(
					broker.registry
						.getActionList({ onlyAvailable: true, skipInternal: true })
						.map(a => a.name)
						.filter(n => n.endsWith(".dbHealth"))
				)
			];
			if (names.length === 0) console.log("No data services are reachable.");
			for (const name of names) {
				const started = Date.now();
				try {
					await broker.call(name, {}, { timeout: 2000, retries: 0 });
					console.log(`${name.split(".")[0].padEnd(20)} ok   ${Date.now() - started} ms`);
				} catch (err) {
					console.log(`${name.split(".")[0].padEnd(20)} FAIL ${(err as Error).message}`);
				}
			}
		}
	},
	queueCommand("lm-queue", "Job counts per queue (analysis, ingest): waiting, active, delayed, completed, failed, paused", "jobs.counts"),
	{
		command: "lm-failed [queue]",
		description: "Failed jobs with their reason and attempts, newest first",
		options: [{ option: "--limit <n>", description: "how many (default 20)" }],
		async action(broker: ServiceBroker, raw: unknown) {
			const args = argsOf(raw);
			const limit = Number(args.options?.limit ?? 20);
			const rows = await broker.call<{ job_id: string; reason?: string; attempts: number; failed_at?: number }[], object>("jobs.failed", { ...queueParam(args), limit });
			if (rows.length === 0) console.log("No failed jobs.");
			for (const r of rows) console.log(`${r.job_id.padEnd(44)} ${String(r.attempts).padStart(2)} attempts  ${r.failed_at ? new Date(r.failed_at).toISOString() : ""}  ${r.reason ?? ""}`);
		}
	},
	{
		command: "lm-retry <id>",
		description: "Queue a failed job again (`lm-retry all` retries every failed job)",
		async action(broker: ServiceBroker, raw: unknown) {
			const args = argsOf(raw);
			const id = String(args.id ?? "");
			print(await broker.call("jobs.retry", id === "all" ? {} : { id }));
		}
	},
	queueCommand("lm-pause", "Pause a job queue (both when none is named); running jobs finish", "jobs.pause"),
	{
		command: "lm-graph <pipeline>",
		description: "Show a pipeline's compiled graph (core, enhanced, hybrid): nodes with action, required/optional, timeout, retries, consent; edges; version",
		async action(_broker: ServiceBroker, raw: unknown) {
			console.log(graphText(String(argsOf(raw).pipeline ?? "")));
		}
	},
	queueCommand("lm-resume", "Resume a paused job queue (both when none is named)", "jobs.resume"),
	{
		command: "lm-audit-verify",
		description: "Verify the audit log's hash chains: sequence, links and hashes of every entry",
		async action(broker: ServiceBroker) {
			console.log(auditVerifyText(await broker.call<AuditVerifyResult, object>("audit.verify", {})));
		}
	},
	{
		command: "lm-flags [user_id]",
		description: "Feature flags in force (FLAGS) with their rollout percentage; with a user id, whether each is on for that user",
		async action(_broker: ServiceBroker, raw: unknown) {
			const id = argsOf(raw).user_id;
			console.log(flagsText(typeof id === "string" && id ? id : undefined));
		}
	},
	{
		command: "lm-retention",
		description: "Run the retention sweep now (RETENTION_*): expire originals and analyses, send inactivity notices, erase accounts past their notice",
		async action(broker: ServiceBroker) {
			print(await broker.call("retention.sweep", {}));
		}
	},
	roleCommand("lm-grant-admin", "Give an account the admin role (audited; effective at its next sign-in)", true),
	roleCommand("lm-revoke-admin", "Take the admin role from an account (audited; its current access token keeps it until it expires)", false)
];

/** `lm-grant-admin <email>` / `lm-revoke-admin <email>`: an operator changes a role through users.setRole. */
function roleCommand(name: string, description: string, grant: boolean): ReplCommand {
	return {
		command: `${name} <email>`,
		description,
		async action(broker: ServiceBroker, raw: unknown) {
			const email = String(argsOf(raw).email ?? "");
			try {
				print(await broker.call("users.setRole", { email, role: "admin", grant, by: "operator:repl" }));
			} catch (err) {
				console.log(`${name} failed: ${(err as Error).message}`);
			}
		}
	};
}

interface AuditVerifyResult {
	ok: boolean;
	entries: number;
	first_bad_seq?: number;
	first_bad_chain?: string;
	chains: { chain: string; entries: number; ok: boolean; first_bad_seq?: number; head_hash: string }[];
}

/** `lm-audit-verify`: one line per chain, then the verdict. */
export function auditVerifyText(r: AuditVerifyResult): string {
	const lines = r.chains.map(c => `${c.chain.padEnd(32)} ${String(c.entries).padStart(7)} entries  ${c.ok ? "ok" : `BROKEN at seq ${c.first_bad_seq}`}  head ${c.head_hash.slice(0, 16)}`);
	lines.push(r.ok ? `OK: ${r.entries} entries in ${r.chains.length} chain(s)` : `TAMPERED: chain ${r.first_bad_chain}, first bad entry seq ${r.first_bad_seq}`);
	return lines.join("\n");
}

/** `lm-flags`: one line per flag. */
export function flagsText(userId?: string): string {
	return flagsFor(config().flags, userId)
		.map(f => `${f.name.padEnd(20)} ${String(f.percent).padStart(3)} %${"on" in f ? `  ${f.on ? "on" : "off"} for ${userId}` : ""}`)
		.join("\n");
}

/** `lm-graph`: the pipeline as the orchestrator compiles it with this node's config (timeouts). */
export function graphText(pipeline: string): string {
	if (!PIPELINES.includes(pipeline as PipelineName)) return `Unknown pipeline "${pipeline}"; one of: ${PIPELINES.join(", ")}`;
	return renderGraph(compileGraph(pipelines(pipelineTimeouts(config()))[pipeline as PipelineName]));
}

interface ReplArgs {
	options?: Record<string, unknown>;
	[arg: string]: unknown;
}

/** moleculer-repl passes `{ <arg>: value, options }` (its typings say string[]). */
const argsOf = (raw: unknown): ReplArgs => (raw && typeof raw === "object" && !Array.isArray(raw) ? (raw as ReplArgs) : {});
const queueParam = (args: ReplArgs) => (typeof args.queue === "string" ? { queue: args.queue } : {});
const print = (v: unknown) => console.log(JSON.stringify(v, null, 2));
