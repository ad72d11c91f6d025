/**
 * The thin per-socket shell of the user realtime API: checks size and rate, parses frames,
 * dispatches them to the pure handlers and runs their effects against the connection's one
 * {@linkcode Bridge}.
 */
import type { Config } from "../config.ts";
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import { Bridge } from "../bridge/bridge.ts";
import type { ConnectionState, Effect, HandlerContext } from "./handlers.ts";
import {
  composeInstructions,
  dispatch,
  errorMessage,
  gaTurnDetection,
  sessionInfo,
  transcriptionLanguage,
  turnDetectionInfo,
} from "./handlers.ts";
import type { ServerMessage, TurnDetectionSetting } from "./messages.ts";
import { parseClientFrame } from "./messages.ts";
import type { Bucket } from "./rate_limit.ts";
import { fullBucket, take } from "./rate_limit.ts";
import { PCM24_BYTES_PER_MS, UserLeg } from "./user_leg.ts";

/** WebSocket close code for a frame over the size limit (RFC 6455 §7.4.1). */
export const CLOSE_TOO_BIG = 1009;
/** WebSocket close code when the model is gone for good (RFC 6455 §7.4.1, internal error). */
export const CLOSE_UPSTREAM_FAILED = 1011;

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
}

/** One live connection. */
export interface UserConnection {
  readonly sessionId: string;
  readonly route: RouteKind;
  readonly userId: string;
  /** The Bridge, once the socket is open. */
  readonly bridge: Bridge | undefined;
  readonly leg: UserLeg;
  /** Resolves once the socket has closed and the Bridge with it. */
  readonly closed: Promise<void>;
  /** Closes the socket (the Bridge follows). */
  close(code: number, reason: string): void;
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
    readonly onClose: (connection: UserConnection) => void;
  },
): UserConnection {
  const { deps, route, userId } = options;
  const { config, clock } = deps;
  const sessionId = deps.newId("sess");
  const log = deps.log.child({ sessionId, route });
  const ctx: Omit<HandlerContext, "now"> = {
    vad: {
      threshold: config.VAD_THRESHOLD,
      prefixPaddingMs: config.VAD_PREFIX_PADDING_MS,
      silenceMs: config.VAD_SILENCE_MS,
    },
  };
  const language = "en";
  let state: ConnectionState = {
    phase: "open",
    sessionId,
    voice: config.VOICE,
    language,
    instructions: config.INSTRUCTIONS,
    maxOutputTokens: undefined,
    turnDetection: turnDetectionInfo(CONFIG_TURN_DETECTION[config.TURN_DETECTION], ctx.vad),
  };
  let bucket: Bucket = fullBucket(config.REALTIME_RATE_LIMIT, clock.monotonic());
  let lastRateError = -Infinity;
  let bridge: Bridge | undefined;

  const sendText = (frame: string): void => {
    if (socket.readyState === WebSocket.OPEN) socket.send(frame);
  };
  const send = (message: ServerMessage): void => sendText(JSON.stringify(message));
  const close = (code: number, reason: string): void => {
    state = { phase: "closed" };
    bridge?.close();
    if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) {
      socket.close(code, reason);
    }
  };

  const leg = new UserLeg({ output: { send, sendText }, clock });
  const { promise: closed, resolve: resolveClosed } = Promise.withResolvers<void>();
  const connection: UserConnection = {
    sessionId,
    route,
    userId,
    get bridge() {
      return bridge;
    },
    leg,
    closed,
    close,
  };

  const run = (effect: Effect): void => {
    switch (effect.type) {
      case "send":
        send(effect.message);
        return;
      case "upstream.audio":
        bridge?.appendAudio(effect.audio);
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
      case "log":
        log[effect.level](effect.fields ?? {}, effect.message);
        return;
      default:
        effect satisfies never;
    }
  };

  const start = (): void => {
    if (state.phase !== "open") return;
    const transcription = config.INPUT_TRANSCRIPTION_MODEL;
    bridge = new Bridge({
      upstream: {
        url: deps.upstreamUrl(),
        model: config.OPENAI_REALTIME_MODEL,
        ...(config.OPENAI_API_KEY ? { apiKey: config.OPENAI_API_KEY } : {}),
      },
      session: {
        format: { type: "audio/pcm", rate: 24000 },
        instructions: composeInstructions(state.instructions, state.language),
        voice: state.voice,
        tools: [],
        turnDetection: gaTurnDetection(state.turnDetection),
        transcriptionModel: transcription === "off" || transcription === "" ? null : transcription,
        language: transcriptionLanguage(state.language),
      },
      upstreamBytesPerMs: PCM24_BYTES_PER_MS,
      leg,
      clock,
      log,
      onFailed: (reason) => {
        log.error({ reason }, "Closing user connection: the model is unavailable");
        send(errorMessage(
          "upstream_unavailable",
          "Cannot reach the voice model: try again later",
        ));
        close(CLOSE_UPSTREAM_FAILED, "upstream unavailable");
      },
    });
    bridge.start();
    send({
      type: "session.created",
      session: {
        ...sessionInfo(state),
        model: config.OPENAI_REALTIME_MODEL,
        turn_detection: state.turnDetection,
      },
    });
    log.info({ userId }, "User connection opened");
  };

  const onFrame = (data: unknown): void => {
    if (state.phase !== "open") return;
    if (frameTooBig(data, config.MAX_FRAME_BYTES)) {
      log.warn({ limit: config.MAX_FRAME_BYTES }, "Closed socket: frame over the size limit");
      send(errorMessage(
        "message_too_large",
        `Cannot accept message: larger than ${config.MAX_FRAME_BYTES} bytes`,
      ));
      close(CLOSE_TOO_BIG, "message too large");
      return;
    }
    const allowed = take(bucket, { perSecond: config.REALTIME_RATE_LIMIT, now: clock.monotonic() });
    bucket = allowed.bucket;
    if (!allowed.allowed) {
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
      send(errorMessage("invalid_message", "Cannot parse message: expected a JSON text frame"));
      return;
    }
    const parsed = parseClientFrame(data);
    if (!parsed.ok) {
      log.debug({ error: parsed.error }, "Refused client message");
      send(errorMessage("invalid_message", parsed.error));
      return;
    }
    const result = dispatch(state, parsed.message, { ...ctx, now: clock.now() });
    state = result.state;
    for (const effect of result.effects) run(effect);
  };

  socket.addEventListener("open", () => {
    try {
      start();
    } catch (error) {
      log.error({ err: String(error) }, "Failed to start user session");
      send(errorMessage("upstream_unavailable", "Cannot reach the voice model: try again later"));
      close(CLOSE_UPSTREAM_FAILED, "upstream unavailable");
    }
  });
  socket.addEventListener("message", (event: MessageEvent) => {
    try {
      onFrame(event.data);
    } catch (error) {
      // A bug in one connection must never take the process or other connections down.
      log.error({ err: String(error) }, "Failed to handle frame");
    }
  });
  socket.addEventListener("close", () => {
    state = { phase: "closed" };
    bridge?.close();
    log.info({}, "User connection closed");
    options.onClose(connection);
    resolveClosed();
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
