/**
 * One realtime session of the local engine: the per-socket shell that parses client events,
 * answers them as the GA service does (§3, §4, §5 of the protocol reference) and streams
 * responses. Its parts: the frame parser (`client_events.ts`), the outgoing events
 * (`event_sink.ts`), the input audio buffer with server VAD (`input_turns.ts`), the item events
 * (`item_events.ts`) and one response (`response.ts`).
 */
import type { Clock, TimerId } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { AudioFormat } from "./audio_format.ts";
import type { StoredItem } from "./conversation.ts";
import { Conversation } from "./conversation.ts";
import type { ClientEventHandlers } from "./client_events.ts";
import { binaryFrameError, dispatchClientFrame } from "./client_events.ts";
import { errorFromIssues, invalidRequest } from "./errors.ts";
import { EventSink } from "./event_sink.ts";
import type { AudioDeps } from "./input_turns.ts";
import { InputTurns } from "./input_turns.ts";
import { ItemEvents } from "./item_events.ts";
import type { ResolvedInput } from "./replies.ts";
import { defaultReply, findInput, planReply, publicInput } from "./replies.ts";
import type { Pacing } from "./response.ts";
import { ResponseRun } from "./response.ts";
import type { ReplyPlan, Scenario } from "./scenario.ts";
import type { ClientEvent, FunctionTool } from "../protocol/openai_realtime_client.ts";
import { SessionPatch } from "../protocol/openai_realtime_client.ts";
import type { SessionConfig } from "./session_config.ts";
import { applySessionPatch, defaultSessionConfig } from "./session_config.ts";

/** What a session is built from. */
export interface SessionOptions {
  readonly socket: WebSocket;
  readonly audio: Promise<AudioDeps>;
  readonly clock: Clock;
  newId(prefix: string): string;
  readonly log: Logger;
  /** The `model` query parameter. */
  readonly model: string;
  readonly maxSessionMs: number;
  readonly pacing: Pacing;
  /** Audio bytes a conversation keeps for `retrieve`/echo before dropping the oldest. */
  readonly maxStoredAudioBytes: number;
  readonly scenario?: Scenario | undefined;
  /** Called once when the socket has closed. */
  onClosed(session: RealtimeSession): void;
}

/** One session on one socket. */
export class RealtimeSession {
  readonly id: string;
  readonly closed: Promise<void>;
  readonly #o: SessionOptions;
  readonly #socket: WebSocket;
  readonly #log: Logger;
  #config: SessionConfig;
  readonly #conversation: Conversation;
  readonly #sink: EventSink;
  readonly #turns: InputTurns;
  readonly #items: ItemEvents;
  #audio: AudioDeps | undefined;
  #queue: string[] | undefined = [];
  readonly #responses = new Map<string, ResponseRun>();
  #inBand: ResponseRun | undefined;
  #responseCount = 0;
  #audioProduced = false;
  #idleTimer: TimerId | undefined;
  #idleFromMs = 0;
  #expiryTimer: TimerId | undefined;
  #open = true;
  #cleaned = false;
  readonly #handlers: ClientEventHandlers;

