/** Shared test helpers: a gateway on 127.0.0.1:0 and a WebSocket client that awaits messages. */
import { loadConfig } from "../src/config.ts";
import type { Config } from "../src/config.ts";
import { startApp } from "../src/app.ts";
import type { App, AppOptions } from "../src/app.ts";

/** A config from defaults plus overrides (environment-variable names and string values). */
export function testConfig(env: Record<string, string> = {}): Config {
  const result = loadConfig({ LOG_LEVEL: "silent", ...env });
  if (!result.ok) throw new TypeError(result.error);
  return result.config;
}

/** Starts the whole gateway on an ephemeral loopback port. */
export function startTestApp(
  env: Record<string, string> = {},
  options: Omit<AppOptions, "config"> = {},
): Promise<App> {
  return startApp({ config: testConfig(env), hostname: "127.0.0.1", port: 0, ...options });
}

export { JsonSocket, TIMEOUT_SCALE } from "./json_socket.ts";

/** The `ws://` URL of a path on a running app. */
export function wsUrl(app: { url: string }, path: string): string {
  return `${app.url.replace(/^http/, "ws")}${path}`;
}
