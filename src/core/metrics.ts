/**
 * Prometheus metrics of one gateway (prom-client, one registry per gateway: no globals). The
 * per-frame paths only increment counters and observe sampled histograms (~100 ns each).
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { z } from "zod";

/** Why a call or session ended, as a bounded label value. */
export type Outcome =
  | "caller_hangup"
  | "bot_hangup"
  | "transfer"
  | "socket_lost"
  | "upstream_failed"
  | "internal_error"
  | "max_duration"
  | "shutdown"
  | "idle"
  | "other";

/** Maps a free-text end reason to a bounded {@linkcode Outcome}. */
export function outcomeOf(reason: string): Outcome {
  if (reason.startsWith("session.end")) return "caller_hangup";
  if (reason === "internal error" || reason.startsWith("internal error")) return "internal_error";
  if (reason.includes("maximum call duration") || reason.includes("session_expired")) {
    return "max_duration";
  }
  if (reason.includes("shutting down") || reason === "gateway shutdown") return "shutdown";
  if (reason.includes("resume grace") || reason === "socket closed") return "socket_lost";
  if (reason.startsWith("upstream") || reason.includes("model is unavailable")) {
    return "upstream_failed";
  }
  if (reason.startsWith("transfer")) return "transfer";
  if (reason.startsWith("hangup") || reason.startsWith("bot:")) return "bot_hangup";
  return "other";
}

const Tokens = z.object({
  audio_tokens: z.number().optional(),
  text_tokens: z.number().optional(),
}).optional();

/** Token usage of one response (GA `response.done.response.usage`), as far as it is given. */
export const Usage = z.object({
  input_tokens: z.number().optional(),
  output_tokens: z.number().optional(),
  input_token_details: Tokens,
  output_token_details: Tokens,
});

/** An instrument that records nothing (metrics turned off). */
const NOOP = {
  inc() {},
  dec() {},
  set() {},
  observe() {},
  reset() {},
  labels() {
    return NOOP;
  },
  startTimer() {
    return () => 0;
  },
};

/** The gateway's metrics. */
export class GatewayMetrics {
  readonly registry = new Registry();
  /** False with `METRICS_ENABLED=false`: every instrument is a no-op and `/metrics` is 404. */
  readonly enabled: boolean;
  readonly callsTotal: Counter<"outcome">;
  readonly callsAccepted: Counter<"format">;
  readonly sessionsTotal: Counter<"outcome">;
  readonly activeCalls: Gauge;
  readonly activeSessions: Gauge;
  readonly turnLatency: Histogram<"route">;
  readonly frameLatency: Histogram<"direction">;
  readonly bargeIns: Counter<"route">;
  readonly truncations: Counter<"route">;
  readonly upstreamReconnects: Counter<"route">;
  readonly upstreamFailures: Counter<"route">;
  readonly badFrames: Counter<"route">;
  readonly rateLimited: Counter<"route">;
  readonly audioBytes: Counter<"route" | "direction">;
  readonly tokens: Counter<"direction" | "modality">;
  readonly refusedConnections: Counter<"route" | "reason">;
  readonly toolCalls: Counter<"tool" | "outcome">;
  readonly toolLatency: Histogram<"kind">;
  readonly registryOps: Counter<"op" | "outcome">;

