/**
 * The registry of live AudioCodes conversations, keyed by `conversationId` (seed 000's
 * ConversationManager). A conversation outlives its socket: when the socket drops without
 * `session.end` it is kept for a resume grace period (§5.9), then released.
 */
import type { Clock, TimerId } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { Activity, BotMessage } from "./messages.ts";
import type { AudioCodesFormat } from "./media_format.ts";

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
}

/** What an agent sees of its conversation. */
export interface CallHandle {
  readonly conversationId: string;
  readonly mediaFormat: AudioCodesFormat;
  readonly caller: string | undefined;
  /** Call data from the `start` activity, once it arrived. */
  readonly callData: Readonly<Record<string, unknown>> | undefined;
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
  readonly log: Logger;
}

/** Builds the agent for a new conversation. */
export type AgentFactory = (call: CallHandle) => CallAgent;

/** Counters kept per conversation. */
export interface CallStats {
  chunksIn: number;
  bytesIn: number;
  chunksDropped: number;
  messagesOut: number;
}

/** One conversation in the registry. */
export class Conversation implements CallHandle {
  readonly conversationId: string;
  readonly mediaFormat: AudioCodesFormat;
  readonly caller: string | undefined;
  readonly botName: string | undefined;
  readonly createdAt: number;
  readonly events: CallEvent[] = [];
  readonly transcript: TranscriptEntry[] = [];
  readonly stats: CallStats = { chunksIn: 0, bytesIn: 0, chunksDropped: 0, messagesOut: 0 };
  readonly log: Logger;
  callData: Readonly<Record<string, unknown>> | undefined;
  phase: ConversationPhase = "live";
  updatedAt: number;
  socket: CallSocket | null;
  agent!: CallAgent;
  graceTimer: TimerId | undefined;
  #clock: Clock;
  #onEnd: (c: Conversation, reason: string) => void;

  constructor(options: {
    conversationId: string;
    mediaFormat: AudioCodesFormat;
    caller?: string;
    botName?: string;
    socket: CallSocket;
    clock: Clock;
    log: Logger;
    onEnd: (c: Conversation, reason: string) => void;
  }) {
    this.conversationId = options.conversationId;
    this.mediaFormat = options.mediaFormat;
    this.caller = options.caller;
    this.botName = options.botName;
    this.socket = options.socket;
    this.#clock = options.clock;
    this.log = options.log;
    this.#onEnd = options.onEnd;
    this.createdAt = this.updatedAt = options.clock.now();
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
    this.events.push({ at: this.#clock.now(), name, ...(value === undefined ? {} : { value }) });
    this.updatedAt = this.#clock.now();
  }

  transcribe(role: "caller" | "bot", text: string): void {
    this.transcript.push({ at: this.#clock.now(), role, text });
  }

  end(reason: string): void {
    this.#onEnd(this, reason);
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

/** Registry of conversations keyed by `conversationId`. */
export class ConversationManager {
  readonly #conversations = new Map<string, Conversation>();
  readonly #clock: Clock;
  readonly #graceMs: number;
  readonly #log: Logger;
  readonly #factory: AgentFactory;
  readonly #released = new Set<(c: Conversation, reason: string) => void>();

  constructor(options: { clock: Clock; graceMs: number; log: Logger; agents: AgentFactory }) {
    this.#clock = options.clock;
    this.#graceMs = options.graceMs;
    this.#log = options.log;
    this.#factory = options.agents;
  }

  /** Registers a new conversation and builds its agent. */
  add(options: {
    conversationId: string;
    mediaFormat: AudioCodesFormat;
    caller?: string;
    botName?: string;
    socket: CallSocket;
  }): Conversation {
    if (this.#conversations.has(options.conversationId)) {
      throw new RangeError(`Cannot add conversation: "${options.conversationId}" exists`);
    }
    const conversation = new Conversation({
      ...options,
      clock: this.#clock,
      log: this.#log.child({ conversationId: options.conversationId }),
      onEnd: (c, reason) => void this.remove(c.conversationId, reason),
    });
    this.#conversations.set(options.conversationId, conversation);
    conversation.agent = this.#factory(conversation);
    conversation.log.info({ mediaFormat: options.mediaFormat }, "Call accepted");
    return conversation;
  }

  /** The conversation with that id, if it is live or resumable. */
  get(conversationId: string): Conversation | undefined {
    return this.#conversations.get(conversationId);
  }

  /** All conversations in the registry. */
  list(): Conversation[] {
    return [...this.#conversations.values()];
  }

  /** Number of conversations in the registry. */
  get size(): number {
    return this.#conversations.size;
  }

  /** The socket dropped without `session.end`: keep the call for the grace period. */
  detach(conversationId: string, socket: CallSocket): void {
    const conversation = this.#conversations.get(conversationId);
    if (!conversation || conversation.socket !== socket || conversation.phase !== "live") return;
    conversation.socket = null;
    conversation.phase = "detached";
    conversation.updatedAt = this.#clock.now();
    conversation.log.info({ graceMs: this.#graceMs }, "Call socket dropped; waiting for resume");
    conversation.agent.detached();
    conversation.graceTimer = this.#clock.setTimeout(() => {
      conversation.graceTimer = undefined;
      void this.remove(conversationId, "resume grace period expired");
    }, this.#graceMs);
  }

  /** A `session.resume` re-attaches a new socket. */
  attach(conversationId: string, socket: CallSocket): Conversation | undefined {
    const conversation = this.#conversations.get(conversationId);
    if (!conversation || conversation.phase === "ended") return undefined;
    if (conversation.graceTimer !== undefined) this.#clock.clearTimeout(conversation.graceTimer);
    conversation.graceTimer = undefined;
    const previous = conversation.socket;
    conversation.socket = socket;
    conversation.phase = "live";
    conversation.updatedAt = this.#clock.now();
    if (previous && previous !== socket) previous.close(1000, "conversation resumed elsewhere");
    conversation.log.info({}, "Call resumed");
    conversation.agent.resumed();
    return conversation;
  }

  /** Ends and unregisters a conversation, closing its agent. */
  async remove(conversationId: string, reason: string): Promise<void> {
    const conversation = this.#conversations.get(conversationId);
    if (!conversation || conversation.phase === "ended") return;
    conversation.phase = "ended";
    if (conversation.graceTimer !== undefined) this.#clock.clearTimeout(conversation.graceTimer);
    conversation.graceTimer = undefined;
    this.#conversations.delete(conversationId);
    conversation.log.info({
      reason,
      durationMs: this.#clock.now() - conversation.createdAt,
      stats: conversation.stats,
      events: conversation.events.length,
      transcript: conversation.transcript,
    }, "Call ended");
    for (const listener of this.#released) listener(conversation, reason);
    await conversation.agent.close(reason);
  }

  /** Subscribes to conversation releases (tests, metrics). Returns an unsubscribe function. */
  onRelease(listener: (c: Conversation, reason: string) => void): () => void {
    this.#released.add(listener);
    return () => this.#released.delete(listener);
  }

  /** Ends every conversation (shutdown). */
  async close(): Promise<void> {
    await Promise.all(this.list().map((c) => this.remove(c.conversationId, "gateway shutdown")));
  }
}
