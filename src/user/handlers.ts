/**
 * Pure handlers of the user realtime API, keyed by message type:
 * `(state, message, ctx) => { state, effects }`. No I/O, no clock, no randomness; the
 * per-socket shell (`connection.ts`) runs the effects. A second map turns what the Bridge tells
 * the caller side ({@linkcode LegEvent}) into messages for the client.
 */
import { z } from "zod";
import { base64ByteLength, isBase64 } from "../protocol/base64.ts";
import type { LegEvent } from "../bridge/bridge.ts";
import type { HandlerResult as RouterResult, Handlers, LogEffect } from "../core/router.ts";
import { dispatch as route, same } from "../core/router.ts";
import type { ResponseParams } from "../protocol/openai_realtime_client.ts";
import type { SessionOptions } from "../realtime/session_config.ts";
import type {
  ClientMessage,
  ClientToolSpec,
  ErrorCode,
  ServerMessage,
  TurnDetectionInfo,
  TurnDetectionSetting,
} from "./messages.ts";

/** Per-connection protocol state, a union on `phase`. */
export type ConnectionState =
  | {
    readonly phase: "open";
    readonly sessionId: string;
    readonly voice: string;
    readonly language: string;
    /** Instructions as the client (or config) set them, before the language line. */
    readonly instructions: string;
    /** GA `max_output_tokens` for the responses the gateway asks for. */
    readonly maxOutputTokens: number | "inf" | undefined;
    readonly turnDetection: TurnDetectionInfo;
    /**
     * The model has produced audio in this session. From then on the service refuses a voice
     * change (`cannot_update_voice`), and would refuse every later `session.update` that
     * carries one, so the gateway stops offering it.
     */
    readonly modelSpoken: boolean;
    /** Names of the tools the app declared (`tools.update`). */
    readonly clientTools: readonly string[];
  }
  | { readonly phase: "closed" };

/** What a handler may ask the shell to do. */
export type Effect =
  | { readonly type: "send"; readonly message: ServerMessage }
  | { readonly type: "upstream.audio"; readonly audio: string }
  | { readonly type: "upstream.commit" }
  | { readonly type: "upstream.text"; readonly text: string }
  | { readonly type: "upstream.respond"; readonly response: ResponseParams | undefined }
  | { readonly type: "upstream.session"; readonly patch: Partial<SessionOptions> }
  | { readonly type: "upstream.interrupt"; readonly playedMs: number | undefined }
  /** The app's tools changed: offer them to the model (with the profile's own). */
  | { readonly type: "tools.declare"; readonly tools: readonly ClientToolSpec[] }
  /** The app answered a `tool.call`. */
  | { readonly type: "tools.result"; readonly callId: string; readonly output: string }
  /** Stop waiting for the app's running tool calls (the user interrupted). */
  | { readonly type: "tools.cancel"; readonly reason: string }
  | LogEffect;

/** A handler's result. */
export type HandlerResult = RouterResult<ConnectionState, Effect>;

/** The state of a connection that is open (the only one its handlers see). */
export type OpenState = Extract<ConnectionState, { phase: "open" }>;

/** Read-only facts a handler may consult. */
export interface HandlerContext {
  /** Milliseconds since the epoch. */
  readonly now: number;
  /** Turn-detection defaults from config. */
  readonly vad: {
    readonly threshold: number;
    readonly prefixPaddingMs: number;
    readonly silenceMs: number;
  };
  /** Longest `input_text` in characters (MAX_TEXT_CHARS). */
  readonly maxTextChars: number;
}

/** Seconds since the epoch, with milliseconds, as in the seed's `timestamp` fields. */
export const seconds = (ms: number): number => Math.round(ms) / 1000;

/** An `error` message for the client. */
export function errorMessage(code: ErrorCode, message: string): ServerMessage {
  return { type: "error", error: { code, message } };
}

/** The session facts sent to the client. */
export function sessionInfo(
  state: OpenState,
): { id: string; voice: string; language: string } {
  return { id: state.sessionId, voice: state.voice, language: state.language };
}

