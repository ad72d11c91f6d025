/**
 * Structured logging: one JSON line per entry on stdout, with the level as a name (`"info"`), an
 * ISO `time`, the bindings and fields, and `msg`. Lines go through `console.log`, so with
 * `OTEL_DENO=true` Deno's built-in OpenTelemetry exports them as log records correlated with
 * the active trace; no logging package is needed (pino wrote to stdout directly, which OTel never
 * saw, and brought 11 npm packages and `--allow-sys`). Loggers are injected, never singletons.
 *
 * Never log secrets, tokens or audio payloads: pass ids, counts and durations. As a safety net,
 * fields named like secrets or audio are replaced with `"[redacted]"`.
 */

/** The logging surface the gateway uses. */
export interface Logger {
  trace(fields: Record<string, unknown>, message: string): void;
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: 100 };

/** A level name (`LOG_LEVEL`). */
export type LevelName = keyof typeof LEVELS;

/** Whether `name` is a level name. */
export function isLevelName(name: string): name is LevelName {
  return Object.hasOwn(LEVELS, name);
}

const REDACTED = new Set([
  "authorization",
  "token",
  "apiKey",
  "api_key",
  "secret",
  "password",
  "audio",
  "audioChunk",
  "delta",
]);

function redact(fields: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(fields)) {
    if (REDACTED.has(key)) {
      (out ??= { ...fields })[key] = "[redacted]";
    } else if (
      typeof value === "object" && value !== null && !Array.isArray(value) &&
      !(value instanceof Error) && Object.keys(value).some((k) => REDACTED.has(k))
    ) {
      (out ??= { ...fields })[key] = redact(Object.fromEntries(Object.entries(value)));
    }
  }
  return out ?? fields;
}

/** JSON lines at `level` and above; `write` defaults to `console.log`. */
export function createLogger(
  level: LevelName,
  options: { bindings?: Record<string, unknown>; write?: (line: string) => void } = {},
): Logger {
  const min = LEVELS[level];
  const bindings = options.bindings ?? {};
  const write = options.write ?? ((line: string) => console.log(line));
  const at =
    (name: Exclude<LevelName, "fatal" | "silent">) =>
    (fields: Record<string, unknown>, msg: string): void => {
      if (LEVELS[name] < min) return;
      let line: string;
      try {
        line = JSON.stringify({
          level: name,
          time: new Date().toISOString(),
          ...bindings,
          ...redact(fields),
          msg,
        });
      } catch {
        // A field that cannot be serialised (a cycle, a BigInt) must not lose the entry.
        line = JSON.stringify({ level: name, time: new Date().toISOString(), ...bindings, msg });
      }
      write(line);
    };
  return {
    trace: at("trace"),
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: (more) => createLogger(level, { bindings: { ...bindings, ...redact(more) }, write }),
  };
}

/** A logger that drops everything (tests, tools). */
export function silentLogger(): Logger {
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
