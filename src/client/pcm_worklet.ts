/**
 * The microphone AudioWorklet processor (`pcm-capture`): converts the capture to PCM16 mono
 * 24 kHz and posts it in 40 ms chunks with the chunk's RMS level. When the AudioContext could
 * not be opened at 24 kHz it resamples (linear interpolation is enough for a speech capture
 * fallback; Chromium captures at 24 kHz directly).
 *
 * {@linkcode installPcmCapture} runs inside the AudioWorkletGlobalScope; it refers to nothing
 * outside itself, so its source text is a worklet module too ({@linkcode pcmCaptureSource}).
 *
 * @module
 */

/** What the processor posts to the page. */
export interface CaptureChunk {
  /** PCM16 little-endian mono 24 kHz. */
  readonly pcm: ArrayBuffer;
  /** RMS level of the chunk, 0..1. */
  readonly level: number;
}

/** The AudioWorkletGlobalScope, which Deno's and TypeScript's libraries do not describe. */
interface WorkletScope {
  readonly sampleRate: number;
  registerProcessor(name: string, processor: unknown): void;
  AudioWorkletProcessor: new () => { readonly port: MessagePort };
}

/** Registers the `pcm-capture` processor; call it in an AudioWorklet module. */
export function installPcmCapture(): void {
  // Everything is inside: the function's source text must run on its own in a worklet.
  const scope = globalThis as unknown as WorkletScope;
  const TARGET_RATE = 24000;
  const CHUNK = 960; // 40 ms at 24 kHz
  class PcmCaptureProcessor extends scope.AudioWorkletProcessor {
    #buffer = new Int16Array(CHUNK);
    #filled = 0;
    #sumSquares = 0;
    readonly #step = scope.sampleRate / TARGET_RATE;
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
  scope.registerProcessor("pcm-capture", PcmCaptureProcessor);
}

/** The processor as the source text of a worklet module (for a `blob:` URL). */
export function pcmCaptureSource(): string {
  return `(${installPcmCapture.toString()})();\n`;
}
