import type { Context, ServiceSchema } from "moleculer";
import { face, type FaceDeps, type FaceInput } from "../../agents/face";
import { agentMixin } from "../../mixins/agent.mixin";

/** agent.face: the face agent over the broker; its crops are stored by media.crop. */
const FaceService: ServiceSchema = {
	name: `agent.${face.name}`,
	mixins: [
		agentMixin(face, function faceDeps(ctx: Context): FaceDeps {
			const { media_id, user_id } = ctx.params as FaceInput;
			return {
				crop: async box => (await ctx.call<{ url: string | null }, object>("media.crop", { media_id, user_id, kind: "face", box })).url
			};
		})
	]
};

export default FaceService;
