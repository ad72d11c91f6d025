/**
 * Response sequencing, as a state machine without I/O: one in-band response at a time (§5.6
 * pitfalls), a request made meanwhile deferred until the active one is done, a turn the server
 * could not answer (committed while a response was active) answered then, a reply lost with the
 * upstream asked for again on the next session, and a response cut by barge-in discarded.
 *
 * The Bridge asks it what to do and does the sending; every decision is a return value.
 */
import type { ResponseParams } from "../protocol/openai_realtime_client.ts";

/** The in-band response, if one is under way. */
export type ResponsePhase =
  | { readonly phase: "idle" }
  | {
    readonly phase: "generating";
    readonly responseId: string;
    /** The overrides it was asked with (undefined: none, or the server's own VAD response). */
    readonly params: ResponseParams | undefined;
    /** Cut by barge-in: its remaining output is dropped, and it is never asked for again. */
    readonly cancelled: boolean;
  };

/** A response to ask for: its overrides, or none. */
export interface ResponseRequest {
  readonly params: ResponseParams | undefined;
}

/** What to ask for once a session is ready. */
export type OnReady =
  | { readonly kind: "resume"; readonly params: ResponseParams | undefined }
  | { readonly kind: "deferred"; readonly params: ResponseParams | undefined }
  | undefined;

/** What a `response.done` of the active response leads to. */
export type AfterDone =
  | { readonly kind: "request"; readonly params: ResponseParams | undefined }
  | { readonly kind: "none" };

/** Responses remembered for {@linkcode ResponseSequencer.hadAudio}. */
const AUDIO_RESPONSES_KEPT = 64;

/** The response state of one call. */
export class ResponseSequencer {
  #phase: ResponsePhase = { phase: "idle" };
  /** A `response.create` sent and not yet answered by `response.created`. */
  #requested: ResponseRequest | undefined;
  /** A request made while a response was active: sent once it is done (the latest wins). */
  #deferred: ResponseRequest | undefined;
  /** A reply lost with the upstream, asked for again once a new session is ready. */
  #resume: ResponseRequest | undefined;
  /** A user turn was committed while a response was active, so the server may not answer it. */
  #unansweredTurn = false;
  /** The latest responses that played audio. */
  readonly #withAudio = new Set<string>();

  /** The in-band response state. */
  get phase(): ResponsePhase {
    return this.#phase;
  }

  /** The id of the in-band response being generated, if any. */
  get activeId(): string | undefined {
    return this.#phase.phase === "generating" ? this.#phase.responseId : undefined;
  }

  /** Nothing asked for, under way, deferred, to resume or unanswered. */
  get settled(): boolean {
    return this.#phase.phase === "idle" && this.#requested === undefined &&
      this.#deferred === undefined && this.#resume === undefined && !this.#unansweredTurn;
  }

  /**
   * A response is wanted: true when it is to be sent now (then call {@linkcode sent}); false
   * when it waits for the active one, for one asked for and not yet created, or behind an already
   * deferred one (the service refuses a second `response.create` meanwhile).
   */
  request(params: ResponseParams | undefined): boolean {
    if (
      this.#phase.phase === "generating" || this.#deferred !== undefined ||
      this.#requested !== undefined
    ) {
      this.#deferred = { params };
      return false;
    }
    return true;
  }

  /** A `response.create` went out (or waits for the upstream) with these overrides. */
  sent(params: ResponseParams | undefined): void {
    this.#requested = { params };
  }

  /** The upstream refused a `response.create`: nothing is asked for any more. */
  refused(): void {
    this.#requested = undefined;
  }

  /**
   * The request in flight was answered without an in-band response (refused, or created out of
   * band): the deferred request to send now, if nothing else is under way.
   */
  freed(): ResponseRequest | undefined {
    if (this.#phase.phase === "generating" || this.#requested !== undefined) return undefined;
    const deferred = this.#deferred;
    this.#deferred = undefined;
    return deferred;
  }

  /** `response.created`: true when it is in-band (ours to play and track). */
  created(responseId: string, inBand: boolean): boolean {
    const requested = this.#requested;
    this.#requested = undefined;
    if (!inBand) return false;
    this.#phase = {
      phase: "generating",
      responseId,
      params: requested?.params,
      cancelled: false,
    };
    this.#unansweredTurn = false;
    return true;
  }

  /** `input_audio_buffer.committed`; `autoResponds`: the session's VAD answers turns. */
  committed(autoResponds: boolean): void {
    if (this.#phase.phase === "generating" && autoResponds) this.#unansweredTurn = true;
  }

  /**
   * Barge-in: the id of the response to cancel, if one is being generated and not cancelled yet
   * (now discarded; a second barge-in before its `response.done` sends no second cancel).
   */
  cancel(): string | undefined {
    if (this.#phase.phase !== "generating" || this.#phase.cancelled) return undefined;
    this.#phase = { ...this.#phase, cancelled: true };
    return this.#phase.responseId;
  }

  /** Output of this response is to be dropped (barge-in cut it). */
  discarded(responseId: string): boolean {
    return this.#phase.phase === "generating" && this.#phase.responseId === responseId &&
      this.#phase.cancelled;
  }

  /** Some of this response's audio went to the leg. */
  playedAudio(responseId: string): void {
    if (this.#withAudio.has(responseId)) return;
    this.#withAudio.add(responseId);
    if (this.#withAudio.size > AUDIO_RESPONSES_KEPT) {
      this.#withAudio.delete(this.#withAudio.values().next().value!);
    }
  }

  /** Whether any audio of this response went to the leg (for the latest responses). */
  hadAudio(responseId: string): boolean {
    return this.#withAudio.has(responseId);
  }

  /** `response.done`: true when it was the active response (now over). */
  done(responseId: string): boolean {
    if (this.activeId !== responseId) return false;
    this.#phase = { phase: "idle" };
    return true;
  }

  /**
   * After a `response.done` was handled: what to ask for next — the deferred request (the
   * latest, even one made while the done was being handled), or an answer to a turn the server
   * left unanswered.
   */
  next(): AfterDone {
    if (this.#phase.phase === "generating") return { kind: "none" };
    const deferred = this.#deferred;
    if (deferred !== undefined) {
      this.#deferred = undefined;
      return { kind: "request", params: deferred.params };
    }
    if (this.#unansweredTurn) {
      this.#unansweredTurn = false;
      return { kind: "request", params: undefined };
    }
    return { kind: "none" };
  }

  /**
   * The upstream was lost: the id of the response that died with it, if any. A reply cut off
   * mid-generation is to be asked for again, unless the caller had barged in.
   */
  lost(): string | undefined {
    const phase = this.#phase;
    this.#phase = { phase: "idle" };
    this.#unansweredTurn = false;
    this.#requested = undefined;
    if (phase.phase !== "generating") return undefined;
    if (!phase.cancelled) this.#resume = { params: phase.params };
    return phase.responseId;
  }

  /** A session became ready: the lost reply to ask for again, else the deferred request. */
  ready(): OnReady {
    const resume = this.#resume;
    this.#resume = undefined;
    if (this.#phase.phase === "generating") return undefined;
    if (this.#requested !== undefined) {
      // A create queued while not ready just went out: anything else waits for its response.
      if (resume !== undefined) this.#deferred ??= resume;
      return undefined;
    }
    if (resume !== undefined) return { kind: "resume", params: resume.params };
    const deferred = this.#deferred;
    if (deferred === undefined) return undefined;
    this.#deferred = undefined;
    return { kind: "deferred", params: deferred.params };
  }
}
