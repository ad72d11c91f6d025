/** The simulator's vocabulary: call options, timeline entries and the call report. */
import type { Clock } from "../../core/clock.ts";
import type { AudioCodesFormat } from "../../protocol/media_format.ts";
import type { BotMessage } from "../../protocol/audiocodes.ts";
import type { ResamplerFactory } from "../../audio/resampler.ts";
import type { PcmAudio } from "../../audio/wav.ts";

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
