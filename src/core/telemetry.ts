// telemetry.ts: the tracing seam of the core: spans for gets, peer requests, loads and
// writes, and the trace context a request carries to a peer. The core knows no tracing
// library; `peercache/otel` implements the seam with OpenTelemetry.

/** SpanAttributes are a span's attributes. */
export type SpanAttributes = Record<string, string | number | boolean>;

/** SpanKind says what a span is: work inside this node, a request to a peer, or one served. */
export type SpanKind = 'internal' | 'client' | 'server';

/** TelemetrySpan is one started span. */
export interface TelemetrySpan {
  /** traceparent is this span's W3C `traceparent`, sent with a request to a peer. */
  readonly traceparent: string | undefined;
  /** setAttribute adds an attribute once the span has started. */
  setAttribute(key: string, value: string | number | boolean): void;
  /** end ends the span, recording `error` (a failure) when given. Idempotent. */
  end(error?: unknown): void;
}

/**
 * Telemetry is the tracing seam a node gives its groups. A span's parent is a span of this
 * node, a W3C `traceparent` a peer sent, or, when neither is given, the caller's active
 * context (so a get inside an application's own span is its child).
 */
export interface Telemetry {
  /** traceKeys says whether spans record the key (`peercache.key`). */
  readonly traceKeys: boolean;
  /** startSpan starts a span named `name`. */
  startSpan(
    name: string,
    kind: SpanKind,
    attributes: SpanAttributes,
    parent?: TelemetrySpan | string,
  ): TelemetrySpan;
  /** with runs `fn` with `span` as the active context, so spans made inside it are its children. */
  with<T>(span: TelemetrySpan, fn: () => T): T;
}

/** settleSpan ends `span` when `promise` settles, with its error if it rejects; returns `promise`. */
export function settleSpan<T>(span: TelemetrySpan, promise: Promise<T>): Promise<T> {
  promise.then(
    () => span.end(),
    (err: unknown) => span.end(err),
  );
  return promise;
}
