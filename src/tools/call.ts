/**
 * The VAIC call simulator: plays AudioCodes VoiceAI Connect against a gateway's `/ws` route.
 * It places one call, streams a WAV file as the caller in 20 ms frames, records the bot's play
 * streams and checks the bot's side of the protocol (protocol doc §2, §5, §9.4).
 *
 * Library: {@linkcode runCall}. CLI: `deno task call --help`.
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import type { Clock } from "../core/clock.ts";
import { systemClock } from "../core/clock.ts";
import type { AudioCodesFormat } from "../audiocodes/media_format.ts";
import { formatPlan, isAudioCodesFormat } from "../audiocodes/media_format.ts";
import type { VaicMessage } from "../audiocodes/messages.ts";
import { base64ByteLength, BotMessage, isBase64 } from "../audiocodes/messages.ts";
import { decodeG711, encodeG711, g711Silence } from "../audio/g711.ts";
import { bytesOf, concatBytes, fromBase64, samplesOf, toBase64 } from "../audio/pcm.ts";
import { ResamplerFactory } from "../audio/resampler.ts";
import type { PcmAudio } from "../audio/wav.ts";
import { encodeWav, readWav } from "../audio/wav.ts";

// ---------------------------------------------------------------------------------------------
// types

/** The formats offered by default, most preferred first (all five `raw/*` formats, §4.1). */
export const DEFAULT_OFFER: readonly AudioCodesFormat[] = [
  "raw/lpcm16_24",
  "raw/lpcm16",
  "raw/lpcm16_8",
  "raw/mulaw",
  "raw/alaw",
];

/** A text the caller sends at a point of the user stream (a VAIC `message` activity). */
export interface TextInput {
  readonly text: string;
  /** Audio time in ms from the start of the user stream; default: when the WAV audio ends. */
  readonly atMs?: number;
}

/** Where the simulator connects by default. */
export const DEFAULT_URL = "ws://127.0.0.1:8000/ws";

/** DTMF digits the caller presses at a point of the user stream. */
export interface DtmfPress {
  /** Digits, e.g. `"12#"`, sent as one `DTMF` event (§5.5). */
  readonly digits: string;
  /** Audio time in ms from the start of the user stream; default: when the WAV audio ends. */
  readonly atMs?: number;
}

/** How long the simulator listens after the caller's audio. */
export type WaitUntil =
  /** Until the bot's reply (a play stream started after the caller's audio) has stopped. */
  | "reply"
  /** The whole `waitMs`. */
  | "timeout";

/** Options of {@linkcode runCall}; every field has a default. */
export interface CallOptions {
  /** Gateway WebSocket URL; default {@linkcode DEFAULT_URL}. */
  readonly url?: string;
  /** Sent as `Authorization: Bearer <token>` (§1.2). */
  readonly token?: string;
  /** `supportedMediaFormats` to offer; default {@linkcode DEFAULT_OFFER}. */
  readonly formats?: readonly string[];
  /** Default: a random UUID. */
  readonly conversationId?: string;
  readonly caller?: string;
  readonly callee?: string;
  readonly callerDisplayName?: string;
  readonly botName?: string;
  /** `language` of the `start` activity; default `en-US`. */
  readonly language?: string;
  /** Caller audio; without it the caller stays silent. Any rate: converted to the format. */
  readonly audio?: PcmAudio;
  /** Silence streamed before the audio; default 0. */
  readonly leadSilenceMs?: number;
  /** Silence streamed after the audio, so server VAD can end the turn; default 1500. */
  readonly tailSilenceMs?: number;
  /** Duration of one `userStream.chunk`; default 20. */
  readonly frameMs?: number;
  /** Multiple of real time for pacing; 0 sends as fast as possible. Default 1. */
  readonly speed?: number;
  readonly dtmf?: readonly DtmfPress[];
  /** Texts the caller sends (VAIC `message` activities), e.g. to drive the engine's tools. */
  readonly texts?: readonly TextInput[];
  /** Default `"reply"`. */
  readonly waitUntil?: WaitUntil;
  /** Longest wait after the audio, in ms; default 15000. */
  readonly waitMs?: number;
  /** Longest wait for a protocol reply (accepted, started, stopped, a stream's stop); 5000. */
  readonly timeoutMs?: number;
  /** How long to wait for the gateway to close after `session.end`; default 1000. */
  readonly lingerMs?: number;
  /** Decode and keep the bot's audio for {@linkcode CallReport.botAudio}; default true. */
  readonly recordAudio?: boolean;
  /** Shared resampler WASM module; loaded on demand when omitted. */
  readonly resamplers?: ResamplerFactory;
  /** Ends the call (`session.end`) early; the report then says `endedBy: "aborted"`. */
  readonly signal?: AbortSignal;
  readonly clock?: Clock;
  /** Makes ids (conversation, activities); default `crypto.randomUUID`. */
  readonly newId?: () => string;
  /** Opens the socket; default `new WebSocket(url, { headers })`. */
  readonly webSocket?: (url: string, headers: Record<string, string>) => WebSocket;
  /** Called with every timeline entry as it happens (live printing). */
  readonly onEntry?: (entry: TimelineEntry) => void;
}

/** One thing that happened on the call. */
export interface TimelineEntry {
  /** Order of the entry within the call. */
  readonly seq: number;
  /** Milliseconds since the simulator started connecting. */
  readonly atMs: number;
  /** `sent` to the gateway, `received` from it, or `local` (connection, violations). */
  readonly direction: "sent" | "received" | "local";
  /** The message type, or for local entries `connecting`, `open`, `close`, `violation`. */
  readonly type: string;
  /** Message fields without `type`, `conversationId` and audio, or local details. */
  readonly detail?: Readonly<Record<string, unknown>>;
  /** Stream of a `playStream.*` message. */
  readonly streamId?: string;
  /** Audio bytes of a chunk. */
  readonly bytes?: number;
}

/** One play stream the bot sent. */
export interface PlayStreamReport {
  readonly streamId: string;
  readonly mediaFormat: string;
  readonly altText: string | undefined;
  readonly startedAtMs: number;
  readonly firstChunkAtMs: number | undefined;
  readonly lastChunkAtMs: number | undefined;
  /** Undefined when the stream was never stopped. */
  readonly stoppedAtMs: number | undefined;
  readonly chunks: number;
  readonly bytes: number;
  /** Audio duration (0 for a format the simulator does not know). */
  readonly audioMs: number;
  /** True when it started after the caller's audio and turn end (what `waitUntil` awaits). */
  readonly reply: boolean;
}

