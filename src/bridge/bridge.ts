/**
 * The Bridge: one per call (phone or app user). It owns the upstream Realtime GA session —
 * configuration, audio in, the response sequencer, barge-in (cancel + truncate to what was
 * heard), tool calls, reconnects with backoff and the conversation replayed — and talks to the
 * caller through a {@linkcode BridgeLeg}.
 *
 * The Bridge and its upstream socket are one unit of failure: an exception while handling an
 * upstream event fails this call (`onFailed("internal error: …")`), never the process; after
 * {@linkcode Bridge.close} (or a failure) no event, timer or socket callback reaches the leg.
 */
import type { Clock, TimerId } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import { base64ByteLength } from "../protocol/base64.ts";
import type {
  Item,
  RealtimeError,
  ServerEvent,
  ServerEventType,
} from "../protocol/openai_realtime.ts";
import { FATAL_ERROR_CODES } from "../protocol/openai_realtime.ts";
import type { SessionOptions } from "../realtime/session_config.ts";
import { sessionUpdate } from "../realtime/session_config.ts";
import type { UpstreamClient, UpstreamClose, UpstreamListener } from "../realtime/upstream.ts";
import { Upstream } from "../realtime/upstream.ts";
import type { WarmSession, WarmSource } from "../realtime/upstream_pool.ts";
import { sessionExpiry } from "../realtime/upstream_pool.ts";
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
  | {
    readonly type: "error";
    readonly code: string;
    readonly message: string;
    /** The type of our client event the upstream refused (from `error.event_id`), if known. */
    readonly eventType?: string;
  };

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
  /**
   * Nothing of the model's audio is still playing to the caller (default: assumed). A session
   * is recycled only then, so that a barge-in never refers to the session that was let go.
   */
  idle?(): boolean;
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
  readonly upstream: {
    readonly url: string;
    readonly model: string;
    readonly apiKey?: string;
    /** WebSocket client (default `"ws"`, which keeps TCP_NODELAY; `"native"` is Deno's). */
    readonly client?: UpstreamClient;
  };
  readonly session: SessionOptions;
  /** Bytes per millisecond of the upstream audio format (48 for PCM 24 kHz, 8 for G.711). */
  readonly upstreamBytesPerMs: number;
  readonly leg: BridgeLeg;
  readonly clock: Clock;
  readonly log: Logger;
  /** The model called a function; answer with {@linkcode Bridge.sendFunctionOutput}. */
  readonly onFunctionCall?: (call: FunctionCall) => void;
  /** The call cannot go on (upstream gone for good, fatal error, internal error). */
  readonly onFailed?: (reason: string) => void;
  /**
   * How long the Bridge keeps trying to (re)open the upstream after losing it, or after the
   * first attempt failed, in ms (default 5000; 0 = no retry). An attempt still under way when
   * the window ends may finish (it is bounded by `connectTimeoutMs`).
   */
  readonly reconnectWindowMs?: number;
  /** An attempt must reach `session.created` in this time, or it failed (default 10000 ms). */
  readonly connectTimeoutMs?: number;
  /** Backoff between failed attempts: full jitter under a ceiling that starts here (100 ms)… */
  readonly reconnectBaseMs?: number;
  /** …doubles per failed attempt and stops growing here (default 1000 ms). */
  readonly reconnectMaxMs?: number;
  /** Randomness for the jitter, in [0, 1) (default `Math.random`). */
  readonly random?: () => number;
  /** Replay history kept for a reconnect: entries (default 50)… */
  readonly maxHistoryTurns?: number;
  /** …and characters (default 32000); the oldest entries go first. */
  readonly maxHistoryChars?: number;
  /** Caller audio kept while the upstream is not ready, in ms (default 5000). */
  readonly maxPendingMs?: number;
  /**
   * The conversation so far (a call taken over from another instance): replayed to the first
   * upstream session like after a reconnect, within the history bounds.
   */
  readonly history?: readonly HistoryEntry[];
  /** Warm upstream sessions to take instead of opening a connection (first and reconnects). */
  readonly pool?: WarmSource;
  /**
   * Recycling: this long before the service ends the session (`session.expires_at`), the Bridge
   * moves the call onto a fresh session at the next quiet moment (no response under way, the
   * caller silent, nothing playing), with the history replayed. Default: a quarter of the
   * session's lifetime, at most 5 minutes. 0 turns recycling off (the expiry then closes the
   * session and the Bridge reconnects).
   */
  readonly recycleBeforeMs?: number;
  /** Session lifetime assumed when `session.created` has no `expires_at` (default 60 min). */
  readonly sessionMs?: number;
}

interface ItemAudio {
  generatedBytes: number;
  audioDone: boolean;
}

/** One turn of the replay history (what a new upstream session is told of the conversation). */
export interface HistoryEntry {
  readonly role: "user" | "assistant";
  readonly text: string;
  readonly itemId?: string;
}

