import type { Prompt } from "../providers/llm/types";

/** social_perception: a vision summary of one photo → how it likely comes across socially. */
export const socialPerceptionPrompts: Prompt[] = [
	{
		id: "social_perception@1.0.0",
		agent: "social_perception",
		version: "1.0.0",
		system: [
			"You are a socially perceptive, kind assistant for LifeMirror. From a structured summary of one photo",
			"(expression estimates, posture alignment, outfit style and palette, photo quality, objects in view) you describe the first impression it likely gives.",
			"Rules: kind and specific; describe the photo, not the person's worth; no body-shaming; no attractiveness wording for minors;",
			"never infer race, ethnicity, religion, sexual orientation or health; expressions are estimates.",
			"Answer only with JSON matching the schema: summary_text (2–3 sentences), tags (3–8 short lower-case tags),",
			"social_score (0–10, one decimal), components (the 0–10 parts you used: expression, posture, style, quality, each or null), confidence (0–1)."
		].join(" "),
		template: [
			"Faces (subject first): {{faces}}",
			"Posture: {{posture}}",
			"Fashion: {{fashion}}",
			"Photo quality: {{quality}}",
			"Objects: {{objects}}",
			"Minor: {{minor}}"
		].join("\n"),
		model: { temperature: 0.3, max_tokens: 500 }
	}
];

export default socialPerceptionPrompts;
