/**
 * What the Bridge does with each GA server event (the `ServerEvent` union every provider
 * adapter speaks): a map keyed by event type, over the little of the Bridge it needs
 * ({@linkcode BridgeCore}). Speech and transcripts go to the leg; responses through the
 * sequencer; audio to the leg unless barge-in discarded its response; errors are sorted into
 * benign, expiry, refused configuration and fatal.
 */
import type { Logger } from "../core/logger.ts";
import type {
  Item,
  RealtimeError,
  ServerEvent,
  ServerEventType,
} from "../protocol/openai_realtime.ts";
import { FATAL_ERROR_CODES } from "../protocol/openai_realtime.ts";
import { base64ByteLength } from "../protocol/base64.ts";
import type { ResponseParams } from "../protocol/openai_realtime_client.ts";
import type { Proposal } from "./session_negotiation.ts";
import type { ItemAudioLog } from "./barge_in.ts";
import type { ReplayHistory } from "./history.ts";
import type { BridgeLeg, FunctionCall, LegEvent } from "./leg.ts";
import type { ResponseSequencer } from "./response_sequencer.ts";

/** The parts of a Bridge its server event handlers use. */
export interface BridgeCore {
  readonly log: Logger;
  readonly leg: BridgeLeg;
  readonly responses: ResponseSequencer;
  readonly items: ItemAudioLog;
  readonly replay: ReplayHistory;
  /** Transcription hypotheses per user item, while they grow. */
  readonly hypotheses: Map<string, string>;
  readonly onFunctionCall: ((call: FunctionCall) => void) | undefined;
  closed(): boolean;
  /** Between the upstream's speech_started and speech_stopped. */
  setSpeaking(speaking: boolean): void;
  notify(event: LegEvent): void;
  /** An upstream audio position (ms) as a position in everything the leg appended. */
  legMs(upstreamMs: number): number;
  /** Barge-in (the Bridge's public `interrupt()`). */
  interrupt(): void;
  requestResponse(params?: ResponseParams): void;
  /** Turns answer themselves: server VAD with `create_response` on. */
  autoResponds(): boolean;
  eventTypeOf(eventId: string | undefined): string | undefined;
  sessionCreated(session: Readonly<Record<string, unknown>>): void;
  sessionUpdated(): void;
  sessionExpired(): void;
  /** Takes back the configuration an error refused, if it was one. */
  takeRefusedProposal(eventId: string | undefined): Proposal | undefined;
  /** A new session's configuration was refused: try without unconfirmed changes, or fail. */
  configurationRefused(refused: Proposal, code: string): void;
  fail(reason: string): void;
}

/** One handler per server event type the Bridge acts on. */
export type ServerEventHandlers = {
  readonly [K in ServerEventType]?: (event: Extract<ServerEvent, { type: K }>) => void;
};

/** Upstream refusals that need no action (a race the protocol allows). */
const BENIGN_ERRORS = new Set([
  "response_cancel_not_active",
  "conversation_already_has_active_response",
  "input_audio_buffer_commit_empty",
]);

/** Most transcription hypotheses kept (one per user item being transcribed). */
const HYPOTHESES_KEPT = 16;

