/**
 * `VoiceSession`: a live, interruptible voice conversation with the model through the
 * gateway's user realtime API (seed 004's surface, in TypeScript naming).
 *
 * @module
 */
import {
  type ClientMessage,
  ConversationItemInputPayload,
  ServerMessage,
  SessionUpdate,
  type TurnDetectionInfo,
  type TurnDetectionSetting,
  type Voice as WireVoice,
} from "../user/messages.ts";
import {
  asBytes,
  type AudioSettings,
  audioSettings,
  durationOf,
  frameBytes,
  fromMonoPcm16,
  loadResamplers,
  MODEL_SAMPLE_RATE,
  type Resampler,
  type ResamplerSource,
  toMonoPcm16,
} from "./audio.ts";
import { concatBytes } from "../audio/pcm.ts";
import type { AnyClientTool } from "./tools.ts";
import { runTool, toolSpec } from "./tools.ts";
import {
  ConfigurationError,
  ConnectionClosedError,
  ConnectionError,
  NotConnectedError,
  ServerError,
  TimeoutError,
  type VoiceSessionError,
} from "./errors.ts";

/**
 * The states of a {@linkcode VoiceSession}, driven by what the gateway reports.
 *
 * | state          | meaning                                                        |
 * | -------------- | -------------------------------------------------------------- |
 * | `IDLE`         | created, never connected                                       |
 * | `CONNECTING`   | opening the socket and applying the configuration              |
 * | `CONNECTED`    | live, nobody speaking                                          |
 * | `LISTENING`    | turn detection hears the user speak                            |
 * | `PROCESSING`   | the user's turn ended (or text was sent); the model is thinking |
 * | `SPEAKING`     | the model is generating its reply                              |
 * | `DISCONNECTED` | the connection closed (`connect()` may be called again)       |
 */
export const SessionState: {
  readonly IDLE: "IDLE";
  readonly CONNECTING: "CONNECTING";
  readonly CONNECTED: "CONNECTED";
  readonly LISTENING: "LISTENING";
  readonly PROCESSING: "PROCESSING";
  readonly SPEAKING: "SPEAKING";
  readonly DISCONNECTED: "DISCONNECTED";
} = Object.freeze({
  IDLE: "IDLE",
  CONNECTING: "CONNECTING",
  CONNECTED: "CONNECTED",
  LISTENING: "LISTENING",
  PROCESSING: "PROCESSING",
  SPEAKING: "SPEAKING",
  DISCONNECTED: "DISCONNECTED",
});
/** One of the {@linkcode SessionState} values. */
export type SessionState = typeof SessionState[keyof typeof SessionState];

/** A voice of the model. */
export type Voice =
  | "alloy"
  | "ash"
  | "ballad"
  | "coral"
  | "echo"
  | "sage"
  | "shimmer"
  | "verse"
  | "marin"
  | "cedar";
// The SDK's list and the gateway's must stay the same (a compile error otherwise).
true satisfies (Voice extends WireVoice ? (WireVoice extends Voice ? true : false) : false);

/** The turn detection in force, as the gateway confirmed it. */
export interface TurnDetection {
  /** `"server_vad"` (voice activity), `"semantic_vad"` (end of thought) or `"none"` (manual). */
  readonly mode: "server_vad" | "semantic_vad" | "none";
  /** Speech probability threshold (server VAD). */
  readonly threshold?: number;
  /** Milliseconds of audio kept before detected speech (server VAD). */
  readonly prefixPadding?: number;
  /** Milliseconds of silence that end the turn (server VAD). */
  readonly silenceDuration?: number;
}

/** An agent: the instructions the model follows (a `RealtimeAgent` has this shape too). */
export interface Agent {
  /** A name for logs; not sent. */
  readonly name?: string;
  /** What the model should do and how it should sound. */
  readonly instructions: string;
}

/** Turn-detection settings (server VAD). Omitted fields keep the gateway's defaults. */
export interface TurnDetectionOptions {
  /** `false` for manual turns: end each turn with `sendAudio(…, { commit: true })`. */
  readonly enabled?: boolean;
  /** Speech probability threshold, 0–1 (higher needs louder speech). */
  readonly threshold?: number;
  /** Milliseconds of audio kept before detected speech, 0–5000. */
  readonly prefixPadding?: number;
  /** Milliseconds of silence that end the turn, 0–10000. */
  readonly silenceDuration?: number;
}

/** Options of {@linkcode VoiceSession}. */
export interface VoiceSessionOptions {
  /**
   * The gateway: its origin (`http://localhost:8000`, `wss://voice.example.com`) or the full
   * route (`ws://localhost:8000/api/v1/streaming/realtime/alice`). With an origin, the session
   * uses the authenticated route when a `token` is given and the open route otherwise.
   */
  readonly url: string | URL;
  /** A bearer token (or HS256 JWT) for the authenticated route. Sent as a subprotocol. */
  readonly token?: string;
  /** The user id on the open route when `url` is an origin. Default `"voice-session"`. */
  readonly userId?: string;
  /**
   * The model you expect. The gateway chooses the model; when this is set and the gateway
   * serves another one, `connect()` fails with a {@linkcode ConfigurationError}.
   */
  readonly model?: string;
  /** The model's voice (default: the gateway's). Cannot change after the model has spoken. */
  readonly voice?: Voice;
  /** An agent whose instructions the model follows. */
  readonly agent?: Agent;
  /** Instructions for the model (instead of an `agent`). */
  readonly instructions?: string;
  /** The user's language (BCP 47, e.g. `en`, `pt-BR`): transcription hint and reply language. */
  readonly language?: string;
  /** The app's audio rate, both directions. Default 24000 (the model's; no resampling). */
  readonly sampleRate?: number;
  /** Turn detection: `true` (default), `false` (manual turns) or settings. */
  readonly turnDetection?: boolean | TurnDetectionOptions;
  /** Milliseconds `connect()` may take. Default 10000. */
  readonly connectTimeout?: number;
  /** Functions the model may call; the app runs them (see {@linkcode VoiceSession.tools}). */
  readonly tools?: readonly AnyClientTool[];
}

