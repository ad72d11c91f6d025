/** Caller and bot audio in the `raw/*` formats: PCM16 to format bytes and back (§4.1). */
import type { AudioCodesFormat } from "../../protocol/media_format.ts";
import { formatPlan } from "../../protocol/media_format.ts";
import { decodeG711, encodeG711, g711Silence } from "../../audio/g711.ts";
import { bytesOf, samplesOf, toBase64 } from "../../audio/pcm.ts";
import { ResamplerFactory } from "../../audio/resampler.ts";
import type { PcmAudio } from "../../audio/wav.ts";

/** Converts PCM16 audio to the bytes of a `raw/*` format, resampling when the rates differ. */
export async function encodeForFormat(
  audio: PcmAudio,
  format: AudioCodesFormat,
  options: { resamplers?: ResamplerFactory } = {},
): Promise<Uint8Array<ArrayBuffer>> {
  const plan = formatPlan(format);
  const pcm = await resample(audio, plan.sampleRate, options.resamplers);
  if (plan.codec === "pcm16") return new Uint8Array(bytesOf(pcm.samples));
  return encodeG711(plan.codec, pcm.samples);
}

/** One frame of silence in a `raw/*` format. */
export function silenceFrame(format: AudioCodesFormat, frameMs: number): Uint8Array<ArrayBuffer> {
  const plan = formatPlan(format);
  return new Uint8Array(plan.bytesPerMs * frameMs).fill(
    plan.codec === "pcm16" ? 0 : g711Silence(plan.codec),
  );
}

/**
 * Cuts audio bytes into `userStream.chunk` frames of `frameMs`, base64 encoded; the last is
 * padded with silence: VAIC frames are whole 20 ms (§4.4).
 */
export function base64Frames(
  bytes: Uint8Array,
  format: AudioCodesFormat,
  frameMs: number,
): string[] {
  const silence = silenceFrame(format, frameMs);
  const frameBytes = silence.byteLength;
  const frames: string[] = [];
  for (let offset = 0; offset < bytes.byteLength; offset += frameBytes) {
    const part = bytes.subarray(offset, offset + frameBytes);
    if (part.byteLength === frameBytes) {
      frames.push(toBase64(part));
    } else {
      const last = silence.slice();
      last.set(part);
      frames.push(toBase64(last));
    }
  }
  return frames;
}

/** Decodes the bytes of a `raw/*` format to PCM16 at the format's rate (a trailing odd byte of
 * PCM16 is dropped). */
export function decodeFromFormat(bytes: Uint8Array, format: AudioCodesFormat): PcmAudio {
  const plan = formatPlan(format);
  if (plan.codec !== "pcm16") {
    return { sampleRate: plan.sampleRate, samples: decodeG711(plan.codec, bytes) };
  }
  const even = new Uint8Array(bytes.byteLength & ~1);
  even.set(bytes.subarray(0, even.byteLength));
  return { sampleRate: plan.sampleRate, samples: samplesOf(even) };
}

/** Resamples to `rate`; the output has exactly `round(n * rate / inRate)` samples. */
export async function resample(
  audio: PcmAudio,
  rate: number,
  resamplers: ResamplerFactory | undefined,
): Promise<PcmAudio> {
  if (audio.sampleRate === rate) return audio;
  const factory = resamplers ?? await ResamplerFactory.load();
  using stream = factory.create(audio.sampleRate, rate);
  const length = Math.round(audio.samples.length * rate / audio.sampleRate);
  const out = new Int16Array(length);
  let filled = 0;
  const take = (part: Int16Array) => {
    const n = Math.min(part.length, length - filled);
    out.set(part.subarray(0, n), filled);
    filled += n;
  };
  take(stream.process(audio.samples));
  // Flush the filter's delay line with zeros so the end of the signal comes out too.
  if (filled < length) take(stream.process(new Int16Array(Math.ceil(audio.sampleRate / 50))));
  return { sampleRate: rate, samples: out };
}
