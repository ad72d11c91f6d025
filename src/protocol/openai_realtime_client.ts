/**
 * zod schemas of the OpenAI Realtime GA client events (§3 of the protocol reference) and of the
 * session object they carry (§2.1). Strict objects: unknown fields, such as beta-era
 * `session.modalities`, are refused as `unknown_parameter` like the service does (§7.2).
 * The local engine (`src/local/`) validates what it receives with them; their types are the
 * client events any sender of this wire can use.
 */
import { z } from "zod";

// ---------------------------------------------------------------------------------------------
// Session pieces

/** A GA audio format object (§2.2). */
export const AudioFormatSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("audio/pcm"), rate: z.literal(24000).optional() }),
  z.strictObject({ type: z.literal("audio/pcmu") }),
  z.strictObject({ type: z.literal("audio/pcma") }),
]);

/** Voices the GA service accepts, or a custom voice reference. */
export const Voice = z.union([
  z.enum(["alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"]),
  z.strictObject({ id: z.string() }),
]);
/** A voice name or custom voice reference. */
export type Voice = z.infer<typeof Voice>;

/** `audio.input.turn_detection` (§2.3); `null` means manual turns. */
export const TurnDetection = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("server_vad"),
    threshold: z.number().min(0).max(1).optional(),
    prefix_padding_ms: z.int().min(0).optional(),
    silence_duration_ms: z.int().min(0).optional(),
    create_response: z.boolean().optional(),
    interrupt_response: z.boolean().optional(),
    idle_timeout_ms: z.int().min(0).nullable().optional(),
    model_version: z.string().optional(),
  }),
  z.strictObject({
    type: z.literal("semantic_vad"),
    eagerness: z.enum(["low", "medium", "high", "auto"]).optional(),
    create_response: z.boolean().optional(),
    interrupt_response: z.boolean().optional(),
    model_version: z.string().optional(),
  }),
]);
/** `audio.input.turn_detection` as sent. */
export type TurnDetection = z.infer<typeof TurnDetection>;

/** `audio.input.transcription` (§2.4). */
export const Transcription = z.strictObject({
  model: z.string().optional(),
  language: z.string().nullable().optional(),
  languages: z.array(z.string()).nullable().optional(),
  prompt: z.string().nullable().optional(),
  keywords: z.array(z.string()).nullable().optional(),
  delay: z.enum(["minimal", "low", "medium", "high", "xhigh"]).nullable().optional(),
});

/** A function tool (§2.6). */
export const FunctionTool = z.strictObject({
  type: z.literal("function"),
  name: z.string().min(1),
  description: z.string().optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
  strict: z.boolean().optional(),
});
/** A function tool. */
export type FunctionTool = z.infer<typeof FunctionTool>;

/** A tool: function, or MCP (accepted and echoed; the engine never calls MCP servers). */
export const Tool = z.discriminatedUnion("type", [
  FunctionTool,
  z.looseObject({ type: z.literal("mcp"), server_label: z.string() }),
]);
/** A tool. */
export type Tool = z.infer<typeof Tool>;

/** `tool_choice`. */
export const ToolChoice = z.union([
  z.enum(["auto", "none", "required"]),
  z.strictObject({ type: z.literal("function"), name: z.string() }),
  z.strictObject({ type: z.literal("mcp"), server_label: z.string(), name: z.string().optional() }),
]);
/** `tool_choice`. */
export type ToolChoice = z.infer<typeof ToolChoice>;

const MaxOutputTokens = z.union([z.int().min(1).max(4096), z.literal("inf")]);
const OutputModalities = z.array(z.enum(["audio", "text"])).min(1).max(1);

/** What a session and a single response both set: tools, reasoning, output length. */
const ModelSettings = {
  tools: z.array(Tool).optional(),
  tool_choice: ToolChoice.optional(),
  parallel_tool_calls: z.boolean().optional(),
  reasoning: z.strictObject({
    effort: z.enum(["minimal", "low", "medium", "high", "xhigh"]).optional(),
  }).nullable().optional(),
  max_output_tokens: MaxOutputTokens.optional(),
};

