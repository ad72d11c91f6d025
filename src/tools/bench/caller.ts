/**
 * One simulated VAIC call of the benchmark, lighter than `runCall` (no timeline, no decoding)
 * because the bench's own cost is a measurement error. Its script, repeated until the call's
 * time is up: silence, the first utterance, silence until the bot's reply has played for
 * `bargeAfterMs`, the second utterance spoken over it (a barge-in), silence until that reply
 * has played out, a pause. Frames are real-time 20 ms frames sent by a shared {@linkcode Pacer}.
 *
 * Its connection is the simulator's ({@linkcode VaicConnection}: socket state, waits, hang-up),
 * over the bench's NODELAY socket; what it reads of the bot's messages is its own: only what it
 * measures, without the simulator's protocol checks (a zod parse and a timeline entry for every
 * chunk of a hundred calls would be the bench's own cost in every figure).
 */
import { systemClock } from "../../core/clock.ts";
import type { VaicMessage } from "../../protocol/audiocodes.ts";
import type { Pending } from "../call/vaic_connection.ts";
import { VaicConnection } from "../call/vaic_connection.ts";
import type { CallAudio, Utterance } from "./audio.ts";
import { FRAME_MS } from "./audio.ts";
import type { Paced, Pacer } from "./pacer.ts";
import type { CallProbe } from "./probe.ts";
import type { Recorder } from "./recorder.ts";
import { NoDelayWebSocket } from "./ws_client.ts";

/** The script's timings. */
export interface CallScript {
  /** Silence before the first utterance (the greeting plays meanwhile). */
  readonly leadMs: number;
  /** How long the reply to the first utterance plays before the caller talks over it. */
  readonly bargeAfterMs: number;
  /** Silence after the second reply has played, before the next round. */
  readonly pauseMs: number;
  /** Longest wait for a reply to start. */
  readonly replyTimeoutMs: number;
}

/** The default script. */
export const DEFAULT_SCRIPT: CallScript = {
  leadMs: 600,
  bargeAfterMs: 400,
  pauseMs: 400,
  replyTimeoutMs: 5000,
};

/** What one call needs. */
export interface BenchCallOptions {
  /** The gateway's `/ws` URL. */
  readonly url: string;
  readonly conversationId: string;
  readonly audio: CallAudio;
  readonly script: CallScript;
  readonly probe: CallProbe;
  readonly recorder: Recorder;
  readonly pacer: Pacer;
  /** When to dial (`performance.now()` time). */
  readonly startAt: number;
  /** How long the call streams audio after `userStream.started`. */
  readonly durationMs: number;
  /** Longest wait for a protocol reply. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

type Phase =
  | { readonly kind: "lead"; readonly until: number }
  | { readonly kind: "speak"; readonly utterance: Utterance; index: number }
  | { readonly kind: "await-barge"; readonly since: number }
  | { readonly kind: "await-end"; readonly since: number }
  | { readonly kind: "pause"; readonly until: number };

interface Reply {
  firstChunkAt: number | undefined;
  stoppedAt: number | undefined;
}

/** When each call of a run starts and stops streaming (for the steady-state window). */
export interface CallTimes {
  acceptedAt: number | undefined;
  streamEndAt: number | undefined;
}

/** One call. */
export class BenchCall implements Paced {
  readonly times: CallTimes = { acceptedAt: undefined, streamEndAt: undefined };
  readonly #o: BenchCallOptions;
  readonly #timeoutMs: number;
  readonly #chunkPrefix: string;
  readonly #conn = new VaicConnection<NoDelayWebSocket>(systemClock);
  #ended = false;
  // streaming
  #phase: Phase = { kind: "lead", until: 0 };
  #nextDue = 0;
  #endAt = 0;
  #streaming = false;
  #streamDone: (() => void) | undefined;
  #openStream: string | undefined;
  #speechEnded = false;
  #reply: Reply | undefined;
  /** Set by `userStream.speech.started` while a stream is open: the stop must follow. */
  #bargeFrom: number | undefined;
  #expectStop = false;
  /** When the caller began talking over an open play stream (barge-in as heard). */
  #talkOverAt: number | undefined;
  #lastChunkAt = 0;

  constructor(options: BenchCallOptions) {
    this.#o = options;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#chunkPrefix =
      `{"type":"userStream.chunk","conversationId":"${options.conversationId}","audioChunk":"`;
  }

  /** The call's `conversationId`. */
  get conversationId(): string {
    return this.#o.conversationId;
  }

