/** Renders a reply's sound (chime, babble, echo) into bytes of the response's output format. */
import type { ResamplerFactory } from "../audio/resampler.ts";
import type { AudioFormat } from "./audio_format.ts";
import {
  bytesPerMs,
  bytesPerSample,
  convertClip,
  encodeSamples,
  sampleRateOf,
} from "./audio_format.ts";
import type { Sound } from "./replies.ts";
import { babble, chime } from "./synth.ts";

/** The bytes of `sound` in `format`. `seed` varies the babble's vowels between responses. */
export function renderSound(
  sound: Sound,
  format: AudioFormat,
  options: { resamplers: ResamplerFactory; seed: number },
): Uint8Array<ArrayBuffer> {
  const rate = sampleRateOf(format);
  switch (sound.type) {
    case "chime":
      return encodeSamples(format, chime(rate));
    case "babble":
      return encodeSamples(format, babble(sound.ms, rate, { seed: options.seed }));
    case "echo": {
      const audio = sound.audio;
      if (!audio?.bytes) {
        // The clip's bytes were dropped to save memory: answer with babble of the same length.
        return encodeSamples(
          format,
          babble(sound.toMs - sound.fromMs, rate, { seed: options.seed }),
        );
      }
      const bpm = bytesPerMs(audio.format);
      const sample = bytesPerSample(audio.format);
      const at = (ms: number) => {
        const offset = Math.min(audio.bytes!.byteLength, Math.max(0, Math.round(ms * bpm)));
        return offset - (offset % sample);
      };
      const clip = audio.bytes.subarray(at(sound.fromMs), at(sound.toMs));
      return convertClip(clip, audio.format, format, options.resamplers);
    }
    default:
      return sound satisfies never;
  }
}
