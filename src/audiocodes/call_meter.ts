/**
 * What a phone call measures: its turns (child spans of the call's trace, from the caller's speech
 * end or a response the bot starts to the response's end), the first upstream connection, and its
 * metrics (turn latency to the first play stream, barge-ins, usage, truncations and reconnects).
 * Metrics are best effort: nothing here decides what VAIC is sent.
 */
import type { LegEvent } from "../bridge/bridge.ts";
import type { Clock } from "../core/clock.ts";
import type { GatewayMetrics } from "../core/metrics.ts";
import type { Span, TraceScope } from "../core/tracing.ts";

const PHONE = { route: "audiocodes" } as const;

/** The trace and metrics of one phone call. */
export class CallMeter {
  readonly #trace: TraceScope;
  readonly #clock: Clock;
  readonly #metrics: GatewayMetrics | undefined;
  /** When the caller's last utterance ended (monotonic ms), until the bot's next audio starts. */
  #speechEndAt: number | undefined;
  /** The turn being traced (caller speech end, or a response the bot starts, to its end). */
  #turn: { span: Span; startedAt: number } | undefined;
  /** The first upstream connection, traced until the model accepted the session. */
  #connectSpan: Span | undefined;
  /** Bridge counters already reported to the metrics. */
  #reported = { truncates: 0, reconnects: 0 };

  constructor(options: { trace: TraceScope; clock: Clock; metrics?: GatewayMetrics }) {
    this.#trace = options.trace;
    this.#clock = options.clock;
    this.#metrics = options.metrics;
  }

  /** The first upstream connection starts, in the upstream `format`. */
  connecting(format: string): void {
    this.#connectSpan = this.#trace.child("upstream.connect", { "upstream.format": format });
  }

  /** Counts and traces what the Bridge tells the leg; `playing`: the bot is being heard. */
  event(event: LegEvent, playing: boolean): void {
    switch (event.type) {
      case "speech.started":
        if (playing) this.#metrics?.bargeIns.inc(PHONE);
        this.#speechEndAt = undefined;
        return;
      case "speech.stopped":
        this.#speechEndAt = this.#clock.monotonic();
        this.#startTurn("caller");
        return;
      case "response.done":
        this.#endTurn(event.status);
        this.#metrics?.recordUsage(event.usage);
        return;
      case "session.ready":
        this.#endConnect();
        return;
      case "response.started":
        if (!this.#turn) this.#startTurn("bot");
        this.#turn?.span.setAttribute("turn.response_id", event.responseId);
        return;
      default:
        return;
    }
  }

  /** A play stream starts: the bot is heard, which ends the turn's latency. */
  playStarted(): void {
    const now = this.#clock.monotonic();
    if (this.#speechEndAt !== undefined && this.#metrics) {
      this.#metrics.turnLatency.observe(PHONE, (now - this.#speechEndAt) / 1000);
    }
    const turn = this.#turn;
    if (turn) turn.span.setAttribute("turn.first_audio_ms", Math.round(now - turn.startedAt));
    this.#speechEndAt = undefined;
  }

  /** Adds what the Bridge counted since the last report to the metrics. */
  report(stats: { readonly truncates: number; readonly reconnects: number }): void {
    const metrics = this.#metrics;
    if (!metrics) return;
    const { truncates, reconnects } = stats;
    if (truncates > this.#reported.truncates) {
      metrics.truncations.inc(PHONE, truncates - this.#reported.truncates);
    }
    if (reconnects > this.#reported.reconnects) {
      metrics.upstreamReconnects.inc(PHONE, reconnects - this.#reported.reconnects);
    }
    this.#reported = { truncates, reconnects };
  }

  /** The call is over: its turn and connection spans end. */
  close(): void {
    this.#endTurn("call ended");
    this.#endConnect();
  }

  #endConnect(): void {
    this.#connectSpan?.end();
    this.#connectSpan = undefined;
  }

  #startTurn(kind: "caller" | "bot"): void {
    this.#endTurn("superseded");
    this.#turn = {
      span: this.#trace.child("turn", { "turn.kind": kind }),
      startedAt: this.#clock.monotonic(),
    };
  }

  #endTurn(status: string): void {
    const turn = this.#turn;
    if (!turn) return;
    this.#turn = undefined;
    turn.span.setAttribute("turn.status", status);
    turn.span.end();
  }
}
