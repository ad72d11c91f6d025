/** The state of one simulated call and its bookkeeping: timeline, violations, waits, sends. */
import { systemClock } from "../../core/clock.ts";
import type { VaicMessage } from "../../protocol/audiocodes.ts";
import type { BotEvent, CallEnd, CallOptions, TimelineEntry } from "./types.ts";
import { DEFAULT_OFFER, DEFAULT_URL } from "./types.ts";
import { VaicConnection } from "./vaic_connection.ts";

/** One play stream the bot sent, as it is being received. */
export interface StreamState {
  readonly streamId: string;
  readonly mediaFormat: string;
  readonly altText: string | undefined;
  readonly startSeq: number;
  readonly startedAtMs: number;
  /** The bot had reported the caller's turn as ended when this stream started. */
  readonly afterTurnEnd: boolean;
  firstChunkAtMs: number | undefined;
  lastChunkAtMs: number | undefined;
  stoppedAtMs: number | undefined;
  chunks: number;
  bytes: number;
  readonly pieces: Uint8Array<ArrayBuffer>[];
}

/**
 * A simulated call's state, shared by the script, the bot message checks and the report; its
 * connection (socket, waits, hang-up) is the {@linkcode VaicConnection} it extends.
 */
export class CallCore extends VaicConnection {
  readonly options: CallOptions;
  readonly url: string;
  readonly offered: readonly string[];
  readonly conversationId: string;
  readonly newId: () => string;
  readonly speed: number;
  readonly frameMs: number;
  readonly timeoutMs: number;
  readonly record: boolean;
  readonly t0: number;

  seq = 0;
  readonly timeline: TimelineEntry[] = [];
  readonly violations = new Map<string, number>();
  readonly events: BotEvent[] = [];
  readonly streams: StreamState[] = [];
  open: StreamState | undefined;
  lastPlayActivitySeq = 0;

  connectError: string | undefined;

  mediaFormat: string | undefined;
  connectedAtMs: number | undefined;
  acceptedAtMs: number | undefined;
  startedAtMs: number | undefined;
  sentEnd = false;
  botHungUp = false;
  ending: CallEnd | undefined;
  error: string | undefined;

  sawSpeechStart = false;
  lastSpeechStartSeq = -1;
  lastTurnEndSeq = -1;
  speechEndSeq: number | undefined;
  speechEndAtMs: number | undefined;

  chunksSent = 0;
  bytesSent = 0;
  readonly dtmfSent: string[] = [];

  constructor(options: CallOptions) {
    super(options.clock ?? systemClock);
    this.options = options;
    this.url = options.url ?? DEFAULT_URL;
    this.offered = options.formats ?? DEFAULT_OFFER;
    this.newId = options.newId ?? (() => crypto.randomUUID());
    this.conversationId = options.conversationId ?? this.newId();
    this.speed = options.speed ?? 1;
    this.frameMs = options.frameMs ?? 20;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.record = options.recordAudio ?? true;
    this.t0 = this.clock.monotonic();
    if (!(this.speed >= 0) || !Number.isFinite(this.speed)) {
      throw new RangeError(`Cannot run call: bad speed ${this.speed}`);
    }
    if (!Number.isInteger(this.frameMs) || this.frameMs < 1 || this.frameMs > 1000) {
      throw new RangeError(`Cannot run call: bad frame duration ${this.frameMs} ms`);
    }
    if (this.offered.length === 0) {
      throw new RangeError("Cannot run call: no media formats to offer");
    }
  }

  // -- bookkeeping ----------------------------------------------------------------------------

  now(): number {
    return this.clock.monotonic() - this.t0;
  }

  entry(entry: Omit<TimelineEntry, "seq" | "atMs">): TimelineEntry {
    const full: TimelineEntry = { seq: ++this.seq, atMs: this.now(), ...entry };
    this.timeline.push(full);
    this.options.onEntry?.(full);
    return full;
  }

  violation(message: string): void {
    const seen = this.violations.get(message);
    this.violations.set(message, (seen ?? 0) + 1);
    if (seen === undefined) {
      this.entry({ direction: "local", type: "violation", detail: { message } });
    }
  }

  send(message: VaicMessage, entry?: Omit<TimelineEntry, "seq" | "atMs" | "direction">): void {
    if (!this.sendJson(message)) return;
    if (entry) {
      this.entry({ direction: "sent", ...entry });
    } else {
      const { type, conversationId: _, ...detail } = message;
      this.entry({ direction: "sent", type, detail });
    }
  }

  isReply(stream: StreamState): boolean {
    const speechEnd = this.speechEndSeq;
    if (speechEnd === undefined || stream.startSeq <= speechEnd) return false;
    // A bot that reports speech must have ended the caller's turn before replying; this keeps
    // a late greeting from counting as the reply when audio is sent faster than real time.
    return this.sawSpeechStart ? stream.afterTurnEnd : true;
  }

  replyDone(): boolean {
    return this.open === undefined &&
      this.streams.some((s) => s.stoppedAtMs !== undefined && this.isReply(s));
  }
}

/** The message of an error, or the thrown value as text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
