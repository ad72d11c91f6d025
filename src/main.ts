/** Entry point of `deno task start`: reads the environment, serves the gateway. */
import { loadConfig, securityCheck, usesLocalEngine } from "./config.ts";
import { createLogger } from "./core/logger.ts";
import { AgentsFileError, startApp } from "./app.ts";
import { withEnvFile } from "./core/env_file.ts";

if (import.meta.main) {
  // `.env` (or ENV_FILE) fills what the environment leaves unset; no file, no warning.
  const envFile = Deno.env.get("ENV_FILE") ?? ".env";
  let env: Record<string, string>;
  try {
    env = withEnvFile(Deno.env.toObject(), envFile).env;
  } catch (error) {
    console.error(`Cannot read ${envFile}: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
  const result = loadConfig(env);
  if (!result.ok) {
    console.error(result.error);
    Deno.exit(1);
  }
  const config = result.config;
  const security = securityCheck(config);
  if (security.refusals.length > 0) {
    for (const line of security.refusals) console.error(line);
    Deno.exit(1);
  }
  const log = createLogger(config.LOG_LEVEL);
  for (const warning of security.warnings) log.warn({}, `Security: ${warning}`);
  let tls: { cert: string; key: string } | undefined;
  if ((config.TLS_CERT_FILE === undefined) !== (config.TLS_KEY_FILE === undefined)) {
    console.error("Cannot start: set both TLS_CERT_FILE and TLS_KEY_FILE, or neither");
    Deno.exit(1);
  }
  if (config.TLS_CERT_FILE !== undefined && config.TLS_KEY_FILE !== undefined) {
    try {
      tls = {
        cert: Deno.readTextFileSync(config.TLS_CERT_FILE),
        key: Deno.readTextFileSync(config.TLS_KEY_FILE),
      };
    } catch (error) {
      console.error(`Cannot start: cannot read the TLS files: ${String(error)}`);
      Deno.exit(1);
    }
  }
  let app: Awaited<ReturnType<typeof startApp>>;
  try {
    app = await startApp({ config, log, ...(tls ? { tls } : {}) });
  } catch (error) {
    if (error instanceof AgentsFileError) {
      console.error(error.message);
      Deno.exit(1);
    }
    if (error instanceof Deno.errors.AddrInUse) {
      console.error(
        `Cannot start: ${config.HOST}:${config.PORT} is already in use (another gateway?). Stop it or set PORT`,
      );
      Deno.exit(1);
    }
    throw error;
  }
  const local = usesLocalEngine(config);
  const vaicUrl = `${app.url.replace(/^http/, "ws")}/ws`; // https → wss
  log.info({
    url: app.url,
    audiocodes: vaicUrl,
    upstream: local ? "local engine (no OPENAI_API_KEY)" : "OpenAI Realtime",
    model: config.OPENAI_REALTIME_MODEL,
  }, "Voice gateway listening");
  // One line for people (stderr, so stdout stays JSON lines for log shippers).
  console.error(
    `Voice gateway ready: voice page ${app.url}/ · VAIC bot URL ${vaicUrl} · upstream ${
      local
        ? "local realtime engine (offline; set OPENAI_API_KEY for OpenAI)"
        : `OpenAI ${config.OPENAI_REALTIME_MODEL}`
    }`,
  );
  // Graceful drain on the first signal; a second one ends the remaining calls at once (still
  // with a hangup each). Either way the process exits 0 once everything is closed.
  const abort = new AbortController();
  let stopping = false;
  const stop = (signal: Deno.Signal) => {
    if (stopping) {
      log.info({ signal }, "Second signal: ending the remaining calls now");
      abort.abort();
      return;
    }
    stopping = true;
    log.info({ signal, drainTimeoutMs: config.DRAIN_TIMEOUT_MS }, "Shutting down: draining");
    void (async () => {
      try {
        await app.gateway.drain({ timeoutMs: config.DRAIN_TIMEOUT_MS, signal: abort.signal });
        await app.close();
        log.info({}, "Stopped");
        Deno.exit(0);
      } catch (error) {
        log.error({ err: String(error) }, "Failed to shut down cleanly");
        Deno.exit(1);
      }
    })();
  };
  Deno.addSignalListener("SIGINT", () => stop("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => stop("SIGTERM"));
}
