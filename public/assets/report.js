import { el, fill, num, safeImageUrl } from "./dom.js";

const SCORES = [
	["overall", "overall_score", "Overall"],
	["attractiveness", "attractiveness_score", "Attractiveness"],
	["style", "style_score", "Style"],
	["presence", "presence_score", "Presence"]
];
const SECTION_TITLES = { face: "Face", fashion: "Style & outfit", posture: "Posture", bio: "Bio", metadata: "Technical metadata" };
const MAX_ITEMS = 12;

const text = v => (typeof v === "string" ? v : typeof v?.message === "string" ? v.message : JSON.stringify(v));
const label = key => key.replace(/_/g, " ");

/** Any JSON value as nested lists, every leaf as text (crops as images); long arrays are cut (the JSON API has them all). */
function tree(value, depth = 0, key = "") {
	if (value === null || value === undefined) return el("span", { class: "muted" }, "—");
	if (key === "crop_url" && safeImageUrl(value)) return el("img", { class: "crop", src: safeImageUrl(value), alt: "" });
	if (typeof value === "number") return el("span", {}, num(value));
	if (typeof value !== "object") return el("span", {}, String(value));
	if (depth > 4) return el("span", { class: "muted" }, "…");
	if (Array.isArray(value)) {
		if (!value.length) return el("span", { class: "muted" }, "none");
		if (value.every(v => v === null || typeof v !== "object")) return el("span", {}, value.slice(0, MAX_ITEMS).map(v => (typeof v === "number" ? num(v) : String(v))).join(", ") + (value.length > MAX_ITEMS ? ` … (${value.length})` : ""));
		return el("ol", {}, value.slice(0, MAX_ITEMS).map(v => el("li", {}, tree(v, depth + 1))), value.length > MAX_ITEMS ? el("li", { class: "muted" }, `… ${value.length - MAX_ITEMS} more`) : null);
	}
	return el("dl", {}, Object.entries(value).map(([k, v]) => [el("dt", {}, label(k)), el("dd", {}, tree(v, depth + 1, k))]));
}

function scoreCards(result) {
	const ranges = result.detailed_analysis?.metadata?.aggregate?.scores ?? {};
	return el(
		"div",
		{ class: "scores" },
		SCORES.filter(([, field]) => typeof result[field] === "number").map(([key, field, title]) => {
			const range = ranges[key]?.range;
			return el(
				"div",
				{ class: "score", "data-score": key },
				el("span", { class: "score-label" }, title),
				el("span", { class: "score-value" }, num(result[field]), el("small", {}, " / 10")),
				Array.isArray(range)
					? el("span", { class: "range" }, `range ${num(range[0])}–${num(range[1])}`)
					: el("span", { class: "range muted" }, "range: with technical metadata consent"),
				typeof ranges[key]?.confidence === "number" ? el("span", { class: "muted" }, `confidence ${num(ranges[key].confidence)}`) : null
			);
		}),
		el("div", { class: "score", "data-score": "confidence" }, el("span", { class: "score-label" }, "Confidence"), el("span", { class: "score-value" }, num(result.confidence)))
	);
}

function list(title, id, items) {
	if (!Array.isArray(items) || !items.length) return null;
	return el("section", { id }, el("h3", {}, title), el("ul", {}, items.map(i => el("li", {}, text(i)))));
}

function detailTabs(detailed) {
	const keys = Object.keys(detailed ?? {}).filter(k => k !== "langsmith_run_ids" && detailed[k]);
	if (!keys.length) return el("p", { class: "muted" }, "No detailed sections (detailed analysis not consented, or no agent produced one).");
	const panel = el("div", { class: "tab-panel", role: "tabpanel", id: "detail-panel" });
	const bar = el("div", { class: "tabs", role: "tablist" });
	const show = key => {
		for (const b of bar.children) b.setAttribute("aria-selected", String(b.dataset.tab === key));
		fill(panel, tree(detailed[key]));
	};
	for (const key of keys) bar.append(el("button", { type: "button", role: "tab", "data-tab": key, onclick: () => show(key) }, SECTION_TITLES[key] ?? label(key)));
	show(keys[0]);
	return el("div", { class: "details" }, bar, panel);
}

function processing(meta) {
	if (!meta) return null;
	const skipped = (meta.agents_skipped ?? []).map(s => `${s.agent} (${s.reason})`);
	const failed = (meta.agents_failed ?? []).map(s => `${s.agent} (${s.reason})`);
	return el(
		"p",
		{ class: "muted processing" },
		`Pipeline ${meta.pipeline ?? "?"}; ran ${(meta.agents_run ?? []).join(", ") || "none"}`,
		skipped.length ? `; skipped ${skipped.join(", ")}` : "",
		failed.length ? `; failed ${failed.join(", ")}` : "",
		typeof meta.timings?.total_ms === "number" ? `; ${Math.round(meta.timings.total_ms)} ms` : ""
	);
}

/** Renders a FinalAnalysisResponse into `root`. */
export function renderReport(root, result) {
	fill(
		root,
		el("h2", {}, "Your report"),
		scoreCards(result),
		el("section", { id: "summary" }, el("h3", {}, "Summary"), el("p", {}, result.summary ?? "")),
		list("Key insights", "insights", result.key_insights),
		list("Recommendations", "recommendations", result.recommendations),
		el("section", { id: "detailed" }, el("h3", {}, "Details"), detailTabs(result.detailed_analysis)),
		list("Warnings", "warnings", result.warnings),
		list("Disclaimers", "disclaimers", result.disclaimers),
		processing(result.processing_metadata)
	);
	root.hidden = false;
	root.dataset.state = "ready";
}
