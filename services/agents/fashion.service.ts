import type { Context, ServiceSchema } from "moleculer";
import fashion, { FashionInput, type FashionDeps } from "../../agents/fashion";
import { agentMixin } from "../../mixins/agent.mixin";

const Ids = FashionInput.pick({ media_id: true, user_id: true });

/** `agent.fashion`: the fashion agent over the broker; its ports are media reads and crops. */
const FashionService: ServiceSchema = {
	name: `agent.${fashion.name}`,
	mixins: [
		agentMixin(fashion, async (ctx: Context): Promise<FashionDeps> => {
			// The params were validated by the agent's input schema; only the ids are needed here.
			const { media_id, user_id } = Ids.parse(ctx.params);
			// The pass usually carries the colours, so the agent may read no media at all: the media
			// must still be the user's (another user's answers 404, as every media read does).
			await ctx.call("media.get", { id: media_id }, { meta: { userId: user_id } });
			return {
				async image() {
					const img = await ctx.call<{ data: Buffer }, object>("media.analysisImage", { id: media_id, user_id });
					return Buffer.from(img.data);
				},
				async crop(box) {
					const res = await ctx.call<{ url: string | null }, object>("media.crop", { media_id, user_id, kind: "item", box });
					return res.url;
				}
			};
		})
	]
};

export default FashionService;
