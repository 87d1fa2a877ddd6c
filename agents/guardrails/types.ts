export type Severity = "low" | "medium" | "high";

/**
 * What a guardrail found. Categories are dotted: `pii.email`, `pii.phone`, `pii.card`, `pii.iban`,
 * `pii.address`, `pii.handle`, `pii.url`, `toxicity.profanity`, `toxicity.harassment`, `sexual`,
 * `self_harm`, `injection`, `length`, `output.schema`, `output.banned`, `output.sensitive_inference`,
 * `output.body_shaming`, `output.medical`, `output.minor`, `output.tone`.
 */
export interface Finding {
	category: string;
	severity: Severity;
	/** [start, end) in the checked text, when the finding has a place. */
	span: [number, number] | null;
	message: string;
}

export interface InputVerdict {
	/** The text a provider may see: PII redacted, injection markers neutralised. */
	text: string;
	findings: Finding[];
	/** Too hostile or too long to analyse at all. */
	blocked: boolean;
	/** A self-harm signal: answer with supportive resources instead of an analysis. */
	self_harm: boolean;
}

export interface OutputVerdict<T> {
	ok: boolean;
	/** The output with offending sentences removed and the mandatory disclaimers added. */
	value: T;
	findings: Finding[];
}
