/**
 * The Bridge: one per call (phone or app user). It owns the call's realtime session — its
 * configuration, audio in, the response sequencer, barge-in (cancel + truncate to what was
 * heard), tool calls, reconnects with backoff and the conversation replayed, recycling before
 * the session expires — and talks to the caller through a {@linkcode BridgeLeg}. The service
 * sits behind a {@linkcode RealtimeProvider} (`src/realtime/transport.ts`); by default the
 * OpenAI GA adapter.
 *
 * The Bridge and its upstream session are one unit of failure: an exception while handling an
 * upstream event fails this call (`onFailed("internal error: …")`), never the process; after
 * {@linkcode Bridge.close} (or a failure) no event, timer or socket callback reaches the leg.
 */
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import { base64ByteLength } from "../protocol/base64.ts";
import type { ServerEvent } from "../protocol/openai_realtime.ts";
import type { ClientEventType, ResponseParams } from "../protocol/openai_realtime_client.ts";
import { openAiProvider } from "../realtime/openai_transport.ts";
import type { SessionOptions } from "../realtime/session_config.ts";
import type { RealtimeProvider, RealtimeTransport } from "../realtime/transport.ts";
import { ItemAudioLog, truncationFor } from "./barge_in.ts";
import type { HistoryEntry } from "./history.ts";
import { ReplayHistory } from "./history.ts";
import type { LegEvent } from "./leg.ts";
import type { BridgeOptions } from "./options.ts";
import { linkTimings } from "./options.ts";
import { PendingQueue } from "./pending.ts";
import { AudioTimeline } from "./audio_timeline.ts";
import type { Interrupted } from "./playout.ts";
import type { TakeOver } from "./recycle.ts";
import { Recycler } from "./recycle.ts";
import { ResponseSequencer } from "./response_sequencer.ts";
import type { LinkPhase } from "./link.ts";
import { UpstreamLink } from "./link.ts";
import { serverEventHandlers } from "./server_events.ts";
import type { BridgeCore, ServerEventHandlers } from "./server_events.ts";
import type { Proposal } from "./session_negotiation.ts";
import { SessionNegotiation } from "./session_negotiation.ts";
import { EventIds } from "./event_ids.ts";

export type { BridgeLeg, FunctionCall, LegEvent } from "./leg.ts";
export type { HistoryEntry } from "./history.ts";
export type { BridgeOptions } from "./options.ts";

/** Client events (not audio) that may wait for the upstream; more are dropped. */
const MAX_PENDING_EVENTS = 256;

/** Where the Bridge's connection to the service stands. */
export type BridgePhase = LinkPhase;

/** One call's upstream session. */
export class Bridge {
  readonly #options: BridgeOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #provider: RealtimeProvider;
  readonly #link: UpstreamLink;
  readonly #config: SessionNegotiation;
  readonly #pending: PendingQueue;
  readonly #responses = new ResponseSequencer();
  readonly #items = new ItemAudioLog();
  readonly #replay: ReplayHistory;
  readonly #hypotheses = new Map<string, string>();
  readonly #timeline: AudioTimeline;
  readonly #eventIds = new EventIds();
  readonly #recycler: Recycler;
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
  readonly #handlers: ServerEventHandlers;