  /** Places the call, streams for its duration, hangs up. Never throws. */
  async run(): Promise<void> {
    const { probe, signal } = this.#o;
    try {
      await this.#sleepUntil(this.#o.startAt);
      if (signal?.aborted) return;
      if (!await this.#connect()) return probe.error("connect");
      probe.initiated(performance.now());
      const initiated = await this.#request("accepted", {
        type: "session.initiate",
        conversationId: this.#o.conversationId,
        expectAudioMessages: true,
        supportedMediaFormats: [this.#o.audio.format],
        botName: "bench",
        caller: `+1555${String(probe.index).padStart(7, "0")}`,
      });
      if (!initiated) return;
      this.#o.recorder.live++;
      this.times.acceptedAt = performance.now();
      this.#send({
        type: "activities",
        conversationId: this.#o.conversationId,
        activities: [{
          type: "event",
          name: "start",
          id: crypto.randomUUID(),
          timestamp: new Date().toISOString(),
          language: "en-US",
          parameters: {
            caller: `+1555${String(probe.index).padStart(7, "0")}`,
            callee: "+15550000000",
            benchTag: probe.tag,
          },
        }],
      });
      const conversationId = this.#o.conversationId;
      if (!await this.#request("started", { type: "userStream.start", conversationId })) {
        return this.#left();
      }
      await this.#stream();
      this.#left();
      if (this.#conn.closed) return;
      await this.#request("stopped", { type: "userStream.stop", conversationId });
      // Frames still in flight through the gateway are not dropped ones.
      await probe.drained(1000);
    } finally {
      await this.#hangUp();
      probe.finish();
    }
  }

