/**
 * The OpenAI Realtime GA server events a Bridge consumes (openai-realtime.md §4), as zod
 * schemas with a tolerant fallback: unknown event types and unknown fields pass through.
 */
import { z } from "zod";

const base = { event_id: z.string().optional() };

/** An `error` event's payload (§4.1). */
export const RealtimeError = z.object({
  type: z.string(),
  code: z.string().nullish(),
  message: z.string(),
  param: z.string().nullish(),
  event_id: z.string().nullish(),
});
/** An `error` event's payload. */
export type RealtimeError = z.infer<typeof RealtimeError>;

const Item = z.looseObject({
  id: z.string(),
  type: z.string(),
  role: z.string().optional(),
  status: z.string().optional(),
  name: z.string().optional(),
  call_id: z.string().optional(),
  arguments: z.string().optional(),
  content: z.array(z.looseObject({ type: z.string(), transcript: z.string().nullish() }))
    .optional(),
});
/** A conversation item as the server echoes it (audio bytes omitted). */
export type Item = z.infer<typeof Item>;

const Response = z.looseObject({
  id: z.string(),
  status: z.string(),
  status_details: z.unknown().optional(),
  conversation_id: z.string().nullish(),
  output: z.array(Item).optional(),
  usage: z.unknown().optional(),
  metadata: z.unknown().optional(),
});

const itemRef = {
  response_id: z.string(),
  item_id: z.string(),
  output_index: z.number(),
  content_index: z.number(),
};

/** The server events the Bridge acts on, discriminated on `type`. */
export const ServerEvent = z.discriminatedUnion("type", [
  z.object({ type: z.literal("error"), ...base, error: RealtimeError }),
  z.object({ type: z.literal("session.created"), ...base, session: z.looseObject({}) }),
  z.object({ type: z.literal("session.updated"), ...base, session: z.looseObject({}) }),
  z.object({
    type: z.literal("input_audio_buffer.speech_started"),
    ...base,
    audio_start_ms: z.number(),
    item_id: z.string(),
  }),
  z.object({
    type: z.literal("input_audio_buffer.speech_stopped"),
    ...base,
    audio_end_ms: z.number(),
    item_id: z.string(),
  }),
  z.object({
    type: z.literal("input_audio_buffer.committed"),
    ...base,
    item_id: z.string(),
    previous_item_id: z.string().nullish(),
  }),
  z.object({
    type: z.literal("conversation.item.input_audio_transcription.delta"),
    ...base,
    item_id: z.string(),
    delta: z.string().optional(),
  }),
  z.object({
    type: z.literal("conversation.item.input_audio_transcription.completed"),
    ...base,
    item_id: z.string(),
    transcript: z.string(),
  }),
  z.object({ type: z.literal("response.created"), ...base, response: Response }),
  z.object({ type: z.literal("response.done"), ...base, response: Response }),
  z.object({
    type: z.literal("response.output_item.added"),
    ...base,
    response_id: z.string(),
    output_index: z.number(),
    item: Item,
  }),
  z.object({
    type: z.literal("response.output_item.done"),
    ...base,
    response_id: z.string(),
    output_index: z.number(),
    item: Item,
  }),
  z.object({
    type: z.literal("response.output_audio.delta"),
    ...base,
    ...itemRef,
    delta: z.string(),
  }),
  z.object({ type: z.literal("response.output_audio.done"), ...base, ...itemRef }),
  z.object({
    type: z.literal("response.output_audio_transcript.delta"),
    ...base,
    ...itemRef,
    delta: z.string(),
  }),
  z.object({
    type: z.literal("response.output_audio_transcript.done"),
    ...base,
    ...itemRef,
    transcript: z.string(),
  }),
  z.object({
    type: z.literal("response.output_text.delta"),
    ...base,
    ...itemRef,
    delta: z.string(),
  }),
  z.object({ type: z.literal("response.output_text.done"), ...base, ...itemRef, text: z.string() }),
  z.object({
    type: z.literal("conversation.item.truncated"),
    ...base,
    item_id: z.string(),
    content_index: z.number(),
    audio_end_ms: z.number(),
  }),
]);
/** A server event the Bridge acts on. */
export type ServerEvent = z.infer<typeof ServerEvent>;
/** The `type` of a {@linkcode ServerEvent}. */
export type ServerEventType = ServerEvent["type"];

/** One parsed upstream frame: a known event, or an unknown/ignored one. */
export type ParsedServerEvent =
  | { known: true; event: ServerEvent }
  | { known: false; type: string; error?: string };

const KNOWN = new Set<string>(ServerEvent.options.map((o) => o.shape.type.value));

type DeltaEvent = Extract<
  ServerEvent,
  {
    type:
      | "response.output_audio.delta"
      | "response.output_audio_transcript.delta"
      | "response.output_text.delta";
  }
>;
const DELTA_TYPES: ReadonlySet<string> = new Set<DeltaEvent["type"]>([
  "response.output_audio.delta",
  "response.output_audio_transcript.delta",
  "response.output_text.delta",
]);

/**
 * The hot path: model audio (and its transcript) comes as many small deltas per second per
 * call, so a well-formed delta is checked here by hand — exactly what its schema checks, with
 * the same stripped output — instead of by zod's generic walk. Anything else returns undefined
 * and goes through the schema, which then reports the error as always.
 */
function deltaFastPath(
  type: DeltaEvent["type"],
  raw: Record<string, unknown>,
): DeltaEvent | undefined {
  const { event_id, response_id, item_id, output_index, content_index, delta } = raw;
  if (
    typeof response_id !== "string" || typeof item_id !== "string" ||
    typeof output_index !== "number" || !Number.isFinite(output_index) ||
    typeof content_index !== "number" || !Number.isFinite(content_index) ||
    typeof delta !== "string"
  ) {
    return undefined;
  }
  // The cast: TypeScript cannot tie `type` to its member of the union.
  if (event_id === undefined) {
    return { type, response_id, item_id, output_index, content_index, delta } as DeltaEvent;
  }
  if (typeof event_id !== "string") return undefined;
  return { type, event_id, response_id, item_id, output_index, content_index, delta } as DeltaEvent;
}

/** Parses one upstream text frame; unknown types are returned as such, never thrown. */
export function parseServerEvent(text: string): ParsedServerEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { known: false, type: "", error: "Cannot parse upstream frame: not JSON" };
  }
  const type = typeof raw === "object" && raw !== null && "type" in raw &&
      typeof raw.type === "string"
    ? raw.type
    : "";
  if (!KNOWN.has(type)) return { known: false, type };
  if (DELTA_TYPES.has(type)) {
    const event = deltaFastPath(type as DeltaEvent["type"], raw as Record<string, unknown>);
    if (event) return { known: true, event };
  }
  const parsed = ServerEvent.safeParse(raw);
  if (!parsed.success) {
    return { known: false, type, error: parsed.error.issues[0]?.message ?? "invalid event" };
  }
  return { known: true, event: parsed.data };
}

/**
 * Error codes after which a call cannot go on (§7.2). Not `session_expired`: the session hit
 * its maximum duration, and the call goes on in a new one (§7.2: reconnect).
 */
export const FATAL_ERROR_CODES: ReadonlySet<string> = new Set([
  "invalid_api_key",
  "insufficient_quota",
  "model_not_found",
  "beta_api_shape_disabled",
]);
