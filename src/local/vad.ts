/**
 * Server-side turn detection: appended audio → 10 ms frames → WebRTC VAD verdicts → a small
 * speech gate that decides when speech starts and stops (§2.3 of the protocol reference).
 */
import type { ResamplerFactory, StreamResampler } from "../audio/resampler.ts";
import type { FvadDetector, FvadModule } from "./fvad.ts";
import { VAD_FRAME_MS } from "./fvad.ts";

/** Gate settings derived from the session's `turn_detection`. */
export interface GateSettings {
  /** libfvad aggressiveness, 0–3. */
  readonly mode: number;
  /** Frames in the sliding start window. */
  readonly windowFrames: number;
  /** Voiced frames within the window that start speech. */
  readonly voicedFrames: number;
  /** Silence that ends speech. */
  readonly silenceMs: number;
  /** Audio kept before the first voiced frame. */
  readonly prefixPaddingMs: number;
}

/** The turn-detection fields the gate reads. */
export type TurnDetectionSettings =
  | {
    readonly type: "server_vad";
    readonly threshold: number;
    readonly prefix_padding_ms: number;
    readonly silence_duration_ms: number;
  }
  | { readonly type: "semantic_vad"; readonly eagerness: "low" | "medium" | "high" | "auto" };

/**
 * Maps `threshold` to the VAD's aggressiveness (0–0.25 → 0, …, 0.75–1 → 3) and to the share of
 * voiced frames a 100 ms window needs (40 % at 0, 80 % at 1). `semantic_vad` behaves like
 * server_vad with a silence window chosen by `eagerness`.
 */
export function gateSettings(td: TurnDetectionSettings): GateSettings {
  if (td.type === "semantic_vad") {
    const silenceMs = td.eagerness === "high" ? 300 : td.eagerness === "low" ? 800 : 500;
    return { mode: 2, windowFrames: 10, voicedFrames: 6, silenceMs, prefixPaddingMs: 300 };
  }
  const threshold = Math.min(1, Math.max(0, td.threshold));
  return {
    mode: Math.min(3, Math.floor(threshold * 4)),
    windowFrames: 10,
    voicedFrames: Math.max(1, Math.round(10 * (0.4 + 0.4 * threshold))),
    silenceMs: td.silence_duration_ms,
    prefixPaddingMs: td.prefix_padding_ms,
  };
}

/** What the gate reports. Times are on the appended-audio timeline, in ms. */
export type GateEvent =
  | { readonly type: "start"; readonly speechStartMs: number }
  | { readonly type: "stop"; readonly speechEndMs: number; readonly stopMs: number };

/** The speech gate: a pure state machine over per-frame verdicts. */
export class SpeechGate {
  readonly settings: GateSettings;
  #window: boolean[] = [];
  #speaking = false;
  #lastVoicedEndMs = 0;

  constructor(settings: GateSettings) {
    this.settings = settings;
  }

  /** Whether speech is in progress. */
  get speaking(): boolean {
    return this.#speaking;
  }

  /** Feeds one frame verdict; `startMs` is where the frame begins on the timeline. */
  push(voiced: boolean, startMs: number): GateEvent | undefined {
    const endMs = startMs + VAD_FRAME_MS;
    if (this.#speaking) {
      if (voiced) {
        this.#lastVoicedEndMs = endMs;
        return undefined;
      }
      if (endMs - this.#lastVoicedEndMs >= this.settings.silenceMs) {
        this.#speaking = false;
        this.#window = [];
        return { type: "stop", speechEndMs: this.#lastVoicedEndMs, stopMs: endMs };
      }
      return undefined;
    }
    const window = this.#window;
    window.push(voiced);
    if (window.length > this.settings.windowFrames) window.shift();
    let count = 0;
    for (const v of window) if (v) count++;
    if (count < this.settings.voicedFrames) return undefined;
    const first = window.indexOf(true);
    const speechStartMs = endMs - (window.length - first) * VAD_FRAME_MS;
    this.#speaking = true;
    this.#lastVoicedEndMs = endMs;
    this.#window = [];
    return { type: "start", speechStartMs };
  }

  /** Forgets any speech in progress. */
  reset(): void {
    this.#speaking = false;
    this.#window = [];
  }
}

/** Turns appended PCM into gate events: resampling (24 kHz → 16 kHz) and framing included. */
export class VoiceActivity implements Disposable {
  readonly gate: SpeechGate;
  readonly #detector: FvadDetector;
  readonly #resampler: StreamResampler | undefined;
  readonly #frame: Int16Array<ArrayBuffer>;
  #filled = 0;
  /** Timeline ms where the next frame starts. */
  #cursorMs: number;

  constructor(
    deps: { fvad: FvadModule; resamplers: ResamplerFactory },
    options: { inputRate: number; settings: GateSettings; originMs: number },
  ) {
    const vadRate = options.inputRate === 8000 ? 8000 : 16000;
    this.gate = new SpeechGate(options.settings);
    this.#detector = deps.fvad.create(vadRate, options.settings.mode);
    this.#resampler = options.inputRate === vadRate
      ? undefined
      : deps.resamplers.create(options.inputRate, vadRate);
    this.#frame = new Int16Array(this.#detector.frameSamples);
    this.#cursorMs = options.originMs;
  }

  /** Feeds samples at the input rate; calls `onEvent` for each gate event, in order. */
  push(samples: Int16Array, onEvent: (event: GateEvent) => void): void {
    const input = this.#resampler ? this.#resampler.process(samples) : samples;
    const frame = this.#frame;
    let offset = 0;
    while (offset < input.length) {
      const take = Math.min(frame.length - this.#filled, input.length - offset);
      frame.set(input.subarray(offset, offset + take), this.#filled);
      this.#filled += take;
      offset += take;
      if (this.#filled === frame.length) {
        this.#filled = 0;
        const event = this.gate.push(this.#detector.isSpeech(frame), this.#cursorMs);
        this.#cursorMs += VAD_FRAME_MS;
        if (event) onEvent(event);
      }
    }
  }

  /** Frees the detector and the resampler. */
  close(): void {
    this.#detector.close();
    this.#resampler?.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
