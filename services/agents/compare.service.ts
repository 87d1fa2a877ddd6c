import type { ServiceSchema } from "moleculer";
import compare from "../../agents/compare";
import { agentMixin } from "../../mixins/agent.mixin";

/** `agent.compare`: ranks and explains a comparison (pure: the comparisons service loads the data). */
const CompareService: ServiceSchema = {
	name: `agent.${compare.name}`,
	mixins: [agentMixin(compare, () => undefined)]
};

export default CompareService;
