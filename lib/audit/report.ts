import type { AuditEntry } from "./chain";

export interface RequestStats {
	requested: number;
	completed: number;
	pending: number;
	/** Seconds from request to completion of the completed ones. */
	completion_s: { avg: number; p50: number; p95: number; max: number } | null;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

/** Requests and completions matched by their id (`export_id`, `erasure_id`). */
export function requestStats(entries: Pick<AuditEntry, "type" | "at" | "data">[], requested: string, completed: string, idKey: string): RequestStats {
	const start = new Map<string, number>();
	const done = new Map<string, number>();
	for (const e of entries) {
		const rid = e.data[idKey];
		if (typeof rid !== "string") continue;
		if (e.type === requested && !start.has(rid)) start.set(rid, Date.parse(e.at));
		if (e.type === completed && !done.has(rid)) done.set(rid, Date.parse(e.at));
	}
	const times = [...done].filter(([rid]) => start.has(rid)).map(([rid, t]) => Math.max(0, (t - start.get(rid)!) / 1000)).sort((a, b) => a - b);
	const round = (n: number) => Math.round(n * 1000) / 1000;
	return {
		requested: start.size,
		completed: [...done.keys()].filter(rid => start.has(rid)).length,
		pending: [...start.keys()].filter(rid => !done.has(rid)).length,
		completion_s: times.length
			? { avg: round(times.reduce((a, b) => a + b, 0) / times.length), p50: round(percentile(times, 50)), p95: round(percentile(times, 95)), max: round(times[times.length - 1]) }
			: null
	};
}

/** Without the consents service: how often each purpose changed, from the audit log alone. */
export function consentChanges(entries: Pick<AuditEntry, "type" | "data" | "subject_id">[]) {
	const byPurpose: Record<string, number> = {};
	const users = new Set<string>();
	let changes = 0;
	let biometricWithdrawals = 0;
	for (const e of entries) {
		if (e.type === "consent.biometric_withdrawn") biometricWithdrawals++;
		if (e.type !== "consent.changed") continue;
		changes++;
		if (e.subject_id) users.add(e.subject_id);
		for (const p of (e.data.changed as string[] | undefined) ?? []) byPurpose[p] = (byPurpose[p] ?? 0) + 1;
	}
	return { source: "audit", changes, users_changing: users.size, by_purpose: byPurpose, biometric_withdrawals: biometricWithdrawals };
}
