/**
 * The local realtime engine: an offline server implementation of the OpenAI Realtime GA protocol,
 * mounted at `/v1/realtime`. See `src/local/README.md` for what it answers.
 */
import { ResamplerFactory } from "../audio/resampler.ts";
import type { Clock } from "../core/clock.ts";
import { systemClock } from "../core/clock.ts";
import { randomId } from "../core/ids.ts";
import type { Logger } from "../core/logger.ts";
import type { Mount } from "../core/mount.ts";
import { readHandshake } from "./handshake.ts";
import { secretsEqual } from "../core/secrets.ts";
import { FvadModule } from "./fvad.ts";
import { silentLogger } from "../core/logger.ts";
import type { Pacing } from "./response.ts";
import type { Scenario } from "./scenario.ts";
import type { AudioDeps } from "./input_turns.ts";
import { RealtimeSession } from "./session.ts";

/** Options of {@linkcode createLocalEngine}. */
export interface LocalEngineOptions {
  readonly log?: Logger;
  readonly clock?: Clock;
  /** When set, clients must present this key (header or subprotocol). */
  readonly apiKey?: string;
  /** Maximum session length before the engine closes with 1001 (default 60 minutes). */
  readonly maxSessionMs?: number;
  /** Decides per response what happens (tests); undefined → the default reply rules. */
  readonly scenario?: Scenario;
  /** Output speed as a multiple of real time (default 8). */
  readonly speed?: number;
  /** Wait before a response's first output (default 30 ms). */
  readonly firstDeltaMs?: number;
  /** Wait between text and function-argument deltas (default 10 ms). */
  readonly textDeltaMs?: number;
  /** Audio bytes each conversation keeps for retrieve and echo (default 8 MiB). */
  readonly maxStoredAudioBytes?: number;
  /** A loaded resampler module to share (the gateway's); loaded on first use otherwise. */
  readonly resamplers?: ResamplerFactory;
  /** Id generator (default: random base62 ids like the service's). */
  readonly newId?: (prefix: string) => string;
  /**
   * Wait before answering an upgrade, in ms (default 0): the connection setup of a real
   * service (TCP + TLS + WebSocket over a WAN, and the service's own session start), for
   * measuring what a warm upstream pool saves.
   */
  readonly handshakeDelayMs?: number;
}

/** A mounted engine: serves `/v1/realtime`. */
export interface LocalEngine extends Mount {
  /** Number of live sessions. */
  readonly sessions: number;
  /** `{ engine: { sessions } }` for `/health`. */
  stats(): Record<string, unknown>;
  /** Drops every live session abruptly with `code` (tests: the upstream dies mid-call). */
  disconnectAll(code?: number, reason?: string): void;
  /** Closes every session (1001) and waits for the sockets to close. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The path the engine serves. */
export const ENGINE_PATH = "/v1/realtime";

const DEFAULT_MAX_SESSION_MS = 60 * 60 * 1000;

const jsonError = (
  status: number,
  error: { message: string; type: string; code: string | null; param?: string | null },
  headers: HeadersInit = {},
): Response =>
  new Response(JSON.stringify({ error: { param: null, ...error } }), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });

