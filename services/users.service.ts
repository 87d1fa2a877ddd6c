import type { Context, ServiceSchema } from "moleculer";
import { z } from "zod";
import { config } from "../lib/config";
import { ClientError, notFound, rateLimited, unauthorized, validation } from "../lib/errors";
import { dummyHash, hashPassword, passwordIssues, verifyPassword } from "../lib/passwords";
import { dbMixin, type DbMethods } from "../mixins/db.mixin";
import type { Meta } from "../types/meta";

/** Emails compare case-insensitively and in one Unicode form. */
export const normalizeEmail = (email: string) => email.trim().normalize("NFKC").toLowerCase();

export const Email = z.string().max(254).transform(normalizeEmail).pipe(z.email({ error: "must be an email address" }));
/** Any text, but well-formed Unicode: lone surrogates would be mangled into one another before hashing. */
export const Password = z.string().min(1).max(1024).refine(s => s.isWellFormed(), "must be valid Unicode text");
/** A display name: printable, no angle brackets (it is shown on public pages). */
export const Alias = z
	.string()
	.trim()
	.min(2)
	.max(40)
	.regex(/^[^\p{C}<>]+$/u, "must be printable text without < or >");

export const NewUser = z.object({
	email: Email,
	password: Password,
	public_alias: Alias.nullish(),
	opt_in_public_analysis: z.boolean().default(false)
});

export const ProfilePatch = z.object({
	public_alias: Alias.nullable().optional(),
	opt_in_public_analysis: z.boolean().optional()
});

/** The original's PUT /api/users/profile takes its fields in the query string, so booleans arrive as text. */
export const LegacyProfilePatch = ProfilePatch.extend({
	opt_in_public_analysis: z
		.union([z.boolean(), z.enum(["true", "false"]).transform(v => v === "true")])
		.optional()
});

/** The profile as the frontend reads it (`GET /auth/me`). */
export const Profile = z.object({
	id: z.string(),
	email: z.string(),
	public_alias: z.string().nullable(),
	opt_in_public_analysis: z.boolean(),
	is_active: z.boolean(),
	created_at: z.string(),
	last_login: z.string().nullable()
});
export type Profile = z.infer<typeof Profile>;

export interface UserDoc {
	_id: string;
	email: string;
	password_hash: string;
	public_alias: string | null;
	opt_in_public_analysis: boolean;
	is_active: boolean;
	roles: string[];
	created_at: string;
	last_login: string | null;
	/** Failed logins in the current window, and when the window opened. */
	login_failures: number;
	failure_window_start: string | null;
	locked_until: string | null;
}

/** What the social layer may know of an account: its alias and whether it is public. */
export interface PublicProfile {
	user_id: string;
	alias: string | null;
	opt_in: boolean;
}

const publicProfileOf = (id: string, u: UserDoc | undefined): PublicProfile => {
	const opt_in = Boolean(u && u.is_active && u.opt_in_public_analysis);
	return { user_id: id, alias: opt_in ? (u!.public_alias ?? null) : null, opt_in };
};

export interface AuthenticatedUser {
	id: string;
	roles: string[];
}

const toProfile = (u: UserDoc): Profile => ({
	id: u._id,
	email: u.email,
	public_alias: u.public_alias ?? null,
	opt_in_public_analysis: Boolean(u.opt_in_public_analysis),
	is_active: u.is_active,
	created_at: u.created_at,
	last_login: u.last_login ?? null
});

interface Methods {
	userOf(ctx: Context<unknown, Meta>): Promise<UserDoc>;
	recordFailure(user: UserDoc): Promise<void>;
}

