/** What the simulator receives from the bot, and the protocol checks on it (§2, §4, §9.4). */
import { z } from "zod";
import { BotMessage } from "../../protocol/audiocodes.ts";
import { base64ByteLength, isBase64 } from "../../protocol/base64.ts";
import { fromBase64 } from "../../audio/pcm.ts";
import type { TimelineEntry } from "./types.ts";
import type { CallCore, StreamState } from "./call_core.ts";
import type { Pending } from "./vaic_connection.ts";

const Typed = z.object({ type: z.string() });

/** Records and checks one frame from the gateway, then wakes the script's waits. */
export function onBotMessage(call: CallCore, data: unknown): void {
  if (typeof data !== "string") {
    call.entry({ direction: "received", type: "binary" });
    call.violation("Received a binary frame: the Bot API uses JSON text frames only (§1.4)");
    return;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    call.entry({ direction: "received", type: "invalid", detail: { text: data.slice(0, 80) } });
    call.violation(`Invalid bot message: not JSON: ${JSON.stringify(data.slice(0, 60))}`);
    return;
  }
  const parsed = BotMessage.safeParse(raw);
  if (!parsed.success) {
    const typed = Typed.safeParse(raw);
    const type = typed.success ? typed.data.type : "invalid";
    call.entry({ direction: "received", type, detail: { invalid: true } });
    const issue = parsed.error.issues[0];
    const why = !typed.success
      ? "no string type"
      : issue?.code === "invalid_union" && issue.path.join(".") === "type"
      ? `unknown type "${type}"`
      : `${type}: ${issue?.path.join(".") || "message"}: ${issue?.message}`;
    call.violation(`Invalid bot message: ${why}`);
    return;
  }
  const message = parsed.data;
  let entry: TimelineEntry;
  if (message.type === "playStream.chunk") {
    entry = call.entry({
      direction: "received",
      type: message.type,
      streamId: message.streamId,
      bytes: isBase64(message.audioChunk) ? base64ByteLength(message.audioChunk) : 0,
    });
  } else {
    const { type, ...detail } = message;
    entry = call.entry({
      direction: "received",
      type,
      detail,
      ...("streamId" in message ? { streamId: message.streamId } : {}),
    });
  }
  // A reply to a request still pending was sent before the bot saw our session.end.
  const answersPending = (message.type === "userStream.started" && call.pending === "started") ||
    (message.type === "userStream.stopped" && call.pending === "stopped");
  if (!answersPending) {
    if (call.botHungUp) {
      call.violation(`Received ${message.type} after the bot's hangup activity (§9.4)`);
    } else if (call.sentEnd) {
      call.violation(`Received ${message.type} after session.end (§9.4)`);
    }
  }
  handleBotMessage(call, message, entry.atMs, entry.seq);
  call.wake();
}

/** Applies a valid bot message to the call's state, flagging what the protocol forbids. */
function handleBotMessage(call: CallCore, message: BotMessage, at: number, seq: number): void {
  switch (message.type) {
    case "session.accepted":
      if (call.pending !== "accepted") {
        call.violation("Unexpected session.accepted: no session.initiate is pending");
        return;
      }
      call.pending = undefined;
      call.acceptedAtMs = at;
      call.mediaFormat = message.mediaFormat;
      if (!call.offered.includes(message.mediaFormat)) {
        call.violation(
          `session.accepted chose "${message.mediaFormat}", which was not offered in ${
            JSON.stringify(call.offered)
          } (§4.2)`,
        );
      }
      return;
    case "session.error":
      call.events.push({ atMs: at, type: message.type, text: message.reason, message });
      call.error = `Gateway sent session.error: ${JSON.stringify(message.reason)}`;
      call.ending ??= "session-error";
      return;
    case "connection.validated":
      call.violation("Unexpected connection.validated: no connection.validate was sent");
      return;
    case "userStream.started":
    case "userStream.stopped": {
      const want: Pending = message.type === "userStream.started" ? "started" : "stopped";
      if (call.pending !== want) {
        call.violation(`Unexpected ${message.type}: no matching request is pending`);
        return;
      }
      call.pending = undefined;
      if (want === "started") call.startedAtMs = at;
      return;
    }
    case "userStream.speech.started":
      call.sawSpeechStart = true;
      call.lastSpeechStartSeq = seq;
      call.events.push({ atMs: at, type: message.type, message });
      return;
    case "userStream.speech.stopped":
    case "userStream.speech.committed":
      call.lastTurnEndSeq = seq;
      call.events.push({ atMs: at, type: message.type, message });
      return;
    case "userStream.speech.hypothesis":
    case "userStream.speech.recognition":
      call.events.push({
        atMs: at,
        type: message.type,
        text: message.alternatives[0]?.text ?? "",
        message,
      });
      return;
    case "playStream.start":
      call.lastPlayActivitySeq = seq;
      onPlayStart(call, message, at, seq);
      return;
    case "playStream.chunk":
      call.lastPlayActivitySeq = seq;
      onPlayChunk(call, message, at);
      return;
    case "playStream.stop": {
      call.lastPlayActivitySeq = seq;
      const open = call.open;
      if (!open || open.streamId !== message.streamId) {
        call.violation(
          `playStream.stop for "${message.streamId}", which is not the open play stream` +
            (open ? ` ("${open.streamId}")` : " (none is open)"),
        );
        return;
      }
      open.stoppedAtMs = at;
      call.open = undefined;
      return;
    }
    case "activities":
      for (const activity of message.activities) {
        call.events.push({
          atMs: at,
          type: message.type,
          ...(activity.name === undefined ? {} : { name: activity.name }),
          ...(activity.text === undefined ? {} : { text: activity.text }),
          message: { type: "activities", activities: [activity] },
        });
        const name = activity.name?.toLowerCase();
        if (activity.type !== "event") continue;
        if (name === "hangup" || name === "transfer" || name === "handover") {
          if (call.open) {
            call.violation(
              `${activity.name} while play stream "${call.open.streamId}" is open (§9.4)`,
            );
          }
          call.ending ??= name === "hangup" ? "bot-hangup" : "transfer";
          if (name === "hangup") call.botHungUp = true;
        }
      }
      return;
    default:
      message satisfies never;
  }
}