/** The effective turn detection for a client's choice, every field set (§2.3). */
export function turnDetectionInfo(
  setting: TurnDetectionSetting,
  vad: HandlerContext["vad"],
): TurnDetectionInfo {
  switch (setting.type) {
    case "server_vad":
      return {
        type: "server_vad",
        threshold: setting.threshold ?? vad.threshold,
        prefix_padding_ms: setting.prefix_padding_ms ?? vad.prefixPaddingMs,
        silence_duration_ms: setting.silence_duration_ms ?? vad.silenceMs,
        create_response: setting.create_response ?? true,
      };
    case "semantic_vad":
      return {
        type: "semantic_vad",
        eagerness: setting.eagerness ?? "auto",
        create_response: setting.create_response ?? true,
      };
    case "none":
      return { type: "none" };
    default:
      return setting satisfies never;
  }
}

/**
 * The GA `turn_detection` object. The gateway owns barge-in (it tells the client to stop and
 * truncates to what was heard), so the server never cancels by itself.
 */
export function gaTurnDetection(info: TurnDetectionInfo): Record<string, unknown> | null {
  switch (info.type) {
    case "server_vad":
      return {
        type: "server_vad",
        threshold: info.threshold,
        prefix_padding_ms: info.prefix_padding_ms,
        silence_duration_ms: info.silence_duration_ms,
        idle_timeout_ms: null,
        create_response: info.create_response,
        interrupt_response: false,
      };
    case "semantic_vad":
      return {
        type: "semantic_vad",
        eagerness: info.eagerness,
        create_response: info.create_response,
        interrupt_response: false,
      };
    case "none":
      return null;
    default:
      return info satisfies never;
  }
}

/** The instructions sent upstream: the client's, plus which language to answer in. */
export function composeInstructions(instructions: string, language: string): string {
  const line = `The user's language is "${language}" (a language code): reply in it unless ` +
    "asked otherwise.";
  return instructions ? `${instructions}\n\n${line}` : line;
}

/** The transcription language hint: ISO-639-1, the primary subtag only (§2.4). */
export function transcriptionLanguage(language: string): string {
  return language.split("-")[0]!.toLowerCase();
}

const send = (message: ServerMessage): Effect => ({ type: "send", message });

const invalid = (message: string): Effect => send(errorMessage("invalid_message", message));

const respondEffect = (
  state: OpenState,
  instructions?: string,
): Effect => {
  const response: ResponseParams = {
    ...(state.maxOutputTokens === undefined ? {} : { max_output_tokens: state.maxOutputTokens }),
    ...(instructions === undefined ? {} : { instructions }),
  };
  return {
    type: "upstream.respond",
    response: Object.keys(response).length > 0 ? response : undefined,
  };
};

