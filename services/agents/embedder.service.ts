import type { Context, ServiceSchema } from "moleculer";
import embedder, { EmbedderInput, type EmbedderDeps, type EmbedderOutput } from "../../agents/embedder";
import { agentMixin } from "../../mixins/agent.mixin";

const Ids = EmbedderInput.pick({ media_id: true, user_id: true });

/**
 * `agent.embedder`: the embedder agent over the broker. After each run its vectors are stored
 * through `embeddings.store` (one per kind, replacing that media/analysis's previous ones); a
 * face vector only when the run had biometric consent.
 */
const EmbedderService: ServiceSchema = {
	name: `agent.${embedder.name}`,
	mixins: [
		agentMixin(embedder, async (ctx: Context): Promise<EmbedderDeps> => {
			const { media_id, user_id } = Ids.parse(ctx.params);
			// The pass usually carries the style vector, so the agent may read no media at all: the
			// media must still be the user's (another user's answers 404, as every media read does),
			// and its content hash tells whether the pass is of this media's image.
			const media = await ctx.call<{ content_hash: string }, object>("media.get", { id: media_id }, { meta: { userId: user_id } });
			return {
				contentHash: async () => media.content_hash,
				async image() {
					const img = await ctx.call<{ data: Buffer }, object>("media.analysisImage", { id: media_id, user_id });
					return Buffer.from(img.data);
				}
			};
		})
	],

	hooks: {
		after: {
			async run(ctx: Context<EmbedderInput>, res: EmbedderOutput) {
				const biometric = ctx.params.consent.biometric;
				for (const kind of ["style", "text", "face"] as const) {
					const vector = res.vectors[kind];
					if (!vector || (kind === "face" && !biometric)) continue;
					await ctx.call("embeddings.store", {
						user_id: res.user_id,
						media_id: res.media_id,
						analysis_id: res.analysis_id,
						kind,
						vector,
						version: res.versions[kind],
						biometric_consent: kind === "face" && biometric
					});
				}
				return res;
			}
		}
	}
};

export default EmbedderService;
