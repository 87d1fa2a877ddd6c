import Redis from "ioredis";
import type { Context, ServiceSchema } from "moleculer";
import { z } from "zod";
import { config } from "../lib/config";
import { unauthorized } from "../lib/errors";
import { USER_DEACTIVATED } from "../lib/privacy/erasure";
import { redisOptions } from "../lib/redis";
import { loadSecret } from "../lib/signing";
import { SseChannels, StreamTokens, UsedNonces, asEventStream, invalidStreamToken, sseFrame, type EventStreamMeta } from "../lib/sse";
import type { Meta } from "../types/meta";
import type { NotificationView } from "./notifications.service";

/**
 * The realtime push of notifications: `GET /notifications/stream` (server-sent events) and the
 * single-use stream tokens for EventSource. Every instance holds the streams of its gateway's
 * clients; `notification.created` is broadcast, so a notification made on any node reaches the
 * owner's streams on every node. It stores nothing of a user: an erased account's streams are
 * closed on the `user.deactivated` broadcast (every node hears it, before `user.erased` is sent),
 * so this service is not an erasure participant the privacy service waits for.
 */

const STREAM_PATH = "/notifications/stream";

interface Vars {
	streams: SseChannels;
	tokens: StreamTokens;
	usedNonces: UsedNonces;
	/** Cluster mode: the used stream tokens, seen by every gateway. */
	redis: Redis | null;
}

interface Methods {
	caller(ctx: Context<unknown, Meta>): string;
}

const NotificationStreamService: ServiceSchema<Record<string, never>, Methods, Vars> = {
	name: "notification_stream",

	actions: {
		/** POST /notifications/stream-token — a short-lived, single-use token for `GET /notifications/stream?token=`. */
		streamToken: {
			input: z.object({}),
			handler(ctx: Context<unknown, Meta>) {
				return { ...this.tokens.issue(this.caller(ctx)), token_type: "stream", stream_url: `${config().http.publicUrl}${STREAM_PATH}` };
			}
		},

		/** GET /notifications/stream — server-sent events: `ready`, then each new notification. Bearer, or `?token=`. */
		stream: {
			auth: "optional",
			input: z.object({ token: z.string().max(512).optional() }),
			async handler(ctx: Context<{ token?: string }, Meta & EventStreamMeta>) {
				let userId = ctx.meta.userId;
				if (!userId && ctx.params.token) {
					const t = this.tokens.verify(ctx.params.token);
					if (!(await this.usedNonces.consume(t.nonce, t.exp))) throw invalidStreamToken();
					await ctx.call("users.principal", { id: t.sub });
					userId = t.sub;
				}
				if (!userId) throw unauthorized();
				asEventStream(ctx.meta);
				// Open first, then count: a notification made in between is both counted and pushed, never lost.
				const stream = this.streams.open(userId);
				try {
					stream.write(sseFrame("ready", { unread_count: await ctx.call<number, { user_id: string }>("notifications.unreadCount", { user_id: userId }) }));
				} catch (err) {
					stream.destroy();
					throw err;
				}
				return stream;
			}
		}
	},

	events: {
		/** Broadcast: every node pushes to the streams it holds. */
		"notification.created"(ctx: Context<{ user_id: string; notification: NotificationView }>) {
			this.streams.send(ctx.params.user_id, "notification", ctx.params.notification, { id: ctx.params.notification.id });
		},

		/** Broadcast at erasure: the account's open streams end on every node. */
		[USER_DEACTIVATED](ctx: Context<{ user_id?: string }>) {
			if (typeof ctx.params?.user_id === "string") this.streams.end(ctx.params.user_id);
		}
	},

	methods: {
		caller(ctx) {
			if (!ctx.meta.userId) throw unauthorized();
			return ctx.meta.userId;
		}
	},

	created() {
		const c = config();
		this.streams = new SseChannels();
		this.tokens = new StreamTokens(loadSecret(c.storage.signingSecret, c.storage.secretFile), c.notifications.streamTokenTtlS, STREAM_PATH);
		this.redis = null;
		this.usedNonces = new UsedNonces(null, "");
	},

	started() {
		const c = config();
		if (c.redis.url && c.broker.transporter) this.redis = new Redis({ ...redisOptions(c.redis.url), lazyConnect: true, maxRetriesPerRequest: 2 });
		this.usedNonces = new UsedNonces(this.redis, `${c.namespace}:notifications:st:`);
	},

	async stopped() {
		this.streams.close();
		// A lazy client that never connected is simply dropped (quit would connect first).
		if (this.redis?.status === "wait") this.redis.disconnect();
		else if (this.redis) await this.redis.quit().catch(() => undefined);
		this.redis = null;
	}
};

export default NotificationStreamService;
