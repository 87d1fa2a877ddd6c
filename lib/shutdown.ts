import type { Middleware, ServiceBroker } from "moleculer";

/**
 * Graceful shutdown (SIGTERM → broker.stop()). Moleculer first tells the cluster this node offers
 * nothing any more (no new calls arrive), then calls the middlewares' `stopping` hooks, then stops
 * every service at once. Stopping the services together is the problem: an analysis running in
 * `orchestrator.run` still needs this node's agents and vision pool, which would be gone after the
 * first idle service stopped. So this middleware holds the stop until the node is idle:
 *
 * 1. drain: wait (up to `timeoutMs`, SHUTDOWN_TIMEOUT_MS) until no action or event handler runs
 *    here and no call this node made is pending — running analyses finish here;
 * 2. hand back: past the grace period, `handingBack(broker)` turns true; the orchestrator starts no
 *    further graph node and ends each run with a retryable error, so the caller's job is retried on
 *    another worker, which resumes from the checkpoints. This waits (up to HANDBACK_WAIT_MS) for the
 *    graph nodes and the short calls still running (a vision pass, an agent) to finish and their
 *    checkpoints to be written: cutting those off would fail them for their callers;
 * 3. the services stop and the node leaves.
 */

const draining = new WeakSet<ServiceBroker>();
/** Phase 2's bound: single graph nodes and agent calls take seconds, not minutes. */
export const HANDBACK_WAIT_MS = 15_000;

/** True once this broker's grace period is over: long work should hand itself back now. */
export function handingBack(broker: ServiceBroker): boolean {
	return draining.has(broker);
}

type Tracked = { _trackedContexts?: unknown[] };

/** Action/event executions running on this node plus the calls it is waiting for. */
export function inFlight(broker: ServiceBroker): number {
	const own = (broker as unknown as Tracked)._trackedContexts?.length ?? 0;
	return broker.services.reduce((n, s) => n + ((s as unknown as Tracked)._trackedContexts?.length ?? 0), own);
}

async function idle(broker: ServiceBroker, ms: number): Promise<boolean> {
	const deadline = Date.now() + ms;
	while (inFlight(broker) > 0) {
		if (Date.now() >= deadline) return false;
		await new Promise(resolve => setTimeout(resolve, 100));
	}
	return true;
}

export function gracefulShutdownMiddleware(timeoutMs: () => number): Middleware {
	return {
		name: "GracefulShutdown",
		async stopping(broker: ServiceBroker) {
			const grace = timeoutMs();
			const busy = inFlight(broker);
			if (!busy) return;
			broker.logger.info(`shutting down: waiting up to ${grace} ms for ${busy} running request(s)`);
			if (await idle(broker, grace)) return;
			draining.add(broker);
			broker.logger.warn(`shutting down: grace period over, handing back ${inFlight(broker)} running request(s)`);
			if (!(await idle(broker, HANDBACK_WAIT_MS))) broker.logger.error(`shutting down: ${inFlight(broker)} request(s) still running, stopping anyway`);
		}
	} as unknown as Middleware;
}