/** One piece of a streamed response: audio in the app's format, or transcript text. */
export type ResponseChunk =
  | { readonly type: "audio"; readonly data: Uint8Array<ArrayBuffer> }
  | { readonly type: "transcript"; readonly text: string };

/** A whole response of the model. */
export interface VoiceResponse {
  /** The response id. */
  readonly id: string;
  /** All its audio in the app's format (only what was generated, when interrupted). */
  readonly audio: Uint8Array<ArrayBuffer>;
  /** What the model said. */
  readonly transcript: string;
  /** True when the response was cut short by barge-in or `interrupt()`. */
  readonly interrupted: boolean;
  /** Tokens used. */
  readonly usage: { readonly inputTokens: number; readonly outputTokens: number };
}

/** A user utterance found by turn detection. */
export interface Utterance {
  /** The audio the app sent for it, in the app's format. */
  readonly audio: Uint8Array<ArrayBuffer>;
  /** Where it starts in all audio sent on this connection (ms). */
  readonly startMs: number;
  /** Where it ends (ms). */
  readonly endMs: number;
  /** `endMs - startMs`. */
  readonly durationMs: number;
}

/** What an interruption cut. */
export interface Interruption {
  /** The model item that was playing, or `null` when nothing was. */
  readonly itemId: string | null;
  /** How much of it the user heard (ms); the model forgets the rest. */
  readonly playedMs: number;
}

/** A role in the conversation. */
export type Role = "user" | "assistant";

/** Events of a {@linkcode VoiceSession} and their handlers. */
export interface VoiceSessionEvents {
  /** Turn detection heard the user start speaking (barge-in interrupts the model). */
  speech_started: () => void;
  /** The user stopped speaking; the turn ends. */
  speech_ended: () => void;
  /** The model started a response. */
  response_started: (response: { readonly id: string }) => void;
  /** A final transcript of a user turn or of the model's reply. */
  transcript_available: (text: string, info: { readonly role: Role }) => void;
  /** The model's reply was cut: stop local playback now. */
  interrupted: (interruption: Interruption) => void;
  /** A response finished (or was cut). */
  response_done: (response: VoiceResponse) => void;
  /** Something went wrong: a gateway `error`, or the connection closed unexpectedly. */
  error: (error: VoiceSessionError) => void;
  /** The state changed. */
  state_change: (state: SessionState, previous: SessionState) => void;
}

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

const OPEN_ROUTE = "/api/v1/streaming/realtime";

/** Gateway error codes after which the gateway closes the connection. */
const CLOSING_ERRORS: ReadonlySet<string> = new Set([
  "upstream_unavailable",
  "message_too_large",
  "idle_timeout",
  "session_expired",
  "internal_error",
  "server_shutting_down",
]);
const CANCELLED = "Cannot connect: disconnect() was called while connecting";
/** Largest audio message sent: 2 s of model audio (128 KiB of base64), far below frame limits. */
const MAX_CHUNK_SAMPLES = 2 * MODEL_SAMPLE_RATE;
/** Smallest audio message sent (20 ms): tiny frames are gathered, to stay under rate limits. */
const MIN_CHUNK_SAMPLES = MODEL_SAMPLE_RATE / 50;
/** Model samples per millisecond. */
const SAMPLES_PER_MS = MODEL_SAMPLE_RATE / 1000;
/** How much sent audio is kept for `listen()` while nobody speaks (ms). */
const LISTEN_LOOKBACK_MS = 10_000;
/** Longest utterance `listen()` keeps (ms). */
const LISTEN_MAX_MS = 60_000;
/** Waits for a configuration acknowledgement (ms). */
const ACK_TIMEOUT_MS = 10_000;
/** RFC 7230 token characters: what a WebSocket subprotocol may contain. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** A response being received: its chunks so far, and the whole response when it ends. */
class ResponseStream {
  readonly id: string;
  readonly chunks: ResponseChunk[] = [];
  transcript = "";
  interrupted = false;
  finished = false;
  error: unknown;
  readonly #done = Promise.withResolvers<VoiceResponse>();
  #wake: PromiseWithResolvers<void> | undefined;

  constructor(id: string) {
    this.id = id;
    // Nobody may be waiting: a rejection must not surface as unhandled.
    this.#done.promise.catch(() => {});
  }

  get done(): Promise<VoiceResponse> {
    return this.#done.promise;
  }

  push(chunk: ResponseChunk): void {
    this.chunks.push(chunk);
    this.#notify();
  }

  finish(usage: VoiceResponse["usage"]): VoiceResponse {
    const audio = concatBytes(this.chunks.flatMap((c) => c.type === "audio" ? [c.data] : []));
    const response: VoiceResponse = {
      id: this.id,
      audio,
      transcript: this.transcript,
      interrupted: this.interrupted,
      usage,
    };
    this.finished = true;
    this.#done.resolve(response);
    this.#notify();
    return response;
  }

  fail(error: unknown): void {
    if (this.finished) return;
    this.finished = true;
    this.error = error;
    this.#done.reject(error);
    this.#notify();
  }

  /** Resolves when a chunk arrives or the response ends. */
  changed(): Promise<void> {
    this.#wake ??= Promise.withResolvers<void>();
    return this.#wake.promise;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.resolve();
  }
}

/** Audio the app sent, kept a while so that `listen()` can return an utterance's audio. */
interface SentAudio {
  readonly startMs: number;
  readonly endMs: number;
  readonly bytes: Uint8Array<ArrayBuffer>;
  readonly settings: AudioSettings;
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
  readonly #url: string;
  readonly #protocols: string[] | undefined;
  readonly #options: VoiceSessionOptions;
  readonly #connectTimeout: number;
  #state: SessionState = SessionState.IDLE;
  #socket: WebSocket | undefined;
  #closed: PromiseWithResolvers<void> | undefined;
  #connecting: Promise<this> | undefined;
  #disconnecting = false;
  /** Counts `disconnect()` calls, so that a connect in progress sees it was cancelled. */
  #disconnects = 0;
  /** Configuration changes run one at a time, in call order. */
  #config: Promise<unknown> = Promise.resolve();
  #fatal: ServerError | undefined;
  /** The gateway's text limit, from `session.created` (older gateways do not say). */
  #maxTextChars = Infinity;
  /** The app's tools by name. */
  #tools = new Map<string, AnyClientTool>();
  /** Tool calls being run, by call id (aborted on `tool.cancelled` and on close). */
  readonly #toolCalls = new Map<string, AbortController>();

