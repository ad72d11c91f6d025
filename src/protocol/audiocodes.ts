/**
 * zod schemas of the AudioCodes Bot API (WebSocket streaming mode), both directions.
 *
 * Wire names stay as on the wire. Unknown fields are stripped, never rejected (§1.4).
 * Audio fields are plain strings: base64 is checked by `isBase64` (./base64.ts) where needed.
 */
import { z } from "zod";

// ---------------------------------------------------------------------------------------------
// VAIC → bot

const conversationId = z.string().min(1);

/** One activity object (§3.1). */
export const Activity = z.object({
  type: z.string(),
  name: z.string().optional(),
  text: z.string().optional(),
  value: z.unknown().optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
  id: z.string().optional(),
  timestamp: z.string().optional(),
  language: z.string().optional(),
});
/** One activity object (§3.1). */
export type Activity = z.infer<typeof Activity>;

/** `session.initiate` (§2.1). */
export const SessionInitiate = z.object({
  type: z.literal("session.initiate"),
  conversationId,
  expectAudioMessages: z.boolean().optional(),
  supportedMediaFormats: z.array(z.string()),
  botName: z.string().optional(),
  caller: z.string().optional(),
  participant: z.string().optional(),
});
/** `session.initiate` (§2.1). */
export type SessionInitiate = z.infer<typeof SessionInitiate>;

/** `session.resume` (§2.2). */
export const SessionResume = z.object({
  type: z.literal("session.resume"),
  conversationId,
  supportedMediaFormats: z.array(z.string()).optional(),
});
/** `session.resume` (§2.2). */
export type SessionResume = z.infer<typeof SessionResume>;

/** `session.end` (§2.3); reason fields are optional in practice. */
export const SessionEnd = z.object({
  type: z.literal("session.end"),
  conversationId: conversationId.optional(),
  reasonCode: z.string().optional(),
  reason: z.string().optional(),
});
/** `session.end` (§2.3). */
export type SessionEnd = z.infer<typeof SessionEnd>;

/** `connection.validate` (§2.4). */
export const ConnectionValidate = z.object({
  type: z.literal("connection.validate"),
  conversationId: conversationId.optional(),
});
/** `connection.validate` (§2.4). */
export type ConnectionValidate = z.infer<typeof ConnectionValidate>;

/** `userStream.start` (§2.5). */
export const UserStreamStart = z.object({
  type: z.literal("userStream.start"),
  conversationId: conversationId.optional(),
  participant: z.string().optional(),
});
/** `userStream.start` (§2.5). */
export type UserStreamStart = z.infer<typeof UserStreamStart>;

/** `userStream.chunk` (§2.6). */
export const UserStreamChunk = z.object({
  type: z.literal("userStream.chunk"),
  conversationId: conversationId.optional(),
  audioChunk: z.string(),
  participant: z.string().optional(),
});
/** `userStream.chunk` (§2.6). */
export type UserStreamChunk = z.infer<typeof UserStreamChunk>;

/** `userStream.stop` (§2.7). */
export const UserStreamStop = z.object({
  type: z.literal("userStream.stop"),
  conversationId: conversationId.optional(),
  participant: z.string().optional(),
});
/** `userStream.stop` (§2.7). */
export type UserStreamStop = z.infer<typeof UserStreamStop>;

/** `activities` from VAIC (§2.8). */
export const InboundActivities = z.object({
  type: z.literal("activities"),
  conversationId: conversationId.optional(),
  activities: z.array(Activity),
});
/** `activities` from VAIC (§2.8). */
export type InboundActivities = z.infer<typeof InboundActivities>;

/** Every message VAIC sends, discriminated on `type`. */
export const VaicMessage = z.discriminatedUnion("type", [
  SessionInitiate,
  SessionResume,
  SessionEnd,
  ConnectionValidate,
  UserStreamStart,
  UserStreamChunk,
  UserStreamStop,
  InboundActivities,
]);
/** Every message VAIC sends. */
export type VaicMessage = z.infer<typeof VaicMessage>;

/** The `type` values of {@linkcode VaicMessage}. */
export type VaicMessageType = VaicMessage["type"];

/**
 * The known inbound `type` values, for telling "unknown type" from "bad fields": read from the
 * schema, so a message added to {@linkcode VaicMessage} is known at once.
 */
export const VAIC_MESSAGE_TYPES: readonly VaicMessageType[] = VaicMessage.options.map((option) =>
  option.shape.type.value
);

const KNOWN_TYPES: ReadonlySet<string> = new Set(VAIC_MESSAGE_TYPES);

// ---------------------------------------------------------------------------------------------
// bot → VAIC

/** `session.accepted` (§2.9). */
export const SessionAccepted = z.object({
  type: z.literal("session.accepted"),
  mediaFormat: z.string(),
});

/** `session.error` (§2.10). */
export const SessionError = z.object({
  type: z.literal("session.error"),
  reason: z.string(),
  conversationId: z.string().optional(),
});

/** `connection.validated` (§2.11). */
export const ConnectionValidated = z.object({
  type: z.literal("connection.validated"),
  success: z.boolean(),
});

const withParticipant = { participant: z.string().optional() };

