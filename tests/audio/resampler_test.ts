import assert from "node:assert/strict";
import { ResamplerFactory } from "../../src/audio/resampler.ts";
import { rms, sine, snrDb } from "./tone.ts";

Deno.test("StreamResampler 16 kHz → 24 kHz keeps a 1 kHz tone clean (SNR > 50 dB)", async () => {
  const factory = await ResamplerFactory.load();
  using up = factory.create(16000, 24000);
  const input = sine(1000, 16000, 16000);
  const out: number[] = [];
  for (let i = 0; i < input.length; i += 320) out.push(...up.process(input.subarray(i, i + 320)));
  const y = Int16Array.from(out);
  // The filter holds back its delay (a few ms) until more input arrives.
  assert.ok(Math.abs(y.length - 24000) <= 96, `length ${y.length}`);
  const snr = snrDb(y, 1000, 24000, 1000);
  assert.ok(snr > 50, `SNR ${snr.toFixed(1)} dB`);
});

Deno.test("StreamResampler 24 kHz → 8 kHz rejects a 10 kHz tone above the new Nyquist (> 40 dB)", async () => {
  const factory = await ResamplerFactory.load();
  using down = factory.create(24000, 8000);
  const input = sine(10000, 24000, 24000);
  const out: number[] = [];
  for (let i = 0; i < input.length; i += 480) out.push(...down.process(input.subarray(i, i + 480)));
  const rejection = 20 * Math.log10(rms(input) / Math.max(rms(Int16Array.from(out), 400), 1e-9));
  assert.ok(rejection > 40, `alias rejection ${rejection.toFixed(1)} dB`);
});

Deno.test("StreamResampler gives the same output chunked as in one piece", async () => {
  const factory = await ResamplerFactory.load();
  using whole = factory.create(8000, 24000);
  using chunked = factory.create(8000, 24000);
  const input = sine(440, 8000, 8000);
  const a = Int16Array.from(whole.process(input));
  const parts: number[] = [];
  for (let i = 0; i < input.length; i += 160) {
    parts.push(...chunked.process(input.subarray(i, i + 160)));
  }
  assert.deepEqual(Int16Array.from(parts).subarray(0, a.length - 64), a.subarray(0, a.length - 64));
});

Deno.test("StreamResampler.process() refuses to run after close()", async () => {
  const factory = await ResamplerFactory.load();
  const r = factory.create(16000, 24000);
  r.close();
  assert.throws(() => r.process(new Int16Array(10)), TypeError);
});