/** A frame waiting for the upstream; `onSent` runs once it really went out. */
type PendingFrame = string | { readonly frame: string; readonly onSent: () => void };

/** Client events (not audio) that may wait for the upstream; more are dropped. */
const MAX_PENDING_EVENTS = 256;
/** While a recycle waits for a quiet moment, it looks again this often (ms). */
const RECYCLE_POLL_MS = 200;
/** Replacement sessions that may fail before recycling gives up (the expiry then reconnects). */
const MAX_RECYCLE_ATTEMPTS = 3;

/** A fresh session being prepared to take over the call (recycling). */
interface Replacement {
  readonly upstream: Upstream;
  readonly openedAt: number;
  expiresAt: number;
  /** The configuration sent to it, and the history version replayed. */
  readonly session: SessionOptions;
  readonly historyVersion: number;
  ready: boolean;
}

/** A configuration sent on the current socket, waiting for its `session.updated`. */
interface Proposal {
  readonly eventId: string;
  readonly session: SessionOptions;
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

/** Client event ids remembered to name the event an upstream `error` refers to. */
const EVENT_TYPES_KEPT = 128;
/** Longest text of one replay history entry. */
const MAX_ENTRY_CHARS = 4000;
/** Response ids remembered for {@linkcode Bridge.responseHadAudio}. */
const AUDIO_RESPONSES_KEPT = 64;

/** One call's upstream session. */
export class Bridge {
  readonly #options: BridgeOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  /** The configuration the upstream confirmed (`session.updated`). */
  #session: SessionOptions;
  /** Configurations sent on the current socket, oldest first. */
  #proposals: Proposal[] = [];
  /** A configuration asked for while not ready; sent once ready. */
  #unsentSession: SessionOptions | undefined;
  #upstream: Upstream | undefined;
  /** Every socket not yet closed (stale attempts included), for asyncDispose. */
  readonly #sockets = new Set<Upstream>();
  #ready = false;
  #closed = false;
  #failed = false;
  #pending: PendingFrame[] = [];
  #pendingAudioChars = 0;
  readonly #maxPendingChars: number;
  #activeResponse: string | undefined;
  /** `response` of the last response.create sent, until its response.created. */
  #requested: Record<string, unknown> | undefined;
  /** `response` of the active in-band response's request (undefined: none or server VAD). */
  #activeRequest: Record<string, unknown> | undefined;
  #deferredCreate: Record<string, unknown> | undefined | null = null;
  /** A reply lost with the upstream, asked for again once a new session is ready. */
  #resume: { readonly response: Record<string, unknown> | undefined } | undefined;
  readonly #discarded = new Set<string>();
  readonly #items = new Map<string, ItemAudio>();
  readonly #history: HistoryEntry[] = [];
  #historyChars = 0;
  readonly #maxHistoryTurns: number;
  readonly #maxHistoryChars: number;
  readonly #hypotheses = new Map<string, string>();
  readonly #audioResponses = new Set<string>();
  /** A user turn was committed while a response was active, so the server may not answer it. */
  #unansweredTurn = false;
  /** Bytes of caller audio the leg appended, over every upstream session. */
  #appendedBytes = 0;
  /** Where the current upstream session's audio timeline starts in the leg's (bytes). */
  #epochBytes = 0;
  #eventCounter = 0;
  readonly #eventTypes = new Map<string, string>();
  /** When the current outage (or the first connection) began, monotonic ms. */
  #outageStart = 0;
  /** Failed attempts in the current outage. */
  #failedAttempts = 0;
  #connectTimer: TimerId | undefined;
  #retryTimer: TimerId | undefined;
  /** The current session: when it opened and when the service will end it (monotonic ms). */
  #sessionOpenedAt = 0;
  #expiresAt = Infinity;
  #recycleTimer: TimerId | undefined;
  #replacement: Replacement | undefined;
  #recycleAttempts = 0;
  /** Bumped whenever the replay history changes. */
  #historyVersion = 0;
  /** Between the upstream's speech_started and speech_stopped. */
  #speaking = false;
  /** Counters for tests and metrics: `reconnects` counts outages, `attempts` sockets opened. */
  readonly stats = {
    appends: 0,
    truncates: 0,
    cancels: 0,
    reconnects: 0,
    attempts: 0,
    droppedPending: 0,
    resumedResponses: 0,
    /** Sessions taken warm from the pool. */
    warm: 0,
    /** Sessions replaced before their expiry at a quiet moment. */
    recycles: 0,
  };

  constructor(options: BridgeOptions) {
    this.#options = options;
    this.#log = options.log;
    this.#clock = options.clock;
    this.#session = options.session;
    const maxMs = options.maxPendingMs ?? 5000;
    this.#maxPendingChars = Math.ceil((maxMs * options.upstreamBytesPerMs * 4) / 3);
    this.#maxHistoryTurns = options.maxHistoryTurns ?? 50;
    this.#maxHistoryChars = options.maxHistoryChars ?? 32_000;
    for (const entry of options.history ?? []) {
      this.#remember({ role: entry.role, text: entry.text });
    }
  }

