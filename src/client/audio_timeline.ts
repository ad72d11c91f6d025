/**
 * The user's side of a {@linkcode VoiceSession}'s audio: the timeline of everything sent on a
 * connection (turn detection reports speech as positions on it), the audio kept so that
 * `listen()` can return an utterance, and the gathering of model-rate samples into messages.
 *
 * @module
 */
import { concatBytes } from "../audio/pcm.ts";
import {
  type AudioSettings,
  durationOf,
  frameBytes,
  MODEL_SAMPLE_RATE,
  type Resampler,
  type ResamplerSource,
  toMonoPcm16,
} from "./audio.ts";

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

/** Smallest audio message sent (20 ms): tiny frames are gathered, to stay under rate limits. */
const MIN_CHUNK_SAMPLES = MODEL_SAMPLE_RATE / 50;
/** Model samples per millisecond. */
const SAMPLES_PER_MS = MODEL_SAMPLE_RATE / 1000;
/** How much sent audio is kept for `listen()` while nobody speaks (ms). */
const LISTEN_LOOKBACK_MS = 10_000;
/** Longest utterance `listen()` keeps (ms). */
const LISTEN_MAX_MS = 60_000;

/** Audio the app sent, kept a while so that `listen()` can return an utterance's audio. */
interface SentAudio {
  readonly startMs: number;
  readonly endMs: number;
  readonly bytes: Uint8Array<ArrayBuffer>;
  readonly settings: AudioSettings;
}

/** The audio sent on one connection, as a timeline; model-rate samples go to `send`. */
export class AudioTimeline {
  readonly #send: (samples: Int16Array) => void;
  #sent: SentAudio[] = [];
  #timelineMs = 0;
  #speechStartMs: number | undefined;
  /** Model-rate audio gathered until it makes a 20 ms message. */
  #queue: Int16Array[] = [];
  #queued = 0;
  /** App rate → 24 kHz for the current utterance (reset at each commit). */
  #resampler: Resampler | undefined;

  /** `send` gets model-rate mono samples, at least 20 ms at a time (but at a flush). */
  constructor(send: (samples: Int16Array) => void) {
    this.#send = send;
  }

  /**
   * Adds app audio (checked: whole frames) to the timeline and sends it at the model's rate.
   * The timeline is the app's audio time; resampling shifts it by its filter delay (~2 ms).
   */
  write(
    bytes: Uint8Array<ArrayBuffer>,
    settings: AudioSettings,
    resamplers: ResamplerSource | undefined,
  ): void {
    const mono = toMonoPcm16(bytes, settings);
    if (bytes.byteLength === 0) return;
    const startMs = this.#timelineMs;
    this.#timelineMs += durationOf(bytes.byteLength, settings);
    this.#queueSamples(this.#toModelRate(mono, settings, resamplers));
    this.#sent.push({ startMs, endMs: this.#timelineMs, bytes: bytes.slice(), settings });
    this.#prune();
  }

  /** Ends an utterance: the resampler's last milliseconds are sent; the next starts afresh. */
  endUtterance(): void {
    const resampler = this.#resampler;
    if (!resampler) return;
    this.#queueSamples(resampler.flush());
    resampler.reset();
  }

  /** Adds `ms` of silence (what ends a turn under turn detection). */
  silence(ms: number): void {
    this.#timelineMs += ms;
    this.#queueSamples(new Int16Array(ms * SAMPLES_PER_MS));
  }

  /** Sends what was gathered. */
  flush(): void {
    if (this.#queued === 0) return;
    const all = new Int16Array(this.#queued);
    let offset = 0;
    for (const part of this.#queue) {
      all.set(part, offset);
      offset += part.length;
    }
    this.#queue = [];
    this.#queued = 0;
    this.#send(all);
  }

  /** Turn detection heard speech start at `startMs`. */
  speechStarted(startMs: number): void {
    this.#speechStartMs = startMs;
  }

  /** Turn detection heard speech end at `endMs`: the utterance, with the audio sent for it. */
  speechStopped(endMs: number): Utterance {
    const startMs = this.#speechStartMs ?? endMs;
    const end = Math.max(startMs, endMs);
    this.#speechStartMs = undefined;
    return { audio: this.#between(startMs, end), startMs, endMs: end, durationMs: end - startMs };
  }

  /** A new connection: an empty timeline. */
  reset(): void {
    this.#queue = [];
    this.#queued = 0;
    this.#resampler?.reset();
    this.#sent = [];
    this.#timelineMs = 0;
    this.#speechStartMs = undefined;
  }

  /** Mono PCM16 at the app's rate as model-rate samples (a view the next call may reuse). */
  #toModelRate(
    mono: Int16Array<ArrayBuffer>,
    settings: AudioSettings,
    resamplers: ResamplerSource | undefined,
  ): Int16Array {
    if (settings.sampleRate === MODEL_SAMPLE_RATE) return mono;
    let resampler = this.#resampler;
    if (!resampler || resampler.inRate !== settings.sampleRate) {
      resampler?.close();
      if (!resamplers) throw new TypeError("Cannot resample audio: the resampler is not loaded");
      resampler = resamplers.create(settings.sampleRate, MODEL_SAMPLE_RATE);
      this.#resampler = resampler;
    }
    return resampler.process(mono);
  }

  /** Sends model-rate samples, gathering small pieces into messages of at least 20 ms. */
  #queueSamples(samples: Int16Array): void {
    if (samples.length === 0) return;
    if (this.#queued === 0 && samples.length >= MIN_CHUNK_SAMPLES) {
      this.#send(samples);
      return;
    }
    this.#queue.push(samples.slice());
    this.#queued += samples.length;
    if (this.#queued >= MIN_CHUNK_SAMPLES) this.flush();
  }

  /** Keeps the sent audio `listen()` may still need. */
  #prune(): void {
    const from = this.#speechStartMs !== undefined
      ? Math.max(this.#speechStartMs, this.#timelineMs - LISTEN_MAX_MS)
      : this.#timelineMs - LISTEN_LOOKBACK_MS;
    let drop = 0;
    while (drop < this.#sent.length && this.#sent[drop]!.endMs <= from) drop++;
    if (drop > 0) this.#sent.splice(0, drop);
  }

  /** The audio the app sent between two positions (ms), in the format it was sent in. */
  #between(startMs: number, endMs: number): Uint8Array<ArrayBuffer> {
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
}
