/**
 * The thin per-socket shell of the user realtime API: checks size and rate, parses frames,
 * dispatches them to the pure handlers and runs their effects against the connection's one
 * {@linkcode Bridge}. It owns the session's timers (idle, maximum length) and isolates faults:
 * an exception in this connection's code ends this session only (`internal_error`, close 1011).
 */
import type { Config } from "../config.ts";
import type { Clock, TimerId } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { BoundedLogger } from "../core/bounded_log.ts";
import { boundedLogger, clip } from "../core/bounded_log.ts";
import type { BridgeLeg, LegEvent } from "../bridge/bridge.ts";
import { Bridge } from "../bridge/bridge.ts";
import type { GatewayMetrics, Outcome } from "../core/metrics.ts";
import type { Span, Tracer } from "../core/tracing.ts";
import { endSpan, gatewayTracer, logInContext, startScope } from "../core/tracing.ts";
import { base64ByteLength } from "../protocol/base64.ts";
import type { FunctionCall } from "../bridge/bridge.ts";
import type { AgentProfile, ProfileSet } from "../agents/profile.ts";
import { defaultProfile } from "../agents/profile.ts";
import type { McpPool } from "../agents/tools.ts";
import { ToolBox } from "../agents/tools.ts";
import { ToolRuns } from "../agents/tool_runs.ts";
import type { FunctionTool } from "../realtime/session_config.ts";
import type { ClientToolSpec } from "./messages.ts";
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
import type { Bucket } from "../core/rate_limit.ts";
import { fullBucket, take } from "../core/rate_limit.ts";
import { PCM24_BYTES_PER_MS, UserLeg } from "./user_leg.ts";

/** WebSocket close code for a frame over the size limit (RFC 6455 §7.4.1). */
export const CLOSE_TOO_BIG = 1009;
/** WebSocket close code when the model is gone for good (RFC 6455 §7.4.1, internal error). */
export const CLOSE_UPSTREAM_FAILED = 1011;
/** WebSocket close code for a fault in the gateway (RFC 6455 §7.4.1, internal error). */
export const CLOSE_INTERNAL_ERROR = 1011;
/** WebSocket close code for a session ended by a limit (idle, maximum length): a normal close. */
export const CLOSE_NORMAL = 1000;

/** Longest error text or stack written for a fault (a stack is ~10 frames). */
const FAULT_TEXT_MAX_CHARS = 4000;

