/**
 * The input side of an engine session: the input audio buffer (§3.2–3.4) and server VAD turns
 * on it (§2.3, §4.6): appended audio runs through the voice activity detector; a detected turn,
 * a `commit` or an idle timeout becomes a user item in the conversation, transcribed when the
 * session asks for transcription.
 */
import type { ResamplerFactory } from "../audio/resampler.ts";
import { samplesOf } from "../audio/pcm.ts";
import { bytesPerMs, decodeToSamples, sampleRateOf } from "./audio_format.ts";
import type { AudioFormat } from "./audio_format.ts";
import type { Conversation, StoredItem } from "./conversation.ts";
import { wireItem } from "./conversation.ts";
import { invalidRequest } from "./errors.ts";
import type { EventSink } from "./event_sink.ts";
import type { FvadModule } from "./fvad.ts";
import { InputBuffer } from "./input_buffer.ts";
import { transcriptionOf } from "./replies.ts";
import type { SessionConfig } from "./session_config.ts";
import type { GateEvent } from "./vad.ts";
import { gateSettings, VoiceActivity } from "./vad.ts";
import type { ClientEvent } from "../protocol/openai_realtime_client.ts";

/** The WASM modules a session uses, loaded once per engine. */
export interface AudioDeps {
  readonly fvad: FvadModule;
  readonly resamplers: ResamplerFactory;
}

/** Largest `input_audio_buffer.append` audio string: 15 MiB (§3.2, §7.3). */
export const MAX_APPEND_CHARS = 15 * 1024 * 1024;

/** A speech turn in progress (between speech_started and speech_stopped). */
interface Speech {
  readonly itemId: string;
  readonly audioStartMs: number;
  readonly speechStartMs: number;
}

/** The session's turn detection settings, when it has turn detection. */
export type TurnDetection = NonNullable<SessionConfig["audio"]["input"]["turn_detection"]>;

/** What the session does at the edges of a VAD turn. */
export interface TurnHooks {
  /** Speech began (`speech_started` is out): the caller may be talking over a response. */
  onSpeechStarted(td: TurnDetection): void;
  /** The turn was committed as a user item. */
  onTurnEnded(td: TurnDetection): void;
}

/** The input audio buffer of one session, with its VAD. */
export class InputTurns {
  readonly #buffer: InputBuffer;
  readonly #sink: EventSink;
  readonly #conversation: Conversation;
  readonly #config: () => SessionConfig;
  readonly #newId: (prefix: string) => string;
  readonly #hooks: TurnHooks;
  #vad: VoiceActivity | undefined;
  #speech: Speech | undefined;

  constructor(options: {
    format: AudioFormat;
    sink: EventSink;
    conversation: Conversation;
    /** The session's current configuration. */
    config(): SessionConfig;
    newId(prefix: string): string;
    hooks: TurnHooks;
  }) {
    this.#buffer = new InputBuffer(options.format);
    this.#sink = options.sink;
    this.#conversation = options.conversation;
    this.#config = options.config;
    this.#newId = options.newId;
    this.#hooks = options.hooks;
  }

  /** A speech turn is in progress. */
  get speaking(): boolean {
    return this.#speech !== undefined;
  }

  /** Timeline position after the last appended byte (ms). */
  get endMs(): number {
    return this.#buffer.endMs;
  }

  /** Changes the format of what is appended next. */
  setFormat(format: AudioFormat): void {
    this.#buffer.setFormat(format);
  }

