import type { Context, ServiceSchema } from "moleculer";
import { z } from "zod";
import { config } from "../lib/config";
import { ClientError } from "../lib/errors";
import { loadKeyRing, tokenDigest, type KeyRing } from "../lib/tokens";
import { dbMixin, type DbMethods } from "../mixins/db.mixin";
import { Email, NewUser, Password, type AuthenticatedUser } from "./users.service";

export const TokenPair = z.object({
	access_token: z.string(),
	refresh_token: z.string(),
	token_type: z.literal("bearer"),
	expires_in: z.number().int()
});
export type TokenPair = z.infer<typeof TokenPair>;

const RefreshInput = z.object({ refresh_token: z.string().min(1).max(4096) });

interface RefreshDoc {
	_id: string;
	user_id: string;
	family_id: string;
	token_hash: string;
	expires_at: string;
	used_at: string | null;
	revoked: boolean;
}

interface Methods {
	issue(user: AuthenticatedUser, familyId?: string): Promise<TokenPair>;
	revokeFamily(familyId: string, reason: string, userId?: string): Promise<void>;
	withConfiguredRoles(ctx: Context, user: AuthenticatedUser, email: string): Promise<AuthenticatedUser>;
	auditFailedLogin(ctx: Context<{ email: string }>, err: unknown): Promise<void>;
}

interface Vars {
	keys: KeyRing;
}

const reused = () => new ClientError("TOKEN_REUSED", "Refresh token already used; please sign in again");

/**
 * Tokens: short-lived access JWTs and rotating refresh tokens. A refresh token works
 * once; presenting a used one revokes its whole family (it was stolen or replayed).
 */
const AuthService: ServiceSchema<Record<string, never>, Methods & DbMethods, Vars> = {
	name: "auth",
	mixins: [
		dbMixin("refresh_tokens", {
			indexes: [{ fields: ["token_hash"], unique: true }, { fields: ["family_id"] }, { fields: ["user_id"] }]
		})
	],

	actions: {
		/** POST /auth/register */
		register: {
			auth: "none",
			// Not idempotent: a retried sign-up after a timeout would answer 409 for a created account.
			retryPolicy: { enabled: false },
			rateClass: "auth",
			input: NewUser,
			async handler(ctx: Context<z.infer<typeof NewUser>>): Promise<TokenPair> {
				const user = await ctx.call<AuthenticatedUser, z.infer<typeof NewUser>>("users.create", ctx.params);
				ctx.emit("user.registered", { user_id: user.id });
				return this.issue(await this.withConfiguredRoles(ctx, user, ctx.params.email));
			}
		},

		/** POST /auth/login */
		login: {
			auth: "none",
			rateClass: "auth",
			input: z.object({ email: Email, password: Password }),
			async handler(ctx: Context<{ email: string; password: string }>): Promise<TokenPair> {
				let user: AuthenticatedUser;
				try {
					user = await ctx.call<AuthenticatedUser, typeof ctx.params>("users.authenticate", ctx.params);
				} catch (err) {
					await this.auditFailedLogin(ctx, err);
					throw err;
				}
				user = await this.withConfiguredRoles(ctx, user, ctx.params.email);
				ctx.emit("auth.login", { user_id: user.id });
				return this.issue(user);
			}
		},

		/** POST /auth/refresh — rotation with reuse detection. */
		refresh: {
			auth: "none",
			// Not idempotent: a retried rotation would look like token reuse and revoke the family.
			retryPolicy: { enabled: false },
			rateClass: "auth",
			input: RefreshInput,
			async handler(ctx: Context<z.infer<typeof RefreshInput>>): Promise<TokenPair> {
				const claims = await this.keys.verify(ctx.params.refresh_token, "refresh");
				const record = await this.dbFindOne<RefreshDoc>({ token_hash: tokenDigest(ctx.params.refresh_token) });
				if (!record || record.user_id !== claims.sub) throw new ClientError("INVALID_TOKEN", "Invalid token");
				if (record.revoked) throw reused();
				// Conditional update: of two concurrent refreshes with one token, exactly one wins.
				const won = await this.dbUpdateMany({ _id: record._id, used_at: null }, { used_at: new Date().toISOString() });
				if (won !== 1) {
					await this.revokeFamily(record.family_id, "refresh token reuse", record.user_id);
					throw reused();
				}
				const user = await ctx.call<AuthenticatedUser, { id: string }>("users.principal", { id: record.user_id });
				return this.issue(user, record.family_id);
			}
		},
	},

	events: {
		/** An erased account keeps no refresh tokens. */
		async "user.erased"(ctx: Context<{ user_id: string }>) {
			await this.dbRemoveMany({ user_id: ctx.params.user_id });
		}
	},

	methods: {
		async issue(user, familyId) {
			const { accessTtlS, refreshTtlS } = config().auth;
			const family = familyId ?? crypto.randomUUID();
			const access = await this.keys.sign({ sub: user.id, type: "access", roles: user.roles }, accessTtlS);
			const refresh = await this.keys.sign({ sub: user.id, type: "refresh", fam: family }, refreshTtlS);
			await this.dbInsert<Omit<RefreshDoc, "_id">>({
				user_id: user.id,
				family_id: family,
				token_hash: tokenDigest(refresh),
				expires_at: new Date(Date.now() + refreshTtlS * 1000).toISOString(),
				used_at: null,
				revoked: false
			});
			return { access_token: access, refresh_token: refresh, token_type: "bearer", expires_in: accessTtlS };
		},

		async revokeFamily(familyId, reason, userId) {
			const n = await this.dbUpdateMany({ family_id: familyId }, { revoked: true });
			this.logger.warn(`Revoked refresh token family ${familyId} (${n} tokens): ${reason}`);
			this.broker.emit("auth.family_revoked", { family_id: familyId, reason, user_id: userId ?? null });
		},

		/** `ADMIN_EMAILS`: these accounts get the admin role at sign-up and sign-in (audited by users.setRole). */
		async withConfiguredRoles(ctx, user, email) {
			if (user.roles.includes("admin") || !config().security.adminEmails.includes(email)) return user;
			// The system grants it (config), not the caller: no user on this call, whatever token came with the request.
			const granted = (await ctx.call("users.setRole", { email, role: "admin", grant: true, by: "ADMIN_EMAILS" }, { meta: { userId: undefined, roles: undefined } })) as AuthenticatedUser;
			return { id: granted.id, roles: granted.roles };
		},

		/** The audit log learns of a failed login: the account it named (if any, never the email) and why. */
		async auditFailedLogin(ctx, err) {
			const reason = (err as { type?: string })?.type;
			if (reason !== "UNAUTHORIZED" && reason !== "ACCOUNT_LOCKED") return;
			const found = ((await ctx.call("users.idByEmail", { email: ctx.params.email }).catch(() => null)) ?? { id: null }) as { id: string | null };
			ctx.emit("auth.login_failed", { user_id: found.id, reason });
		}
	},

	created() {
		this.keys = loadKeyRing(config());
	}
};

export default AuthService;
