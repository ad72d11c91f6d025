/**
 * The connection and state of a {@linkcode VoiceSession}: connecting (and reconnecting with the
 * same configuration), the session settings, turn detection and tools applied and confirmed,
 * the state machine and its events, gateway errors and closes. What the conversation itself
 * carries (speech, responses) goes to the session's {@linkcode Conversation}.
 *
 * @module
 */
import {
  type ClientMessage,
  CLOSING_ERROR_CODES,
  type ServerMessage,
  type TurnDetectionInfo,
  type TurnDetectionSetting,
} from "../protocol/user_api.ts";
import {
  type AudioSettings,
  audioSettings,
  loadResamplers,
  MODEL_SAMPLE_RATE,
  type ResamplerSource,
} from "./audio.ts";
import { Connection } from "./connection.ts";
import { Deadline } from "./deadline.ts";
import {
  ConfigurationError,
  ConnectionClosedError,
  ConnectionError,
  NotConnectedError,
  ServerError,
  type VoiceSessionError,
} from "./errors.ts";
import {
  checkSessionOptions,
  mergeTurnDetection,
  positive,
  redact,
  routeUrl,
  settingOf,
  tokenProtocols,
  type TurnDetectionOptions,
  turnDetectionSetting,
  type VoiceSessionOptions,
} from "./options.ts";
import { Emitter, isLive, SessionState } from "./session_state.ts";
import { type AnyClientTool, ToolRunner, toolsByName } from "./tools.ts";

/** The messages the conversation handles (speech and responses). */
export type ConversationMessage = Exclude<
  ServerMessage,
  {
    type:
      | "session.created"
      | "session.ready"
      | "session.update"
      | "pong"
      | "turn_detection.updated"
      | "tools.updated"
      | "tool.call"
      | "tool.cancelled"
      | "error";
  }
>;

/** The conversation side of a session, told what the connection hears. */
export interface Conversation {
  /** A speech or response message. */
  handle(message: ConversationMessage): void;
  /** A gateway error that closes nothing while nothing is being generated. */
  refused(error: ServerError): void;
  /** True while a response is being tracked. */
  readonly busy: boolean;
  /** A new connection starts. */
  reset(): void;
  /** The connection closed: fail what waits. */
  close(error: VoiceSessionError): void;
}

const CANCELLED = "Cannot connect: disconnect() was called while connecting";
/** Waits for a configuration acknowledgement (ms). */
export const ACK_TIMEOUT_MS = 10_000;

/** The connection and state of one session (internal to {@linkcode VoiceSession}). */
export class SessionCore {
  readonly #url: string;
  readonly #protocols: string[] | undefined;
  readonly #options: VoiceSessionOptions;
  readonly #connectTimeout: number;
  readonly #conversation: Conversation;
  /** The session's event handlers. */
  readonly events: Emitter = new Emitter();
  #state: SessionState = SessionState.IDLE;
  #connection: Connection | undefined;
  #connecting: Promise<void> | undefined;
  #disconnecting = false;
  /** Counts `disconnect()` calls, so that a connect in progress sees it was cancelled. */
  #disconnects = 0;
  /** Configuration changes run one at a time, in call order. */
  #config: Promise<unknown> = Promise.resolve();
  #fatal: ServerError | undefined;
  /** The gateway's text limit, from `session.created` (older gateways do not say). */
  maxTextChars = Infinity;
  readonly #tools = new ToolRunner();
  /** The gateway's session id, once connected. */
  sessionId: string | undefined;
  /** The model the gateway serves, once connected. */
  model: string | undefined;
  /** The voice the gateway confirmed. */
  voice: string | undefined;
  #wantedTurnDetection: TurnDetectionSetting | undefined;
  /** The last server VAD tuning, restored when turn detection is enabled again. */
  #vadTuning: TurnDetectionSetting | undefined;
  /** The turn detection in force, once connected. */
  turnDetection: TurnDetectionInfo | undefined;
  /** The app's audio format. */
  audio: AudioSettings;
  /** The Speex resampler, loaded once a rate other than 24 kHz is used. */
  resamplers: ResamplerSource | undefined;