  /** Opens the upstream socket; call setup never waits for it. */
  start(): void {
    if (this.#closed || this.#upstream !== undefined) return;
    this.#outageStart = this.#clock.monotonic();
    this.#failedAttempts = 0;
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

  /** True once closed or failed: nothing more reaches the leg. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The session configuration the upstream last confirmed. */
  get session(): SessionOptions {
    return this.#session;
  }

  /** The replay history (a copy), e.g. to hand the call to another instance. */
  get history(): readonly HistoryEntry[] {
    return [...this.#history];
  }

  /** The replay history's size (entries and characters), for tests and metrics. */
  get historySize(): { readonly turns: number; readonly chars: number } {
    return { turns: this.#history.length, chars: this.#historyChars };
  }

  /** Appends caller audio (base64 in the upstream input format). */
  appendAudio(base64: string): void {
    if (this.#closed) return;
    // Base64 needs no JSON escaping: build the frame without re-scanning the payload. No
    // event_id on this hot path: an error about an append needs none to be understood.
    const frame = `{"type":"input_audio_buffer.append","audio":"${base64}"}`;
    this.stats.appends++;
    this.#appendedBytes += base64ByteLength(base64);
    if (this.#ready && this.#upstream!.sendRaw(frame)) return;
    this.#pending.push(frame);
    this.#pendingAudioChars += base64.length;
    while (this.#pendingAudioChars > this.#maxPendingChars) {
      const index = this.#pending.findIndex((f) =>
        typeof f === "string" && f.startsWith(APPEND_PREFIX)
      );
      if (index < 0) break;
      const [dropped] = this.#pending.splice(index, 1) as [string];
      this.#pendingAudioChars -= dropped.length - APPEND_OVERHEAD;
      // The upstream never hears it: its timeline starts after the dropped audio.
      this.#epochBytes += base64ByteLength(dropped.slice(APPEND_PREFIX.length, -2));
      this.stats.droppedPending++;
    }
  }

  /** Commits buffered audio (manual turns). */
  commitAudio(): void {
    this.#send({ type: "input_audio_buffer.commit" });
  }

  /** Adds a user text item to the conversation (no response by itself). */
  sendUserText(text: string): void {
    // Into the replay history once it really went out: a text still pending is sent after
    // the replay, not twice.
    this.#send({
      type: "conversation.item.create",
      item: { type: "message", role: "user", content: [{ type: "input_text", text }] },
    }, () => this.#remember({ role: "user", text }));
  }

  /**
   * Asks for a response. Only one in-band response runs at a time: while one is active the
   * request waits for its `response.done` (§5.6 pitfalls).
   */
  requestResponse(response?: Record<string, unknown>): void {
    if (this.#closed) return;
    if (this.#activeResponse !== undefined || this.#deferredCreate !== null) {
      this.#deferredCreate = response;
      return;
    }
    this.#sendCreate(response);
  }

  /** Answers a function call; `respond` asks the model to continue speaking. */
  sendFunctionOutput(callId: string, output: string, respond: boolean): void {
    this.#send({
      type: "conversation.item.create",
      item: { type: "function_call_output", call_id: callId, output },
    });
    if (respond) this.requestResponse();
  }

  /**
   * Changes the session (e.g. instructions filled from call data). The Bridge's own view
   * ({@linkcode Bridge.session}, the replay after a reconnect, whether turns answer
   * themselves) takes the change only when the upstream confirms it with `session.updated`;
   * a refused update is dropped and the leg hears an `error` with `eventType: "session.update"`.
   */
  updateSession(patch: Partial<SessionOptions>): void {
    if (this.#closed) return;
    const target = { ...this.#latestSession(), ...patch };
    if (this.#ready) this.#propose(target);
    else this.#unsentSession = target;
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
    if (this.#closed) return undefined;
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
        if (index >= 0) {
          this.#historyChars -= this.#history.splice(index, 1)[0]!.text.length;
          this.#historyVersion++;
        }
      }
    }
    return heard;
  }

  /** Closes the upstream; nothing more is sent, and nothing more reaches the leg. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ready = false;
    this.#pending = [];
    this.#pendingAudioChars = 0;
    this.#clearTimers();
    this.#discardReplacement();
    this.#upstream?.close(1000, "call ended");
  }

  /** Closes and waits until every socket the Bridge opened is closed. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await Promise.all([...this.#sockets].map((socket) => socket.closed));
  }

  /** A new client event id, remembered with the event's type. */
  #newEventId(type: string): string {
    const id = `evt_${++this.#eventCounter}`;
    this.#eventTypes.set(id, type);
    if (this.#eventTypes.size > EVENT_TYPES_KEPT) {
      this.#eventTypes.delete(this.#eventTypes.keys().next().value!);
    }
    return id;
  }

  #frame(event: { readonly type: string; readonly [key: string]: unknown }): {
    id: string;
    frame: string;
  } {
    const id = this.#newEventId(event.type);
    return { id, frame: JSON.stringify({ ...event, event_id: id }) };
  }

  #send(
    event: { readonly type: string; readonly [key: string]: unknown },
    onSent?: () => void,
  ): void {
    if (this.#closed) return;
    const { frame } = this.#frame(event);
    if (this.#ready && this.#upstream!.sendRaw(frame)) {
      onSent?.();
      return;
    }
    // Bounded: while the model is unreachable, texts and requests wait here, but not without end.
    let events = 0;
    for (const f of this.#pending) {
      if (typeof f !== "string" || !f.startsWith(APPEND_PREFIX)) events++;
    }
    if (events >= MAX_PENDING_EVENTS) {
      this.stats.droppedPending++;
      this.#log.warn(
        { type: event.type, limit: MAX_PENDING_EVENTS },
        "Dropped an event: too many wait for the model",
      );
      return;
    }
    this.#pending.push(onSent ? { frame, onSent } : frame);
  }

  #sendCreate(response: Record<string, unknown> | undefined): void {
    this.#requested = response;
    this.#send(response ? { type: "response.create", response } : { type: "response.create" });
  }

  /** The newest configuration asked for, confirmed or not. */
  #latestSession(): SessionOptions {
    return this.#unsentSession ?? this.#proposals.at(-1)?.session ?? this.#session;
  }

