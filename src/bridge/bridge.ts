/**
 * The Bridge: one per call (phone or app user). It owns the upstream Realtime GA session —
 * configuration, audio in, the response sequencer, barge-in (cancel + truncate to what was
 * heard), tool calls, one reconnect with the conversation replayed — and talks to the caller
 * through a {@linkcode BridgeLeg}.
 */
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import { base64ByteLength } from "../audiocodes/messages.ts";
import type { Item, RealtimeError, ServerEvent, ServerEventType } from "../realtime/events.ts";
import { FATAL_ERROR_CODES } from "../realtime/events.ts";
import type { SessionOptions } from "../realtime/session_config.ts";
import { sessionUpdate } from "../realtime/session_config.ts";
import { Upstream } from "../realtime/upstream.ts";
import type { Interrupted } from "./playout.ts";

/** Something the Bridge tells the caller side about. */
export type LegEvent =
  /** The model accepted the session's configuration: audio now goes straight through. */
  | { readonly type: "session.ready" }
  /** `audioStartMs`: where the speech starts in all audio the leg appended (ms, 0 = first). */
  | { readonly type: "speech.started"; readonly audioStartMs: number }
  /** `audioEndMs`: where the speech ends in all audio the leg appended (ms). */
  | { readonly type: "speech.stopped"; readonly audioEndMs: number }
  | { readonly type: "speech.committed" }
  | { readonly type: "speech.hypothesis"; readonly text: string }
  | { readonly type: "speech.recognition"; readonly text: string }
  | { readonly type: "response.started"; readonly responseId: string }
  | {
    readonly type: "response.transcript.delta";
    readonly responseId: string;
    readonly delta: string;
  }
  | { readonly type: "response.transcript.done"; readonly itemId: string; readonly text: string }
  | {
    readonly type: "response.done";
    readonly responseId: string;
    readonly status: string;
    readonly usage: unknown;
  }
  | { readonly type: "error"; readonly code: string; readonly message: string };

/** The caller side of a Bridge: plays model audio and hears about speech and responses. */
export interface BridgeLeg {
  /** Model audio for an item, base64 in the upstream format. */
  playAudio(itemId: string, delta: string): void;
  /** The item's audio is complete. */
  endAudio(itemId: string): void;
  /** Barge-in: stop playback now; what was heard of the item being played, if any. */
  interrupt(): Interrupted | undefined;
  /** Notifications (speech, transcripts, responses, errors). */
  notify(event: LegEvent): void;
}

/** A function call the model made. */
export interface FunctionCall {
  readonly name: string;
  readonly callId: string;
  readonly arguments: string;
  readonly responseId: string;
}

/** Options of a {@linkcode Bridge}. */
export interface BridgeOptions {
  readonly upstream: { readonly url: string; readonly model: string; readonly apiKey?: string };
  readonly session: SessionOptions;
  /** Bytes per millisecond of the upstream audio format (48 for PCM 24 kHz, 8 for G.711). */
  readonly upstreamBytesPerMs: number;
  readonly leg: BridgeLeg;
  readonly clock: Clock;
  readonly log: Logger;
  /** The model called a function; answer with {@linkcode Bridge.sendFunctionOutput}. */
  readonly onFunctionCall?: (call: FunctionCall) => void;
  /** The upstream is gone for good (reconnect failed, fatal error). */
  readonly onFailed?: (reason: string) => void;
  /** Reconnect attempts after an unexpected upstream close (default 1). */
  readonly reconnects?: number;
  /** Caller audio kept while the upstream is not ready, in ms (default 5000). */
  readonly maxPendingMs?: number;
}

interface ItemAudio {
  generatedBytes: number;
  audioDone: boolean;
}

interface HistoryEntry {
  readonly role: "user" | "assistant";
  readonly text: string;
  readonly itemId?: string;
}

type EventHandlers = {
  readonly [K in ServerEventType]?: (event: Extract<ServerEvent, { type: K }>) => void;
};

const APPEND_PREFIX = `{"type":"input_audio_buffer.append","audio":"`;
const APPEND_OVERHEAD = `{"type":"input_audio_buffer.append","audio":""}`.length;

const BENIGN_ERRORS = new Set([
  "response_cancel_not_active",
  "conversation_already_has_active_response",
  "input_audio_buffer_commit_empty",
]);

