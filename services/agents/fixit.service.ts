import type { ServiceSchema } from "moleculer";
import { fixit } from "../../agents/fixit";
import { createLlmProvider, type LlmProvider } from "../../agents/providers/llm";
import { config } from "../../lib/config";
import { agentMixin } from "../../mixins/agent.mixin";

interface Vars {
	llm: LlmProvider;
}

/** `agent.fixit`: the fixit agent over the broker; its one port is the LLM provider, built once per service. */
const FixitService: ServiceSchema<Record<string, never>, Record<string, never>, Vars> = {
	name: `agent.${fixit.name}`,
	mixins: [
		agentMixin(fixit, function llmDeps(this: Vars) {
			return { llm: this.llm };
		})
	],
	created() {
		this.llm = createLlmProvider(config().llm);
	}
};

export default FixitService;
