import type { ServiceSchema, ServiceSettingSchema } from "moleculer";
import { createLlmProvider } from "../../agents/providers/llm";
import vibeAnalysis, { type VibeDeps } from "../../agents/vibe-analysis";
import { config } from "../../lib/config";
import { agentMixin } from "../../mixins/agent.mixin";

interface VibeVars {
	/** The agent's ports, built once: the LLM provider holds the API key, never the settings. */
	vibeDeps: VibeDeps;
}

/** `agent.vibe_analysis`: the vibe agent over the broker, on the configured LLM provider (local by default). */
const VibeAnalysisService: ServiceSchema<ServiceSettingSchema, Record<string, never>, VibeVars> = {
	name: `agent.${vibeAnalysis.name}`,
	mixins: [
		agentMixin(vibeAnalysis, function vibeDeps(this: VibeVars): VibeDeps {
			return this.vibeDeps;
		})
	],

	created() {
		this.vibeDeps = { llm: createLlmProvider(config().llm) };
	}
};

export default VibeAnalysisService;