/** The handlers of one Bridge. */
export function serverEventHandlers(core: BridgeCore): ServerEventHandlers {
  return {
    "error": (e) => onError(core, e.error),
    "session.created": (e) => core.sessionCreated(e.session),
    "session.updated": () => core.sessionUpdated(),
    "input_audio_buffer.speech_started": (e) => {
      core.setSpeaking(true);
      core.notify({ type: "speech.started", audioStartMs: core.legMs(e.audio_start_ms) });
      core.interrupt();
    },
    "input_audio_buffer.speech_stopped": (e) => {
      core.setSpeaking(false);
      core.notify({ type: "speech.stopped", audioEndMs: core.legMs(e.audio_end_ms) });
    },
    "input_audio_buffer.committed": () => {
      // With interrupt_response off, a turn committed while a (cancelled) response is still
      // active gets no automatic response (§2.3): remember to ask for one when it is done.
      core.responses.committed(core.autoResponds());
      core.notify({ type: "speech.committed" });
    },
    "conversation.item.input_audio_transcription.delta": (e) => {
      const text = (core.hypotheses.get(e.item_id) ?? "") + (e.delta ?? "");
      core.hypotheses.set(e.item_id, text);
      if (core.hypotheses.size > HYPOTHESES_KEPT) {
        core.hypotheses.delete(core.hypotheses.keys().next().value!);
      }
      if (text.trim()) core.notify({ type: "speech.hypothesis", text: text.trim() });
    },
    "conversation.item.input_audio_transcription.completed": (e) => {
      core.hypotheses.delete(e.item_id);
      const text = e.transcript.trim();
      if (!text) return;
      core.replay.remember({ role: "user", text, itemId: e.item_id });
      core.notify({ type: "speech.recognition", text });
    },
    "response.created": (e) => {
      // Out-of-band (conversation_id null): not ours to track; a request waiting on it may go.
      if (!core.responses.created(e.response.id, e.response.conversation_id !== null)) {
        const next = core.responses.freed();
        if (next !== undefined) core.requestResponse(next.params);
        return;
      }
      core.notify({ type: "response.started", responseId: e.response.id });
    },
    "response.output_audio.delta": (e) => {
      if (core.responses.discarded(e.response_id)) return;
      core.items.track(e.item_id).generatedBytes += base64ByteLength(e.delta);
      core.responses.playedAudio(e.response_id);
      if (!core.closed()) core.leg.playAudio(e.item_id, e.delta);
    },
    "response.output_audio.done": (e) => {
      core.items.track(e.item_id).audioDone = true;
      if (!core.responses.discarded(e.response_id) && !core.closed()) {
        core.leg.endAudio(e.item_id);
      }
    },
    "response.output_audio_transcript.delta": (e) => {
      if (core.responses.discarded(e.response_id)) return;
      core.notify({
        type: "response.transcript.delta",
        responseId: e.response_id,
        delta: e.delta,
      });
    },
    "response.output_audio_transcript.done": (e) => {
      if (core.responses.discarded(e.response_id)) return;
      core.replay.remember({ role: "assistant", text: e.transcript, itemId: e.item_id });
      core.notify({ type: "response.transcript.done", itemId: e.item_id, text: e.transcript });
    },
    "response.output_item.done": (e) => onItemDone(core, e.item, e.response_id),
    "response.done": (e) => {
      if (!core.responses.done(e.response.id)) return;
      core.notify({
        type: "response.done",
        responseId: e.response.id,
        status: e.response.status,
        usage: e.response.usage ?? null,
      });
      if (core.closed()) return;
      const next = core.responses.next();
      if (next.kind === "request") core.requestResponse(next.params);
    },
  };
}

function onError(core: BridgeCore, error: RealtimeError): void {
  const code = error.code ?? error.type;
  const eventId = error.event_id ?? undefined;
  const eventType = core.eventTypeOf(eventId);
  // A refused request is no longer awaited (nothing will be created for it); one deferred
  // behind it goes now.
  if (eventType === "response.create") {
    core.responses.refused();
    const next = core.responses.freed();
    if (next !== undefined && !core.closed()) core.requestResponse(next.params);
  }
  if (BENIGN_ERRORS.has(code)) {
    core.log.debug({ code, eventType }, "Upstream refused an event (benign)");
    return;
  }
  if (code === "session_expired") {
    // The session hit its maximum duration before a quiet moment came (§1.6): the call goes
    // on in a new one, as after a lost socket.
    core.log.info({}, "Upstream session expired; reconnecting");
    core.sessionExpired();
    return;
  }
  core.log.warn(
    { code, param: error.param, eventId, eventType, message: error.message },
    "Upstream error",
  );
  const refused = core.takeRefusedProposal(eventId);
  core.notify({
    type: "error",
    code,
    message: error.message,
    ...(eventType === undefined ? {} : { eventType }),
  });
  if (FATAL_ERROR_CODES.has(code)) {
    core.fail(`upstream error ${code}`);
    return;
  }
  if (refused !== undefined && !core.closed()) core.configurationRefused(refused, code);
}

function onItemDone(core: BridgeCore, item: Item, responseId: string): void {
  if (item.type !== "function_call" || item.status !== "completed") return;
  if (core.responses.discarded(responseId) || core.closed()) return;
  core.onFunctionCall?.({
    name: item.name ?? "",
    callId: item.call_id ?? "",
    arguments: item.arguments ?? "{}",
    responseId,
  });
}