  constructor(live: { calls: () => number; sessions: () => number; enabled?: boolean }) {
    this.enabled = live.enabled ?? true;
    const registers = [this.registry];
    this.callsTotal = new Counter({
      name: "voicegw_calls_ended_total",
      help: "Phone calls ended, by outcome",
      labelNames: ["outcome"],
      registers,
    });
    this.callsAccepted = new Counter({
      name: "voicegw_calls_accepted_total",
      help: "Phone calls accepted, by negotiated VAIC media format",
      labelNames: ["format"],
      registers,
    });
    this.sessionsTotal = new Counter({
      name: "voicegw_app_sessions_ended_total",
      help: "App (user realtime API) sessions ended, by outcome",
      labelNames: ["outcome"],
      registers,
    });
    this.activeCalls = new Gauge({
      name: "voicegw_calls_active",
      help: "Phone calls in the registry (live or waiting for a resume)",
      registers,
      collect() {
        this.set(live.calls());
      },
    });
    this.activeSessions = new Gauge({
      name: "voicegw_app_sessions_active",
      help: "Live app sessions",
      registers,
      collect() {
        this.set(live.sessions());
      },
    });
    this.turnLatency = new Histogram({
      name: "voicegw_turn_latency_seconds",
      help: "End of caller speech (VAD stop) to the first bot audio sent to the caller",
      labelNames: ["route"],
      buckets: [0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10],
      registers,
    });
    this.frameLatency = new Histogram({
      name: "voicegw_frame_latency_seconds",
      help: "Gateway time spent on one audio frame (caller to model: receipt to upstream send)",
      labelNames: ["direction"],
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05],
      registers,
    });
    const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
      new Counter<L>({ name, help, labelNames, registers });
    this.bargeIns = counter("voicegw_barge_ins_total", "Caller speech over bot audio", ["route"]);
    this.truncations = counter(
      "voicegw_truncations_total",
      "Model items truncated to what the caller heard",
      ["route"],
    );
    this.upstreamReconnects = counter(
      "voicegw_upstream_reconnects_total",
      "Upstream sessions reopened after an unexpected close",
      ["route"],
    );
    this.upstreamFailures = counter(
      "voicegw_upstream_failures_total",
      "Calls or sessions that lost the model for good",
      ["route"],
    );
    this.badFrames = counter(
      "voicegw_bad_frames_total",
      "Inbound frames refused as malformed",
      ["route"],
    );
    this.rateLimited = counter(
      "voicegw_rate_limited_total",
      "Inbound frames dropped over the message-rate limit",
      ["route"],
    );
    this.audioBytes = counter(
      "voicegw_audio_bytes_total",
      "Audio bytes, by direction (in: from callers, out: to callers)",
      ["route", "direction"],
    );
    this.tokens = counter(
      "voicegw_model_tokens_total",
      "Model usage tokens from response.done, for cost",
      ["direction", "modality"],
    );
    this.toolCalls = counter(
      "voicegw_tool_calls_total",
      "Tool calls run by the gateway (HTTP, MCP, app), by tool and outcome",
      ["tool", "outcome"],
    );
    this.toolLatency = new Histogram({
      name: "voicegw_tool_latency_seconds",
      help: "Tool call duration, by kind (http, mcp, app)",
      labelNames: ["kind"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16],
      registers,
    });
    this.refusedConnections = counter(
      "voicegw_refused_connections_total",
      "Connections refused before the upgrade",
      ["route", "reason"],
    );
    this.registryOps = counter(
      "voicegw_registry_ops_total",
      "Shared call registry (Redis) operations, by op and outcome: never per audio frame",
      ["op", "outcome"],
    );
    if (!this.enabled) {
      // Nothing is recorded anywhere, the per-frame paths included.
      const self = this as unknown as Record<string, unknown>;
      for (const key of Object.keys(self)) {
        if (key !== "registry" && key !== "enabled") self[key] = NOOP;
      }
    }
  }

  /** Counts one response's usage. */
  recordUsage(usage: unknown): void {
    const parsed = Usage.safeParse(usage);
    if (!parsed.success) return;
    const u = parsed.data;
    const add = (direction: string, modality: string, n: number | undefined) => {
      if (typeof n === "number" && n > 0) this.tokens.inc({ direction, modality }, n);
    };
    add("input", "audio", u.input_token_details?.audio_tokens);
    add("input", "text", u.input_token_details?.text_tokens);
    add("output", "audio", u.output_token_details?.audio_tokens);
    add("output", "text", u.output_token_details?.text_tokens);
  }

  /** The Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** The content type of {@linkcode text}. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
