/**
 * A per-socket logger that cannot be used to flood the log: string values are cut to a maximum
 * length (bindings too, e.g. a hostile `conversationId`), and lines are rate-limited with a token
 * bucket; what was dropped is counted and reported in the next line that passes (and on
 * {@linkcode BoundedLogger.flush}). Errors are never dropped by the rate limit, only cut.
 */
import type { Logger } from "./logger.ts";

/** Limits of a {@linkcode BoundedLogger}. */
export interface LogLimits {
  /** Longest string value written; longer ones are cut and marked with their full length. */
  readonly maxValueChars: number;
  /** Lines per second (burst: 2 seconds' worth). */
  readonly linesPerSecond: number;
  /** Monotonic milliseconds (injected for tests). */
  readonly now: () => number;
}

/** A logger with a count of the lines it dropped. */
export interface BoundedLogger extends Logger {
  /** Lines dropped by the rate limit so far. */
  readonly dropped: number;
  /** Writes a line saying how many lines were dropped since the last report, if any. */
  flush(): void;
  child(bindings: Record<string, unknown>): BoundedLogger;
}

/** Cuts a string to `max` characters, saying how long it was. */
export function clip(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max)}…(${value.length} chars)`;
}

/** A copy of `fields` with every string (one level of nesting deep) cut to `max` characters. */
export function clipFields(
  fields: Record<string, unknown>,
  max: number,
): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(fields)) {
    const clipped = clipValue(value, max, 1);
    if (clipped !== value) (out ??= { ...fields })[key] = clipped;
  }
  return out ?? fields;
}

function clipValue(value: unknown, max: number, depth: number): unknown {
  if (typeof value === "string") return clip(value, max);
  if (depth <= 0 || typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    const items = value.length > 32 ? [...value.slice(0, 32), `…(${value.length} items)`] : value;
    const mapped = items.map((v) => clipValue(v, max, depth - 1));
    return mapped.some((v, i) => v !== value[i]) || items !== value ? mapped : value;
  }
  if (value instanceof Error) return value;
  const entries = Object.entries(value);
  let changed = entries.length > 32;
  const kept = entries.slice(0, 32).map(([k, v]) => {
    const c = clipValue(v, max, depth - 1);
    if (c !== v) changed = true;
    return [k, c] as const;
  });
  return changed ? Object.fromEntries(kept) : value;
}

interface Budget {
  tokens: number;
  at: number;
  dropped: number;
  reported: number;
}

/** Wraps `log` with the limits; children share the parent's budget. */
export function boundedLogger(log: Logger, limits: LogLimits): BoundedLogger {
  const budget: Budget = {
    tokens: limits.linesPerSecond * 2,
    at: limits.now(),
    dropped: 0,
    reported: 0,
  };
  return wrap(log, limits, budget);
}

function wrap(log: Logger, limits: LogLimits, budget: Budget): BoundedLogger {
  const rate = limits.linesPerSecond;
  const take = (): boolean => {
    const now = limits.now();
    budget.tokens = Math.min(
      rate * 2,
      budget.tokens + (Math.max(0, now - budget.at) * rate) / 1000,
    );
    budget.at = now;
    if (budget.tokens < 1) return false;
    budget.tokens--;
    return true;
  };
  const report = (): void => {
    const count = budget.dropped - budget.reported;
    if (count <= 0) return;
    budget.reported = budget.dropped;
    log.warn({ droppedLines: count }, "Dropped log lines over the per-socket limit");
  };
  const at =
    (level: "trace" | "debug" | "info" | "warn" | "error") =>
    (fields: Record<string, unknown>, message: string): void => {
      if (level !== "error" && !take()) {
        budget.dropped++;
        return;
      }
      report();
      log[level](clipFields(fields, limits.maxValueChars), clip(message, limits.maxValueChars * 2));
    };
  return {
    trace: at("trace"),
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    get dropped() {
      return budget.dropped;
    },
    flush: report,
    child: (bindings) =>
      wrap(log.child(clipFields(bindings, limits.maxValueChars)), limits, budget),
  };
}
