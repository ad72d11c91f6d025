/** The Bridge options every call and app session takes from the configuration. */
import type { Config } from "../config.ts";
import type { BridgeOptions } from "./bridge.ts";

/** Upstream endpoint, client, reconnect window and history bounds from `config`. */
export function bridgeConfig(
  config: Config,
  url: string,
): Pick<
  BridgeOptions,
  "upstream" | "reconnectWindowMs" | "connectTimeoutMs" | "maxHistoryTurns" | "maxHistoryChars"
> {
  return {
    upstream: {
      url,
      model: config.OPENAI_REALTIME_MODEL,
      client: config.UPSTREAM_CLIENT,
      ...(config.OPENAI_API_KEY ? { apiKey: config.OPENAI_API_KEY } : {}),
    },
    reconnectWindowMs: config.UPSTREAM_RECONNECT_MS,
    connectTimeoutMs: config.UPSTREAM_CONNECT_TIMEOUT_MS,
    maxHistoryTurns: config.MAX_HISTORY_TURNS,
    maxHistoryChars: config.MAX_HISTORY_CHARS,
  };
}
