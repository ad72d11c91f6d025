import assert from "node:assert/strict";
import wavefile from "wavefile";
import { encodeWav, readWav } from "../../src/audio/wav.ts";

const fixture = (name: string): Uint8Array =>
  Deno.readFileSync(new URL(`../fixtures/speech/${name}`, import.meta.url));

/** A WAV built by the library itself, for formats our writer does not produce. */
function wavOf(
  channels: number,
  sampleRate: number,
  depth: string,
  samples: ArrayLike<number> | ArrayLike<number>[],
): Uint8Array {
  const wav = new wavefile.WaveFile();
  wav.fromScratch(channels, sampleRate, depth, samples);
  return wav.toBuffer();
}

Deno.test("encodeWav() and readWav() round-trip PCM16 mono", async (t) => {
  const cases = [
    { rate: 8000, samples: new Int16Array([0, 1, -1, 32767, -32768, 1234]) },
    { rate: 16000, samples: Int16Array.from({ length: 320 }, (_, i) => (i * 97) % 30000 - 15000) },
    { rate: 24000, samples: new Int16Array(0) },
  ];
  for (const { rate, samples } of cases) {
    await t.step(`${rate} Hz, ${samples.length} samples`, () => {
      const bytes = encodeWav(samples, rate);
      assert.equal(bytes.byteLength, 44 + samples.length * 2);
      assert.equal(new TextDecoder().decode(bytes.subarray(0, 4)), "RIFF");
      const audio = readWav(bytes);
      assert.equal(audio.sampleRate, rate);
      assert.deepEqual(Array.from(audio.samples), Array.from(samples));
    });
  }
});

Deno.test("readWav() converts other depths and downmixes to mono", async (t) => {
  const cases: {
    name: string;
    bytes: Uint8Array;
    rate: number;
    expected: number[];
  }[] = [
    {
      name: "8-bit unsigned",
      bytes: wavOf(1, 8000, "8", [128, 255, 0, 192]),
      rate: 8000,
      expected: [0, 32512, -32768, 16384],
    },
    {
      name: "24-bit",
      bytes: wavOf(1, 48000, "24", [0, 8388607, -8388608, 256 * 1000]),
      rate: 48000,
      expected: [0, 32767, -32768, 1000],
    },
    {
      name: "32-bit float",
      bytes: wavOf(1, 22050, "32f", [0, 0.5, -1, 2]),
      rate: 22050,
      expected: [0, 16384, -32768, 32767],
    },
    {
      name: "16-bit stereo",
      bytes: wavOf(2, 44100, "16", [[1000, -2000, 32767], [3000, 2000, 32767]]),
      rate: 44100,
      expected: [2000, 0, 32767],
    },
    {
      name: "24-bit stereo",
      bytes: wavOf(2, 16000, "24", [[256 * 100, 0], [256 * 300, -256 * 50]]),
      rate: 16000,
      expected: [200, -25],
    },
    {
      name: "µ-law",
      bytes: wavOf(1, 8000, "8m", [0xff, 0x7f, 0x00]),
      rate: 8000,
      expected: [0, 0, -32124],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const audio = readWav(c.bytes);
      assert.equal(audio.sampleRate, c.rate);
      assert.deepEqual(Array.from(audio.samples), c.expected);
    });
  }
});

Deno.test("readWav() reads the speech fixtures", async (t) => {
  const cases = [
    { name: "hello_16k.wav", rate: 16000, minMs: 2500, maxMs: 4500 },
    { name: "question_8k.wav", rate: 8000, minMs: 2000, maxMs: 4500 },
    { name: "long_24k.wav", rate: 24000, minMs: 6000, maxMs: 8500 },
    { name: "short_24k.wav", rate: 24000, minMs: 700, maxMs: 1600 },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const bytes = fixture(c.name);
      assert.ok(bytes.byteLength < 400_000, `${c.name} is ${bytes.byteLength} bytes`);
      const audio = readWav(bytes);
      assert.equal(audio.sampleRate, c.rate);
      const ms = audio.samples.length * 1000 / audio.sampleRate;
      assert.ok(ms >= c.minMs && ms <= c.maxMs, `${c.name} lasts ${ms} ms`);
      // Real speech: loud somewhere, not clipped flat.
      let peak = 0;
      for (const s of audio.samples) peak = Math.max(peak, Math.abs(s));
      assert.ok(peak > 10000, `${c.name} peaks at ${peak}`);
    });
  }
});

Deno.test("readWav() rejects what is not a WAV file", () => {
  assert.throws(
    () => readWav(new TextEncoder().encode("definitely not a wave file")),
    (error: unknown) => error instanceof TypeError && /^Cannot read WAV: /.test(error.message),
  );
});

Deno.test("encodeWav() rejects a bad sample rate", () => {
  assert.throws(() => encodeWav(new Int16Array(4), 0), RangeError);
  assert.throws(() => encodeWav(new Int16Array(4), 8000.5), RangeError);
});
