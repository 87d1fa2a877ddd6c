import { api, describeError, events, session } from "./api.js";
import { trendChart } from "./chart.js";
import { $, el, fill, num, safeImageUrl } from "./dom.js";
import { renderReport } from "./report.js";

/** The consent switches of SPEC §3, with the defaults of SPEC §2 (biometric and technical metadata need a yes). */
const CONSENTS = [
	["face_analysis", "Face: expression, head pose, image quality", true],
	["fashion_analysis", "Outfit and style: items, colours, harmony", true],
	["posture_analysis", "Posture: alignment and openness", true],
	["bio_analysis", "Bio text: the vibe of what you write", true],
	["detailed_analysis", "Detailed sections in the report", true],
	["biometric_analysis", "Biometric estimates: age, gender, face descriptor", false],
	["technical_metadata", "Technical metadata: score ranges, model versions, timings", false]
];
const VIEWS = ["auth", "analyse", "history", "feed"];
const sleep = ms => new Promise(r => setTimeout(r, ms));

let me = null;
let feedCursor = null;

function notify(message) {
	const n = $("#notice");
	n.textContent = message ?? "";
	n.hidden = !message;
}

function show(view) {
	for (const v of VIEWS) $(`#view-${v}`).hidden = v !== view;
	for (const b of document.querySelectorAll("#nav button")) b.classList.toggle("active", b.dataset.view === view);
	notify(null);
	if (view === "history") void loadHistory().catch(err => notify(describeError(err)));
	if (view === "feed") void loadFeed(true).catch(err => notify(describeError(err)));
}

function setSignedIn(on) {
	for (const b of document.querySelectorAll("#nav [data-member]")) b.hidden = !on;
	for (const b of document.querySelectorAll("#nav [data-guest]")) b.hidden = on;
	$("#account").hidden = !on;
}

async function signedIn() {
	me = await api("GET", "/auth/me");
	$("#who").textContent = me.public_alias ? `${me.public_alias} (${me.email})` : me.email;
	setSignedIn(true);
	show("analyse");
}

async function onAuth(event) {
	event.preventDefault();
	const form = new FormData(event.target);
	const mode = event.submitter?.value === "login" ? "login" : "register";
	const body = { email: form.get("email"), password: form.get("password") };
	if (mode === "register") {
		if (form.get("public_alias")) body.public_alias = form.get("public_alias");
		body.opt_in_public_analysis = form.get("opt_in_public_analysis") === "on";
	}
	try {
		session.set(await api("POST", `/auth/${mode}`, { body }));
		event.target.reset();
		await signedIn();
	} catch (err) {
		session.clear();
		notify(describeError(err));
	}
}

function signOut() {
	session.clear();
	me = null;
	setSignedIn(false);
	fill($("#report"));
	$("#report").hidden = true;
	$("#progress").hidden = true;
	show("auth");
}

/* ---- analysis: consent dialog, upload, job progress stream, report ---- */

function consentSwitches() {
	fill(
		$("#consent-switches"),
		el("legend", {}, "Consent for this analysis"),
		CONSENTS.map(([key, text, on]) => el("label", { class: "switch" }, el("input", { type: "checkbox", name: key, checked: on }), " ", el("strong", {}, key), " — ", text))
	);
}

function askConsent() {
	const dialog = $("#consent-dialog");
	consentSwitches();
	dialog.returnValue = "";
	dialog.showModal();
	return new Promise(resolve => {
		dialog.addEventListener(
			"close",
			() => {
				if (dialog.returnValue !== "start") return resolve(null);
				const user_consent = Object.fromEntries(CONSENTS.map(([key]) => [key, dialog.querySelector(`input[name="${key}"]`).checked]));
				resolve({ user_consent, bio_text: $("#bio-text").value.trim() });
			},
			{ once: true }
		);
	});
}

/** Updates the bar and status; `line` goes to the log (`event`: the stream event it came from). */
function progress(value, status, line, event) {
	if (typeof value === "number") $("#progress-bar").value = value;
	if (status) $("#progress-status").textContent = status;
	if (line) $("#progress-log").append(el("li", { "data-event": event }, line));
}

/** Follows the job's event stream until it ends; the caller reads the result either way. */
async function follow(jobId) {
	const abort = new AbortController();
	try {
		for await (const { event, data } of events(`/analysis/jobs/${encodeURIComponent(jobId)}/events`, abort.signal)) {
			const where = data?.node ? `${data.node}: ${data.node_status ?? data.status}` : `job ${data?.status ?? event}`;
			progress(data?.progress, data?.node && event === "progress" ? "running" : (data?.status ?? event), where, event);
			if (event === "completed" || event === "failed" || event === "cancelled") break;
		}
	} catch (err) {
		progress(undefined, undefined, `progress stream interrupted (${describeError(err)}); checking the job`);
	} finally {
		abort.abort();
	}
}

