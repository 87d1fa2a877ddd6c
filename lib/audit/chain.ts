import { createHash } from "node:crypto";

/** The hash a chain's first entry points back to. */
export const GENESIS = "0".repeat(64);

/** What an entry says; `hash` seals it together with the previous entry's hash. */
export interface AuditBody {
	/** The writer's chain (one per node that appends, so no two writers share a sequence). */
	chain: string;
	/** 1, 2, 3… within the chain, no gaps. */
	seq: number;
	at: string;
	type: string;
	/** Who acted (a user id), null for the system or an unknown caller. */
	actor_id: string | null;
	/** Whose data or account the event concerns (a user id), if any. */
	subject_id: string | null;
	/** Ids, counts and reason codes only: never a password, token, email or IP. */
	data: Record<string, unknown>;
	request_id: string | null;
	prev_hash: string;
}

export interface AuditEntry extends AuditBody {
	hash: string;
}

/** JSON with object keys sorted at every level, so one value always has one text. */
export function canonicalJson(value: unknown): string {
	if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
	if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
	const obj = value as Record<string, unknown>;
	const keys = Object.keys(obj)
		.filter(k => obj[k] !== undefined)
		.sort();
	return `{${keys.map(k => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
}

/** sha256 over the canonical JSON of the entry's body (which holds the previous hash). */
export function entryHash(body: AuditBody): string {
	const { chain, seq, at, type, actor_id, subject_id, data, request_id, prev_hash } = body;
	return createHash("sha256")
		.update(canonicalJson({ chain, seq, at, type, actor_id, subject_id, data, request_id, prev_hash }))
		.digest("hex");
}

export interface ChainCheck {
	chain: string;
	entries: number;
	ok: boolean;
	/** The first entry that does not follow from the one before (or is missing: a gap). */
	first_bad_seq?: number;
	/** The hash of the last good entry (operators can record it elsewhere to detect truncation). */
	head_hash: string;
}

/**
 * Walks one chain in sequence order: each entry must carry the next sequence number, point at
 * the previous entry's hash and hash to what it stores. Stateful so chains can be read in pages.
 */
export class ChainVerifier {
	private expectedSeq = 1;
	private prevHash = GENESIS;
	private count = 0;
	private bad?: number;

	constructor(readonly chain: string) {}

	push(e: AuditEntry): void {
		this.count++;
		if (this.bad !== undefined) return;
		const intact = e.seq === this.expectedSeq && e.prev_hash === this.prevHash && entryHash(e) === e.hash;
		if (!intact) {
			// A gap (deleted entries) is reported at the first missing number.
			this.bad = typeof e.seq === "number" && e.seq > this.expectedSeq ? this.expectedSeq : e.seq;
			return;
		}
		this.expectedSeq++;
		this.prevHash = e.hash;
	}

	result(): ChainCheck {
		return { chain: this.chain, entries: this.count, ok: this.bad === undefined, ...(this.bad !== undefined ? { first_bad_seq: this.bad } : {}), head_hash: this.prevHash };
	}
}

/** Appends run one at a time in the order they were asked for (a chain has a single writer). */
export class SerialQueue {
	private tail: Promise<unknown> = Promise.resolve();

	run<T>(task: () => Promise<T>): Promise<T> {
		const next = this.tail.then(task, task);
		this.tail = next.catch(() => undefined);
		return next;
	}
}
