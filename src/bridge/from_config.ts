/** The Bridge options every call and app session takes from the configuration. */
import type { Config } from "../config.ts";
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import { formatPlan } from "../protocol/media_format.ts";
import { turnDetectionFromConfig } from "../realtime/session_config.ts";
import { UpstreamPool } from "../realtime/upstream_pool.ts";
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
    upstream: upstreamTarget(config, url),
    reconnectWindowMs: config.UPSTREAM_RECONNECT_MS,
    connectTimeoutMs: config.UPSTREAM_CONNECT_TIMEOUT_MS,
    maxHistoryTurns: config.MAX_HISTORY_TURNS,
    maxHistoryChars: config.MAX_HISTORY_CHARS,
  };
}

function upstreamTarget(config: Config, url: string): NonNullable<BridgeOptions["upstream"]> {
  return {
    url,
    model: config.OPENAI_REALTIME_MODEL,
    client: config.UPSTREAM_CLIENT,
    ...(config.OPENAI_API_KEY ? { apiKey: config.OPENAI_API_KEY } : {}),
  };
}

/**
 * The warm upstream pool of `UPSTREAM_POOL_SIZE` sessions (undefined at 0), configured like a
 * phone call in the first of `MEDIA_FORMATS`; a call re-configures the one it takes. Start it
 * once `url()` is known; close it on drain.
 */
export function upstreamPool(
  config: Config,
  deps: { readonly url: () => string; readonly clock: Clock; readonly log: Logger },
): UpstreamPool | undefined {
  if (config.UPSTREAM_POOL_SIZE === 0) return undefined;
  const format = config.MEDIA_FORMATS[0];
  return new UpstreamPool({
    size: config.UPSTREAM_POOL_SIZE,
    upstream: () => upstreamTarget(config, deps.url()),
    ...(format === undefined ? {} : {
      session: {
        format: formatPlan(format).upstream,
        instructions: config.INSTRUCTIONS,
        voice: config.VOICE,
        tools: [],
        turnDetection: turnDetectionFromConfig(config),
        transcriptionModel: config.INPUT_TRANSCRIPTION_MODEL === "off"
          ? null
          : config.INPUT_TRANSCRIPTION_MODEL,
      },
    }),
    clock: deps.clock,
    log: deps.log,
    connectTimeoutMs: config.UPSTREAM_CONNECT_TIMEOUT_MS,
  });
}
