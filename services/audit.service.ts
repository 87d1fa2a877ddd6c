import type { Context, ServiceSchema } from "moleculer";
import { z } from "zod";
import { ChainVerifier, GENESIS, SerialQueue, entryHash, type AuditEntry, type ChainCheck } from "../lib/audit/chain";
import { AUDITED_EVENTS, type AuditRecord } from "../lib/audit/events";
import { consentChanges, requestStats } from "../lib/audit/report";
import { unauthorized } from "../lib/errors";
import { dbMixin, type DbMethods } from "../mixins/db.mixin";
import type { Meta } from "../types/meta";

const Id = z.string().min(1).max(128);
const PAGE = 1000;
const REPORT_TYPES = [
	"privacy.export_requested",
	"privacy.export_completed",
	"user.erased",
	"privacy.erasure_completed",
	"consent.changed",
	"consent.biometric_withdrawn"
];
const COUNTED = ["auth.login", "auth.login_failed", "auth.family_revoked", "user.roles_changed", "access", "apikey.rejected"];

interface AuditDoc extends AuditEntry {
	_id: string;
	/** `chain:seq`, unique: two writers that somehow share a chain cannot both take one number. */
	chain_seq: string;
	/** actor and subject, for the per-user query (derived, outside the hash). */
	user_ids: string[];
}

export interface VerifyResult {
	ok: boolean;
	entries: number;
	first_bad_seq?: number;
	first_bad_chain?: string;
	chains: ChainCheck[];
}

const ListInput = z.object({
	user_id: Id.optional(),
	cursor: z.string().regex(/^\d{1,9}$/, "must be a cursor from a previous page").optional(),
	limit: z.coerce.number().int().min(1).max(200).default(50)
});

interface Methods {
	append(rec: AuditRecord, requestId?: string | null): Promise<AuditDoc>;
	verifyAll(): Promise<VerifyResult>;
}

interface Vars {
	chain: string;
	queue: SerialQueue;
	head: { seq: number; hash: string } | null;
}

const view = ({ _id, chain_seq, user_ids, ...e }: AuditDoc) => e;

/**
 * The audit log: an append-only, hash-chained record of security-relevant events, fed by broker
 * events (AUDITED_EVENTS). Each node appends to its own chain (its node id) through one queue,
 * so a chain has a single writer and its sequence has no races (docs/decisions.md).
 */