/** The GA `session` object of `session.update` (§2.1). */
export const SessionPatch = z.strictObject({
  type: z.enum(["realtime", "transcription"]),
  model: z.string().optional(),
  instructions: z.string().optional(),
  output_modalities: OutputModalities.optional(),
  audio: z.strictObject({
    input: z.strictObject({
      format: AudioFormatSchema.optional(),
      transcription: Transcription.nullable().optional(),
      noise_reduction: z.strictObject({ type: z.enum(["near_field", "far_field"]) }).nullable()
        .optional(),
      turn_detection: TurnDetection.nullable().optional(),
    }).optional(),
    output: z.strictObject({
      format: AudioFormatSchema.optional(),
      voice: Voice.optional(),
      speed: z.number().min(0.25).max(1.5).optional(),
    }).optional(),
  }).optional(),
  ...ModelSettings,
  truncation: z.union([
    z.enum(["auto", "disabled"]),
    z.strictObject({
      type: z.literal("retention_ratio"),
      retention_ratio: z.number().min(0).max(1),
      token_limits: z.strictObject({ post_instructions: z.int().min(0).optional() }).optional(),
    }),
  ]).optional(),
  tracing: z.union([
    z.literal("auto"),
    z.strictObject({
      workflow_name: z.string().optional(),
      group_id: z.string().optional(),
      metadata: z.record(z.string(), z.unknown()).optional(),
    }),
  ]).nullable().optional(),
  prompt: z.strictObject({
    id: z.string(),
    version: z.string().optional(),
    variables: z.record(z.string(), z.unknown()).optional(),
  }).nullable().optional(),
  include: z.array(z.enum(["item.input_audio_transcription.logprobs"])).nullable().optional(),
  // Read-only fields a client may echo back from session.created; ignored.
  id: z.string().optional(),
  object: z.literal("realtime.session").optional(),
  expires_at: z.number().optional(),
});
/** The `session` object of `session.update`. */
export type SessionPatch = z.infer<typeof SessionPatch>;

// ---------------------------------------------------------------------------------------------
// Items (§3.5)

const ItemCommon = {
  id: z.string().min(1).max(64).optional(),
  object: z.literal("realtime.item").optional(),
  status: z.enum(["completed", "incomplete", "in_progress"]).optional(),
};

/** A content part of a message item. */
export const ContentPart = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("input_text"), text: z.string() }),
  z.strictObject({
    type: z.literal("input_audio"),
    audio: z.string().optional(),
    transcript: z.string().nullable().optional(),
  }),
  z.strictObject({
    type: z.literal("input_image"),
    image_url: z.string().optional(),
    detail: z.enum(["auto", "low", "high"]).optional(),
  }),
  z.strictObject({ type: z.literal("output_text"), text: z.string() }),
  z.strictObject({
    type: z.literal("output_audio"),
    audio: z.string().optional(),
    transcript: z.string().nullable().optional(),
  }),
]);
/** A content part. */
export type ContentPart = z.infer<typeof ContentPart>;

/** An item a client may create (§3.5). */
export const ItemInput = z.discriminatedUnion("type", [
  z.strictObject({
    ...ItemCommon,
    type: z.literal("message"),
    role: z.enum(["system", "user", "assistant"]),
    content: z.array(ContentPart),
  }),
  z.strictObject({
    ...ItemCommon,
    type: z.literal("function_call"),
    name: z.string(),
    arguments: z.string(),
    call_id: z.string().optional(),
  }),
  z.strictObject({
    ...ItemCommon,
    type: z.literal("function_call_output"),
    call_id: z.string(),
    output: z.string(),
  }),
  z.strictObject({
    ...ItemCommon,
    type: z.literal("mcp_approval_response"),
    approval_request_id: z.string(),
    approve: z.boolean(),
    reason: z.string().nullable().optional(),
  }),
]);
/** An item a client may create. */
export type ItemInput = z.infer<typeof ItemInput>;

/** An entry of `response.input`: an item or a reference to one. */
export const ResponseInputEntry = z.union([
  z.strictObject({ type: z.literal("item_reference"), id: z.string() }),
  ItemInput,
]);
/** An entry of `response.input`. */
export type ResponseInputEntry = z.infer<typeof ResponseInputEntry>;

/** Per-response overrides of `response.create` (§3.9). */
export const ResponseParams = z.strictObject({
  instructions: z.string().optional(),
  output_modalities: OutputModalities.optional(),
  audio: z.strictObject({
    output: z.strictObject({
      format: AudioFormatSchema.optional(),
      voice: Voice.optional(),
    }).optional(),
  }).optional(),
  ...ModelSettings,
  conversation: z.enum(["auto", "none"]).optional(),
  input: z.array(ResponseInputEntry).optional(),
  metadata: z.record(z.string().max(64), z.string().max(512)).nullable().optional(),
  prompt: z.strictObject({
    id: z.string(),
    version: z.string().optional(),
    variables: z.record(z.string(), z.unknown()).optional(),
  }).nullable().optional(),
});
/** Per-response overrides. */
export type ResponseParams = z.infer<typeof ResponseParams>;

