export interface SseEvent {
	event: string;
	data: any;
}

/** Reads a server-sent-events response one event at a time (comments such as keep-alives are skipped). */
export async function openSse(url: string, token: string) {
	const abort = new AbortController();
	const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
	const reader = res.body!.getReader();
	const decoder = new TextDecoder();
	let buf = "";
	let ended = false;

	async function next(): Promise<SseEvent | null> {
		for (;;) {
			const cut = buf.indexOf("\n\n");
			if (cut >= 0) {
				const frame = buf.slice(0, cut);
				buf = buf.slice(cut + 2);
				const lines = frame.split("\n").filter(l => !l.startsWith(":"));
				if (lines.length === 0) continue;
				const event = lines.find(l => l.startsWith("event: "))?.slice(7) ?? "message";
				const data = lines.filter(l => l.startsWith("data: ")).map(l => l.slice(6)).join("\n");
				return { event, data: data ? JSON.parse(data) : null };
			}
			if (ended) return null;
			const { done, value } = await reader.read();
			if (done) ended = true;
			else buf += decoder.decode(value, { stream: true });
		}
	}

	return {
		status: res.status,
		headers: res.headers,
		next,
		close: () => abort.abort()
	};
}
