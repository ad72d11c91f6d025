/**
 * What the benchmark measures on one call, from both sides of the gateway at once: the simulated
 * VAIC reports what it sent and received, the tap reports what the gateway sent upstream and
 * what the upstream sent it. One clock (this process's `performance.now()`) stamps both.
 *
 * Caller → upstream: every `userStream.chunk` is matched, in order, to the gateway's
 * `input_audio_buffer.append` (same base64 string when the formats meet; by position otherwise).
 * Upstream → caller: every `playStream.chunk` is located by byte offset within its model item
 * and matched to the `response.output_audio.delta` that carried those bytes; the gateway cuts
 * deltas into pieces and paces them, so a piece's own deadline is the later of its delta's
 * arrival and the moment the playout lead let it go.
 */
import { base64ByteLength } from "../../protocol/base64.ts";
import type { FormatPlan } from "../../protocol/media_format.ts";
import type { ErrorCounts, Recorder } from "./recorder.ts";
import { noErrors } from "./recorder.ts";
import { Samples } from "./stats.ts";

/** How the gateway frames an append (Bridge.appendAudio); other framings are parsed. */
export const APPEND_PREFIX = `{"type":"input_audio_buffer.append","audio":"`;

interface DeltaTrack {
  /** Byte range of the item's audio this delta carried. */
  readonly start: number;
  readonly end: number;
  /** When the tap passed it to the gateway. */
  readonly at: number;
  /** Base64 text, kept until played (pass-through checks the pieces against it). */
  text: string;
}

interface ItemTrack {
  readonly id: string;
  readonly deltas: DeltaTrack[];
  bytes: number;
  state: "new" | "playing" | "done";
}

interface StreamTrack {
  readonly id: string;
  readonly startedAt: number;
  item: ItemTrack | undefined;
  /** Stream start as the gateway's playout saw it (estimated from below, see README). */
  t0: number;
  bytes: number;
  delta: number;
}

interface SpeechEnd {
  readonly seq: number;
  readonly at: number;
  appendAt: number | undefined;
  replied: boolean;
}

/** Per-call measurements. */
export class CallProbe {
  readonly index: number;
  /** Written into the call's data so the tap can tie the upstream session to the call. */
  readonly tag: string;
  /** Per-call samples (the recorder holds the run-wide ones). */
  readonly frameIn: Samples = new Samples();
  readonly frameOut: Samples = new Samples();
  readonly paced: Samples = new Samples();
  readonly bargeIn: Samples = new Samples();
  setupMs: number | undefined;
  upstreamReadyMs: number | undefined;
  readonly errors: ErrorCounts = noErrors();
  framesSent = 0;
  framesAppended = 0;
  chunks = 0;
  replies = 0;
  /** When the tap last passed `input_audio_buffer.speech_started` to the gateway. */
  lastSpeechStartedAt: number | undefined;

  readonly #rec: Recorder;
  readonly #passThrough: boolean;
  readonly #callBytesPerMs: number;
  readonly #upstreamBytesPerMs: number;
  readonly #leadMs: number;
  #initiatedAt: number | undefined;
  #readyAt: number | undefined;
  #greeted = false;
  // Caller frames not yet seen upstream, oldest first.
  #qAudio: string[] = [];
  #qAt: number[] = [];
  #qSeq: number[] = [];
  #qHead = 0;
  /** Frames jumped over by a later append: dropped unless they show up late. */
  readonly #skipped = new Map<number, { audio: string; at: number }>();
  #speechEnd: SpeechEnd | undefined;
  readonly #items: ItemTrack[] = [];
  readonly #itemById = new Map<string, ItemTrack>();
  #nextItem = 0;
  #stream: StreamTrack | undefined;
  #lastStopAt = -Infinity;
  #drainWaiter: (() => void) | undefined;

  constructor(
    index: number,
    options: { tag: string; recorder: Recorder; plan: FormatPlan; leadMs: number },
  ) {
    this.index = index;
    this.tag = options.tag;
    this.#rec = options.recorder;
    this.#passThrough = options.plan.passThrough;
    this.#callBytesPerMs = options.plan.bytesPerMs;
    this.#upstreamBytesPerMs = options.plan.upstream.type === "audio/pcm" ? 48 : 8;
    this.#leadMs = options.leadMs;
  }

