/**
 * Loggers for the engine that need no extra permissions: pino reads the host name on import
 * (`--allow-sys`), which `deno task engine` does not grant. Same {@linkcode Logger} surface.
 */
import type { Logger } from "../core/logger.ts";

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: 100 };

/** A level name. */
export type LevelName = keyof typeof LEVELS;

/** Whether `name` is a level name. */
export function isLevelName(name: string): name is LevelName {
  return Object.hasOwn(LEVELS, name);
}

/** A logger that drops everything. */
export function noopLogger(): Logger {
  const log: Logger = {
    trace: () => {},
    debug: () => {},
    info: () => {},
    warn: () => {},
    error: () => {},
    child: () => log,
  };
  return log;
}

/** JSON lines on stdout in pino's shape (`level`, `time`, fields, `msg`). */
export function jsonLogger(
  level: LevelName,
  bindings: Record<string, unknown> = {},
  write: (line: string) => void = (line) => console.log(line),
): Logger {
  const min = LEVELS[level];
  const at =
    (name: Exclude<LevelName, "fatal" | "silent">) =>
    (fields: Record<string, unknown>, msg: string): void => {
      if (LEVELS[name] < min) return;
      write(JSON.stringify({
        level: LEVELS[name],
        time: new Date().toISOString(),
        ...bindings,
        ...fields,
        msg,
      }));
    };
  return {
    trace: at("trace"),
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: (more) => jsonLogger(level, { ...bindings, ...more }, write),
  };
}