const AuditService: ServiceSchema<Record<string, never>, Methods & DbMethods, Vars> = {
	name: "audit",
	mixins: [dbMixin("audit_log", { indexes: [{ fields: ["chain_seq"], unique: true }, { fields: ["user_ids"] }, { fields: ["type"] }, { fields: ["at"] }] })],

	actions: {
		/** Internal: append an entry and wait for it (events do the same without waiting). */
		record: {
			visibility: "public",
			input: z.object({
				type: z.string().min(1).max(64),
				actor_id: Id.nullable().default(null),
				subject_id: Id.nullable().default(null),
				data: z.record(z.string().max(64), z.union([z.string().max(256), z.number(), z.boolean(), z.null()])).default({})
			}),
			async handler(ctx: Context<AuditRecord>) {
				return view(await this.append(ctx.params, ctx.requestID));
			}
		},

		/** GET /admin/audit/verify; REPL `lm-audit-verify`. */
		verify: {
			roles: ["admin"],
			summary: "Check every audit chain: sequence, links and hashes (admin only)",
			input: z.object({}),
			async handler(): Promise<VerifyResult> {
				return this.verifyAll();
			}
		},

		/** GET /admin/audit?user_id&cursor — newest first; reading it is itself recorded. */
		list: {
			roles: ["admin"],
			summary: "Audit entries, newest first, optionally about one user (admin only)",
			input: ListInput,
			async handler(ctx: Context<z.infer<typeof ListInput>, Meta>) {
				if (!ctx.meta.userId) throw unauthorized();
				const { user_id, limit } = ctx.params;
				const offset = Number(ctx.params.cursor ?? 0);
				const query = user_id ? { user_ids: user_id } : {};
				const docs = await this.dbFind<AuditDoc>({ query, sort: ["-at", "-seq"], limit: limit + 1, offset });
				await this.append({ type: "access", actor_id: ctx.meta.userId, subject_id: user_id ?? null, data: { resource: "audit_log", action: "list" } }, ctx.requestID);
				return { items: docs.slice(0, limit).map(view), next_cursor: docs.length > limit ? String(offset + limit) : null };
			}
		},

		/** GET /admin/compliance/report — privacy requests, their completion times, consent figures, security counts. */
		complianceReport: {
			roles: ["admin"],
			summary: "Compliance report: exports, erasures, consents, security events (admin only)",
			input: z.object({}),
			async handler(ctx: Context<unknown, Meta>) {
				const entries: AuditDoc[] = [];
				for (let offset = 0; ; offset += PAGE) {
					const page = await this.dbFind<AuditDoc>({ query: { type: { $in: REPORT_TYPES } }, sort: ["at", "_id"], limit: PAGE, offset });
					entries.push(...page);
					if (page.length < PAGE) break;
				}
				const counts = Object.fromEntries(await Promise.all(COUNTED.map(async t => [t, await this.dbCount({ type: t })] as const)));
				const hasStats = this.broker.registry.getActionList({ onlyAvailable: true, skipInternal: true }).some(a => a.name === "consents.stats");
				const consents = hasStats ? { source: "consents", ...(await ctx.call<object, object>("consents.stats", {})) } : consentChanges(entries);
				return {
					generated_at: new Date().toISOString(),
					exports: requestStats(entries, "privacy.export_requested", "privacy.export_completed", "export_id"),
					erasures: requestStats(entries, "user.erased", "privacy.erasure_completed", "erasure_id"),
					consents,
					security: counts,
					audit: await this.verifyAll().then(v => ({ ok: v.ok, entries: v.entries }))
				};
			}
		},
	},

	// The erasure of an account keeps its audit entries: they are the proof (ids only, docs/decisions.md).
	events: Object.fromEntries(
		Object.entries(AUDITED_EVENTS).map(([name, toRecord]) => [
			name,
			async function (this: Methods, ctx: Context<Record<string, unknown>>) {
				await this.append(toRecord(ctx.params ?? {}), ctx.requestID);
			}
		])
	),

	methods: {
		async append(rec, requestId) {
			return this.queue.run(async () => {
				for (let attempt = 0; ; attempt++) {
					if (!this.head) {
						const [last] = await this.dbFind<AuditDoc>({ query: { chain: this.chain }, sort: ["-seq"], limit: 1 });
						this.head = last ? { seq: last.seq, hash: last.hash } : { seq: 0, hash: GENESIS };
					}
					const body = {
						chain: this.chain,
						seq: this.head.seq + 1,
						at: new Date().toISOString(),
						type: rec.type,
						actor_id: rec.actor_id ?? null,
						subject_id: rec.subject_id ?? null,
						data: rec.data ?? {},
						request_id: requestId ?? null,
						prev_hash: this.head.hash
					};
					const hash = entryHash(body);
					const user_ids = [...new Set([body.actor_id, body.subject_id].filter((u): u is string => u !== null))];
					try {
						const doc = await this.dbInsert<Omit<AuditDoc, "_id">>({ ...body, hash, chain_seq: `${body.chain}:${body.seq}`, user_ids });
						this.head = { seq: body.seq, hash };
						return doc;
					} catch (err) {
						// Someone else wrote this number (a second process with our node id): read the head again.
						this.head = null;
						if ((err as { type?: string }).type !== "CONFLICT" || attempt >= 3) throw err;
					}
				}
			});
		},

		async verifyAll() {
			const chains: ChainCheck[] = [];
			let current: ChainVerifier | null = null;
			for (let offset = 0; ; offset += PAGE) {
				const page = await this.dbFind<AuditDoc>({ sort: ["chain", "seq"], limit: PAGE, offset });
				for (const e of page) {
					if (!current || current.chain !== e.chain) {
						if (current) chains.push(current.result());
						current = new ChainVerifier(e.chain);
					}
					current.push(e);
				}
				if (page.length < PAGE) break;
			}
			if (current) chains.push(current.result());
			const bad = chains.find(c => !c.ok);
			return {
				ok: !bad,
				entries: chains.reduce((n, c) => n + c.entries, 0),
				...(bad ? { first_bad_seq: bad.first_bad_seq, first_bad_chain: bad.chain } : {}),
				chains
			};
		}
	},

	created() {
		this.chain = this.broker.nodeID;
		this.queue = new SerialQueue();
		this.head = null;
	}
};

export default AuditService;