  /** Checks the options (no I/O). */
  constructor(options: VoiceSessionOptions, conversation: Conversation) {
    this.#options = options;
    this.#conversation = conversation;
    this.#url = routeUrl(options);
    this.#protocols = tokenProtocols(options.token);
    this.#tools.set(toolsByName(options.tools ?? []));
    checkSessionOptions(options);
    this.#connectTimeout = positive(options.connectTimeout ?? 10_000, "connectTimeout");
    this.audio = audioSettings({ sampleRate: options.sampleRate ?? MODEL_SAMPLE_RATE });
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

  /** True while the session is live. */
  get isConnected(): boolean {
    return isLive(this.#state);
  }

  /** Connects (see `VoiceSession.connect`). */
  connect(): Promise<void> {
    if (this.#connecting) return this.#connecting;
    if (this.isConnected && !this.#disconnecting) return Promise.resolve();
    const closing = this.#connection?.closed;
    const ticket = this.#disconnects;
    this.#connecting = (async () => {
      await closing; // a close under way ends first
      await this.#open(ticket);
    })().finally(() => this.#connecting = undefined);
    return this.#connecting;
  }

  /** Disconnects (see `VoiceSession.disconnect`). */
  async disconnect(): Promise<void> {
    this.#disconnects++;
    this.#disconnecting = true;
    this.#connection?.close(1000, "client disconnected");
    // A connect in progress fails (it was cancelled); wait for it and for the close.
    await this.#connecting?.catch(() => {});
    this.#connection?.close(1000, "client disconnected");
    await this.#connection?.closed;
  }

  /** Changes turn detection (see `VoiceSession.configureTurnDetection`). */
  async configureTurnDetection(options: TurnDetectionOptions): Promise<void> {
    const patch = turnDetectionSetting(options); // checked now, applied in call order
    await this.#serial(async () => {
      const current = this.isConnected ? settingOf(this.turnDetection) : this.#wantedTurnDetection;
      const setting = mergeTurnDetection(current, this.#vadTuning, patch, options);
      if (setting.type === "server_vad") this.#vadTuning = setting;
      this.#wantedTurnDetection = setting;
      if (this.isConnected) await this.#applyTurnDetection(setting);
    });
  }

  /** Changes the app's audio format (see `VoiceSession.configureAudio`). */
  async configureAudio(options: Partial<AudioSettings>): Promise<void> {
    audioSettings(options, this.audio); // checked now, applied in call order
    await this.#serial(async () => {
      const settings = audioSettings(options, this.audio);
      if (settings.sampleRate !== MODEL_SAMPLE_RATE) this.resamplers ??= await loadResamplers();
      this.audio = settings;
    });
  }

