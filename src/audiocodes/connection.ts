/**
 * The thin per-socket shell for the AudioCodes Bot API: parses frames, dispatches them to the
 * pure handlers and runs the effects they return.
 */
import type { Clock, TimerId } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { GatewayMetrics } from "../core/metrics.ts";
import type { LogLimits } from "../core/bounded_log.ts";
import { clip } from "../core/bounded_log.ts";
import type { JsonSocketHandlers } from "../core/json_socket.ts";
import {
  CLOSE_INTERNAL_ERROR,
  CLOSE_NORMAL,
  CLOSE_POLICY,
  JsonSocketShell,
} from "../core/json_socket.ts";
import type { AudioCodesFormat } from "../protocol/media_format.ts";
import type { BotMessage } from "../protocol/audiocodes.ts";
import { parseVaicFrame } from "../protocol/audiocodes.ts";
import type { CallSocket, Conversation } from "./conversation.ts";
import type { ConversationManager } from "./conversation_manager.ts";
import type { ConnectionState, Effect, HandlerContext } from "./handlers.ts";
import { dispatch, eventName, INITIAL_STATE, resumeSettled } from "./handlers.ts";

/** What one AudioCodes socket needs. */
export interface ConnectionDeps {
  readonly manager: ConversationManager;
  readonly preference: readonly AudioCodesFormat[];
  readonly maxFrameBytes: number;
  readonly log: Logger;
  readonly clock: Clock;
  /** Longest identifier accepted in `session.initiate`/`resume`. */
  readonly maxIdChars: number;
  /** Messages per second (burst: one second's worth); more are dropped, 2× closes the socket. */
  readonly rateLimit: number;
  /** The socket must carry a call (initiate or resume accepted) within this time. */
  readonly firstMessageTimeoutMs: number;
  /** Per-socket log limits. */
  readonly logLimits: Omit<LogLimits, "now">;
  /** The socket now carries a call (it no longer counts as pending for its peer). */
  readonly onActive?: () => void;
  readonly metrics?: GatewayMetrics;
}

const ROUTE = { route: "audiocodes" } as const;
const AUDIO_IN = { route: "audiocodes", direction: "in" } as const;
const TO_MODEL = { direction: "caller_to_model" } as const;

