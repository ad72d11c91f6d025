/** Entry point of `deno task start`: reads the environment, serves the gateway. */
import { loadConfig, securityCheck, usesLocalEngine } from "./config.ts";
import { createLogger } from "./core/logger.ts";
import { startApp } from "./app.ts";

if (import.meta.main) {
  const result = loadConfig(Deno.env.toObject());
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
  const app = await startApp({ config, log });
  log.info({
    url: app.url,
    audiocodes: `${app.url.replace(/^http/, "ws")}/ws`,
    upstream: usesLocalEngine(config) ? "local engine (no OPENAI_API_KEY)" : "OpenAI Realtime",
    model: config.OPENAI_REALTIME_MODEL,
  }, "Voice gateway listening");
  const stop = () => {
    log.info({}, "Shutting down");
    void app.close().then(() => Deno.exit(0));
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
