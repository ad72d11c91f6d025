/**
 * Traces through Deno's built-in OpenTelemetry (`OTEL_DENO=true`) and the `@opentelemetry/api`
 * package: a span per call or app session, child spans per turn and per upstream connection.
 * Without `OTEL_DENO` the API is a no-op and costs next to nothing.
 *
 * Logs reach the OTel exporter through `console` (Deno captures it); a call's logger writes
 * inside the call span's context, so each log record carries the call's trace id.
 */
import type { Attributes, Context, Span, Tracer } from "@opentelemetry/api";
import { context, SpanStatusCode, trace } from "@opentelemetry/api";
import type { Logger } from "./logger.ts";
import { VERSION } from "./version.ts";

export type { Span, Tracer };

/** The gateway's tracer (no-op unless OTel is on). */
export function gatewayTracer(): Tracer {
  return trace.getTracer("voice-gateway", VERSION);
}

/** One traced unit (a call, an app session): its span and the context children start from. */
export interface TraceScope {
  readonly span: Span;
  readonly context: Context;
  /** Starts a child span (a turn, an upstream connection). */
  child(name: string, attributes?: Attributes): Span;
}

/** Starts a root span and its scope. */
export function startScope(tracer: Tracer, name: string, attributes: Attributes): TraceScope {
  const span = tracer.startSpan(name, { attributes, root: true });
  const ctx = trace.setSpan(context.active(), span);
  return {
    span,
    context: ctx,
    child: (childName, childAttributes) =>
      tracer.startSpan(childName, childAttributes ? { attributes: childAttributes } : {}, ctx),
  };
}

/** Ends a span with an outcome; an error outcome marks the span as failed. */
export function endSpan(span: Span, attributes: Attributes, error?: string): void {
  span.setAttributes(attributes);
  if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
  span.end();
}

/** A logger whose lines are written inside `ctx`, so OTel log records carry its trace id. */
export function logInContext(log: Logger, ctx: Context): Logger {
  const at =
    (level: "trace" | "debug" | "info" | "warn" | "error") =>
    (fields: Record<string, unknown>, message: string): void =>
      context.with(ctx, () => log[level](fields, message));
  return {
    trace: at("trace"),
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: (bindings) => logInContext(log.child(bindings), ctx),
  };
}
