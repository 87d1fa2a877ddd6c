import { num, svg } from "./dom.js";

/**
 * The score trend as an inline SVG line chart: scores 0–10 up, time across (spaced by date),
 * one point per analysis with its date and score in a tooltip.
 */
export function trendChart(points, { width = 640, height = 240 } = {}) {
	const pad = { left: 36, right: 16, top: 12, bottom: 28 };
	const data = points
		.map(p => ({ t: Date.parse(p.timestamp), score: p.score }))
		.filter(p => Number.isFinite(p.t) && typeof p.score === "number")
		.sort((a, b) => a.t - b.t);
	const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "trend", "aria-label": `Score trend over ${data.length} analyses` });
	const innerW = width - pad.left - pad.right;
	const innerH = height - pad.top - pad.bottom;
	const y = score => pad.top + innerH * (1 - Math.min(10, Math.max(0, score)) / 10);
	const t0 = data[0]?.t ?? 0;
	const span = (data.at(-1)?.t ?? 0) - t0;
	const x = (t, i) => pad.left + (span > 0 ? (innerW * (t - t0)) / span : data.length > 1 ? (innerW * i) / (data.length - 1) : innerW / 2);

	for (const tick of [0, 2.5, 5, 7.5, 10]) {
		chart.append(svg("line", { class: "grid", x1: pad.left, x2: width - pad.right, y1: y(tick), y2: y(tick) }));
		chart.append(svg("text", { class: "axis", x: pad.left - 6, y: y(tick) + 4, "text-anchor": "end" }, String(tick)));
	}
	if (!data.length) {
		chart.append(svg("text", { class: "axis", x: width / 2, y: height / 2, "text-anchor": "middle" }, "No analyses yet"));
		return chart;
	}
	const xy = data.map((p, i) => [x(p.t, i), y(p.score)]);
	if (xy.length > 1) chart.append(svg("polyline", { class: "line", points: xy.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(" ") }));
	data.forEach((p, i) => {
		const label = `${new Date(p.t).toLocaleString()}: ${num(p.score)} / 10`;
		chart.append(svg("circle", { class: "point", cx: xy[i][0].toFixed(1), cy: xy[i][1].toFixed(1), r: 5 }, svg("title", {}, label)));
	});
	const day = t => new Date(t).toLocaleDateString();
	chart.append(svg("text", { class: "axis", x: pad.left, y: height - 8 }, day(data[0].t)));
	if (data.length > 1) chart.append(svg("text", { class: "axis", x: width - pad.right, y: height - 8, "text-anchor": "end" }, day(data.at(-1).t)));
	return chart;
}
