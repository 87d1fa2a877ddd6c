import type { Context, ServiceSchema } from "moleculer";
import { z } from "zod";
import { API_KEY_SCOPES, digestMatches, generateApiKey, parseApiKey, secretDigest } from "../lib/apikeys";
import { config } from "../lib/config";
import { ClientError, notFound, unauthorized } from "../lib/errors";
import { dbMixin, type DbMethods } from "../mixins/db.mixin";
import type { Meta } from "../types/meta";

interface ApiKeyDoc {
	_id: string;
	user_id: string;
	name: string;
	prefix: string;
	secret_hash: string;
	scopes: string[];
	created_at: string;
	expires_at: string;
	revoked_at: string | null;
}

type Lookup = Pick<ApiKeyDoc, "_id" | "user_id" | "secret_hash" | "scopes" | "expires_at" | "revoked_at">;

export interface ApiKeyPrincipal {
	user_id: string;
	key_id: string;
	scopes: string[];
}

const NewKey = z.object({
	name: z.string().trim().min(1).max(64).regex(/^[^\p{C}<>]+$/u, "must be printable text without < or >"),
	scopes: z.array(z.enum(API_KEY_SCOPES)).min(1).max(API_KEY_SCOPES.length).transform(s => [...new Set(s)]),
	expires_in_days: z.number().int().min(1).max(3650).optional()
});

const status = (k: ApiKeyDoc, now = Date.now()) => (k.revoked_at ? "revoked" : Date.parse(k.expires_at) <= now ? "expired" : "active");
const view = (k: ApiKeyDoc) => ({
	id: k._id,
	name: k.name,
	prefix: k.prefix,
	scopes: k.scopes,
	created_at: k.created_at,
	expires_at: k.expires_at,
	revoked_at: k.revoked_at,
	status: status(k)
});
/** The cacher's key of a lookup is `apikeys.lookup:"<prefix>"` (the value JSON-quoted): match around it. */
const lookupKeys = (prefix: string) => `apikeys.lookup:*${prefix}*`;
const invalidKey = () => new ClientError("INVALID_TOKEN", "Invalid API key");

interface Methods {
	ownerOf(ctx: Context<unknown, Meta>): string;
	forget(prefix: string): Promise<void>;
}

/**
 * API keys for server-to-server and enterprise clients: several per user (so they rotate
 * without downtime), scoped, expiring, revocable; the secret is shown once and stored hashed.
 * The gateway authenticates `X-API-Key` / `Bearer lm_…` through `apikeys.authenticate`.
 */