  constructor(options: SessionOptions) {
    this.#o = options;
    this.#socket = options.socket;
    this.id = options.newId("sess");
    this.#log = options.log.child({ sessionId: this.id });
    const now = options.clock.now();
    this.#config = defaultSessionConfig({
      id: this.id,
      model: options.model,
      expiresAt: Math.floor((now + options.maxSessionMs) / 1000),
    });
    this.#conversation = new Conversation(options.newId("conv"), {
      maxAudioBytes: options.maxStoredAudioBytes,
    });
    this.#sink = new EventSink(this.#socket, { newId: options.newId, log: this.#log });
    const newId = (prefix: string) => options.newId(prefix);
    this.#turns = new InputTurns({
      format: this.#config.audio.input.format,
      sink: this.#sink,
      conversation: this.#conversation,
      config: () => this.#config,
      newId,
      hooks: {
        onSpeechStarted: (td) => {
          this.#clearIdle();
          if (td.interrupt_response && this.#inBand?.active) this.#inBand.cancel("turn_detected");
        },
        onTurnEnded: (td) => {
          if (!td.create_response) return;
          if (this.#inBand?.active) {
            this.#log.debug({}, "Skipped automatic response: a response is still active");
          } else this.#startResponse({}, undefined);
        },
      },
    });
    this.#items = new ItemEvents({
      conversation: this.#conversation,
      sink: this.#sink,
      newId,
      inputFormat: () => this.#config.audio.input.format,
    });
    const turns = this.#turns, items = this.#items;
    this.#handlers = {
      "session.update": (e) => this.#sessionUpdate(e),
      "input_audio_buffer.append": (e) => turns.append(e),
      "input_audio_buffer.commit": (e) => turns.commitEvent(e),
      "input_audio_buffer.clear": () => turns.clear(),
      "output_audio_buffer.clear": (e) =>
        this.#sink.error(invalidRequest(
          "invalid_value",
          "output_audio_buffer.clear is only supported on WebRTC and SIP connections.",
          { param: "type", eventId: e.event_id },
        )),
      "conversation.item.create": (e) => items.create(e),
      "conversation.item.truncate": (e) => items.truncate(e),
      "conversation.item.delete": (e) => items.delete(e),
      "conversation.item.retrieve": (e) => items.retrieve(e),
      "response.create": (e) => this.#responseCreate(e),
      "response.cancel": (e) => this.#responseCancel(e),
    } satisfies ClientEventHandlers;
    this.closed = new Promise((resolve) => {
      this.#socket.addEventListener("close", () => {
        this.#cleanup();
        resolve();
      }, { once: true });
    });
    this.#socket.addEventListener("open", () => this.#onOpen(), { once: true });
    this.#socket.addEventListener("message", (event) => this.#onFrame(event.data));
    this.#socket.addEventListener("error", () => {/* the close event follows */});
    options.audio.then((deps) => {
      this.#audio = deps;
      if (!this.#open) return;
      this.#turns.restartVad(deps);
      const queued = this.#queue ?? [];
      this.#queue = undefined;
      for (const frame of queued) this.#handleFrame(frame);
    }, (error) => {
      this.#log.error({ err: String(error) }, "Closed session: audio modules failed to load");
      this.close(1011, "Internal server error");
    });
  }

  /** The effective configuration. */
  get config(): SessionConfig {
    return this.#config;
  }

  /** Closes the socket with a close frame. */
  close(code = 1000, reason = ""): void {
    this.#stopAll();
    if (
      this.#socket.readyState === WebSocket.OPEN || this.#socket.readyState === WebSocket.CONNECTING
    ) {
      try {
        this.#socket.close(code, reason);
      } catch (error) {
        this.#log.debug({ err: String(error) }, "Failed to close socket");
      }
    }
  }

  #onOpen(): void {
    this.#log.debug({ model: this.#o.model }, "Engine session opened");
    this.#emit("session.created", { session: this.#config });
    this.#expiryTimer = this.#o.clock.setTimeout(() => {
      const minutes = this.#o.maxSessionMs / 60_000;
      const shown = Number.isInteger(minutes) ? String(minutes) : String(+minutes.toFixed(2));
      this.#log.info({}, "Closed session: maximum duration reached");
      this.close(1001, `Your session hit the maximum duration of ${shown} minutes.`);
    }, this.#o.maxSessionMs);
  }

  #cleanup(): void {
    if (this.#cleaned) return;
    this.#cleaned = true;
    this.#stopAll();
    this.#turns.close();
    this.#log.debug({ responses: this.#responseCount }, "Engine session closed");
    this.#o.onClosed(this);
  }

  #stopAll(): void {
    this.#open = false;
    for (const run of this.#responses.values()) run.stop();
    this.#responses.clear();
    this.#inBand = undefined;
    this.#clearIdle();
    if (this.#expiryTimer !== undefined) this.#o.clock.clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Wire

  #emit(type: string, fields: Record<string, unknown>): void {
    this.#sink.emit(type, fields);
  }

  #onFrame(data: unknown): void {
    if (typeof data !== "string") {
      this.#sink.error(binaryFrameError());
      return;
    }
    if (this.#queue) {
      this.#queue.push(data);
      return;
    }
    this.#handleFrame(data);
  }

  #handleFrame(data: string): void {
    if (!this.#open) return;
    try {
      const error = dispatchClientFrame(data, this.#handlers);
      if (error) this.#sink.error(error);
    } catch (error) {
      // A bug in one event must never take the session or the process down.
      this.#log.error({ err: String(error) }, "Failed to handle client event");
      this.#sink.error({
        type: "server_error",
        code: null,
        message: "The server had an error while processing your request.",
        param: null,
        event_id: null,
      });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Session

  #sessionUpdate(event: Extract<ClientEvent, { type: "session.update" }>): void {
    const eventId = event.event_id;
    if (event.session.type === undefined) {
      this.#sink.error(invalidRequest(
        "missing_required_parameter",
        "Missing required parameter: 'session.type'.",
        { param: "session.type", eventId },
      ));
      return;
    }
    const parsed = SessionPatch.safeParse(event.session);
    if (!parsed.success) {
      this.#sink.error(errorFromIssues(parsed.error.issues, event.session, {
        prefix: ["session"],
        eventId,
      }));
      return;
    }
    const result = applySessionPatch(this.#config, parsed.data, {
      audioProduced: this.#audioProduced,
      eventId,
    });
    if (!result.ok) {
      this.#sink.error(result.error);
      return;
    }
    const before = this.#config;
    this.#config = result.config;
    const input = this.#config.audio.input;
    if (input.format.type !== before.audio.input.format.type) {
      this.#turns.setFormat(input.format);
    }
    if (
      input.format.type !== before.audio.input.format.type ||
      JSON.stringify(input.turn_detection) !== JSON.stringify(before.audio.input.turn_detection)
    ) {
      this.#turns.restartVad(this.#audio);
      if (
        input.turn_detection?.type !== "server_vad" || input.turn_detection.idle_timeout_ms === null
      ) {
        this.#clearIdle();
      }
    }
    this.#emit("session.updated", { session: this.#config });
  }

  // -------------------------------------------------------------------------------------------

  // Responses

  #responseCreate(event: Extract<ClientEvent, { type: "response.create" }>): void {
    const params = event.response ?? {};
    const eventId = event.event_id;
    if ((params.conversation ?? "auto") === "auto" && this.#inBand?.active) {
      this.#sink.error(invalidRequest(
        "conversation_already_has_active_response",
        `Conversation already has an active response in progress: ${this.#inBand.id}. Wait until the response is finished before creating a new one.`,
        { eventId },
      ));
      return;
    }
    let context: StoredItem[] | undefined;
    if (params.input) {
      context = [];
      for (const [index, entry] of params.input.entries()) {
        if (entry.type === "item_reference") {
          const item = this.#conversation.get(entry.id);
          if (!item) {
            this.#sink.error(invalidRequest(
              "invalid_value",
              `Item with id '${entry.id}' not found.`,
              { param: `response.input[${index}].id`, eventId },
            ));
            return;
          }
          context.push(item);
          continue;
        }
        const built = this.#items.build(entry, `response.input[${index}]`, eventId);
        if (!built.ok) {
          this.#sink.error(built.error);
          return;
        }
        context.push(built.item);
      }
    }
    this.#startResponse(params, context);
  }

  #startResponse(
    params: NonNullable<Extract<ClientEvent, { type: "response.create" }>["response"]>,
    context: StoredItem[] | undefined,
    forcedInput?: ResolvedInput,
  ): void {
    const config = this.#config;
    const inBand = (params.conversation ?? "auto") === "auto";
    const items = context ?? [...this.#conversation.items];
    const input = forcedInput ?? findInput(items);
    const tools = (params.tools ?? config.tools).filter((t): t is FunctionTool =>
      t.type === "function"
    );
    const toolChoice = params.tool_choice ?? config.tool_choice;
    const modalities = params.output_modalities ?? config.output_modalities;
    const id = this.#o.newId("resp");
    const index = this.#responseCount++;
    const metadata = params.metadata ?? null;
    let plan: ReplyPlan | undefined;
    try {
      plan = this.#o.scenario?.({
        sessionId: this.id,
        responseId: id,
        responseIndex: index,
        input: publicInput(input),
        tools,
        outputModalities: modalities,
        conversation: inBand ? "auto" : "none",
        metadata,
      });
    } catch (error) {
      this.#log.warn({ err: String(error) }, "Scenario failed; using the default reply rules");
    }
    const reply = planReply(defaultReply(input, { tools, toolChoice }), plan);
    const format: AudioFormat = params.audio?.output?.format
      ? (params.audio.output.format.type === "audio/pcm"
        ? { type: "audio/pcm", rate: 24000 }
        : { type: params.audio.output.format.type })
      : config.audio.output.format;
    const audio = this.#audio;
    if (!audio) throw new TypeError("Cannot respond: audio modules are not loaded");
    const run = new ResponseRun({
      id,
      index,
      conversationId: inBand ? this.#conversation.id : null,
      modalities,
      format,
      voice: params.audio?.output?.voice ?? config.audio.output.voice,
      maxOutputTokens: params.max_output_tokens ?? config.max_output_tokens,
      metadata,
      reply,
      plan,
      context: { instructions: params.instructions ?? config.instructions, items },
    }, {
      emit: (type, fields) => this.#emit(type, fields),
      clock: this.#o.clock,
      newId: (prefix) => this.#o.newId(prefix),
      conversation: inBand ? this.#conversation : undefined,
      resamplers: audio.resamplers,
      pacing: this.#o.pacing,
      onDone: (done) => this.#responseDone(done),
      disconnect: (code, reason) => this.disconnect(code, reason),
    });
    this.#responses.set(id, run);
    if (inBand) this.#inBand = run;
    this.#clearIdle();
    run.start();
  }

  #responseDone(run: ResponseRun): void {
    this.#responses.delete(run.id);
    if (run.audioMs > 0) this.#audioProduced = true;
    if (this.#inBand !== run) return;
    this.#inBand = undefined;
    const td = this.#config.audio.input.turn_detection;
    if (td?.type === "server_vad" && td.idle_timeout_ms !== null && this.#open) {
      // §2.3: silence counted from when the reply's audio should have finished playing.
      this.#idleFromMs = this.#turns.endMs;
      this.#idleTimer = this.#o.clock.setTimeout(
        () => this.#idleTimeout(),
        run.audioMs + td.idle_timeout_ms,
      );
    }
  }

  #idleTimeout(): void {
    this.#idleTimer = undefined;
    if (!this.#open || this.#turns.speaking || this.#inBand?.active) return;
    this.#turns.timeout(this.#idleFromMs);
    this.#startResponse({}, undefined, { kind: "idle" });
  }

  #clearIdle(): void {
    if (this.#idleTimer !== undefined) this.#o.clock.clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  #responseCancel(event: Extract<ClientEvent, { type: "response.cancel" }>): void {
    const run = event.response_id === undefined
      ? this.#inBand
      : this.#responses.get(event.response_id);
    if (!run?.active) {
      this.#sink.error(invalidRequest(
        "response_cancel_not_active",
        "Cancellation failed: no active response found",
        { eventId: event.event_id },
      ));
      return;
    }
    run.cancel("client_cancelled");
  }

  /** Drops the connection abruptly (tests: the upstream dies mid-call). */
  disconnect(code = 1011, reason = "Internal server error"): void {
    this.#log.info({ code }, "Dropped session");
    this.close(code, reason);
  }
}
