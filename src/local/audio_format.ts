/**
 * The three GA audio formats (§2.2 of the protocol reference) and conversions between them:
 * G.711 via `src/audio/g711.ts`, rate changes via the Speex resampler.
 */
import { decodeG711, encodeG711 } from "../audio/g711.ts";
import { bytesOf } from "../audio/pcm.ts";
import type { ResamplerFactory } from "../audio/resampler.ts";

/** A GA audio format object as it appears on the wire. */
export type AudioFormat =
  | { readonly type: "audio/pcm"; readonly rate: 24000 }
  | { readonly type: "audio/pcmu" }
  | { readonly type: "audio/pcma" };

/** The default format: PCM16 at 24 kHz. */
export const PCM24: AudioFormat = { type: "audio/pcm", rate: 24000 };

/** Sample rate of a format in Hz. */
export function sampleRateOf(format: AudioFormat): number {
  return format.type === "audio/pcm" ? format.rate : 8000;
}

/** Bytes per sample: 2 for PCM16, 1 for G.711. */
export function bytesPerSample(format: AudioFormat): number {
  return format.type === "audio/pcm" ? 2 : 1;
}

/** Bytes per millisecond of audio (48 for PCM 24 kHz, 8 for G.711). */
export function bytesPerMs(format: AudioFormat): number {
  return (sampleRateOf(format) * bytesPerSample(format)) / 1000;
}

/** Whether two formats are the same encoding and rate. */
export function sameFormat(a: AudioFormat, b: AudioFormat): boolean {
  return a.type === b.type;
}

/** Decodes audio bytes to PCM16 samples at the format's own rate (always a fresh array). */
export function decodeToSamples(format: AudioFormat, bytes: Uint8Array): Int16Array<ArrayBuffer> {
  switch (format.type) {
    case "audio/pcm": {
      const samples = new Int16Array(bytes.byteLength >> 1);
      bytesOf(samples).set(bytes.subarray(0, samples.length * 2));
      return samples;
    }
    case "audio/pcmu":
      return decodeG711("mulaw", bytes);
    case "audio/pcma":
      return decodeG711("alaw", bytes);
    default:
      return format satisfies never;
  }
}

/** Encodes PCM16 samples (at the format's rate) into the format's bytes. */
export function encodeSamples(format: AudioFormat, samples: Int16Array): Uint8Array<ArrayBuffer> {
  switch (format.type) {
    case "audio/pcm": {
      const out = new Uint8Array(samples.length * 2);
      out.set(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength));
      return out;
    }
    case "audio/pcmu":
      return encodeG711("mulaw", samples);
    case "audio/pcma":
      return encodeG711("alaw", samples);
    default:
      return format satisfies never;
  }
}

/** Resamples a whole clip with a one-shot Speex stream (returns a fresh array). */
export function resampleClip(
  samples: Int16Array,
  fromRate: number,
  toRate: number,
  factory: ResamplerFactory,
): Int16Array<ArrayBuffer> {
  if (fromRate === toRate) return Int16Array.from(samples);
  using stream = factory.create(fromRate, toRate);
  return Int16Array.from(stream.process(samples));
}

/** Converts a clip from one format to another (copies when they are the same). */
export function convertClip(
  bytes: Uint8Array,
  from: AudioFormat,
  to: AudioFormat,
  factory: ResamplerFactory,
): Uint8Array<ArrayBuffer> {
  if (sameFormat(from, to)) return Uint8Array.from(bytes);
  const samples = decodeToSamples(from, bytes);
  return encodeSamples(to, resampleClip(samples, sampleRateOf(from), sampleRateOf(to), factory));
}