/** A bot message other than handshakes and play streams: speech events, activities, errors. */
export interface BotEvent {
  readonly atMs: number;
  readonly type: string;
  /** Event name of an activity. */
  readonly name?: string;
  /** Transcript of a hypothesis/recognition, or text of a message activity. */
  readonly text?: string;
  readonly message: BotMessage;
}

/** Why the call ended. */
export type CallEnd =
  | "client"
  | "bot-hangup"
  | "transfer"
  | "session-error"
  | "server-close"
  | "connect-error"
  | "timeout"
  | "aborted";

/** The outcome of {@linkcode runCall}. */
export interface CallReport {
  readonly url: string;
  readonly conversationId: string;
  readonly offeredFormats: readonly string[];
  /** The format of `session.accepted`. */
  readonly mediaFormat: string | undefined;
  /** No violations and no error. */
  readonly ok: boolean;
  readonly endedBy: CallEnd;
  /** Connection failure or `session.error` reason. */
  readonly error: string | undefined;
  readonly connectedAtMs: number | undefined;
  readonly acceptedAtMs: number | undefined;
  readonly userStreamStartedAtMs: number | undefined;
  /** When the last WAV frame (and DTMF) went out. */
  readonly speechEndAtMs: number | undefined;
  /** First chunk of the first reply stream. */
  readonly replyStartAtMs: number | undefined;
  /** `replyStartAtMs - speechEndAtMs`. */
  readonly replyLatencyMs: number | undefined;
  readonly durationMs: number;
  readonly sent: {
    readonly chunks: number;
    readonly bytes: number;
    readonly audioMs: number;
    readonly dtmf: readonly string[];
  };
  readonly playStreams: readonly PlayStreamReport[];
  readonly events: readonly BotEvent[];
  readonly timeline: readonly TimelineEntry[];
  /** Protocol violations by the gateway, in order; repeats carry a `(×N)` suffix. */
  readonly violations: readonly string[];
  /** The bot's audio, concatenated, at the first stream's rate (when `recordAudio`). */
  readonly botAudio: PcmAudio | undefined;
}

// ---------------------------------------------------------------------------------------------
// format conversion

/** Converts PCM16 audio to the bytes of a `raw/*` format, resampling when the rates differ. */
export async function encodeForFormat(
  audio: PcmAudio,
  format: AudioCodesFormat,
  options: { resamplers?: ResamplerFactory } = {},
): Promise<Uint8Array<ArrayBuffer>> {
  const plan = formatPlan(format);
  const pcm = await resample(audio, plan.sampleRate, options.resamplers);
  if (plan.codec === "pcm16") return new Uint8Array(bytesOf(pcm.samples));
  return encodeG711(plan.codec, pcm.samples);
}

/** Decodes the bytes of a `raw/*` format to PCM16 at the format's rate (a trailing odd byte of
 * PCM16 is dropped). */
export function decodeFromFormat(bytes: Uint8Array, format: AudioCodesFormat): PcmAudio {
  const plan = formatPlan(format);
  if (plan.codec !== "pcm16") {
    return { sampleRate: plan.sampleRate, samples: decodeG711(plan.codec, bytes) };
  }
  const even = new Uint8Array(bytes.byteLength & ~1);
  even.set(bytes.subarray(0, even.byteLength));
  return { sampleRate: plan.sampleRate, samples: samplesOf(even) };
}

/** Resamples to `rate`; the output has exactly `round(n * rate / inRate)` samples. */
async function resample(
  audio: PcmAudio,
  rate: number,
  resamplers: ResamplerFactory | undefined,
): Promise<PcmAudio> {
  if (audio.sampleRate === rate) return audio;
  const factory = resamplers ?? await ResamplerFactory.load();
  using stream = factory.create(audio.sampleRate, rate);
  const length = Math.round(audio.samples.length * rate / audio.sampleRate);
  const out = new Int16Array(length);
  let filled = 0;
  const take = (part: Int16Array) => {
    const n = Math.min(part.length, length - filled);
    out.set(part.subarray(0, n), filled);
    filled += n;
  };
  take(stream.process(audio.samples));
  // Flush the filter's delay line with zeros so the end of the signal comes out too.
  if (filled < length) take(stream.process(new Int16Array(Math.ceil(audio.sampleRate / 50))));
  return { sampleRate: rate, samples: out };
}

// ---------------------------------------------------------------------------------------------
// the call

const Typed = z.object({ type: z.string() });

interface StreamState {
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

type Pending = "accepted" | "started" | "stopped";

/** Places one simulated VAIC call against a gateway and reports what happened. */
export async function runCall(options: CallOptions = {}): Promise<CallReport> {
  const call = new SimulatedCall(options);
  return await call.run();
}

class SimulatedCall {
  readonly #o: CallOptions;
  readonly #clock: Clock;
  readonly #url: string;
  readonly #offered: readonly string[];
  readonly #conversationId: string;
  readonly #newId: () => string;
  readonly #speed: number;
  readonly #frameMs: number;
  readonly #timeoutMs: number;
  readonly #record: boolean;
  readonly #t0: number;

  #seq = 0;
  readonly #timeline: TimelineEntry[] = [];
  readonly #violations = new Map<string, number>();
  readonly #events: BotEvent[] = [];
  readonly #streams: StreamState[] = [];
  #open: StreamState | undefined;
  #lastPlayActivitySeq = 0;

  #socket: WebSocket | undefined;
  #opened = false;
  #closed = false;
  #connectError: string | undefined;
  readonly #waiters = new Set<() => void>();

  #pending: Pending | undefined;
  #mediaFormat: string | undefined;
  #connectedAtMs: number | undefined;
  #acceptedAtMs: number | undefined;
  #startedAtMs: number | undefined;
  #sentEnd = false;
  #botHungUp = false;
  #ending: CallEnd | undefined;
  #error: string | undefined;

  #sawSpeechStart = false;
  #lastSpeechStartSeq = -1;
  #lastTurnEndSeq = -1;
  #speechEndSeq: number | undefined;
  #speechEndAtMs: number | undefined;

  #chunksSent = 0;
  #bytesSent = 0;
  readonly #dtmfSent: string[] = [];

