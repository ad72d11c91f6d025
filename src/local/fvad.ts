/**
 * WebRTC voice activity detection (libfvad compiled to WASM, the `fvad` import). One WASM module
 * per engine; one small detector instance per session.
 */
import fvadInit from "fvad";

interface FvadWasm {
  HEAP16: Int16Array<ArrayBuffer>;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  _fvad_new(): number;
  _fvad_free(handle: number): void;
  _fvad_reset(handle: number): void;
  _fvad_set_mode(handle: number, mode: number): number;
  _fvad_set_sample_rate(handle: number, rate: number): number;
  _fvad_process(handle: number, ptr: number, samples: number): number;
}

/** Frame length the detectors use. */
export const VAD_FRAME_MS = 10;

/** Sample rates libfvad accepts. */
export type FvadRate = 8000 | 16000 | 32000 | 48000;

/** Holds the loaded WASM module and creates detectors. */
export class FvadModule {
  readonly #m: FvadWasm;

  private constructor(m: FvadWasm) {
    this.#m = m;
  }

  /** Loads the WASM module. */
  static async load(): Promise<FvadModule> {
    return new FvadModule(await fvadInit() as unknown as FvadWasm);
  }

  /** A detector for 10 ms frames at `rate` Hz with aggressiveness `mode` (0–3). */
  create(rate: FvadRate, mode: number): FvadDetector {
    return new FvadDetector(this.#m, rate, mode);
  }
}

/** One libfvad instance: classifies 10 ms frames as voiced or not. */
export class FvadDetector implements Disposable {
  /** Samples per frame. */
  readonly frameSamples: number;
  readonly #m: FvadWasm;
  #handle: number;
  readonly #ptr: number;

  constructor(m: FvadWasm, rate: FvadRate, mode: number) {
    if (!Number.isInteger(mode) || mode < 0 || mode > 3) {
      throw new RangeError(`Cannot create VAD: mode ${mode} is not 0-3`);
    }
    this.#m = m;
    this.frameSamples = (rate * VAD_FRAME_MS) / 1000;
    this.#handle = m._fvad_new();
    if (this.#handle === 0) throw new RangeError("Cannot create VAD: out of memory");
    if (m._fvad_set_sample_rate(this.#handle, rate) !== 0) {
      m._fvad_free(this.#handle);
      throw new RangeError(`Cannot create VAD: unsupported rate ${rate}`);
    }
    m._fvad_set_mode(this.#handle, mode);
    this.#ptr = m._malloc(this.frameSamples * 2);
  }

  /** Whether one frame of exactly `frameSamples` samples contains speech. */
  isSpeech(frame: Int16Array): boolean {
    if (this.#handle === 0) throw new TypeError("Cannot classify: the VAD is closed");
    const m = this.#m;
    // HEAP16 is re-read on every call: the view is replaced when WASM memory grows.
    m.HEAP16.set(frame, this.#ptr >> 1);
    return m._fvad_process(this.#handle, this.#ptr, this.frameSamples) === 1;
  }

  /** Frees the instance. */
  close(): void {
    if (this.#handle === 0) return;
    this.#m._fvad_free(this.#handle);
    this.#m._free(this.#ptr);
    this.#handle = 0;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
