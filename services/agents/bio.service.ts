import type { ServiceSchema, ServiceSettingSchema } from "moleculer";
import bio, { type BioDeps } from "../../agents/bio";
import { createLlmProvider } from "../../agents/providers/llm";
import { config } from "../../lib/config";
import { agentMixin } from "../../mixins/agent.mixin";

interface BioVars {
	/** The agent's ports, built once: the LLM provider holds the API key, never the settings. */
	bioDeps: BioDeps;
}

/** `agent.bio`: the bio agent over the broker, on the configured LLM provider (local by default). */
const BioService: ServiceSchema<ServiceSettingSchema, Record<string, never>, BioVars> = {
	name: `agent.${bio.name}`,
	mixins: [
		agentMixin(bio, function bioDeps(this: BioVars): BioDeps {
			return this.bioDeps;
		})
	],

	created() {
		this.bioDeps = { llm: createLlmProvider(config().llm) };
	}
};

export default BioService;
