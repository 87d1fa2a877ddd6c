import type { z } from "zod";

/**
 * An agent is data plus a pure function: zod schemas for what goes in and what comes out,
 * and `run(input, deps)`. Vision, storage, clock and the like come in through `deps`
 * (ports), so tests pass plain fakes and the CLI runs agents without a broker.
 */
export interface Agent<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType, D = unknown> {
	name: string;
	version: string;
	input: I;
	output: O;
	run(input: z.output<I>, deps: D): Promise<z.input<O>>;
}

export function defineAgent<I extends z.ZodType, O extends z.ZodType, D>(agent: Agent<I, O, D>): Agent<I, O, D> {
	return agent;
}

/** Runs an agent outside the broker: input parsed, output parsed (the same checks as its service). */
export async function runAgent<I extends z.ZodType, O extends z.ZodType, D>(agent: Agent<I, O, D>, input: z.input<I>, deps: D): Promise<z.output<O>> {
	const parsed = agent.input.parse(input);
	return agent.output.parse(await agent.run(parsed, deps));
}
