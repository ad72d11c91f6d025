/**
 * One realtime session of the local engine: the per-socket shell that parses client events,
 * answers them as the GA service does (§3, §4, §5 of the protocol reference), runs server VAD
 * on appended audio and streams responses.
 */
import type { ResamplerFactory } from "../audio/resampler.ts";
import { samplesOf } from "../audio/pcm.ts";
import type { Clock, TimerId } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { AudioFormat } from "./audio_format.ts";
import { bytesPerMs, decodeToSamples, sampleRateOf } from "./audio_format.ts";
import type { StoredContent, StoredItem } from "./conversation.ts";
import { InputBuffer } from "./input_buffer.ts";
import { Conversation, wireItem } from "./conversation.ts";
import type { WireError } from "./errors.ts";
import { errorFromIssues, invalidRequest, unknownEventType } from "./errors.ts";
import type { FvadModule } from "./fvad.ts";
import type { ResolvedInput } from "./replies.ts";
import { defaultReply, findInput, planReply, publicInput, transcriptionOf } from "./replies.ts";
import type { Pacing } from "./response.ts";
import { ResponseRun } from "./response.ts";
import type { ReplyPlan, Scenario } from "./scenario.ts";
import type {
  ClientEvent,
  ClientEventType,
  FunctionTool,
  ItemInput,
} from "../protocol/openai_realtime_client.ts";
import {
  CLIENT_EVENT_SCHEMAS,
  isClientEventType,
  SessionPatch,
} from "../protocol/openai_realtime_client.ts";
import type { SessionConfig } from "./session_config.ts";
import { applySessionPatch, defaultSessionConfig } from "./session_config.ts";
import type { GateEvent } from "./vad.ts";
import { gateSettings, VoiceActivity } from "./vad.ts";

/** The WASM modules a session uses, loaded once per engine. */
export interface AudioDeps {
  readonly fvad: FvadModule;
  readonly resamplers: ResamplerFactory;
}

/** Largest `input_audio_buffer.append` audio string: 15 MiB (§3.2, §7.3). */
export const MAX_APPEND_CHARS = 15 * 1024 * 1024;

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

type Handlers = {
  readonly [K in ClientEventType]: (event: Extract<ClientEvent, { type: K }>) => void;
};

