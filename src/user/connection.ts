/**
 * The per-socket shell of the user realtime API: parses frames, dispatches them to the pure
 * handlers and runs their effects against the connection's one {@linkcode Bridge}. The socket's
 * listeners, size and rate limits, close codes, log bound and fault containment are the shared
 * JSON-socket shell's (an exception in this connection's code ends this session only:
 * `internal_error`, close 1011); this module owns the session's timers (idle, maximum length),
 * its tools (`session_tools.ts`) and its trace and metrics (`session_meter.ts`).
 */
import type { Config } from "../config.ts";
import type { Clock, TimerId } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import { clip } from "../core/bounded_log.ts";
import type { JsonSocketHandlers, SocketEnd } from "../core/json_socket.ts";
import { CLOSE_INTERNAL_ERROR, CLOSE_NORMAL, JsonSocketShell } from "../core/json_socket.ts";
import type { BridgeLeg, LegEvent } from "../bridge/bridge.ts";
import { Bridge } from "../bridge/bridge.ts";
import type { GatewayMetrics, Outcome } from "../core/metrics.ts";
import type { Tracer } from "../core/tracing.ts";
import { gatewayTracer, logInContext, startScope } from "../core/tracing.ts";
import { base64ByteLength } from "../protocol/base64.ts";
import type { AgentProfile, ProfileSet } from "../agents/profile.ts";
import { defaultProfile } from "../agents/profile.ts";
import type { McpPool } from "../agents/tools.ts";
import { bridgeConfig } from "../bridge/from_config.ts";
import type { ConnectionState, Effect, HandlerContext, LegObservation } from "./handlers.ts";
import {
  composeInstructions,
  dispatch,
  errorMessage,
  gaTurnDetection,
  observeLeg,
  sessionInfo,
  transcriptionLanguage,
  turnDetectionInfo,
} from "./handlers.ts";
import type { ErrorCode, ServerMessage, TurnDetectionSetting } from "./messages.ts";
import { parseClientFrame } from "./messages.ts";
import { PCM24_BYTES_PER_MS, UserLeg } from "./user_leg.ts";
import { SessionMeter } from "./session_meter.ts";
import { SessionTools } from "./session_tools.ts";

/** WebSocket close code when the model is gone for good (RFC 6455 §7.4.1, internal error). */
const CLOSE_UPSTREAM_FAILED = CLOSE_INTERNAL_ERROR;

/** Longest error text or stack written for a fault (a stack is ~10 frames). */
const FAULT_TEXT_MAX_CHARS = 4000;

const APP = { route: "app" } as const;
const APP_IN = { route: "app", direction: "in" } as const;

/** The outcome metric of each error that ends a session. */
const OUTCOME_OF_ERROR: Readonly<Record<string, Outcome>> = {
  upstream_unavailable: "upstream_failed",
  internal_error: "internal_error",
  idle_timeout: "idle",
  session_expired: "max_duration",
  server_shutting_down: "shutdown",
  message_too_large: "other",
};

/** Which route a connection came in on. */
export type RouteKind = "open" | "authenticated";

/** What every user connection is built from. */
export interface UserConnectionDeps {
  readonly config: Config;
  /** The upstream endpoint (the local engine's URL is known only once the server listens). */
  readonly upstreamUrl: () => string;
  readonly clock: Clock;
  readonly log: Logger;
  readonly newId: (prefix: string) => string;
  readonly metrics?: GatewayMetrics;
  readonly tracer?: Tracer;
  /** Agent profiles in force (matched on route `app` and the user id). */
  readonly profiles?: () => ProfileSet;
  readonly mcp?: McpPool;
}

/** One live connection. */
export interface UserConnection {
  readonly sessionId: string;
  readonly route: RouteKind;
  readonly userId: string;
  /** The peer address the connection counts against (MAX_CONNECTIONS_PER_PEER). */
  readonly peer: string;
  /** The Bridge, once the socket is open. */
  readonly bridge: Bridge | undefined;
  readonly leg: UserLeg;
  /** Resolves once the socket has closed and the Bridge with it. */
  readonly closed: Promise<void>;
  /** Closes the socket (the Bridge follows). */
  close(code: number, reason: string): void;
  /** Tells the client why the session ends (an `error` message), then closes. */
  end(last: SessionEnd): void;
}