  #sessionId: string | undefined;
  #model: string | undefined;
  #voice: string | undefined;
  #wantedTurnDetection: TurnDetectionSetting | undefined;
  /** The last server VAD tuning, restored when turn detection is enabled again. */
  #vadTuning: TurnDetectionSetting | undefined;
  #turnDetection: TurnDetectionInfo | undefined;
  #audio: AudioSettings;
  /** The Speex resampler, loaded once a rate other than 24 kHz is used. */
  #resamplers: ResamplerSource | undefined;
  /** App rate → 24 kHz for the current utterance (reset at each commit). */
  #inResampler: Resampler | undefined;
  /** 24 kHz → app rate for the current response (reset at each response). */
  #outResampler: Resampler | undefined;
  /** Model-rate audio gathered until it makes a 20 ms message. */
  #queue: Int16Array[] = [];
  #queued = 0;

  readonly #handlers = new Map<keyof VoiceSessionEvents, Set<(...args: never[]) => void>>();
  readonly #expected = new Map<string, Waiter<ServerMessage>[]>();
  readonly #responseWaiters = new Set<Waiter<ResponseStream>>();
  readonly #listenWaiters = new Set<Waiter<Utterance>>();
  readonly #interruptWaiters = new Set<Waiter<Interruption>>();
  #current: ResponseStream | undefined;
  #sent: SentAudio[] = [];
  #timelineMs = 0;
  #speechStartMs: number | undefined;

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
    this.#url = routeUrl(options);
    if (options.token !== undefined && !TOKEN.test(options.token)) {
      throw new ConfigurationError(
        "Cannot use token: it may contain only letters, digits and !#$%&'*+-.^_`|~",
      );
    }
    this.#protocols = options.token ? ["realtime", `bearer.${options.token}`] : undefined;
    for (const tool of options.tools ?? []) this.#tools.set(tool.name, tool);
    if (options.agent && options.instructions !== undefined) {
      throw new ConfigurationError("Cannot use both agent and instructions: choose one");
    }
    const update = SessionUpdate.safeParse({
      type: "session.update",
      session_update: {
        voice: options.voice,
        language: options.language,
        instructions: options.instructions ?? options.agent?.instructions,
      },
    });
    if (!update.success) {
      const issue = update.error.issues[0];
      const field = String(issue?.path.at(-1) ?? "option");
      throw new ConfigurationError(
        `Cannot use ${field === "instructions" && options.agent ? "agent.instructions" : field}: ${
          issue?.message ?? "bad value"
        }`,
      );
    }
    this.#connectTimeout = positive(options.connectTimeout ?? 10_000, "connectTimeout");
    this.#audio = audioSettings({ sampleRate: options.sampleRate ?? MODEL_SAMPLE_RATE });
    const td = options.turnDetection ?? true;
    this.#wantedTurnDetection = typeof td === "boolean"
      ? (td ? undefined : { type: "none" })
      : turnDetectionSetting(td);
    if (this.#wantedTurnDetection?.type === "server_vad") {
      this.#vadTuning = this.#wantedTurnDetection;
    }
  }

  /** The current state. */
  get state(): SessionState {
    return this.#state;
  }

  /** True while the session is live (connected and configured). */
  get isConnected(): boolean {
    return this.#state !== SessionState.IDLE && this.#state !== SessionState.CONNECTING &&
      this.#state !== SessionState.DISCONNECTED;
  }

  /** The gateway's session id, once connected (kept after disconnecting). */
  get sessionId(): string | undefined {
    return this.#sessionId;
  }

  /** The model the gateway serves, once connected; before that, the `model` option. */
  get model(): string | undefined {
    return this.#model ?? this.#options.model;
  }

  /** The model's voice, as the gateway confirmed it; before that, the `voice` option. */
  get voice(): string | undefined {
    return this.#voice ?? this.#options.voice;
  }

  /** The app's audio format. */
  get audio(): AudioSettings {
    return this.#audio;
  }

  /** The turn detection in force, once connected. */
  get turnDetection(): TurnDetection | undefined {
    const td = this.#turnDetection;
    if (!td) return undefined;
    if (td.type !== "server_vad") return { mode: td.type };
    return {
      mode: "server_vad",
      threshold: td.threshold,
      prefixPadding: td.prefix_padding_ms,
      silenceDuration: td.silence_duration_ms,
    };
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
    let set = this.#handlers.get(event);
    if (!set) this.#handlers.set(event, set = new Set());
    set.add(handler);
    return () => this.off(event, handler);
  }

  /** Removes an event handler. */
  off<K extends keyof VoiceSessionEvents>(event: K, handler: VoiceSessionEvents[K]): void {
    this.#handlers.get(event)?.delete(handler);
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
  connect(): Promise<this> {
    if (this.#connecting) return this.#connecting;
    if (this.isConnected && !this.#disconnecting) return Promise.resolve(this);
    const closing = this.#closed?.promise;
    const ticket = this.#disconnects;
    this.#connecting = (async () => {
      await closing; // a close under way ends first
      return await this.#open(ticket);
    })().finally(() => this.#connecting = undefined);
    return this.#connecting;
  }

  /**
   * Closes the connection. Pending `receive()`, `listen()`, `respond()` and `interrupt()` calls
   * fail with a {@linkcode ConnectionClosedError}. Safe to call more than once.
   */
  async disconnect(): Promise<void> {
    this.#disconnects++;
    this.#disconnecting = true;
    const close = () => {
      const socket = this.#socket;
      if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000, "client disconnected");
    };
    close();
    // A connect in progress fails (it was cancelled); wait for it and for the close.
    await this.#connecting?.catch(() => {});
    close();
    await this.#closed?.promise;
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
    const socket = this.#live("send audio");
    const settings = this.#audio;
    const bytes = asBytes(audio);
    const mono = toMonoPcm16(bytes, settings);
    if (bytes.byteLength > 0) {
      // The timeline is the app's audio time; resampling shifts it by its filter delay (~2 ms).
      const startMs = this.#timelineMs;
      this.#timelineMs += durationOf(bytes.byteLength, settings);
      this.#queueSamples(socket, this.#toModelRate(mono, settings));
      this.#sent.push({ startMs, endMs: this.#timelineMs, bytes: bytes.slice(), settings });
      this.#pruneSent();
    }
    if (!(options.commit ?? true)) return;
    const resampler = this.#inResampler;
    if (resampler) {
      // The utterance's last milliseconds are still in the filter; the next one starts afresh.
      this.#queueSamples(socket, resampler.flush());
      resampler.reset();
    }
    const td = this.#turnDetection;
    if (td && td.type !== "none") {
      // Silence ends the turn through turn detection itself, never a second time.
      const silenceMs = (td.type === "server_vad" ? td.silence_duration_ms : 1500) + 200;
      this.#timelineMs += silenceMs;
      this.#queueSamples(socket, new Int16Array(silenceMs * SAMPLES_PER_MS));
      this.#flushQueue(socket);
      return;
    }
    this.#flushQueue(socket);
    this.#send({ type: "input_audio_buffer.commit", input_audio_buffer_commit: { respond: true } });
    this.#enter(SessionState.PROCESSING);
  }

  /** Sends a user text message; the model replies (audio and transcript). */
  // Async so that misuse rejects the promise instead of throwing at the call site.
  // deno-lint-ignore require-await
  async sendText(text: string): Promise<void> {
    this.#live("send text");
    // The gateway's own rule for text input, and the limit it announced.
    if (
      !ConversationItemInputPayload.safeParse({ type: "input_text", text }).success ||
      text.length > this.#maxTextChars
    ) {
      throw new ConfigurationError(
        Number.isFinite(this.#maxTextChars)
          ? `Cannot send text: expected 1 to ${this.#maxTextChars} characters, got ${text.length}`
          : "Cannot send text: expected at least 1 character",
      );
    }
    this.#send({
      type: "conversation.item.input",
      conversation_item_input: { type: "input_text", text },
    });
    this.#enter(SessionState.PROCESSING);
  }

  /**
   * Resolves with a whole response: the one being generated, or else the next one to start.
   * An interrupted response resolves too, with `interrupted: true` and the audio generated.
   */
  async receive(options: WaitOptions = {}): Promise<VoiceResponse> {
    this.#live("receive");
    const timer = new Deadline("receive()", options.timeout);
    let stream: ResponseStream;
    try {
      stream = await this.#currentOrNext(timer);
    } finally {
      timer.clear();
    }
    return await stream.done;
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
    this.#live("receive");
    const timer = new Deadline("streamReceive()", options.timeout);
    let stream: ResponseStream;
    try {
      stream = await this.#currentOrNext(timer);
    } finally {
      timer.clear();
    }
    let next = 0;
    while (true) {
      while (next < stream.chunks.length) yield stream.chunks[next++]!;
      if (stream.finished) {
        if (stream.error !== undefined) throw stream.error;
        return;
      }
      await stream.changed();
    }
  }

  /**
   * Resolves with the next user utterance that turn detection finds (the one being spoken, if
   * any). The model replies by itself; get the reply with {@linkcode receive}. Needs turn
   * detection; fails with a {@linkcode TimeoutError} after `timeout` ms.
   */
  async listen(options: WaitOptions = {}): Promise<Utterance> {
    this.#live("listen");
    if (this.#turnDetection?.type === "none") {
      throw new ConfigurationError(
        "Cannot listen: turn detection is off; enable it with configureTurnDetection({ enabled: true })",
      );
    }
    const timer = new Deadline("listen()", options.timeout);
    const { promise, resolve, reject } = Promise.withResolvers<Utterance>();
    const waiter = { resolve, reject };
    this.#listenWaiters.add(waiter);
    try {
      return await timer.race(promise);
    } finally {
      timer.clear();
      this.#listenWaiters.delete(waiter);
    }
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
    this.#live("respond");
    const timer = new Deadline("respond()", options.timeout);
    // Wait for the response that starts after this turn, not one already under way.
    const next = this.#nextResponse();
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
    this.#live("interrupt");
    const timer = new Deadline("interrupt()", options.timeout ?? ACK_TIMEOUT_MS);
    const { promise, resolve, reject } = Promise.withResolvers<Interruption>();
    const waiter = { resolve, reject };
    this.#interruptWaiters.add(waiter);
    try {
      const played = options.playedMs;
      this.#send({
        type: "response.interrupt",
        response_interrupt: played === undefined ? {} : { played_ms: Math.max(0, played) },
      });
      return await timer.race(promise);
    } finally {
      timer.clear();
      this.#interruptWaiters.delete(waiter);
    }
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
    const patch = turnDetectionSetting(options); // checked now, applied in call order
    await this.#serial(async () => {
      const current = this.isConnected ? settingOf(this.#turnDetection) : this.#wantedTurnDetection;
      const setting = mergeTurnDetection(current, this.#vadTuning, patch, options);
      if (setting.type === "server_vad") this.#vadTuning = setting;
      this.#wantedTurnDetection = setting;
      if (this.isConnected) await this.#applyTurnDetection(setting);
    });
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
    audioSettings(options, this.#audio); // checked now, applied in call order
    await this.#serial(async () => {
      const settings = audioSettings(options, this.#audio);
      if (settings.sampleRate !== MODEL_SAMPLE_RATE) this.#resamplers ??= await loadResamplers();
      this.#audio = settings;
    });
  }

  // -------------------------------------------------------------------------------------------

  async #open(ticket: number): Promise<this> {
    this.#resetConversation();
    this.#fatal = undefined;
    this.#disconnecting = false;
    this.#enter(SessionState.CONNECTING);
    try {
      if (this.#audio.sampleRate !== MODEL_SAMPLE_RATE) this.#resamplers ??= await loadResamplers();
    } catch (error) {
      this.#enter(SessionState.DISCONNECTED);
      throw error;
    }
    if (this.#disconnects !== ticket) {
      this.#enter(SessionState.DISCONNECTED);
      throw new ConnectionError(CANCELLED);
    }
    const closed = Promise.withResolvers<void>();
    this.#closed = closed;
    let opened = false;
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.#url, this.#protocols);
    } catch (error) {
      this.#enter(SessionState.DISCONNECTED);
      throw new ConnectionError(`Cannot connect to ${redact(this.#url)}: ${error}`, {
        cause: error,
      });
    }
    this.#socket = socket;
    socket.onopen = () => opened = true;
    socket.onmessage = (event: MessageEvent) => this.#onMessage(event.data);
    socket.onclose = (event: CloseEvent) => {
      this.#onClose(socket, event.code, event.reason, opened);
      closed.resolve();
    };
    const timer = new Deadline("connect()", this.#connectTimeout);
    try {
      // The gateway answers at once and connects the model meanwhile; `session.ready` says the
      // model is there, so that audio sent from now on is heard (none waits in a buffer).
      const ready = this.#expect("session.ready");
      ready.catch(() => {});
      const created = await timer.race(this.#expect("session.created"));
      if (created.type !== "session.created") throw new TypeError("unreachable");
      this.#sessionId = created.session.id;
      this.#model = created.session.model;
      this.#voice = created.session.voice;
      this.#turnDetection = created.session.turn_detection;
      this.#maxTextChars = created.session.limits?.max_text_chars ?? Infinity;
      const model = this.#options.model;
      if (model !== undefined && model !== created.session.model) {
        throw new ConfigurationError(
          `Cannot use model ${JSON.stringify(model)}: the gateway serves ${
            JSON.stringify(created.session.model)
          }; remove the model option or connect to a gateway that serves it`,
        );
      }
      await timer.race(this.#applySession(created.session));
      if (this.#tools.size > 0) await timer.race(this.#applyTools());
      const wanted = this.#wantedTurnDetection ??
        (created.session.turn_detection.type === "none" ? { type: "server_vad" } : undefined);
      if (wanted) await timer.race(this.#applyTurnDetection(wanted));
      await timer.race(ready);
      this.#enter(SessionState.CONNECTED);
      return this;
    } catch (error) {
      this.#disconnecting = true;
      if (socket.readyState <= WebSocket.OPEN) socket.close(1000, "connect failed");
      await closed.promise;
      throw error;
    } finally {
      timer.clear();
    }
  }

  async #applySession(server: { voice: string; language: string }): Promise<void> {
    const options = this.#options;
    const update: Record<string, string> = {};
    if (options.voice !== undefined && options.voice !== server.voice) update.voice = options.voice;
    if (options.language !== undefined && options.language !== server.language) {
      update.language = options.language;
    }
    const instructions = options.instructions ?? options.agent?.instructions;
    if (instructions !== undefined) update.instructions = instructions;
    if (Object.keys(update).length === 0) return;
    const ack = this.#expect("session.update", true);
    this.#send({ type: "session.update", session_update: update });
    const answer = await ack;
    if (answer.type === "session.update") this.#voice = answer.session.voice;
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
    const next = new Map<string, AnyClientTool>();
    for (const tool of tools) {
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(tool.name) || next.has(tool.name)) {
        throw new ConfigurationError(
          `Cannot use tool ${
            JSON.stringify(tool.name)
          }: names are 1-64 letters, digits, '_' or '-', each once`,
        );
      }
      next.set(tool.name, tool);
    }
    await this.#serial(async () => {
      this.#tools = next;
      if (this.isConnected) await this.#applyTools();
    });
  }

  async #applyTools(): Promise<void> {
    const ack = this.#expect("tools.updated", true);
    this.#send({
      type: "tools.update",
      tools_update: { tools: [...this.#tools.values()].map(toolSpec) },
    });
    const timer = new Deadline("tools()", ACK_TIMEOUT_MS);
    try {
      await timer.race(ack);
    } finally {
      timer.clear();
    }
  }

  /** The model called one of the app's tools: run it and answer. */
  #onToolCall(call: { call_id: string; name: string; arguments: string }): void {
    const abort = new AbortController();
    this.#toolCalls.set(call.call_id, abort);
    void runTool(this.#tools.get(call.name), call, { callId: call.call_id, signal: abort.signal })
      .then((result) => {
        if (this.#toolCalls.get(call.call_id) !== abort) return; // cancelled meanwhile
        this.#toolCalls.delete(call.call_id);
        if (!this.isConnected) return;
        this.#send({ type: "tool.result", tool_result: { call_id: call.call_id, ...result } });
      });
  }

  async #applyTurnDetection(setting: TurnDetectionSetting): Promise<void> {
    const ack = this.#expect("turn_detection.updated", true);
    this.#send({ type: "turn_detection.update", turn_detection_update: setting });
    const timer = new Deadline("configureTurnDetection()", ACK_TIMEOUT_MS);
    try {
      const answer = await timer.race(ack);
      if (answer.type === "turn_detection.updated") this.#turnDetection = answer.turn_detection;
    } finally {
      timer.clear();
    }
  }

  /** Runs configuration changes one at a time, in call order. */
  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#config.then(task);
    this.#config = run.catch(() => {});
    return run;
  }

  /** Mono PCM16 at the app's rate as model-rate samples (a view the next call may reuse). */
  #toModelRate(mono: Int16Array<ArrayBuffer>, settings: AudioSettings): Int16Array {
    if (settings.sampleRate === MODEL_SAMPLE_RATE) return mono;
    let resampler = this.#inResampler;
    if (!resampler || resampler.inRate !== settings.sampleRate) {
      resampler?.close();
      resampler = this.#resamplers!.create(settings.sampleRate, MODEL_SAMPLE_RATE);
      this.#inResampler = resampler;
    }
    return resampler.process(mono);
  }

  /** Sends model-rate samples, gathering small pieces into messages of at least 20 ms. */
  #queueSamples(socket: WebSocket, samples: Int16Array): void {
    if (samples.length === 0) return;
    if (this.#queued === 0 && samples.length >= MIN_CHUNK_SAMPLES) {
      this.#sendSamples(socket, samples);
      return;
    }
    this.#queue.push(samples.slice());
    this.#queued += samples.length;
    if (this.#queued >= MIN_CHUNK_SAMPLES) this.#flushQueue(socket);
  }

  /** Sends what `#queueSamples` gathered. */
  #flushQueue(socket: WebSocket): void {
    if (this.#queued === 0) return;
    const all = new Int16Array(this.#queued);
    let offset = 0;
    for (const part of this.#queue) {
      all.set(part, offset);
      offset += part.length;
    }
    this.#queue = [];
    this.#queued = 0;
    this.#sendSamples(socket, all);
  }

  #resetConversation(): void {
    this.#current = undefined;
    this.#queue = [];
    this.#queued = 0;
    this.#inResampler?.reset();
    this.#outResampler?.reset();
    this.#sent = [];
    this.#timelineMs = 0;
    this.#speechStartMs = undefined;
  }

  /** The open socket, or a {@linkcode NotConnectedError}. */
  #live(method: string): WebSocket {
    const socket = this.#socket;
    if (!this.isConnected || !socket || socket.readyState !== WebSocket.OPEN) {
      throw new NotConnectedError(method);
    }
    return socket;
  }

  #send(message: ClientMessage): void {
    const socket = this.#socket;
    if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  /** Sends model-rate mono samples as audio messages of at most 2 s. */
  #sendSamples(socket: WebSocket, samples: Int16Array): void {
    for (let offset = 0; offset < samples.length; offset += MAX_CHUNK_SAMPLES) {
      const part = samples.subarray(offset, offset + MAX_CHUNK_SAMPLES);
      const base64 = new Uint8Array(part.buffer, part.byteOffset, part.byteLength).toBase64();
      // Base64 needs no JSON escaping.
      socket.send(
        `{"type":"conversation.item.input","conversation_item_input":{"type":"input_audio_buffer","audio":"${base64}"}}`,
      );
    }
  }

  /** Keeps the sent audio `listen()` may still need. */
  #pruneSent(): void {
    const from = this.#speechStartMs !== undefined
      ? Math.max(this.#speechStartMs, this.#timelineMs - LISTEN_MAX_MS)
      : this.#timelineMs - LISTEN_LOOKBACK_MS;
    let drop = 0;
    while (drop < this.#sent.length && this.#sent[drop]!.endMs <= from) drop++;
    if (drop > 0) this.#sent.splice(0, drop);
  }

  /** The audio the app sent between two positions (ms), in the format it was sent in. */
  #sentBetween(startMs: number, endMs: number): Uint8Array<ArrayBuffer> {
    const parts: Uint8Array[] = [];
    for (const sent of this.#sent) {
      if (sent.endMs <= startMs || sent.startMs >= endMs) continue;
      const frame = frameBytes(sent.settings);
      const frames = sent.bytes.byteLength / frame;
      const perMs = frames / (sent.endMs - sent.startMs);
      const from = Math.max(0, Math.floor((startMs - sent.startMs) * perMs));
      const to = Math.min(frames, Math.ceil((endMs - sent.startMs) * perMs));
      if (to > from) parts.push(sent.bytes.subarray(from * frame, to * frame));
    }
    return concatBytes(parts);
  }

  /** Waits for the next message of a type; `ack` waits also fail on `invalid_message`. */
  #expect(type: ServerMessage["type"], ack = false): Promise<ServerMessage> {
    const { promise, resolve, reject } = Promise.withResolvers<ServerMessage>();
    const key = ack ? `ack:${type}` : type;
    const list = this.#expected.get(key) ?? [];
    list.push({ resolve, reject });
    this.#expected.set(key, list);
    return promise;
  }

  #settle(type: string, message: ServerMessage): void {
    for (const key of [type, `ack:${type}`]) {
      const list = this.#expected.get(key);
      if (!list) continue;
      this.#expected.delete(key);
      for (const waiter of list) waiter.resolve(message);
    }
  }

  /** The next response to start; `cancel` withdraws the wait. */
  #nextResponse(): { readonly promise: Promise<ResponseStream>; cancel(): void } {
    const { promise, resolve, reject } = Promise.withResolvers<ResponseStream>();
    const waiter = { resolve, reject };
    this.#responseWaiters.add(waiter);
    promise.catch(() => {});
    return { promise, cancel: () => this.#responseWaiters.delete(waiter) };
  }

  /** The response being generated, or else the next one to start. */
  async #currentOrNext(timer: Deadline): Promise<ResponseStream> {
    if (this.#current && !this.#current.finished) return this.#current;
    const next = this.#nextResponse();
    try {
      return await timer.race(next.promise);
    } finally {
      next.cancel();
    }
  }

  #enter(state: SessionState): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    this.#emit("state_change", state, previous);
  }

  #emit<K extends keyof VoiceSessionEvents>(
    event: K,
    ...args: Parameters<VoiceSessionEvents[K]>
  ): void {
    const set = this.#handlers.get(event);
    if (!set) return;
    for (const handler of [...set]) {
      try {
        (handler as (...a: Parameters<VoiceSessionEvents[K]>) => void)(...args);
      } catch (error) {
        // An app's handler bug must not break the session: report it like an uncaught error.
        reportError(error);
      }
    }
  }

  #onMessage(data: unknown): void {
    if (typeof data !== "string") return;
    let value: unknown;
    try {
      value = JSON.parse(data);
    } catch {
      this.#emit("error", new ServerError("invalid_server_message", "The gateway sent bad JSON"));
      return;
    }
    const parsed = ServerMessage.safeParse(value);
    // Newer gateways may add message types: ignore what this client does not know.
    if (!parsed.success) return;
    this.#handle(parsed.data);
  }

  #handle(message: ServerMessage): void {
    switch (message.type) {
      case "session.created":
      case "session.ready":
      case "pong":
        break;
      case "turn_detection.updated":
        this.#turnDetection = message.turn_detection;
        if (message.turn_detection.type === "server_vad") {
          this.#vadTuning = settingOf(message.turn_detection);
        }
        break;
      case "session.update":
        this.#voice = message.session.voice;
        break;
      case "speech.started":
        this.#speechStartMs = message.speech.audio_start_ms;
        this.#enter(SessionState.LISTENING);
        this.#emit("speech_started");
        break;
      case "speech.stopped": {
        const startMs = this.#speechStartMs ?? message.speech.audio_end_ms;
        const endMs = Math.max(startMs, message.speech.audio_end_ms);
        this.#speechStartMs = undefined;
        this.#enter(SessionState.PROCESSING);
        this.#emit("speech_ended");
        const utterance: Utterance = {
          audio: this.#sentBetween(startMs, endMs),
          startMs,
          endMs,
          durationMs: endMs - startMs,
        };
        for (const waiter of [...this.#listenWaiters]) waiter.resolve(utterance);
        break;
      }
      case "speech.committed":
        if (this.#state === SessionState.CONNECTED || this.#state === SessionState.LISTENING) {
          this.#enter(SessionState.PROCESSING);
        }
        break;
      case "input.transcript":
        if (message.transcript.final) {
          this.#emit("transcript_available", message.transcript.text, { role: "user" });
        }
        break;
      case "response.started": {
        // Every response ends with response.done; should one not, it ends here.
        if (this.#current && !this.#current.finished) this.#endResponse(this.#current);
        this.#outResampler?.reset(); // each response is a new signal
        const stream = new ResponseStream(message.response.id);
        this.#current = stream;
        // While the user speaks the state stays LISTENING (the gateway cuts the reply).
        if (this.#state !== SessionState.LISTENING) this.#enter(SessionState.SPEAKING);
        this.#emit("response_started", { id: stream.id });
        for (const waiter of [...this.#responseWaiters]) waiter.resolve(stream);
        this.#responseWaiters.clear();
        break;
      }
      case "response.audio": {
        const stream = this.#current;
        if (!stream || stream.finished) break;
        stream.push({ type: "audio", data: this.#appAudio(message.response.audio) });
        break;
      }
      case "response.delta": {
        const stream = this.#current;
        if (!stream || stream.finished) break;
        stream.transcript += message.response.delta.content;
        stream.push({ type: "transcript", text: message.response.delta.content });
        break;
      }
      case "response.transcript":
        if (this.#current && !this.#current.finished) {
          this.#current.transcript = message.response.transcript;
        }
        this.#emit("transcript_available", message.response.transcript, { role: "assistant" });
        break;
      case "response.audio.done":
        break;
      case "response.interrupted": {
        const interruption: Interruption = {
          itemId: message.response.item_id,
          playedMs: message.response.played_ms,
        };
        if (this.#current && !this.#current.finished) this.#current.interrupted = true;
        if (this.#state === SessionState.SPEAKING) this.#enter(SessionState.CONNECTED);
        this.#emit("interrupted", interruption);
        for (const waiter of [...this.#interruptWaiters]) waiter.resolve(interruption);
        break;
      }
      case "response.done": {
        const stream = this.#current;
        this.#current = undefined;
        if (this.#state === SessionState.SPEAKING) this.#enter(SessionState.CONNECTED);
        if (!stream || stream.finished) break;
        this.#endResponse(stream, {
          inputTokens: message.response.usage.input_tokens,
          outputTokens: message.response.usage.output_tokens,
        });
        break;
      }
      case "error": {
        const error = new ServerError(message.error.code, message.error.message);
        if (CLOSING_ERRORS.has(error.code)) {
          this.#fatal = error; // the gateway closes the connection next
        }
        if (error.code === "invalid_message") {
          // Configuration is sent one message at a time: the refusal answers the pending one.
          for (const [key, list] of this.#expected) {
            if (!key.startsWith("ack:")) continue;
            this.#expected.delete(key);
            for (const waiter of list) waiter.reject(error);
          }
        }
        if (!this.#current && !CLOSING_ERRORS.has(error.code)) {
          // Nothing is being generated: what the caller waits for will not come (a message was
          // dropped or refused). Fail the waits instead of leaving them hanging.
          for (const waiter of this.#responseWaiters) waiter.reject(error);
          this.#responseWaiters.clear();
          if (this.#state === SessionState.PROCESSING) this.#enter(SessionState.CONNECTED);
        }
        this.#emit("error", error);
        break;
      }
      case "tool.call":
        this.#onToolCall(message.tool_call);
        break;
      case "tool.cancelled": {
        const abort = this.#toolCalls.get(message.tool_cancelled.call_id);
        this.#toolCalls.delete(message.tool_cancelled.call_id);
        abort?.abort(new Error(`The gateway cancelled the call: ${message.tool_cancelled.reason}`));
        break;
      }
      case "tools.updated":
        break;
      default:
        message satisfies never;
    }
    this.#settle(message.type, message);
  }

  /** Model audio (base64 PCM16 24 kHz) in the app's format. */
  #appAudio(base64: string): Uint8Array<ArrayBuffer> {
    const bytes = Uint8Array.fromBase64(base64);
    const settings = this.#audio;
    if (settings.sampleRate === MODEL_SAMPLE_RATE) {
      if (settings.channels === 1 && settings.format === "pcm16") return bytes;
      return fromMonoPcm16(new Int16Array(bytes.buffer, 0, bytes.byteLength >> 1), settings);
    }
    let resampler = this.#outResampler;
    if (!resampler || resampler.outRate !== settings.sampleRate) {
      resampler?.close();
      resampler = this.#resamplers!.create(MODEL_SAMPLE_RATE, settings.sampleRate);
      this.#outResampler = resampler;
    }
    const samples = new Int16Array(bytes.buffer, 0, bytes.byteLength >> 1);
    return fromMonoPcm16(resampler.process(samples), settings);
  }

  /** Ends a response: the resampler's tail, then the whole response to waiters and events. */
  #endResponse(
    stream: ResponseStream,
    usage: VoiceResponse["usage"] = { inputTokens: 0, outputTokens: 0 },
  ): void {
    const resampler = this.#outResampler;
    if (resampler && resampler.outRate === this.#audio.sampleRate) {
      const tail = resampler.flush();
      if (tail.length > 0) stream.push({ type: "audio", data: fromMonoPcm16(tail, this.#audio) });
      resampler.reset();
    }
    this.#emit("response_done", stream.finish(usage));
  }

  #onClose(socket: WebSocket, code: number, reason: string, opened: boolean): void {
    if (this.#socket !== socket) return;
    this.#socket = undefined;
    for (const abort of this.#toolCalls.values()) abort.abort(new Error("The connection closed"));
    this.#toolCalls.clear();
    const wasLive = this.isConnected;
    const expected = this.#disconnecting;
    const error = expected && !wasLive
      ? new ConnectionError(CANCELLED)
      : opened
      ? new ConnectionClosedError(code, reason, this.#fatal ? { cause: this.#fatal } : undefined)
      : new ConnectionError(
        `Cannot connect to ${
          redact(this.#url)
        }: the gateway refused the connection or cannot be reached (close ${code})`,
        this.#fatal ? { cause: this.#fatal } : undefined,
      );
    for (const list of this.#expected.values()) for (const waiter of list) waiter.reject(error);
    this.#expected.clear();
    for (const waiter of this.#responseWaiters) waiter.reject(error);
    this.#responseWaiters.clear();
    for (const waiter of this.#listenWaiters) waiter.reject(error);
    for (const waiter of this.#interruptWaiters) waiter.reject(error);
    this.#current?.fail(error);
    this.#current = undefined;
    this.#enter(SessionState.DISCONNECTED);
    if (wasLive && !expected) this.#emit("error", error);
  }
}

/** A time limit shared by the steps of one operation. */
class Deadline {
  readonly #timeout: Promise<never> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(operation: string, timeoutMs: number | undefined) {
    if (timeoutMs === undefined) return;
    const ms = positive(timeoutMs, "timeout");
    this.#timeout = new Promise<never>((_, reject) => {
      this.#timer = setTimeout(() => reject(new TimeoutError(operation, ms)), ms);
    });
    this.#timeout.catch(() => {});
  }

  race<T>(promise: Promise<T>): Promise<T> {
    return this.#timeout ? Promise.race([promise, this.#timeout]) : promise;
  }

  clear(): void {
    clearTimeout(this.#timer);
  }
}

function positive(value: number, name: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new ConfigurationError(`Cannot use ${name} ${value}: expected a positive number of ms`);
  }
  return value;
}

/** The WebSocket URL of the session's route. */
function routeUrl(options: VoiceSessionOptions): string {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new ConfigurationError(
      `Cannot use url ${JSON.stringify(String(options.url))}: not a URL`,
    );
  }
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new ConfigurationError(
      `Cannot use url with ${url.protocol}: expected ws:, wss:, http: or https:`,
    );
  }
  if (url.pathname === "/" || url.pathname === "") {
    const userId = options.userId ?? "voice-session";
    if (!/^[A-Za-z0-9._~-]{1,128}$/.test(userId)) {
      throw new ConfigurationError(
        "Cannot use userId: expected 1–128 characters of A-Z a-z 0-9 . _ ~ -",
      );
    }
    url.pathname = options.token ? OPEN_ROUTE : `${OPEN_ROUTE}/${userId}`;
  }
  return url.href;
}

/** A URL fit for an error message: no credentials, no query. */
function redact(href: string): string {
  const url = new URL(href);
  url.username = "";
  url.password = "";
  url.search = "";
  return url.href;
}

/** The wire setting for turn-detection options (checked). */
function turnDetectionSetting(options: TurnDetectionOptions): TurnDetectionSetting {
  if (options.enabled === false) return { type: "none" };
  const { threshold, prefixPadding, silenceDuration } = options;
  return {
    type: "server_vad",
    ...(threshold === undefined ? {} : { threshold: inRange(threshold, 0, 1, "threshold") }),
    ...(prefixPadding === undefined
      ? {}
      : { prefix_padding_ms: inRange(prefixPadding, 0, 5000, "prefixPadding", true) }),
    ...(silenceDuration === undefined
      ? {}
      : { silence_duration_ms: inRange(silenceDuration, 0, 10_000, "silenceDuration", true) }),
  };
}

/** The wire setting equivalent to the turn detection in force. */
function settingOf(info: TurnDetectionInfo | undefined): TurnDetectionSetting | undefined {
  if (!info || info.type !== "server_vad") return info;
  return {
    type: "server_vad",
    threshold: info.threshold,
    prefix_padding_ms: info.prefix_padding_ms,
    silence_duration_ms: info.silence_duration_ms,
  };
}

/** Options applied over the current setting: omitted fields keep their values. */
function mergeTurnDetection(
  current: TurnDetectionSetting | undefined,
  lastVad: TurnDetectionSetting | undefined,
  patch: TurnDetectionSetting,
  options: TurnDetectionOptions,
): TurnDetectionSetting {
  if (patch.type !== "server_vad") return patch;
  const tuning = options.threshold !== undefined || options.prefixPadding !== undefined ||
    options.silenceDuration !== undefined;
  // `enabled: true` alone keeps semantic VAD if that is in force.
  if (!tuning && current && current.type !== "none") return current;
  const base = current?.type === "server_vad" ? current : lastVad;
  return base?.type === "server_vad" ? { ...base, ...patch } : patch;
}

function inRange(value: number, min: number, max: number, name: string, whole = false): number {
  if (
    typeof value !== "number" || !Number.isFinite(value) || value < min || value > max ||
    (whole && !Number.isInteger(value))
  ) {
    throw new ConfigurationError(
      `Cannot use ${name} ${value}: expected ${
        whole ? "a whole number " : ""
      }from ${min} to ${max}`,
    );
  }
  return value;
}