  constructor(options: CallOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#url = options.url ?? DEFAULT_URL;
    this.#offered = options.formats ?? DEFAULT_OFFER;
    this.#newId = options.newId ?? (() => crypto.randomUUID());
    this.#conversationId = options.conversationId ?? this.#newId();
    this.#speed = options.speed ?? 1;
    this.#frameMs = options.frameMs ?? 20;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#record = options.recordAudio ?? true;
    this.#t0 = this.#clock.monotonic();
    if (!(this.#speed >= 0) || !Number.isFinite(this.#speed)) {
      throw new RangeError(`Cannot run call: bad speed ${this.#speed}`);
    }
    if (!Number.isInteger(this.#frameMs) || this.#frameMs < 1 || this.#frameMs > 1000) {
      throw new RangeError(`Cannot run call: bad frame duration ${this.#frameMs} ms`);
    }
    if (this.#offered.length === 0) {
      throw new RangeError("Cannot run call: no media formats to offer");
    }
  }

  // -- bookkeeping ----------------------------------------------------------------------------

  #now(): number {
    return this.#clock.monotonic() - this.#t0;
  }

  #entry(entry: Omit<TimelineEntry, "seq" | "atMs">): TimelineEntry {
    const full: TimelineEntry = { seq: ++this.#seq, atMs: this.#now(), ...entry };
    this.#timeline.push(full);
    this.#o.onEntry?.(full);
    return full;
  }

  #violation(message: string): void {
    const seen = this.#violations.get(message);
    this.#violations.set(message, (seen ?? 0) + 1);
    if (seen === undefined) {
      this.#entry({ direction: "local", type: "violation", detail: { message } });
    }
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** Resolves true once `done()` holds, false after `ms` (a timer of 0 still yields a turn). */
  #until(done: () => boolean, ms: number): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (value: boolean) => {
        if (timer !== undefined) this.#clock.clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(value);
      };
      const check = () => {
        if (done()) finish(true);
      };
      // No timer for an endless wait: setTimeout would treat Infinity as 0.
      const timer = Number.isFinite(ms)
        ? this.#clock.setTimeout(() => finish(done()), Math.min(Math.max(0, ms), 2 ** 31 - 1))
        : undefined;
      this.#waiters.add(check);
    });
  }

  #send(message: VaicMessage, entry?: Omit<TimelineEntry, "seq" | "atMs" | "direction">): void {
    const socket = this.#socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    socket.send(JSON.stringify(message));
    if (entry) {
      this.#entry({ direction: "sent", ...entry });
    } else {
      const { type, conversationId: _, ...detail } = message;
      this.#entry({ direction: "sent", type, detail });
    }
  }

  // -- receiving ------------------------------------------------------------------------------

  #onMessage(data: unknown): void {
    if (typeof data !== "string") {
      this.#entry({ direction: "received", type: "binary" });
      this.#violation("Received a binary frame: the Bot API uses JSON text frames only (§1.4)");
      return;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(data);
    } catch {
      this.#entry({ direction: "received", type: "invalid", detail: { text: data.slice(0, 80) } });
      this.#violation(`Invalid bot message: not JSON: ${JSON.stringify(data.slice(0, 60))}`);
      return;
    }
    const parsed = BotMessage.safeParse(raw);
    if (!parsed.success) {
      const typed = Typed.safeParse(raw);
      const type = typed.success ? typed.data.type : "invalid";
      this.#entry({ direction: "received", type, detail: { invalid: true } });
      const issue = parsed.error.issues[0];
      const why = !typed.success
        ? "no string type"
        : issue?.code === "invalid_union" && issue.path.join(".") === "type"
        ? `unknown type "${type}"`
        : `${type}: ${issue?.path.join(".") || "message"}: ${issue?.message}`;
      this.#violation(`Invalid bot message: ${why}`);
      return;
    }
    const message = parsed.data;
    let entry: TimelineEntry;
    if (message.type === "playStream.chunk") {
      entry = this.#entry({
        direction: "received",
        type: message.type,
        streamId: message.streamId,
        bytes: isBase64(message.audioChunk) ? base64ByteLength(message.audioChunk) : 0,
      });
    } else {
      const { type, ...detail } = message;
      entry = this.#entry({
        direction: "received",
        type,
        detail,
        ...("streamId" in message ? { streamId: message.streamId } : {}),
      });
    }
    // A reply to a request still pending was sent before the bot saw our session.end.
    const answersPending = (message.type === "userStream.started" && this.#pending === "started") ||
      (message.type === "userStream.stopped" && this.#pending === "stopped");
    if (!answersPending) {
      if (this.#botHungUp) {
        this.#violation(`Received ${message.type} after the bot's hangup activity (§9.4)`);
      } else if (this.#sentEnd) {
        this.#violation(`Received ${message.type} after session.end (§9.4)`);
      }
    }
    this.#handle(message, entry.atMs, entry.seq);
    this.#wake();
  }

  #handle(message: BotMessage, at: number, seq: number): void {
    switch (message.type) {
      case "session.accepted":
        if (this.#pending !== "accepted") {
          this.#violation("Unexpected session.accepted: no session.initiate is pending");
          return;
        }
        this.#pending = undefined;
        this.#acceptedAtMs = at;
        this.#mediaFormat = message.mediaFormat;
        if (!this.#offered.includes(message.mediaFormat)) {
          this.#violation(
            `session.accepted chose "${message.mediaFormat}", which was not offered in ${
              JSON.stringify(this.#offered)
            } (§4.2)`,
          );
        }
        return;
      case "session.error":
        this.#events.push({ atMs: at, type: message.type, text: message.reason, message });
        this.#error = `Gateway sent session.error: ${JSON.stringify(message.reason)}`;
        this.#ending ??= "session-error";
        return;
      case "connection.validated":
        this.#violation("Unexpected connection.validated: no connection.validate was sent");
        return;
      case "userStream.started":
      case "userStream.stopped": {
        const want: Pending = message.type === "userStream.started" ? "started" : "stopped";
        if (this.#pending !== want) {
          this.#violation(`Unexpected ${message.type}: no matching request is pending`);
          return;
        }
        this.#pending = undefined;
        if (want === "started") this.#startedAtMs = at;
        return;
      }
      case "userStream.speech.started":
        this.#sawSpeechStart = true;
        this.#lastSpeechStartSeq = seq;
        this.#events.push({ atMs: at, type: message.type, message });
        return;
      case "userStream.speech.stopped":
      case "userStream.speech.committed":
        this.#lastTurnEndSeq = seq;
        this.#events.push({ atMs: at, type: message.type, message });
        return;
      case "userStream.speech.hypothesis":
      case "userStream.speech.recognition":
        this.#events.push({
          atMs: at,
          type: message.type,
          text: message.alternatives[0]?.text ?? "",
          message,
        });
        return;
      case "playStream.start":
        this.#onPlayStart(message, at, seq);
        return;
      case "playStream.chunk":
        this.#onPlayChunk(message, at, seq);
        return;
      case "playStream.stop": {
        this.#lastPlayActivitySeq = seq;
        const open = this.#open;
        if (!open || open.streamId !== message.streamId) {
          this.#violation(
            `playStream.stop for "${message.streamId}", which is not the open play stream` +
              (open ? ` ("${open.streamId}")` : " (none is open)"),
          );
          return;
        }
        open.stoppedAtMs = at;
        this.#open = undefined;
        return;
      }
      case "activities":
        for (const activity of message.activities) {
          this.#events.push({
            atMs: at,
            type: message.type,
            ...(activity.name === undefined ? {} : { name: activity.name }),
            ...(activity.text === undefined ? {} : { text: activity.text }),
            message: { type: "activities", activities: [activity] },
          });
          const name = activity.name?.toLowerCase();
          if (activity.type !== "event") continue;
          if (name === "hangup" || name === "transfer" || name === "handover") {
            if (this.#open) {
              this.#violation(
                `${activity.name} while play stream "${this.#open.streamId}" is open (§9.4)`,
              );
            }
            this.#ending ??= name === "hangup" ? "bot-hangup" : "transfer";
            if (name === "hangup") this.#botHungUp = true;
          }
        }
        return;
      default:
        message satisfies never;
    }
  }

  #onPlayStart(
    message: Extract<BotMessage, { type: "playStream.start" }>,
    at: number,
    seq: number,
  ): void {
    this.#lastPlayActivitySeq = seq;
    if (this.#open) {
      this.#violation(
        `playStream.start "${message.streamId}" while play stream "${this.#open.streamId}" ` +
          "is open (§2.19)",
      );
    }
    if (this.#streams.some((s) => s.streamId === message.streamId)) {
      this.#violation(`playStream.start reuses streamId "${message.streamId}" (§9.4)`);
    }
    if (!this.#offered.includes(message.mediaFormat)) {
      this.#violation(
        `playStream.start "${message.streamId}" uses "${message.mediaFormat}", which was not ` +
          `offered in ${JSON.stringify(this.#offered)} (§2.19)`,
      );
    }
    const stream: StreamState = {
      streamId: message.streamId,
      mediaFormat: message.mediaFormat,
      altText: message.altText,
      startSeq: seq,
      startedAtMs: at,
      afterTurnEnd: this.#lastTurnEndSeq > this.#lastSpeechStartSeq &&
        this.#lastTurnEndSeq > (this.#speechEndSeq ?? Infinity),
      firstChunkAtMs: undefined,
      lastChunkAtMs: undefined,
      stoppedAtMs: undefined,
      chunks: 0,
      bytes: 0,
      pieces: [],
    };
    this.#streams.push(stream);
    this.#open = stream;
  }

  #onPlayChunk(
    message: Extract<BotMessage, { type: "playStream.chunk" }>,
    at: number,
    seq: number,
  ): void {
    this.#lastPlayActivitySeq = seq;
    const open = this.#open;
    if (!open) {
      this.#violation(
        `playStream.chunk for "${message.streamId}" outside a playStream.start/stop pair (§2.20)`,
      );
      return;
    }
    if (open.streamId !== message.streamId) {
      this.#violation(
        `playStream.chunk for "${message.streamId}" while play stream "${open.streamId}" is ` +
          "open (§2.20)",
      );
      return;
    }
    if (!isBase64(message.audioChunk)) {
      this.#violation(`playStream.chunk for "${open.streamId}" is not valid base64 (§4.3)`);
      return;
    }
    open.chunks++;
    open.bytes += base64ByteLength(message.audioChunk);
    open.firstChunkAtMs ??= at;
    open.lastChunkAtMs = at;
    if (this.#record) open.pieces.push(fromBase64(message.audioChunk));
  }

  #onClose(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#entry({ direction: "local", type: "close", detail: { code, reason } });
    if (!this.#sentEnd && this.#ending === undefined) {
      if (this.#opened) {
        this.#violation(
          `Gateway closed the socket before session.end (code ${code}${
            reason ? ` "${reason}"` : ""
          }); bots end calls with a hangup activity (§0.7)`,
        );
      }
      this.#ending = this.#opened ? "server-close" : "connect-error";
    }
    this.#wake();
  }

  // -- the script -----------------------------------------------------------------------------

  async run(): Promise<CallReport> {
    const signal = this.#o.signal;
    const onAbort = () => {
      this.#ending ??= "aborted";
      this.#wake();
    };
    signal?.addEventListener("abort", onAbort);
    try {
      if (signal?.aborted) {
        this.#ending = "aborted";
        return await this.#report();
      }
      if (await this.#connect()) await this.#converse();
      await this.#hangUp();
      return await this.#report();
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  async #connect(): Promise<boolean> {
    const headers: Record<string, string> = {};
    if (this.#o.token !== undefined) headers.authorization = `Bearer ${this.#o.token}`;
    this.#entry({ direction: "local", type: "connecting", detail: { url: this.#url } });
    let socket: WebSocket;
    try {
      socket = this.#o.webSocket
        ? this.#o.webSocket(this.#url, headers)
        : new WebSocket(this.#url, { headers });
    } catch (cause) {
      this.#error = `Cannot connect to ${this.#url}: ${errorMessage(cause)}`;
      this.#ending = "connect-error";
      return false;
    }
    this.#socket = socket;
    socket.addEventListener("open", () => {
      this.#opened = true;
      this.#connectedAtMs = this.#entry({ direction: "local", type: "open" }).atMs;
      this.#wake();
    });
    socket.addEventListener("error", (event) => {
      const message = event instanceof ErrorEvent ? event.message : "";
      if (!this.#opened) this.#connectError = message || "connection failed";
      this.#wake();
    });
    socket.addEventListener("close", (event) => this.#onClose(event.code, event.reason));
    socket.addEventListener("message", (event) => this.#onMessage(event.data));
    await this.#until(
      () => this.#opened || this.#closed || this.#ending !== undefined,
      this.#timeoutMs,
    );
    if (!this.#opened) {
      if (this.#ending !== "aborted") {
        const why = this.#connectError ??
          (this.#closed ? "socket closed" : `no answer within ${this.#timeoutMs} ms`);
        this.#error = `Cannot connect to ${this.#url}: ${why}`;
        this.#ending = "connect-error";
      }
      return false;
    }
    return true;
  }

  /** Sends a request and awaits its reply; false (with a violation) when it never comes. */
  async #request(pending: Pending, message: VaicMessage, reply: string): Promise<boolean> {
    this.#pending = pending;
    this.#send(message);
    await this.#until(
      () => this.#pending !== pending || this.#ending !== undefined,
      this.#timeoutMs,
    );
    if (this.#ending !== undefined) return false;
    if (this.#pending === pending) {
      this.#violation(`No ${reply} within ${this.#timeoutMs} ms of ${message.type}`);
      this.#pending = undefined;
      this.#ending = "timeout";
      return false;
    }
    return true;
  }

  async #converse(): Promise<void> {
    const o = this.#o;
    const conversationId = this.#conversationId;
    const initiate: VaicMessage = {
      type: "session.initiate",
      conversationId,
      expectAudioMessages: true,
      supportedMediaFormats: [...this.#offered],
      botName: o.botName ?? "simulator",
      caller: o.caller ?? "+15550100001",
    };
    if (!await this.#request("accepted", initiate, "session.accepted")) return;

    const format = this.#mediaFormat ?? "";
    if (!isAudioCodesFormat(format)) {
      this.#error = `Cannot stream audio: unsupported accepted format "${format}"`;
      this.#ending = "client";
      return;
    }
    this.#send({
      type: "activities",
      conversationId,
      activities: [{
        id: this.#newId(),
        timestamp: new Date(this.#clock.now()).toISOString(),
        language: o.language ?? "en-US",
        type: "event",
        name: "start",
        parameters: {
          vaigConversationId: conversationId,
          caller: o.caller ?? "+15550100001",
          callerHost: "127.0.0.1",
          callerDisplayName: o.callerDisplayName ?? "Call Simulator",
          callee: o.callee ?? "+15550100002",
          calleeHost: "127.0.0.1",
        },
      }],
    });

    // Prepare the caller audio before opening the stream, so pacing starts on time.
    const plan = formatPlan(format);
    const audioBytes = o.audio
      ? await encodeForFormat(o.audio, format, { resamplers: o.resamplers })
      : new Uint8Array(0);
    if (this.#ending) return;
    if (
      !await this.#request(
        "started",
        { type: "userStream.start", conversationId },
        "userStream.started",
      )
    ) {
      return;
    }

    const frameMs = this.#frameMs;
    const frameBytes = plan.bytesPerMs * frameMs;
    const silenceByte = plan.codec === "pcm16" ? 0 : g711Silence(plan.codec);
    const silence = toBase64(new Uint8Array(frameBytes).fill(silenceByte));
    const leadFrames = Math.ceil((o.leadSilenceMs ?? 0) / frameMs);
    const audioFrames = Math.ceil(audioBytes.byteLength / frameBytes);
    const tailFrames = Math.ceil((o.tailSilenceMs ?? 1500) / frameMs);
    const speechFrames = leadFrames + audioFrames;
    const totalFrames = speechFrames + tailFrames;
    const defaultDtmfAt = speechFrames * frameMs;
    const dtmf = [
      ...(o.dtmf ?? []).map((press) => ({
        digits: press.digits,
        text: undefined,
        atMs: press.atMs ?? defaultDtmfAt,
      })),
      ...(o.texts ?? []).map((input) => ({
        digits: undefined,
        text: input.text,
        atMs: input.atMs ?? defaultDtmfAt,
      })),
    ].sort((a, b) => a.atMs - b.atMs);
    const last = new Uint8Array(frameBytes).fill(silenceByte);

    let frame = 0;
    const interval = this.#speed > 0 ? frameMs / this.#speed : 0;
    const streamStart = this.#clock.monotonic();

    const sendDtmf = (upToMs: number) => {
      while (dtmf.length > 0 && dtmf[0]!.atMs <= upToMs) {
        const press = dtmf.shift()!;
        const common = { id: this.#newId(), timestamp: new Date(this.#clock.now()).toISOString() };
        this.#send({
          type: "activities",
          conversationId,
          activities: [
            press.text === undefined
              ? { ...common, type: "event", name: "DTMF", value: press.digits }
              : { ...common, type: "message", text: press.text },
          ],
        });
        if (press.digits !== undefined) this.#dtmfSent.push(press.digits);
      }
    };
    const markSpeechEnd = () => {
      if (this.#speechEndSeq === undefined && frame >= speechFrames && dtmf.length === 0) {
        this.#speechEndSeq = this.#seq;
        this.#speechEndAtMs = this.#now();
        this.#wake();
      }
    };
    const sendFrame = () => {
      let chunk = silence;
      const bytes = frameBytes;
      if (frame >= leadFrames && frame < speechFrames) {
        const offset = (frame - leadFrames) * frameBytes;
        const part = audioBytes.subarray(offset, offset + frameBytes);
        if (part.byteLength === frameBytes) {
          chunk = toBase64(part);
        } else {
          // Pad the last frame with silence: VAIC frames are whole 20 ms (§4.4).
          last.fill(silenceByte).set(part);
          chunk = toBase64(last);
        }
      }
      this.#send(
        { type: "userStream.chunk", conversationId, audioChunk: chunk },
        { type: "userStream.chunk", bytes },
      );
      this.#chunksSent++;
      this.#bytesSent += bytes;
      frame++;
    };

    /**
     * Streams frames (audio, then silence) paced against `streamStart` until `done()`, the
     * deadline, or the end of the call. At speed 0 only the audio is streamed, as fast as the
     * socket takes it; afterwards it just listens.
     */
    const pump = async (done: () => boolean, deadline = Infinity): Promise<void> => {
      while (this.#ending === undefined && !done()) {
        const now = this.#clock.monotonic();
        if (now >= deadline) return;
        if (interval === 0 && frame >= totalFrames) {
          sendDtmf(Infinity);
          markSpeechEnd();
          await this.#until(() => this.#ending !== undefined || done(), deadline - now);
          continue;
        }
        sendDtmf(frame * frameMs);
        sendFrame();
        markSpeechEnd();
        if (interval > 0) {
          const wait = streamStart + frame * interval - this.#clock.monotonic();
          if (wait > 0) await this.#until(() => this.#ending !== undefined, wait);
        } else if (frame % 50 === 0) {
          // Let incoming messages in between bursts.
          await this.#until(() => this.#ending !== undefined, 0);
        }
      }
    };

    await pump(() => frame >= totalFrames);
    const waitEnd = this.#clock.monotonic() + (o.waitMs ?? 15000);
    if ((o.waitUntil ?? "reply") === "reply") {
      await pump(() => this.#replyDone(), waitEnd);
    } else {
      await pump(() => false, waitEnd);
    }
    // A stream still open: listen while it keeps moving; one idle for timeoutMs never stopped.
    while (this.#open && this.#ending === undefined) {
      const open = this.#open;
      const seen = this.#lastPlayActivitySeq;
      await pump(
        () => this.#open !== open || this.#lastPlayActivitySeq !== seen,
        this.#clock.monotonic() + this.#timeoutMs,
      );
      if (this.#open === open && this.#lastPlayActivitySeq === seen && !this.#ending) {
        this.#violation(
          `Play stream "${open.streamId}" was never stopped (idle for ${this.#timeoutMs} ms)`,
        );
        this.#open = undefined;
      }
    }
    if (this.#ending !== undefined) return;
    await this.#request(
      "stopped",
      { type: "userStream.stop", conversationId },
      "userStream.stopped",
    );
  }

  #isReply(stream: StreamState): boolean {
    const speechEnd = this.#speechEndSeq;
    if (speechEnd === undefined || stream.startSeq <= speechEnd) return false;
    // A bot that reports speech must have ended the caller's turn before replying; this keeps
    // a late greeting from counting as the reply when audio is sent faster than real time.
    return this.#sawSpeechStart ? stream.afterTurnEnd : true;
  }

  #replyDone(): boolean {
    return this.#open === undefined &&
      this.#streams.some((s) => s.stoppedAtMs !== undefined && this.#isReply(s));
  }

  async #hangUp(): Promise<void> {
    const socket = this.#socket;
    if (!socket) return;
    if (this.#opened && !this.#closed && this.#ending !== "session-error") {
      const reasonCode = this.#ending === "bot-hangup"
        ? "bot-disconnected"
        : this.#ending === "transfer"
        ? "transferred"
        : "client-disconnected";
      const reason = this.#ending === "aborted" ? "Simulator aborted" : "Client Side";
      this.#ending ??= "client";
      this.#send({ type: "session.end", conversationId: this.#conversationId, reasonCode, reason });
      this.#sentEnd = true;
      await this.#until(() => this.#closed, this.#o.lingerMs ?? 1000);
    }
    if (!this.#closed) {
      try {
        socket.close(1000, "call ended");
      } catch { /* already closing */ }
      await this.#until(() => this.#closed, this.#timeoutMs);
    }
  }

  async #report(): Promise<CallReport> {
    const playStreams = this.#streams.map((s): PlayStreamReport => ({
      streamId: s.streamId,
      mediaFormat: s.mediaFormat,
      altText: s.altText,
      startedAtMs: s.startedAtMs,
      firstChunkAtMs: s.firstChunkAtMs,
      lastChunkAtMs: s.lastChunkAtMs,
      stoppedAtMs: s.stoppedAtMs,
      chunks: s.chunks,
      bytes: s.bytes,
      audioMs: isAudioCodesFormat(s.mediaFormat)
        ? s.bytes / formatPlan(s.mediaFormat).bytesPerMs
        : 0,
      reply: this.#isReply(s),
    }));
    // Open at a hangup or transfer is flagged when it arrives; at a dropped socket, here.
    if (this.#open && this.#ending === "server-close") {
      this.#violation(`Play stream "${this.#open.streamId}" was never stopped`);
    }
    const reply = this.#streams.find((s) => this.#isReply(s) && s.firstChunkAtMs !== undefined);
    const replyStartAtMs = reply?.firstChunkAtMs;
    const format = this.#mediaFormat;
    const plan = format !== undefined && isAudioCodesFormat(format)
      ? formatPlan(format)
      : undefined;
    const violations = [...this.#violations].map(([message, count]) =>
      count > 1 ? `${message} (×${count})` : message
    );
    return {
      url: this.#url,
      conversationId: this.#conversationId,
      offeredFormats: this.#offered,
      mediaFormat: format,
      ok: violations.length === 0 && this.#error === undefined,
      endedBy: this.#ending ?? "client",
      error: this.#error,
      connectedAtMs: this.#connectedAtMs,
      acceptedAtMs: this.#acceptedAtMs,
      userStreamStartedAtMs: this.#startedAtMs,
      speechEndAtMs: this.#speechEndAtMs,
      replyStartAtMs,
      replyLatencyMs: replyStartAtMs !== undefined && this.#speechEndAtMs !== undefined
        ? replyStartAtMs - this.#speechEndAtMs
        : undefined,
      durationMs: this.#now(),
      sent: {
        chunks: this.#chunksSent,
        bytes: this.#bytesSent,
        audioMs: plan ? this.#bytesSent / plan.bytesPerMs : 0,
        dtmf: this.#dtmfSent,
      },
      playStreams,
      events: this.#events,
      timeline: this.#timeline,
      violations,
      botAudio: this.#record ? await this.#botAudio() : undefined,
    };
  }

  async #botAudio(): Promise<PcmAudio | undefined> {
    const parts: PcmAudio[] = [];
    for (const stream of this.#streams) {
      const format = stream.mediaFormat;
      if (!isAudioCodesFormat(format)) continue;
      parts.push(decodeFromFormat(concatBytes(stream.pieces), format));
    }
    const first = parts[0];
    if (!first) return undefined;
    const rate = first.sampleRate;
    let resamplers = this.#o.resamplers;
    const converted: Int16Array[] = [];
    for (const part of parts) {
      if (part.sampleRate !== rate) resamplers ??= await ResamplerFactory.load();
      converted.push((await resample(part, rate, resamplers)).samples);
    }
    const samples = new Int16Array(converted.reduce((n, c) => n + c.length, 0));
    let offset = 0;
    for (const c of converted) {
      samples.set(c, offset);
      offset += c.length;
    }
    return { sampleRate: rate, samples };
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------------------------------------
// terminal output