  /** Sets the app's tools (see `VoiceSession.tools`). */
  async tools(tools: readonly AnyClientTool[]): Promise<void> {
    const next = toolsByName(tools);
    await this.#serial(async () => {
      this.#tools.set(next);
      if (this.isConnected) await this.#applyTools();
    });
  }

  /** Enters a state, telling the `state_change` handlers. */
  enter(state: SessionState): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    this.events.emit("state_change", state, previous);
  }

  /** Throws a {@linkcode NotConnectedError} unless the session is live. */
  live(method: string): void {
    if (!this.isConnected || !this.#connection?.open) throw new NotConnectedError(method);
  }

  /** Sends a message (dropped when not connected). */
  send(message: ClientMessage): void {
    this.#connection?.send(message);
  }

  /** Sends model-rate samples as audio messages. */
  sendSamples(samples: Int16Array): void {
    this.#connection?.sendSamples(samples);
  }

  // -------------------------------------------------------------------------------------------

  async #open(ticket: number): Promise<void> {
    this.#conversation.reset();
    this.#fatal = undefined;
    this.#disconnecting = false;
    this.enter(SessionState.CONNECTING);
    try {
      if (this.audio.sampleRate !== MODEL_SAMPLE_RATE) this.resamplers ??= await loadResamplers();
    } catch (error) {
      this.enter(SessionState.DISCONNECTED);
      throw error;
    }
    if (this.#disconnects !== ticket) {
      this.enter(SessionState.DISCONNECTED);
      throw new ConnectionError(CANCELLED);
    }
    let connection: Connection;
    try {
      connection = new Connection(this.#url, this.#protocols, {
        message: (message) => this.#handle(message),
        badFrame: () =>
          this.events.emit(
            "error",
            new ServerError("invalid_server_message", "The gateway sent bad JSON"),
          ),
        close: (code, reason, opened) => this.#onClose(connection, code, reason, opened),
      });
    } catch (error) {
      this.enter(SessionState.DISCONNECTED);
      throw new ConnectionError(`Cannot connect to ${redact(this.#url)}: ${error}`, {
        cause: error,
      });
    }
    this.#connection = connection;
    const timer = new Deadline("connect()", this.#connectTimeout);
    try {
      // The gateway answers at once and connects the model meanwhile; `session.ready` says the
      // model is there, so that audio sent from now on is heard (none waits in a buffer).
      const ready = connection.expect("session.ready");
      ready.catch(() => {});
      const created = await timer.race(connection.expect("session.created"));
      if (created.type !== "session.created") throw new TypeError("unreachable");
      this.sessionId = created.session.id;
      this.model = created.session.model;
      this.voice = created.session.voice;
      this.turnDetection = created.session.turn_detection;
      this.maxTextChars = created.session.limits?.max_text_chars ?? Infinity;
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
      this.enter(SessionState.CONNECTED);
    } catch (error) {
      this.#disconnecting = true;
      connection.close(1000, "connect failed");
      await connection.closed;
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
    const ack = this.#expect("session.update");
    this.send({ type: "session.update", session_update: update });
    const answer = await ack;
    if (answer.type === "session.update") this.voice = answer.session.voice;
  }

  async #applyTools(): Promise<void> {
    const ack = this.#expect("tools.updated");
    this.send(this.#tools.update());
    const timer = new Deadline("tools()", ACK_TIMEOUT_MS);
    try {
      await timer.race(ack);
    } finally {
      timer.clear();
    }
  }

  async #applyTurnDetection(setting: TurnDetectionSetting): Promise<void> {
    const ack = this.#expect("turn_detection.updated");
    this.send({ type: "turn_detection.update", turn_detection_update: setting });
    const timer = new Deadline("configureTurnDetection()", ACK_TIMEOUT_MS);
    try {
      const answer = await timer.race(ack);
      if (answer.type === "turn_detection.updated") this.turnDetection = answer.turn_detection;
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

  /** Waits for the gateway's acknowledgement of a configuration message. */
  #expect(type: ServerMessage["type"]): Promise<ServerMessage> {
    const connection = this.#connection;
    if (!connection) return Promise.reject(new NotConnectedError("configure"));
    return connection.expect(type, true);
  }

  #handle(message: ServerMessage): void {
    switch (message.type) {
      case "session.created":
      case "session.ready":
      case "pong":
      case "tools.updated":
        break;
      case "turn_detection.updated":
        this.turnDetection = message.turn_detection;
        if (message.turn_detection.type === "server_vad") {
          this.#vadTuning = settingOf(message.turn_detection);
        }
        break;
      case "session.update":
        this.voice = message.session.voice;
        break;
      case "error":
        this.#onError(new ServerError(message.error.code, message.error.message));
        break;
      case "tool.call":
        this.#tools.call(message.tool_call, (result) => {
          if (this.isConnected) this.send(result);
        });
        break;
      case "tool.cancelled":
        this.#tools.cancel(message.tool_cancelled.call_id, message.tool_cancelled.reason);
        break;
      default:
        this.#conversation.handle(message);
    }
    this.#connection?.settle(message);
  }

  #onError(error: ServerError): void {
    const closing = CLOSING_ERROR_CODES.has(error.code);
    if (closing) this.#fatal = error; // the gateway closes the connection next
    // Configuration is sent one message at a time: the refusal answers the pending one.
    if (error.code === "invalid_message") this.#connection?.refuseAcks(error);
    // Nothing is being generated: what the caller waits for will not come (a message was
    // dropped or refused). The conversation fails the waits instead of leaving them hanging.
    if (!this.#conversation.busy && !closing) this.#conversation.refused(error);
    this.events.emit("error", error);
  }

  #onClose(connection: Connection, code: number, reason: string, opened: boolean): void {
    if (this.#connection !== connection) return;
    this.#tools.abortAll();
    const wasLive = this.isConnected;
    const expected = this.#disconnecting;
    const cause = this.#fatal ? { cause: this.#fatal } : undefined;
    const error = expected && !wasLive
      ? new ConnectionError(CANCELLED)
      : opened
      ? new ConnectionClosedError(code, reason, cause)
      : new ConnectionError(
        `Cannot connect to ${
          redact(this.#url)
        }: the gateway refused the connection or cannot be reached (close ${code})`,
        cause,
      );
    connection.failAll(error);
    this.#conversation.close(error);
    this.enter(SessionState.DISCONNECTED);
    if (wasLive && !expected) this.events.emit("error", error);
  }
}
