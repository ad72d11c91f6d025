/**
 * Entry point for `deno serve` and Deno Deploy: `export default { fetch }` over the same gateway
 * `deno task start` runs. The platform owns the listener, TLS and process lifetime.
 *
 * ```sh
 * deno serve --allow-net --allow-env --allow-read --port 8000 src/deploy.ts
 * ```
 *
 * What differs from `src/main.ts`: no `.env` file (set variables in the platform), no signal
 * handling (the platform stops the isolate; calls are not drained), no in-process TLS. Offline
 * (no `OPENAI_API_KEY`) the embedded engine is reached through the port the server reports in
 * `onListen`, which works under `deno serve` but not on Deno Deploy: set `OPENAI_API_KEY` there.
 */
import { loadConfig, securityCheck, usesLocalEngine } from "./config.ts";
import { createLogger } from "./core/logger.ts";
import { buildGateway } from "./app.ts";

const result = loadConfig(Deno.env.toObject());
if (!result.ok) throw new TypeError(result.error);
const config = result.config;
const security = securityCheck(config);
if (security.refusals.length > 0) throw new TypeError(security.refusals.join("\n"));
const log = createLogger(config.LOG_LEVEL);
for (const warning of security.warnings) log.warn({}, `Security: ${warning}`);
const built = await buildGateway({ config, log });

export default {
  fetch: (request, info) => built.gateway.fetch(request, info),
  onListen(addr) {
    if ("port" in addr) {
      built.listeningAt(`http://127.0.0.1:${addr.port}`);
      log.info({
        port: addr.port,
        upstream: usesLocalEngine(config) ? "local engine (no OPENAI_API_KEY)" : "OpenAI Realtime",
      }, "Voice gateway serving (deno serve)");
    }
  },
} satisfies Deno.ServeDefaultExport;
