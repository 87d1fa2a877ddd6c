// DOM helpers. Data only ever becomes text nodes or attribute values, never parsed markup:
// stored text (aliases, summaries, tags) cannot turn into script.

function append(node, children) {
	for (const child of children.flat(Infinity)) {
		if (child === null || child === undefined || child === false) continue;
		node.append(child instanceof Node ? child : String(child));
	}
	return node;
}

function setAttrs(node, attrs) {
	for (const [name, value] of Object.entries(attrs)) {
		if (value === null || value === undefined || value === false) continue;
		if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
		else node.setAttribute(name, value === true ? "" : String(value));
	}
	return node;
}

/** An HTML element: `el("li", {class: "x"}, "text", child)`. */
export function el(tag, attrs = {}, ...children) {
	return append(setAttrs(document.createElement(tag), attrs), children);
}

/** An SVG element (namespaced), for the trend chart. */
export function svg(tag, attrs = {}, ...children) {
	return append(setAttrs(document.createElementNS("http://www.w3.org/2000/svg", tag), attrs), children);
}

/** Replaces a node's children. */
export function fill(node, ...children) {
	node.replaceChildren();
	return append(node, children);
}

export const $ = selector => document.querySelector(selector);

/** A URL the page may load as an image: same origin, https or a blob (never `javascript:` or `data:` from data). */
export function safeImageUrl(url) {
	if (typeof url !== "string" || !url) return null;
	try {
		const u = new URL(url, location.href);
		return u.origin === location.origin || u.protocol === "https:" || u.protocol === "blob:" ? u.href : null;
	} catch {
		return null;
	}
}

/** A number as the report shows it (at most 2 decimals). */
export const num = v => (typeof v === "number" && Number.isFinite(v) ? String(Math.round(v * 100) / 100) : "–");
