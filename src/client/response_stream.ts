/**
 * The model's responses as a {@linkcode VoiceSession} receives them: each response's chunks and
 * whole result ({@linkcode ResponseStream}), and the tracker that follows the gateway's
 * response messages, converts the audio to the app's format and wakes whoever waits for a
 * response ({@linkcode ResponseTracker}).
 *
 * @module
 */
import { concatBytes } from "../audio/pcm.ts";
import {
  type AudioSettings,
  fromMonoPcm16,
  MODEL_SAMPLE_RATE,
  type Resampler,
  type ResamplerSource,
} from "./audio.ts";
import type { Deadline, Waiter } from "./deadline.ts";

/** One piece of a streamed response: audio in the app's format, or transcript text. */
export type ResponseChunk =
  | { readonly type: "audio"; readonly data: Uint8Array<ArrayBuffer> }
  | { readonly type: "transcript"; readonly text: string };

/** A whole response of the model. */
export interface VoiceResponse {
  /** The response id. */
  readonly id: string;
  /** All its audio in the app's format (only what was generated, when interrupted). */
  readonly audio: Uint8Array<ArrayBuffer>;
  /** What the model said. */
  readonly transcript: string;
  /** True when the response was cut short by barge-in or `interrupt()`. */
  readonly interrupted: boolean;
  /** Tokens used. */
  readonly usage: { readonly inputTokens: number; readonly outputTokens: number };
}

/** What an interruption cut. */
export interface Interruption {
  /** The model item that was playing, or `null` when nothing was. */
  readonly itemId: string | null;
  /** How much of it the user heard (ms); the model forgets the rest. */
  readonly playedMs: number;
}

/** A role in the conversation. */
export type Role = "user" | "assistant";

/** A response being received: its chunks so far, and the whole response when it ends. */
export class ResponseStream {
  /** The response id. */
  readonly id: string;
  /** Every chunk so far (iterators read them by index). */
  readonly chunks: ResponseChunk[] = [];
  /** The transcript so far (the final one once it arrives). */
  transcript = "";
  /** Cut by barge-in or `interrupt()`. */
  interrupted = false;
  /** Ended, whole or failed. */
  finished = false;
  /** Why it failed, if it did. */
  error: unknown;
  readonly #done = Promise.withResolvers<VoiceResponse>();
  #wake: PromiseWithResolvers<void> | undefined;

  /** Starts a response. */
  constructor(id: string) {
    this.id = id;
    // Nobody may be waiting: a rejection must not surface as unhandled.
    this.#done.promise.catch(() => {});
  }

  /** The whole response, once it ends. */
  get done(): Promise<VoiceResponse> {
    return this.#done.promise;
  }

  /** Adds a chunk. */
  push(chunk: ResponseChunk): void {
    this.chunks.push(chunk);
    this.#notify();
  }

  /** Ends the response with its usage. */
  finish(usage: VoiceResponse["usage"]): VoiceResponse {
    const audio = concatBytes(this.chunks.flatMap((c) => c.type === "audio" ? [c.data] : []));
    const response: VoiceResponse = {
      id: this.id,
      audio,
      transcript: this.transcript,
      interrupted: this.interrupted,
      usage,
    };
    this.finished = true;
    this.#done.resolve(response);
    this.#notify();
    return response;
  }

  /** Ends the response with an error (the connection closed). */
  fail(error: unknown): void {
    if (this.finished) return;
    this.finished = true;
    this.error = error;
    this.#done.reject(error);
    this.#notify();
  }

  /** Resolves when a chunk arrives or the response ends. */
  changed(): Promise<void> {
    this.#wake ??= Promise.withResolvers<void>();
    return this.#wake.promise;
  }

  /** Yields every chunk as it arrives; ends with the response (throws if it failed). */
  async *read(): AsyncGenerator<ResponseChunk, void, void> {
    let next = 0;
    while (true) {
      while (next < this.chunks.length) yield this.chunks[next++]!;
      if (this.finished) {
        if (this.error !== undefined) throw this.error;
        return;
      }
      await this.changed();
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.resolve();
  }
}

/**
 * Follows the responses of one session: the one being generated, the waits for the next one,
 * and the model audio converted to the app's format (resampled per response).
 */
export class ResponseTracker {
  #current: ResponseStream | undefined;
  readonly #waiters = new Set<Waiter<ResponseStream>>();
  /** 24 kHz → app rate for the current response (reset at each response). */
  #resampler: Resampler | undefined;
  readonly #onDone: (response: VoiceResponse) => void;

