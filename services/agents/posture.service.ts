import type { Context, ServiceSchema } from "moleculer";
import { posture, type PostureDeps, type PostureInput } from "../../agents/posture";
import { agentMixin } from "../../mixins/agent.mixin";

/** agent.posture: the posture agent over the broker; its body crop is stored by media.crop. */
const PostureService: ServiceSchema = {
	name: `agent.${posture.name}`,
	mixins: [
		agentMixin(posture, function postureDeps(ctx: Context): PostureDeps {
			const { media_id, user_id } = ctx.params as PostureInput;
			return {
				crop: async box => (await ctx.call<{ url: string | null }, object>("media.crop", { media_id, user_id, kind: "body", box })).url
			};
		})
	]
};

export default PostureService;
