import type { ServiceSchema } from "moleculer";
import { socialPerception } from "../../agents/social-perception";
import { createLlmProvider, type LlmProvider } from "../../agents/providers/llm";
import { config } from "../../lib/config";
import { agentMixin } from "../../mixins/agent.mixin";

interface Vars {
	llm: LlmProvider;
}

/** `agent.social_perception`: the social_perception agent over the broker; its one port is the LLM provider, built once per service. */
const SocialPerceptionService: ServiceSchema<Record<string, never>, Record<string, never>, Vars> = {
	name: `agent.${socialPerception.name}`,
	mixins: [
		agentMixin(socialPerception, function llmDeps(this: Vars) {
			return { llm: this.llm };
		})
	],
	created() {
		this.llm = createLlmProvider(config().llm);
	}
};

export default SocialPerceptionService;
