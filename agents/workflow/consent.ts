import { z } from "zod";
import type { Consent } from "./pipelines";

/**
 * Consent for one analysis (SPEC §2): a purpose runs only when the request allows it (an absent
 * `user_consent` or key means the default) and the user has not withdrawn it in their stored
 * consents. Biometric analysis and technical metadata default to off: biometric needs an
 * explicit yes, in the request or stored.
 */
export const CONSENT_DEFAULTS: Consent = {
	face_analysis: true,
	fashion_analysis: true,
	posture_analysis: true,
	bio_analysis: true,
	detailed_analysis: true,
	biometric_analysis: false,
	technical_metadata: false
};

export const UserConsent = z.object({
	face_analysis: z.boolean().optional(),
	fashion_analysis: z.boolean().optional(),
	posture_analysis: z.boolean().optional(),
	bio_analysis: z.boolean().optional(),
	detailed_analysis: z.boolean().optional(),
	biometric_analysis: z.boolean().optional(),
	technical_metadata: z.boolean().optional()
});
export type UserConsent = z.infer<typeof UserConsent>;

export function resolveConsent(request: UserConsent | null | undefined, stored: UserConsent | null | undefined = null): Consent {
	const out = { ...CONSENT_DEFAULTS };
	for (const key of Object.keys(out) as (keyof Consent)[]) {
		const asked = request?.[key];
		const kept = stored?.[key];
		if (key === "biometric_analysis") out[key] = (asked === true || (asked === undefined && kept === true)) && kept !== false;
		else out[key] = (asked ?? CONSENT_DEFAULTS[key]) && kept !== false;
	}
	return out;
}

/** The body of POST /analysis/analyze (and /enhanced, /hybrid): unknown keys, in `options` too, are dropped. */
export const AnalyzeRequest = z.object({
	media_id: z.string().min(1).max(64),
	/** `?async=true`: answer 202 {job_id} at once and run the analysis as a job. */
	async: z.union([z.boolean(), z.enum(["true", "false", "1", "0"]).transform(v => v === "true" || v === "1")]).optional(),
	user_consent: UserConsent.nullish(),
	bio_text: z.string().max(5000).nullish(),
	options: z
		.object({
			recent_limit: z.number().int().min(1).max(20).optional(),
			pipeline_timeout_s: z.number().min(1).max(600).optional(),
			compare: z.object({ comparison_type: z.enum(["celebrity", "past_self", "peer"]), target_id: z.string().max(64).optional() }).optional()
		})
		.nullish()
});
export type AnalyzeRequest = z.infer<typeof AnalyzeRequest>;