/** Prints timeline entries as lines, summarising audio chunks (every `every` and per stream). */
export interface TimelinePrinter {
  entry(entry: TimelineEntry): void;
  /** Prints summaries still pending (call at the end). */
  flush(): void;
}

interface ChunkRun {
  count: number;
  bytes: number;
  lastAtMs: number;
}

/** Creates a {@linkcode TimelinePrinter} that writes one line at a time. */
export function timelinePrinter(
  write: (line: string) => void,
  options: { every?: number } = {},
): TimelinePrinter {
  const every = options.every ?? 50;
  const formats = new Map<string, string>(); // streamId (or "" for the user stream) → format
  const runs = new Map<string, ChunkRun>();
  // Key of the chunk run printed last, if the last line was one: long quiet stretches (silence
  // while waiting) then print ten times less often.
  let lastRun: string | undefined;
  const line = (atMs: number, mark: string, text: string, run?: string) => {
    lastRun = run;
    write(`+${Math.round(atMs).toString().padStart(6)} ms  ${mark} ${text}`);
  };
  const flushRun = (key: string) => {
    const run = runs.get(key);
    if (!run || run.count === 0) return;
    const format = formats.get(key);
    const ms = format !== undefined && isAudioCodesFormat(format)
      ? `${Math.round(run.bytes / formatPlan(format).bytesPerMs)} ms, `
      : "";
    const [mark, type, id] = key === "" ? ["→", "userStream.chunk", ""] : [
      "←",
      "playStream.chunk",
      ` ${key}`,
    ];
    line(run.lastAtMs, mark, `${type} ×${run.count}${id} (${ms}${run.bytes} bytes)`, key);
    runs.delete(key);
  };
  const count = (key: string, entry: TimelineEntry) => {
    const run = runs.get(key) ?? { count: 0, bytes: 0, lastAtMs: 0 };
    run.count++;
    run.bytes += entry.bytes ?? 0;
    run.lastAtMs = entry.atMs;
    runs.set(key, run);
    if (run.count >= (lastRun === key ? every * 10 : every)) flushRun(key);
  };
  return {
    entry(entry) {
      if (entry.type === "userStream.chunk" && entry.direction === "sent") {
        count("", entry);
        return;
      }
      if (entry.type === "playStream.chunk" && entry.direction === "received") {
        count(entry.streamId ?? "?", entry);
        return;
      }
      const detail = entry.detail ?? {};
      if (entry.type === "session.accepted" && typeof detail.mediaFormat === "string") {
        formats.set("", detail.mediaFormat);
      }
      if (entry.type === "playStream.start" && typeof detail.mediaFormat === "string") {
        formats.set(entry.streamId ?? "?", detail.mediaFormat);
      }
      if (entry.type === "playStream.stop") flushRun(entry.streamId ?? "?");
      if (entry.direction === "sent" || entry.type === "close") flushRun("");
      switch (entry.direction) {
        case "local":
          if (entry.type === "violation") {
            line(entry.atMs, "!", `violation: ${String(detail.message)}`);
          } else {
            line(entry.atMs, "·", `${entry.type}${describe(detail)}`);
          }
          return;
        case "sent":
          line(entry.atMs, "→", `${entry.type}${describe(detail)}`);
          return;
        case "received":
          line(entry.atMs, "←", `${entry.type}${describe(detail)}`);
          return;
        default:
          entry.direction satisfies never;
      }
    },
    flush() {
      for (const key of [...runs.keys()]) flushRun(key);
    },
  };
}

