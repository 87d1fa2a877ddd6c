import type { ServiceSchema } from "moleculer";
import publicFeed from "../../agents/public-feed";
import { agentMixin } from "../../mixins/agent.mixin";

/**
 * `agent.public_feed`: the public_feed agent (selection, moderation hold, ranking, keyset paging)
 * over the broker, for callers elsewhere in the cluster. The feed service runs the same pure
 * function in-process on its own entries instead of shipping thousands of them per read.
 */
const PublicFeedService: ServiceSchema = {
	name: `agent.${publicFeed.name}`,
	mixins: [agentMixin(publicFeed, () => ({}))]
};

export default PublicFeedService;
