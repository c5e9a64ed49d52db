// otel.ts: the `peercache/otel` entry: a node's metrics through OpenTelemetry (loads
// @opentelemetry/api, an optional peer dependency).

export {
  type GroupSource,
  INSTRUMENTATION_NAME,
  type OtelMetrics,
  type OtelMetricsOptions,
  registerOtelMetrics,
} from './telemetry/otel-metrics.js';
