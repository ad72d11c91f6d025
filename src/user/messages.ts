/**
 * zod schemas of the user realtime API (seed 001), both directions, plus the gateway's
 * extensions. Seed message shapes are kept exactly; extensions are new message types whose
 * payload sits under the type name with dots as underscores, as the seed does
 * (`session.update` → `session_update`).
 *
 * Unknown fields are stripped, never rejected. Audio fields are plain strings: the handlers
 * check the base64.
 */
import { z } from "zod";

// ---------------------------------------------------------------------------------------------
// client → gateway

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
const language = z.string().regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, "a language code");

/** `session.update` (seed): voice, language, instructions; temperature is accepted and ignored. */
export const SessionUpdate = z.object({
  type: z.literal("session.update"),
  session_update: z.object({
    voice: z.enum(VOICES).optional(),
    language: language.optional(),
    instructions: z.string().max(16_000).optional(),
    /** The GA service has no temperature: accepted for compatibility, ignored. */
    temperature: z.number().optional(),
    /** Mapped to GA `max_output_tokens`. */
    max_response_output_tokens: z.union([z.number().int().min(1).max(4096), z.literal("inf")])
      .optional(),
  }),
});
/** `session.update` (seed). */
export type SessionUpdate = z.infer<typeof SessionUpdate>;

/** The payload of `conversation.item.input` (seed). */
export const ConversationItemInputPayload = z.discriminatedUnion("type", [
  /** At most MAX_TEXT_CHARS characters (checked by the handler: the limit is configured). */
  z.object({ type: z.literal("input_text"), text: z.string().min(1) }),
  /** Base64 PCM16 mono 24 kHz. */
  z.object({ type: z.literal("input_audio_buffer"), audio: z.string().min(1) }),
]);
/** The payload of `conversation.item.input` (seed). */
export type ConversationItemInputPayload = z.infer<typeof ConversationItemInputPayload>;

/** `conversation.item.input` (seed): text, or a chunk of audio. */
export const ConversationItemInput = z.object({
  type: z.literal("conversation.item.input"),
  conversation_item_input: ConversationItemInputPayload,
});
/** `conversation.item.input` (seed). */
export type ConversationItemInput = z.infer<typeof ConversationItemInput>;

/** `ping` (seed); the timestamp is echoed in the `pong`. */
export const Ping = z.object({
  type: z.literal("ping"),
  ping: z.object({ timestamp: z.number().optional() }).optional(),
});
/** `ping` (seed). */
export type Ping = z.infer<typeof Ping>;

/** Turn detection a client may choose (extension). */
export const TurnDetectionSetting = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("server_vad"),
    threshold: z.number().min(0).max(1).optional(),
    prefix_padding_ms: z.number().int().min(0).max(5000).optional(),
    silence_duration_ms: z.number().int().min(0).max(10_000).optional(),
    create_response: z.boolean().optional(),
  }),
  z.object({
    type: z.literal("semantic_vad"),
    eagerness: z.enum(["low", "medium", "high", "auto"]).optional(),
    create_response: z.boolean().optional(),
  }),
  /** Manual turns: the client commits with `input_audio_buffer.commit`. */
  z.object({ type: z.literal("none") }),
]);
/** Turn detection a client may choose (extension). */
export type TurnDetectionSetting = z.infer<typeof TurnDetectionSetting>;

/** `turn_detection.update` (extension): server VAD, semantic VAD or manual turns. */
export const TurnDetectionUpdate = z.object({
  type: z.literal("turn_detection.update"),
  turn_detection_update: TurnDetectionSetting,
});
/** `turn_detection.update` (extension). */
export type TurnDetectionUpdate = z.infer<typeof TurnDetectionUpdate>;

/** `input_audio_buffer.commit` (extension): ends the user's turn; by default asks for a reply. */
export const InputAudioBufferCommit = z.object({
  type: z.literal("input_audio_buffer.commit"),
  input_audio_buffer_commit: z.object({ respond: z.boolean().optional() }).optional(),
});
/** `input_audio_buffer.commit` (extension). */
export type InputAudioBufferCommit = z.infer<typeof InputAudioBufferCommit>;

/** `response.create` (extension): asks the model to speak now, optionally with instructions. */
export const ResponseCreate = z.object({
  type: z.literal("response.create"),
  response_create: z.object({ instructions: z.string().max(16_000).optional() }).optional(),
});
/** `response.create` (extension). */
export type ResponseCreate = z.infer<typeof ResponseCreate>;

