import type { ServiceSchema } from "moleculer";
import { reverseAnalysis } from "../../agents/reverse-analysis";
import { createLlmProvider, type LlmProvider } from "../../agents/providers/llm";
import { config } from "../../lib/config";
import { agentMixin } from "../../mixins/agent.mixin";

interface Vars {
	llm: LlmProvider;
}

/** `agent.reverse_analysis`: the reverse_analysis agent over the broker; its one port is the LLM provider, built once per service. */
const ReverseAnalysisService: ServiceSchema<Record<string, never>, Record<string, never>, Vars> = {
	name: `agent.${reverseAnalysis.name}`,
	mixins: [
		agentMixin(reverseAnalysis, function llmDeps(this: Vars) {
			return { llm: this.llm };
		})
	],
	created() {
		this.llm = createLlmProvider(config().llm);
	}
};

export default ReverseAnalysisService;
