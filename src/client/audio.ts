/**
 * Audio formats of {@linkcode VoiceSession}: what the app sends and receives (PCM16 or Float32,
 * mono or interleaved stereo, any rate from 8 to 96 kHz) and the model's PCM16 mono 24 kHz.
 * Rates other than 24 kHz go through the Speex resampler (WASM), loaded on first need.
 *
 * @module
 */
import type { ResamplerFactory, StreamResampler } from "../audio/resampler.ts";
import { AudioFormatError, ConfigurationError } from "./errors.ts";

/** The model's audio rate: PCM16 mono at 24 kHz on the wire. */
export const MODEL_SAMPLE_RATE = 24000;

/** Sample encodings an app can use: signed 16-bit little-endian, or 32-bit float in [-1, 1]. */
export type SampleFormat = "pcm16" | "float32";

/** The app's audio format, for both directions. */
export interface AudioSettings {
  /** Samples per second per channel, 8000–96000. Default 24000 (no resampling). */
  readonly sampleRate: number;
  /** 1 (mono) or 2 (interleaved stereo: mixed down on input, duplicated on output). */
  readonly channels: 1 | 2;
  /** Sample encoding. Default `"pcm16"`. */
  readonly format: SampleFormat;
}

/** The default format: the model's own, so nothing is converted. */
export const DEFAULT_AUDIO: AudioSettings = Object.freeze({
  sampleRate: MODEL_SAMPLE_RATE,
  channels: 1,
  format: "pcm16",
});

/** Checks (partial) audio settings and fills in the defaults from `base`. */
export function audioSettings(
  input: Partial<AudioSettings>,
  base: AudioSettings = DEFAULT_AUDIO,
): AudioSettings {
  const sampleRate = input.sampleRate ?? base.sampleRate;
  const channels = input.channels ?? base.channels;
  const format = input.format ?? base.format;
  if (!Number.isInteger(sampleRate) || sampleRate < 8000 || sampleRate > 96000) {
    throw new ConfigurationError(
      `Cannot use sampleRate ${sampleRate}: expected a whole number of Hz from 8000 to 96000`,
    );
  }
  if (channels !== 1 && channels !== 2) {
    throw new ConfigurationError(`Cannot use channels ${channels}: expected 1 or 2`);
  }
  if (format !== "pcm16" && format !== "float32") {
    throw new AudioFormatError(
      `Cannot use audio format ${JSON.stringify(format)}: expected "pcm16" or "float32"`,
    );
  }
  return Object.freeze({ sampleRate, channels, format });
}

/** Bytes of one frame (one sample per channel). */
export function frameBytes(settings: AudioSettings): number {
  return settings.channels * (settings.format === "pcm16" ? 2 : 4);
}

/** Milliseconds of audio in `bytes` bytes of the app's format. */
export function durationOf(bytes: number, settings: AudioSettings): number {
  return (bytes / frameBytes(settings) / settings.sampleRate) * 1000;
}

/** The bytes of any binary audio value, without copying. */
export function asBytes(audio: ArrayBuffer | ArrayBufferView): Uint8Array<ArrayBuffer> {
  if (audio instanceof ArrayBuffer) return new Uint8Array(audio);
  if (ArrayBuffer.isView(audio) && audio.buffer instanceof ArrayBuffer) {
    return new Uint8Array(audio.buffer, audio.byteOffset, audio.byteLength);
  }
  throw new AudioFormatError(
    "Cannot send audio: expected a Uint8Array, another typed array or an ArrayBuffer",
  );
}

/**
 * Converts app audio to mono PCM16 at the app's rate. Checks that the bytes are whole frames.
 * Returns a view without copying when the audio already is mono PCM16 at an even offset.
 */
export function toMonoPcm16(
  bytes: Uint8Array<ArrayBuffer>,
  settings: AudioSettings,
): Int16Array<ArrayBuffer> {
  const frame = frameBytes(settings);
  if (bytes.byteLength % frame !== 0) {
    throw new AudioFormatError(
      `Cannot send audio: ${bytes.byteLength} bytes is not a whole number of ${settings.channels}-channel ${settings.format} frames (${frame} bytes each)`,
    );
  }
  const width = settings.format === "pcm16" ? 2 : 4;
  // Typed-array views need aligned offsets: copy the rare unaligned input once.
  const aligned = bytes.byteOffset % width === 0 ? bytes : bytes.slice();
  const frames = aligned.byteLength / frame;
  if (settings.format === "pcm16") {
    const samples = new Int16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2);
    if (settings.channels === 1) return samples;
    const mono = new Int16Array(frames);
    for (let i = 0; i < frames; i++) mono[i] = (samples[2 * i]! + samples[2 * i + 1]!) >> 1;
    return mono;
  }
  const floats = new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
  const mono = new Int16Array(frames);
  const step = settings.channels;
  for (let i = 0; i < frames; i++) {
    let value = floats[i * step]!;
    if (step === 2) value = (value + floats[i * step + 1]!) / 2;
    mono[i] = toInt16(value);
  }
  return mono;
}

/** Converts mono PCM16 at the app's rate to the app's format (always a new array). */
export function fromMonoPcm16(
  samples: Int16Array<ArrayBuffer>,
  settings: AudioSettings,
): Uint8Array<ArrayBuffer> {
  const step = settings.channels;
  if (settings.format === "pcm16") {
    const out = new Int16Array(samples.length * step);
    if (step === 1) out.set(samples);
    else {for (let i = 0; i < samples.length; i++) {
        out[2 * i] = samples[i]!;
        out[2 * i + 1] = samples[i]!;
      }}
    return new Uint8Array(out.buffer);
  }
  const out = new Float32Array(samples.length * step);
  for (let i = 0; i < samples.length; i++) {
    const value = samples[i]! / 32768;
    for (let c = 0; c < step; c++) out[i * step + c] = value;
  }
  return new Uint8Array(out.buffer);
}

function toInt16(value: number): number {
  const clamped = value > 1 ? 1 : value < -1 ? -1 : value || 0;
  return Math.round(clamped * 32767);
}

/** A resampling stream (see {@linkcode StreamResampler}). */
export type Resampler = Pick<
  StreamResampler,
  "inRate" | "outRate" | "process" | "flush" | "reset" | "close"
>;

/** Makes resamplers once loaded. */
export interface ResamplerSource {
  /** A new stream from `inRate` to `outRate` Hz. */
  create(inRate: number, outRate: number): Resampler;
}

let factory: Promise<ResamplerFactory> | undefined;

/**
 * Loads the Speex resampler (WASM) on first call; later calls share it. Apps at 24 kHz never
 * load it.
 */
export async function loadResamplers(): Promise<ResamplerSource> {
  factory ??= import("../audio/resampler.ts").then((m) => m.ResamplerFactory.load());
  try {
    return await factory;
  } catch (error) {
    factory = undefined;
    throw new ConfigurationError(
      `Cannot resample audio: the Speex resampler did not load (${error})`,
    );
  }
}