/** One call's upstream session. */
export class Bridge {
  readonly #options: BridgeOptions;
  readonly #log: Logger;
  #session: SessionOptions;
  #upstream: Upstream | undefined;
  #ready = false;
  #closed = false;
  #failed = false;
  #reconnectsLeft: number;
  #pending: string[] = [];
  #pendingAudioChars = 0;
  readonly #maxPendingChars: number;
  #activeResponse: string | undefined;
  #deferredCreate: Record<string, unknown> | undefined | null = null;
  readonly #discarded = new Set<string>();
  readonly #items = new Map<string, ItemAudio>();
  readonly #history: HistoryEntry[] = [];
  readonly #hypotheses = new Map<string, string>();
  readonly #audioResponses = new Set<string>();
  /** A user turn was committed while a response was active, so the server may not answer it. */
  #unansweredTurn = false;
  /** Bytes of caller audio the leg appended, over every upstream session. */
  #appendedBytes = 0;
  /** Where the current upstream session's audio timeline starts in the leg's (bytes). */
  #epochBytes = 0;
  /** Counters for tests and metrics. */
  readonly stats = { appends: 0, truncates: 0, cancels: 0, reconnects: 0, droppedPending: 0 };

  constructor(options: BridgeOptions) {
    this.#options = options;
    this.#log = options.log;
    this.#session = options.session;
    this.#reconnectsLeft = options.reconnects ?? 1;
    const maxMs = options.maxPendingMs ?? 5000;
    this.#maxPendingChars = Math.ceil((maxMs * options.upstreamBytesPerMs * 4) / 3);
  }

  /** Opens the upstream socket; call setup never waits for it. */
  start(): void {
    this.#connect();
  }

  /** True once the upstream accepted our session configuration. */
  get ready(): boolean {
    return this.#ready;
  }

  /** True while an in-band response is being generated. */
  get generating(): boolean {
    return this.#activeResponse !== undefined;
  }

  /** Appends caller audio (base64 in the upstream input format). */
  appendAudio(base64: string): void {
    // Base64 needs no JSON escaping: build the frame without re-scanning the payload.
    const frame = `{"type":"input_audio_buffer.append","audio":"${base64}"}`;
    this.stats.appends++;
    this.#appendedBytes += base64ByteLength(base64);
    if (this.#ready) {
      this.#upstream!.sendRaw(frame);
      return;
    }
    this.#pending.push(frame);
    this.#pendingAudioChars += base64.length;
    while (this.#pendingAudioChars > this.#maxPendingChars) {
      const index = this.#pending.findIndex((f) => f.startsWith(APPEND_PREFIX));
      if (index < 0) break;
      const [dropped] = this.#pending.splice(index, 1);
      this.#pendingAudioChars -= dropped!.length - APPEND_OVERHEAD;
      // The upstream never hears it: its timeline starts after the dropped audio.
      this.#epochBytes += base64ByteLength(dropped!.slice(APPEND_PREFIX.length, -2));
      this.stats.droppedPending++;
    }
  }

  /** Commits buffered audio (manual turns). */
  commitAudio(): void {
    this.#send({ type: "input_audio_buffer.commit" });
  }