/**
 * `response.interrupt` (extension): stop the reply now — cancel generation and truncate the
 * model's memory of it to what was heard. `played_ms` is what the client really played.
 */
export const ResponseInterrupt = z.object({
  type: z.literal("response.interrupt"),
  response_interrupt: z.object({ played_ms: z.number().min(0).max(3_600_000).optional() })
    .optional(),
});
/** `response.interrupt` (extension). */
export type ResponseInterrupt = z.infer<typeof ResponseInterrupt>;

/** A tool the app offers the model (extension): the app runs it when the model calls it. */
export const ClientToolSpec = z.object({
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "1-64 letters, digits, '_' or '-'"),
  description: z.string().max(2048).default(""),
  /** JSON schema of the arguments (an object schema). */
  parameters: z.record(z.string(), z.unknown()).default({ type: "object", properties: {} }),
});
/** A tool the app offers the model. */
export type ClientToolSpec = z.infer<typeof ClientToolSpec>;

/** Most tools one app session may declare. */
export const MAX_CLIENT_TOOLS = 32;

/** `tools.update` (extension): the app's tools, replacing any declared before. */
export const ToolsUpdate = z.object({
  type: z.literal("tools.update"),
  tools_update: z.object({ tools: z.array(ClientToolSpec).max(MAX_CLIENT_TOOLS) }),
});
/** `tools.update` (extension). */
export type ToolsUpdate = z.infer<typeof ToolsUpdate>;

/** `tool.result` (extension): the answer to a `tool.call`, or why the tool failed. */
export const ToolResult = z.object({
  type: z.literal("tool.result"),
  tool_result: z.object({
    call_id: z.string().min(1).max(128),
    /** What the model is told (JSON text is best); at most 16,000 characters. */
    output: z.string().max(16_000).optional(),
    error: z.string().max(2000).optional(),
  }),
});
/** `tool.result` (extension). */
export type ToolResult = z.infer<typeof ToolResult>;

/** Every message a client may send, discriminated on `type`. */
export const ClientMessage = z.discriminatedUnion("type", [
  SessionUpdate,
  ConversationItemInput,
  Ping,
  TurnDetectionUpdate,
  InputAudioBufferCommit,
  ResponseCreate,
  ResponseInterrupt,
  ToolsUpdate,
  ToolResult,
]);
/** Every message a client may send. */
export type ClientMessage = z.infer<typeof ClientMessage>;

/** The client message types, for error messages and docs. */
export const CLIENT_MESSAGE_TYPES: readonly ClientMessage["type"][] = [
  "session.update",
  "conversation.item.input",
  "ping",
  "turn_detection.update",
  "input_audio_buffer.commit",
  "response.create",
  "response.interrupt",
  "tools.update",
  "tool.result",
];

// ---------------------------------------------------------------------------------------------
// gateway → client

/** Seconds since the epoch with milliseconds, as the seed's `timestamp` fields. */
const timestamp = z.number();

/** What the gateway tells a client about its session. */
export const SessionInfo = z.object({
  id: z.string(),
  voice: z.string(),
  language: z.string(),
});
/** What the gateway tells a client about its session. */
export type SessionInfo = z.infer<typeof SessionInfo>;

/** The effective turn detection (`type: "none"` for manual turns). */
export const TurnDetectionInfo = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("server_vad"),
    threshold: z.number(),
    prefix_padding_ms: z.number(),
    silence_duration_ms: z.number(),
    create_response: z.boolean(),
  }),
  z.object({
    type: z.literal("semantic_vad"),
    eagerness: z.enum(["low", "medium", "high", "auto"]),
    create_response: z.boolean(),
  }),
  z.object({ type: z.literal("none") }),
]);
/** The effective turn detection. */
export type TurnDetectionInfo = z.infer<typeof TurnDetectionInfo>;

/** Limits a session runs under, so that clients can stay within them. */
export const SessionLimits = z.object({
  /** Longest `input_text`, characters. */
  max_text_chars: z.number(),
  /** The session is closed (`idle_timeout`) after this long without a client message. */
  idle_timeout_ms: z.number(),
  /** The session is closed (`session_expired`) this long after it opened. */
  max_session_ms: z.number(),
});
/** Limits a session runs under. */
export type SessionLimits = z.infer<typeof SessionLimits>;

