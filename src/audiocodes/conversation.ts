/**
 * One AudioCodes conversation (a phone call) and what it is made of: the socket that carries it,
 * the agent that drives it (the Bridge in production), what the agent sees of it
 * ({@linkcode CallHandle}), its events, transcript and counters. The registry of conversations
 * is `conversation_manager.ts`.
 */
import type { Clock, TimerId } from "../core/clock.ts";
import { guardedClock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import { clip } from "../core/bounded_log.ts";
import type { TraceScope } from "../core/tracing.ts";
import type { Activity, BotMessage } from "../protocol/audiocodes.ts";
import type { AudioCodesFormat } from "../protocol/media_format.ts";
import type { AgentSnapshot } from "../cluster/call_record.ts";

/** Where a conversation is in its life. */
export type ConversationPhase = "live" | "detached" | "ended";

/** One thing that happened on the call (activities from VAIC, bot actions). */
export interface CallEvent {
  readonly at: number;
  readonly name: string;
  readonly value?: unknown;
}

/** One line of the call transcript. */
export interface TranscriptEntry {
  readonly at: number;
  readonly role: "caller" | "bot";
  readonly text: string;
}

/** The outbound side of a socket: sends one message. */
export interface CallSocket {
  send(message: BotMessage): void;
  /** Sends an already serialised message (hot path: play-stream chunks). */
  sendText(frame: string): void;
  close(code: number, reason: string): void;
}

/**
 * What drives a call: the Bridge in production. The conversation hands it caller audio and
 * activities; it answers through {@linkcode CallHandle.send}.
 */
export interface CallAgent {
  /** Caller audio, base64 in the accepted format, exactly as VAIC sent it. */
  audio(audioChunk: string): void;
  /** A user stream opened or closed. */
  userStream(open: boolean, participant?: string): void;
  /** An activity from VAIC (`start`, `DTMF`, `hangup`, …). */
  activity(activity: Activity): void;
  /** The socket to VAIC dropped (the call may resume). */
  detached(): void;
  /** A new socket carries the call again after `session.resume`. */
  resumed(): void;
  /** The call is over: release everything. Never throws. */
  close(reason: string): Promise<void>;
  /** What another instance needs to continue the call (the shared registry writes it). */
  snapshot?(): AgentSnapshot;
}

/** What an agent sees of its conversation. */
export interface CallHandle {
  readonly conversationId: string;
  readonly mediaFormat: AudioCodesFormat;
  readonly caller: string | undefined;
  /** VAIC's `botName` of `session.initiate`. */
  readonly botName: string | undefined;
  /** Call data from the `start` activity, once it arrived. */
  readonly callData: Readonly<Record<string, unknown>> | undefined;
  /** The agent state carried over when the call was taken over from another instance. */
  readonly restored: AgentSnapshot | undefined;
  /** A turn boundary: the shared registry (if any) writes the call's record. Never per frame. */
  checkpoint(): void;
  /** Sends to VAIC if a socket is attached; returns false when the message was dropped. */
  send(message: BotMessage): boolean;
  /** Sends an already serialised message; false when dropped. */
  sendText(frame: string): boolean;
  /** Whether a socket is attached. */
  readonly attached: boolean;
  /** Records a call event (bot side: hangup, transfer, …). */
  record(name: string, value?: unknown): void;
  /** Adds a transcript line. */
  transcribe(role: "caller" | "bot", text: string): void;
  /** Ends the conversation from the bot side (after a hangup was sent, or on a fatal error). */
  end(reason: string): void;
  /**
   * An internal error inside this call: logs it with the stack, hangs up with a reason and
   * releases the call. Never throws; the process and other calls go on.
   */
  fail(error: unknown, where: string): void;
  /** The call's clock: its timer callbacks cannot throw into the event loop (they fail the call). */
  readonly clock: Clock;
  /** The call's trace span (turns and upstream connections are its children). */
  readonly trace: TraceScope;
  readonly log: Logger;
}

/** Builds the agent for a new conversation. */
export type AgentFactory = (call: CallHandle) => CallAgent;

/** Counters kept per conversation. */
export interface CallStats {
  chunksIn: number;
  bytesIn: number;
  chunksDropped: number;
  /** Frames dropped by the per-socket message-rate limit. */
  rateDropped: number;
  /** Frames refused as malformed. */
  badFrames: number;
  messagesOut: number;
}

/** Characters of an event value kept (values are for diagnosis, not a record of the call). */
const EVENT_VALUE_CHARS = 64;

/** One conversation in the registry. */
export class Conversation implements CallHandle {
  readonly conversationId: string;
  readonly mediaFormat: AudioCodesFormat;
  readonly caller: string | undefined;
  readonly botName: string | undefined;
  readonly createdAt: number;
  readonly events: CallEvent[] = [];
  /** Call events dropped over the limit. */
  eventsDropped = 0;
  readonly transcript: TranscriptEntry[] = [];
  /** Transcript lines per side, kept whether or not the text is. */
  readonly turns = { caller: 0, bot: 0 };
  readonly stats: CallStats = {
    chunksIn: 0,
    bytesIn: 0,
    chunksDropped: 0,
    rateDropped: 0,
    badFrames: 0,
    messagesOut: 0,
  };
  readonly log: Logger;
  readonly clock: Clock;
  readonly trace: TraceScope;
  callData: Readonly<Record<string, unknown>> | undefined;
  readonly restored: AgentSnapshot | undefined;
  phase: ConversationPhase = "live";
  updatedAt: number;
  socket: CallSocket | null;
  agent!: CallAgent;
  graceTimer: TimerId | undefined;
  maxTimer: TimerId | undefined;
  #clock: Clock;
  #maxEvents: number;
  #keepTranscript: boolean;
  #onEnd: (c: Conversation, reason: string) => void;
  #onFail: (c: Conversation, error: unknown, where: string) => void;
  #onCheckpoint: ((c: Conversation) => void) | undefined;

  constructor(options: {
    conversationId: string;
    mediaFormat: AudioCodesFormat;
    caller?: string;
    botName?: string;
    socket: CallSocket;
    clock: Clock;
    log: Logger;
    trace: TraceScope;
    maxEvents: number;
    keepTranscript: boolean;
    onEnd: (c: Conversation, reason: string) => void;
    onFail: (c: Conversation, error: unknown, where: string) => void;
    onCheckpoint?: (c: Conversation) => void;
    restored?: AgentSnapshot;
    callData?: Readonly<Record<string, unknown>>;
    createdAt?: number;
  }) {
    this.conversationId = options.conversationId;
    this.restored = options.restored;
    this.callData = options.callData;
    this.#onCheckpoint = options.onCheckpoint;
    this.mediaFormat = options.mediaFormat;
    this.caller = options.caller;
    this.botName = options.botName;
    this.socket = options.socket;
    this.#clock = options.clock;
    this.#maxEvents = options.maxEvents;
    this.#keepTranscript = options.keepTranscript;
    this.log = options.log;
    this.trace = options.trace;
    this.#onEnd = options.onEnd;
    this.#onFail = options.onFail;
    this.clock = guardedClock(options.clock, (error) => this.fail(error, "timer"));
    this.updatedAt = options.clock.now();
    this.createdAt = options.createdAt ?? this.updatedAt;
  }

  get attached(): boolean {
    return this.socket !== null && this.phase === "live";
  }

  send(message: BotMessage): boolean {
    if (!this.socket || this.phase !== "live") return false;
    this.socket.send(message);
    this.stats.messagesOut++;
    return true;
  }

  sendText(frame: string): boolean {
    if (!this.socket || this.phase !== "live") return false;
    this.socket.sendText(frame);
    this.stats.messagesOut++;
    return true;
  }

  record(name: string, value?: unknown): void {
    // Bounded: the newest events, names cut, values only as short strings (no payloads).
    if (this.events.length >= this.#maxEvents) {
      this.events.shift();
      this.eventsDropped++;
    }
    const shown = value === undefined ? undefined : eventValue(value);
    this.events.push({
      at: this.#clock.now(),
      name: clip(name, EVENT_VALUE_CHARS),
      ...(shown === undefined ? {} : { value: shown }),
    });
    this.updatedAt = this.#clock.now();
  }

  transcribe(role: "caller" | "bot", text: string): void {
    this.turns[role]++;
    // Kept only when transcripts are logged (LOG_TRANSCRIPTS): caller speech is personal data.
    if (!this.#keepTranscript) return;
    if (this.transcript.length >= this.#maxEvents) this.transcript.shift();
    this.transcript.push({ at: this.#clock.now(), role, text: clip(text, 1000) });
  }

  end(reason: string): void {
    this.#onEnd(this, reason);
  }

  checkpoint(): void {
    if (this.phase !== "ended") this.#onCheckpoint?.(this);
  }

  fail(error: unknown, where: string): void {
    this.#onFail(this, error, where);
  }

  /** A summary for `/health` and logs (no audio, no secrets). */
  summary(): Record<string, unknown> {
    return {
      conversationId: this.conversationId,
      phase: this.phase,
      mediaFormat: this.mediaFormat,
      caller: this.caller,
      createdAt: new Date(this.createdAt).toISOString(),
      stats: { ...this.stats },
    };
  }
}

function eventValue(value: unknown): unknown {
  if (typeof value === "string") return clip(value, EVENT_VALUE_CHARS);
  if (typeof value === "number" || typeof value === "boolean" || value === null) return value;
  if (typeof value !== "object") return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value).slice(0, 4)) {
    if (typeof v === "string") out[clip(key, 32)] = clip(v, EVENT_VALUE_CHARS);
    else if (typeof v === "number" || typeof v === "boolean") out[clip(key, 32)] = v;
  }
  return out;
}