/** The user realtime API handler map. */
export const handlers = {
  "session.update"(state, message) {
    const update = message.session_update;
    // The service refuses a voice change once the model has spoken (openai-realtime.md §2.1):
    // refuse that part here and apply the rest, so later updates keep working.
    const voiceLocked = update.voice !== undefined && update.voice !== state.voice &&
      state.modelSpoken;
    const next = {
      ...state,
      voice: voiceLocked ? state.voice : update.voice ?? state.voice,
      language: update.language ?? state.language,
      instructions: update.instructions ?? state.instructions,
      maxOutputTokens: update.max_response_output_tokens ?? state.maxOutputTokens,
    };
    const patch: { -readonly [K in keyof SessionOptions]?: SessionOptions[K] } = {};
    if (next.voice !== state.voice) patch.voice = next.voice;
    if (next.language !== state.language) patch.language = transcriptionLanguage(next.language);
    if (next.language !== state.language || next.instructions !== state.instructions) {
      patch.instructions = composeInstructions(next.instructions, next.language);
    }
    const effects: Effect[] = [];
    if (voiceLocked) {
      // Before the answer: clients treat an error right after their update as its refusal.
      effects.push(invalid(
        `Cannot change voice to ${
          JSON.stringify(update.voice)
        }: the voice cannot change once the model has spoken in this session; it stays ${
          JSON.stringify(state.voice)
        } (the rest of the update was applied)`,
      ));
    }
    if (Object.keys(patch).length > 0) effects.push({ type: "upstream.session", patch });
    if (update.temperature !== undefined) {
      effects.push({
        type: "log",
        level: "debug",
        message: "Ignored temperature: the GA realtime service has none",
      });
    }
    effects.push(send({ type: "session.update", session: sessionInfo(next) }));
    return { state: next, effects };
  },

  "conversation.item.input"(state, message, ctx) {
    const input = message.conversation_item_input;
    switch (input.type) {
      case "input_text":
        if (input.text.length > ctx.maxTextChars) {
          return same(
            state,
            invalid(
              `Cannot send text: ${input.text.length} characters is over the limit of ${ctx.maxTextChars}`,
            ),
          );
        }
        return same(
          state,
          { type: "upstream.text", text: input.text },
          respondEffect(state),
        );
      case "input_audio_buffer": {
        if (!isBase64(input.audio)) {
          return same(
            state,
            invalid("Cannot append audio: conversation_item_input.audio is not valid base64"),
          );
        }
        // Counted from the length and padding, without decoding.
        const bytes = base64ByteLength(input.audio);
        if (bytes % 2 !== 0) {
          return same(
            state,
            invalid(
              `Cannot append audio: PCM16 needs an even number of bytes, got ${bytes}`,
            ),
          );
        }
        return same(state, { type: "upstream.audio", audio: input.audio });
      }
      default:
        return input satisfies never;
    }
  },

  "ping"(state, message, ctx) {
    return same(
      state,
      send({ type: "pong", timestamp: message.ping?.timestamp ?? seconds(ctx.now) }),
    );
  },

  "turn_detection.update"(state, message, ctx) {
    const info = turnDetectionInfo(message.turn_detection_update, ctx.vad);
    return {
      state: { ...state, turnDetection: info },
      effects: [
        { type: "upstream.session", patch: { turnDetection: gaTurnDetection(info) } },
        send({ type: "turn_detection.updated", turn_detection: info }),
      ],
    };
  },

  "input_audio_buffer.commit"(state, message) {
    const respond = message.input_audio_buffer_commit?.respond ?? true;
    return same(state, { type: "upstream.commit" }, ...(respond ? [respondEffect(state)] : []));
  },

  "response.create"(state, message) {
    return same(state, respondEffect(state, message.response_create?.instructions));
  },

  "response.interrupt"(state, message) {
    return same(
      state,
      { type: "upstream.interrupt", playedMs: message.response_interrupt?.played_ms },
      { type: "tools.cancel", reason: "interrupted" },
    );
  },

  "tools.update"(state, message) {
    const tools = message.tools_update.tools;
    const names = tools.map((t) => t.name);
    const duplicate = names.find((n, i) => names.indexOf(n) !== i);
    if (duplicate !== undefined) {
      return same(state, invalid(`Cannot update tools: "${duplicate}" is declared twice`));
    }
    const large = tools.find((t) => JSON.stringify(t.parameters).length > MAX_TOOL_SCHEMA_CHARS);
    if (large !== undefined) {
      return same(
        state,
        invalid(
          `Cannot update tools: the parameters of "${large.name}" are over ${MAX_TOOL_SCHEMA_CHARS} characters`,
        ),
      );
    }
    return {
      state: { ...state, clientTools: names },
      effects: [{ type: "tools.declare", tools }, send({ type: "tools.updated", tools: names })],
    };
  },

  "tool.result"(state, message) {
    const { call_id: callId, output, error } = message.tool_result;
    const text = output ?? JSON.stringify({ ok: false, error: error ?? "The tool gave no answer" });
    return same(state, { type: "tools.result", callId, output: text });
  },
} satisfies Handlers<ClientMessage, OpenState, HandlerContext, HandlerResult>;

/** Longest JSON schema of one app tool's parameters. */
export const MAX_TOOL_SCHEMA_CHARS = 16_000;

