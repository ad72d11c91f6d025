/**
 * The microphone AudioWorklet processor of the browser voice page: converts the capture to
 * PCM16 mono 24 kHz and posts it in ~40 ms chunks, with the chunk's RMS level for the meter.
 *
 * Bundled on its own to `dist/pcm-worklet.js` and loaded with `audioWorklet.addModule`. When
 * the AudioContext could not be opened at 24 kHz it resamples (linear interpolation is enough
 * for a speech capture fallback; Chromium captures at 24 kHz directly).
 */

// The AudioWorkletGlobalScope, which the TypeScript DOM library does not describe.
declare const sampleRate: number;
declare function registerProcessor(name: string, processor: unknown): void;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
}

/** The rate the gateway speaks: PCM16 mono 24 kHz. */
const TARGET_RATE = 24000;
/** Samples per posted chunk (40 ms at 24 kHz). */
const CHUNK = 960;

/** What the processor posts to the page. */
export interface CaptureChunk {
  /** PCM16 little-endian mono 24 kHz. */
  readonly pcm: ArrayBuffer;
  /** RMS level of the chunk, 0..1. */
  readonly level: number;
}

class PcmCaptureProcessor extends AudioWorkletProcessor {
  #buffer = new Int16Array(CHUNK);
  #filled = 0;
  #sumSquares = 0;
  readonly #step = sampleRate / TARGET_RATE;
  #position = 0;

  process(inputs: Float32Array[][]): boolean {
    const channel = inputs[0]?.[0];
    if (!channel) return true;
    if (this.#step === 1) {
      for (let i = 0; i < channel.length; i++) this.#push(channel[i]!);
      return true;
    }
    // A fractional read position carried across render quanta.
    let pos = this.#position;
    while (pos < channel.length) {
      const i = Math.floor(pos);
      const a = channel[i]!;
      const b = i + 1 < channel.length ? channel[i + 1]! : a;
      this.#push(a + (b - a) * (pos - i));
      pos += this.#step;
    }
    this.#position = pos - channel.length;
    return true;
  }

  #push(sample: number): void {
    const clamped = Math.max(-1, Math.min(1, sample));
    this.#sumSquares += clamped * clamped;
    this.#buffer[this.#filled++] = clamped < 0 ? clamped * 0x8000 : clamped * 0x7fff;
    if (this.#filled < CHUNK) return;
    const chunk: CaptureChunk = {
      pcm: this.#buffer.buffer,
      level: Math.sqrt(this.#sumSquares / CHUNK),
    };
    this.port.postMessage(chunk, [chunk.pcm]);
    this.#buffer = new Int16Array(CHUNK);
    this.#filled = 0;
    this.#sumSquares = 0;
  }
}

registerProcessor("pcm-capture", PcmCaptureProcessor);
