/**
 * What waits for the upstream while it is not ready (connecting, configuring, reconnecting):
 * caller audio, bounded in time with the oldest dropped first, and client events, bounded in
 * number with the newest refused. Sent in order once a session is ready.
 */
import { base64ByteLength } from "../protocol/base64.ts";
import type { RealtimeTransport } from "../realtime/transport.ts";

/** One operation waiting for the upstream. */
export type PendingOp =
  | { readonly kind: "audio"; readonly base64: string }
  | {
    readonly kind: "event";
    /** Sends it; false when it could not go out. */
    readonly send: (transport: RealtimeTransport) => boolean;
    /** Runs once it really went out. */
    readonly onSent?: () => void;
  };

/** The operations waiting for one call's upstream. */
export class PendingQueue {
  #ops: PendingOp[] = [];
  #audioChars = 0;
  #events = 0;
  readonly #maxAudioChars: number;
  readonly #maxEvents: number;

  constructor(options: { readonly maxAudioChars: number; readonly maxEvents: number }) {
    this.#maxAudioChars = options.maxAudioChars;
    this.#maxEvents = options.maxEvents;
  }

  /** Nothing waits. */
  get empty(): boolean {
    return this.#ops.length === 0;
  }

  /**
   * Queues caller audio; over the bound the oldest audio goes. Returns what was dropped
   * (frames and bytes: the upstream never hears them).
   */
  pushAudio(base64: string): { readonly frames: number; readonly bytes: number } {
    this.#ops.push({ kind: "audio", base64 });
    this.#audioChars += base64.length;
    let frames = 0;
    let bytes = 0;
    while (this.#audioChars > this.#maxAudioChars) {
      const index = this.#ops.findIndex((op) => op.kind === "audio");
      if (index < 0) break;
      const dropped = this.#ops.splice(index, 1)[0] as { readonly base64: string };
      this.#audioChars -= dropped.base64.length;
      bytes += base64ByteLength(dropped.base64);
      frames++;
    }
    return { frames, bytes };
  }

  /** Queues a client event; false (not queued) when too many wait already. */
  pushEvent(op: Extract<PendingOp, { kind: "event" }>): boolean {
    if (this.#events >= this.#maxEvents) return false;
    this.#ops.push(op);
    this.#events++;
    return true;
  }

  /** Bytes of audio waiting (they open the next session's audio timeline). */
  audioBytes(): number {
    let bytes = 0;
    for (const op of this.#ops) if (op.kind === "audio") bytes += base64ByteLength(op.base64);
    return bytes;
  }

  /** Takes everything, oldest first, leaving the queue empty. */
  drain(): PendingOp[] {
    const ops = this.#ops;
    this.clear();
    return ops;
  }

  /** Drops everything. */
  clear(): void {
    this.#ops = [];
    this.#audioChars = 0;
    this.#events = 0;
  }
}
