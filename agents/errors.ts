/**
 * Errors an agent throws. agents/ may not import Moleculer, so these are plain errors that
 * carry the same fields as lib/errors.ts (`type`, `code`, `retryable`, `data`): callers branch
 * on `err.type`, the broker serialises them like its own, the gateway renders them the same way.
 */
export type AgentErrorType = "CONSENT_REQUIRED";

export class AgentError extends Error {
	readonly retryable = false;

	constructor(
		readonly type: AgentErrorType,
		readonly code: number,
		message: string,
		readonly data?: Record<string, unknown>
	) {
		super(message);
		this.name = "AgentError";
	}
}

/** The caller did not consent to the purpose this agent serves (403, never retried). */
export const consentRequired = (purpose: string) =>
	new AgentError("CONSENT_REQUIRED", 403, `This analysis needs your consent for ${purpose.replace(/_/g, " ")}`, { purpose });