  /** Sends a configuration on the open socket and waits for its confirmation. */
  #propose(session: SessionOptions): void {
    const { id, frame } = this.#frame({ type: "session.update", session: sessionUpdate(session) });
    this.#proposals.push({ eventId: id, session });
    this.#upstream!.sendRaw(frame);
  }

  #remember(entry: HistoryEntry): void {
    const cap = Math.min(MAX_ENTRY_CHARS, this.#maxHistoryChars);
    const text = entry.text.length > cap ? entry.text.slice(0, cap) : entry.text;
    this.#history.push(text === entry.text ? entry : { ...entry, text });
    this.#historyChars += text.length;
    this.#historyVersion++;
    while (
      this.#history.length > this.#maxHistoryTurns ||
      (this.#historyChars > this.#maxHistoryChars && this.#history.length > 0)
    ) {
      this.#historyChars -= this.#history.shift()!.text.length;
    }
  }

  #clearTimers(): void {
    if (this.#connectTimer !== undefined) this.#clock.clearTimeout(this.#connectTimer);
    if (this.#retryTimer !== undefined) this.#clock.clearTimeout(this.#retryTimer);
    if (this.#recycleTimer !== undefined) this.#clock.clearTimeout(this.#recycleTimer);
    this.#connectTimer = undefined;
    this.#retryTimer = undefined;
    this.#recycleTimer = undefined;
  }

  /** The listener of the current socket: events of a socket no longer current are ignored. */
  #listenerFor(socket: () => Upstream | undefined): UpstreamListener {
    const current = () => socket() !== undefined && socket() === this.#upstream;
    return {
      onOpen: () => {
        if (current()) this.#onOpen();
      },
      onEvent: (event) => {
        if (current()) this.#onEvent(event);
      },
      onClose: (close) => {
        if (current()) this.#onClose(close);
      },
      onListenerError: (error, where) => this.#internalError(error, `upstream ${where}`),
    };
  }

  /** Owns `upstream` until it is closed (asyncDispose waits for it). */
  #own(upstream: Upstream): void {
    this.#sockets.add(upstream);
    void upstream.closed.then(() => this.#sockets.delete(upstream));
  }

  #connect(): void {
    this.#ready = false;
    this.#speaking = false;
    this.stats.attempts++;
    // A new upstream session counts its audio from 0; the leg's timeline goes on.
    this.#epochBytes = this.#appendedBytes - this.#pendingAudioBytes();
    this.#sessionOpenedAt = this.#clock.monotonic();
    this.#expiresAt = Infinity;
    const warm = this.#options.pool?.take();
    if (warm !== undefined) {
      // Open and created already: configure it at once (one round trip to session.updated).
      this.stats.warm++;
      this.#upstream = warm.upstream;
      this.#sessionOpenedAt = warm.openedAt;
      this.#expiresAt = warm.expiresAt;
      warm.upstream.attach(this.#listenerFor(() => warm.upstream));
      this.#own(warm.upstream);
      this.#onOpen();
      return;
    }
    let upstream: Upstream | undefined;
    try {
      upstream = new Upstream(
        { ...this.#options.upstream, log: this.#log },
        this.#listenerFor(() => upstream),
      );
    } catch (error) {
      // A bad URL or option: no retry helps. Fail outside the caller's stack (start()).
      this.#log.error(
        { err: error instanceof Error ? error.stack : String(error) },
        "Cannot open the upstream",
      );
      const name = error instanceof Error ? error.name : "error";
      this.#retryTimer = this.#clock.setTimeout(() => {
        this.#retryTimer = undefined;
        this.#fail(`cannot open the upstream: ${name}`);
      }, 0);
      return;
    }
    const opened = upstream;
    this.#upstream = opened;
    this.#own(opened);
    this.#connectTimer = this.#clock.setTimeout(() => {
      this.#connectTimer = undefined;
      if (this.#closed || opened !== this.#upstream) return;
      opened.close(1000, "connect timed out");
      this.#attemptFailed("upstream connect timed out", false);
    }, this.#options.connectTimeoutMs ?? 10_000);
  }