/** The job's result: the event stream may report the analysis before the queue has stored the result. */
async function result(jobId) {
	for (let i = 0; i < 300; i++) {
		const job = await api("GET", `/analysis/jobs/${encodeURIComponent(jobId)}`);
		if (job.status === "completed") return job.result;
		if (job.status === "failed" || job.status === "cancelled") throw new Error(`The analysis ${job.status}: ${job.error ?? ""}`);
		progress(job.progress, job.status);
		await sleep(i < 10 ? 300 : 1000);
	}
	throw new Error("The analysis is taking too long; look at History later");
}

async function onAnalyse(event) {
	event.preventDefault();
	const file = $("#photo").files?.[0];
	if (!file) return notify("Choose a photo first");
	const choice = await askConsent();
	if (!choice) return;
	const button = $("#analyse");
	button.disabled = true;
	notify(null);
	$("#report").hidden = true;
	delete $("#report").dataset.state;
	fill($("#progress-log"));
	$("#progress").hidden = false;
	try {
		progress(0, "uploading", `uploading ${file.name}`);
		const form = new FormData();
		form.append("file", file);
		const media = await api("POST", "/media/upload", { form });
		progress(5, "uploaded", `uploaded: ${media.mime}, ${Math.round(media.size_bytes / 1024)} KiB`);
		const body = { media_id: media.media_id, user_consent: choice.user_consent };
		if (choice.bio_text) body.bio_text = choice.bio_text;
		const job = await api("POST", "/analysis/analyze?async=true", { body });
		progress(5, "queued", `job ${job.job_id} queued`);
		await follow(job.job_id);
		const report = await result(job.job_id);
		progress(100, "completed");
		renderReport($("#report"), report);
	} catch (err) {
		progress(undefined, "failed");
		notify(describeError(err));
	} finally {
		button.disabled = false;
	}
}

function onPhotoChosen() {
	const file = $("#photo").files?.[0];
	const img = $("#preview");
	if (img.src) URL.revokeObjectURL(img.src);
	img.hidden = !file || !file.type.startsWith("image/");
	if (!img.hidden) img.src = URL.createObjectURL(file);
}

/* ---- history and feed ---- */

const chips = (tags, cls = "") => el("span", { class: "tags" }, (Array.isArray(tags) ? tags : []).map(t => el("span", { class: `tag ${cls}` }, String(t))));

async function loadHistory() {
	delete $("#view-history").dataset.state;
	const h = await api("GET", `/history/${encodeURIComponent(me.id)}`);
	$("#trend-summary").textContent = h.trend_summary ?? "";
	fill($("#trend-chart"), trendChart(h.score_trend ?? []));
	fill(
		$("#trend-tags"),
		h.improvement_tags?.length ? el("p", {}, "Improving: ", chips(h.improvement_tags, "up")) : null,
		h.decline_tags?.length ? el("p", {}, "Declining: ", chips(h.decline_tags, "down")) : null
	);
	$("#view-history").dataset.state = "ready";
}

function feedItem(item) {
	const src = safeImageUrl(item.thumbnail_url);
	const p = item.perception ?? {};
	return el(
		"li",
		{ class: "card", "data-user": item.user_id },
		src ? el("img", { src, alt: "", loading: "lazy" }) : null,
		el("div", {}, el("strong", { class: "alias" }, item.alias ?? "Anonymous"), el("span", { class: "muted" }, ` · ${new Date(item.created_at).toLocaleString()}`)),
		el("p", { class: "summary" }, p.summary_text ?? ""),
		el("p", {}, `social score ${num(p.social_score)} · percentile ${num(p.percentile)}`),
		chips(p.tags)
	);
}

async function loadFeed(reset) {
	delete $("#view-feed").dataset.state;
	if (reset) {
		feedCursor = null;
		fill($("#feed-list"));
	}
	const page = await api("GET", `/public/feed?limit=20${feedCursor ? `&cursor=${encodeURIComponent(feedCursor)}` : ""}`);
	$("#feed-list").append(...page.items.map(feedItem));
	if (!$("#feed-list").children.length) $("#feed-list").append(el("li", { class: "muted" }, "Nobody has shared an analysis yet."));
	feedCursor = page.next_cursor;
	$("#feed-more").hidden = !feedCursor;
	$("#view-feed").dataset.state = "ready";
}

/* ---- operator status ---- */

async function status() {
	const res = await fetch("/ready").catch(() => null);
	const body = res ? await res.json().catch(() => null) : null;
	const failing = Object.entries(body?.checks ?? {}).filter(([, ok]) => !ok).map(([k]) => k);
	$("#status").textContent = !res ? "Service unreachable" : res.ok ? `Service ready (${Object.keys(body?.checks ?? {}).length} checks pass)` : `Service not ready: ${failing.join(", ") || res.status}`;
}

$("#auth-form").addEventListener("submit", onAuth);
$("#sign-out").addEventListener("click", signOut);
$("#upload-form").addEventListener("submit", onAnalyse);
$("#photo").addEventListener("change", onPhotoChosen);
$("#feed-more").addEventListener("click", () => void loadFeed(false).catch(err => notify(describeError(err))));
for (const b of document.querySelectorAll("#nav button")) b.addEventListener("click", () => show(b.dataset.view));
void status();
if (session.get()) signedIn().catch(() => signOut());
else show("auth");
