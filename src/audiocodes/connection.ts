/**
 * The thin per-socket shell for the AudioCodes Bot API: parses frames, dispatches them to the
 * pure handlers and runs the effects they return.
 */
import type { Logger } from "../core/logger.ts";
import type { AudioCodesFormat } from "./media_format.ts";
import type { BotMessage } from "./messages.ts";
import { parseVaicFrame } from "./messages.ts";
import type { CallSocket, Conversation, ConversationManager } from "./conversation_manager.ts";
import type { ConnectionState, Effect, HandlerContext } from "./handlers.ts";
import { dispatch, eventName, INITIAL_STATE } from "./handlers.ts";

/** What one AudioCodes socket needs. */
export interface ConnectionDeps {
  readonly manager: ConversationManager;
  readonly preference: readonly AudioCodesFormat[];
  readonly maxFrameBytes: number;
  readonly log: Logger;
}

/** WebSocket close code for a frame over the size limit (RFC 6455 §7.4.1). */
export const CLOSE_TOO_BIG = 1009;

/** Wires one upgraded WebSocket to the protocol handlers. */
export function serveAudioCodesSocket(socket: WebSocket, deps: ConnectionDeps): void {
  let state: ConnectionState = INITIAL_STATE;
  let conversation: Conversation | undefined;
  const log = deps.log;

  const callSocket: CallSocket = {
    send(message: BotMessage) {
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
    },
    sendText(frame: string) {
      if (socket.readyState === WebSocket.OPEN) socket.send(frame);
    },
    close(code, reason) {
      if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) {
        socket.close(code, reason);
      }
    },
  };

  const ctx: HandlerContext = {
    preference: deps.preference,
    lookup: (id) => deps.manager.get(id),
  };

  const run = (effect: Effect): void => {
    switch (effect.type) {
      case "send":
        callSocket.send(effect.message);
        return;
      case "conversation.open":
        conversation = deps.manager.add({
          conversationId: effect.conversationId,
          mediaFormat: effect.mediaFormat,
          socket: callSocket,
          ...(effect.caller === undefined ? {} : { caller: effect.caller }),
          ...(effect.botName === undefined ? {} : { botName: effect.botName }),
        });
        return;
      case "conversation.resume":
        conversation = deps.manager.attach(effect.conversationId, callSocket);
        return;
      case "conversation.end":
        conversation?.record("session.end", {
          reasonCode: effect.reasonCode,
          reason: effect.reason,
        });
        void deps.manager.remove(
          effect.conversationId,
          `session.end${effect.reasonCode ? ` (${effect.reasonCode})` : ""}`,
        );
        conversation = undefined;
        return;
      case "call.audio":
        if (!conversation) return;
        conversation.stats.chunksIn++;
        conversation.stats.bytesIn += effect.bytes;
        conversation.agent.audio(effect.audioChunk);
        return;
      case "call.userStream":
        if (!conversation) return;
        conversation.record(effect.open ? "userStream.start" : "userStream.stop");
        conversation.agent.userStream(effect.open, effect.participant);
        return;
      case "call.activity": {
        if (!conversation) return;
        const name = eventName(effect.activity) ?? effect.activity.type;
        if (name === "start") {
          conversation.callData = effect.activity.parameters ?? {};
        }
        conversation.record(name, effect.activity.value);
        conversation.agent.activity(effect.activity);
        return;
      }
      case "call.dropped":
        if (conversation) conversation.stats.chunksDropped++;
        (conversation?.log ?? log).debug({}, effect.reason);
        return;
      case "close":
        callSocket.close(effect.code, effect.reason);
        return;
      case "log":
        (conversation?.log ?? log)[effect.level](effect.fields ?? {}, effect.message);
        return;
      default:
        effect satisfies never;
    }
  };

  socket.addEventListener("message", (event: MessageEvent) => {
    try {
      if (typeof event.data !== "string") {
        log.warn({}, "Ignored binary frame: the Bot API uses JSON text frames only");
        return;
      }
      if (frameTooBig(event.data, deps.maxFrameBytes)) {
        log.warn({ limit: deps.maxFrameBytes }, "Closed socket: frame over the size limit");
        callSocket.close(CLOSE_TOO_BIG, "frame too big");
        return;
      }
      const parsed = parseVaicFrame(event.data);
      if (!parsed.ok) {
        const where = conversation?.log ?? log;
        if (parsed.kind === "unknown-type") {
          where.info({ type: parsed.type }, "Ignored message of unknown type");
        } else if (parsed.kind === "invalid" && parsed.type === "session.initiate") {
          // A call we cannot read is a call we must decline (§2.10), not leave hanging.
          state = { phase: "ended" };
          callSocket.send({ type: "session.error", reason: `Cannot accept call: ${parsed.error}` });
          callSocket.close(1000, "call declined");
        } else {
          where.warn({ kind: parsed.kind }, parsed.error);
        }
        return;
      }
      const result = dispatch(state, parsed.message, ctx);
      state = result.state;
      for (const effect of result.effects) run(effect);
    } catch (error) {
      // A bug in one call must never take the process or other calls down.
      (conversation?.log ?? log).error({ err: String(error) }, "Failed to handle frame");
    }
  });

  socket.addEventListener("close", () => {
    if (conversation && state.phase === "active") {
      deps.manager.detach(conversation.conversationId, callSocket);
    }
    conversation = undefined;
  });

  socket.addEventListener("error", () => {
    // The close event follows; nothing else to do.
  });
}

function frameTooBig(data: string, limit: number): boolean {
  // UTF-16 length is at most the UTF-8 byte count; encode only when it could matter.
  if (data.length > limit) return true;
  if (data.length * 3 <= limit) return false;
  return new TextEncoder().encode(data).byteLength > limit;
}
