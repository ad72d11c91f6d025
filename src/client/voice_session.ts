/**
 * `VoiceSession`: a live, interruptible voice conversation with the model through the
 * gateway's user realtime API (seed 004's surface, in TypeScript naming). The session is the
 * public face and the conversation (speech and responses); its parts live beside it: the
 * connection and state ({@linkcode SessionCore}), the user's audio timeline
 * ({@linkcode AudioTimeline}) and the model's responses ({@linkcode ResponseTracker}).
 *
 * @module
 */
import { asBytes, type AudioSettings } from "./audio.ts";
import { AudioTimeline, type Utterance } from "./audio_timeline.ts";
import { Deadline } from "./deadline.ts";
import { ConfigurationError, type ServerError, type VoiceSessionError } from "./errors.ts";
import type { TurnDetection, TurnDetectionOptions, VoiceSessionOptions } from "./options.ts";
import { turnDetectionOf } from "./options.ts";
import {
  type Interruption,
  type ResponseChunk,
  type ResponseStream,
  ResponseTracker,
  type VoiceResponse,
} from "./response_stream.ts";
import { ACK_TIMEOUT_MS, type ConversationMessage, SessionCore } from "./session_core.ts";
import { SessionState, type VoiceSessionEvents } from "./session_state.ts";
import type { AnyClientTool } from "./tools.ts";

/** A wait with a time limit. */
export interface WaitOptions {
  /**
   * Milliseconds to wait for what the call waits for to begin — a response to start
   * (`receive`, `streamReceive`, `respond`; a started response runs to its end), an utterance
   * (`listen`), the gateway's answer (`interrupt`, default 10 s) — before failing with a
   * {@linkcode TimeoutError}. Default: no limit.
   */
  readonly timeout?: number;
}

/**
 * A voice conversation with the model through the gateway: send the user's audio, hear the
 * model's, let turn detection find the turns, and interrupt.
 *
 * The gateway owns barge-in: when the user speaks over the model it cancels the reply, trims
 * the model's memory to what was heard and sends `interrupted` — stop playback then.
 *
 * @example Text in, a spoken reply out (against a gateway on localhost:8000)
 * ```ts ignore
 * import { VoiceSession } from "./mod.ts";
 *
 * const session = new VoiceSession({ url: "http://localhost:8000", voice: "alloy" });
 * await using voice = await session.connect();
 * await voice.sendText("Hello, how are you?");
 * const reply = await voice.receive({ timeout: 10_000 });
 * console.log(reply.transcript, reply.audio.byteLength, "bytes of PCM16 24 kHz");
 * ```
 */
