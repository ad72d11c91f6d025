/**
 * Paced playout of model audio toward a caller (ARCHITECTURE.md "Turn-taking, playout and
 * barge-in"): at most `leadMs` of audio is queued ahead of real time at the far end, so a stop
 * is heard at once and the gateway knows how much the caller has heard.
 *
 * One stream per item, played in order. Played time of the current stream =
 * min(ms of audio sent, wall time since its first chunk).
 */
import type { Clock, TimerId } from "../core/clock.ts";

/** Where paced audio goes (the AudioCodes play stream, for phone calls). */
export interface PlayoutSink {
  /** A stream for `itemId` begins; its first chunk follows. */
  start(itemId: string): void;
  /** One piece of audio, as queued. */
  chunk(piece: string): void;
  /** The stream ends: fully played, or cut by barge-in. */
  stop(itemId: string, reason: "played" | "interrupted"): void;
}

/** What the caller heard of the stream that was cut. */
export interface Interrupted {
  readonly itemId: string;
  /** Whole milliseconds heard. */
  readonly playedMs: number;
  /** Milliseconds that had been sent to the far end. */
  readonly sentMs: number;
}

interface Segment {
  readonly itemId: string;
  readonly pieces: string[];
  readonly pieceMs: number[];
  head: number;
  finished: boolean;
  startedAt: number;
  sentMs: number;
  started: boolean;
}

/** Paces pieces of audio for one call. */
export class Playout {
  readonly #clock: Clock;
  readonly #leadMs: number;
  readonly #sink: PlayoutSink;
  readonly #segments: Segment[] = [];
  readonly #idle: (() => void)[] = [];
  #timer: TimerId | undefined;
  #timerAt = Infinity;
  #closed = false;

  constructor(options: { clock: Clock; leadMs: number; sink: PlayoutSink }) {
    this.#clock = options.clock;
    this.#leadMs = options.leadMs;
    this.#sink = options.sink;
  }

  /** True while any audio is queued or still playing at the far end. */
  get playing(): boolean {
    return this.#segments.length > 0;
  }

  /** The item currently playing, if any. */
  get currentItem(): string | undefined {
    return this.#segments[0]?.itemId;
  }

  /** Queues one piece of `ms` milliseconds for `itemId`. */
  push(itemId: string, piece: string, ms: number): void {
    if (this.#closed) return;
    let segment = this.#segments.at(-1);
    if (!segment || segment.itemId !== itemId || segment.finished) {
      segment = {
        itemId,
        pieces: [],
        pieceMs: [],
        head: 0,
        finished: false,
        startedAt: 0,
        sentMs: 0,
        started: false,
      };
      this.#segments.push(segment);
    }
    segment.pieces.push(piece);
    segment.pieceMs.push(ms);
    if (segment === this.#segments[0]) this.#pump();
  }

  /** No more audio will come for `itemId`: stop its stream once it has played. */
  finish(itemId: string): void {
    for (const segment of this.#segments) {
      if (segment.itemId === itemId) segment.finished = true;
    }
    this.#pump();
  }

  /** Played milliseconds of the current stream (0 when none). */
  playedMs(): number {
    const head = this.#segments[0];
    if (!head?.started) return 0;
    return Math.min(head.sentMs, this.#clock.monotonic() - head.startedAt);
  }

  /**
   * Barge-in: stops the current stream now and drops everything queued. Returns what was heard
   * of the current stream, or `undefined` when nothing was queued or playing.
   */
  interrupt(): Interrupted | undefined {
    const head = this.#segments[0];
    if (!head) return undefined;
    const played = head.started
      ? Math.floor(Math.min(head.sentMs, this.#clock.monotonic() - head.startedAt))
      : 0;
    if (head.started) this.#sink.stop(head.itemId, "interrupted");
    this.#segments.length = 0;
    this.#cancelTimer();
    this.#notifyIdle();
    return { itemId: head.itemId, playedMs: played, sentMs: head.sentMs };
  }

  /** Calls `callback` once nothing is queued or playing (at once if idle now). */
  whenIdle(callback: () => void): void {
    if (!this.playing) callback();
    else this.#idle.push(callback);
  }

  /** Stops timers and drops everything without sending anything more. */
  close(): void {
    this.#closed = true;
    this.#segments.length = 0;
    this.#idle.length = 0;
    this.#cancelTimer();
  }

  #pump(): void {
    if (this.#closed) return;
    const now = this.#clock.monotonic();
    while (this.#segments.length > 0) {
      const head = this.#segments[0]!;
      while (head.head < head.pieces.length) {
        const ahead = head.started ? head.sentMs - (now - head.startedAt) : 0;
        if (ahead >= this.#leadMs) {
          this.#schedule(head.startedAt + head.sentMs - this.#leadMs);
          return;
        }
        if (!head.started) {
          head.started = true;
          head.startedAt = now;
          this.#sink.start(head.itemId);
        }
        const i = head.head++;
        this.#sink.chunk(head.pieces[i]!);
        head.sentMs += head.pieceMs[i]!;
        // Free what was sent: the strings can be large.
        head.pieces[i] = "";
      }
      if (!head.finished) return;
      if (head.started) {
        const endsAt = head.startedAt + head.sentMs;
        if (now < endsAt) {
          this.#schedule(endsAt);
          return;
        }
        this.#sink.stop(head.itemId, "played");
      }
      this.#segments.shift();
    }
    this.#notifyIdle();
  }

  #schedule(at: number): void {
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    this.#cancelTimer();
    this.#timerAt = at;
    const delay = Math.max(0, at - this.#clock.monotonic());
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.#pump();
    }, delay);
  }

  #cancelTimer(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  #notifyIdle(): void {
    if (this.playing) return;
    const callbacks = this.#idle.splice(0);
    for (const callback of callbacks) callback();
  }
}