  /** Drops a turn in progress; rebuilds VAD for the current settings (without the audio
   * modules or turn detection, none). */
  restartVad(audio: AudioDeps | undefined): void {
    this.#speech = undefined;
    this.#vad?.close();
    this.#vad = undefined;
    const td = this.#config().audio.input.turn_detection;
    if (!td || !audio) return;
    this.#vad = new VoiceActivity(audio, {
      inputRate: sampleRateOf(this.#config().audio.input.format),
      settings: gateSettings(td),
      originMs: this.#buffer.endMs,
    });
  }

  /** Frees the VAD. */
  close(): void {
    this.#vad?.close();
    this.#vad = undefined;
  }

  /** The idle timeout (§2.3): the audio since `fromMs` becomes a user item. */
  timeout(fromMs: number): void {
    const itemId = this.#newId("item");
    const endMs = this.#buffer.endMs;
    this.#sink.emit("input_audio_buffer.timeout_triggered", {
      audio_start_ms: Math.round(fromMs),
      audio_end_ms: Math.round(endMs),
      item_id: itemId,
    });
    this.#vad?.gate.reset();
    this.#commit(Math.max(fromMs, this.#buffer.startMs), endMs, itemId, undefined);
  }

  /** `input_audio_buffer.append`: buffers the audio and runs it through VAD. */
  append(event: Extract<ClientEvent, { type: "input_audio_buffer.append" }>): void {
    const eventId = event.event_id;
    if (event.audio.length > MAX_APPEND_CHARS) {
      this.#sink.error(invalidRequest(
        "string_above_max_length",
        `Invalid 'audio': string too long. Expected a string with maximum length ${MAX_APPEND_CHARS}, but got a string with length ${event.audio.length} instead.`,
        { param: "audio", eventId },
      ));
      return;
    }
    const bytes = decodeBase64(event.audio);
    if (!bytes) {
      this.#sink.error(invalidRequest(
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
      this.#buffer.trimBefore(this.#buffer.endMs - vadPadding(this.#config()) - 500);
    }
  }

  #onGate(event: GateEvent): void {
    const td = this.#config().audio.input.turn_detection;
    if (!td) return;
    if (event.type === "start") {
      const padding = vadPadding(this.#config());
      const audioStartMs = Math.max(this.#buffer.startMs, event.speechStartMs - padding);
      const itemId = this.#newId("item");
      this.#speech = { itemId, audioStartMs, speechStartMs: event.speechStartMs };
      this.#sink.emit("input_audio_buffer.speech_started", {
        audio_start_ms: Math.round(audioStartMs),
        item_id: itemId,
      });
      this.#hooks.onSpeechStarted(td);
      return;
    }
    const speech = this.#speech;
    if (!speech) return;
    this.#speech = undefined;
    this.#sink.emit("input_audio_buffer.speech_stopped", {
      audio_end_ms: Math.round(event.stopMs),
      item_id: speech.itemId,
    });
    this.#commit(speech.audioStartMs, event.stopMs, speech.itemId, {
      fromMs: speech.speechStartMs - speech.audioStartMs,
      toMs: event.speechEndMs - speech.audioStartMs,
    });
    this.#hooks.onTurnEnded(td);
  }

  /** `input_audio_buffer.commit`: the buffer becomes a user item. */
  commitEvent(event: Extract<ClientEvent, { type: "input_audio_buffer.commit" }>): void {
    const ms = this.#buffer.bufferedMs;
    if (ms < 100) {
      this.#sink.error(invalidRequest(
        "input_audio_buffer_commit_empty",
        `Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only has ${
          ms.toFixed(2)
        }ms of audio.`,
        { eventId: event.event_id },
      ));
      return;
    }
    const itemId = this.#speech?.itemId ?? this.#newId("item");
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
    this.#sink.emit("input_audio_buffer.committed", {
      previous_item_id: previous,
      item_id: itemId,
    });
    this.#sink.emit("conversation.item.added", {
      previous_item_id: previous,
      item: wireItem(item),
    });
    this.#sink.emit("conversation.item.done", { previous_item_id: previous, item: wireItem(item) });
    this.#transcribe(item, speech ? speech.toMs - speech.fromMs : ms);
  }

  #transcribe(item: StoredItem, speechMs: number): void {
    if (!this.#config().audio.input.transcription || item.type !== "message") return;
    const part = item.content[0];
    if (part?.type !== "input_audio") return;
    const transcript = transcriptionOf(speechMs);
    part.transcript = transcript;
    this.#sink.emit("conversation.item.input_audio_transcription.delta", {
      item_id: item.id,
      content_index: 0,
      delta: transcript,
    });
    this.#sink.emit("conversation.item.input_audio_transcription.completed", {
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

  /** `input_audio_buffer.clear`. */
  clear(): void {
    this.#buffer.clear();
    this.#speech = undefined;
    this.#vad?.gate.reset();
    this.#sink.emit("input_audio_buffer.cleared", {});
  }

  // -------------------------------------------------------------------------------------------
}

function vadPadding(config: SessionConfig): number {
  const td = config.audio.input.turn_detection;
  return td?.type === "server_vad" ? td.prefix_padding_ms : 300;
}

/** Decodes base64, or undefined when the text is not base64. */
export function decodeBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  try {
    return Uint8Array.fromBase64(text);
  } catch {
    return undefined;
  }
}
