/**
 * WAV (RIFF/RIFX/RF64) files via the `wavefile` library: read any common WAV as mono PCM16, and
 * write mono PCM16 WAV.
 */
import wavefile from "wavefile";
import { z } from "zod";

/** Mono PCM16 audio at a sample rate. */
export interface PcmAudio {
  /** Samples per second. */
  readonly sampleRate: number;
  /** Signed 16-bit samples, one channel. */
  readonly samples: Int16Array<ArrayBuffer>;
}

// `wavefile` types its chunks as plain `object`; read the fields we need through a schema.
const FmtChunk = z.object({
  numChannels: z.number().int().min(1),
  sampleRate: z.number().int().positive(),
});

const INTEGER_DEPTH = /^(?:[89]|[12][0-9]|3[0-2])$/;

/**
 * Reads a WAV file: integer PCM of 8 to 32 bits, 32/64-bit float, µ-law, A-law or IMA ADPCM, any
 * rate, any number of channels (averaged to mono). Throws a `TypeError` for unreadable input.
 */
export function readWav(bytes: Uint8Array): PcmAudio {
  let wav: wavefile.WaveFile;
  try {
    wav = new wavefile.WaveFile(bytes);
  } catch (cause) {
    throw new TypeError(`Cannot read WAV: ${errorMessage(cause)}`, { cause });
  }
  const fmt = FmtChunk.safeParse(wav.fmt);
  if (!fmt.success) {
    throw new TypeError(`Cannot read WAV: bad fmt chunk: ${fmt.error.issues[0]?.message}`);
  }
  const { numChannels, sampleRate } = fmt.data;
  let depth = wav.bitDepth;
  try {
    // Companded and ADPCM data are decoded to 16-bit PCM by the library first.
    if (depth === "8m") wav.fromMuLaw();
    else if (depth === "8a") wav.fromALaw();
    else if (depth === "4") wav.fromIMAADPCM();
  } catch (cause) {
    throw new TypeError(`Cannot read WAV: ${errorMessage(cause)}`, { cause });
  }
  depth = wav.bitDepth;
  const toPcm16 = sampleScaler(depth);
  const interleaved = wav.getSamples(true, Float64Array);
  const frames = Math.floor(interleaved.length / numChannels);
  const samples = new Int16Array(frames);
  for (let i = 0, k = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < numChannels; c++) sum += toPcm16(interleaved[k++]!);
    samples[i] = clamp16(sum / numChannels);
  }
  return { sampleRate, samples };
}

/** Encodes mono PCM16 samples as a WAV file. */
export function encodeWav(samples: Int16Array, sampleRate: number): Uint8Array<ArrayBuffer> {
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) {
    throw new RangeError(`Cannot encode WAV: bad sample rate ${sampleRate}`);
  }
  const wav = new wavefile.WaveFile();
  wav.fromScratch(1, sampleRate, "16", samples);
  return new Uint8Array(wav.toBuffer());
}

/** Returns a function mapping one sample of `depth` (a wavefile bit-depth code) to PCM16 scale. */
function sampleScaler(depth: string): (value: number) => number {
  if (depth === "16") return (v) => v;
  if (depth === "8") return (v) => (v - 128) * 256; // 8-bit WAV is unsigned
  if (depth === "32f" || depth === "64") return (v) => v * 32768;
  if (INTEGER_DEPTH.test(depth)) {
    const scale = 2 ** (16 - Number(depth));
    return (v) => v * scale;
  }
  throw new RangeError(`Cannot read WAV: unsupported bit depth "${depth}"`);
}

function clamp16(value: number): number {
  const rounded = Math.round(value);
  return rounded > 32767 ? 32767 : rounded < -32768 ? -32768 : rounded;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
