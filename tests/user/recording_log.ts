/** A {@linkcode Logger} that keeps every entry (level, bindings and fields, message) for tests. */
import type { Logger } from "../../src/core/logger.ts";

/** One log entry. */
export interface LogEntry {
  readonly level: "trace" | "debug" | "info" | "warn" | "error";
  readonly fields: Record<string, unknown>;
  readonly msg: string;
}

/** A logger and what it was given. */
export function recordingLogger(): { log: Logger; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const make = (bindings: Record<string, unknown>): Logger => {
    const at = (level: LogEntry["level"]) => (fields: Record<string, unknown>, msg: string) => {
      entries.push({ level, fields: { ...bindings, ...fields }, msg });
    };
    return {
      trace: at("trace"),
      debug: at("debug"),
      info: at("info"),
      warn: at("warn"),
      error: at("error"),
      child: (more) => make({ ...bindings, ...more }),
    };
  };
  return { log: make({}), entries };
}
