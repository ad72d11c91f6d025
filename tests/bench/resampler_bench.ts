/**
 * Resampler speed (deno bench) plus its quality figures, printed once: SNR of a 1 kHz tone
 * through 16 kHz → 24 kHz, and rejection of a 10 kHz tone through 24 kHz → 8 kHz.
 *
 * Run: deno task bench:micro
 */
import { ResamplerFactory } from "../../src/audio/resampler.ts";
import { rms, sine, snrDb } from "../audio/tone.ts";

const factory = await ResamplerFactory.load();

function stream(inRate: number, outRate: number, input: Int16Array, frame: number): Int16Array {
  using r = factory.create(inRate, outRate);
  const out: number[] = [];
  for (let i = 0; i < input.length; i += frame) {
    out.push(...r.process(input.subarray(i, i + frame)));
  }
  return Int16Array.from(out);
}

const snr = snrDb(stream(16000, 24000, sine(1000, 16000, 16000), 320), 1000, 24000, 1000);
const aliasIn = sine(10000, 24000, 24000);
// A residual of 0 means below one 16-bit step: report the quantisation floor instead of ∞.
const residual = Math.max(rms(stream(24000, 8000, aliasIn, 480), 400), 1 / Math.sqrt(12));
const rejection = 20 * Math.log10(rms(aliasIn) / residual);
console.log(
  `speex quality 6: SNR 1 kHz 16k→24k = ${snr.toFixed(1)} dB; 10 kHz alias rejection 24k→8k = ${
    rejection.toFixed(1)
  } dB`,
);

const up16 = factory.create(16000, 24000);
const down16 = factory.create(24000, 16000);
const up8 = factory.create(8000, 24000);
const frame16 = sine(440, 16000, 320);
const frame24 = sine(440, 24000, 480);
const frame8 = sine(440, 8000, 160);

Deno.bench("resample one 20 ms frame 16 kHz → 24 kHz", () => void up16.process(frame16));
Deno.bench("resample one 20 ms frame 24 kHz → 16 kHz", () => void down16.process(frame24));
Deno.bench("resample one 20 ms frame 8 kHz → 24 kHz", () => void up8.process(frame8));