  /** `onDone` hears every response that ends (whole or cut). */
  constructor(onDone: (response: VoiceResponse) => void) {
    this.#onDone = onDone;
  }

  /** The response being generated, if any. */
  get current(): ResponseStream | undefined {
    return this.#current && !this.#current.finished ? this.#current : undefined;
  }

  /** True while a response is being tracked (generated, or done but not yet closed). */
  get tracking(): boolean {
    return this.#current !== undefined;
  }

  /** A response started: the previous one ends if it has not, and the waiters get this one. */
  start(id: string, settings: AudioSettings): ResponseStream {
    // Every response ends with response.done; should one not, it ends here.
    if (this.current) this.end(this.current, settings);
    this.#resampler?.reset(); // each response is a new signal
    const stream = new ResponseStream(id);
    this.#current = stream;
    return stream;
  }

  /** Hands the started response to everyone waiting for one. */
  wake(stream: ResponseStream): void {
    for (const waiter of [...this.#waiters]) waiter.resolve(stream);
    this.#waiters.clear();
  }

  /** Model audio (base64 PCM16 24 kHz) for the current response, in the app's format. */
  audio(base64: string, settings: AudioSettings, resamplers: ResamplerSource | undefined): void {
    const stream = this.current;
    if (!stream) return;
    stream.push({ type: "audio", data: this.#appAudio(base64, settings, resamplers) });
  }

  /** Transcript text of the current response. */
  delta(text: string): void {
    const stream = this.current;
    if (!stream) return;
    stream.transcript += text;
    stream.push({ type: "transcript", text });
  }

  /** Takes the current response off the tracker (`response.done`); end it with `end`. */
  take(): ResponseStream | undefined {
    const stream = this.#current;
    this.#current = undefined;
    return stream && !stream.finished ? stream : undefined;
  }

  /** Ends a response: the resampler's tail, then the whole response to waiters and events. */
  end(
    stream: ResponseStream,
    settings: AudioSettings,
    usage: VoiceResponse["usage"] = { inputTokens: 0, outputTokens: 0 },
  ): void {
    const resampler = this.#resampler;
    if (resampler && resampler.outRate === settings.sampleRate) {
      const tail = resampler.flush();
      if (tail.length > 0) stream.push({ type: "audio", data: fromMonoPcm16(tail, settings) });
      resampler.reset();
    }
    this.#onDone(stream.finish(usage));
  }

  /** The next response to start; `cancel` withdraws the wait. */
  next(): { readonly promise: Promise<ResponseStream>; cancel(): void } {
    const { promise, resolve, reject } = Promise.withResolvers<ResponseStream>();
    const waiter = { resolve, reject };
    this.#waiters.add(waiter);
    promise.catch(() => {});
    return { promise, cancel: () => this.#waiters.delete(waiter) };
  }

  /** The response being generated, or else the next one to start. */
  async currentOrNext(timer: Deadline): Promise<ResponseStream> {
    if (this.current) return this.current;
    const next = this.next();
    try {
      return await timer.race(next.promise);
    } finally {
      next.cancel();
    }
  }

  /** Fails the waits for the next response (what they wait for will not come). */
  failWaiters(error: unknown): void {
    for (const waiter of this.#waiters) waiter.reject(error);
    this.#waiters.clear();
  }

  /** The connection closed: fails the waits and the response under way. */
  close(error: unknown): void {
    this.failWaiters(error);
    this.#current?.fail(error);
    this.#current = undefined;
  }

  /** A new conversation: nothing under way. */
  reset(): void {
    this.#current = undefined;
    this.#resampler?.reset();
  }

  #appAudio(
    base64: string,
    settings: AudioSettings,
    resamplers: ResamplerSource | undefined,
  ): Uint8Array<ArrayBuffer> {
    const bytes = Uint8Array.fromBase64(base64);
    if (settings.sampleRate === MODEL_SAMPLE_RATE) {
      if (settings.channels === 1 && settings.format === "pcm16") return bytes;
      return fromMonoPcm16(new Int16Array(bytes.buffer, 0, bytes.byteLength >> 1), settings);
    }
    let resampler = this.#resampler;
    if (!resampler || resampler.outRate !== settings.sampleRate) {
      resampler?.close();
      if (!resamplers) throw new TypeError("Cannot resample audio: the resampler is not loaded");
      resampler = resamplers.create(MODEL_SAMPLE_RATE, settings.sampleRate);
      this.#resampler = resampler;
    }
    const samples = new Int16Array(bytes.buffer, 0, bytes.byteLength >> 1);
    return fromMonoPcm16(resampler.process(samples), settings);
  }
}
