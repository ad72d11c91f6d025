/**
 * Audio conversion for calls whose VAIC format does not meet an upstream format
 * (`raw/lpcm16` at 16 kHz, `raw/lpcm16_8`): decode into buffers owned by the call, resample
 * with a stateful stream per direction, encode. Same-format calls never come here.
 */
import type { ResamplerFactory, StreamResampler } from "../audio/resampler.ts";
import { bytesOf, samplesOf } from "../audio/pcm.ts";

/** A growable byte buffer owned by one call, reused for every frame. */
class Scratch {
  #bytes = new Uint8Array(4096);

  /** Decodes base64 into the buffer (growing it if needed); returns a view of the bytes. */
  decode(base64: string): Uint8Array<ArrayBuffer> {
    const need = Math.ceil((base64.length * 3) / 4);
    if (this.#bytes.length < need) this.#bytes = new Uint8Array(need * 2);
    const { written } = this.#bytes.setFromBase64(base64);
    return this.#bytes.subarray(0, written - (written % 2));
  }
}

/** Converts one call's audio between its PCM16 rate and the upstream's 24 kHz. */
export class Transcoder implements Disposable {
  readonly #in: StreamResampler;
  readonly #out: StreamResampler;
  readonly #inScratch = new Scratch();
  readonly #outScratch = new Scratch();

  constructor(resamplers: ResamplerFactory, callRate: number, upstreamRate = 24000) {
    this.#in = resamplers.create(callRate, upstreamRate);
    this.#out = resamplers.create(upstreamRate, callRate);
  }

  /** Caller audio (base64 PCM16 at the call rate) → base64 PCM16 at the upstream rate. */
  toUpstream(base64: string): string {
    const samples = samplesOf(this.#inScratch.decode(base64));
    return bytesOf(this.#in.process(samples)).toBase64();
  }

  /** Model audio (base64 PCM16 at the upstream rate) → PCM16 samples at the call rate. */
  fromUpstream(base64: string): Int16Array<ArrayBuffer> {
    const samples = samplesOf(this.#outScratch.decode(base64));
    return this.#out.process(samples);
  }

  close(): void {
    this.#in.close();
    this.#out.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