/** Every message the gateway sends, discriminated on `type`. */
export const ServerMessage = z.discriminatedUnion("type", [
  // seed
  z.object({ type: z.literal("session.update"), session: SessionInfo }),
  z.object({
    type: z.literal("response.audio"),
    response: z.object({ audio: z.string(), timestamp }),
  }),
  z.object({
    type: z.literal("response.delta"),
    response: z.object({ delta: z.object({ content: z.string() }), timestamp }),
  }),
  z.object({
    type: z.literal("response.done"),
    response: z.object({
      usage: z.object({ input_tokens: z.number(), output_tokens: z.number() }),
      timestamp,
    }),
  }),
  z.object({
    type: z.literal("error"),
    error: z.object({ code: z.string(), message: z.string() }),
  }),
  z.object({ type: z.literal("pong"), timestamp }),
  // extensions
  z.object({
    type: z.literal("session.created"),
    session: SessionInfo.extend({
      model: z.string(),
      turn_detection: TurnDetectionInfo,
      /** The gateway's limits for this session (absent from older gateways). */
      limits: SessionLimits.optional(),
    }),
  }),
  z.object({ type: z.literal("turn_detection.updated"), turn_detection: TurnDetectionInfo }),
  /** The model is connected and configured (again, after an upstream reconnect). */
  z.object({ type: z.literal("session.ready"), session: z.object({ timestamp }) }),
  /** `audio_start_ms`: where the speech starts in all audio the client sent (ms, 0 = first). */
  z.object({
    type: z.literal("speech.started"),
    speech: z.object({ audio_start_ms: z.number(), timestamp }),
  }),
  /** `audio_end_ms`: where the speech ends in all audio the client sent (ms). */
  z.object({
    type: z.literal("speech.stopped"),
    speech: z.object({ audio_end_ms: z.number(), timestamp }),
  }),
  z.object({ type: z.literal("speech.committed"), speech: z.object({ timestamp }) }),
  z.object({
    type: z.literal("input.transcript"),
    transcript: z.object({ text: z.string(), final: z.boolean(), timestamp }),
  }),
  z.object({
    type: z.literal("response.started"),
    response: z.object({ id: z.string(), timestamp }),
  }),
  z.object({
    type: z.literal("response.transcript"),
    response: z.object({ item_id: z.string(), transcript: z.string(), timestamp }),
  }),
  z.object({
    type: z.literal("response.audio.done"),
    response: z.object({ item_id: z.string(), timestamp }),
  }),
  z.object({
    type: z.literal("response.interrupted"),
    response: z.object({ item_id: z.string().nullable(), played_ms: z.number(), timestamp }),
  }),
  /** The tools the model may now call on the app (answer to `tools.update`). */
  z.object({ type: z.literal("tools.updated"), tools: z.array(z.string()) }),
  /** The model calls one of the app's tools: answer with `tool.result`. */
  z.object({
    type: z.literal("tool.call"),
    tool_call: z.object({
      call_id: z.string(),
      name: z.string(),
      /** JSON text of the arguments, as the model wrote it. */
      arguments: z.string(),
      timestamp,
    }),
  }),
  /** A `tool.call` no longer wanted (timed out, or the user interrupted): stop working on it. */
  z.object({
    type: z.literal("tool.cancelled"),
    tool_cancelled: z.object({ call_id: z.string(), reason: z.string(), timestamp }),
  }),
]);
/** Every message the gateway sends. */
export type ServerMessage = z.infer<typeof ServerMessage>;

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

/** A parse result: the message, or why it was refused (safe to show the client). */
export type ParsedClientFrame =
  | { readonly ok: true; readonly message: ClientMessage }
  | { readonly ok: false; readonly error: string };

const KNOWN_TYPES: ReadonlySet<string> = new Set(CLIENT_MESSAGE_TYPES);

/** Parses one text frame from a client. */
export function parseClientFrame(text: string): ParsedClientFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: "Cannot parse message: not valid JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, error: "Cannot parse message: expected a JSON object" };
  }
  const type = "type" in value ? value.type : undefined;
  if (typeof type !== "string") {
    return { ok: false, error: 'Cannot parse message: the "type" field is missing' };
  }
  if (!KNOWN_TYPES.has(type)) {
    return {
      ok: false,
      error: `Cannot handle message: unknown type ${JSON.stringify(type.slice(0, 64))}`,
    };
  }
  const parsed = ClientMessage.safeParse(value);
  if (parsed.success) return { ok: true, message: parsed.data };
  const issue = parsed.error.issues[0];
  const path = issue?.path.map(String).join(".") || "message";
  return {
    ok: false,
    error: `Cannot handle ${type}: ${path} is invalid (${issue?.message ?? "bad value"})`,
  };
}