const ApiKeysService: ServiceSchema<Record<string, never>, Methods & DbMethods> = {
	name: "apikeys",
	mixins: [dbMixin("api_keys", { indexes: [{ fields: ["prefix"], unique: true }, { fields: ["user_id"] }] })],

	merged(schema) {
		const lookup = (schema.actions as Record<string, { cache?: unknown }>).lookup;
		lookup.cache = { keys: ["prefix"], ttl: config().security.apiKeyCacheTtlS };
	},

	actions: {
		/** POST /auth/api-keys — the key is in this answer only. */
		create: {
			retryPolicy: { enabled: false },
			rateClass: "auth",
			summary: "Create an API key (shown once)",
			input: NewKey,
			async handler(ctx: Context<z.infer<typeof NewKey>, Meta & { $statusCode?: number; $location?: string }>) {
				const userId = this.ownerOf(ctx);
				const { apiKeyMaxActive, apiKeyDefaultTtlDays } = config().security;
				const now = new Date();
				const active = await this.dbCount({ user_id: userId, revoked_at: null, expires_at: { $gt: now.toISOString() } });
				if (active >= apiKeyMaxActive) throw new ClientError("QUOTA_EXCEEDED", `At most ${apiKeyMaxActive} active API keys; revoke one first`);
				const { prefix, secret, key } = generateApiKey();
				const days = ctx.params.expires_in_days ?? apiKeyDefaultTtlDays;
				const doc = await this.dbInsert<Omit<ApiKeyDoc, "_id">>({
					user_id: userId,
					name: ctx.params.name,
					prefix,
					secret_hash: secretDigest(secret),
					scopes: ctx.params.scopes,
					created_at: now.toISOString(),
					expires_at: new Date(now.getTime() + days * 86400_000).toISOString(),
					revoked_at: null
				});
				ctx.emit("apikey.created", { user_id: userId, key_id: doc._id });
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = "/auth/api-keys";
				return { ...view(doc), key };
			}
		},

		/** GET /auth/api-keys — never the secret. */
		list: {
			summary: "List my API keys (without secrets)",
			input: z.object({}),
			async handler(ctx: Context<unknown, Meta>) {
				const docs = await this.dbFind<ApiKeyDoc>({ query: { user_id: this.ownerOf(ctx) }, sort: ["-created_at", "_id"], limit: 1000 });
				return { items: docs.map(view) };
			}
		},

		/** DELETE /auth/api-keys/{id} — stops working at once on every node. */
		revoke: {
			summary: "Revoke one of my API keys",
			input: z.object({ id: z.string().min(1).max(64) }),
			async handler(ctx: Context<{ id: string }, Meta>) {
				const userId = this.ownerOf(ctx);
				const doc = await this.dbGet<ApiKeyDoc>(ctx.params.id);
				if (!doc || doc.user_id !== userId) throw notFound("API key");
				const revoked = doc.revoked_at ? doc : ((await this.dbUpdate<ApiKeyDoc>(doc._id, { revoked_at: new Date().toISOString() })) ?? doc);
				await this.forget(doc.prefix);
				if (!doc.revoked_at) ctx.emit("apikey.revoked", { user_id: userId, key_id: doc._id });
				return view(revoked);
			}
		},

		/** Internal (cached briefly): the stored key behind a prefix; the hash never leaves the gateway path. */
		lookup: {
			visibility: "public",
			input: z.object({ prefix: z.string().regex(/^[0-9a-f]{12}$/) }),
			async handler(ctx: Context<{ prefix: string }>): Promise<Lookup | null> {
				const doc = await this.dbFindOne<ApiKeyDoc>({ prefix: ctx.params.prefix });
				return doc ? { _id: doc._id, user_id: doc.user_id, secret_hash: doc.secret_hash, scopes: doc.scopes, expires_at: doc.expires_at, revoked_at: doc.revoked_at } : null;
			}
		},

		/** Internal (the gateway): who a key belongs to and what it may do; any failure is 401. */
		authenticate: {
			visibility: "public",
			input: z.object({ key: z.string().max(16384) }),
			async handler(ctx: Context<{ key: string }>): Promise<ApiKeyPrincipal> {
				const parsed = parseApiKey(ctx.params.key);
				if (!parsed) throw invalidKey();
				const doc = await ctx.call<Lookup | null, { prefix: string }>("apikeys.lookup", { prefix: parsed.prefix });
				if (!doc) throw invalidKey();
				const reason = !digestMatches(doc.secret_hash, parsed.secret) ? "bad_secret" : doc.revoked_at ? "revoked" : Date.parse(doc.expires_at) <= Date.now() ? "expired" : null;
				if (reason) {
					ctx.emit("apikey.rejected", { user_id: doc.user_id, key_id: doc._id, reason });
					throw invalidKey();
				}
				return { user_id: doc.user_id, key_id: doc._id, scopes: doc.scopes };
			}
		},
	},

	events: {
		/** A revocation on any node: drop this node's cached lookup too. */
		async "apikeys.forget"(ctx: Context<{ prefix: string }>) {
			await this.broker.cacher?.clean(lookupKeys(ctx.params.prefix));
		},

		/** Erasure: the user's keys go (and stop working). */
		async "user.erased"(ctx: Context<{ user_id: string }>) {
			const docs = await this.dbFind<ApiKeyDoc>({ query: { user_id: ctx.params.user_id } });
			await this.dbRemoveMany({ user_id: ctx.params.user_id });
			for (const d of docs) await this.forget(d.prefix);
		}
	},

	methods: {
		ownerOf(ctx) {
			if (!ctx.meta.userId) throw unauthorized();
			return ctx.meta.userId;
		},

		async forget(prefix) {
			await this.broker.cacher?.clean(lookupKeys(prefix));
			await this.broker.broadcast("apikeys.forget", { prefix });
		}
	}
};

export default ApiKeysService;
