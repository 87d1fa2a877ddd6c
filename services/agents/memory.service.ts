import type { ServiceSchema } from "moleculer";
import memory from "../../agents/memory";
import { agentMixin } from "../../mixins/agent.mixin";

/** `agent.memory`: ranks a user's analyses against a query (pure: the search service loads the caller's own data). */
const MemoryService: ServiceSchema = {
	name: `agent.${memory.name}`,
	mixins: [agentMixin(memory, () => undefined)]
};

export default MemoryService;
