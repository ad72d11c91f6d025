/**
 * The registry of live AudioCodes conversations, keyed by `conversationId` (seed 000's
 * ConversationManager). A conversation outlives its socket: when the socket drops without
 * `session.end` it is kept for a resume grace period (§5.9), then released.
 */
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { LogLimits } from "../core/bounded_log.ts";
import { boundedLogger, clip } from "../core/bounded_log.ts";
import type { Tracer } from "../core/tracing.ts";
import { outcomeOf } from "../core/metrics.ts";
import { endSpan, gatewayTracer, logInContext, startScope } from "../core/tracing.ts";
import type { AudioCodesFormat } from "../protocol/media_format.ts";
import type { AgentSnapshot, CallRecord } from "../cluster/call_record.ts";
import type { ClaimResult } from "../cluster/call_cluster.ts";
import type { AgentFactory, CallSocket } from "./conversation.ts";
import { Conversation } from "./conversation.ts";

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
