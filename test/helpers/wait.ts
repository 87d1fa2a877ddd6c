/** Polls until `check` returns something truthy (or throws after `timeoutMs`). */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 5000, everyMs = 10): Promise<NonNullable<T>> {
	const until = Date.now() + timeoutMs;
	let last: unknown;
	for (;;) {
		try {
			const v = await check();
			if (v) return v as NonNullable<T>;
		} catch (err) {
			last = err;
		}
		if (Date.now() > until) throw new Error(`waitFor timed out${last ? `: ${(last as Error).message}` : ""}`);
		await new Promise(r => setTimeout(r, everyMs));
	}
}

export const sleep = (ms: number) => new Promise<void>(r => setTimeout(r, ms));
