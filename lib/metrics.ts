import { monitorEventLoopDelay } from "node:perf_hooks";
import { MetricReporters, type Middleware, type MetricRegistry, type ServiceBroker } from "moleculer";

/** Metric names the dashboards and alerts (docker/grafana, docker/prometheus) read. */
export const METRIC = {
	HTTP_REQUESTS: "lifemirror.http.requests.total",
	HTTP_DURATION: "lifemirror.http.request.duration.seconds",
	EVENT_LOOP_LAG: "lifemirror.event.loop.lag.seconds"
} as const;

/** Never exported: the process's command line can carry paths and, worse, secrets passed as arguments. */
export const EXCLUDED_METRICS = ["process.arguments"];

/** Latency buckets of the HTTP histogram, in seconds. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

interface StoredMetric {
	name: string;
	type: string;
	description?: string;
	unit?: string;
	snapshot(): unknown[];
}

/**
 * Renders a node's metrics in the Prometheus text format with Moleculer's own
 * Prometheus reporter, but without the reporter's HTTP server: the gateway serves
 * the text at `GET /metrics`, so there is one port to expose and protect.
 * A registered metric with no sample yet (no failure so far, no breaker opened) is still
 * announced with its `# TYPE` line, so dashboards and alerts can rely on its name.
 */
export function prometheusRenderer(registry: MetricRegistry): () => string {
	const reporter = new MetricReporters.Prometheus({ excludes: EXCLUDED_METRICS });
	// Base.init wires the registry; Prometheus.init would also start a server.
	MetricReporters.Base.prototype.init.call(reporter, registry);
	const r = reporter as unknown as { generatePrometheusResponse(): string; formatMetricName(n: string): string; matchMetricName(n: string): boolean };
	return () => {
		const empty: string[] = [];
		(registry as unknown as { store: Map<string, StoredMetric> }).store.forEach(metric => {
			if (metric.snapshot().length || !r.matchMetricName(metric.name)) return;
			const name = r.formatMetricName(metric.name).replace(/[.-]/g, "_");
			empty.push(`# HELP ${name} ${metric.description ?? metric.name}`, `# TYPE ${name} ${metric.type}`, "");
		});
		return r.generatePrometheusResponse() + (empty.length ? `\n${empty.join("\n")}` : "");
	};
}

/** Registers the gateway's HTTP metrics (once per broker). */
export function registerHttpMetrics(registry: MetricRegistry): void {
	if (registry.getMetric(METRIC.HTTP_REQUESTS)) return;
	registry.register({ type: "counter", name: METRIC.HTTP_REQUESTS, labelNames: ["method", "route", "status"], description: "HTTP requests answered by the gateway" });
	registry.register({
		type: "histogram",
		name: METRIC.HTTP_DURATION,
		labelNames: ["method", "route"],
		unit: "second",
		description: "HTTP request time, from the first byte in to the last byte out",
		buckets: HTTP_BUCKETS
	} as never);
}

/** Counts one answered request; `route` is the alias pattern (bounded), never the raw URL. */
export function recordHttp(registry: MetricRegistry, method: string, route: string, status: number, seconds: number): void {
	registry.increment(METRIC.HTTP_REQUESTS, { method, route, status: String(status) });
	registry.observe(METRIC.HTTP_DURATION, seconds, { method, route });
}

/**
 * Node health metrics every node exports (gateway or worker): the event-loop delay
 * (p50, p99, max over the last interval, from perf_hooks) next to Moleculer's process metrics.
 */
export function opsMetricsMiddleware(intervalMs = 5000): Middleware {
	const histogram = monitorEventLoopDelay({ resolution: 10 });
	let timer: NodeJS.Timeout | null = null;
	return {
		name: "OpsMetrics",
		created(broker: ServiceBroker) {
			if (!broker.isMetricsEnabled()) return;
			broker.metrics.register({ type: "gauge", name: METRIC.EVENT_LOOP_LAG, labelNames: ["quantile"], unit: "second", description: "Event-loop delay over the last interval" });
		},
		started(broker: ServiceBroker) {
			if (!broker.isMetricsEnabled()) return;
			histogram.enable();
			const sample = () => {
				// perf_hooks reports nanoseconds; 0 samples reads as 0, not NaN.
				const s = (ns: number) => (Number.isFinite(ns) ? ns / 1e9 : 0);
				broker.metrics.set(METRIC.EVENT_LOOP_LAG, s(histogram.percentile(50)), { quantile: "0.5" });
				broker.metrics.set(METRIC.EVENT_LOOP_LAG, s(histogram.percentile(99)), { quantile: "0.99" });
				broker.metrics.set(METRIC.EVENT_LOOP_LAG, s(histogram.max), { quantile: "1" });
				histogram.reset();
			};
			sample();
			timer = setInterval(sample, intervalMs);
			timer.unref();
		},
		stopped() {
			if (timer) clearInterval(timer);
			histogram.disable();
		}
	} as unknown as Middleware;
}
