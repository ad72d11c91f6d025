/**
 * What a call needs to continue on another instance: the record written to Redis at call start
 * and at turn boundaries (never per frame), bounded in size.
 */
import { z } from "zod";
import { AUDIOCODES_FORMATS } from "../protocol/media_format.ts";

/** The phone agent's state that a takeover carries (greeting, play streams, DTMF, prompt). */
export const AgentSnapshot = z.object({
  /** The greeting was asked for (the `start` activity arrived): never greet twice. */
  started: z.boolean(),
  /** Play streams opened so far; a resumed call goes on with new stream ids. */
  streams: z.number().int().min(0),
  /** DTMF digits collected and not yet sent (collect mode). */
  dtmfDigits: z.string().max(1024),
  /** The instructions in force (the template filled from the call data). */
  instructions: z.string(),
  /** The conversation the Bridge replays to a new upstream session. */
  history: z.array(z.object({
    role: z.enum(["user", "assistant"]),
    text: z.string(),
  })),
});
export type AgentSnapshot = z.infer<typeof AgentSnapshot>;

/** One call as the registry keeps it. */
export const CallRecord = z.object({
  conversationId: z.string().min(1),
  mediaFormat: z.enum(AUDIOCODES_FORMATS),
  caller: z.string().optional(),
  botName: z.string().optional(),
  /** Call data from the `start` activity, already bounded by the shell. */
  callData: z.record(z.string(), z.unknown()).optional(),
  /** When the call began (epoch ms). */
  createdAt: z.number(),
  /** When this record was written (epoch ms). */
  savedAt: z.number(),
  agent: AgentSnapshot.optional(),
});
export type CallRecord = z.infer<typeof CallRecord>;

/** Largest serialised record; the oldest history turns go first to fit. */
export const MAX_RECORD_CHARS = 64 * 1024;

/** Serialises a record within {@linkcode MAX_RECORD_CHARS}, dropping the oldest history. */
export function encodeRecord(record: CallRecord, maxChars = MAX_RECORD_CHARS): string {
  let text = JSON.stringify(record);
  if (text.length <= maxChars) return text;
  const history = [...(record.agent?.history ?? [])];
  while (text.length > maxChars && history.length > 0) {
    // Drop about as many turns as the overflow needs, at least one, then measure again.
    const over = text.length - maxChars;
    let cut = 0;
    let freed = 0;
    while (cut < history.length && freed < over) freed += history[cut++]!.text.length + 40;
    history.splice(0, Math.max(1, cut));
    text = JSON.stringify({ ...record, agent: { ...record.agent!, history } });
  }
  if (text.length <= maxChars) return text;
  // Still too big (huge call data): keep what a takeover cannot do without.
  const { callData: _dropped, ...rest } = record;
  return JSON.stringify({
    ...rest,
    ...(record.agent ? { agent: { ...record.agent, history } } : {}),
  });
}

/** Parses a stored record; undefined when it is missing or not one of ours. */
export function decodeRecord(text: string | null | undefined): CallRecord | undefined {
  if (!text) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = CallRecord.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}