  #error(kind: keyof ErrorCounts, n = 1): void {
    this.errors[kind] += n;
    this.#rec.errors[kind] += n;
  }

  /** Counts an error of this call. */
  error(kind: keyof ErrorCounts): void {
    this.#error(kind);
  }

  // ---- call setup ----

  /** `session.initiate` went out. */
  initiated(at: number): void {
    this.#initiatedAt = at;
  }

  /** `session.accepted` came back. */
  accepted(at: number): void {
    if (this.#initiatedAt === undefined) return;
    this.setupMs = at - this.#initiatedAt;
    this.#rec.setup.push(this.setupMs);
  }

  /** The tap tied an upstream session to this call; `readyAt`: its first `session.updated`. */
  attached(readyAt: number | undefined): void {
    if (readyAt !== undefined) this.ready(readyAt);
  }

  /** The tap passed the session's first `session.updated` to the gateway. */
  ready(at: number): void {
    if (this.#readyAt !== undefined) return;
    this.#readyAt = at;
    if (this.#initiatedAt !== undefined) {
      this.upstreamReadyMs = at - this.#initiatedAt;
      this.#rec.upstreamReady.push(this.upstreamReadyMs);
    }
  }

  // ---- caller → upstream ----

  /** VAIC sent a frame; `lastOfSpeech` marks the end of an utterance. */
  frameSent(audio: string, at: number, lastOfSpeech: boolean): void {
    const seq = this.framesSent++;
    this.#rec.counts.framesSent++;
    this.#qAudio.push(audio);
    this.#qAt.push(at);
    this.#qSeq.push(seq);
    if (lastOfSpeech) this.#speechEnd = { seq, at, appendAt: undefined, replied: false };
  }

  /** Caller frames not yet seen upstream. */
  get pendingFrames(): number {
    return this.#qAudio.length - this.#qHead;
  }

  /** Resolves once every sent frame was seen upstream, or after `ms`. */
  drained(ms: number): Promise<void> {
    if (this.pendingFrames === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#drainWaiter = done;
    });
  }

  /** The gateway sent an append (`frame` is the whole text frame) at `at`. */
  appended(frame: string, at: number): void {
    this.framesAppended++;
    this.#rec.counts.framesAppended++;
    const audio = frame.startsWith(APPEND_PREFIX) ? undefined : appendAudioOf(frame);
    const head = this.#qHead;
    const end = this.#qAudio.length;
    if (!this.#passThrough) {
      // Resampled audio differs from what was sent: match by position.
      if (head >= end) return this.#error("unknownAppends");
      this.#qHead++;
      this.#matched(this.#qSeq[head]!, this.#qAt[head]!, at);
      return this.#compact();
    }
    const matches = (sent: string) =>
      audio === undefined
        ? frame.length === APPEND_PREFIX.length + sent.length + 2 &&
          frame.startsWith(sent, APPEND_PREFIX.length)
        : audio === sent;
    const limit = Math.min(end, head + 256);
    for (let k = head; k < limit; k++) {
      if (!matches(this.#qAudio[k]!)) continue;
      for (let j = head; j < k; j++) {
        this.#skipped.set(this.#qSeq[j]!, { audio: this.#qAudio[j]!, at: this.#qAt[j]! });
        this.#error("droppedFrames");
      }
      this.#qHead = k + 1;
      this.#matched(this.#qSeq[k]!, this.#qAt[k]!, at);
      return this.#compact();
    }
    for (const [seq, sent] of this.#skipped) {
      if (!matches(sent.audio)) continue;
      this.#skipped.delete(seq);
      this.errors.droppedFrames--;
      this.#rec.errors.droppedFrames--;
      this.#error("outOfOrderFrames");
      this.#matched(seq, sent.at, at);
      return;
    }
    this.#error("unknownAppends");
  }

  #matched(seq: number, sentAt: number, at: number): void {
    const latency = at - sentAt;
    if (this.#readyAt === undefined || sentAt < this.#readyAt) {
      this.#rec.preReady.push(latency);
    } else {
      this.frameIn.push(latency);
      this.#rec.frameIn.push(at, latency, this.#rec.live);
    }
    if (this.#speechEnd?.seq === seq) this.#speechEnd.appendAt = at;
  }

  #compact(): void {
    if (this.#qHead === this.#qAudio.length) {
      this.#qAudio.length =
        this.#qAt.length =
        this.#qSeq.length =
        this.#qHead =
          0;
      const waiter = this.#drainWaiter;
      this.#drainWaiter = undefined;
      waiter?.();
    } else if (this.#qHead > 512) {
      this.#qAudio.splice(0, this.#qHead);
      this.#qAt.splice(0, this.#qHead);
      this.#qSeq.splice(0, this.#qHead);
      this.#qHead = 0;
    }
  }

  // ---- upstream → caller ----

  /** The tap passed `input_audio_buffer.speech_started` to the gateway. */
  speechStarted(at: number): void {
    this.lastSpeechStartedAt = at;
  }

  /** The tap passed a `response.output_audio.delta` to the gateway. */
  delta(itemId: string, delta: string, at: number): void {
    let item = this.#itemById.get(itemId);
    if (!item) {
      item = { id: itemId, deltas: [], bytes: 0, state: "new" };
      this.#itemById.set(itemId, item);
      this.#items.push(item);
    }
    if (item.state === "done") return;
    const bytes = base64ByteLength(delta);
    item.deltas.push({ start: item.bytes, end: item.bytes + bytes, at, text: delta });
    item.bytes += bytes;
  }

  /** VAIC got `playStream.start`. */
  playStart(streamId: string, at: number): void {
    if (this.#stream) this.#error("protocol");
    this.#stream = { id: streamId, startedAt: at, item: undefined, t0: at, bytes: 0, delta: 0 };
  }

  /** VAIC got a `playStream.chunk`. Returns true for the first audio of a reply. */
  playChunk(streamId: string, audio: string, at: number): void {
    if (!this.#greeted && this.#initiatedAt !== undefined) {
      this.#greeted = true;
      this.#rec.greeting.push(at - this.#initiatedAt);
    }
    this.chunks++;
    this.#rec.counts.chunksReceived++;
    const stream = this.#stream;
    if (!stream || stream.id !== streamId) return this.#error("protocol");
    const bytes = base64ByteLength(audio);
    if (!stream.item) {
      const item = this.#findItem(audio);
      if (!item) {
        stream.bytes += bytes;
        return this.#error("badChunks");
      }
      stream.item = item;
      item.state = "playing";
      const first = item.deltas[0]!;
      // A stream queued behind another starts when that one stops, not when its audio came.
      stream.t0 = Math.max(first.at, this.#lastStopAt);
      const end = this.#speechEnd;
      if (end && !end.replied && stream.startedAt > end.at) {
        end.replied = true;
        this.replies++;
        this.#rec.counts.replies++;
        const total = at - end.at;
        this.#rec.replyTotal.push(total);
        if (end.appendAt !== undefined && first.at >= end.appendAt) {
          const engine = first.at - end.appendAt;
          this.#rec.replyEngine.push(engine);
          this.#rec.replyGateway.push(total - engine);
        }
      }
    }
    const item = stream.item;
    const c0 = stream.bytes;
    stream.bytes += bytes;
    // Where these bytes sit in the item's upstream audio (the middle of the piece when
    // resampled: the resampler's delay keeps exact edges out of reach).
    const u0 = this.#passThrough
      ? c0
      : Math.floor((c0 + bytes / 2) * this.#upstreamBytesPerMs / this.#callBytesPerMs);
    while (stream.delta < item.deltas.length - 1 && item.deltas[stream.delta]!.end <= u0) {
      item.deltas[stream.delta]!.text = "";
      stream.delta++;
    }
    const delta = item.deltas[stream.delta];
    if (!delta) return this.#error("badChunks");
    if (this.#passThrough) {
      const offset = ((u0 - delta.start) / 3) * 4;
      if (u0 < delta.start || u0 >= delta.end || !delta.text.startsWith(audio, offset)) {
        return this.#error("badChunks");
      }
    }
    const release = stream.t0 + c0 / this.#callBytesPerMs - this.#leadMs;
    const latency = at - Math.max(delta.at, release);
    if (delta.at >= release) {
      this.frameOut.push(latency);
      this.#rec.frameOut.push(at, latency, this.#rec.live);
    } else {
      this.paced.push(latency);
      this.#rec.paced.push(at, latency, this.#rec.live);
    }
  }

  /** First unplayed item whose audio begins with `audio` (pass-through) or the next one. */
  #findItem(audio: string): ItemTrack | undefined {
    for (let i = this.#nextItem; i < this.#items.length; i++) {
      const item = this.#items[i]!;
      if (item.state !== "new" || item.deltas.length === 0) continue;
      if (this.#passThrough && !item.deltas[0]!.text.startsWith(audio)) continue;
      // Items passed over were never played (cancelled before their audio reached the caller).
      for (let j = this.#nextItem; j < i; j++) this.#release(this.#items[j]!);
      this.#nextItem = i + 1;
      return item;
    }
    return undefined;
  }

  #release(item: ItemTrack): void {
    item.state = "done";
    for (const delta of item.deltas) delta.text = "";
  }

  /** VAIC got `playStream.stop`; `bargeIn` when it answered the caller's speech. */
  playStop(streamId: string, at: number, bargeIn: boolean): void {
    const stream = this.#stream;
    if (!stream || stream.id !== streamId) return this.#error("protocol");
    this.#stream = undefined;
    this.#lastStopAt = at;
    const item = stream.item;
    if (!item) return;
    if (!bargeIn && this.#passThrough && stream.bytes < item.bytes) {
      this.#error("droppedOutBytes", item.bytes - stream.bytes);
    }
    this.#release(item);
  }

  /** A barge-in reaction: `speech_started` passed to the gateway → `playStream.stop` in. */
  bargedIn(ms: number): void {
    this.bargeIn.push(ms);
    this.#rec.bargeIn.push(ms);
    this.#rec.counts.bargeIns++;
  }

  /** Barge-in as heard: the caller's speech began `ms` before the last bot chunk arrived. */
  bargeHeard(ms: number): void {
    this.#rec.bargeInHeard.push(Math.max(0, ms));
  }

  /** The call is over: frames still unmatched count as dropped. */
  finish(): void {
    const pending = this.pendingFrames;
    if (pending > 0) this.#error("droppedFrames", pending);
    this.#qAudio = [];
    this.#qAt = [];
    this.#qSeq = [];
    this.#qHead = 0;
    this.#skipped.clear();
    for (const item of this.#items) this.#release(item);
  }
}

/** The audio of an append framed differently from {@linkcode APPEND_PREFIX}. */
function appendAudioOf(frame: string): string | undefined {
  try {
    const event: unknown = JSON.parse(frame);
    return typeof event === "object" && event !== null && "audio" in event &&
        typeof event.audio === "string"
      ? event.audio
      : undefined;
  } catch {
    return undefined;
  }
}
