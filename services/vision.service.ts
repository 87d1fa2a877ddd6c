import type { Context, ServiceSchema } from "moleculer";
import { z } from "zod";
import { createVisionPool, type VisionPool } from "../agents/providers/vision/pool";
import { createRemoteProvider, type VisionProvider } from "../agents/providers/vision/remote";
import { VisionResult } from "../agents/providers/vision/types";
import { config } from "../lib/config";
import { RetryableError } from "../lib/errors";

const HITS = "lifemirror.vision.cache.hits";
const MISSES = "lifemirror.vision.cache.misses";
const LATENCY = "lifemirror.vision.latency";

const PassInput = z.object({
	media_id: z.string().min(1).max(64),
	user_id: z.string().min(1).max(64),
	/** Run age, gender and the face descriptor too (biometric consent). */
	biometric: z.boolean().default(false)
});

interface Vars {
	pool: VisionPool | null;
	remote: VisionProvider | null;
}

interface Methods {
	infer(image: Buffer, biometric: boolean): Promise<Omit<VisionResult, "content_hash">>;
}

/**
 * The shared vision pass: one inference per image content hash (and consent level), cached
 * in the broker's cacher (memory, or Redis in a cluster), read by face, fashion and posture.
 * Inference runs in a worker-thread pool, never on this node's event loop.
 */
const VisionService: ServiceSchema<Record<string, never>, Methods, Vars> = {
	name: "vision",

	actions: {
		analyze: {
			visibility: "public",
			input: PassInput,
			async handler(ctx: Context<z.infer<typeof PassInput>>): Promise<VisionResult> {
				const img = await ctx.call<{ content_hash: string; data: Buffer }, object>("media.analysisImage", {
					id: ctx.params.media_id,
					user_id: ctx.params.user_id
				});
				const key = `vision:${config().vision.provider}:${img.content_hash}:${ctx.params.biometric ? "bio" : "nobio"}`;
				const cacher = this.broker.cacher;
				const cached = cacher ? ((await cacher.get(key)) as VisionResult | null) : null;
				if (cached) {
					this.broker.metrics.increment(HITS);
					return cached;
				}
				this.broker.metrics.increment(MISSES);
				const started = Date.now();
				const parsed = VisionResult.safeParse({ ...(await this.infer(Buffer.from(img.data), ctx.params.biometric)), content_hash: img.content_hash });
				if (!parsed.success) throw new RetryableError("AGENT_FAILED", "the vision pass returned an invalid result", { issues: parsed.error.issues.length });
				const result = parsed.data;
				this.broker.metrics.observe(LATENCY, Date.now() - started);
				// A fallback answer is cached briefly, so a short remote outage does not pin it for a day.
				if (cacher) await cacher.set(key, result, result.provider.startsWith("local (fallback") ? 300 : 24 * 3600);
				return result;
			}
		}
	},

	methods: {
		async infer(image: Buffer, biometric: boolean) {
			if (this.remote) {
				try {
					return await this.remote.analyze(image, { biometric });
				} catch (err) {
					// A remote provider that fails falls back to the local models, and says so.
					this.logger.warn(`vision provider ${this.remote.name} failed, using local: ${(err as Error).message}`);
					const local = await this.pool!.analyze(image, { biometric });
					return { ...local, provider: `local (fallback from ${this.remote.name}: ${(err as Error).message.slice(0, 120)})` };
				}
			}
			if (!this.pool) throw new RetryableError("SERVICE_UNAVAILABLE", "vision pool not started");
			return this.pool.analyze(image, { biometric });
		}
	},

	created() {
		const m = this.broker.metrics;
		if (!m.getMetric(HITS)) {
			m.register({ type: "counter", name: HITS, description: "Vision passes answered from the cache" });
			m.register({ type: "counter", name: MISSES, description: "Vision passes computed" });
			m.register({ type: "histogram", name: LATENCY, unit: "millisecond", description: "Vision pass time", buckets: [100, 250, 500, 1000, 2000, 5000, 10000] });
		}
		this.pool = null;
		this.remote = null;
	},

	async started() {
		const c = config();
		this.pool = createVisionPool({ threads: c.vision.threads });
		const ids = await this.pool.warm();
		this.logger.info(`vision pool ready: ${ids.length} threads`);
		this.remote = createRemoteProvider(c);
	},

	async stopped() {
		await this.pool?.close();
	}
};

export default VisionService;