function describe(detail: Readonly<Record<string, unknown>>): string {
  const text = brief(detail);
  if (text === "{}") return "";
  return ` ${text.length > 160 ? `${text.slice(0, 157)}...` : text}`;
}

function brief(value: unknown): string {
  if (typeof value === "string") {
    return /^[\w./:+@#*-]+$/.test(value) ? value : JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(brief).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    const fields = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{${fields.map(([k, v]) => `${k}: ${brief(v)}`).join(", ")}}`;
  }
  return String(value);
}

/** The report as plain JSON data: the bot's samples become their count and duration. */
export function jsonReport(report: CallReport): Record<string, unknown> {
  const { botAudio, ...rest } = report;
  return {
    ...rest,
    botAudio: botAudio && {
      sampleRate: botAudio.sampleRate,
      samples: botAudio.samples.length,
      ms: Math.round(botAudio.samples.length * 1000 / botAudio.sampleRate),
    },
  };
}

/** A human summary of a report, as lines. */
export function summaryLines(report: CallReport): string[] {
  const ms = (value: number | undefined) => value === undefined ? "-" : `+${Math.round(value)} ms`;
  const lines = [
    `Call ${report.conversationId} on ${report.url}: ${
      report.mediaFormat ? `accepted ${report.mediaFormat}` : "not accepted"
    }, ended by ${report.endedBy} after ${(report.durationMs / 1000).toFixed(2)} s`,
    `Sent ${report.sent.chunks} chunks (${Math.round(report.sent.audioMs)} ms of audio)${
      report.sent.dtmf.length ? `, DTMF ${report.sent.dtmf.join(" ")}` : ""
    }`,
  ];
  if (report.mediaFormat === undefined) return lines.slice(0, 1);
  if (report.playStreams.length === 0) lines.push("Play streams: none");
  else lines.push("Play streams:");
  for (const s of report.playStreams) {
    lines.push(
      `  ${s.streamId}  ${s.mediaFormat}  ${Math.round(s.audioMs)} ms  ${s.bytes} bytes  ` +
        `${s.chunks} chunks  start ${ms(s.startedAtMs)}  first ${ms(s.firstChunkAtMs)}  ` +
        `last ${ms(s.lastChunkAtMs)}  stop ${ms(s.stoppedAtMs)}${s.reply ? "  (reply)" : ""}${
          s.altText ? `  ${JSON.stringify(s.altText)}` : ""
        }`,
    );
  }
  if (report.events.length > 0) lines.push("Bot events:");
  for (const e of report.events) {
    const what = [e.type, e.name, e.text === undefined ? undefined : JSON.stringify(e.text)]
      .filter((part) => part !== undefined).join(" ");
    lines.push(`  ${ms(e.atMs).padStart(10)}  ${what}`);
  }
  if (report.replyLatencyMs !== undefined) {
    lines.push(`Reply latency: ${Math.round(report.replyLatencyMs)} ms after the caller's audio`);
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------
// CLI

const USAGE = `Usage: deno task call [options]

Plays AudioCodes VoiceAI Connect against a gateway: places one call, streams a WAV as the
caller, records the bot's audio and checks the protocol.

Options:
  --url URL              gateway WebSocket URL (default ${DEFAULT_URL})
  --token TOKEN          bearer token (default: $AUDIOCODES_BOT_TOKEN)
  --formats LIST         offered formats, comma-separated (default ${DEFAULT_OFFER.join(",")})
  --id ID                conversationId (default: random UUID)
  --caller NUMBER        caller number (default +15550100001)
  --callee NUMBER        callee number (default +15550100002)
  --bot-name NAME        botName (default simulator)
  --wav PATH             caller audio, any WAV (converted to the accepted format)
  --speed N              pacing, N x real time; 0 = as fast as possible (default 1)
  --frame-ms MS          duration of one userStream.chunk (default 20)
  --lead-silence-ms MS   silence before the audio (default 0)
  --tail-silence-ms MS   silence after the audio (default 1500)
  --text TEXT[@MS]       the caller sends TEXT (a message activity) at MS of the user stream,
                         repeatable; e.g. --text 'call get_balance {"account":"A-17"}' makes the
                         local engine call that tool
  --dtmf DIGITS[@MS]     press DIGITS at MS of the user stream (default: when the audio ends);
                         repeatable
  --wait-until WHAT      reply: stop when the bot's reply has played (default);
                         timeout: listen for the whole --wait-ms
  --wait-ms MS           longest wait after the audio (default 15000)
  --timeout-ms MS        longest wait for a protocol reply (default 5000)
  --out PATH             write the bot's audio as a WAV file
  --json                 print the report as JSON (the timeline goes to stderr)
  --quiet                no timeline
  -h, --help             this text

Exit code: 0 ok, 1 error (cannot connect, session.error, bad option), 2 protocol violations.`;

/** Runs the CLI with `args`; resolves with the exit code (0 ok, 1 error, 2 violations). */
export async function main(args: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCliArgs(args);
  } catch (error) {
    console.error(`${errorMessage(error)}\n\n${USAGE}`);
    return 1;
  }
  if (parsed === "help") {
    console.log(USAGE);
    return 0;
  }
  const { options, out, json, quiet } = parsed;
  const write = json ? (l: string) => console.error(l) : (l: string) => console.log(l);
  const printer = quiet ? undefined : timelinePrinter(write);
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  let report: CallReport;
  try {
    report = await runCall({
      ...options,
      signal: controller.signal,
      ...(printer ? { onEntry: (e: TimelineEntry) => printer.entry(e) } : {}),
    });
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    console.error(error.message);
    return 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
  printer?.flush();
  if (out !== undefined) {
    const format = report.mediaFormat;
    const audio = report.botAudio ?? {
      sampleRate: format !== undefined && isAudioCodesFormat(format)
        ? formatPlan(format).sampleRate
        : 16000,
      samples: new Int16Array(0),
    };
    await Deno.writeFile(out, encodeWav(audio.samples, audio.sampleRate));
    write(
      `Wrote ${out}: ${(audio.samples.length / audio.sampleRate).toFixed(2)} s at ` +
        `${audio.sampleRate} Hz`,
    );
  }
  if (json) console.log(JSON.stringify(jsonReport(report), null, 2));
  else for (const l of summaryLines(report)) console.log(l);
  if (report.error !== undefined) console.error(report.error);
  for (const v of report.violations) console.error(`Protocol violation: ${v}`);
  return report.violations.length > 0 ? 2 : report.error !== undefined ? 1 : 0;
}

interface CliArgs {
  readonly options: CallOptions;
  readonly out: string | undefined;
  readonly json: boolean;
  readonly quiet: boolean;
}

function parseCliArgs(args: readonly string[]): CliArgs | "help" {
  const { values } = parseArgs({
    args: [...args],
    strict: true,
    allowPositionals: false,
    options: {
      url: { type: "string" },
      token: { type: "string" },
      formats: { type: "string" },
      id: { type: "string" },
      caller: { type: "string" },
      callee: { type: "string" },
      "bot-name": { type: "string" },
      wav: { type: "string" },
      speed: { type: "string" },
      "frame-ms": { type: "string" },
      "lead-silence-ms": { type: "string" },
      "tail-silence-ms": { type: "string" },
      dtmf: { type: "string", multiple: true },
      text: { type: "string", multiple: true },
      "wait-until": { type: "string" },
      "wait-ms": { type: "string" },
      "timeout-ms": { type: "string" },
      out: { type: "string" },
      json: { type: "boolean" },
      quiet: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  const number = (name: string, value: string | undefined): number | undefined => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n < 0) {
      throw new TypeError(`Cannot parse --${name}: ${JSON.stringify(value)} is not a number >= 0`);
    }
    return n;
  };
  const waitUntil = values["wait-until"];
  if (waitUntil !== undefined && waitUntil !== "reply" && waitUntil !== "timeout") {
    throw new TypeError(
      `Cannot parse --wait-until: ${JSON.stringify(waitUntil)} is not reply or timeout`,
    );
  }
  const dtmf = (values.dtmf ?? []).map((spec): DtmfPress => {
    const match = spec.match(/^([0-9A-Da-d*#]+)(?:@(\d+))?$/);
    if (!match) {
      throw new TypeError(`Cannot parse --dtmf: ${JSON.stringify(spec)} is not DIGITS[@MS]`);
    }
    return match[2] === undefined
      ? { digits: match[1]! }
      : { digits: match[1]!, atMs: Number(match[2]) };
  });
  const texts = (values.text ?? []).map((spec): TextInput => {
    const match = spec.match(/^([\s\S]*?)(?:@(\d+))?$/);
    const text = match?.[1] ?? spec;
    if (text.trim() === "") throw new TypeError("Cannot parse --text: the text is empty");
    return match?.[2] === undefined ? { text } : { text, atMs: Number(match[2]) };
  });
  const formats = values.formats?.split(",").map((f) => f.trim()).filter((f) => f !== "");
  if (formats !== undefined && formats.length === 0) {
    throw new TypeError("Cannot parse --formats: the list is empty");
  }
  let audio: PcmAudio | undefined;
  if (values.wav !== undefined) {
    let bytes: Uint8Array;
    try {
      bytes = Deno.readFileSync(values.wav);
    } catch (cause) {
      throw new TypeError(
        `Cannot read --wav ${JSON.stringify(values.wav)}: ${errorMessage(cause)}`,
      );
    }
    audio = readWav(bytes);
  }
  const token = values.token ?? Deno.env.get("AUDIOCODES_BOT_TOKEN");
  const options: CallOptions = {
    ...(values.url === undefined ? {} : { url: values.url }),
    ...(token === undefined ? {} : { token }),
    ...(formats === undefined ? {} : { formats }),
    ...(values.id === undefined ? {} : { conversationId: values.id }),
    ...(values.caller === undefined ? {} : { caller: values.caller }),
    ...(values.callee === undefined ? {} : { callee: values.callee }),
    ...(values["bot-name"] === undefined ? {} : { botName: values["bot-name"] }),
    ...(audio === undefined ? {} : { audio }),
    speed: number("speed", values.speed),
    frameMs: number("frame-ms", values["frame-ms"]),
    leadSilenceMs: number("lead-silence-ms", values["lead-silence-ms"]),
    tailSilenceMs: number("tail-silence-ms", values["tail-silence-ms"]),
    dtmf,
    texts,
    waitUntil,
    waitMs: number("wait-ms", values["wait-ms"]),
    timeoutMs: number("timeout-ms", values["timeout-ms"]),
  };
  return { options, out: values.out, json: values.json ?? false, quiet: values.quiet ?? false };
}

if (import.meta.main) Deno.exit(await main(Deno.args));
