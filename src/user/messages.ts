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
import type * as wire from "../protocol/user_api.ts";
import {
  EAGERNESS,
  LANGUAGE_PATTERN,
  MAX_CLIENT_TOOLS,
  MAX_INSTRUCTIONS_CHARS,
  MAX_TOOL_DESCRIPTION_CHARS,
  MAX_TOOL_ERROR_CHARS,
  MAX_TOOL_OUTPUT_CHARS,
  TOOL_NAME_PATTERN,
  VOICES,
} from "../protocol/user_api.ts";

export { MAX_CLIENT_TOOLS, type Voice, VOICES } from "../protocol/user_api.ts";

// ---------------------------------------------------------------------------------------------
// client → gateway

/** A language code such as `en` or `pt-BR`. */
const language = z.string().regex(LANGUAGE_PATTERN, "a language code");

/** `session.update` (seed): voice, language, instructions; temperature is accepted and ignored. */
export const SessionUpdate = z.object({
  type: z.literal("session.update"),
  session_update: z.object({
    voice: z.enum(VOICES).optional(),
    language: language.optional(),
    instructions: z.string().max(MAX_INSTRUCTIONS_CHARS).optional(),
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
    eagerness: z.enum(EAGERNESS).optional(),
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
  response_create: z.object({ instructions: z.string().max(MAX_INSTRUCTIONS_CHARS).optional() })
    .optional(),
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
  name: z.string().regex(TOOL_NAME_PATTERN, "1-64 letters, digits, '_' or '-'"),
  description: z.string().max(MAX_TOOL_DESCRIPTION_CHARS).default(""),
  /** JSON schema of the arguments (an object schema). */
  parameters: z.record(z.string(), z.unknown()).default({ type: "object", properties: {} }),
});
/** A tool the app offers the model. */
export type ClientToolSpec = z.infer<typeof ClientToolSpec>;

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
    output: z.string().max(MAX_TOOL_OUTPUT_CHARS).optional(),
    error: z.string().max(MAX_TOOL_ERROR_CHARS).optional(),
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

/** True when `A` and `B` accept the same values (a compile-time check). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// What this schema accepts is the protocol module's ClientMessage, which clients send: a
// compile error here means the two drifted apart.
true satisfies Same<z.input<typeof ClientMessage>, wire.ClientMessage>;
true satisfies Same<z.input<typeof TurnDetectionSetting>, wire.TurnDetectionSetting>;
true satisfies Same<z.input<typeof ClientToolSpec>, wire.ClientToolSpec>;

/** The client message types, for error messages and docs: read from the schema. */
export const CLIENT_MESSAGE_TYPES: readonly ClientMessage["type"][] = ClientMessage.options.map((
  option,
) => option.shape.type.value);

// ---------------------------------------------------------------------------------------------
// gateway → client: guards and types in the protocol module (the clients check with them)

export {
  CLOSING_ERROR_CODES,
  ERROR_CODES,
  type ErrorCode,
  ServerMessage,
  SessionInfo,
  SessionLimits,
  TurnDetectionInfo,
} from "../protocol/user_api.ts";

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
