/**
 * The user realtime API's wire (seed 001 plus the gateway's extensions), shared by the gateway
 * (`src/user/`) and its clients (`src/client/`, the browser page): the limits and names both
 * sides must agree on, the messages a client sends as types, and the messages the gateway sends
 * as light guards ({@linkcode ServerMessage}) with their types inferred.
 *
 * The gateway checks what clients send with its zod schemas (`src/user/messages.ts`, which also
 * proves at compile time that they accept exactly the {@linkcode ClientMessage} types here).
 * Clients check what the gateway sends with the guards, small enough for a browser bundle.
 *
 * @module
 */
import {
  array,
  boolean,
  discriminated,
  type Infer,
  literal,
  nullable,
  number,
  object,
  oneOf,
  optional,
  string,
} from "./guard.ts";

/** The open route is this path plus `/{user_id}`; the authenticated route is the path itself. */
export const USER_API_PATH = "/api/v1/streaming/realtime";

/** Voices of the GA service (openai-realtime.md §2.1). */
export const VOICES = [
  "alloy",
  "ash",
  "ballad",
  "coral",
  "echo",
  "sage",
  "shimmer",
  "verse",
  "marin",
  "cedar",
] as const;
/** A GA voice name. */
export type Voice = typeof VOICES[number];

/** A language code such as `en` or `pt-BR`. */
export const LANGUAGE_PATTERN: RegExp = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;
/** Longest `instructions` (session and response), characters. */
export const MAX_INSTRUCTIONS_CHARS = 16_000;
/** A tool name: 1-64 letters, digits, `_` or `-`. */
export const TOOL_NAME_PATTERN: RegExp = /^[A-Za-z0-9_-]{1,64}$/;
/** Longest tool description, characters. */
export const MAX_TOOL_DESCRIPTION_CHARS = 2048;
/** Most tools one app session may declare. */
export const MAX_CLIENT_TOOLS = 32;
/** Longest `tool_result.output`, characters. */
export const MAX_TOOL_OUTPUT_CHARS = 16_000;
/** Longest `tool_result.error`, characters. */
export const MAX_TOOL_ERROR_CHARS = 2000;

/** Semantic VAD eagerness values. */
export const EAGERNESS = ["low", "medium", "high", "auto"] as const;

// ---------------------------------------------------------------------------------------------
// client → gateway

/** Turn detection a client may choose (extension). */
export type TurnDetectionSetting =
  | {
    type: "server_vad";
    threshold?: number;
    prefix_padding_ms?: number;
    silence_duration_ms?: number;
    create_response?: boolean;
  }
  | {
    type: "semantic_vad";
    eagerness?: typeof EAGERNESS[number];
    create_response?: boolean;
  }
  /** Manual turns: the client commits with `input_audio_buffer.commit`. */
  | { type: "none" };

/** A tool the app offers the model (extension): the app runs it when the model calls it. */
export interface ClientToolSpec {
  /** {@linkcode TOOL_NAME_PATTERN}. */
  name: string;
  /** Default `""`. */
  description?: string;
  /** JSON schema of the arguments (an object schema); default `{"type":"object"}` with no properties. */
  parameters?: Record<string, unknown>;
}

/** The payload of `conversation.item.input` (seed): text, or base64 PCM16 mono 24 kHz. */
export type ConversationItemInputPayload =
  | { type: "input_text"; text: string }
  | { type: "input_audio_buffer"; audio: string };

/** Every message a client may send. */
export type ClientMessage =
  | {
    type: "session.update";
    session_update: {
      voice?: Voice;
      language?: string;
      instructions?: string;
      /** The GA service has no temperature: accepted for compatibility, ignored. */
      temperature?: number;
      /** Mapped to GA `max_output_tokens`: 1-4096 or `"inf"`. */
      max_response_output_tokens?: number | "inf";
    };
  }
  | { type: "conversation.item.input"; conversation_item_input: ConversationItemInputPayload }
  | { type: "ping"; ping?: { timestamp?: number } }
  | { type: "turn_detection.update"; turn_detection_update: TurnDetectionSetting }
  | { type: "input_audio_buffer.commit"; input_audio_buffer_commit?: { respond?: boolean } }
  | { type: "response.create"; response_create?: { instructions?: string } }
  /** `played_ms`: what the client really played of the reply. */
  | { type: "response.interrupt"; response_interrupt?: { played_ms?: number } }
  | { type: "tools.update"; tools_update: { tools: ClientToolSpec[] } }
  | {
    type: "tool.result";
    tool_result: { call_id: string; output?: string; error?: string };
  };

/**
 * The `conversation.item.input` frame for a chunk of base64 audio, built as text: audio is the
 * hot path, and base64 needs no JSON escaping.
 */
export function audioInputFrame(base64: string): string {
  return `{"type":"conversation.item.input","conversation_item_input":{"type":"input_audio_buffer","audio":"${base64}"}}`;
}

// ---------------------------------------------------------------------------------------------
// gateway → client

/** Seconds since the epoch with milliseconds, as the seed's `timestamp` fields. */
const timestamp = number;