  /** Adds a user text item to the conversation (no response by itself). */
  sendUserText(text: string): void {
    this.#history.push({ role: "user", text });
    this.#send({
      type: "conversation.item.create",
      item: { type: "message", role: "user", content: [{ type: "input_text", text }] },
    });
  }

  /**
   * Asks for a response. Only one in-band response runs at a time: while one is active the
   * request waits for its `response.done` (§5.6 pitfalls).
   */
  requestResponse(response?: Record<string, unknown>): void {
    if (this.#activeResponse !== undefined || this.#deferredCreate !== null) {
      this.#deferredCreate = response;
      return;
    }
    this.#send(response ? { type: "response.create", response } : { type: "response.create" });
  }

  /** Answers a function call; `respond` asks the model to continue speaking. */
  sendFunctionOutput(callId: string, output: string, respond: boolean): void {
    this.#send({
      type: "conversation.item.create",
      item: { type: "function_call_output", call_id: callId, output },
    });
    if (respond) this.requestResponse();
  }

  /** Changes the session (e.g. instructions filled from call data). */
  updateSession(patch: Partial<SessionOptions>): void {
    this.#session = { ...this.#session, ...patch };
    this.#send({ type: "session.update", session: sessionUpdate(this.#session) });
  }

  /** Whether any audio of this response reached the leg. */
  responseHadAudio(responseId: string): boolean {
    return this.#audioResponses.has(responseId);
  }

  /**
   * Barge-in, exactly as ARCHITECTURE.md orders it: stop playback and drop queued audio (the
   * leg), cancel only while generating, truncate to the played time — skipped when nothing
   * was played or the item was heard in full, clamped to the audio generated.
   */
  interrupt(): Interrupted | undefined {
    const heard = this.#options.leg.interrupt();
    if (this.#activeResponse !== undefined) {
      this.#discarded.add(this.#activeResponse);
      this.stats.cancels++;
      this.#send({ type: "response.cancel", response_id: this.#activeResponse });
    }
    if (heard && heard.playedMs > 0) {
      const item = this.#items.get(heard.itemId);
      const generatedMs = item
        ? Math.floor(item.generatedBytes / this.#options.upstreamBytesPerMs)
        : heard.sentMs;
      const heardAll = item !== undefined && item.audioDone && heard.playedMs >= generatedMs;
      if (!heardAll) {
        this.stats.truncates++;
        this.#send({
          type: "conversation.item.truncate",
          item_id: heard.itemId,
          content_index: 0,
          audio_end_ms: Math.min(heard.playedMs, generatedMs),
        });
        // The unheard words leave the context server-side; keep the replay history in step.
        const index = this.#history.findIndex((h) => h.itemId === heard.itemId);
        if (index >= 0) this.#history.splice(index, 1);
      }
    }
    return heard;
  }

  /** Closes the upstream; nothing more is sent. */
  close(): void {
    this.#closed = true;
    this.#pending = [];
    this.#upstream?.close(1000, "call ended");
  }

  #send(event: Record<string, unknown>): void {
    if (this.#closed) return;
    if (this.#ready) this.#upstream!.send(event);
    else this.#pending.push(JSON.stringify(event));
  }

  #connect(): void {
    this.#ready = false;
    // A new upstream session counts its audio from 0; the leg's timeline goes on.
    this.#epochBytes = this.#appendedBytes - this.#pendingAudioBytes();
    this.#upstream = new Upstream({
      ...this.#options.upstream,
      log: this.#log,
    }, {
      onOpen: () => this.#onOpen(),
      onEvent: (event) => this.#onEvent(event),
      onClose: (code, reason, expected) => this.#onClose(code, reason, expected),
    });
  }

  #onOpen(): void {
    // Send the configuration at once; audio waits for `session.updated` so that it is read in
    // the right format (§1.5).
    this.#upstream!.send({ type: "session.update", session: sessionUpdate(this.#session) });
    if (this.stats.reconnects > 0) {
      for (const entry of this.#history) {
        this.#upstream!.send({
          type: "conversation.item.create",
          item: entry.role === "user"
            ? { type: "message", role: "user", content: [{ type: "input_text", text: entry.text }] }
            : {
              type: "message",
              role: "assistant",
              content: [{ type: "output_text", text: entry.text }],
            },
        });
      }
    }
  }

  #onClose(code: number, reason: string, expected: boolean): void {
    this.#ready = false;
    if (this.#closed || expected) return;
    const lost = this.#activeResponse;
    this.#activeResponse = undefined;
    this.#deferredCreate = null;
    this.#options.leg.interrupt();
    // The response died with the socket: it ends here for the leg, since no response.done comes.
    if (lost !== undefined) {
      this.#options.leg.notify({
        type: "response.done",
        responseId: lost,
        status: "failed",
        usage: undefined,
      });
    }
    if (this.#reconnectsLeft > 0) {
      this.#reconnectsLeft--;
      this.stats.reconnects++;
      this.#log.warn({ code, reason }, "Upstream closed unexpectedly; reconnecting");
      this.#connect();
      return;
    }
    this.#fail(`upstream connection lost (${code}${reason ? ` ${reason}` : ""})`);
  }

  #fail(reason: string): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#log.error({ reason }, "Upstream failed");
    this.close();
    this.#options.onFailed?.(reason);
  }

  #onEvent(event: ServerEvent): void {
    const handler = this.#handlers[event.type] as ((e: ServerEvent) => void) | undefined;
    handler?.(event);
  }

  /** Bytes of audio waiting in `#pending` (they will open the next session's timeline). */
  #pendingAudioBytes(): number {
    let bytes = 0;
    for (const frame of this.#pending) {
      if (frame.startsWith(APPEND_PREFIX)) {
        bytes += base64ByteLength(frame.slice(APPEND_PREFIX.length, -2));
      }
    }
    return bytes;
  }

  /** An upstream audio position (ms) as a position in everything the leg appended. */
  #legMs(upstreamMs: number): number {
    return Math.round(this.#epochBytes / this.#options.upstreamBytesPerMs + upstreamMs);
  }

  #trackItem(itemId: string): ItemAudio {
    let item = this.#items.get(itemId);
    if (!item) {
      item = { generatedBytes: 0, audioDone: false };
      this.#items.set(itemId, item);
      if (this.#items.size > 64) this.#items.delete(this.#items.keys().next().value!);
    }
    return item;
  }

  #onError(error: RealtimeError): void {
    const code = error.code ?? error.type;
    if (BENIGN_ERRORS.has(code)) {
      this.#log.debug({ code }, "Upstream refused an event (benign)");
      return;
    }
    this.#log.warn({ code, param: error.param, message: error.message }, "Upstream error");
    this.#options.leg.notify({ type: "error", code, message: error.message });
    if (FATAL_ERROR_CODES.has(code)) this.#fail(`upstream error ${code}`);
  }

  readonly #handlers: EventHandlers = {
    "error": (e) => this.#onError(e.error),
    "session.updated": () => {
      if (this.#ready) return;
      this.#ready = true;
      const pending = this.#pending;
      this.#pending = [];
      this.#pendingAudioChars = 0;
      for (const frame of pending) this.#upstream!.sendRaw(frame);
      this.#options.leg.notify({ type: "session.ready" });
    },
    "input_audio_buffer.speech_started": (e) => {
      this.#options.leg.notify({
        type: "speech.started",
        audioStartMs: this.#legMs(e.audio_start_ms),
      });
      this.interrupt();
    },
    "input_audio_buffer.speech_stopped": (e) => {
      this.#options.leg.notify({ type: "speech.stopped", audioEndMs: this.#legMs(e.audio_end_ms) });
    },
    "input_audio_buffer.committed": () => {
      // With interrupt_response off, a turn committed while a (cancelled) response is still
      // active gets no automatic response (§2.3): remember to ask for one when it is done.
      if (this.#activeResponse !== undefined && this.#autoResponds()) this.#unansweredTurn = true;
      this.#options.leg.notify({ type: "speech.committed" });
    },
    "conversation.item.input_audio_transcription.delta": (e) => {
      const text = (this.#hypotheses.get(e.item_id) ?? "") + (e.delta ?? "");
      this.#hypotheses.set(e.item_id, text);
      if (text.trim()) this.#options.leg.notify({ type: "speech.hypothesis", text: text.trim() });
    },
    "conversation.item.input_audio_transcription.completed": (e) => {
      this.#hypotheses.delete(e.item_id);
      const text = e.transcript.trim();
      if (!text) return;
      this.#history.push({ role: "user", text, itemId: e.item_id });
      this.#options.leg.notify({ type: "speech.recognition", text });
    },
    "response.created": (e) => {
      if (e.response.conversation_id === null) return; // out-of-band: not ours to play
      this.#activeResponse = e.response.id;
      this.#unansweredTurn = false;
      this.#options.leg.notify({ type: "response.started", responseId: e.response.id });
    },
    "response.output_audio.delta": (e) => {
      if (this.#discarded.has(e.response_id)) return;
      this.#trackItem(e.item_id).generatedBytes += base64ByteLength(e.delta);
      this.#audioResponses.add(e.response_id);
      this.#options.leg.playAudio(e.item_id, e.delta);
    },
    "response.output_audio.done": (e) => {
      this.#trackItem(e.item_id).audioDone = true;
      if (!this.#discarded.has(e.response_id)) this.#options.leg.endAudio(e.item_id);
    },
    "response.output_audio_transcript.delta": (e) => {
      if (this.#discarded.has(e.response_id)) return;
      this.#options.leg.notify({
        type: "response.transcript.delta",
        responseId: e.response_id,
        delta: e.delta,
      });
    },
    "response.output_audio_transcript.done": (e) => {
      if (this.#discarded.has(e.response_id)) return;
      this.#history.push({ role: "assistant", text: e.transcript, itemId: e.item_id });
      this.#options.leg.notify({
        type: "response.transcript.done",
        itemId: e.item_id,
        text: e.transcript,
      });
    },
    "response.output_item.done": (e) => this.#onItemDone(e.item, e.response_id),
    "response.done": (e) => {
      if (e.response.id !== this.#activeResponse) return;
      this.#activeResponse = undefined;
      this.#discarded.delete(e.response.id);
      this.#options.leg.notify({
        type: "response.done",
        responseId: e.response.id,
        status: e.response.status,
        usage: e.response.usage ?? null,
      });
      if (this.#deferredCreate !== null) {
        const response = this.#deferredCreate;
        this.#deferredCreate = null;
        this.requestResponse(response);
      } else if (this.#unansweredTurn) {
        this.#unansweredTurn = false;
        this.requestResponse();
      }
    },
  };

  #autoResponds(): boolean {
    const detection = this.#session.turnDetection;
    return detection !== null && detection.create_response !== false;
  }

  #onItemDone(item: Item, responseId: string): void {
    if (item.type !== "function_call" || item.status !== "completed") return;
    if (this.#discarded.has(responseId)) return;
    this.#options.onFunctionCall?.({
      name: item.name ?? "",
      callId: item.call_id ?? "",
      arguments: item.arguments ?? "{}",
      responseId,
    });
  }
}