/** Accounts: the owner of the users collection and of password checks and lockouts. */
const UsersService: ServiceSchema<Record<string, never>, Methods & DbMethods> = {
	name: "users",
	mixins: [dbMixin("users", { indexes: [{ fields: ["email"], unique: true }] })],

	actions: {
		/** Creates an account (called by auth.register). */
		create: {
			visibility: "public",
			// Not idempotent: never replayed after a timeout (the account may exist by then).
			retryPolicy: { enabled: false },
			input: NewUser,
			async handler(ctx: Context<z.infer<typeof NewUser>>): Promise<AuthenticatedUser> {
				const { email, password, public_alias, opt_in_public_analysis } = ctx.params;
				const issues = passwordIssues(password, email);
				if (issues.length) throw validation(issues.map(i => ({ field: "password", message: i.message })));
				const now = new Date().toISOString();
				try {
					const user = await this.dbInsert<Omit<UserDoc, "_id">>({
						email,
						password_hash: await hashPassword(password, config().auth.argon2),
						public_alias: public_alias ?? null,
						opt_in_public_analysis,
						is_active: true,
						roles: ["user"],
						created_at: now,
						last_login: null,
						login_failures: 0,
						failure_window_start: null,
						locked_until: null
					});
					return { id: user._id, roles: user.roles };
				} catch (err) {
					if ((err as ClientError).type === "CONFLICT") throw new ClientError("CONFLICT", "Email already registered");
					throw err;
				}
			}
		},

		/** Checks a password; locks the account after repeated failures (called by auth.login). */
		authenticate: {
			visibility: "public",
			input: z.object({ email: Email, password: Password }),
			async handler(ctx: Context<{ email: string; password: string }>): Promise<AuthenticatedUser> {
				const { argon2 } = config().auth;
				const user = await this.dbFindOne<UserDoc>({ email: ctx.params.email });
				if (!user) {
					await verifyPassword(await dummyHash(argon2), ctx.params.password);
					throw unauthorized("Invalid email or password");
				}
				const lockedFor = user.locked_until ? Date.parse(user.locked_until) - Date.now() : 0;
				if (lockedFor > 0) throw rateLimited(lockedFor / 1000, "ACCOUNT_LOCKED");
				if (!(await verifyPassword(user.password_hash, ctx.params.password))) {
					await this.recordFailure(user);
					throw unauthorized("Invalid email or password");
				}
				if (!user.is_active) throw unauthorized("Account disabled");
				await this.dbUpdate(user._id, {
					last_login: new Date().toISOString(),
					login_failures: 0,
					failure_window_start: null,
					locked_until: null
				});
				return { id: user._id, roles: user.roles };
			}
		},

		/** The active account behind a token subject (called by auth.refresh). */
		principal: {
			visibility: "public",
			input: z.object({ id: z.string().min(1).max(64) }),
			async handler(ctx: Context<{ id: string }>): Promise<AuthenticatedUser> {
				const user = await this.dbGet<UserDoc>(ctx.params.id);
				if (!user || !user.is_active) throw unauthorized("Account not found or disabled");
				return { id: user._id, roles: user.roles };
			}
		},

		/** GET /auth/me */
		me: {
			input: z.object({}),
			async handler(ctx: Context<unknown, Meta>): Promise<Profile> {
				return toProfile(await this.userOf(ctx));
			}
		},

		/** PATCH /auth/me — only the alias and the public opt-in can change here. */
		updateMe: {
			input: ProfilePatch,
			async handler(ctx: Context<z.infer<typeof ProfilePatch>, Meta>): Promise<Profile> {
				const user = await this.userOf(ctx);
				const patch = Object.fromEntries(Object.entries(ctx.params).filter(([, v]) => v !== undefined));
				if (Object.keys(patch).length === 0) return toProfile(user);
				const updated = await this.dbUpdate<UserDoc>(user._id, patch);
				if (!updated) throw notFound("User");
				ctx.emit("user.updated", { user_id: user._id, changed: Object.keys(patch) });
				return toProfile(updated);
			}
		},

		/** PUT /api/users/profile — the original's route: the same change, answered as `{message, user}`. */
		updateProfile: {
			input: LegacyProfilePatch,
			async handler(ctx: Context<z.infer<typeof ProfilePatch>, Meta>): Promise<{ message: string; user: Profile }> {
				const user = await ctx.call<Profile, z.infer<typeof ProfilePatch>>("users.updateMe", ctx.params, {
					meta: ctx.meta
				});
				return { message: "Profile updated", user };
			}
		},

		/**
		 * Internal (social layer): the public face of some accounts — alias and whether they may
		 * be shown publicly (opted in and active). Unknown ids are answered with `opt_in: false`.
		 */
		publicProfiles: {
			visibility: "public",
			input: z.object({ ids: z.array(z.string().min(1).max(64)).max(1000) }),
			async handler(ctx: Context<{ ids: string[] }>): Promise<PublicProfile[]> {
				const ids = [...new Set(ctx.params.ids)];
				const docs = ids.length ? await this.dbFind<UserDoc>({ query: { _id: { $in: ids } } }) : [];
				const byId = new Map(docs.map(d => [d._id, d]));
				return ids.map(id => publicProfileOf(id, byId.get(id)));
			}
		},

		/** Internal (social layer): every account that may be shown publicly, oldest first, in pages. */
		publicUsers: {
			visibility: "public",
			input: z.object({ limit: z.number().int().min(1).max(5000).default(1000), offset: z.number().int().min(0).default(0) }),
			async handler(ctx: Context<{ limit: number; offset: number }>): Promise<PublicProfile[]> {
				const docs = await this.dbFind<UserDoc>({ query: { opt_in_public_analysis: true, is_active: true }, sort: ["created_at", "_id"], limit: ctx.params.limit, offset: ctx.params.offset });
				return docs.map(d => publicProfileOf(d._id, d));
			}
		},

		/** Internal (privacy.erase): the account stops working at once — no login, no refresh — while its data is erased. */
		deactivate: {
			visibility: "public",
			input: z.object({ id: z.string().min(1).max(64) }),
			async handler(ctx: Context<{ id: string }>): Promise<{ ok: boolean }> {
				return { ok: Boolean(await this.dbUpdate(ctx.params.id, { is_active: false })) };
			}
		},

		/**
		 * Internal (retention): active accounts whose last sign-in (or sign-up, for one that never
		 * signed in again) is before `before`; admins are never retired this way.
		 */
		inactiveSince: {
			visibility: "public",
			input: z.object({ before: z.string().max(40), limit: z.number().int().min(1).max(10_000).default(1000) }),
			async handler(ctx: Context<{ before: string; limit: number }>) {
				const { before, limit } = ctx.params;
				const docs = await this.dbFind<UserDoc>({
					query: { is_active: true, $or: [{ last_login: { $lt: before } }, { last_login: null, created_at: { $lt: before } }] },
					limit
				});
				return docs.filter(u => !u.roles?.includes("admin")).map(u => ({ user_id: u._id, last_active_at: u.last_login ?? u.created_at }));
			}
		},

		/** Internal (privacy export): the account as stored, without the password hash. */
		exportUser: {
			visibility: "public",
			input: z.object({ user_id: z.string().min(1).max(64) }),
			async handler(ctx: Context<{ user_id: string }>) {
				const user = await this.dbGet<UserDoc>(ctx.params.user_id);
				if (!user) return null;
				const { password_hash: _h, login_failures: _f, failure_window_start: _w, ...rest } = user;
				return { ...toProfile(user), roles: rest.roles, locked_until: rest.locked_until };
			}
		},

		/** Internal (auth.login's audit of failures, operators): the account id behind an email, or null. */
		idByEmail: {
			visibility: "public",
			input: z.object({ email: Email }),
			async handler(ctx: Context<{ email: string }>): Promise<{ id: string | null }> {
				const user = await this.dbFindOne<UserDoc>({ email: ctx.params.email });
				return { id: user?._id ?? null };
			}
		},

		/** Internal (REPL `lm-grant-admin` / `lm-revoke-admin`, `ADMIN_EMAILS`): grant or revoke a role; audited as `user.roles_changed`. */
		setRole: {
			visibility: "public",
			roles: ["admin"],
			input: z.object({ email: Email, role: z.enum(["admin"]), grant: z.boolean(), by: z.string().min(1).max(64) }),
			async handler(ctx: Context<{ email: string; role: string; grant: boolean; by: string }, Meta>): Promise<AuthenticatedUser & { changed: boolean }> {
				const user = await this.dbFindOne<UserDoc>({ email: ctx.params.email });
				if (!user) throw notFound("User");
				const { role, grant } = ctx.params;
				const roles = grant ? [...new Set([...user.roles, role])] : user.roles.filter(r => r !== role);
				if (roles.length === user.roles.length) return { id: user._id, roles: user.roles, changed: false };
				await this.dbUpdate(user._id, { roles });
				ctx.emit("user.roles_changed", { user_id: user._id, roles, by: ctx.params.by, by_user_id: ctx.meta.userId ?? null });
				return { id: user._id, roles, changed: true };
			}
		}
	},

	events: {
		/** Erasure: the account record itself goes. */
		async "user.erased"(ctx: Context<{ user_id: string }>) {
			await this.dbRemove(ctx.params.user_id);
		}
	},

	methods: {
		async userOf(ctx) {
			const id = ctx.meta.userId;
			if (!id) throw unauthorized();
			const user = await this.dbGet<UserDoc>(id);
			if (!user || !user.is_active) throw unauthorized("Account not found or disabled");
			return user;
		},

		async recordFailure(user) {
			const { maxFailures, windowS, durationS } = config().auth.lockout;
			const now = Date.now();
			const windowOpen = user.failure_window_start && now - Date.parse(user.failure_window_start) < windowS * 1000;
			const failures = windowOpen ? user.login_failures + 1 : 1;
			if (failures < maxFailures) {
				await this.dbUpdate(user._id, {
					login_failures: failures,
					failure_window_start: windowOpen ? user.failure_window_start : new Date(now).toISOString()
				});
				return;
			}
			// Lock, and start counting afresh once the lock ends.
			await this.dbUpdate(user._id, {
				login_failures: 0,
				failure_window_start: null,
				locked_until: new Date(now + durationS * 1000).toISOString()
			});
			this.logger.warn(`Account ${user._id} locked after ${failures} failed logins`);
		}
	}
};

export default UsersService;