  #left(): void {
    if (this.times.acceptedAt !== undefined && this.times.streamEndAt === undefined) {
      this.times.streamEndAt = performance.now();
      this.#o.recorder.live--;
    }
  }

  #sleepUntil(at: number): Promise<void> {
    const ms = at - performance.now();
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const signal = this.#o.signal;
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      }
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /** Waits until `check()` holds (re-checked whenever something arrives), the socket closes, or
   * `ms` passed; resolves `check()`. */
  async #until(check: () => boolean, ms: number): Promise<boolean> {
    const conn = this.#conn;
    await conn.until(() => check() || conn.closed, ms);
    return check();
  }

  #connect(): Promise<boolean> {
    const conn = this.#conn;
    let socket: NoDelayWebSocket;
    try {
      // Not the native client: it leaves Nagle's algorithm on, which would delay our frames.
      socket = new NoDelayWebSocket(this.#o.url);
    } catch {
      return Promise.resolve(false);
    }
    conn.socket = socket;
    socket.onopen = () => {
      conn.opened = true;
      conn.wake();
    };
    socket.onerror = () => {};
    socket.onclose = () => {
      conn.closed = true;
      if (!this.#ended) this.#o.probe.error("closedByGateway");
      this.#stopStreaming();
      conn.wake();
    };
    socket.onmessage = (event: MessageEvent) => this.#onMessage(event.data);
    return this.#until(() => conn.opened || conn.closed, this.#timeoutMs);
  }

  /** Sends a request and awaits its reply; one that never came on an open socket counts. */
  async #request(what: Pending, message: VaicMessage): Promise<boolean> {
    const conn = this.#conn;
    const ok = await conn.request(what, () => this.#send(message), {
      timeoutMs: this.#timeoutMs,
      stop: () => conn.closed,
    });
    if (!ok && !conn.closed) {
      this.#o.probe.error(what === "accepted" ? "connect" : "timeouts");
    }
    conn.pending = undefined;
    return ok;
  }

  #send(message: VaicMessage): void {
    this.#conn.sendJson(message);
  }

  async #hangUp(): Promise<void> {
    this.#ended = true;
    this.#stopStreaming();
    const conn = this.#conn;
    const socket = conn.socket;
    if (!socket || conn.closed) return;
    await conn.hangUp({
      sendEnd: socket.readyState === WebSocket.OPEN
        ? () =>
          this.#send({
            type: "session.end",
            conversationId: this.#o.conversationId,
            reasonCode: "client-disconnected",
            reason: "Client Side",
          })
        : undefined,
      // The gateway closes the socket after session.end.
      lingerMs: 2000,
      timeoutMs: 2000,
    });
  }

  // ---- receiving ----

  #onMessage(data: unknown): void {
    const at = performance.now();
    if (typeof data !== "string") return this.#o.probe.error("protocol");
    let message: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(data);
      if (typeof parsed !== "object" || parsed === null) return this.#o.probe.error("protocol");
      message = { ...parsed };
    } catch {
      return this.#o.probe.error("protocol");
    }
    const type = message.type;
    const probe = this.#o.probe;
    if (this.#expectStop && type !== "playStream.stop") {
      this.#expectStop = false;
      probe.error("missedBargeIns");
    }
    switch (type) {
      case "session.accepted":
        if (this.#conn.pending === "accepted") {
          probe.accepted(at);
          this.#conn.pending = undefined;
        }
        break;
      case "userStream.started":
        if (this.#conn.pending === "started") this.#conn.pending = undefined;
        break;
      case "userStream.stopped":
        if (this.#conn.pending === "stopped") this.#conn.pending = undefined;
        break;
      case "session.error":
        probe.error("rejected");
        break;
      case "userStream.speech.started":
        if (this.#openStream !== undefined && probe.lastSpeechStartedAt !== undefined) {
          this.#expectStop = true;
          this.#bargeFrom = probe.lastSpeechStartedAt;
        }
        break;
      case "playStream.start": {
        const id = String(message.streamId);
        this.#openStream = id;
        probe.playStart(id, at);
        if (this.#speechEnded && this.#reply === undefined) {
          this.#reply = { firstChunkAt: undefined, stoppedAt: undefined };
        }
        break;
      }
      case "playStream.chunk": {
        const audio = message.audioChunk;
        probe.playChunk(String(message.streamId), typeof audio === "string" ? audio : "", at);
        this.#lastChunkAt = at;
        if (this.#reply && this.#reply.firstChunkAt === undefined) this.#reply.firstChunkAt = at;
        break;
      }
      case "playStream.stop": {
        const bargeIn = this.#expectStop;
        if (bargeIn && this.#bargeFrom !== undefined) probe.bargedIn(at - this.#bargeFrom);
        if (this.#talkOverAt !== undefined) probe.bargeHeard(this.#lastChunkAt - this.#talkOverAt);
        this.#talkOverAt = undefined;
        this.#expectStop = false;
        this.#bargeFrom = undefined;
        this.#openStream = undefined;
        probe.playStop(String(message.streamId), at, bargeIn);
        if (this.#reply && this.#reply.firstChunkAt !== undefined) this.#reply.stoppedAt = at;
        break;
      }
      case "activities":
        // The bench never asks to hang up or transfer.
        probe.error("closedByGateway");
        break;
      default:
        break;
    }
    this.#conn.wake();
  }

  // ---- streaming ----

  #stream(): Promise<void> {
    const now = performance.now();
    this.#endAt = now + this.#o.durationMs;
    this.#phase = { kind: "lead", until: now + this.#o.script.leadMs };
    this.#nextDue = now;
    this.#streaming = true;
    return new Promise((resolve) => {
      this.#streamDone = resolve;
      this.#o.pacer.add(this);
    });
  }

  #stopStreaming(): void {
    if (!this.#streaming) return;
    this.#streaming = false;
    this.#o.pacer.remove(this);
    const done = this.#streamDone;
    this.#streamDone = undefined;
    done?.();
  }

  /** Sends the frames due by `now`; returns when the next one is due (Infinity when done). */
  tick(now: number): number {
    if (!this.#streaming) return Infinity;
    if (this.#nextDue <= now) this.#o.recorder.sendLateness.push(now - this.#nextDue);
    while (this.#nextDue <= now) {
      if (this.#nextDue >= this.#endAt || this.#conn.closed) {
        this.#stopStreaming();
        return Infinity;
      }
      this.#sendFrame(this.#nextDue);
      this.#nextDue += FRAME_MS;
    }
    return this.#nextDue;
  }

  #sendFrame(due: number): void {
    const socket = this.#conn.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    const { audio, script } = this.#o;
    let chunk = audio.silence;
    let last = false;
    const phase = this.#phase;
    switch (phase.kind) {
      case "lead":
      case "pause":
        if (due >= phase.until) this.#speak(audio.first);
        break;
      case "await-barge": {
        const reply = this.#reply;
        if (reply?.firstChunkAt !== undefined && due - reply.firstChunkAt >= script.bargeAfterMs) {
          this.#speak(audio.second);
        } else if (reply?.firstChunkAt === undefined && due - phase.since > script.replyTimeoutMs) {
          this.#o.probe.error("noReply");
          this.#speak(audio.second);
        }
        break;
      }
      case "await-end": {
        const reply = this.#reply;
        if (reply?.stoppedAt !== undefined) {
          this.#phase = { kind: "pause", until: due + script.pauseMs };
        } else if (reply?.firstChunkAt === undefined && due - phase.since > script.replyTimeoutMs) {
          this.#o.probe.error("noReply");
          this.#phase = { kind: "pause", until: due + script.pauseMs };
        }
        break;
      }
      default:
        break;
    }
    const current = this.#phase;
    if (current.kind === "speak") {
      chunk = current.utterance.frames[current.index++]!;
      if (current.index === current.utterance.frames.length) {
        last = true;
        this.#speechEnded = true;
        this.#reply = undefined;
        const since = performance.now();
        this.#phase = current.utterance === audio.first
          ? { kind: "await-barge", since }
          : { kind: "await-end", since };
      }
    }
    const at = performance.now();
    socket.send(`${this.#chunkPrefix}${chunk}"}`);
    this.#o.probe.frameSent(chunk, at, last);
  }

  #speak(utterance: Utterance): void {
    this.#talkOverAt = this.#openStream !== undefined ? performance.now() : undefined;
    this.#speechEnded = false;
    this.#reply = undefined;
    this.#phase = { kind: "speak", utterance, index: 0 };
  }
}
