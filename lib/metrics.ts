import { MetricReporters, type MetricRegistry } from "moleculer";

/**
 * Renders a node's metrics in the Prometheus text format with Moleculer's own
 * Prometheus reporter, but without the reporter's HTTP server: the gateway serves
 * the text at `GET /metrics`, so there is one port to expose and protect.
 */
export function prometheusRenderer(registry: MetricRegistry): () => string {
	const reporter = new MetricReporters.Prometheus({});
	// Base.init wires the registry; Prometheus.init would also start a server.
	MetricReporters.Base.prototype.init.call(reporter, registry);
	return () => (reporter as unknown as { generatePrometheusResponse(): string }).generatePrometheusResponse();
}