  constructor(options: BridgeOptions) {
    if (options.provider === undefined && options.upstream === undefined) {
      throw new TypeError("Cannot create a Bridge: neither a provider nor an upstream is given");
    }
    this.#options = options;
    this.#log = options.log;
    this.#clock = options.clock;
    this.#provider = options.provider ??
      openAiProvider({
        ...options.upstream!,
        ...(options.pool ? { pool: options.pool } : {}),
        log: options.log,
      });
    this.#config = new SessionNegotiation(options.session);
    this.#timeline = new AudioTimeline(options.upstreamBytesPerMs);
    const maxMs = options.maxPendingMs ?? 5000;
    this.#pending = new PendingQueue({
      maxAudioChars: Math.ceil((maxMs * options.upstreamBytesPerMs * 4) / 3),
      maxEvents: MAX_PENDING_EVENTS,
    });
    this.#replay = new ReplayHistory({
      maxTurns: options.maxHistoryTurns ?? 50,
      maxChars: options.maxHistoryChars ?? 32_000,
    });
    for (const entry of options.history ?? []) {
      this.#replay.remember({ role: entry.role, text: entry.text });
    }
    this.#link = new UpstreamLink({
      provider: this.#provider,
      clock: this.#clock,
      log: this.#log,
      stats: this.stats,
      ...(options.sessionMs === undefined ? {} : { sessionMs: options.sessionMs }),
      host: {
        attempting: () => {
          this.#speaking = false;
          // A new upstream session counts its audio from 0; the leg's timeline goes on.
          this.#timeline.newSession(this.#pending.audioBytes());
        },
        opened: (transport) => this.#onOpen(transport),
        event: (event) => this.#onEvent(event),
        down: (wasReady) => this.#onDown(wasReady),
        fail: (reason) => this.#fail(reason),
        internalError: (error, during) => this.#internalError(error, during),
      },
      ...linkTimings(options),
    });
    this.#recycler = new Recycler({
      provider: this.#provider,
      clock: this.#clock,
      log: this.#log,
      live: () => this.#link.phase.phase === "ready",
      quiet: () => this.#quiet(),
      stamp: () => ({ session: this.#config.confirmed, historyVersion: this.#replay.version }),
      configure: (transport, session) => {
        transport.updateSession(session, this.#eventIds.next("session.update"));
        this.#replayHistory(transport);
      },
      takeOver: (replacement) => this.#takeOver(replacement),
      own: (transport) => this.#link.own(transport),
      expiryOf: (session, openedAt) => this.#link.expiryOf(session, openedAt),
      internalError: (error, during) => this.#internalError(error, during),
    }, options.recycleBeforeMs === undefined ? {} : { recycleBeforeMs: options.recycleBeforeMs });
    this.#handlers = serverEventHandlers(this.#core());
  }

  /** Opens the upstream; call setup never waits for it. */
  start(): void {
    this.#link.start();
  }

  /** Where the connection stands. */
  get phase(): BridgePhase {
    return this.#link.phase;
  }

  /** True once the upstream accepted our session configuration. */
  get ready(): boolean {
    return this.#link.phase.phase === "ready";
  }

  /** True while an in-band response is being generated. */
  get generating(): boolean {
    return this.#responses.activeId !== undefined;
  }

  /** True once closed or failed: nothing more reaches the leg. */
  get closed(): boolean {
    return this.#link.phase.phase === "closed";
  }

  /** True once the Bridge failed (it is then closed too). */
  get failed(): boolean {
    return this.#link.phase.phase === "closed" && this.#link.phase.failed;
  }

  /** The session configuration the upstream last confirmed. */
  get session(): SessionOptions {
    return this.#config.confirmed;
  }

  /** The replay history (a copy), e.g. to hand the call to another instance. */
  get history(): readonly HistoryEntry[] {
    return this.#replay.entries;
  }

  /** The replay history's size (entries and characters), for tests and metrics. */
  get historySize(): { readonly turns: number; readonly chars: number } {
    return this.#replay.size;
  }

  /** Appends caller audio (base64 in the upstream input format). */
  appendAudio(base64: string): void {
    if (this.closed) return;
    this.stats.appends++;
    this.#timeline.appended(base64ByteLength(base64));
    if (this.#link.phase.phase === "ready" && this.#link.phase.transport.appendAudio(base64)) {
      return;
    }
    const dropped = this.#pending.pushAudio(base64);
    // The upstream never hears dropped audio: its timeline starts after it.
    this.#timeline.dropped(dropped.bytes);
    this.stats.droppedPending += dropped.frames;
  }

  /** Commits buffered audio (manual turns). */
  commitAudio(): void {
    this.#send("input_audio_buffer.commit", (t, id) => t.commitAudio(id));
  }

  /** Adds a user text item to the conversation (no response by itself). */
  sendUserText(text: string): void {
    // Into the replay history once it really went out: a text still pending is sent after
    // the replay, not twice.
    this.#send(
      "conversation.item.create",
      (t, id) =>
        t.addItem({
          type: "message",
          role: "user",
          content: [{ type: "input_text", text }],
        }, id),
      () => this.#replay.remember({ role: "user", text }),
    );
  }

  /**
   * Asks for a response. Only one in-band response runs at a time: while one is active the
   * request waits for its `response.done` (§5.6 pitfalls).
   */
  requestResponse(response?: ResponseParams): void {
    if (this.closed) return;
    if (this.#responses.request(response)) this.#sendCreate(response);
  }

  /** Answers a function call; `respond` asks the model to continue speaking. */
  sendFunctionOutput(callId: string, output: string, respond: boolean): void {
    this.#send(
      "conversation.item.create",
      (t, id) => t.addItem({ type: "function_call_output", call_id: callId, output }, id),
    );
    if (respond) this.requestResponse();
  }

  /**
   * Changes the session (e.g. instructions filled from call data). The Bridge's own view
   * ({@linkcode Bridge.session}, the replay after a reconnect, whether turns answer
   * themselves) takes the change only when the upstream confirms it with `session.updated`;
   * a refused update is dropped and the leg hears an `error` with `eventType: "session.update"`.
   */
  updateSession(patch: Partial<SessionOptions>): void {
    if (this.closed) return;
    const target = { ...this.#config.latest(), ...patch };
    if (this.#link.phase.phase === "ready") this.#propose(this.#link.phase.transport, target);
    else this.#config.defer(target);
  }

  /** Whether any audio of this response reached the leg. */
  responseHadAudio(responseId: string): boolean {
    return this.#responses.hadAudio(responseId);
  }

  /**
   * Barge-in, exactly as ARCHITECTURE.md orders it: stop playback and drop queued audio (the
   * leg), cancel only while generating, truncate to the played time — skipped when nothing
   * was played or the item was heard in full, clamped to the audio generated.
   */
  interrupt(): Interrupted | undefined {
    if (this.closed) return undefined;
    const heard = this.#options.leg.interrupt();
    const cancelled = this.#responses.cancel();
    if (cancelled !== undefined) {
      this.stats.cancels++;
      this.#send("response.cancel", (t, id) => t.cancelResponse(cancelled, id));
    }
    const truncation = truncationFor(heard, {
      item: heard === undefined ? undefined : this.#items.get(heard.itemId),
      bytesPerMs: this.#options.upstreamBytesPerMs,
    });
    if (truncation !== undefined) {
      this.stats.truncates++;
      this.#send("conversation.item.truncate", (t, id) => t.truncate(truncation, id));
      // The unheard words leave the context server-side; keep the replay history in step.
      this.#replay.forget(truncation.itemId);
    }
    return heard;
  }

  /** Closes the upstream; nothing more is sent, and nothing more reaches the leg. */
  close(): void {
    this.#closeAs(false);
  }

  /** Closes and waits until every transport the Bridge opened is closed. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.#link.settled();
  }

  // -------------------------------------------------------------------------------------------
  // What the server event handlers (server_events.ts) use

  #core(): BridgeCore {
    return {
      log: this.#log,
      leg: this.#options.leg,
      responses: this.#responses,
      items: this.#items,
      replay: this.#replay,
      hypotheses: this.#hypotheses,
      onFunctionCall: this.#options.onFunctionCall,
      closed: () => this.closed,
      setSpeaking: (speaking) => void (this.#speaking = speaking),
      notify: (event) => this.#notify(event),
      legMs: (ms) => this.#timeline.legMs(ms),
      interrupt: () => void this.interrupt(),
      requestResponse: (params) => this.requestResponse(params),
      autoResponds: () => this.#autoResponds(),
      eventTypeOf: (eventId) => this.#eventIds.typeOf(eventId),
      sessionCreated: (session) => this.#link.created(session),
      sessionUpdated: () => this.#sessionUpdated(),
      sessionExpired: () => this.#link.expire(),
      takeRefusedProposal: (eventId) => this.#config.refused(eventId),
      configurationRefused: (refused, code) => this.#configurationRefused(refused, code),
      fail: (reason) => this.#fail(reason),
    };
  }

  /** Tells the leg, unless closed. */
  #notify(event: LegEvent): void {
    if (!this.closed) this.#options.leg.notify(event);
  }

  /** Turns answer themselves: server VAD with `create_response` on. */
  #autoResponds(): boolean {
    const detection = this.#config.confirmed.turnDetection;
    return detection !== null && detection.create_response !== false;
  }

  /** Sends a `response.create` (or queues it while not ready). */
  #sendCreate(response: ResponseParams | undefined): void {
    this.#responses.sent(response);
    this.#send("response.create", (t, id) => t.createResponse(response, id));
  }

  /** `session.updated`: the oldest proposal is confirmed; the first one makes the session ready. */
  #sessionUpdated(): void {
    this.#config.confirm();
    const transport = this.#link.ready();
    if (transport === undefined) return;
    this.#recycler.resetAttempts();
    this.#recycler.schedule(this.#link.session);
    for (const op of this.#pending.drain()) {
      if (op.kind === "audio") transport.appendAudio(op.base64);
      else if (op.send(transport)) op.onSent?.();
    }
    const deferred = this.#config.takeDeferred();
    if (deferred !== undefined) this.#propose(transport, deferred);
    this.#notify({ type: "session.ready" });
    if (this.closed) return;
    const next = this.#responses.ready();
    if (next?.kind === "resume") {
      // The history is replayed already: ask again so the caller is not left in silence.
      this.stats.resumedResponses++;
      this.#log.info({}, "Asking again for the reply lost with the upstream");
    }
    if (next !== undefined) this.#sendCreate(next.params);
  }

  /**
   * A configuration was refused. On a new session (not ready yet) it may pass without the
   * changes nobody confirmed yet; if the confirmed configuration itself is refused, the call
   * cannot work.
   */
  #configurationRefused(refused: Proposal, code: string): void {
    const phase = this.#link.phase;
    if (phase.phase !== "connecting" || phase.transport === undefined) return;
    const confirmed = this.#config.confirmed;
    if (refused.session === confirmed) this.#fail(`upstream refused the session (${code})`);
    else this.#propose(phase.transport, confirmed);
  }

  /** Fails the call with a reason (`onFailed`). */
  #fail(reason: string): void {
    if (this.closed) return;
    this.#log.error({ reason }, "Upstream failed");
    this.#closeAs(true);
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

  // -------------------------------------------------------------------------------------------
  // Connection

  #closeAs(failed: boolean): void {
    if (this.closed) return;
    this.#link.close(failed);
    this.#pending.clear();
    this.#recycler.stop();
  }

  /** Sends a client event now when ready, else queues it (bounded) for the next session. */
  #send(
    type: ClientEventType,
    send: (transport: RealtimeTransport, eventId: string) => boolean,
    onSent?: () => void,
  ): void {
    if (this.closed) return;
    const id = this.#eventIds.next(type);
    if (this.#link.phase.phase === "ready" && send(this.#link.phase.transport, id)) {
      onSent?.();
      return;
    }
    // Bounded: while the model is unreachable, texts and requests wait here, but not without end.
    const queued = this.#pending.pushEvent({
      kind: "event",
      send: (transport) => send(transport, id),
      ...(onSent ? { onSent } : {}),
    });
    if (!queued) {
      this.stats.droppedPending++;
      this.#log.warn(
        { type, limit: MAX_PENDING_EVENTS },
        "Dropped an event: too many wait for the model",
      );
    }
  }

  /** Sends a configuration on the open session and waits for its confirmation. */
  #propose(transport: RealtimeTransport, session: SessionOptions): void {
    const id = this.#eventIds.next("session.update");
    this.#config.proposed({ eventId: id, session });
    transport.updateSession(session, id);
  }

  /** Tells a new session the conversation so far (text items, oldest first). */
  #replayHistory(transport: RealtimeTransport): void {
    for (const item of this.#replay.items()) {
      transport.addItem(item, this.#eventIds.next("conversation.item.create"));
    }
  }

  #onOpen(transport: RealtimeTransport): void {
    // Send the configuration at once; audio waits for `session.updated` so that it is read in
    // the right format (§1.5). It carries every change asked for so far: changes sent on a
    // lost session were never confirmed.
    this.#propose(transport, this.#config.opening());
    this.#replayHistory(transport);
  }

  #onEvent(event: ServerEvent): void {
    if (this.closed) return;
    const handler = this.#handlers[event.type] as ((e: ServerEvent) => void) | undefined;
    if (!handler) return;
    try {
      handler(event);
    } catch (error) {
      this.#internalError(error, event.type);
    }
  }

  /** The session is gone (`wasReady`: it worked; else an attempt failed). */
  #onDown(wasReady: boolean): void {
    this.#speaking = false;
    this.#recycler.stop();
    if (!wasReady) return;
    this.#config.lost();
    const lost = this.#responses.lost();
    this.#hypotheses.clear();
    this.#options.leg.interrupt();
    // The response died with the socket: it ends here for the leg, since no response.done comes.
    if (lost !== undefined) {
      this.#notify({ type: "response.done", responseId: lost, status: "failed", usage: undefined });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Recycling

  /**
   * A quiet moment: no response asked for or under way, the caller not speaking, nothing of
   * the model's audio playing, no configuration or frame waiting.
   */
  #quiet(): boolean {
    return this.#link.phase.phase === "ready" && this.#responses.settled && !this.#speaking &&
      this.#config.settled &&
      this.#pending.empty && (this.#options.leg.idle?.() ?? true);
  }

  /** Moves the call onto a replacement session. */
  #takeOver(replacement: TakeOver): void {
    const old = this.#link.takeOver(replacement);
    // The new session hears audio from now on; what the old one held was silence.
    this.#timeline.newSession(0);
    this.#items.clear();
    this.#hypotheses.clear();
    old?.close(1000, "session recycled");
    this.stats.recycles++;
    this.#log.info({}, "Upstream session recycled");
    this.#recycler.schedule(this.#link.session);
  }
}