export class VoiceSession implements AsyncDisposable {
  readonly #options: VoiceSessionOptions;
  readonly #core: SessionCore;
  readonly #timeline = new AudioTimeline((samples) => this.#core.sendSamples(samples));
  readonly #responses = new ResponseTracker((response) =>
    this.#core.events.emit("response_done", response)
  );
  readonly #listenWaiters = new Set<PromiseWithResolvers<Utterance>>();
  readonly #interruptWaiters = new Set<PromiseWithResolvers<Interruption>>();

  /**
   * Creates a session (no I/O). Throws a {@linkcode ConfigurationError} for bad options.
   *
   * @example
   * ```ts
   * import { SessionState, VoiceSession } from "./mod.ts";
   *
   * const session = new VoiceSession({
   *   url: "ws://localhost:8000",
   *   agent: { name: "concierge", instructions: "You are a friendly hotel concierge." },
   *   language: "en",
   *   turnDetection: { silenceDuration: 800 },
   * });
   * console.log(session.state === SessionState.IDLE); // true
   * ```
   */
  constructor(options: VoiceSessionOptions) {
    this.#options = options;
    const responses = this.#responses;
    this.#core = new SessionCore(options, {
      handle: (message) => this.#handle(message),
      refused: (error) => this.#refused(error),
      get busy() {
        return responses.tracking;
      },
      reset: () => {
        this.#responses.reset();
        this.#timeline.reset();
      },
      close: (error) => this.#close(error),
    });
  }

  /** The current state. */
  get state(): SessionState {
    return this.#core.state;
  }

  /** True while the session is live (connected and configured). */
  get isConnected(): boolean {
    return this.#core.isConnected;
  }

  /** The gateway's session id, once connected (kept after disconnecting). */
  get sessionId(): string | undefined {
    return this.#core.sessionId;
  }

  /** The model the gateway serves, once connected; before that, the `model` option. */
  get model(): string | undefined {
    return this.#core.model ?? this.#options.model;
  }

  /** The model's voice, as the gateway confirmed it; before that, the `voice` option. */
  get voice(): string | undefined {
    return this.#core.voice ?? this.#options.voice;
  }

  /** The app's audio format. */
  get audio(): AudioSettings {
    return this.#core.audio;
  }

  /** The turn detection in force, once connected. */
  get turnDetection(): TurnDetection | undefined {
    return turnDetectionOf(this.#core.turnDetection);
  }

  /**
   * Registers an event handler; returns a function that removes it.
   *
   * @example
   * ```ts
   * import { VoiceSession } from "./mod.ts";
   *
   * const session = new VoiceSession({ url: "http://localhost:8000" });
   * const off = session.on("state_change", (state, previous) => console.log(previous, "→", state));
   * session.on("transcript_available", (text, { role }) => console.log(`${role}: ${text}`));
   * off();
   * ```
   */
  on<K extends keyof VoiceSessionEvents>(event: K, handler: VoiceSessionEvents[K]): () => void {
    this.#core.events.on(event, handler);
    return () => this.off(event, handler);
  }

  /** Removes an event handler. */
  off<K extends keyof VoiceSessionEvents>(event: K, handler: VoiceSessionEvents[K]): void {
    this.#core.events.off(event, handler);
  }

  /**
   * Connects and applies the configuration; resolves with the session itself once it is live,
   * so it works with `await using` (the session disconnects at the end of the block) and
   * with manual `connect()` / `disconnect()`. After a disconnect, `connect()` opens a new
   * gateway session with the same configuration.
   *
   * Fails with a {@linkcode ConnectionError} (refused, unreachable), a
   * {@linkcode TimeoutError} or a {@linkcode ConfigurationError} (the gateway serves another
   * model).
   */
  async connect(): Promise<this> {
    await this.#core.connect();
    return this;
  }

  /**
   * Closes the connection. Pending `receive()`, `listen()`, `respond()` and `interrupt()` calls
   * fail with a {@linkcode ConnectionClosedError}. Safe to call more than once.
   */
  disconnect(): Promise<void> {
    return this.#core.disconnect();
  }

  /** Disconnects: what `await using` calls at the end of its block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.disconnect();
  }

  /**
   * Sends the user's audio in the app's format ({@linkcode configureAudio}).
   *
   * `commit` (default `true`) ends the user's turn, and the model replies: with manual turns
   * the buffer is committed; with turn detection on, enough silence follows the audio for
   * turn detection to close the turn (so a turn is never committed twice). Stream microphone
   * audio with `commit: false` and let turn detection find the turns.
   *
   * Throws a {@linkcode NotConnectedError} before `connect()` and an
   * {@linkcode AudioFormatError} for audio that is not whole frames.
   */
  // Async so that misuse rejects the promise instead of throwing at the call site.
  // deno-lint-ignore require-await
  async sendAudio(
    audio: ArrayBuffer | ArrayBufferView,
    options: { readonly commit?: boolean } = {},
  ): Promise<void> {
    const core = this.#core;
    core.live("send audio");
    this.#timeline.write(asBytes(audio), core.audio, core.resamplers);
    if (!(options.commit ?? true)) return;
    this.#timeline.endUtterance();
    const td = core.turnDetection;
    if (td && td.type !== "none") {
      // Silence ends the turn through turn detection itself, never a second time.
      this.#timeline.silence((td.type === "server_vad" ? td.silence_duration_ms : 1500) + 200);
      this.#timeline.flush();
      return;
    }
    this.#timeline.flush();
    core.send({ type: "input_audio_buffer.commit", input_audio_buffer_commit: { respond: true } });
    core.enter(SessionState.PROCESSING);
  }

  /** Sends a user text message; the model replies (audio and transcript). */
  // Async so that misuse rejects the promise instead of throwing at the call site.
  // deno-lint-ignore require-await
  async sendText(text: string): Promise<void> {
    const core = this.#core;
    core.live("send text");
    // The gateway's own rule for text input, and the limit it announced.
    const max = core.maxTextChars;
    if (typeof text !== "string" || text.length === 0 || text.length > max) {
      throw new ConfigurationError(
        Number.isFinite(max)
          ? `Cannot send text: expected 1 to ${max} characters, got ${text.length}`
          : "Cannot send text: expected at least 1 character",
      );
    }
    core.send({
      type: "conversation.item.input",
      conversation_item_input: { type: "input_text", text },
    });
    core.enter(SessionState.PROCESSING);
  }

  /**
   * Resolves with a whole response: the one being generated, or else the next one to start.
   * An interrupted response resolves too, with `interrupted: true` and the audio generated.
   */
  async receive(options: WaitOptions = {}): Promise<VoiceResponse> {
    this.#core.live("receive");
    return await (await this.#currentOrNext("receive()", options)).done;
  }

  /**
   * Streams a response as it arrives: the one being generated, or else the next one. Yields
   * audio chunks (in the app's format) and transcript text; ends with the response.
   *
   * @example Play a reply as it streams
   * ```ts ignore
   * for await (const chunk of voice.streamReceive()) {
   *   if (chunk.type === "audio") player.enqueue(chunk.data);
   *   else console.log(chunk.text);
   * }
   * ```
   */
  async *streamReceive(options: WaitOptions = {}): AsyncGenerator<ResponseChunk, void, void> {
    this.#core.live("receive");
    yield* (await this.#currentOrNext("streamReceive()", options)).read();
  }

  /**
   * Resolves with the next user utterance that turn detection finds (the one being spoken, if
   * any). The model replies by itself; get the reply with {@linkcode receive}. Needs turn
   * detection; fails with a {@linkcode TimeoutError} after `timeout` ms.
   */
  async listen(options: WaitOptions = {}): Promise<Utterance> {
    this.#core.live("listen");
    if (this.#core.turnDetection?.type === "none") {
      throw new ConfigurationError(
        "Cannot listen: turn detection is off; enable it with configureTurnDetection({ enabled: true })",
      );
    }
    return await this.#wait(this.#listenWaiters, new Deadline("listen()", options.timeout));
  }

  /**
   * Sends a whole user utterance, ends the turn and resolves with the model's reply to it.
   *
   * @example
   * ```ts ignore
   * const reply = await voice.respond(utterancePcm16, { timeout: 15_000 });
   * play(reply.audio);
   * ```
   */
  async respond(
    audio: ArrayBuffer | ArrayBufferView,
    options: WaitOptions = {},
  ): Promise<VoiceResponse> {
    this.#core.live("respond");
    const timer = new Deadline("respond()", options.timeout);
    // Wait for the response that starts after this turn, not one already under way.
    const next = this.#responses.next();
    let stream: ResponseStream;
    try {
      await this.sendAudio(audio, { commit: true });
      stream = await timer.race(next.promise);
    } finally {
      timer.clear();
      next.cancel();
    }
    return await stream.done;
  }

  /**
   * Interrupts the model: stops the reply and makes the model forget what was not heard.
   * `playedMs` is how much of the reply the app really played (the gateway estimates it
   * otherwise). Resolves with what was cut.
   */
  async interrupt(
    options: WaitOptions & { readonly playedMs?: number } = {},
  ): Promise<Interruption> {
    this.#core.live("interrupt");
    const timer = new Deadline("interrupt()", options.timeout ?? ACK_TIMEOUT_MS);
    const played = options.playedMs;
    return await this.#wait(this.#interruptWaiters, timer, () =>
      this.#core.send({
        type: "response.interrupt",
        response_interrupt: played === undefined ? {} : { played_ms: Math.max(0, played) },
      }));
  }

  /**
   * Changes turn detection. Before `connect()` it is kept and applied on connect; while
   * connected it resolves once the gateway confirmed it.
   *
   * @example
   * ```ts
   * import { VoiceSession } from "./mod.ts";
   *
   * const session = new VoiceSession({ url: "http://localhost:8000" });
   * await session.configureTurnDetection({ threshold: 0.6, prefixPadding: 300, silenceDuration: 800 });
   * await session.configureTurnDetection({ enabled: false }); // manual turns
   * ```
   */
  async configureTurnDetection(options: TurnDetectionOptions): Promise<void> {
    await this.#core.configureTurnDetection(options);
  }

  /**
   * Changes the app's audio format, both directions: `sampleRate` (8000–96000; other than
   * 24000 is resampled with the Speex resampler), `channels` (1, or 2 interleaved) and
   * `format` (`"pcm16"` little-endian or `"float32"`). Fails with a
   * {@linkcode ConfigurationError} or {@linkcode AudioFormatError} for unsupported values.
   *
   * @example Float32 stereo at 48 kHz, as Web Audio delivers it
   * ```ts
   * import { VoiceSession } from "./mod.ts";
   *
   * const session = new VoiceSession({ url: "http://localhost:8000" });
   * await session.configureAudio({ sampleRate: 48000, channels: 2, format: "float32" });
   * console.log(session.audio); // { sampleRate: 48000, channels: 2, format: "float32" }
   * ```
   */
  async configureAudio(options: Partial<AudioSettings>): Promise<void> {
    await this.#core.configureAudio(options);
  }

  /**
   * Sets the functions the model may call (replacing earlier ones); resolves once the gateway
   * offers them. Before `connect()`, they are declared when it connects.
   *
   * @example A tool with a zod schema
   * ```ts
   * import { z } from "zod";
   * import { VoiceSession } from "./mod.ts";
   *
   * const session = new VoiceSession({ url: "http://localhost:8000" });
   * await session.tools([{
   *   name: "get_weather",
   *   description: "The weather in a city",
   *   parameters: z.object({ city: z.string() }),
   *   handler: ({ city }) => ({ city, forecast: "sunny" }),
   * }]);
   * ```
   */
  async tools(tools: readonly AnyClientTool[]): Promise<void> {
    await this.#core.tools(tools);
  }

  // -------------------------------------------------------------------------------------------

  /** Waits in `waiters` (after `start`) until settled or past the deadline. */
  async #wait<T>(
    waiters: Set<PromiseWithResolvers<T>>,
    timer: Deadline,
    start?: () => void,
  ): Promise<T> {
    const waiter = Promise.withResolvers<T>();
    waiters.add(waiter);
    try {
      start?.();
      return await timer.race(waiter.promise);
    } finally {
      timer.clear();
      waiters.delete(waiter);
    }
  }

  /** The response being generated, or else the next one to start (within the timeout). */
  async #currentOrNext(operation: string, options: WaitOptions): Promise<ResponseStream> {
    const timer = new Deadline(operation, options.timeout);
    try {
      return await this.#responses.currentOrNext(timer);
    } finally {
      timer.clear();
    }
  }

  /** Speech and response messages: the conversation's state, events and waits. */
  #handle(message: ConversationMessage): void {
    const core = this.#core;
    const events = core.events;
    switch (message.type) {
      case "response.audio.done":
        break;
      case "speech.started":
        this.#timeline.speechStarted(message.speech.audio_start_ms);
        core.enter(SessionState.LISTENING);
        events.emit("speech_started");
        break;
      case "speech.stopped": {
        const utterance = this.#timeline.speechStopped(message.speech.audio_end_ms);
        core.enter(SessionState.PROCESSING);
        events.emit("speech_ended");
        for (const waiter of [...this.#listenWaiters]) waiter.resolve(utterance);
        break;
      }
      case "speech.committed":
        if (core.state === SessionState.CONNECTED || core.state === SessionState.LISTENING) {
          core.enter(SessionState.PROCESSING);
        }
        break;
      case "input.transcript":
        if (message.transcript.final) {
          events.emit("transcript_available", message.transcript.text, { role: "user" });
        }
        break;
      case "response.started": {
        const stream = this.#responses.start(message.response.id, core.audio);
        // While the user speaks the state stays LISTENING (the gateway cuts the reply).
        if (core.state !== SessionState.LISTENING) core.enter(SessionState.SPEAKING);
        events.emit("response_started", { id: stream.id });
        this.#responses.wake(stream);
        break;
      }
      case "response.audio":
        this.#responses.audio(message.response.audio, core.audio, core.resamplers);
        break;
      case "response.delta":
        this.#responses.delta(message.response.delta.content);
        break;
      case "response.transcript": {
        const current = this.#responses.current;
        if (current) current.transcript = message.response.transcript;
        events.emit("transcript_available", message.response.transcript, { role: "assistant" });
        break;
      }
      case "response.interrupted": {
        const interruption: Interruption = {
          itemId: message.response.item_id,
          playedMs: message.response.played_ms,
        };
        const current = this.#responses.current;
        if (current) current.interrupted = true;
        if (core.state === SessionState.SPEAKING) core.enter(SessionState.CONNECTED);
        events.emit("interrupted", interruption);
        for (const waiter of [...this.#interruptWaiters]) waiter.resolve(interruption);
        break;
      }
      case "response.done": {
        const stream = this.#responses.take();
        if (core.state === SessionState.SPEAKING) core.enter(SessionState.CONNECTED);
        if (!stream) break;
        this.#responses.end(stream, core.audio, {
          inputTokens: message.response.usage.input_tokens,
          outputTokens: message.response.usage.output_tokens,
        });
        break;
      }
      default:
        message satisfies never;
    }
  }

  /** A refused message while nothing is generated: the reply waited for will not come. */
  #refused(error: ServerError): void {
    this.#responses.failWaiters(error);
    if (this.#core.state === SessionState.PROCESSING) this.#core.enter(SessionState.CONNECTED);
  }

  /** The connection closed: every wait fails with `error`. */
  #close(error: VoiceSessionError): void {
    this.#responses.close(error);
    for (const waiter of this.#listenWaiters) waiter.reject(error);
    for (const waiter of this.#interruptWaiters) waiter.reject(error);
  }
}
