import type { Context, ServiceSchema } from "moleculer";
import { z } from "zod";
import { config } from "../lib/config";
import { unauthorized, validation } from "../lib/errors";
import { ConsentsPatch, consentsView, nextEntry, storedForAnalysis, type ConsentDoc, type ConsentsView, type Purposes } from "../lib/privacy/consents";
import { dbMixin, type DbMethods } from "../mixins/db.mixin";
import type { Meta } from "../types/meta";
import type { Profile } from "./users.service";

const Id = z.string().min(1).max(64);
const UserInput = z.object({ user_id: Id });

interface Methods {
	latest(userId: string): Promise<ConsentDoc | null>;
	append(userId: string, patch: Purposes, source: ConsentDoc["source"]): Promise<{ prev: ConsentDoc | null; doc: ConsentDoc | null }>;
	profileOf(ctx: Context<unknown, Meta>, userId: string): Promise<Profile>;
	forgetBiometricCache(ctx: Context<unknown, Meta>, userId: string): Promise<void>;
}

/**
 * Per-purpose consents, versioned with the policy text (POLICY_VERSION) and timestamped per
 * purpose. Every change appends the whole state to the user's history; the newest entry is the
 * current state. `public_sharing` mirrors the profile's `opt_in_public_analysis`, which stays the
 * one source of truth (docs/decisions.md): setting it here changes the profile.
 */
const ConsentsService: ServiceSchema<Record<string, never>, Methods & DbMethods> = {
	name: "consents",
	mixins: [dbMixin("consents", { indexes: [{ fields: ["user_id"] }, { fields: ["user_id", "seq"] }] })],

	actions: {
		/** GET /privacy/consents */
		get: {
			summary: "Your stored consents per purpose, with timestamps and policy version",
			input: z.object({}),
			async handler(ctx: Context<unknown, Meta>): Promise<ConsentsView> {
				const userId = ctx.meta.userId;
				if (!userId) throw unauthorized();
				const profile = await this.profileOf(ctx, userId);
				return consentsView(await this.latest(userId), profile.opt_in_public_analysis, config().privacy.policyVersion);
			}
		},

		/** PUT /privacy/consents — any subset of the purposes; withdrawing biometric consent erases the biometric data at once. */
		update: {
			summary: "Set or withdraw consents (any subset); withdrawing biometric consent deletes biometric data",
			input: ConsentsPatch,
			async handler(ctx: Context<ConsentsPatch, Meta>): Promise<ConsentsView> {
				const userId = ctx.meta.userId;
				if (!userId) throw unauthorized();
				const { policy_version, ...patch } = ctx.params;
				const current = config().privacy.policyVersion;
				if (policy_version !== undefined && policy_version !== current)
					throw validation([{ field: "policy_version", message: `must be the current policy version (${current})` }]);
				const profile = await this.profileOf(ctx, userId);
				const { prev, doc } = await this.append(userId, patch, "user");
				let publicSharing = profile.opt_in_public_analysis;
				if (patch.public_sharing !== undefined && patch.public_sharing !== publicSharing) {
					// The profile is the source of truth; users.updateMe emits user.updated (feed, leaderboard react).
					const updated = await ctx.call<Profile, object>("users.updateMe", { opt_in_public_analysis: patch.public_sharing }, { meta: ctx.meta });
					publicSharing = updated.opt_in_public_analysis;
				}
				if (doc) ctx.emit("consent.changed", { user_id: userId, changed: doc.changed });
				// Withdrawn: a stored yes, or a yes given per request (nothing stored), becomes an explicit no.
				if (patch.biometric_analysis === false && prev?.purposes.biometric_analysis !== false) {
					ctx.emit("consent.biometric_withdrawn", { user_id: userId });
					await this.forgetBiometricCache(ctx, userId).catch(err => this.logger.warn(`biometric cache entries of ${userId} not cleaned: ${(err as Error).message}`));
				}
				return consentsView(doc ?? prev, publicSharing, current);
			}
		},

		/** Internal: what an analysis of this user may rely on from the stored consents (null: nothing stored). */
		forAnalysis: {
			visibility: "public",
			input: UserInput,
			async handler(ctx: Context<{ user_id: string }>) {
				return { stored: storedForAnalysis(await this.latest(ctx.params.user_id), config().privacy.policyVersion) };
			}
		},

		/** Internal (export): the current state and the whole history. */
		exportUser: {
			visibility: "public",
			input: UserInput,
			async handler(ctx: Context<{ user_id: string }>) {
				const history = await this.dbFind<ConsentDoc>({ query: { user_id: ctx.params.user_id }, sort: ["seq"] });
				return { history: history.map(({ _id, user_id: _u, ...h }) => ({ id: _id, ...h })) };
			}
		},
	},

	events: {
		async "user.erased"(ctx: Context<{ user_id: string }>) {
			await this.dbRemoveMany({ user_id: ctx.params.user_id });
		},

		/** The public opt-in changed on the profile (PATCH /auth/me): the history records it with its time. */
		async "user.updated"(ctx: Context<{ user_id: string; changed?: string[] }, Meta>) {
			if (!ctx.params.changed?.includes("opt_in_public_analysis")) return;
			const profile = await this.profileOf(ctx, ctx.params.user_id).catch(() => null);
			if (profile) await this.append(ctx.params.user_id, { public_sharing: profile.opt_in_public_analysis }, "profile");
		}
	},

	methods: {
		async latest(userId: string) {
			const [doc] = await this.dbFind<ConsentDoc>({ query: { user_id: userId }, sort: ["-seq", "-created_at"], limit: 1 });
			return doc ?? null;
		},

		async append(userId: string, patch: Purposes, source: ConsentDoc["source"]) {
			const prev = await this.latest(userId);
			const entry = nextEntry(prev, patch, config().privacy.policyVersion, source, new Date().toISOString());
			if (!entry) return { prev, doc: null };
			return { prev, doc: await this.dbInsert<Omit<ConsentDoc, "_id">>({ user_id: userId, ...entry }) };
		},

		async profileOf(ctx: Context<unknown, Meta>, userId: string) {
			return ctx.call<Profile, object>("users.me", {}, { meta: { ...ctx.meta, userId } });
		},

		/** The cached vision passes of this user's media made with biometric consent hold estimates and descriptors. */
		async forgetBiometricCache(ctx: Context<unknown, Meta>, userId: string) {
			const cacher = this.broker.cacher;
			if (!cacher) return;
			for (let offset = 0; ; offset += 100) {
				const page = await ctx.call<{ items: { content_hash: string }[]; total: number }, object>("media.list", { limit: 100, offset }, { meta: { ...ctx.meta, userId } });
				for (const m of page.items) await cacher.clean(`vision:*:${m.content_hash}:bio`);
				if (offset + 100 >= page.total) break;
			}
		}
	}
};

export default ConsentsService;
