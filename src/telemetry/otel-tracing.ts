// otel-tracing.ts: the core's tracing seam implemented with OpenTelemetry: spans from the
// tracer provider, W3C trace context to and from peers, the loader run inside its span.
import {
  type Context,
  context,
  isSpanContextValid,
  SpanKind as OtelSpanKind,
  ROOT_CONTEXT,
  type Span,
  SpanStatusCode,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import type { SpanAttributes, SpanKind, Telemetry, TelemetrySpan } from '../core/telemetry.js';
import { isCacheError } from '../errors.js';
import { INSTRUMENTATION_NAME } from './otel-metrics.js';

/** OtelTelemetryOptions configure {@link otelTelemetry}. */
export interface OtelTelemetryOptions {
  /** tracerProvider makes the tracer. Default: the global one of `@opentelemetry/api`. */
  tracerProvider?: TracerProvider | undefined;
  /** traceKeys records each span's key (`peercache.key`); keys may be personal data. Default false. */
  traceKeys?: boolean | undefined;
}

const KINDS: Record<SpanKind, OtelSpanKind> = {
  internal: OtelSpanKind.INTERNAL,
  client: OtelSpanKind.CLIENT,
  server: OtelSpanKind.SERVER,
};

/** A W3C traceparent of version 00: trace id, parent span id, flags. */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * otelTelemetry traces a node with OpenTelemetry: `createNode({ telemetry:
 * otelTelemetry() })`. Spans: `peercache.get` (every get, `peercache.hit` says whether
 * the cache answered), `peercache.peer.get` (the request to the owner, a client span),
 * `peercache.serve.get` (the owner answering it, a server span in the same trace),
 * `peercache.load` (the loader, run inside it so that its own spans are children), and
 * `peercache.set` / `peercache.remove` (the write to the owner). Every span has
 * `peercache.group`; `peercache.key` only with `traceKeys`. A get's span is a child of the
 * caller's active span.
 */
export function otelTelemetry(options: OtelTelemetryOptions = {}): Telemetry {
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(
    INSTRUMENTATION_NAME,
  );
  return {
    traceKeys: options.traceKeys === true,
    startSpan(name, kind, attributes: SpanAttributes, parent) {
      const ctx = parentContext(parent);
      return new OtelSpan(tracer.startSpan(name, { kind: KINDS[kind], attributes }, ctx));
    },
    with(span, fn) {
      if (!(span instanceof OtelSpan)) return fn();
      return context.with(trace.setSpan(context.active(), span.span), fn);
    },
  };
}

function parentContext(parent: TelemetrySpan | string | undefined): Context {
  if (parent instanceof OtelSpan) return trace.setSpan(context.active(), parent.span);
  if (typeof parent === 'string') {
    const m = TRACEPARENT.exec(parent);
    if (m === null) return ROOT_CONTEXT;
    const spanContext = {
      traceId: m[1] as string,
      spanId: m[2] as string,
      traceFlags: Number.parseInt(m[3] as string, 16) & 1,
      isRemote: true,
    };
    return isSpanContextValid(spanContext)
      ? trace.setSpanContext(ROOT_CONTEXT, spanContext)
      : ROOT_CONTEXT;
  }
  return context.active();
}

/** OtelSpan is a TelemetrySpan over an OpenTelemetry span. */
class OtelSpan implements TelemetrySpan {
  readonly span: Span;
  #ended = false;

  constructor(span: Span) {
    this.span = span;
  }

  get traceparent(): string | undefined {
    const c = this.span.spanContext();
    if (!isSpanContextValid(c)) return undefined;
    return `00-${c.traceId}-${c.spanId}-${(c.traceFlags & 1) === 1 ? '01' : '00'}`;
  }

  setAttribute(key: string, value: string | number | boolean): void {
    this.span.setAttribute(key, value);
  }

  end(error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    if (error !== undefined) {
      // Not found is an answer, not a failure.
      if (isCacheError(error, 'NOT_FOUND')) this.span.setAttribute('peercache.found', false);
      else {
        const e = error instanceof Error ? error : new Error(String(error));
        this.span.recordException(e);
        this.span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
      }
    }
    this.span.end();
  }
}