  #onOpen(): void {
    // Send the configuration at once; audio waits for `session.updated` so that it is read in
    // the right format (§1.5). It carries every change asked for so far: changes sent on a
    // lost socket were never confirmed.
    const target = this.#latestSession();
    this.#proposals = [];
    this.#unsentSession = undefined;
    this.#propose(target);
    this.#replayHistory(this.#upstream!);
  }

  /** Tells a new session the conversation so far (text items, oldest first). */
  #replayHistory(upstream: Upstream): void {
    for (const entry of this.#history) {
      upstream.sendRaw(
        this.#frame({
          type: "conversation.item.create",
          item: entry.role === "user"
            ? { type: "message", role: "user", content: [{ type: "input_text", text: entry.text }] }
            : {
              type: "message",
              role: "assistant",
              content: [{ type: "output_text", text: entry.text }],
            },
        }).frame,
      );
    }
  }

  #onClose(close: UpstreamClose): void {
    if (this.#closed) return;
    if (this.#connectTimer !== undefined) this.#clock.clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    const wasReady = this.#ready;
    this.#ready = false;
    this.#speaking = false;
    if (this.#recycleTimer !== undefined) this.#clock.clearTimeout(this.#recycleTimer);
    this.#recycleTimer = undefined;
    this.#discardReplacement();
    const cause = describeClose(close);
    if (!wasReady) {
      // Refusals that no retry mends (bad key, wrong path) end the call at once.
      const status = close.failure?.kind === "http" ? close.failure.status : 0;
      const permanent = status >= 400 && status < 500 && status !== 408 && status !== 429;
      this.#attemptFailed(cause, permanent);
      return;
    }
    this.#log.warn({ code: close.code, reason: close.reason }, "Upstream closed unexpectedly");
    const lost = this.#activeResponse;
    this.#activeResponse = undefined;
    this.#unansweredTurn = false;
    this.#proposals = [];
    // A reply cut off mid-generation is asked for again, unless the caller had barged in.
    if (lost !== undefined && !this.#discarded.has(lost)) {
      this.#resume = { response: this.#activeRequest };
    }
    this.#activeRequest = undefined;
    this.#requested = undefined;
    this.#discarded.clear();
    this.#hypotheses.clear();
    this.#options.leg.interrupt();
    // The response died with the socket: it ends here for the leg, since no response.done comes.
    if (lost !== undefined) {
      this.#notify({ type: "response.done", responseId: lost, status: "failed", usage: undefined });
    }
    if (this.#closed) return;
    if ((this.#options.reconnectWindowMs ?? 5000) <= 0) {
      this.#fail(cause);
      return;
    }
    this.stats.reconnects++;
    this.#outageStart = this.#clock.monotonic();
    this.#failedAttempts = 0;
    this.#log.info({ cause }, "Reconnecting to the upstream");
    this.#connect();
  }

  /** An attempt failed: retry with backoff inside the window, else fail with the cause. */
  #attemptFailed(cause: string, permanent: boolean): void {
    if (this.#closed) return;
    this.#failedAttempts++;
    const window = this.#options.reconnectWindowMs ?? 5000;
    const left = this.#outageStart + window - this.#clock.monotonic();
    if (permanent || left <= 0) {
      this.#fail(cause);
      return;
    }
    const base = this.#options.reconnectBaseMs ?? 100;
    const ceiling = Math.min(
      this.#options.reconnectMaxMs ?? 1000,
      base * 2 ** Math.min(this.#failedAttempts - 1, 20),
    );
    const random = this.#options.random ?? Math.random;
    const delay = Math.min(left, Math.floor(random() * ceiling));
    this.#log.info(
      { cause, failedAttempts: this.#failedAttempts, delayMs: delay },
      "Upstream attempt failed; retrying",
    );
    this.#retryTimer = this.#clock.setTimeout(() => {
      this.#retryTimer = undefined;
      if (!this.#closed) this.#connect();
    }, delay);
  }

  #fail(reason: string): void {
    if (this.#closed) return;
    this.#failed = true;
    this.#log.error({ reason }, "Upstream failed");
    this.close();
    try {
      this.#options.onFailed?.(reason);
    } catch (error) {
      this.#log.error(
        { err: error instanceof Error ? error.stack : String(error) },
        "onFailed threw",
      );
    }
  }

  /** An exception while handling upstream input: this call fails, the process goes on. */
  #internalError(error: unknown, during: string): void {
    this.#log.error(
      { during, err: error instanceof Error ? error.stack : String(error) },
      "Bridge failed while handling upstream input",
    );
    const name = error instanceof Error ? error.name : typeof error;
    this.#fail(`internal error: ${name} while handling ${during}`);
  }

  #expiryOf(session: Readonly<Record<string, unknown>>, openedAt: number): number {
    return sessionExpiry(session, this.#clock, {
      openedAt,
      ...(this.#options.sessionMs === undefined ? {} : { fallbackMs: this.#options.sessionMs }),
    });
  }

  /** Arms the recycle of the current session for shortly before it expires. */
  #scheduleRecycle(): void {
    if (this.#recycleTimer !== undefined) this.#clock.clearTimeout(this.#recycleTimer);
    this.#recycleTimer = undefined;
    const lifetime = this.#expiresAt - this.#sessionOpenedAt;
    if (this.#closed || !Number.isFinite(lifetime) || lifetime <= 0) return;
    const before = this.#options.recycleBeforeMs ?? Math.min(5 * 60_000, lifetime / 4);
    if (before <= 0) return;
    const wait = Math.max(0, this.#expiresAt - before - this.#clock.monotonic());
    this.#recycleTimer = this.#clock.setTimeout(() => this.#recycleTick(), wait);
  }

  /** In the recycle window: prepare a replacement when quiet, move onto it when ready. */
  #recycleTick(): void {
    this.#recycleTimer = undefined;
    if (this.#closed || !this.#ready) return;
    const replacement = this.#replacement;
    if (replacement === undefined) {
      if (this.#recycleAttempts < MAX_RECYCLE_ATTEMPTS && this.#quiet()) this.#prepareReplacement();
    } else if (replacement.ready) {
      this.#finishRecycle();
    }
    if (this.#closed || this.#recycleTimer !== undefined) return;
    if (this.#clock.monotonic() >= this.#expiresAt) return;
    this.#recycleTimer = this.#clock.setTimeout(() => this.#recycleTick(), RECYCLE_POLL_MS);
  }

  /**
   * A quiet moment: no response asked for or under way, the caller not speaking, nothing of
   * the model's audio playing, no configuration or frame waiting.
   */
  #quiet(): boolean {
    return this.#ready && !this.#closed && this.#activeResponse === undefined &&
      this.#requested === undefined && this.#deferredCreate === null &&
      this.#resume === undefined && !this.#unansweredTurn && !this.#speaking &&
      this.#proposals.length === 0 && this.#unsentSession === undefined &&
      this.#pending.length === 0 && (this.#options.leg.idle?.() ?? true);
  }

  /** Opens (or takes warm) the session that will carry the call on, and configures it. */
  #prepareReplacement(): void {
    this.#recycleAttempts++;
    const session = this.#session;
    const historyVersion = this.#historyVersion;
    // Set once the socket exists; its callbacks come later.
    const slot: { replacement?: Replacement } = {};
    const configure = (r: Replacement) => {
      const { frame } = this.#frame({ type: "session.update", session: sessionUpdate(session) });
      r.upstream.sendRaw(frame);
      this.#replayHistory(r.upstream);
    };
    const listener: UpstreamListener = {
      onOpen: () => {
        if (slot.replacement && slot.replacement === this.#replacement) {
          configure(slot.replacement);
        }
      },
      onEvent: (event) => {
        const r = slot.replacement;
        if (!r || r !== this.#replacement) return;
        if (event.type === "session.created") {
          r.expiresAt = this.#expiryOf(event.session, r.openedAt);
        } else if (event.type === "session.updated" && !r.ready) {
          r.ready = true;
          this.#finishRecycle();
        } else if (event.type === "error") {
          this.#log.warn(
            { code: event.error.code, message: event.error.message },
            "The replacement upstream session refused an event; recycling later",
          );
          this.#discardReplacement();
        }
      },
      onClose: () => {
        if (slot.replacement && slot.replacement === this.#replacement) {
          this.#discardReplacement();
        }
      },
      onListenerError: (error, where) => this.#internalError(error, `replacement ${where}`),
    };
    const warm: WarmSession | undefined = this.#options.pool?.take();
    let upstream: Upstream;
    try {
      if (warm) {
        upstream = warm.upstream;
        upstream.attach(listener);
      } else {
        upstream = new Upstream({ ...this.#options.upstream, log: this.#log }, listener);
      }
    } catch (error) {
      this.#log.warn({ err: String(error) }, "Cannot open a replacement upstream session");
      return;
    }
    const replacement: Replacement = {
      upstream,
      openedAt: warm?.openedAt ?? this.#clock.monotonic(),
      expiresAt: warm?.expiresAt ?? Infinity,
      session,
      historyVersion,
      ready: false,
    };
    slot.replacement = replacement;
    this.#replacement = replacement;
    this.#own(upstream);
    this.#log.info({ warm: warm !== undefined }, "Recycling the upstream session");
    if (warm) configure(replacement);
  }

  /** Moves the call onto the ready replacement, if it is still quiet and nothing changed. */
  #finishRecycle(): void {
    const r = this.#replacement;
    if (!r?.ready || this.#closed) return;
    if (r.session !== this.#session || r.historyVersion !== this.#historyVersion) {
      // The conversation moved on while it was prepared: prepare it again when quiet.
      this.#discardReplacement();
      return;
    }
    if (!this.#quiet()) return;
    const old = this.#upstream;
    this.#replacement = undefined;
    this.#upstream = r.upstream;
    r.upstream.attach(this.#listenerFor(() => r.upstream));
    this.#sessionOpenedAt = r.openedAt;
    this.#expiresAt = r.expiresAt;
    // The new session hears audio from now on; what the old one held was silence.
    this.#epochBytes = this.#appendedBytes;
    this.#items.clear();
    this.#hypotheses.clear();
    old?.close(1000, "session recycled");
    this.stats.recycles++;
    this.#recycleAttempts = 0;
    this.#log.info({}, "Upstream session recycled");
    this.#scheduleRecycle();
  }

  #discardReplacement(): void {
    const r = this.#replacement;
    if (!r) return;
    this.#replacement = undefined;
    r.upstream.close(1000, "recycle abandoned");
  }

  /** True once the Bridge failed (it is then closed too). */
  get failed(): boolean {
    return this.#failed;
  }

  #onEvent(event: ServerEvent): void {
    if (this.#closed) return;
    const handler = this.#handlers[event.type] as ((e: ServerEvent) => void) | undefined;
    if (!handler) return;
    try {
      handler(event);
    } catch (error) {
      this.#internalError(error, event.type);
    }
  }

  #notify(event: LegEvent): void {
    if (!this.#closed) this.#options.leg.notify(event);
  }

  /** Bytes of audio waiting in `#pending` (they will open the next session's timeline). */
  #pendingAudioBytes(): number {
    let bytes = 0;
    for (const frame of this.#pending) {
      if (typeof frame === "string" && frame.startsWith(APPEND_PREFIX)) {
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
    const eventId = error.event_id ?? undefined;
    const eventType = eventId === undefined ? undefined : this.#eventTypes.get(eventId);
    if (BENIGN_ERRORS.has(code)) {
      this.#log.debug({ code, eventType }, "Upstream refused an event (benign)");
      return;
    }
    if (code === "session_expired") {
      // The session hit its maximum duration before a quiet moment came (§1.6): the call goes
      // on in a new one, as after a lost socket.
      this.#log.info({}, "Upstream session expired; reconnecting");
      const expired = this.#upstream;
      expired?.close(1000, "session expired");
      this.#onClose({ code: 1001, reason: "session expired", opened: true });
      return;
    }
    this.#log.warn(
      { code, param: error.param, eventId, eventType, message: error.message },
      "Upstream error",
    );
    const index = this.#proposals.findIndex((p) => p.eventId === eventId);
    const refused = index >= 0 ? this.#proposals.splice(index, 1)[0] : undefined;
    this.#notify({
      type: "error",
      code,
      message: error.message,
      ...(eventType === undefined ? {} : { eventType }),
    });
    if (FATAL_ERROR_CODES.has(code)) {
      this.#fail(`upstream error ${code}`);
      return;
    }
    if (refused !== undefined && !this.#ready && !this.#closed) {
      // A new socket's configuration was refused. Without the changes nobody confirmed yet it
      // may pass; if the confirmed configuration itself is refused, the call cannot work.
      if (refused.session === this.#session) this.#fail(`upstream refused the session (${code})`);
      else this.#propose(this.#session);
    }
  }

  readonly #handlers: EventHandlers = {
    "error": (e) => this.#onError(e.error),
    "session.created": (e) => {
      if (this.#connectTimer !== undefined) this.#clock.clearTimeout(this.#connectTimer);
      this.#connectTimer = undefined;
      this.#expiresAt = this.#expiryOf(e.session, this.#sessionOpenedAt);
    },
    "session.updated": () => {
      const confirmed = this.#proposals.shift();
      if (confirmed) this.#session = confirmed.session;
      if (this.#ready) return;
      this.#ready = true;
      this.#failedAttempts = 0;
      this.#recycleAttempts = 0;
      this.#scheduleRecycle();
      const pending = this.#pending;
      this.#pending = [];
      this.#pendingAudioChars = 0;
      for (const frame of pending) {
        if (typeof frame === "string") {
          this.#upstream!.sendRaw(frame);
        } else if (this.#upstream!.sendRaw(frame.frame)) {
          frame.onSent();
        }
      }
      if (this.#unsentSession !== undefined) {
        const session = this.#unsentSession;
        this.#unsentSession = undefined;
        this.#propose(session);
      }
      this.#notify({ type: "session.ready" });
      if (this.#closed) return;
      const resume = this.#resume;
      this.#resume = undefined;
      if (resume !== undefined && this.#activeResponse === undefined) {
        // The history is replayed already: ask again so the caller is not left in silence.
        this.stats.resumedResponses++;
        this.#log.info({}, "Asking again for the reply lost with the upstream");
        this.#sendCreate(resume.response);
      } else if (this.#deferredCreate !== null && this.#activeResponse === undefined) {
        const response = this.#deferredCreate;
        this.#deferredCreate = null;
        this.#sendCreate(response);
      }
    },
    "input_audio_buffer.speech_started": (e) => {
      this.#speaking = true;
      this.#notify({ type: "speech.started", audioStartMs: this.#legMs(e.audio_start_ms) });
      this.interrupt();
    },
    "input_audio_buffer.speech_stopped": (e) => {
      this.#speaking = false;
      this.#notify({ type: "speech.stopped", audioEndMs: this.#legMs(e.audio_end_ms) });
    },
    "input_audio_buffer.committed": () => {
      // With interrupt_response off, a turn committed while a (cancelled) response is still
      // active gets no automatic response (§2.3): remember to ask for one when it is done.
      if (this.#activeResponse !== undefined && this.#autoResponds()) this.#unansweredTurn = true;
      this.#notify({ type: "speech.committed" });
    },
    "conversation.item.input_audio_transcription.delta": (e) => {
      const text = (this.#hypotheses.get(e.item_id) ?? "") + (e.delta ?? "");
      this.#hypotheses.set(e.item_id, text);
      if (this.#hypotheses.size > 16) {
        this.#hypotheses.delete(this.#hypotheses.keys().next().value!);
      }
      if (text.trim()) this.#notify({ type: "speech.hypothesis", text: text.trim() });
    },
    "conversation.item.input_audio_transcription.completed": (e) => {
      this.#hypotheses.delete(e.item_id);
      const text = e.transcript.trim();
      if (!text) return;
      this.#remember({ role: "user", text, itemId: e.item_id });
      this.#notify({ type: "speech.recognition", text });
    },
    "response.created": (e) => {
      const requested = this.#requested;
      this.#requested = undefined;
      if (e.response.conversation_id === null) return; // out-of-band: not ours to play
      this.#activeResponse = e.response.id;
      this.#activeRequest = requested;
      this.#unansweredTurn = false;
      this.#notify({ type: "response.started", responseId: e.response.id });
    },
    "response.output_audio.delta": (e) => {
      if (this.#discarded.has(e.response_id)) return;
      this.#trackItem(e.item_id).generatedBytes += base64ByteLength(e.delta);
      if (!this.#audioResponses.has(e.response_id)) {
        this.#audioResponses.add(e.response_id);
        if (this.#audioResponses.size > AUDIO_RESPONSES_KEPT) {
          this.#audioResponses.delete(this.#audioResponses.values().next().value!);
        }
      }
      if (!this.#closed) this.#options.leg.playAudio(e.item_id, e.delta);
    },
    "response.output_audio.done": (e) => {
      this.#trackItem(e.item_id).audioDone = true;
      if (!this.#discarded.has(e.response_id) && !this.#closed) {
        this.#options.leg.endAudio(e.item_id);
      }
    },
    "response.output_audio_transcript.delta": (e) => {
      if (this.#discarded.has(e.response_id)) return;
      this.#notify({
        type: "response.transcript.delta",
        responseId: e.response_id,
        delta: e.delta,
      });
    },
    "response.output_audio_transcript.done": (e) => {
      if (this.#discarded.has(e.response_id)) return;
      this.#remember({ role: "assistant", text: e.transcript, itemId: e.item_id });
      this.#notify({ type: "response.transcript.done", itemId: e.item_id, text: e.transcript });
    },
    "response.output_item.done": (e) => this.#onItemDone(e.item, e.response_id),
    "response.done": (e) => {
      if (e.response.id !== this.#activeResponse) return;
      this.#activeResponse = undefined;
      this.#activeRequest = undefined;
      this.#discarded.delete(e.response.id);
      this.#notify({
        type: "response.done",
        responseId: e.response.id,
        status: e.response.status,
        usage: e.response.usage ?? null,
      });
      if (this.#closed) return;
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
    if (this.#discarded.has(responseId) || this.#closed) return;
    this.#options.onFunctionCall?.({
      name: item.name ?? "",
      callId: item.call_id ?? "",
      arguments: item.arguments ?? "{}",
      responseId,
    });
  }
}

/** The cause of a failed attempt or a lost socket, for logs and `onFailed`. */
function describeClose(close: UpstreamClose): string {
  switch (close.failure?.kind) {
    case "refused":
      return "upstream refused the connection";
    case "http":
      return `upstream answered HTTP ${close.failure.status}`;
    case "network":
      return `upstream could not be reached (${close.failure.detail})`;
    case undefined:
      return `upstream closed with code ${close.code}${close.reason ? ` (${close.reason})` : ""}`;
    default:
      return close.failure satisfies never;
  }
}