const APP = { route: "app" } as const;
/** App tool calls that may wait for their answers at once. */
const MAX_PENDING_CALLS = 16;
const APP_IN = { route: "app", direction: "in" } as const;
const APP_OUT = { route: "app", direction: "out" } as const;

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
  // Bounded: hostile ids are cut, and one socket cannot flood the log.
  const socketLog: BoundedLogger = boundedLogger(deps.log, {
    maxValueChars: config.LOG_VALUE_MAX_CHARS,
    linesPerSecond: config.LOG_LINES_PER_SOCKET,
    now: () => clock.monotonic(),
  });
  const metrics = deps.metrics;
  const trace = startScope(deps.tracer ?? gatewayTracer(), "app_session", {
    "session.id": sessionId,
    "session.route": route,
  });
  const log = logInContext(socketLog.child({ sessionId, route, userId, peer }), trace.context);
  /** Why the session ended, for the metrics and the span (first cause wins). */
  let outcome: Outcome | undefined;
  const endedBy = (cause: Outcome): void => {
    outcome ??= cause;
  };
  /** The turn being traced: caller speech end (or a response the model starts) to its end. */
  let turn: { span: Span; startedAt: number; heard: boolean } | undefined;
  let responding = false;
  const endTurn = (status: string): void => {
    if (!turn) return;
    turn.span.setAttribute("turn.status", status);
    turn.span.end();
    turn = undefined;
  };
  const startTurn = (kind: "caller" | "bot"): void => {
    endTurn("superseded");
    turn = {
      span: trace.child("turn", { "turn.kind": kind }),
      startedAt: clock.monotonic(),
      heard: false,
    };
  };
  /** Counts and traces what the Bridge tells the leg (never throws: metrics are best effort). */
  const measure = (event: LegEvent): void => {
    switch (event.type) {
      case "speech.started":
        callerSpeaking = true;
        if (responding) metrics?.bargeIns.inc(APP);
        return;
      case "speech.stopped":
        callerSpeaking = false;
        startTurn("caller");
        return;
      case "response.started":
        responding = true;
        if (!turn) startTurn("bot");
        turn?.span.setAttribute("turn.response_id", event.responseId);
        return;
      case "response.done":
        responding = false;
        metrics?.recordUsage(event.usage);
        endTurn(event.status);
        return;
      default:
        return;
    }
  };
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
  /** The profile's HTTP and MCP tools, run by the gateway for this session. */
  const toolbox = new ToolBox({
    profile,
    context: () => ({ profile: profile.name, sessionId, userId }),
    ...(deps.mcp ? { mcp: deps.mcp } : {}),
    log: deps.log.child({ sessionId }),
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    timeoutMs: config.TOOL_TIMEOUT_MS,
  });
  let profileTools: FunctionTool[] = toolbox.httpDefinitions;
  let clientTools: readonly ClientToolSpec[] = [];
  /** The app's tool calls waiting for a `tool.result`. */
  const pendingCalls = new Map<
    string,
    { readonly name: string; readonly finish: (output: string) => void }
  >();
  let runs: ToolRuns | undefined;
  let callerSpeaking = false;
  const allTools = (): FunctionTool[] => [
    ...profileTools,
    ...clientTools.map((t): FunctionTool => ({
      type: "function",
      name: t.name,
      description: t.description,
      parameters: t.parameters,
    })),
  ];
  let bucket: Bucket = fullBucket(config.REALTIME_RATE_LIMIT, clock.monotonic());
  let lastRateError = -Infinity;
  let lastActivity = clock.monotonic();
  let idleTimer: TimerId | undefined;
  let expiryTimer: TimerId | undefined;
  let bridge: Bridge | undefined;

  // Once closing, nothing more goes out (the socket may still be CLOSING for a while).
  const sendText = (frame: string): void => {
    if (state.phase === "open" && socket.readyState === WebSocket.OPEN) socket.send(frame);
  };
  const send = (message: ServerMessage): void => sendText(JSON.stringify(message));
  const clearTimers = (): void => {
    if (idleTimer !== undefined) clock.clearTimeout(idleTimer);
    if (expiryTimer !== undefined) clock.clearTimeout(expiryTimer);
    idleTimer = expiryTimer = undefined;
    // Tools: nothing more runs or lands (the timers of pending app calls are cleared too).
    runs?.close();
    toolbox.close();
    for (const [, call] of pendingCalls) {
      call.finish(JSON.stringify({ ok: false, error: "closed" }));
    }
    pendingCalls.clear();
  };
  const close = (code: number, reason: string): void => {
    state = { phase: "closed" };
    clearTimers();
    bridge?.close();
    if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) {
      socket.close(code, reason);
    }
  };
  /** Sends a last error, then closes. */
  const end = (last: SessionEnd): void => {
    endedBy(OUTCOME_OF_ERROR[last.error] ?? "other");
    send(errorMessage(last.error, last.message));
    close(last.closeCode, last.reason);
  };

  /** A fault in this connection's code: end this session only, cleanly. */
  const fail = (where: string, error: unknown): void => {
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
    if (state.phase === "closed") return;
    endedBy("internal_error");
    try {
      send(errorMessage(
        "internal_error",
        "Cannot continue the session: the gateway hit an internal error; connect again",
      ));
    } finally {
      close(CLOSE_INTERNAL_ERROR, "internal error");
    }
  };

  /** Runs `task` unless closed; an exception in it ends the session (never the process). */
  const guard = <T>(where: string, task: () => T): T | undefined => {
    if (state.phase === "closed") return undefined;
    try {
      return task();
    } catch (error) {
      fail(where, error);
      return undefined;
    }
  };

  const leg = new UserLeg({ output: { send, sendText }, clock });
  const observe = (event: LegObservation): void => {
    state = observeLeg(state, event);
  };
  /** What the Bridge talks to: the leg, with faults contained and the protocol state kept. */
  const bridgeLeg: BridgeLeg = {
    playAudio: (itemId, delta) =>
      guard("leg audio", () => {
        observe({ type: "response.audio", itemId });
        if (turn && !turn.heard) {
          turn.heard = true;
          const ms = clock.monotonic() - turn.startedAt;
          turn.span.setAttribute("turn.first_audio_ms", Math.round(ms));
          metrics?.turnLatency.observe(APP, ms / 1000);
        }
        metrics?.audioBytes.inc(APP_OUT, base64ByteLength(delta));
        leg.playAudio(itemId, delta);
      }),
    endAudio: (itemId) => guard("leg audio", () => leg.endAudio(itemId)),
    interrupt: () => guard("leg interrupt", () => leg.interrupt()),
    notify: (event: LegEvent) =>
      guard(`leg event ${event.type}`, () => {
        observe(event);
        measure(event);
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
        clientTools = effect.tools;
        bridge?.updateSession({ tools: allTools() });
        return;
      case "tools.result": {
        const call = pendingCalls.get(effect.callId);
        if (!call) {
          send(errorMessage(
            "invalid_message",
            `Cannot accept tool.result: no tool call ${
              JSON.stringify(effect.callId.slice(0, 64))
            } is waiting`,
          ));
          return;
        }
        call.finish(effect.output);
        return;
      }
      case "tools.cancel":
        for (const [callId, call] of [...pendingCalls]) {
          send({
            type: "tool.cancelled",
            tool_cancelled: {
              call_id: callId,
              reason: effect.reason,
              timestamp: clock.now() / 1000,
            },
          });
          call.finish(
            JSON.stringify({ ok: false, error: `The user ${effect.reason} the tool call` }),
          );
        }
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
        tools: allTools(),
        turnDetection: gaTurnDetection(state.turnDetection),
        transcriptionModel: transcription === "off" || transcription === "" ? null : transcription,
        language: transcriptionLanguage(state.language),
      },
      upstreamBytesPerMs: PCM24_BYTES_PER_MS,
      leg: bridgeLeg,
      clock,
      log,
      onFunctionCall: (call) => guard("tool call", () => onFunctionCall(call)),
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
    runs = new ToolRuns({
      bridge,
      clock,
      fillerMs: config.TOOL_FILLER_MS,
      callerSpeaking: () => callerSpeaking,
    });
    bridge.start();
    if (profile.mcpServers.length > 0) {
      void toolbox.definitions().then((tools) => {
        if (state.phase !== "open") return;
        profileTools = tools;
        bridge?.updateSession({ tools: allTools() });
      });
    }
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

  /** The model called a tool: the profile's (run here) or the app's (`tool.call`). */
  const onFunctionCall = (call: FunctionCall): void => {
    if (!runs) return;
    if (toolbox.has(call.name)) {
      runs.start(call.callId, () => toolbox.run(call.name, call.arguments));
      return;
    }
    if (!clientTools.some((t) => t.name === call.name) || pendingCalls.size >= MAX_PENDING_CALLS) {
      bridge?.sendFunctionOutput(
        call.callId,
        JSON.stringify({ ok: false, error: `The tool "${call.name}" is not available` }),
        true,
      );
      return;
    }
    const started = clock.monotonic();
    runs.start(call.callId, () =>
      new Promise<string>((resolve) => {
        const timer = clock.setTimeout(() => {
          send({
            type: "tool.cancelled",
            tool_cancelled: {
              call_id: call.callId,
              reason: "timeout",
              timestamp: clock.now() / 1000,
            },
          });
          finish(JSON.stringify({
            ok: false,
            error: `The app did not answer within ${config.TOOL_TIMEOUT_MS} ms`,
          }));
        }, config.TOOL_TIMEOUT_MS);
        const finish = (output: string): void => {
          if (!pendingCalls.delete(call.callId)) return;
          clock.clearTimeout(timer);
          const ok = !output.startsWith('{"ok":false');
          metrics?.toolCalls.inc({ tool: call.name, outcome: ok ? "ok" : "error" });
          metrics?.toolLatency.observe({ kind: "app" }, (clock.monotonic() - started) / 1000);
          resolve(output);
        };
        pendingCalls.set(call.callId, { name: call.name, finish });
        send({
          type: "tool.call",
          tool_call: {
            call_id: call.callId,
            name: call.name,
            arguments: call.arguments,
            timestamp: clock.now() / 1000,
          },
        });
      }));
  };

  const onFrame = (data: unknown): void => {
    if (state.phase !== "open") return;
    lastActivity = clock.monotonic();
    if (frameTooBig(data, config.MAX_FRAME_BYTES)) {
      log.warn({ limit: config.MAX_FRAME_BYTES }, "Closed socket: frame over the size limit");
      end({
        error: "message_too_large",
        message: `Cannot accept message: larger than ${config.MAX_FRAME_BYTES} bytes`,
        closeCode: CLOSE_TOO_BIG,
        reason: "message too large",
      });
      return;
    }
    const allowed = take(bucket, { perSecond: config.REALTIME_RATE_LIMIT, now: clock.monotonic() });
    bucket = allowed.bucket;
    if (!allowed.allowed) {
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
      return;
    }
    if (typeof data !== "string") {
      metrics?.badFrames.inc(APP);
      send(errorMessage("invalid_message", "Cannot parse message: expected a JSON text frame"));
      return;
    }
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
  };

  socket.addEventListener("open", () => guard("start", start));
  socket.addEventListener("message", (event: MessageEvent) => {
    guard("frame", () => onFrame(event.data));
  });
  socket.addEventListener("close", () => {
    state = { phase: "closed" };
    clearTimers();
    try {
      bridge?.close();
      const cause = outcome ?? "caller_hangup";
      endTurn("session ended");
      if (metrics) {
        metrics.sessionsTotal.inc({ outcome: cause });
        const stats = bridge?.stats;
        if (stats && stats.truncates > 0) metrics.truncations.inc(APP, stats.truncates);
        if (stats && stats.reconnects > 0) metrics.upstreamReconnects.inc(APP, stats.reconnects);
      }
      endSpan(
        trace.span,
        { "session.outcome": cause },
        cause === "internal_error" ? cause : undefined,
      );
      log.info({ outcome: cause }, "User connection closed");
      socketLog.flush();
    } catch {
      // The connection is gone either way; its bookkeeping below must still happen.
    } finally {
      options.onClose(connection);
      resolveClosed();
    }
  });
  socket.addEventListener("error", () => {
    // The close event follows.
  });
  return connection;
}

function frameTooBig(data: unknown, limit: number): boolean {
  if (data instanceof ArrayBuffer) return data.byteLength > limit;
  if (data instanceof Blob) return data.size > limit;
  if (typeof data !== "string") return false;
  // UTF-16 length is at most the UTF-8 byte count; encode only when it could matter.
  if (data.length > limit) return true;
  if (data.length * 3 <= limit) return false;
  return new TextEncoder().encode(data).byteLength > limit;
}
