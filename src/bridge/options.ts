/** The options of a {@linkcode Bridge}: its provider, the call's session, bounds and timings. */
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { SessionOptions } from "../realtime/session_config.ts";
import type { RealtimeProvider } from "../realtime/transport.ts";
import type { OpenAiProviderOptions } from "../realtime/openai_transport.ts";
import type { HistoryEntry } from "./history.ts";
import type { BridgeLeg, FunctionCall } from "./leg.ts";
import type { LinkOptions } from "./link.ts";

/** Options of a Bridge. */
export interface BridgeOptions {
  /**
   * The realtime service. Default: the OpenAI Realtime GA service (or the local engine) at
   * `upstream`, with warm sessions from `pool`.
   */
  readonly provider?: RealtimeProvider;
  /** Where the default OpenAI GA provider connects (required without `provider`). */
  readonly upstream?: {
    readonly url: string;
    readonly model: string;
    readonly apiKey?: string;
    /** WebSocket client (default `"ws"`, which keeps TCP_NODELAY; `"native"` is Deno's). */
    readonly client?: OpenAiProviderOptions["client"];
  };
  /** Warm upstream sessions of the default provider (first connection, reconnects, recycles). */
  readonly pool?: OpenAiProviderOptions["pool"];
  readonly session: SessionOptions;
  /** Bytes per millisecond of the upstream audio format (48 for PCM 24 kHz, 8 for G.711). */
  readonly upstreamBytesPerMs: number;
  readonly leg: BridgeLeg;
  readonly clock: Clock;
  readonly log: Logger;
  /** The model called a function; answer with `Bridge.sendFunctionOutput`. */
  readonly onFunctionCall?: (call: FunctionCall) => void;
  /** The call cannot go on (upstream gone for good, fatal error, internal error). */
  readonly onFailed?: (reason: string) => void;
  /**
   * How long the Bridge keeps trying to (re)open the upstream after losing it, or after the
   * first attempt failed, in ms (default 5000; 0 = no retry). An attempt still under way when
   * the window ends may finish (it is bounded by `connectTimeoutMs`).
   */
  readonly reconnectWindowMs?: number;
  /** An attempt must reach `session.created` in this time, or it failed (default 10000 ms). */
  readonly connectTimeoutMs?: number;
  /** Backoff between failed attempts: full jitter under a ceiling that starts here (100 ms)… */
  readonly reconnectBaseMs?: number;
  /** …doubles per failed attempt and stops growing here (default 1000 ms). */
  readonly reconnectMaxMs?: number;
  /** Randomness for the jitter, in [0, 1) (default `Math.random`). */
  readonly random?: () => number;
  /** Replay history kept for a reconnect: entries (default 50)… */
  readonly maxHistoryTurns?: number;
  /** …and characters (default 32000); the oldest entries go first. */
  readonly maxHistoryChars?: number;
  /** Caller audio kept while the upstream is not ready, in ms (default 5000). */
  readonly maxPendingMs?: number;
  /**
   * The conversation so far (a call taken over from another instance): replayed to the first
   * upstream session like after a reconnect, within the history bounds.
   */
  readonly history?: readonly HistoryEntry[];
  /**
   * Recycling: this long before the service ends the session (`session.expires_at`), the Bridge
   * moves the call onto a fresh session at the next quiet moment (no response under way, the
   * caller silent, nothing playing), with the history replayed. Default: a quarter of the
   * session's lifetime, at most 5 minutes. 0 turns recycling off (the expiry then closes the
   * session and the Bridge reconnects).
   */
  readonly recycleBeforeMs?: number;
  /** Session lifetime assumed when `session.created` has no `expires_at` (default 60 min). */
  readonly sessionMs?: number;
}

/** The reconnect timings among the options, only those set (so absent ones stay absent). */
export function linkTimings(
  options: BridgeOptions,
): Partial<Pick<LinkOptions, (typeof LINK_TIMINGS)[number]>> {
  const picked: Partial<Pick<LinkOptions, (typeof LINK_TIMINGS)[number]>> = {};
  for (const key of LINK_TIMINGS) {
    if (options[key] !== undefined) Object.assign(picked, { [key]: options[key] });
  }
  return picked;
}

const LINK_TIMINGS = [
  "reconnectWindowMs",
  "connectTimeoutMs",
  "reconnectBaseMs",
  "reconnectMaxMs",
  "random",
] as const;
