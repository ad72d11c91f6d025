/**
 * The registry of live AudioCodes conversations, keyed by `conversationId` (seed 000's
 * ConversationManager). A conversation outlives its socket: when the socket drops without
 * `session.end` it is kept for a resume grace period (§5.9), then released.
 */
import type { Clock, TimerId } from "../core/clock.ts";
import { guardedClock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { LogLimits } from "../core/bounded_log.ts";
import { boundedLogger, clip } from "../core/bounded_log.ts";
import type { Tracer, TraceScope } from "../core/tracing.ts";
import { outcomeOf } from "../core/metrics.ts";
import { endSpan, gatewayTracer, logInContext, startScope } from "../core/tracing.ts";
import type { Activity, BotMessage } from "../protocol/audiocodes.ts";
import type { AudioCodesFormat } from "../protocol/media_format.ts";
import type { AgentSnapshot, CallRecord } from "../cluster/call_record.ts";
import type { ClaimResult } from "../cluster/call_cluster.ts";

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

/**
 * The registry shared by every instance (Redis, `REDIS_URL`): told when a call opens, reaches a
 * turn boundary and ends; asked to claim a call that a resume names.
 */
export interface SharedRegistry {
  opened(conversationId: string): void;
  checkpoint(conversationId: string): void;
  /** `handedOver`: another instance owns the call now, its record stays. */
  released(conversationId: string, handedOver: boolean): void;
  claim(conversationId: string): Promise<ClaimResult>;
}

/** How a resume through the shared registry ended. */
export type ClusterResume =
  | { readonly ok: true; readonly conversation: Conversation }
  | { readonly ok: false; readonly reason: string };

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

/** Limits of the registry and of each call (see README, Security). */
export interface CallLimits {
  /** Call events kept per call (oldest dropped). */
  readonly maxEvents: number;
  /** Longest phone call; the bot hangs up then. */
  readonly maxCallMs: number;
  /** Per-call log limits. */
  readonly log: Omit<LogLimits, "now">;
  /** Caller and bot transcripts in the call summary. */
  readonly logTranscripts: boolean;
}

/** Registry-wide counters (tests, `/health`, metrics). */
export interface RegistryStats {
  accepted: number;
  ended: number;
  internalErrors: number;
  /** Calls resumed here from another instance (shared registry only). */
  takenOver?: number;
  /** Calls resumed on another instance and released here (shared registry only). */
  handedOver?: number;
}

const DEFAULT_LIMITS: CallLimits = {
  maxEvents: 200,
  maxCallMs: 4 * 3600 * 1000,
  log: { maxValueChars: 200, linesPerSecond: 10 },
  logTranscripts: false,
};

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

/** Registry of conversations keyed by `conversationId`. */
export class ConversationManager {
  readonly #conversations = new Map<string, Conversation>();
  readonly #clock: Clock;
  readonly #graceMs: number;
  readonly #log: Logger;
  readonly #factory: AgentFactory;
  readonly #released = new Set<(c: Conversation, reason: string) => void>();
  readonly #limits: CallLimits;
  readonly #tracer: Tracer;
  readonly #registry: SharedRegistry | undefined;
  /** Calls handed to another instance: released here without touching the shared registry. */
  readonly #handedOver = new Set<string>();
  /** Registry-wide counters (`takenOver`: calls resumed here from another instance). */
  readonly stats: RegistryStats = { accepted: 0, ended: 0, internalErrors: 0 };

  constructor(options: {
    clock: Clock;
    graceMs: number;
    log: Logger;
    agents: AgentFactory;
    limits?: Partial<CallLimits>;
    tracer?: Tracer;
    /** The registry shared across instances (Redis); none: this instance only. */
    registry?: SharedRegistry;
  }) {
    this.#registry = options.registry;
    this.#tracer = options.tracer ?? gatewayTracer();
    this.#clock = options.clock;
    this.#graceMs = options.graceMs;
    this.#log = options.log;
    this.#factory = options.agents;
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits };
  }

  /** Whether calls are shared with other instances (a resume then claims them). */
  get shared(): boolean {
    return this.#registry !== undefined;
  }

  /** Registers a new conversation and builds its agent. */
  add(options: {
    conversationId: string;
    mediaFormat: AudioCodesFormat;
    caller?: string;
    botName?: string;
    socket: CallSocket;
  }): Conversation {
    const conversation = this.#build(options);
    this.stats.accepted++;
    conversation.log.info({ mediaFormat: options.mediaFormat }, "Call accepted");
    this.#registry?.opened(options.conversationId);
    return conversation;
  }

  #build(options: {
    conversationId: string;
    mediaFormat: AudioCodesFormat;
    caller?: string;
    botName?: string;
    socket: CallSocket;
    restored?: AgentSnapshot;
    callData?: Readonly<Record<string, unknown>>;
    createdAt?: number;
  }): Conversation {
    if (this.#conversations.has(options.conversationId)) {
      throw new RangeError(`Cannot add conversation: "${options.conversationId}" exists`);
    }
    const clock = this.#clock;
    const trace = startScope(this.#tracer, "call", {
      "call.conversation_id": options.conversationId,
      "call.media_format": options.mediaFormat,
      ...(options.botName === undefined ? {} : { "call.bot_name": clip(options.botName, 128) }),
    });
    const conversation = new Conversation({
      ...options,
      clock,
      trace,
      log: logInContext(
        boundedLogger(this.#log, { ...this.#limits.log, now: () => clock.monotonic() })
          .child({ conversationId: options.conversationId }),
        trace.context,
      ),
      maxEvents: this.#limits.maxEvents,
      keepTranscript: this.#limits.logTranscripts,
      onEnd: (c, reason) => void this.remove(c.conversationId, reason),
      onFail: (c, error, where) => this.#fail(c, error, where),
      ...(this.#registry
        ? { onCheckpoint: (c: Conversation) => this.#registry?.checkpoint(c.conversationId) }
        : {}),
    });
    this.#conversations.set(options.conversationId, conversation);
    try {
      conversation.agent = this.#factory(conversation);
    } catch (error) {
      this.#conversations.delete(options.conversationId);
      conversation.phase = "ended";
      endSpan(trace.span, { "call.outcome": "internal_error" }, "agent could not be built");
      throw error;
    }
    // A call taken over keeps its age: the limit counts from when it began elsewhere.
    const age = clock.now() - conversation.createdAt;
    conversation.maxTimer = conversation.clock.setTimeout(() => {
      conversation.maxTimer = undefined;
      this.#hangUp(conversation, "maximum call duration reached");
    }, Math.max(0, this.#limits.maxCallMs - age));
    return conversation;
  }

  /** What another instance needs to continue a call here; undefined when it is not here. */
  record(conversationId: string): { record: CallRecord; attached: boolean } | undefined {
    const c = this.#conversations.get(conversationId);
    if (!c || c.phase === "ended") return undefined;
    const agent = c.agent.snapshot?.();
    return {
      attached: c.attached,
      record: {
        conversationId: c.conversationId,
        mediaFormat: c.mediaFormat,
        ...(c.caller === undefined ? {} : { caller: c.caller }),
        ...(c.botName === undefined ? {} : { botName: c.botName }),
        ...(c.callData === undefined ? {} : { callData: { ...c.callData } }),
        createdAt: c.createdAt,
        savedAt: this.#clock.now(),
        ...(agent === undefined ? {} : { agent }),
      },
    };
  }

  /**
   * A `session.resume` through the shared registry: claims the call (waiting, within a bound,
   * for a live owner's lease to lapse), then attaches it here — the local call, or one rebuilt
   * from its record when another instance owned it (that instance is told to let go).
   */
  async claimResume(conversationId: string, socket: CallSocket): Promise<ClusterResume> {
    const registry = this.#registry;
    if (!registry) throw new TypeError("Cannot claim a call: no shared registry");
    if (this.#conversations.get(conversationId)?.attached) {
      return { ok: false, reason: "Cannot resume call: its socket is still connected" };
    }
    const outcome = await registry.claim(conversationId);
    const local = this.#conversations.get(conversationId);
    const attachLocal = (): ClusterResume => {
      const conversation = this.attach(conversationId, socket);
      return conversation
        ? { ok: true, conversation }
        : { ok: false, reason: "Cannot resume call: its socket is still connected" };
    };
    switch (outcome.kind) {
      case "unavailable":
        // Degraded: a call still here resumes here; one elsewhere cannot be reached.
        if (local) return attachLocal();
        this.#log.warn({ conversationId, detail: outcome.detail }, "Refused resume: no registry");
        return {
          ok: false,
          reason: "Cannot resume call: the call registry is unreachable (Redis down)",
        };
      case "missing":
        // Not in the registry (never written while Redis was down): only this instance knows it.
        if (local) return attachLocal();
        return { ok: false, reason: "conversation not found" };
      case "attached":
        return { ok: false, reason: "Cannot resume call: its socket is still connected" };
      case "claimed": {
        if (local && outcome.fromSelf) return attachLocal();
        if (local) {
          // Ours once, then another instance's: the local copy is stale.
          this.handOver(conversationId, "resumed on another instance");
        }
        const record = outcome.record;
        if (!record) {
          registry.released(conversationId, false);
          return { ok: false, reason: "conversation not found" };
        }
        return { ok: true, conversation: this.#adopt(record, socket) };
      }
      default:
        return outcome satisfies never;
    }
  }

  /** Rebuilds a call from another instance's record, on this socket. */
  #adopt(record: CallRecord, socket: CallSocket): Conversation {
    const conversation = this.#build({
      conversationId: record.conversationId,
      mediaFormat: record.mediaFormat,
      socket,
      createdAt: record.createdAt,
      ...(record.caller === undefined ? {} : { caller: record.caller }),
      ...(record.botName === undefined ? {} : { botName: record.botName }),
      ...(record.callData === undefined ? {} : { callData: record.callData }),
      ...(record.agent === undefined ? {} : { restored: record.agent }),
    });
    this.stats.takenOver = (this.stats.takenOver ?? 0) + 1;
    conversation.log.info({
      mediaFormat: record.mediaFormat,
      historyTurns: record.agent?.history.length ?? 0,
    }, "Call taken over from another instance");
    conversation.trace.span.addEvent("taken over");
    conversation.checkpoint();
    return conversation;
  }

  /**
   * Another instance owns the call now (it was resumed there): release it here — upstream,
   * timers, socket — and leave its shared record alone.
   */
  handOver(conversationId: string, reason: string): void {
    const conversation = this.#conversations.get(conversationId);
    if (!conversation || conversation.phase === "ended") return;
    this.#handedOver.add(conversationId);
    conversation.socket?.close(1000, "conversation resumed elsewhere");
    void this.remove(conversationId, reason);
  }

  /** Sends VAIC a `hangup` activity (a reason it shows) and releases the call. */
  #hangUp(conversation: Conversation, reason: string): void {
    if (conversation.phase === "ended") return;
    try {
      conversation.record("hangup", { reason });
      conversation.send({
        type: "activities",
        activities: [{ type: "event", name: "hangup", activityParams: { hangupReason: reason } }],
      });
    } catch {
      // The socket is gone; the call is released below all the same.
    }
    void this.remove(conversation.conversationId, reason);
  }

  #fail(conversation: Conversation, error: unknown, where: string): void {
    if (conversation.phase === "ended") return;
    this.stats.internalErrors++;
    try {
      conversation.log.error({
        where,
        err: error instanceof Error
          ? { message: error.message, stack: error.stack }
          : String(error),
      }, "Ending call: internal error");
    } catch {
      // Logging must not stop the call from ending.
    }
    this.#hangUp(conversation, "internal error");
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
    conversation.trace.span.addEvent("socket dropped");
    try {
      conversation.agent.detached();
    } catch (error) {
      this.#fail(conversation, error, "detach");
      return;
    }
    conversation.graceTimer = this.#clock.setTimeout(() => {
      conversation.graceTimer = undefined;
      void this.remove(conversationId, "resume grace period expired");
    }, this.#graceMs);
    // Detached: another instance may now claim it.
    conversation.checkpoint();
  }

  /** A `session.resume` re-attaches a new socket; a call whose socket is still live is refused. */
  attach(conversationId: string, socket: CallSocket): Conversation | undefined {
    const conversation = this.#conversations.get(conversationId);
    if (!conversation || conversation.phase === "ended") return undefined;
    if (conversation.phase === "live" && conversation.socket !== null) return undefined;
    if (conversation.graceTimer !== undefined) this.#clock.clearTimeout(conversation.graceTimer);
    conversation.graceTimer = undefined;
    const previous = conversation.socket;
    conversation.socket = socket;
    conversation.phase = "live";
    conversation.updatedAt = this.#clock.now();
    if (previous && previous !== socket) previous.close(1000, "conversation resumed elsewhere");
    conversation.log.info({}, "Call resumed");
    conversation.trace.span.addEvent("resumed");
    try {
      conversation.agent.resumed();
    } catch (error) {
      this.#fail(conversation, error, "resume");
      return undefined;
    }
    conversation.checkpoint();
    return conversation;
  }

  /** Ends and unregisters a conversation, closing its agent. */
  async remove(conversationId: string, reason: string): Promise<void> {
    const conversation = this.#conversations.get(conversationId);
    if (!conversation || conversation.phase === "ended") return;
    conversation.phase = "ended";
    if (conversation.graceTimer !== undefined) this.#clock.clearTimeout(conversation.graceTimer);
    if (conversation.maxTimer !== undefined) this.#clock.clearTimeout(conversation.maxTimer);
    conversation.graceTimer = conversation.maxTimer = undefined;
    this.#conversations.delete(conversationId);
    this.stats.ended++;
    const handedOver = this.#handedOver.delete(conversationId);
    if (handedOver) this.stats.handedOver = (this.stats.handedOver ?? 0) + 1;
    try {
      this.#registry?.released(conversationId, handedOver);
    } catch (error) {
      this.#log.error({ err: String(error) }, "Failed to release a call from the registry");
    }
    try {
      conversation.log.info({
        reason,
        durationMs: this.#clock.now() - conversation.createdAt,
        stats: conversation.stats,
        events: conversation.events.length + conversation.eventsDropped,
        callerTurns: conversation.turns.caller,
        botTurns: conversation.turns.bot,
        ...(this.#limits.logTranscripts ? { transcript: conversation.transcript } : {}),
      }, "Call ended");
      for (const listener of this.#released) listener(conversation, reason);
    } catch (error) {
      this.stats.internalErrors++;
      this.#log.error({ err: String(error) }, "Failed to report an ended call");
    }
    try {
      await conversation.agent.close(reason);
    } catch (error) {
      this.stats.internalErrors++;
      conversation.log.error({ err: String(error) }, "Failed to close a call's agent");
    }
    const outcome = outcomeOf(reason);
    endSpan(conversation.trace.span, {
      "call.outcome": outcome,
      "call.end_reason": clip(reason, 128),
      "call.duration_ms": this.#clock.now() - conversation.createdAt,
      "call.turns.caller": conversation.turns.caller,
      "call.turns.bot": conversation.turns.bot,
    }, outcome === "internal_error" || outcome === "upstream_failed" ? reason : undefined);
  }

  /**
   * Hangs up every call with `reason` (a `hangup` activity VAIC shows) and releases it: the end
   * of a drain. Detached calls are released (no socket to tell).
   */
  async hangUpAll(reason: string): Promise<void> {
    const calls = this.list();
    for (const conversation of calls) this.#hangUp(conversation, reason);
    await Promise.all(calls.map((c) => this.remove(c.conversationId, reason)));
  }

  /** Resolves once no conversation is left (or at once when there is none). */
  whenEmpty(): Promise<void> {
    if (this.#conversations.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const off = this.onRelease(() => {
        if (this.#conversations.size > 0) return;
        off();
        resolve();
      });
    });
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