/** Dispatches one parsed message to its handler. */
export function dispatch(
  state: ConnectionState,
  message: ClientMessage,
  ctx: HandlerContext,
): HandlerResult {
  if (state.phase === "closed") return same(state);
  return route(handlers, { state, message, ctx });
}

// ---------------------------------------------------------------------------------------------
// Bridge → client

/** What the leg saw of the model's side: a Bridge event, or model audio sent to the client. */
export type LegObservation = LegEvent | {
  readonly type: "response.audio";
  readonly itemId: string;
};

/** The protocol state after something the leg saw (pure). */
export function observeLeg(state: ConnectionState, event: LegObservation): ConnectionState {
  if (state.phase !== "open" || state.modelSpoken) return state;
  switch (event.type) {
    // Audio, or the transcript of audio: assistant audio is now in the conversation.
    case "response.audio":
    case "response.transcript.delta":
    case "response.transcript.done":
      return { ...state, modelSpoken: true };
    default:
      return state;
  }
}

/** What leg-event handlers may consult. */
export interface LegContext {
  /** Milliseconds since the epoch. */
  readonly now: number;
}

/** A map with one pure function per leg event type: the client message, if any. */
export type LegHandlers = Handlers<LegEvent, void, LegContext, ServerMessage | undefined>;

const Usage = z.looseObject({
  input_tokens: z.number().optional(),
  output_tokens: z.number().optional(),
});

/** An upstream error code made safe to show: letters, digits and `_` only. */
function safeCode(code: string): string {
  const clean = code.replace(/[^A-Za-z0-9_]/g, "").slice(0, 64);
  return clean || "unknown";
}

/** Turns what the Bridge reports into messages for the client. */
export const legHandlers = {
  "session.ready": (_, _e, ctx) => ({
    type: "session.ready",
    session: { timestamp: seconds(ctx.now) },
  }),
  "speech.started": (_, e, ctx) => ({
    type: "speech.started",
    speech: { audio_start_ms: e.audioStartMs, timestamp: seconds(ctx.now) },
  }),
  "speech.stopped": (_, e, ctx) => ({
    type: "speech.stopped",
    speech: { audio_end_ms: e.audioEndMs, timestamp: seconds(ctx.now) },
  }),
  "speech.committed": (_, _e, ctx) => ({
    type: "speech.committed",
    speech: { timestamp: seconds(ctx.now) },
  }),
  "speech.hypothesis": (_, e, ctx) => ({
    type: "input.transcript",
    transcript: { text: e.text, final: false, timestamp: seconds(ctx.now) },
  }),
  "speech.recognition": (_, e, ctx) => ({
    type: "input.transcript",
    transcript: { text: e.text, final: true, timestamp: seconds(ctx.now) },
  }),
  "response.started": (_, e, ctx) => ({
    type: "response.started",
    response: { id: e.responseId, timestamp: seconds(ctx.now) },
  }),
  "response.transcript.delta": (_, e, ctx) =>
    e.delta
      ? {
        type: "response.delta",
        response: { delta: { content: e.delta }, timestamp: seconds(ctx.now) },
      }
      : undefined,
  "response.transcript.done": (_, e, ctx) => ({
    type: "response.transcript",
    response: { item_id: e.itemId, transcript: e.text, timestamp: seconds(ctx.now) },
  }),
  "response.done": (_, e, ctx) => {
    const usage = Usage.safeParse(e.usage);
    return {
      type: "response.done",
      response: {
        usage: {
          input_tokens: usage.success ? usage.data.input_tokens ?? 0 : 0,
          output_tokens: usage.success ? usage.data.output_tokens ?? 0 : 0,
        },
        timestamp: seconds(ctx.now),
      },
    };
  },
  // Upstream messages can carry internals (e.g. a masked API key): only the code goes out.
  "error": (_, e) =>
    errorMessage(
      "upstream_error",
      `Cannot complete the request: the model refused it (${safeCode(e.code)})`,
    ),
} satisfies LegHandlers;

/** The client message for a leg event, if any. */
export function legMessage(event: LegEvent, ctx: LegContext): ServerMessage | undefined {
  return route(legHandlers, { state: undefined, message: event, ctx });
}
