import type { Context, ServiceSchema } from "moleculer";
import { z } from "zod";
import { notFound, unauthorized, validation } from "../lib/errors";
import { dbMixin, type DbMethods } from "../mixins/db.mixin";
import type { Meta } from "../types/meta";
import type { PublicProfile } from "./users.service";

/**
 * Follows: who follows whom. Only a user who opted in to public analysis can be followed (anyone
 * else answers 404, whether or not the account exists). Following is idempotent; the record id
 * is `follower>followee`, so two concurrent follows store one record and emit one event.
 * Lists page with an opaque cursor over `key` = `since|id` (newest first), stable under inserts.
 */

export interface FollowDoc {
	_id: string;
	follower_id: string;
	followee_id: string;
	since: string;
	/** `since|_id`: the keyset of the lists. */
	key: string;
}

const Id = z.string().min(1).max(64);
const Cursor = z
	.string()
	.max(400)
	.transform((v, ctx) => {
		const key = Buffer.from(v, "base64url").toString("utf8");
		if (!/^\d{4}-\d\d-\d\dT[\d:.]+Z\|[^|]{1,140}$/.test(key)) {
			ctx.addIssue({ code: "custom", message: "is not a cursor this API issued" });
			return z.NEVER;
		}
		return key;
	});
const ListInput = z.object({ limit: z.coerce.number().int().min(1).max(100).default(20), cursor: Cursor.optional() });
type ListParams = z.output<typeof ListInput>;

export interface FollowItem {
	user_id: string;
	alias: string;
	since: string;
}

interface Methods {
	caller(ctx: Context<unknown, Meta>): string;
	profiles(ctx: Context, ids: string[]): Promise<Map<string, PublicProfile>>;
	page(ctx: Context<ListParams, Meta>, side: "follower_id" | "followee_id"): Promise<{ items: FollowItem[]; next_cursor: string | null }>;
}

const followId = (follower: string, followee: string) => `${follower}>${followee}`;

const FollowsService: ServiceSchema<Record<string, never>, Methods & DbMethods> = {
	name: "follows",
	mixins: [dbMixin("follows", { indexes: [{ fields: ["follower_id"] }, { fields: ["followee_id"] }, { fields: ["key"] }] })],

	actions: {
		/** POST /social/follow/:user_id */
		follow: {
			input: z.object({ user_id: Id }),
			async handler(ctx: Context<{ user_id: string }, Meta>) {
				const me = this.caller(ctx);
				const target = ctx.params.user_id;
				if (target === me) throw validation([{ field: "user_id", message: "you cannot follow yourself" }]);
				if (!(await this.profiles(ctx, [target])).get(target)?.opt_in) throw notFound("User");
				const _id = followId(me, target);
				if (await this.dbGet(_id)) return { status: "following" };
				const since = new Date().toISOString();
				try {
					await this.dbInsert<FollowDoc>({ _id, follower_id: me, followee_id: target, since, key: `${since}|${_id}` });
				} catch (err) {
					// A concurrent follow stored it first: the same outcome, one event.
					if ((err as { type?: string }).type === "CONFLICT") return { status: "following" };
					throw err;
				}
				ctx.emit("user.followed", { follower_id: me, followee_id: target });
				return { status: "following" };
			}
		},

		/** DELETE /social/follow/:user_id — idempotent; a user you never followed who is not public is a 404. */
		unfollow: {
			input: z.object({ user_id: Id }),
			async handler(ctx: Context<{ user_id: string }, Meta>) {
				const me = this.caller(ctx);
				const target = ctx.params.user_id;
				if (await this.dbRemove(followId(me, target))) {
					ctx.emit("user.unfollowed", { follower_id: me, followee_id: target });
					return { status: "unfollowed" };
				}
				if (target === me || !(await this.profiles(ctx, [target])).get(target)?.opt_in) throw notFound("User");
				return { status: "unfollowed" };
			}
		},

		/** GET /social/followers — who follows the caller (aliases of non-public followers read "Anonymous"). */
		followers: {
			input: ListInput,
			handler(ctx: Context<ListParams, Meta>) {
				return this.page(ctx, "followee_id");
			}
		},

		/** GET /social/following — whom the caller follows, as long as they stay public. */
		following: {
			input: ListInput,
			handler(ctx: Context<ListParams, Meta>) {
				return this.page(ctx, "follower_id");
			}
		},

		/** Internal: followers per user (the feed's engagement signal). */
		counts: {
			visibility: "public",
			input: z.object({ ids: z.array(Id).max(1000) }),
			async handler(ctx: Context<{ ids: string[] }>): Promise<Record<string, number>> {
				const ids = [...new Set(ctx.params.ids)];
				const counts = await Promise.all(ids.map(id => this.dbCount({ followee_id: id })));
				return Object.fromEntries(ids.map((id, i) => [id, counts[i]]));
			}
		},

		/** GDPR export: whom the user follows and who follows them. */
		exportUser: {
			visibility: "public",
			input: z.object({ user_id: Id }),
			async handler(ctx: Context<{ user_id: string }>) {
				const [following, followers] = await Promise.all([
					this.dbFind<FollowDoc>({ query: { follower_id: ctx.params.user_id }, sort: ["-key"] }),
					this.dbFind<FollowDoc>({ query: { followee_id: ctx.params.user_id }, sort: ["-key"] })
				]);
				return { following: following.map(d => ({ user_id: d.followee_id, since: d.since })), followers: followers.map(d => ({ user_id: d.follower_id, since: d.since })) };
			}
		}
	},

	events: {
		/** Erasure: both directions. */
		async "user.erased"(ctx: Context<{ user_id: string }>) {
			const id = ctx.params?.user_id;
			if (typeof id !== "string" || !id) return;
			await this.dbRemoveMany({ follower_id: id });
			await this.dbRemoveMany({ followee_id: id });
		}
	},

	methods: {
		caller(ctx: Context<unknown, Meta>) {
			if (!ctx.meta.userId) throw unauthorized();
			return ctx.meta.userId;
		},

		async profiles(ctx: Context, ids: string[]) {
			const list = await ctx.call<PublicProfile[], { ids: string[] }>("users.publicProfiles", { ids });
			return new Map(list.map(p => [p.user_id, p]));
		},

		async page(ctx: Context<ListParams, Meta>, side: "follower_id" | "followee_id") {
			const me = this.caller(ctx);
			const other = side === "follower_id" ? "followee_id" : "follower_id";
			const items: FollowItem[] = [];
			let after = ctx.params.cursor;
			let more = true;
			// Hidden rows (a followee who left public analysis) are skipped; keep reading until the page is full.
			while (items.length < ctx.params.limit && more) {
				const want = ctx.params.limit - items.length;
				const query: Record<string, unknown> = { [side]: me };
				if (after) query.key = { $lt: after };
				const docs = await this.dbFind<FollowDoc>({ query, sort: ["-key"], limit: want + 1 });
				more = docs.length > want;
				const batch = docs.slice(0, want);
				const profiles = await this.profiles(ctx, batch.map(d => d[other]));
				for (const d of batch) {
					const p = profiles.get(d[other]);
					if (side === "follower_id" && !p?.opt_in) continue;
					items.push({ user_id: d[other], alias: p?.alias ?? "Anonymous", since: d.since });
				}
				if (batch.length) after = batch[batch.length - 1].key;
			}
			return { items, next_cursor: more && after ? Buffer.from(after, "utf8").toString("base64url") : null };
		}
	}
};

export default FollowsService;