/** Wires one upgraded WebSocket to the protocol handlers. */
export function serveAudioCodesSocket(socket: WebSocket, deps: ConnectionDeps): void {
  let state: ConnectionState = INITIAL_STATE;
  let conversation: Conversation | undefined;
  const { clock, metrics } = deps;
  /** When the frame being handled arrived (monotonic ms), for the frame-latency histogram. */
  let frameAt = 0;
  /** The socket's sends, closes, limits and log; the conversation's outbound side. */
  const shell = new JsonSocketShell<BotMessage>(socket, {
    maxFrameBytes: deps.maxFrameBytes,
    rateLimit: deps.rateLimit,
    clock,
    log: deps.log,
    logLimits: deps.logLimits,
  });
  const callSocket: CallSocket = shell;
  const log = shell.log;
  /** Frames dropped by the rate limit in the current one-second window. */
  let floodCount = 0;
  let floodWindow = clock.monotonic();
  let firstTimer: TimerId | undefined = clock.setTimeout(() => {
    firstTimer = undefined;
    // A resume being claimed is bounded by the claim's own wait (CLUSTER_RESUME_WAIT_MS).
    if (state.phase === "active" || state.phase === "resuming") return;
    log.warn({ timeoutMs: deps.firstMessageTimeoutMs }, "Closed socket: no call in time");
    callSocket.close(CLOSE_POLICY, "no session.initiate in time");
  }, deps.firstMessageTimeoutMs);
  const stopFirstTimer = (): void => {
    if (firstTimer !== undefined) clock.clearTimeout(firstTimer);
    firstTimer = undefined;
  };

  const ctx: HandlerContext = {
    preference: deps.preference,
    maxIdChars: deps.maxIdChars,
    lookup: (id) => deps.manager.get(id),
    shared: deps.manager.shared,
  };

  /** Claims a resumed call in the shared registry, then answers `session.resume`. */
  const claim = async (conversationId: string): Promise<void> => {
    let settled: Awaited<ReturnType<ConversationManager["claimResume"]>>;
    try {
      settled = await deps.manager.claimResume(conversationId, callSocket);
    } catch (error) {
      log.error({ err: errorFields(error) }, "Failed to claim a resumed call");
      settled = { ok: false, reason: "Cannot resume call: internal error" };
    }
    try {
      if (settled.ok) {
        const claimed = settled.conversation;
        if (state.phase !== "resuming" || socket.readyState !== WebSocket.OPEN) {
          // The socket moved on while the claim ran: keep the call for a resume, or end it.
          if (state.phase === "ended") {
            void deps.manager.remove(conversationId, "session.end");
          } else {
            deps.manager.detach(conversationId, callSocket);
          }
          return;
        }
        conversation = claimed;
        stopFirstTimer();
        deps.onActive?.();
      }
      const result = resumeSettled(
        state,
        settled.ok ? { ok: true, mediaFormat: settled.conversation.mediaFormat } : settled,
      );
      state = result.state;
      for (const effect of result.effects) run(effect);
    } catch (error) {
      if (conversation) conversation.fail(error, "resume");
      conversation = undefined;
      state = { phase: "ended" };
      callSocket.close(CLOSE_INTERNAL_ERROR, "internal error");
    }
  };

  const run = (effect: Effect): void => {
    switch (effect.type) {
      case "send":
        callSocket.send(effect.message);
        return;
      case "conversation.open":
        stopFirstTimer();
        deps.onActive?.();
        deps.metrics?.callsAccepted.inc({ format: effect.mediaFormat });
        conversation = deps.manager.add({
          conversationId: effect.conversationId,
          mediaFormat: effect.mediaFormat,
          socket: callSocket,
          ...(effect.caller === undefined ? {} : { caller: effect.caller }),
          ...(effect.botName === undefined ? {} : { botName: effect.botName }),
        });
        return;
      case "conversation.resume":
        conversation = deps.manager.attach(effect.conversationId, callSocket);
        if (!conversation) throw new RangeError("Cannot resume call: it ended or is attached");
        stopFirstTimer();
        deps.onActive?.();
        return;
      case "conversation.claim":
        void claim(effect.conversationId);
        return;
      case "conversation.end":
        conversation?.record("session.end", {
          reasonCode: effect.reasonCode,
          reason: effect.reason,
        });
        void deps.manager.remove(
          effect.conversationId,
          `session.end${effect.reasonCode ? ` (${effect.reasonCode})` : ""}`,
        );
        conversation = undefined;
        return;
      case "call.audio":
        if (!conversation) return;
        conversation.stats.chunksIn++;
        conversation.stats.bytesIn += effect.bytes;
        conversation.agent.audio(effect.audioChunk);
        if (metrics) {
          metrics.audioBytes.inc(AUDIO_IN, effect.bytes);
          metrics.frameLatency.observe(TO_MODEL, (clock.monotonic() - frameAt) / 1000);
        }
        return;
      case "call.userStream":
        if (!conversation) return;
        conversation.record(effect.open ? "userStream.start" : "userStream.stop");
        conversation.agent.userStream(effect.open, effect.participant);
        return;
      case "call.activity": {
        if (!conversation) return;
        const name = eventName(effect.activity) ?? effect.activity.type;
        if (name === "start" && conversation.callData === undefined) {
          conversation.callData = boundedCallData(effect.activity.parameters ?? {});
        }
        // DTMF digits may be card numbers or PINs: the event is kept, never its value.
        conversation.record(name, name === "dtmf" ? undefined : effect.activity.value);
        conversation.agent.activity(effect.activity);
        return;
      }
      case "call.dropped":
        if (conversation) conversation.stats.chunksDropped++;
        (conversation?.log ?? log).debug({}, effect.reason);
        return;
      case "close":
        callSocket.close(effect.code, effect.reason);
        return;
      case "log":
        (conversation?.log ?? log)[effect.level](effect.fields ?? {}, effect.message);
        return;
      default:
        effect satisfies never;
    }
  };

  /** The Bot API's side of the socket shell. */
  const handlers: JsonSocketHandlers<BotMessage> = {
    received() {
      if (metrics) frameAt = clock.monotonic();
    },
    tooBig(limit) {
      (conversation?.log ?? log).warn({ limit }, "Closed socket: frame over the size limit");
      return { reason: "frame too big" };
    },
    /** Over the rate limit: dropped; a sustained flood closes the socket. */
    limited() {
      const now = clock.monotonic();
      if (now - floodWindow >= 1000) {
        floodWindow = now;
        floodCount = 0;
      }
      floodCount++;
      if (conversation) conversation.stats.rateDropped++;
      metrics?.rateLimited.inc(ROUTE);
      if (floodCount === 1) {
        (conversation?.log ?? log).warn(
          { limit: deps.rateLimit },
          "Dropped messages over the rate limit",
        );
      }
      if (floodCount > deps.rateLimit) {
        (conversation?.log ?? log).warn({ limit: deps.rateLimit }, "Closed socket: message flood");
        callSocket.close(CLOSE_POLICY, "message rate over the limit");
      }
    },
    binary() {
      if (conversation) conversation.stats.badFrames++;
      metrics?.badFrames.inc(ROUTE);
      (conversation?.log ?? log).warn(
        {},
        "Ignored binary frame: the Bot API uses JSON text frames",
      );
    },
    text(data) {
      const parsed = parseVaicFrame(data);
      if (!parsed.ok) {
        if (conversation) conversation.stats.badFrames++;
        metrics?.badFrames.inc(ROUTE);
        const where = conversation?.log ?? log;
        if (parsed.kind === "unknown-type") {
          where.info({ type: parsed.type }, "Ignored message of unknown type");
        } else if (parsed.kind === "invalid" && parsed.type === "session.initiate") {
          // A call we cannot read is a call we must decline (§2.10), not leave hanging.
          state = { phase: "ended" };
          shell.end({
            last: {
              type: "session.error",
              reason: `Cannot accept call: ${clip(parsed.error, 300)}`,
            },
            code: CLOSE_NORMAL,
            reason: "call declined",
          });
        } else {
          where.warn({ kind: parsed.kind }, parsed.error);
        }
        return;
      }
      const result = dispatch(state, parsed.message, ctx);
      state = result.state;
      for (const effect of result.effects) run(effect);
    },
    // A bug in one call must never take the process or other calls down: that call ends.
    fault(error, where) {
      if (conversation) {
        conversation.fail(error, where);
        conversation = undefined;
        state = { phase: "ended" };
        return { code: CLOSE_INTERNAL_ERROR, reason: "internal error" };
      }
      log.error({ err: errorFields(error) }, "Failed to handle frame");
      if (state.phase === "new") return undefined;
      // The call could not be opened or resumed: decline it rather than leave VAIC waiting.
      state = { phase: "ended" };
      return {
        last: { type: "session.error", reason: "Cannot accept call: internal error" },
        code: CLOSE_INTERNAL_ERROR,
        reason: "internal error",
      };
    },
    closed() {
      stopFirstTimer();
      try {
        if (conversation && state.phase === "active") {
          deps.manager.detach(conversation.conversationId, callSocket);
        }
      } catch (error) {
        log.error({ err: errorFields(error) }, "Failed to detach a call");
      }
      conversation = undefined;
    },
  };
  shell.listen(handlers);
}

/** Call data from `start`, bounded: at most 64 keys, strings cut to 1024 characters. */
function boundedCallData(parameters: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parameters).slice(0, 64)) {
    if (key.length > 128) continue;
    if (typeof value === "string") out[key] = clip(value, 1024);
    else if (typeof value === "number" || typeof value === "boolean" || value === null) {
      out[key] = value;
    } else if (typeof value === "object") {
      const text = JSON.stringify(value);
      if (text.length <= 4096) out[key] = value;
    }
  }
  return out;
}

/** An error as log fields: message and stack, never the objects it came with. */
export function errorFields(error: unknown): Record<string, unknown> {
  return error instanceof Error
    ? { type: error.name, message: error.message, stack: error.stack }
    : { message: String(error) };
}
