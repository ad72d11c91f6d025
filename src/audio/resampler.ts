/**
 * Stateful streaming resampling of PCM16 mono with the Speex resampler (WASM build of
 * speexdsp, windowed-sinc, the resampler WebRTC uses). One WASM module serves every stream;
 * each stream holds only its filter state (about 20 KiB), so calls stay cheap.
 */
import loadSpeex from "speex-resampler";

interface SpeexModule {
  HEAP16: Int16Array<ArrayBuffer>;
  HEAPU32: Uint32Array<ArrayBuffer>;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  _speex_resampler_init(
    channels: number,
    inRate: number,
    outRate: number,
    quality: number,
    errPtr: number,
  ): number;
  _speex_resampler_process_int(
    state: number,
    channel: number,
    inPtr: number,
    inLenPtr: number,
    outPtr: number,
    outLenPtr: number,
  ): number;
  _speex_resampler_get_input_latency(state: number): number;
  _speex_resampler_skip_zeros(state: number): number;
  _speex_resampler_reset_mem(state: number): number;
  _speex_resampler_destroy(state: number): void;
}

/** Default Speex quality (0–10). 6 keeps alias rejection high at a few µs per 20 ms frame. */
export const DEFAULT_QUALITY = 6;

/** Largest number of input samples processed per WASM call; larger inputs are looped. */
const BLOCK = 4096;

/** Creates resamplers; holds the shared WASM module. */
export class ResamplerFactory {
  readonly #module: SpeexModule;

  private constructor(module: SpeexModule) {
    this.#module = module;
  }

  /** Loads the WASM module (once per process is enough). */
  static async load(): Promise<ResamplerFactory> {
    return new ResamplerFactory(await loadSpeex() as unknown as SpeexModule);
  }

  /** A new stream from `inRate` to `outRate` Hz. */
  create(inRate: number, outRate: number, quality = DEFAULT_QUALITY): StreamResampler {
    return new StreamResampler(this.#module, { inRate, outRate, quality });
  }
}

/** One stateful resampling stream; feed it consecutive chunks of the same signal. */
export class StreamResampler implements Disposable {
  readonly inRate: number;
  readonly outRate: number;
  readonly #m: SpeexModule;
  #state: number;
  readonly #inPtr: number;
  readonly #outPtr: number;
  readonly #lenPtr: number;
  readonly #outCapacity: number;
  #out: Int16Array<ArrayBuffer>;

  constructor(module: SpeexModule, options: { inRate: number; outRate: number; quality: number }) {
    const { inRate, outRate, quality } = options;
    if (!Number.isInteger(inRate) || !Number.isInteger(outRate) || inRate <= 0 || outRate <= 0) {
      throw new RangeError(`Cannot resample: bad rates ${inRate} -> ${outRate}`);
    }
    this.inRate = inRate;
    this.outRate = outRate;
    this.#m = module;
    this.#lenPtr = module._malloc(8);
    this.#state = module._speex_resampler_init(1, inRate, outRate, quality, this.#lenPtr);
    if (this.#state === 0) throw new RangeError(`Cannot resample ${inRate} -> ${outRate}`);
    // Drop the filter's leading zeros so output lines up with input from the first sample.
    module._speex_resampler_skip_zeros(this.#state);
    this.#outCapacity = Math.ceil((BLOCK * outRate) / inRate) + 64;
    this.#inPtr = module._malloc(BLOCK * 2);
    this.#outPtr = module._malloc(this.#outCapacity * 2);
    this.#out = new Int16Array(1024);
  }

  /**
   * Resamples one chunk. Returns a view of an internal buffer that the next call overwrites:
   * use it (encode, send) before calling again.
   */
  process(input: Int16Array): Int16Array<ArrayBuffer> {
    if (this.#state === 0) throw new TypeError("Cannot resample: the resampler is closed");
    const m = this.#m;
    const expected = Math.ceil((input.length * this.outRate) / this.inRate) + 64;
    if (this.#out.length < expected) this.#out = new Int16Array(expected * 2);
    let produced = 0;
    for (let offset = 0; offset < input.length; offset += BLOCK) {
      const block = input.subarray(offset, Math.min(offset + BLOCK, input.length));
      // HEAP views are re-read on every call: they are replaced when WASM memory grows.
      m.HEAP16.set(block, this.#inPtr >> 1);
      let consumed = 0;
      while (consumed < block.length) {
        m.HEAPU32[this.#lenPtr >> 2] = block.length - consumed;
        m.HEAPU32[(this.#lenPtr >> 2) + 1] = this.#outCapacity;
        m._speex_resampler_process_int(
          this.#state,
          0,
          this.#inPtr + consumed * 2,
          this.#lenPtr,
          this.#outPtr,
          this.#lenPtr + 4,
        );
        const used = m.HEAPU32[this.#lenPtr >> 2]!;
        const made = m.HEAPU32[(this.#lenPtr >> 2) + 1]!;
        this.#out.set(m.HEAP16.subarray(this.#outPtr >> 1, (this.#outPtr >> 1) + made), produced);
        produced += made;
        consumed += used;
        if (used === 0 && made === 0) break;
      }
    }
    return this.#out.subarray(0, produced);
  }

  /**
   * Pushes out the samples the filter still holds, by feeding it its input latency of silence:
   * call at the end of a stream (the end of an utterance) so that its last milliseconds are
   * not lost. Returns a view of the internal buffer, like {@linkcode process}.
   */
  flush(): Int16Array<ArrayBuffer> {
    if (this.#state === 0) throw new TypeError("Cannot resample: the resampler is closed");
    const latency = this.#m._speex_resampler_get_input_latency(this.#state);
    return this.process(new Int16Array(latency));
  }

  /** Starts a new signal: forgets the filter's history (as if just created). */
  reset(): void {
    if (this.#state === 0) throw new TypeError("Cannot resample: the resampler is closed");
    this.#m._speex_resampler_reset_mem(this.#state);
    this.#m._speex_resampler_skip_zeros(this.#state);
  }

  /** Frees the stream's WASM memory. */
  close(): void {
    if (this.#state === 0) return;
    this.#m._speex_resampler_destroy(this.#state);
    this.#m._free(this.#inPtr);
    this.#m._free(this.#outPtr);
    this.#m._free(this.#lenPtr);
    this.#state = 0;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
