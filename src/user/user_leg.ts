/**
 * The app/browser side of a Bridge. Model audio goes to the client at once as `response.audio`
 * (clients buffer and play); on barge-in the leg tells the client to stop and estimates what
 * was heard as min(ms sent, wall time since the item's first chunk) — or takes the client's own
 * played milliseconds when it sent them with `response.interrupt`.
 */
import type { Clock } from "../core/clock.ts";
import { base64ByteLength } from "../protocol/base64.ts";
import type { BridgeLeg, LegEvent } from "../bridge/bridge.ts";
import type { Interrupted } from "../bridge/playout.ts";
import type { ServerMessage } from "./messages.ts";
import { legMessage, seconds } from "./handlers.ts";

/** Bytes per millisecond of PCM16 mono 24 kHz. */
export const PCM24_BYTES_PER_MS = 48;

/** Where the leg's messages go. */
export interface LegOutput {
  /** Sends a message object. */
  send(message: ServerMessage): void;
  /** Sends an already serialised frame (audio: built without re-scanning the payload). */
  sendText(frame: string): void;
}

interface ItemPlayback {
  readonly itemId: string;
  /** Monotonic ms at which the client starts playing this item (after the one before it). */
  readonly startsAt: number;
  sentMs: number;
  done: boolean;
}

/** One connection's BridgeLeg. */
export class UserLeg implements BridgeLeg {
  readonly #out: LegOutput;
  readonly #clock: Clock;
  #current: ItemPlayback | undefined;
  #request: { readonly playedMs: number | undefined } | undefined;
  /** A response is being generated (between response.started and response.done). */
  #responding = false;
  /** Counters for tests and metrics. */
  readonly stats = { audioChunks: 0, audioMs: 0, interrupts: 0 };

  constructor(options: { output: LegOutput; clock: Clock }) {
    this.#out = options.output;
    this.#clock = options.clock;
  }

  /** The item whose audio the client is estimated to be playing, if any. */
  get currentItem(): string | undefined {
    return this.#current?.itemId;
  }

  /**
   * Marks the next {@linkcode interrupt} as asked for by the client (`response.interrupt`):
   * the client always gets `response.interrupted`, with `playedMs` preferred when given.
   */
  requestInterrupt(playedMs: number | undefined): void {
    this.#request = { playedMs };
  }

  playAudio(itemId: string, delta: string): void {
    const now = this.#clock.monotonic();
    let item = this.#current;
    if (!item || item.itemId !== itemId) {
      // The client plays items back to back: this one starts when the previous one ends.
      const previousEnd = item ? item.startsAt + item.sentMs : now;
      item = { itemId, startsAt: Math.max(now, previousEnd), sentMs: 0, done: false };
      this.#current = item;
    }
    const ms = base64ByteLength(delta) / PCM24_BYTES_PER_MS;
    item.sentMs += ms;
    this.stats.audioChunks++;
    this.stats.audioMs += ms;
    // Base64 needs no JSON escaping.
    this.#out.sendText(
      `{"type":"response.audio","response":{"audio":"${delta}","timestamp":${
        seconds(this.#clock.now())
      }}}`,
    );
  }

  endAudio(itemId: string): void {
    if (this.#current?.itemId === itemId) this.#current.done = true;
    this.#out.send({
      type: "response.audio.done",
      response: { item_id: itemId, timestamp: seconds(this.#clock.now()) },
    });
  }

  interrupt(): Interrupted | undefined {
    const item = this.#current;
    const request = this.#request;
    this.#current = undefined;
    this.#request = undefined;
    const timestamp = seconds(this.#clock.now());
    if (!item) {
      // A response cut before its first audio is interrupted too: the client must know.
      if (request || this.#responding) {
        this.#out.send({
          type: "response.interrupted",
          response: { item_id: null, played_ms: 0, timestamp },
        });
      }
      return undefined;
    }
    const wallMs = Math.max(0, this.#clock.monotonic() - item.startsAt);
    const estimate = request?.playedMs ?? wallMs;
    const playedMs = Math.floor(Math.min(item.sentMs, estimate));
    const stillPlaying = !item.done || wallMs < item.sentMs;
    if (request || stillPlaying || this.#responding) {
      this.stats.interrupts++;
      this.#out.send({
        type: "response.interrupted",
        response: { item_id: item.itemId, played_ms: playedMs, timestamp },
      });
    }
    return { itemId: item.itemId, playedMs, sentMs: Math.floor(item.sentMs) };
  }

  notify(event: LegEvent): void {
    if (event.type === "response.started") this.#responding = true;
    else if (event.type === "response.done") this.#responding = false;
    const message = legMessage(event, { now: this.#clock.now() });
    if (message) this.#out.send(message);
  }
}
