// The API client: JSON over fetch with the Bearer token, one refresh on a 401, and the job
// progress stream read with fetch (an EventSource cannot send the Authorization header).

const STORE = "lifemirror.session";

export const session = {
	get() {
		try {
			return JSON.parse(sessionStorage.getItem(STORE) ?? "null");
		} catch {
			return null;
		}
	},
	set(value) {
		sessionStorage.setItem(STORE, JSON.stringify(value));
	},
	clear() {
		sessionStorage.removeItem(STORE);
	}
};

export class ApiError extends Error {
	constructor(status, body) {
		super(body?.error ?? `HTTP ${status}`);
		this.status = status;
		this.body = body;
	}
}

async function parse(res) {
	const text = await res.text();
	try {
		return text ? JSON.parse(text) : null;
	} catch {
		return text;
	}
}

function authHeaders() {
	const s = session.get();
	return s?.access_token ? { Authorization: `Bearer ${s.access_token}` } : {};
}

let refreshing = null;
/** Rotates the refresh token once for all callers that got a 401 at the same time. */
async function refresh() {
	const s = session.get();
	if (!s?.refresh_token) return false;
	refreshing ??= fetch("/auth/refresh", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ refresh_token: s.refresh_token }) })
		.then(async res => {
			if (!res.ok) return false;
			session.set({ ...s, ...(await res.json()) });
			return true;
		})
		.finally(() => (refreshing = null));
	return refreshing;
}

/** `api("POST", "/path", {body})` or `{form}` (multipart) → the parsed JSON; an ApiError for any non-2xx. */
export async function api(method, path, { body, form } = {}, retried = false) {
	const headers = authHeaders();
	let payload;
	if (form) payload = form;
	else if (body !== undefined) {
		headers["Content-Type"] = "application/json";
		payload = JSON.stringify(body);
	}
	const res = await fetch(path, { method, headers, body: payload });
	if (res.status === 401 && !retried && session.get()?.refresh_token && (await refresh())) return api(method, path, { body, form }, true);
	const data = await parse(res);
	if (!res.ok) throw new ApiError(res.status, data);
	return data;
}

/** The SPEC error body as one readable line. */
export function describeError(err) {
	const fields = err?.body?.details?.validation_errors;
	const detail = Array.isArray(fields) && fields.length ? `: ${fields.map(f => `${f.field} ${f.message}`).join("; ")}` : "";
	return `${err?.message ?? String(err)}${detail}`;
}

/**
 * Server-sent events of `path`, read over fetch with the Authorization header: yields
 * `{event, data}` (data parsed as JSON when it is) until the server ends the stream.
 */
export async function* events(path, signal) {
	const res = await fetch(path, { headers: { ...authHeaders(), Accept: "text/event-stream" }, signal });
	if (!res.ok || !res.body) throw new ApiError(res.status, await parse(res));
	const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
	let buffer = "";
	for (;;) {
		const { value, done } = await reader.read();
		if (done) return;
		buffer += value.replace(/\r\n?/g, "\n");
		let end;
		while ((end = buffer.indexOf("\n\n")) >= 0) {
			const frame = buffer.slice(0, end);
			buffer = buffer.slice(end + 2);
			let event = "message";
			const data = [];
			for (const line of frame.split("\n")) {
				if (line.startsWith(":")) continue; // keep-alive comment
				const colon = line.indexOf(":");
				const field = colon < 0 ? line : line.slice(0, colon);
				const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
				if (field === "event") event = val;
				else if (field === "data") data.push(val);
			}
			if (!data.length) continue;
			const text = data.join("\n");
			let parsed = text;
			try {
				parsed = JSON.parse(text);
			} catch {
				/* plain text */
			}
			yield { event, data: parsed };
		}
	}
}