function onPlayStart(
  call: CallCore,
  message: Extract<BotMessage, { type: "playStream.start" }>,
  at: number,
  seq: number,
): void {
  if (call.open) {
    call.violation(
      `playStream.start "${message.streamId}" while play stream "${call.open.streamId}" ` +
        "is open (§2.19)",
    );
  }
  if (call.streams.some((s) => s.streamId === message.streamId)) {
    call.violation(`playStream.start reuses streamId "${message.streamId}" (§9.4)`);
  }
  if (!call.offered.includes(message.mediaFormat)) {
    call.violation(
      `playStream.start "${message.streamId}" uses "${message.mediaFormat}", which was not ` +
        `offered in ${JSON.stringify(call.offered)} (§2.19)`,
    );
  }
  const stream: StreamState = {
    streamId: message.streamId,
    mediaFormat: message.mediaFormat,
    altText: message.altText,
    startSeq: seq,
    startedAtMs: at,
    afterTurnEnd: call.lastTurnEndSeq > call.lastSpeechStartSeq &&
      call.lastTurnEndSeq > (call.speechEndSeq ?? Infinity),
    firstChunkAtMs: undefined,
    lastChunkAtMs: undefined,
    stoppedAtMs: undefined,
    chunks: 0,
    bytes: 0,
    pieces: [],
  };
  call.streams.push(stream);
  call.open = stream;
}

function onPlayChunk(
  call: CallCore,
  message: Extract<BotMessage, { type: "playStream.chunk" }>,
  at: number,
): void {
  const open = call.open;
  if (!open) {
    call.violation(
      `playStream.chunk for "${message.streamId}" outside a playStream.start/stop pair (§2.20)`,
    );
    return;
  }
  if (open.streamId !== message.streamId) {
    call.violation(
      `playStream.chunk for "${message.streamId}" while play stream "${open.streamId}" is ` +
        "open (§2.20)",
    );
    return;
  }
  if (!isBase64(message.audioChunk)) {
    call.violation(`playStream.chunk for "${open.streamId}" is not valid base64 (§4.3)`);
    return;
  }
  open.chunks++;
  open.bytes += base64ByteLength(message.audioChunk);
  open.firstChunkAtMs ??= at;
  open.lastChunkAtMs = at;
  if (call.record) open.pieces.push(fromBase64(message.audioChunk));
}

/** Records the socket's close; a close the bot started before `session.end` is a violation. */
export function onSocketClose(call: CallCore, code: number, reason: string): void {
  if (call.closed) return;
  call.closed = true;
  call.entry({ direction: "local", type: "close", detail: { code, reason } });
  if (!call.sentEnd && call.ending === undefined) {
    if (call.opened) {
      call.violation(
        `Gateway closed the socket before session.end (code ${code}${
          reason ? ` "${reason}"` : ""
        }); bots end calls with a hangup activity (§0.7)`,
      );
    }
    call.ending = call.opened ? "server-close" : "connect-error";
  }
  call.wake();
}
