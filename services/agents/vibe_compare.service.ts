import type { ServiceSchema } from "moleculer";
import vibeCompare from "../../agents/vibe-compare";
import { agentMixin } from "../../mixins/agent.mixin";

/** `agent.vibe_compare`: which of two photos comes across better (pure: the comparisons service loads both). */
const VibeCompareService: ServiceSchema = {
	name: `agent.${vibeCompare.name}`,
	mixins: [agentMixin(vibeCompare, () => undefined)]
};

export default VibeCompareService;