// ---------------------------------------------------------------------------------------------
// Client events

const eventId = z.string().optional();

/** `session.update`; `session` is validated separately so errors name the right field. */
export const SessionUpdate = z.strictObject({
  type: z.literal("session.update"),
  event_id: eventId,
  session: z.record(z.string(), z.unknown()),
});

/** `input_audio_buffer.append`. */
export const InputAudioBufferAppend = z.strictObject({
  type: z.literal("input_audio_buffer.append"),
  event_id: eventId,
  audio: z.string(),
});

/** `input_audio_buffer.commit`. */
export const InputAudioBufferCommit = z.strictObject({
  type: z.literal("input_audio_buffer.commit"),
  event_id: eventId,
});

/** `input_audio_buffer.clear`. */
export const InputAudioBufferClear = z.strictObject({
  type: z.literal("input_audio_buffer.clear"),
  event_id: eventId,
});

/** `output_audio_buffer.clear` (WebRTC/SIP only). */
export const OutputAudioBufferClear = z.strictObject({
  type: z.literal("output_audio_buffer.clear"),
  event_id: eventId,
});

/** `conversation.item.create`. */
export const ConversationItemCreate = z.strictObject({
  type: z.literal("conversation.item.create"),
  event_id: eventId,
  previous_item_id: z.string().nullable().optional(),
  item: ItemInput,
});

/** `conversation.item.truncate`. */
export const ConversationItemTruncate = z.strictObject({
  type: z.literal("conversation.item.truncate"),
  event_id: eventId,
  item_id: z.string(),
  content_index: z.int().min(0),
  audio_end_ms: z.int().min(0),
});

/** `conversation.item.delete`. */
export const ConversationItemDelete = z.strictObject({
  type: z.literal("conversation.item.delete"),
  event_id: eventId,
  item_id: z.string(),
});

/** `conversation.item.retrieve`. */
export const ConversationItemRetrieve = z.strictObject({
  type: z.literal("conversation.item.retrieve"),
  event_id: eventId,
  item_id: z.string(),
});

/** `response.create`. */
export const ResponseCreate = z.strictObject({
  type: z.literal("response.create"),
  event_id: eventId,
  response: ResponseParams.optional(),
});

/** `response.cancel`. */
export const ResponseCancel = z.strictObject({
  type: z.literal("response.cancel"),
  event_id: eventId,
  response_id: z.string().optional(),
});

/** Every GA client event. */
export const ClientEvent = z.discriminatedUnion("type", [
  SessionUpdate,
  InputAudioBufferAppend,
  InputAudioBufferCommit,
  InputAudioBufferClear,
  OutputAudioBufferClear,
  ConversationItemCreate,
  ConversationItemTruncate,
  ConversationItemDelete,
  ConversationItemRetrieve,
  ResponseCreate,
  ResponseCancel,
]);
/** Every GA client event. */
export type ClientEvent = z.infer<typeof ClientEvent>;

/** The client event type names. */
export type ClientEventType = ClientEvent["type"];

/** One schema per event type, so parsing is a map lookup rather than a union scan. */
export const CLIENT_EVENT_SCHEMAS: {
  readonly [K in ClientEventType]: z.ZodType<Extract<ClientEvent, { type: K }>>;
} = {
  "session.update": SessionUpdate,
  "input_audio_buffer.append": InputAudioBufferAppend,
  "input_audio_buffer.commit": InputAudioBufferCommit,
  "input_audio_buffer.clear": InputAudioBufferClear,
  "output_audio_buffer.clear": OutputAudioBufferClear,
  "conversation.item.create": ConversationItemCreate,
  "conversation.item.truncate": ConversationItemTruncate,
  "conversation.item.delete": ConversationItemDelete,
  "conversation.item.retrieve": ConversationItemRetrieve,
  "response.create": ResponseCreate,
  "response.cancel": ResponseCancel,
};

/** Whether `type` names a client event. */
export function isClientEventType(type: string): type is ClientEventType {
  return Object.hasOwn(CLIENT_EVENT_SCHEMAS, type);
}
