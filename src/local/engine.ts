/**
 * The local realtime engine: an offline server implementation of the OpenAI Realtime GA protocol.
 * (Placeholder surface; the implementation lands with the engine issue.)
 */
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { Mount } from "../server.ts";

/** Options of {@linkcode createLocalEngine}. */
export interface LocalEngineOptions {
  readonly log?: Logger;
  readonly clock?: Clock;
  /** When set, clients must present this key (header or subprotocol). */
  readonly apiKey?: string;
  /** Maximum session length before the engine closes with 1001. */
  readonly maxSessionMs?: number;
}

/** A mounted engine: serves `/v1/realtime`. */
export interface LocalEngine extends Mount {
  /** Number of live sessions. */
  readonly sessions: number;
  close(): Promise<void>;
}

/** Creates the engine. */
export function createLocalEngine(_options: LocalEngineOptions = {}): LocalEngine {
  return {
    sessions: 0,
    handle: () => undefined,
    close: () => Promise.resolve(),
  };
}
