import { z } from "zod";
import { CONSENT_DEFAULTS, type UserConsent } from "../../agents/workflow/consent";

/** The purposes a user consents to (SPEC §3 /privacy/consents); all but public_sharing gate analysis agents. */
export const PURPOSES = [
	"face_analysis",
	"fashion_analysis",
	"posture_analysis",
	"bio_analysis",
	"detailed_analysis",
	"biometric_analysis",
	"technical_metadata",
	"public_sharing"
] as const;
export type Purpose = (typeof PURPOSES)[number];
export type Purposes = Partial<Record<Purpose, boolean>>;

/** Fields of a stored face section that are biometric estimates (SPEC §5): gone when biometric consent is withdrawn. */
export const BIOMETRIC_FIELDS = ["age", "age_range", "gender", "gender_confidence", "descriptor"] as const;

/** `PUT /privacy/consents`: any subset of the purposes (booleans only), and optionally the policy version agreed to. */
export const ConsentsPatch = z.object({
	...Object.fromEntries(PURPOSES.map(p => [p, z.boolean().optional()])),
	policy_version: z.string().min(1).max(32).optional()
}) as z.ZodType<Purposes & { policy_version?: string }>;
export type ConsentsPatch = Purposes & { policy_version?: string };

/** One entry of a user's consent history: the whole state after a change (the newest entry is the current state). */
export interface ConsentDoc {
	_id: string;
	user_id: string;
	/** 1, 2, 3… per user: the newest entry is the current state. */
	seq: number;
	purposes: Purposes;
	/** When each purpose was last set, and under which policy version. */
	timestamps: Partial<Record<Purpose, string>>;
	versions: Partial<Record<Purpose, string>>;
	changed: Purpose[];
	/** `user`: PUT /privacy/consents; `profile`: the public opt-in changed through PATCH /auth/me. */
	source: "user" | "profile";
	policy_version: string;
	created_at: string;
}

export interface ConsentsView extends Record<Purpose, boolean> {
	/** The policy version of the newest change (the current one when nothing is stored). */
	policy_version: string;
	current_policy_version: string;
	/** Per purpose: when it was set, null = never set (the default applies). */
	timestamps: Record<Purpose, string | null>;
	updated_at: string | null;
}

/** The answer of GET/PUT: every purpose (stored value, else the SPEC default), its timestamp, the policy versions. */
export function consentsView(doc: ConsentDoc | null, publicSharing: boolean, policyVersion: string): ConsentsView {
	const defaults: Record<Purpose, boolean> = { ...CONSENT_DEFAULTS, public_sharing: false };
	const values = Object.fromEntries(PURPOSES.map(p => [p, doc?.purposes[p] ?? defaults[p]])) as Record<Purpose, boolean>;
	values.public_sharing = publicSharing;
	return {
		...values,
		policy_version: doc?.policy_version ?? policyVersion,
		current_policy_version: policyVersion,
		timestamps: Object.fromEntries(PURPOSES.map(p => [p, doc?.timestamps[p] ?? null])) as Record<Purpose, string | null>,
		updated_at: doc?.created_at ?? null
	};
}

/**
 * What an analysis may rely on from the stored state: a withdrawal (false) always counts; a
 * grant (true) only if it was given under the policy version in force (a new policy text asks again).
 */
export function storedForAnalysis(doc: ConsentDoc | null, policyVersion: string): UserConsent | null {
	if (!doc) return null;
	const out: UserConsent = {};
	for (const p of PURPOSES) {
		if (p === "public_sharing") continue;
		const v = doc.purposes[p];
		if (v === false || (v === true && doc.versions[p] === policyVersion)) out[p] = v;
	}
	return out;
}

/** The next history entry, or null when the patch changes nothing. */
export function nextEntry(prev: ConsentDoc | null, patch: Purposes, policyVersion: string, source: ConsentDoc["source"], now: string): Omit<ConsentDoc, "_id" | "user_id"> | null {
	const changed = PURPOSES.filter(p => patch[p] !== undefined && (prev?.purposes[p] !== patch[p] || prev?.versions[p] !== policyVersion));
	if (!changed.length) return null;
	const purposes = { ...prev?.purposes };
	const timestamps = { ...prev?.timestamps };
	const versions = { ...prev?.versions };
	for (const p of changed) {
		purposes[p] = patch[p];
		timestamps[p] = now;
		versions[p] = policyVersion;
	}
	return { seq: (prev?.seq ?? 0) + 1, purposes, timestamps, versions, changed, source, policy_version: policyVersion, created_at: now };
}

/**
 * Removes biometric estimates from a stored analysis value, wherever they sit (report sections,
 * checkpoints, specialized outputs): estimates become null (the shape of a non-biometric run),
 * descriptors go. Answers the cleaned value and whether anything changed.
 */
export function stripBiometric(value: unknown): { value: unknown; changed: boolean } {
	let changed = false;
	const walk = (v: unknown): unknown => {
		if (Array.isArray(v)) return v.map(walk);
		if (!v || typeof v !== "object") return v;
		const out: Record<string, unknown> = {};
		for (const [k, x] of Object.entries(v)) {
			if ((BIOMETRIC_FIELDS as readonly string[]).includes(k)) {
				if (k === "descriptor") {
					changed = true;
					continue;
				}
				if (x !== null) changed = true;
				out[k] = null;
			} else if (k === "biometric" && x === true) {
				out[k] = false;
				changed = true;
			} else out[k] = walk(x);
		}
		return out;
	};
	const cleaned = walk(value);
	return { value: cleaned, changed };
}
