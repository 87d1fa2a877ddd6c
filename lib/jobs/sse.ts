import { PassThrough } from "node:stream";

/** One server-sent event. */
export function sseFrame(event: string, data: unknown): string {
	return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

interface Subscriber {
	jobId: string;
	analysisId: string | null;
	stream: PassThrough;
}

/**
 * The open progress streams of this node. Events reach every node (the jobs service listens in
 * a group of its own per node), so a stream served here follows a job that runs anywhere.
 */
export class SseHub {
	private readonly subs = new Set<Subscriber>();

	constructor(
		private readonly keepAliveMs = 15_000,
		private readonly maxLifetimeMs = 30 * 60_000
	) {}

	open(jobId: string, analysisId: string | null): PassThrough {
		const stream = new PassThrough();
		const sub: Subscriber = { jobId, analysisId, stream };
		this.subs.add(sub);
		const ping = setInterval(() => stream.writableEnded || stream.write(": keep-alive\n\n"), this.keepAliveMs);
		const limit = setTimeout(() => stream.end(), this.maxLifetimeMs);
		ping.unref();
		limit.unref();
		// The gateway destroys the stream when the client goes away: forget it then.
		const forget = () => {
			clearInterval(ping);
			clearTimeout(limit);
			this.subs.delete(sub);
		};
		stream.once("close", forget);
		stream.once("finish", forget);
		return stream;
	}

	/** Writes to every stream following the job (by job id or analysis id); `last` ends them. */
	send(match: { jobId?: string; analysisId?: string }, event: string, data: unknown, last = false): void {
		for (const s of this.subs) {
			if (!((match.jobId && s.jobId === match.jobId) || (match.analysisId && s.analysisId === match.analysisId))) continue;
			if (s.stream.writableEnded) continue;
			s.stream.write(sseFrame(event, data));
			if (last) {
				this.subs.delete(s);
				s.stream.end();
			}
		}
	}

	get size(): number {
		return this.subs.size;
	}

	close(): void {
		for (const s of this.subs) s.stream.end();
	}
}
