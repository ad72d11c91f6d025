/**
 * Structured JSON logging through pino. Loggers are injected, never imported as singletons.
 *
 * Never log secrets, tokens or audio payloads: pass ids, counts and durations.
 */
import pino from "pino";

/** The logging surface the gateway uses (a subset of pino's). */
export interface Logger {
  trace(fields: Record<string, unknown>, message: string): void;
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** Creates a JSON logger at the given level, writing to stdout. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ["authorization", "token", "apiKey", "*.audio", "*.audioChunk", "*.delta"],
      remove: true,
    },
  });
}

/** A logger that drops everything (tests, tools). */
export function silentLogger(): Logger {
  return createLogger("silent");
}
