/**
 * The input audio buffer (§3.2–3.4): appended chunks since the last commit, positioned on the
 * session's appended-audio timeline (ms of audio appended since the session began, §4.6).
 */
import type { AudioFormat } from "./audio_format.ts";
import { bytesPerMs, bytesPerSample } from "./audio_format.ts";

/** Appended audio since the last commit or clear. */
export class InputBuffer {
  #format: AudioFormat;
  #chunks: Uint8Array<ArrayBuffer>[] = [];
  #bytes = 0;
  /** Timeline position of the first retained byte. */
  #retainedStartMs = 0;
  /** Timeline position where the buffer (since the last commit or clear) begins. */
  #startMs = 0;
  /** Timeline position after the last appended byte. */
  #endMs = 0;

  constructor(format: AudioFormat) {
    this.#format = format;
  }

  /** The format of the buffered bytes. */
  get format(): AudioFormat {
    return this.#format;
  }

  /** Timeline position after the last appended byte (ms). */
  get endMs(): number {
    return this.#endMs;
  }

  /** Timeline position where the buffer begins (ms). */
  get startMs(): number {
    return this.#startMs;
  }

  /** Milliseconds appended since the last commit or clear. */
  get bufferedMs(): number {
    return this.#endMs - this.#startMs;
  }

  /** Retained bytes (for memory accounting). */
  get retainedBytes(): number {
    return this.#bytes;
  }

  /** Adds a chunk (kept by reference, not copied). */
  append(chunk: Uint8Array<ArrayBuffer>): void {
    if (chunk.byteLength === 0) return;
    this.#chunks.push(chunk);
    this.#bytes += chunk.byteLength;
    this.#endMs += chunk.byteLength / bytesPerMs(this.#format);
  }

  /** Switches format; buffered audio of the old format is dropped. */
  setFormat(format: AudioFormat): void {
    if (format.type === this.#format.type) return;
    this.#format = format;
    this.clear();
  }

  /** Empties the buffer; the timeline keeps its position. */
  clear(): void {
    this.#chunks = [];
    this.#bytes = 0;
    this.#startMs = this.#endMs;
    this.#retainedStartMs = this.#endMs;
  }

  /**
   * Drops retained audio older than `keepFromMs` (whole chunks only) so an idle VAD session
   * holds just its prefix padding, not minutes of silence.
   */
  trimBefore(keepFromMs: number): void {
    const bpm = bytesPerMs(this.#format);
    while (this.#chunks.length > 1) {
      const first = this.#chunks[0]!;
      const firstEndMs = this.#retainedStartMs + first.byteLength / bpm;
      if (firstEndMs > keepFromMs) return;
      this.#chunks.shift();
      this.#bytes -= first.byteLength;
      this.#retainedStartMs = firstEndMs;
    }
  }

  /**
   * Takes the audio between two timeline positions (clamped to what is retained) as one byte
   * array, and empties the buffer up to `toMs`; later audio stays buffered.
   */
  take(fromMs: number, toMs: number): { bytes: Uint8Array<ArrayBuffer>; startMs: number } {
    const bpm = bytesPerMs(this.#format);
    const sample = bytesPerSample(this.#format);
    const all = this.#concat();
    const align = (ms: number) => {
      const offset = Math.round((ms - this.#retainedStartMs) * bpm);
      return Math.min(all.byteLength, Math.max(0, offset - (offset % sample)));
    };
    const from = align(fromMs);
    const to = Math.max(from, align(toMs));
    const bytes = all.slice(from, to);
    const rest = all.subarray(to);
    const startMs = this.#retainedStartMs + from / bpm;
    const cutMs = this.#retainedStartMs + to / bpm;
    this.#chunks = rest.byteLength > 0 ? [rest] : [];
    this.#bytes = rest.byteLength;
    this.#retainedStartMs = cutMs;
    this.#startMs = cutMs;
    return { bytes, startMs };
  }

  #concat(): Uint8Array<ArrayBuffer> {
    if (this.#chunks.length === 1) return this.#chunks[0]!;
    const out = new Uint8Array(this.#bytes);
    let offset = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return out;
  }
}
