/**
 * What an app session measures: its trace (the session span, one child span per turn, from the
 * caller's speech end or a response the model starts to the response's end) and its metrics
 * (barge-ins, turn latency to the first audio, audio bytes out, usage, the outcome). Metrics are
 * best effort: nothing here decides what the client is sent.
 */
import type { LegEvent } from "../bridge/bridge.ts";
import type { Clock } from "../core/clock.ts";
import type { GatewayMetrics, Outcome } from "../core/metrics.ts";
import type { Span, TraceScope } from "../core/tracing.ts";
import { endSpan } from "../core/tracing.ts";
import { base64ByteLength } from "../protocol/base64.ts";

const APP = { route: "app" } as const;
const APP_OUT = { route: "app", direction: "out" } as const;

/** The trace and metrics of one app session. */
export class SessionMeter {
  readonly #trace: TraceScope;
  readonly #clock: Clock;
  readonly #metrics: GatewayMetrics | undefined;
  /** The turn being traced: caller speech end (or a response the model starts) to its end. */
  #turn: { span: Span; startedAt: number; heard: boolean } | undefined;
  #responding = false;
  #callerSpeaking = false;
  /** Why the session ended (first cause wins). */
  #outcome: Outcome | undefined;

  constructor(options: { trace: TraceScope; clock: Clock; metrics?: GatewayMetrics }) {
    this.#trace = options.trace;
    this.#clock = options.clock;
    this.#metrics = options.metrics;
  }

  /** The caller is speaking (between speech started and stopped). */
  get callerSpeaking(): boolean {
    return this.#callerSpeaking;
  }

  /** Records why the session ends; the first cause wins. */
  endedBy(cause: Outcome): void {
    this.#outcome ??= cause;
  }

  /** Counts and traces what the Bridge tells the leg. */
  event(event: LegEvent): void {
    switch (event.type) {
      case "speech.started":
        this.#callerSpeaking = true;
        if (this.#responding) this.#metrics?.bargeIns.inc(APP);
        return;
      case "speech.stopped":
        this.#callerSpeaking = false;
        this.#startTurn("caller");
        return;
      case "response.started":
        this.#responding = true;
        if (!this.#turn) this.#startTurn("bot");
        this.#turn?.span.setAttribute("turn.response_id", event.responseId);
        return;
      case "response.done":
        this.#responding = false;
        this.#metrics?.recordUsage(event.usage);
        this.#endTurn(event.status);
        return;
      default:
        return;
    }
  }

  /** Model audio going to the client: the turn's first audio ends its latency. */
  audio(delta: string): void {
    const turn = this.#turn;
    if (turn && !turn.heard) {
      turn.heard = true;
      const ms = this.#clock.monotonic() - turn.startedAt;
      turn.span.setAttribute("turn.first_audio_ms", Math.round(ms));
      this.#metrics?.turnLatency.observe(APP, ms / 1000);
    }
    this.#metrics?.audioBytes.inc(APP_OUT, base64ByteLength(delta));
  }

  /**
   * The session is over: its turn and span end with the outcome (a client that went away if no
   * other cause was given), and the Bridge's counters are added to the metrics.
   */
  close(bridge: { truncates: number; reconnects: number } | undefined): Outcome {
    const cause = this.#outcome ?? "caller_hangup";
    this.#endTurn("session ended");
    const metrics = this.#metrics;
    if (metrics) {
      metrics.sessionsTotal.inc({ outcome: cause });
      if (bridge && bridge.truncates > 0) metrics.truncations.inc(APP, bridge.truncates);
      if (bridge && bridge.reconnects > 0) metrics.upstreamReconnects.inc(APP, bridge.reconnects);
    }
    endSpan(
      this.#trace.span,
      { "session.outcome": cause },
      cause === "internal_error" ? cause : undefined,
    );
    return cause;
  }

  #startTurn(kind: "caller" | "bot"): void {
    this.#endTurn("superseded");
    this.#turn = {
      span: this.#trace.child("turn", { "turn.kind": kind }),
      startedAt: this.#clock.monotonic(),
      heard: false,
    };
  }

  #endTurn(status: string): void {
    const turn = this.#turn;
    if (!turn) return;
    turn.span.setAttribute("turn.status", status);
    turn.span.end();
    this.#turn = undefined;
  }
}
