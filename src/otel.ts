// otel.ts: the `peercache/otel` entry: a node's traces and metrics through OpenTelemetry
// (loads @opentelemetry/api, an optional peer dependency).

export {
  type GroupSource,
  INSTRUMENTATION_NAME,
  type OtelMetrics,
  type OtelMetricsOptions,
  registerOtelMetrics,
} from './telemetry/otel-metrics.js';
export { type OtelTelemetryOptions, otelTelemetry } from './telemetry/otel-tracing.js';
