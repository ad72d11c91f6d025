/**
 * The local realtime engine as a standalone server (`deno task engine`), and
 * {@linkcode startEngine} for tests and benchmarks that run it in-process.
 *
 * Flags (environment in brackets): `--port` [`ENGINE_PORT`, default 8001, 0 picks a free port],
 * `--host` [`ENGINE_HOST`, default 127.0.0.1], `--cert` / `--key` PEM files [`ENGINE_TLS_CERT`,
 * `ENGINE_TLS_KEY`] for `wss://`, `--api-key` [`ENGINE_API_KEY`], `--max-session-ms`
 * [`ENGINE_MAX_SESSION_MS`], `--handshake-delay-ms` [`ENGINE_HANDSHAKE_DELAY_MS`, default 0],
 * `--log-level` [`LOG_LEVEL`, default info].
 */
import { parseArgs } from "node:util";
import type { LocalEngine, LocalEngineOptions } from "./engine.ts";
import { createLocalEngine, ENGINE_PATH } from "./engine.ts";
import { createLogger, isLevelName } from "../core/logger.ts";
import { route } from "../core/route.ts";

/** Options of {@linkcode startEngine}: where to listen, TLS, and the engine's own options. */
export interface StartEngineOptions extends LocalEngineOptions {
  readonly hostname?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** PEM certificate chain (contents, not a path); with `key`, serves `wss://`. */
  readonly cert?: string;
  /** PEM private key (contents). */
  readonly key?: string;
}

/** A running engine server. */
export interface RunningEngine extends AsyncDisposable {
  /** `ws://host:port/v1/realtime` (or `wss://`). */
  readonly url: string;
  readonly port: number;
  readonly engine: LocalEngine;
  close(): Promise<void>;
}

/** Serves the engine with `Deno.serve`. */
export function startEngine(options: StartEngineOptions = {}): RunningEngine {
  const { hostname = "127.0.0.1", port = 8001, cert, key, ...engineOptions } = options;
  if ((cert === undefined) !== (key === undefined)) {
    throw new TypeError("Cannot serve TLS: give both cert and key, or neither");
  }
  const engine = createLocalEngine(engineOptions);
  const handler = route(engine.routes, () =>
    new Response(
      JSON.stringify({ error: { message: "Not found", type: "invalid_request_error" } }),
      {
        status: 404,
        headers: { "content-type": "application/json" },
      },
    ));
  const server = cert !== undefined && key !== undefined
    ? Deno.serve({ hostname, port, cert, key, onListen: () => {} }, handler)
    : Deno.serve({ hostname, port, onListen: () => {} }, handler);
  const addr = server.addr;
  const host = addr.hostname === "0.0.0.0" ? "127.0.0.1" : addr.hostname;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      await engine.close();
      await server.shutdown();
    })();
  return {
    url: `${cert ? "wss" : "ws"}://${shownHost}:${addr.port}${ENGINE_PATH}`,
    port: addr.port,
    engine,
    close,
    [Symbol.asyncDispose]: close,
  };
}

function positiveInt(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min) {
    throw new TypeError(
      `Invalid ${name}=${JSON.stringify(value)}: expected a whole number >= ${min}`,
    );
  }
  return Number(value);
}

/** The text `deno task engine --help` prints. */
export const USAGE = `Usage: deno task engine [options]

Serves the local realtime engine (an offline OpenAI Realtime GA stand-in) at /v1/realtime.

Options (environment variable in brackets):
  --port <n>             port, 0 picks a free one [ENGINE_PORT] (default 8001)
  --host <name>          interface to listen on [ENGINE_HOST] (default 127.0.0.1)
  --cert <file>          PEM certificate chain; with --key, serves wss:// [ENGINE_TLS_CERT]
  --key <file>           PEM private key [ENGINE_TLS_KEY]
  --api-key <key>        clients must present this key [ENGINE_API_KEY]
  --max-session-ms <n>   longest session, >= 1000 [ENGINE_MAX_SESSION_MS] (default 3600000)
  --handshake-delay-ms <n>
                         wait before answering each upgrade, like a distant service's
                         connection setup [ENGINE_HANDSHAKE_DELAY_MS] (default 0)
  --log-level <level>    trace, debug, info, warn, error or silent [LOG_LEVEL] (default info)
  -h, --help             print this help and exit
`;

/** Parses the command line; `undefined` values mean "not given". */
export function parseEngineArgs(
  args: readonly string[],
): { ok: true; values: Record<string, string | boolean | undefined> } | {
  ok: false;
  error: string;
} {
  try {
    const { values } = parseArgs({
      args: [...args],
      options: {
        port: { type: "string" },
        host: { type: "string" },
        cert: { type: "string" },
        key: { type: "string" },
        "api-key": { type: "string" },
        "max-session-ms": { type: "string" },
        "handshake-delay-ms": { type: "string" },
        "log-level": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
    return { ok: true, values };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

if (import.meta.main) {
  const parsed = parseEngineArgs(Deno.args);
  if (!parsed.ok) {
    console.error(`${parsed.error}\n\n${USAGE}`);
    Deno.exit(2);
  }
  if (parsed.values.help === true) {
    console.log(USAGE.trimEnd());
    Deno.exit(0);
  }
  const text = (name: string): string | undefined => {
    const value = parsed.values[name];
    return typeof value === "string" ? value : undefined;
  };
  const values = {
    port: text("port"),
    host: text("host"),
    cert: text("cert"),
    key: text("key"),
    "api-key": text("api-key"),
    "max-session-ms": text("max-session-ms"),
    "handshake-delay-ms": text("handshake-delay-ms"),
    "log-level": text("log-level"),
  };
  const env = (name: string) => {
    const value = Deno.env.get(name);
    return value === undefined || value.trim() === "" ? undefined : value.trim();
  };
  const level = values["log-level"] ?? env("LOG_LEVEL") ?? "info";
  if (!isLevelName(level)) {
    console.error(
      `Invalid --log-level ${
        JSON.stringify(level)
      }: expected trace, debug, info, warn, error or silent`,
    );
    Deno.exit(1);
  }
  const log = createLogger(level);
  try {
    const certPath = values.cert ?? env("ENGINE_TLS_CERT");
    const keyPath = values.key ?? env("ENGINE_TLS_KEY");
    const apiKey = values["api-key"] ?? env("ENGINE_API_KEY");
    const maxSessionMs = positiveInt(
      "--max-session-ms",
      values["max-session-ms"] ?? env("ENGINE_MAX_SESSION_MS"),
      1000,
    );
    const handshakeDelayMs = positiveInt(
      "--handshake-delay-ms",
      values["handshake-delay-ms"] ?? env("ENGINE_HANDSHAKE_DELAY_MS"),
      0,
    );
    const running = startEngine({
      hostname: values.host ?? env("ENGINE_HOST") ?? "127.0.0.1",
      port: positiveInt("--port", values.port ?? env("ENGINE_PORT"), 0) ?? 8001,
      ...(certPath ? { cert: Deno.readTextFileSync(certPath) } : {}),
      ...(keyPath ? { key: Deno.readTextFileSync(keyPath) } : {}),
      ...(apiKey ? { apiKey } : {}),
      ...(maxSessionMs ? { maxSessionMs } : {}),
      ...(handshakeDelayMs ? { handshakeDelayMs } : {}),
      log: log.child({ part: "engine" }),
    });
    log.info({ url: running.url }, "Local realtime engine listening");
    const stop = () => {
      log.info({}, "Shutting down");
      void running.close().then(() => Deno.exit(0));
    };
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    Deno.exit(1);
  }
}