/** Why a session ends: the `error` message the client gets, and the close that follows. */
export interface SessionEnd {
  readonly error: ErrorCode;
  readonly message: string;
  readonly closeCode: number;
  readonly reason: string;
}

const CONFIG_TURN_DETECTION = {
  server_vad: { type: "server_vad" },
  semantic_vad: { type: "semantic_vad" },
  off: { type: "none" },
} as const satisfies Record<Config["TURN_DETECTION"], TurnDetectionSetting>;

/** Wires one upgraded WebSocket to the handlers and a Bridge. */
export function serveUserSocket(
  socket: WebSocket,
  options: {
    readonly deps: UserConnectionDeps;
    readonly route: RouteKind;
    readonly userId: string;
    readonly peer: string;
    readonly onClose: (connection: UserConnection) => void;
  },
): UserConnection {
  const { deps, route, userId, peer } = options;
  const { config, clock } = deps;
  const sessionId = deps.newId("sess");
  const metrics = deps.metrics;
  // Bounded: hostile ids are cut, and one socket cannot flood the log.
  const shell = new JsonSocketShell<ServerMessage>(socket, {
    maxFrameBytes: config.MAX_FRAME_BYTES,
    rateLimit: config.REALTIME_RATE_LIMIT,
    clock,
    log: deps.log,
    logLimits: {
      maxValueChars: config.LOG_VALUE_MAX_CHARS,
      linesPerSecond: config.LOG_LINES_PER_SOCKET,
    },
  });
  const trace = startScope(deps.tracer ?? gatewayTracer(), "app_session", {
    "session.id": sessionId,
    "session.route": route,
  });
  const log = logInContext(shell.log.child({ sessionId, route, userId, peer }), trace.context);
  const meter = new SessionMeter({ trace, clock, ...(metrics ? { metrics } : {}) });
  const faultLog = deps.log.child({ sessionId, route, userId, peer });
  const ctx: Omit<HandlerContext, "now"> = {
    vad: {
      threshold: config.VAD_THRESHOLD,
      prefixPaddingMs: config.VAD_PREFIX_PADDING_MS,
      silenceMs: config.VAD_SILENCE_MS,
    },
    maxTextChars: config.MAX_TEXT_CHARS,
  };
  const language = "en";
  const profile: AgentProfile = deps.profiles?.().match({ route: "app", userId }) ??
    defaultProfile(config);
  let state: ConnectionState = {
    phase: "open",
    sessionId,
    voice: profile.voice,
    language,
    instructions: profile.instructions,
    maxOutputTokens: undefined,
    turnDetection: turnDetectionInfo(CONFIG_TURN_DETECTION[config.TURN_DETECTION], ctx.vad),
    modelSpoken: false,
    clientTools: [],
  };
  // Once closing, nothing more goes out (the socket may still be CLOSING for a while).
  const send = (message: ServerMessage): void => shell.send(message);
  const tools = new SessionTools({
    profile,
    sessionId,
    userId,
    clock,
    send,
    log: deps.log.child({ sessionId }),
    timeoutMs: config.TOOL_TIMEOUT_MS,
    fillerMs: config.TOOL_FILLER_MS,
    ...(deps.mcp ? { mcp: deps.mcp } : {}),
    ...(metrics ? { metrics } : {}),
  });
  let lastActivity = clock.monotonic();
  let lastRateError = -Infinity;
  let idleTimer: TimerId | undefined;
  let expiryTimer: TimerId | undefined;
  let bridge: Bridge | undefined;

  const clearTimers = (): void => {
    if (idleTimer !== undefined) clock.clearTimeout(idleTimer);
    if (expiryTimer !== undefined) clock.clearTimeout(expiryTimer);
    idleTimer = expiryTimer = undefined;
    // Tools: nothing more runs or lands (the timers of pending app calls are cleared too).
    tools.close();
  };
  /** Closes the socket; the session's timers, tools and Bridge stop first (`closing`). */
  const close = (code: number, reason: string): void => shell.close(code, reason);
  /** Sends a last error, then closes. */
  const end = (last: SessionEnd): void => {
    meter.endedBy(OUTCOME_OF_ERROR[last.error] ?? "other");
    shell.end(lastWord(last));
  };
  const guard = <T>(where: string, task: () => T): T | undefined => shell.guard(where, task);

  const leg = new UserLeg({ output: { send, sendText: (frame) => shell.sendText(frame) }, clock });
  const observe = (event: LegObservation): void => {
    state = observeLeg(state, event);
  };
  /** What the Bridge talks to: the leg, with faults contained and the protocol state kept. */
  const bridgeLeg: BridgeLeg = {
    playAudio: (itemId, delta) =>
      guard("leg audio", () => {
        observe({ type: "response.audio", itemId });
        meter.audio(delta);
        leg.playAudio(itemId, delta);
      }),
    endAudio: (itemId) => guard("leg audio", () => leg.endAudio(itemId)),
    interrupt: () => guard("leg interrupt", () => leg.interrupt()),
    notify: (event: LegEvent) =>
      guard(`leg event ${event.type}`, () => {
        observe(event);
        meter.event(event);
        leg.notify(event);
      }),
  };

  const { promise: closed, resolve: resolveClosed } = Promise.withResolvers<void>();
  const connection: UserConnection = {
    sessionId,
    route,
    userId,
    peer,
    get bridge() {
      return bridge;
    },
    leg,
    closed,
    close,
    end: (last) => guard("end", () => end(last)),
  };

  const run = (effect: Effect): void => {
    switch (effect.type) {
      case "send":
        send(effect.message);
        return;
      case "upstream.audio":
        bridge?.appendAudio(effect.audio);
        metrics?.audioBytes.inc(APP_IN, base64ByteLength(effect.audio));
        return;
      case "upstream.commit":
        bridge?.commitAudio();
        return;
      case "upstream.text":
        bridge?.sendUserText(effect.text);
        return;
      case "upstream.respond":
        bridge?.requestResponse(effect.response);
        return;
      case "upstream.session":
        bridge?.updateSession(effect.patch);
        return;
      case "upstream.interrupt":
        leg.requestInterrupt(effect.playedMs);
        bridge?.interrupt();
        return;
      case "tools.declare":
        tools.declare(effect.tools);
        return;
      case "tools.result":
        tools.result(effect.callId, effect.output);
        return;
      case "tools.cancel":
        tools.cancel(effect.reason);
        return;
      case "log":
        log[effect.level](effect.fields ?? {}, effect.message);
        return;
      default:
        effect satisfies never;
    }
  };

  const idleCheck = (): void => {
    idleTimer = undefined;
    if (state.phase !== "open") return;
    const quietMs = clock.monotonic() - lastActivity;
    if (quietMs < config.APP_IDLE_TIMEOUT_MS) {
      // Re-armed lazily: frames only stamp the time, so a busy socket costs no timer churn.
      idleTimer = clock.setTimeout(
        () => guard("idle timer", idleCheck),
        config.APP_IDLE_TIMEOUT_MS - quietMs,
      );
      return;
    }
    log.info({ idleMs: config.APP_IDLE_TIMEOUT_MS }, "Closing idle user session");
    end({
      error: "idle_timeout",
      message:
        `Closed the session: no message from the client for ${config.APP_IDLE_TIMEOUT_MS} ms`,
      closeCode: CLOSE_NORMAL,
      reason: "idle timeout",
    });
  };

  const expire = (): void => {
    expiryTimer = undefined;
    log.info(
      { maxSessionMs: config.APP_MAX_SESSION_MS },
      "Closing user session at its maximum length",
    );
    end({
      error: "session_expired",
      message:
        `Closed the session: it reached the maximum length of ${config.APP_MAX_SESSION_MS} ms; connect again to go on`,
      closeCode: CLOSE_NORMAL,
      reason: "session expired",
    });
  };

  const start = (): void => {
    if (state.phase !== "open") return;
    lastActivity = clock.monotonic();
    idleTimer = clock.setTimeout(() => guard("idle timer", idleCheck), config.APP_IDLE_TIMEOUT_MS);
    expiryTimer = clock.setTimeout(() => guard("session timer", expire), config.APP_MAX_SESSION_MS);
    const transcription = config.INPUT_TRANSCRIPTION_MODEL;
    bridge = new Bridge({
      ...bridgeConfig(config, deps.upstreamUrl()),
      session: {
        format: { type: "audio/pcm", rate: 24000 },
        instructions: composeInstructions(state.instructions, state.language),
        voice: state.voice,
        tools: tools.definitions(),
        turnDetection: gaTurnDetection(state.turnDetection),
        transcriptionModel: transcription === "off" || transcription === "" ? null : transcription,
        language: transcriptionLanguage(state.language),
      },
      upstreamBytesPerMs: PCM24_BYTES_PER_MS,
      leg: bridgeLeg,
      clock,
      log,
      onFunctionCall: (call) => guard("tool call", () => tools.call(call)),
      onFailed: (reason) =>
        guard("upstream failure", () => {
          metrics?.upstreamFailures.inc(APP);
          log.error({ reason }, "Closing user connection: the model is unavailable");
          end({
            error: "upstream_unavailable",
            message: "Cannot reach the voice model: try again later",
            closeCode: CLOSE_UPSTREAM_FAILED,
            reason: "upstream unavailable",
          });
        }),
    });
    tools.start(bridge, {
      callerSpeaking: () => meter.callerSpeaking,
      open: () => state.phase === "open",
    });
    bridge.start();
    if (state.phase !== "open") return;
    send({
      type: "session.created",
      session: {
        ...sessionInfo(state),
        model: config.OPENAI_REALTIME_MODEL,
        turn_detection: state.turnDetection,
        limits: {
          max_text_chars: config.MAX_TEXT_CHARS,
          idle_timeout_ms: config.APP_IDLE_TIMEOUT_MS,
          max_session_ms: config.APP_MAX_SESSION_MS,
        },
      },
    });
    log.info({}, "User connection opened");
  };

  /** The user API's side of the socket shell. */
  const handlers: JsonSocketHandlers<ServerMessage> = {
    open: start,
    received() {
      lastActivity = clock.monotonic();
    },
    tooBig(limit) {
      log.warn({ limit }, "Closed socket: frame over the size limit");
      meter.endedBy(OUTCOME_OF_ERROR.message_too_large ?? "other");
      return {
        last: errorMessage(
          "message_too_large",
          `Cannot accept message: larger than ${limit} bytes`,
        ),
        reason: "message too large",
      };
    },
    limited() {
      metrics?.rateLimited.inc(APP);
      const now = clock.monotonic();
      if (now - lastRateError >= 1000) {
        lastRateError = now;
        log.warn({ limit: config.REALTIME_RATE_LIMIT }, "Dropped messages over the rate limit");
        send(errorMessage(
          "rate_limited",
          `Cannot accept message: over ${config.REALTIME_RATE_LIMIT} messages per second`,
        ));
      }
    },
    binary() {
      metrics?.badFrames.inc(APP);
      send(errorMessage("invalid_message", "Cannot parse message: expected a JSON text frame"));
    },
    text(data) {
      const parsed = parseClientFrame(data);
      if (!parsed.ok) {
        metrics?.badFrames.inc(APP);
        log.debug({ error: parsed.error }, "Refused client message");
        send(errorMessage("invalid_message", parsed.error));
        return;
      }
      const result = dispatch(state, parsed.message, { ...ctx, now: clock.now() });
      state = result.state;
      for (const effect of result.effects) {
        if (state.phase !== "open") return;
        run(effect);
      }
    },
    /** A fault in this connection's code: end this session only, cleanly. */
    fault(error, where) {
      try {
        // Past the bounded logger, which would cut the stack: one line per session at most.
        faultLog.error(
          {
            where,
            error: clip(String(error), FAULT_TEXT_MAX_CHARS),
            stack: clip(
              error instanceof Error ? error.stack ?? "" : new Error(String(error)).stack ?? "",
              FAULT_TEXT_MAX_CHARS,
            ),
          },
          "Ended user session: internal error",
        );
      } catch {
        // Logging must not stop the cleanup.
      }
      if (state.phase === "closed") return undefined;
      meter.endedBy("internal_error");
      return lastWord({
        error: "internal_error",
        message: "Cannot continue the session: the gateway hit an internal error; connect again",
        closeCode: CLOSE_INTERNAL_ERROR,
        reason: "internal error",
      });
    },
    closing() {
      state = { phase: "closed" };
      clearTimers();
      bridge?.close();
    },
    closed() {
      state = { phase: "closed" };
      clearTimers();
      try {
        bridge?.close();
        const cause = meter.close(bridge?.stats);
        log.info({ outcome: cause }, "User connection closed");
      } finally {
        options.onClose(connection);
        resolveClosed();
      }
    },
  };
  shell.listen(handlers);
  return connection;
}

/** The shell's end of a session: its `error` message, then the close. */
function lastWord(last: SessionEnd): SocketEnd<ServerMessage> {
  return {
    last: errorMessage(last.error, last.message),
    code: last.closeCode,
    reason: last.reason,
  };
}