/** Creates the engine. The WASM modules (VAD, resampler) load in the background, once. */
export function createLocalEngine(options: LocalEngineOptions = {}): LocalEngine {
  const log = options.log ?? silentLogger();
  const clock = options.clock ?? systemClock;
  const newId = options.newId ?? randomId;
  const maxSessionMs = options.maxSessionMs ?? DEFAULT_MAX_SESSION_MS;
  const pacing: Pacing = {
    speed: options.speed ?? 8,
    firstDeltaMs: options.firstDeltaMs ?? 30,
    textDeltaMs: options.textDeltaMs ?? 10,
  };
  const sessions = new Set<RealtimeSession>();
  let audio: Promise<AudioDeps> | undefined;
  const loadAudio = (): Promise<AudioDeps> =>
    audio ??= Promise.all([
      FvadModule.load(),
      options.resamplers ?? ResamplerFactory.load(),
    ]).then(
      ([fvad, resamplers]) => ({ fvad, resamplers }),
    );
  let closing = false;

  const upgrade = (request: Request): Response => {
    if (request.method !== "GET") {
      return jsonError(405, {
        message: `Cannot ${request.method} ${ENGINE_PATH}: connect with a WebSocket upgrade`,
        type: "invalid_request_error",
        code: "method_not_allowed",
      }, { allow: "GET" });
    }
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return jsonError(426, {
        message: "The Realtime API needs a WebSocket connection: send an upgrade request",
        type: "invalid_request_error",
        code: "upgrade_required",
      }, { upgrade: "websocket" });
    }
    // Headers must be read before Deno.upgradeWebSocket.
    const handshake = readHandshake(request);
    if (options.apiKey !== undefined) {
      if (handshake.apiKey === undefined) {
        return jsonError(401, {
          message:
            "You didn't provide an API key. Provide it in an Authorization header (Bearer) or the openai-insecure-api-key subprotocol.",
          type: "invalid_request_error",
          code: "missing_api_key",
        }, { "www-authenticate": "Bearer" });
      }
      if (!secretsEqual(handshake.apiKey, options.apiKey)) {
        return jsonError(401, {
          message: "Incorrect API key provided.",
          type: "invalid_request_error",
          code: "invalid_api_key",
        }, { "www-authenticate": "Bearer" });
      }
    }
    if (handshake.model === undefined) {
      return jsonError(400, {
        message: "Missing required parameter: 'model'.",
        type: "invalid_request_error",
        code: "missing_required_parameter",
        param: "model",
      });
    }
    if (closing) {
      return jsonError(503, {
        message: "The local realtime engine is shutting down",
        type: "server_error",
        code: null,
      });
    }
    const { socket, response } = Deno.upgradeWebSocket(
      request,
      handshake.offeredRealtime ? { protocol: "realtime" } : {},
    );
    if (handshake.beta) {
      // §0: the live service refuses the beta shape after the upgrade, then closes with 4000.
      socket.addEventListener("open", () => {
        socket.send(JSON.stringify({
          type: "error",
          event_id: newId("event"),
          error: {
            type: "invalid_request_error",
            code: "beta_api_shape_disabled",
            message:
              "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API.",
            param: null,
            event_id: null,
          },
        }));
        socket.close(4000, "invalid_request_error.beta_api_shape_disabled");
      }, { once: true });
      return response;
    }
    const session = new RealtimeSession({
      socket,
      audio: loadAudio(),
      clock,
      newId,
      log,
      model: handshake.model,
      maxSessionMs,
      pacing,
      maxStoredAudioBytes: options.maxStoredAudioBytes ?? 8 * 1024 * 1024,
      scenario: options.scenario,
      onClosed: (s) => sessions.delete(s),
    });
    sessions.add(session);
    return response;
  };

  const close = async (): Promise<void> => {
    closing = true;
    const open = [...sessions];
    for (const session of open) session.close(1001, "The server is shutting down");
    await Promise.all(open.map((s) => s.closed));
    if (audio) await audio.catch(() => undefined);
  };

  return {
    get sessions() {
      return sessions.size;
    },
    routes: [{
      method: "*",
      pattern: new URLPattern({ pathname: ENGINE_PATH }),
      handler: (request) => {
        const delay = options.handshakeDelayMs ?? 0;
        if (delay <= 0) return upgrade(request);
        return new Promise<void>((resolve) => clock.setTimeout(resolve, delay))
          .then(() => upgrade(request));
      },
    }],
    stats() {
      return { engine: { sessions: sessions.size } };
    },
    disconnectAll(code = 1011, reason = "Internal server error") {
      for (const session of [...sessions]) session.disconnect(code, reason);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
