/**
 * Which broker events the audit log records, and what of their payload it keeps. Only the
 * fields named here are copied (ids, reason codes, purpose names), so a producer that adds
 * an email or a token to its payload cannot leak it into the permanent record.
 */
export interface AuditRecord {
	type: string;
	actor_id: string | null;
	subject_id: string | null;
	data: Record<string, unknown>;
}

type Payload = Record<string, unknown>;

const id = (v: unknown): string | null => (typeof v === "string" && v.length > 0 && v.length <= 128 ? v : null);
const code = (v: unknown): string | null => (typeof v === "string" ? v.slice(0, 64) : null);
const names = (v: unknown): string[] => (Array.isArray(v) ? v.filter(s => typeof s === "string").map(s => s.slice(0, 64)).slice(0, 32) : []);
const pick = (p: Payload, keys: string[], as: (v: unknown) => unknown = id) =>
	Object.fromEntries(keys.map(k => [k, as(p[k])]).filter(([, v]) => v !== null && v !== undefined));

/** Self-service events: the user is both actor and subject. */
const own = (type: string, keys: string[] = [], codes: string[] = []) => (p: Payload): AuditRecord => ({
	type,
	actor_id: id(p.user_id),
	subject_id: id(p.user_id),
	data: { ...pick(p, keys), ...pick(p, codes, code) }
});

export const AUDITED_EVENTS: Record<string, (p: Payload) => AuditRecord> = {
	"user.registered": own("user.registered"),
	"auth.login": own("auth.login"),
	// The account an attempt named, when it exists (never the email typed); the reason code only.
	"auth.login_failed": p => ({ type: "auth.login_failed", actor_id: null, subject_id: id(p.user_id), data: pick(p, ["reason"], code) }),
	"auth.family_revoked": p => ({ type: "auth.family_revoked", actor_id: null, subject_id: id(p.user_id), data: { ...pick(p, ["family_id"]), ...pick(p, ["reason"], code) } }),
	"user.roles_changed": p => ({
		type: "user.roles_changed",
		actor_id: id(p.by_user_id),
		subject_id: id(p.user_id),
		data: { roles: names(p.roles), ...pick(p, ["by"], code) }
	}),
	"consent.changed": p => ({ ...own("consent.changed")(p), data: { changed: names(p.changed) } }),
	"consent.biometric_withdrawn": own("consent.biometric_withdrawn"),
	"privacy.export_requested": own("privacy.export_requested", ["export_id"]),
	"privacy.export_completed": own("privacy.export_completed", ["export_id"]),
	"user.erased": own("user.erased", ["erasure_id"]),
	"privacy.erasure_completed": own("privacy.erasure_completed", ["erasure_id"]),
	"apikey.created": own("apikey.created", ["key_id"]),
	"apikey.revoked": own("apikey.revoked", ["key_id"]),
	"apikey.rejected": p => ({ type: "apikey.rejected", actor_id: null, subject_id: id(p.user_id), data: { ...pick(p, ["key_id"]), ...pick(p, ["reason"], code) } }),
	// Someone (an admin, an operator, a service acting for one) read another user's data.
	"audit.access": p => ({
		type: "access",
		actor_id: id(p.actor_id),
		subject_id: id(p.subject_id),
		data: { ...pick(p, ["resource", "action"], code), ...pick(p, ["resource_id"]) }
	})
};