/** A speech turn in progress (between speech_started and speech_stopped). */
interface Speech {
  readonly itemId: string;
  readonly audioStartMs: number;
  readonly speechStartMs: number;
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
  readonly #buffer: InputBuffer;
  #audio: AudioDeps | undefined;
  #queue: string[] | undefined = [];
  #vad: VoiceActivity | undefined;
  #speech: Speech | undefined;
  readonly #responses = new Map<string, ResponseRun>();
  #inBand: ResponseRun | undefined;
  #responseCount = 0;
  #audioProduced = false;
  #idleTimer: TimerId | undefined;
  #idleFromMs = 0;
  #expiryTimer: TimerId | undefined;
  #open = true;
  #cleaned = false;
  readonly #handlers: Handlers;

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
    this.#buffer = new InputBuffer(this.#config.audio.input.format);
    this.#handlers = {
      "session.update": (e) => this.#sessionUpdate(e),
      "input_audio_buffer.append": (e) => this.#append(e),
      "input_audio_buffer.commit": (e) => this.#commitEvent(e),
      "input_audio_buffer.clear": () => this.#clearBuffer(),
      "output_audio_buffer.clear": (e) =>
        this.#error(invalidRequest(
          "invalid_value",
          "output_audio_buffer.clear is only supported on WebRTC and SIP connections.",
          { param: "type", eventId: e.event_id },
        )),
      "conversation.item.create": (e) => this.#itemCreate(e),
      "conversation.item.truncate": (e) => this.#itemTruncate(e),
      "conversation.item.delete": (e) => this.#itemDelete(e),
      "conversation.item.retrieve": (e) => this.#itemRetrieve(e),
      "response.create": (e) => this.#responseCreate(e),
      "response.cancel": (e) => this.#responseCancel(e),
    } satisfies Handlers;
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
      this.#rebuildVad();
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
    this.#vad?.close();
    this.#vad = undefined;
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
    if (this.#socket.readyState !== WebSocket.OPEN) return;
    this.#socket.send(JSON.stringify({ type, event_id: this.#o.newId("event"), ...fields }));
  }

  #error(error: WireError): void {
    this.#log.debug({ code: error.code, param: error.param }, "Sent error event");
    this.#emit("error", { error });
  }

  #onFrame(data: unknown): void {
    if (typeof data !== "string") {
      this.#error(invalidRequest(
        "invalid_event",
        "Binary frames are not supported: send each event as a JSON text frame.",
      ));
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
      this.#dispatch(data);
    } catch (error) {
      // A bug in one event must never take the session or the process down.
      this.#log.error({ err: String(error) }, "Failed to handle client event");
      this.#error({
        type: "server_error",
        code: null,
        message: "The server had an error while processing your request.",
        param: null,
        event_id: null,
      });
    }
  }

  #dispatch(data: string): void {
    let raw: unknown;
    try {
      raw = JSON.parse(data);
    } catch {
      this.#error(invalidRequest(
        "invalid_json",
        "The event could not be parsed as JSON. Each event must be one JSON object.",
      ));
      return;
    }
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      this.#error(invalidRequest("invalid_event", "The event must be a JSON object."));
      return;
    }
    const eventIdValue: unknown = Reflect.get(raw, "event_id");
    const eventId = typeof eventIdValue === "string" ? eventIdValue : undefined;
    const type: unknown = Reflect.get(raw, "type");
    if (type === undefined) {
      this.#error(invalidRequest("invalid_event", "The 'type' field is missing.", { eventId }));
      return;
    }
    if (typeof type !== "string") {
      this.#error(invalidRequest(
        "invalid_type",
        "Invalid type for 'type': expected a string.",
        { param: "type", eventId },
      ));
      return;
    }
    if (!isClientEventType(type)) {
      this.#error({
        ...unknownEventType(type, Object.keys(CLIENT_EVENT_SCHEMAS)),
        event_id: eventId ?? null,
      });
      return;
    }
    this.#route(type, raw, eventId);
  }

  #route<K extends ClientEventType>(type: K, raw: object, eventId: string | undefined): void {
    const schema = CLIENT_EVENT_SCHEMAS[type];
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      this.#error(errorFromIssues(parsed.error.issues, raw, { eventId }));
      return;
    }
    const handler: (event: Extract<ClientEvent, { type: K }>) => void = this.#handlers[type];
    handler(parsed.data);
  }

  // -------------------------------------------------------------------------------------------
  // Session

  #sessionUpdate(event: Extract<ClientEvent, { type: "session.update" }>): void {
    const eventId = event.event_id;
    if (event.session.type === undefined) {
      this.#error(invalidRequest(
        "missing_required_parameter",
        "Missing required parameter: 'session.type'.",
        { param: "session.type", eventId },
      ));
      return;
    }
    const parsed = SessionPatch.safeParse(event.session);
    if (!parsed.success) {
      this.#error(errorFromIssues(parsed.error.issues, event.session, {
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
      this.#error(result.error);
      return;
    }
    const before = this.#config;
    this.#config = result.config;
    const input = this.#config.audio.input;
    if (input.format.type !== before.audio.input.format.type) {
      this.#buffer.setFormat(input.format);
    }
    if (
      input.format.type !== before.audio.input.format.type ||
      JSON.stringify(input.turn_detection) !== JSON.stringify(before.audio.input.turn_detection)
    ) {
      this.#speech = undefined;
      this.#rebuildVad();
      if (
        input.turn_detection?.type !== "server_vad" || input.turn_detection.idle_timeout_ms === null
      ) {
        this.#clearIdle();
      }
    }
    this.#emit("session.updated", { session: this.#config });
  }

  #rebuildVad(): void {
    this.#vad?.close();
    this.#vad = undefined;
    const td = this.#config.audio.input.turn_detection;
    if (!td || !this.#audio) return;
    this.#vad = new VoiceActivity(this.#audio, {
      inputRate: sampleRateOf(this.#config.audio.input.format),
      settings: gateSettings(td),
      originMs: this.#buffer.endMs,
    });
  }

  // -------------------------------------------------------------------------------------------
  // Input audio buffer

  #append(event: Extract<ClientEvent, { type: "input_audio_buffer.append" }>): void {
    const eventId = event.event_id;
    if (event.audio.length > MAX_APPEND_CHARS) {
      this.#error(invalidRequest(
        "string_above_max_length",
        `Invalid 'audio': string too long. Expected a string with maximum length ${MAX_APPEND_CHARS}, but got a string with length ${event.audio.length} instead.`,
        { param: "audio", eventId },
      ));
      return;
    }
    const bytes = decodeBase64(event.audio);
    if (!bytes) {
      this.#error(invalidRequest(
        "invalid_value",
        "Invalid 'audio': expected base64-encoded audio bytes.",
        { param: "audio", eventId },
      ));
      return;
    }
    this.#buffer.append(bytes);
    const vad = this.#vad;
    if (!vad) return;
    const format = this.#buffer.format;
    const samples = format.type === "audio/pcm"
      ? samplesOf(bytes.subarray(0, bytes.byteLength & ~1))
      : decodeToSamples(format, bytes);
    vad.push(samples, (gateEvent) => this.#onGate(gateEvent));
    if (!this.#speech) {
      this.#buffer.trimBefore(this.#buffer.endMs - vadPadding(this.#config) - 500);
    }
  }

  #onGate(event: GateEvent): void {
    const td = this.#config.audio.input.turn_detection;
    if (!td) return;
    if (event.type === "start") {
      const padding = vadPadding(this.#config);
      const audioStartMs = Math.max(this.#buffer.startMs, event.speechStartMs - padding);
      const itemId = this.#o.newId("item");
      this.#speech = { itemId, audioStartMs, speechStartMs: event.speechStartMs };
      this.#clearIdle();
      this.#emit("input_audio_buffer.speech_started", {
        audio_start_ms: Math.round(audioStartMs),
        item_id: itemId,
      });
      if (td.interrupt_response && this.#inBand?.active) this.#inBand.cancel("turn_detected");
      return;
    }
    const speech = this.#speech;
    if (!speech) return;
    this.#speech = undefined;
    this.#emit("input_audio_buffer.speech_stopped", {
      audio_end_ms: Math.round(event.stopMs),
      item_id: speech.itemId,
    });
    this.#commit(speech.audioStartMs, event.stopMs, speech.itemId, {
      fromMs: speech.speechStartMs - speech.audioStartMs,
      toMs: event.speechEndMs - speech.audioStartMs,
    });
    if (td.create_response) {
      if (this.#inBand?.active) {
        this.#log.debug({}, "Skipped automatic response: a response is still active");
      } else this.#startResponse({}, undefined);
    }
  }

  #commitEvent(event: Extract<ClientEvent, { type: "input_audio_buffer.commit" }>): void {
    const ms = this.#buffer.bufferedMs;
    if (ms < 100) {
      this.#error(invalidRequest(
        "input_audio_buffer_commit_empty",
        `Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only has ${
          ms.toFixed(2)
        }ms of audio.`,
        { eventId: event.event_id },
      ));
      return;
    }
    const itemId = this.#speech?.itemId ?? this.#o.newId("item");
    this.#speech = undefined;
    this.#vad?.gate.reset();
    this.#commit(this.#buffer.startMs, this.#buffer.endMs, itemId, undefined);
  }

  #commit(
    fromMs: number,
    toMs: number,
    itemId: string,
    speech: { fromMs: number; toMs: number } | undefined,
  ): void {
    const format = this.#buffer.format;
    const { bytes } = this.#buffer.take(fromMs, toMs);
    const ms = bytes.byteLength / bytesPerMs(format);
    const item: StoredItem = {
      id: itemId,
      type: "message",
      role: "user",
      status: "completed",
      content: [{
        type: "input_audio",
        transcript: null,
        audio: { bytes, format, ms },
        ...(speech ? { speech } : {}),
      }],
    };
    const previous = this.#conversation.insert(item);
    this.#emit("input_audio_buffer.committed", { previous_item_id: previous, item_id: itemId });
    this.#emit("conversation.item.added", { previous_item_id: previous, item: wireItem(item) });
    this.#emit("conversation.item.done", { previous_item_id: previous, item: wireItem(item) });
    this.#transcribe(item, speech ? speech.toMs - speech.fromMs : ms);
  }

  #transcribe(item: StoredItem, speechMs: number): void {
    if (!this.#config.audio.input.transcription || item.type !== "message") return;
    const part = item.content[0];
    if (part?.type !== "input_audio") return;
    const transcript = transcriptionOf(speechMs);
    part.transcript = transcript;
    this.#emit("conversation.item.input_audio_transcription.delta", {
      item_id: item.id,
      content_index: 0,
      delta: transcript,
    });
    this.#emit("conversation.item.input_audio_transcription.completed", {
      item_id: item.id,
      content_index: 0,
      transcript,
      usage: {
        type: "tokens",
        total_tokens: Math.ceil(speechMs / 100) + Math.ceil(transcript.length / 4),
        input_tokens: Math.ceil(speechMs / 100),
        input_token_details: { text_tokens: 0, audio_tokens: Math.ceil(speechMs / 100) },
        output_tokens: Math.ceil(transcript.length / 4),
      },
    });
  }

  #clearBuffer(): void {
    this.#buffer.clear();
    this.#speech = undefined;
    this.#vad?.gate.reset();
    this.#emit("input_audio_buffer.cleared", {});
  }

  // -------------------------------------------------------------------------------------------
  // Conversation items

  #itemCreate(event: Extract<ClientEvent, { type: "conversation.item.create" }>): void {
    const eventId = event.event_id;
    const previous = event.previous_item_id;
    if (!this.#conversation.canPlace(previous)) {
      this.#error(invalidRequest(
        "invalid_value",
        `Error adding item: the previous item with id '${previous}' does not exist.`,
        { param: "previous_item_id", eventId },
      ));
      return;
    }
    if (event.item.id !== undefined && this.#conversation.get(event.item.id)) {
      this.#error(invalidRequest(
        "invalid_value",
        `Error adding item: an item with id '${event.item.id}' already exists.`,
        { param: "item.id", eventId },
      ));
      return;
    }
    const built = this.#buildItem(event.item, "item", eventId);
    if (!built.ok) {
      this.#error(built.error);
      return;
    }
    const item = built.item;
    const previousId = this.#conversation.insert(item, previous);
    this.#emit("conversation.item.added", { previous_item_id: previousId, item: wireItem(item) });
    this.#emit("conversation.item.done", { previous_item_id: previousId, item: wireItem(item) });
  }

  /** Validates a client item and turns it into a stored one. */
  #buildItem(
    input: ItemInput,
    param: string,
    eventId: string | undefined,
  ): { ok: true; item: StoredItem } | { ok: false; error: WireError } {
    const id = input.id ?? this.#o.newId("item");
    switch (input.type) {
      case "message": {
        const allowed = input.role === "system"
          ? ["input_text"]
          : input.role === "user"
          ? ["input_text", "input_audio", "input_image"]
          : ["output_text"];
        const content: StoredContent[] = [];
        for (const [index, part] of input.content.entries()) {
          if (!allowed.includes(part.type)) {
            return {
              ok: false,
              error: invalidRequest(
                "invalid_value",
                `Invalid value: '${part.type}'. Supported values are: ${
                  allowed.map((a) => `'${a}'`).join(", ")
                }.`,
                { param: `${param}.content[${index}].type`, eventId },
              ),
            };
          }
          switch (part.type) {
            case "input_text":
            case "output_text":
              content.push({ type: part.type, text: part.text });
              break;
            case "input_image":
              content.push({
                type: "input_image",
                ...(part.image_url === undefined ? {} : { image_url: part.image_url }),
                ...(part.detail === undefined ? {} : { detail: part.detail }),
              });
              break;
            case "input_audio": {
              const format = this.#config.audio.input.format;
              const bytes = part.audio === undefined ? new Uint8Array(0) : decodeBase64(part.audio);
              if (!bytes) {
                return {
                  ok: false,
                  error: invalidRequest(
                    "invalid_value",
                    "Invalid 'audio': expected base64-encoded audio bytes.",
                    { param: `${param}.content[${index}].audio`, eventId },
                  ),
                };
              }
              content.push({
                type: "input_audio",
                transcript: part.transcript ?? null,
                audio: { bytes, format, ms: bytes.byteLength / bytesPerMs(format) },
              });
              break;
            }
            case "output_audio":
              break;
            default:
              part satisfies never;
          }
        }
        return {
          ok: true,
          item: { id, type: "message", role: input.role, status: "completed", content },
        };
      }
      case "function_call":
        return {
          ok: true,
          item: {
            id,
            type: "function_call",
            status: "completed",
            name: input.name,
            call_id: input.call_id ?? this.#o.newId("call"),
            arguments: input.arguments,
          },
        };
      case "function_call_output":
        if (!this.#conversation.findCall(input.call_id)) {
          return {
            ok: false,
            error: invalidRequest(
              "invalid_value",
              `Tool call ID '${input.call_id}' not found in conversation.`,
              { param: `${param}.call_id`, eventId },
            ),
          };
        }
        return {
          ok: true,
          item: { id, type: "function_call_output", call_id: input.call_id, output: input.output },
        };
      case "mcp_approval_response":
        return {
          ok: true,
          item: {
            id,
            type: "mcp_approval_response",
            approval_request_id: input.approval_request_id,
            approve: input.approve,
            reason: input.reason ?? null,
          },
        };
      default:
        return input satisfies never;
    }
  }

  #itemTruncate(event: Extract<ClientEvent, { type: "conversation.item.truncate" }>): void {
    const eventId = event.event_id;
    const item = this.#conversation.get(event.item_id);
    if (!item) {
      this.#error(invalidRequest(
        "item_truncate_invalid_item_id",
        `Item with item_id '${event.item_id}' not found.`,
        { param: "item_id", eventId },
      ));
      return;
    }
    const part = item.type === "message" && item.role === "assistant"
      ? item.content[event.content_index]
      : undefined;
    if (part?.type !== "output_audio" || !part.audio || part.audio.ms <= 0) {
      this.#error(invalidRequest(
        "unsupported_content_type",
        "Only model output audio messages can be truncated",
        { param: "item_id", eventId },
      ));
      return;
    }
    const audio = part.audio;
    if (event.audio_end_ms > audio.ms) {
      this.#error(invalidRequest(
        "invalid_value",
        `Audio content of ${
          Math.floor(audio.ms)
        } ms is already shorter than ${event.audio_end_ms} ms`,
        { param: "audio_end_ms", eventId },
      ));
      return;
    }
    if (audio.bytes) {
      const sample = audio.format.type === "audio/pcm" ? 2 : 1;
      let keep = Math.round(event.audio_end_ms * bytesPerMs(audio.format));
      keep -= keep % sample;
      this.#conversation.removeAudioBytes(audio.bytes.byteLength - keep);
      audio.bytes = audio.bytes.subarray(0, keep);
    }
    audio.ms = event.audio_end_ms;
    part.truncated = true;
    // The service drops the transcript so the context holds no words the caller did not hear.
    part.transcript = "";
    this.#emit("conversation.item.truncated", {
      item_id: item.id,
      content_index: event.content_index,
      audio_end_ms: event.audio_end_ms,
    });
  }

  #itemDelete(event: Extract<ClientEvent, { type: "conversation.item.delete" }>): void {
    if (!this.#conversation.delete(event.item_id)) {
      this.#error(invalidRequest(
        "item_delete_invalid_item_id",
        `Error deleting item: the item with id '${event.item_id}' does not exist.`,
        { param: "item_id", eventId: event.event_id },
      ));
      return;
    }
    this.#emit("conversation.item.deleted", { item_id: event.item_id });
  }

  #itemRetrieve(event: Extract<ClientEvent, { type: "conversation.item.retrieve" }>): void {
    const item = this.#conversation.get(event.item_id);
    if (!item) {
      this.#error(invalidRequest(
        "item_retrieve_invalid_item_id",
        `Error retrieving item: the item with id '${event.item_id}' does not exist.`,
        { param: "item_id", eventId: event.event_id },
      ));
      return;
    }
    this.#emit("conversation.item.retrieved", { item: wireItem(item, true) });
  }

  // -------------------------------------------------------------------------------------------
  // Responses

  #responseCreate(event: Extract<ClientEvent, { type: "response.create" }>): void {
    const params = event.response ?? {};
    const eventId = event.event_id;
    if ((params.conversation ?? "auto") === "auto" && this.#inBand?.active) {
      this.#error(invalidRequest(
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
            this.#error(invalidRequest(
              "invalid_value",
              `Item with id '${entry.id}' not found.`,
              { param: `response.input[${index}].id`, eventId },
            ));
            return;
          }
          context.push(item);
          continue;
        }
        const built = this.#buildItem(entry, `response.input[${index}]`, eventId);
        if (!built.ok) {
          this.#error(built.error);
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
      this.#idleFromMs = this.#buffer.endMs;
      this.#idleTimer = this.#o.clock.setTimeout(
        () => this.#idleTimeout(),
        run.audioMs + td.idle_timeout_ms,
      );
    }
  }

  #idleTimeout(): void {
    this.#idleTimer = undefined;
    if (!this.#open || this.#speech || this.#inBand?.active) return;
    const itemId = this.#o.newId("item");
    const endMs = this.#buffer.endMs;
    this.#emit("input_audio_buffer.timeout_triggered", {
      audio_start_ms: Math.round(this.#idleFromMs),
      audio_end_ms: Math.round(endMs),
      item_id: itemId,
    });
    this.#vad?.gate.reset();
    this.#commit(Math.max(this.#idleFromMs, this.#buffer.startMs), endMs, itemId, undefined);
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
      this.#error(invalidRequest(
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

function vadPadding(config: SessionConfig): number {
  const td = config.audio.input.turn_detection;
  return td?.type === "server_vad" ? td.prefix_padding_ms : 300;
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  try {
    return Uint8Array.fromBase64(text);
  } catch {
    return undefined;
  }
}