/** `userStream.started` (§2.12). */
export const UserStreamStarted = z.object({
  type: z.literal("userStream.started"),
  ...withParticipant,
});
/** `userStream.stopped` (§2.13). */
export const UserStreamStopped = z.object({
  type: z.literal("userStream.stopped"),
  ...withParticipant,
});
/** `userStream.speech.started` (§2.14). */
export const SpeechStarted = z.object({
  type: z.literal("userStream.speech.started"),
  ...withParticipant,
});
/** `userStream.speech.stopped` (§2.15). */
export const SpeechStopped = z.object({
  type: z.literal("userStream.speech.stopped"),
  ...withParticipant,
});
/** `userStream.speech.committed` (§2.16). */
export const SpeechCommitted = z.object({
  type: z.literal("userStream.speech.committed"),
  ...withParticipant,
});
const Alternative = z.object({ text: z.string(), confidence: z.number().optional() });
/** `userStream.speech.hypothesis` (§2.17). */
export const SpeechHypothesis = z.object({
  type: z.literal("userStream.speech.hypothesis"),
  alternatives: z.array(Alternative).min(1),
  ...withParticipant,
});
/** `userStream.speech.recognition` (§2.18). */
export const SpeechRecognition = z.object({
  type: z.literal("userStream.speech.recognition"),
  alternatives: z.array(Alternative).min(1),
  ...withParticipant,
});
/** `playStream.start` (§2.19). */
export const PlayStreamStart = z.object({
  type: z.literal("playStream.start"),
  streamId: z.string().min(1),
  mediaFormat: z.string(),
  altText: z.string().optional(),
  activityParams: z.record(z.string(), z.unknown()).optional(),
});
/** `playStream.chunk` (§2.20). */
export const PlayStreamChunk = z.object({
  type: z.literal("playStream.chunk"),
  streamId: z.string().min(1),
  audioChunk: z.string(),
});
/** `playStream.stop` (§2.21). */
export const PlayStreamStop = z.object({
  type: z.literal("playStream.stop"),
  streamId: z.string().min(1),
});
/** An activity the bot sends (§3.3). */
export const OutboundActivity = z.object({
  type: z.enum(["event", "message"]),
  name: z.string().optional(),
  text: z.string().optional(),
  value: z.unknown().optional(),
  activityParams: z.record(z.string(), z.unknown()).optional(),
  sessionParams: z.record(z.string(), z.unknown()).optional(),
});
/** `activities` from the bot (§2.22). */
export const OutboundActivities = z.object({
  type: z.literal("activities"),
  activities: z.array(OutboundActivity).min(1),
});

/** Every message the bot sends, discriminated on `type`. */
export const BotMessage = z.discriminatedUnion("type", [
  SessionAccepted,
  SessionError,
  ConnectionValidated,
  UserStreamStarted,
  UserStreamStopped,
  SpeechStarted,
  SpeechStopped,
  SpeechCommitted,
  SpeechHypothesis,
  SpeechRecognition,
  PlayStreamStart,
  PlayStreamChunk,
  PlayStreamStop,
  OutboundActivities,
]);
/** Every message the bot sends. */
export type BotMessage = z.infer<typeof BotMessage>;

// ---------------------------------------------------------------------------------------------
// parsing at the edge

/** The outcome of parsing one inbound text frame. */
export type ParsedFrame =
  | { ok: true; message: VaicMessage }
  | { ok: false; kind: "json"; error: string }
  | { ok: false; kind: "unknown-type"; type: string }
  | { ok: false; kind: "invalid"; type: string; error: string };

/** Parses one text frame from VAIC; never throws. */
export function parseVaicFrame(text: string): ParsedFrame {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    return { ok: false, kind: "json", error: `Cannot parse frame: ${(cause as Error).message}` };
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return { ok: false, kind: "json", error: "Cannot parse frame: not a JSON object" };
  }
  const type = (raw as { type?: unknown }).type;
  if (typeof type !== "string") {
    return { ok: false, kind: "invalid", type: "", error: "Cannot parse frame: no string type" };
  }
  if (type === "userStream.chunk") {
    const chunk = chunkFastPath(raw as Record<string, unknown>);
    if (chunk) return { ok: true, message: chunk };
  } else if (!KNOWN_TYPES.has(type)) {
    return { ok: false, kind: "unknown-type", type };
  }
  const parsed = VaicMessage.safeParse(raw);
  if (parsed.success) return { ok: true, message: parsed.data };
  const issue = parsed.error.issues[0];
  return {
    ok: false,
    kind: "invalid",
    type,
    error: `Invalid ${type}: ${issue?.path.join(".") || "message"}: ${issue?.message}`,
  };
}

/**
 * The hot path: caller audio comes 50 frames a second per call, so a well-formed
 * `userStream.chunk` is checked here by hand — exactly what {@linkcode UserStreamChunk} checks,
 * with the same stripped output — instead of by zod's generic walk. Anything else returns
 * undefined and goes through the schema, which then reports the error as always.
 */
function chunkFastPath(raw: Record<string, unknown>): UserStreamChunk | undefined {
  const { conversationId, audioChunk, participant } = raw;
  if (typeof audioChunk !== "string") return undefined;
  if (conversationId === undefined) {
    if (participant === undefined) return { type: "userStream.chunk", audioChunk };
    if (typeof participant !== "string") return undefined;
    return { type: "userStream.chunk", audioChunk, participant };
  }
  if (typeof conversationId !== "string" || conversationId.length === 0) return undefined;
  if (participant === undefined) return { type: "userStream.chunk", conversationId, audioChunk };
  if (typeof participant !== "string") return undefined;
  return { type: "userStream.chunk", conversationId, audioChunk, participant };
}
