import type { Prompt } from "../providers/llm/types";
import bio from "./bio";
import vibeAnalysis from "./vibe_analysis";
import fixit from "./fixit";
import reverseAnalysis from "./reverse_analysis";
import socialPerception from "./social_perception";
import formatter from "./formatter";

const VERSION = /^\d+\.\d+\.\d+$/;

/**
 * THE prompt registry: every prompt of every agent, every version, as data. An agent's prompts
 * live in `./<agent>.ts` (an array, newest version last by convention); adding an agent is one
 * import and one line in the list below. Every agent output records the prompt version used.
 */
export const PROMPTS: readonly Prompt[] = checkPrompts([
	...bio,
	...vibeAnalysis,
	...fixit,
	...reverseAnalysis,
	...socialPerception,
	...formatter
]);

export interface PromptInfo extends Prompt {
	/** The `{{name}}` placeholders of the template, in order of first use. */
	variables: string[];
}

/** The placeholders of a template. */
export function templateVariables(template: string): string[] {
	return [...new Set([...template.matchAll(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g)].map(m => m[1]))];
}

const compareVersions = (a: string, b: string) => {
	const pa = a.split(".").map(Number);
	const pb = b.split(".").map(Number);
	for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
	return 0;
};

/** Rejects a malformed registry at load: duplicate ids or versions, bad versions, empty texts. */
export function checkPrompts(prompts: Prompt[]): readonly Prompt[] {
	const ids = new Set<string>();
	const versions = new Set<string>();
	for (const p of prompts) {
		const where = `prompt ${p.id || "(no id)"}`;
		if (!p.id || !p.agent || !p.system.trim() || !p.template.trim()) throw new Error(`${where}: id, agent, system and template are required`);
		if (!VERSION.test(p.version)) throw new Error(`${where}: version "${p.version}" is not major.minor.patch`);
		if (ids.has(p.id)) throw new Error(`${where}: duplicate id`);
		if (versions.has(`${p.agent}@${p.version}`)) throw new Error(`${where}: ${p.agent} already has version ${p.version}`);
		if (/\{\{(?!\s*[A-Za-z_][A-Za-z0-9_]*\s*\}\})/.test(p.template)) throw new Error(`${where}: malformed placeholder in template`);
		ids.add(p.id);
		versions.add(`${p.agent}@${p.version}`);
	}
	return Object.freeze(prompts.map(p => Object.freeze({ ...p, model: p.model ? Object.freeze({ ...p.model }) : undefined })));
}

/** An agent's prompt: the given version, or its newest. Throws for an unknown agent or version. */
export function promptFor(agent: string, version?: string, registry: readonly Prompt[] = PROMPTS): Prompt {
	const mine = registry.filter(p => p.agent === agent);
	if (!mine.length) throw new Error(`no prompt for agent "${agent}"`);
	if (version !== undefined) {
		const p = mine.find(x => x.version === version);
		if (!p) throw new Error(`agent "${agent}" has no prompt version ${version} (has ${mine.map(x => x.version).join(", ")})`);
		return p;
	}
	return mine.reduce((best, p) => (compareVersions(p.version, best.version) > 0 ? p : best));
}

/** Every prompt with the variables its template uses, by agent then version. */
export function listPrompts(registry: readonly Prompt[] = PROMPTS): PromptInfo[] {
	return [...registry]
		.sort((a, b) => a.agent.localeCompare(b.agent) || compareVersions(a.version, b.version))
		.map(p => ({ ...p, variables: templateVariables(p.template) }));
}
