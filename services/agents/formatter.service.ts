import type { ServiceSchema } from "moleculer";
import { formatter } from "../../agents/formatter";
import { createLlmProvider, type LlmProvider } from "../../agents/providers/llm";
import { config } from "../../lib/config";
import { agentMixin } from "../../mixins/agent.mixin";

interface Vars {
	llm: LlmProvider;
}

/** `agent.formatter`: the formatter agent over the broker; its one port is the LLM provider, built once per service. */
const FormatterService: ServiceSchema<Record<string, never>, Record<string, never>, Vars> = {
	name: `agent.${formatter.name}`,
	mixins: [
		agentMixin(formatter, function llmDeps(this: Vars) {
			return { llm: this.llm };
		})
	],
	created() {
		this.llm = createLlmProvider(config().llm);
	}
};

export default FormatterService;