/** What the gateway tells a client about its session. */
export const SessionInfo = object({ id: string, voice: string, language: string });
/** What the gateway tells a client about its session. */
export type SessionInfo = Infer<typeof SessionInfo>;

/** The effective turn detection (`type: "none"` for manual turns). */
export const TurnDetectionInfo = discriminated("type", [
  object({
    type: literal("server_vad"),
    threshold: number,
    prefix_padding_ms: number,
    silence_duration_ms: number,
    create_response: boolean,
  }),
  object({
    type: literal("semantic_vad"),
    eagerness: oneOf(EAGERNESS),
    create_response: boolean,
  }),
  object({ type: literal("none") }),
]);
/** The effective turn detection. */
export type TurnDetectionInfo = Infer<typeof TurnDetectionInfo>;

/** Limits a session runs under, so that clients can stay within them. */
export const SessionLimits = object({
  /** Longest `input_text`, characters. */
  max_text_chars: number,
  /** The session is closed (`idle_timeout`) after this long without a client message. */
  idle_timeout_ms: number,
  /** The session is closed (`session_expired`) this long after it opened. */
  max_session_ms: number,
});
/** Limits a session runs under. */
export type SessionLimits = Infer<typeof SessionLimits>;

/** Every message the gateway sends, discriminated on `type`. */
export const ServerMessage = discriminated("type", [
  // seed
  object({ type: literal("session.update"), session: SessionInfo }),
  object({ type: literal("response.audio"), response: object({ audio: string, timestamp }) }),
  object({
    type: literal("response.delta"),
    response: object({ delta: object({ content: string }), timestamp }),
  }),
  object({
    type: literal("response.done"),
    response: object({
      usage: object({ input_tokens: number, output_tokens: number }),
      timestamp,
    }),
  }),
  object({ type: literal("error"), error: object({ code: string, message: string }) }),
  object({ type: literal("pong"), timestamp }),
  // extensions
  object({
    type: literal("session.created"),
    session: object({
      ...SessionInfo.shape,
      model: string,
      turn_detection: TurnDetectionInfo,
      /** The gateway's limits for this session (absent from older gateways). */
      limits: optional(SessionLimits),
    }),
  }),
  object({ type: literal("turn_detection.updated"), turn_detection: TurnDetectionInfo }),
  /** The model is connected and configured (again, after an upstream reconnect). */
  object({ type: literal("session.ready"), session: object({ timestamp }) }),
  /** `audio_start_ms`: where the speech starts in all audio the client sent (ms, 0 = first). */
  object({
    type: literal("speech.started"),
    speech: object({ audio_start_ms: number, timestamp }),
  }),
  /** `audio_end_ms`: where the speech ends in all audio the client sent (ms). */
  object({
    type: literal("speech.stopped"),
    speech: object({ audio_end_ms: number, timestamp }),
  }),
  object({ type: literal("speech.committed"), speech: object({ timestamp }) }),
  object({
    type: literal("input.transcript"),
    transcript: object({ text: string, final: boolean, timestamp }),
  }),
  object({ type: literal("response.started"), response: object({ id: string, timestamp }) }),
  object({
    type: literal("response.transcript"),
    response: object({ item_id: string, transcript: string, timestamp }),
  }),
  object({
    type: literal("response.audio.done"),
    response: object({ item_id: string, timestamp }),
  }),
  object({
    type: literal("response.interrupted"),
    response: object({ item_id: nullable(string), played_ms: number, timestamp }),
  }),
  /** The tools the model may now call on the app (answer to `tools.update`). */
  object({ type: literal("tools.updated"), tools: array(string) }),
  /** The model calls one of the app's tools: answer with `tool.result`. */
  object({
    type: literal("tool.call"),
    tool_call: object({
      call_id: string,
      name: string,
      /** JSON text of the arguments, as the model wrote it. */
      arguments: string,
      timestamp,
    }),
  }),
  /** A `tool.call` no longer wanted (timed out, or the user interrupted): stop working on it. */
  object({
    type: literal("tool.cancelled"),
    tool_cancelled: object({ call_id: string, reason: string, timestamp }),
  }),
]);
/** Every message the gateway sends. */
export type ServerMessage = Infer<typeof ServerMessage>;

/** Error codes the gateway sends in `error` messages. */
export const ERROR_CODES = [
  "invalid_message",
  "rate_limited",
  "message_too_large",
  "upstream_unavailable",
  "upstream_error",
  /** No client message for APP_IDLE_TIMEOUT_MS; closed 1000. */
  "idle_timeout",
  /** The session reached APP_MAX_SESSION_MS; closed 1000. */
  "session_expired",
  /** A fault in the gateway ended this session; closed 1011. */
  "internal_error",
  /** The gateway is shutting down (the end of a drain); closed 1001. */
  "server_shutting_down",
] as const;
/** Error codes the gateway sends in `error` messages. */
export type ErrorCode = typeof ERROR_CODES[number];

/** Error codes after which the gateway closes the connection. */
export const CLOSING_ERROR_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  "upstream_unavailable",
  "message_too_large",
  "idle_timeout",
  "session_expired",
  "internal_error",
  "server_shutting_down",
]);
