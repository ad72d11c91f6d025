/**
 * The benchmark's report: its JSON shape and the table printed on stdout (the SVG chart is
 * `chart.ts`).
 */
import type { ErrorCounts } from "./recorder.ts";
import type { ProfileSummary } from "./profile.ts";
import type { Summary } from "./stats.ts";

/** The budget of ARCHITECTURE.md "Performance budget". */
export const BUDGET = {
  /** Gateway-added latency per audio frame, p99 (the ramp's target can change it). */
  frameP99Ms: 1,
  /** `speech_started` in → `playStream.stop` out, p99. */
  bargeInP99Ms: 2,
  /** `session.initiate` → `session.accepted`, p99. */
  setupP99Ms: 5,
  /** Gateway memory growth per live call. */
  memoryPerCallKiB: 256,
} as const;

/** One budget line: the measured value (null without samples), its limit and the verdict. */
export interface BudgetCheck {
  readonly value: number | null;
  readonly limit: number;
  readonly ok: boolean;
}

/** Every budget line of a step. */
export interface BudgetReport {
  readonly frameP99Ms: BudgetCheck;
  readonly bargeInP99Ms: BudgetCheck;
  readonly setupP99Ms: BudgetCheck;
  readonly memoryPerCallKiB: BudgetCheck;
  /** Every line within budget and no errors. */
  readonly ok: boolean;
}

/** One point of the chart: latency percentiles at a number of concurrent calls. */
export interface CurvePoint {
  readonly calls: number;
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

/** Cost of a process during a step. */
export interface ProcessCost {
  readonly cpuSeconds: number;
  /** CPU time over wall time, in percent of one core. */
  readonly cpuPercent: number;
}

/** The gateway's cost during a step. */
export interface GatewayCost extends ProcessCost {
  readonly cpuSecondsPerCall: number;
  /** CPU milliseconds per second of one call (= per 50 frames each way). */
  readonly cpuMsPerCallSecond: number;
  readonly baselineRssMiB: number;
  readonly peakRssMiB: number;
  /** (peak RSS − RSS before the calls) / calls: an upper bound (uncollected garbage counts). */
  readonly rssPerCallKiB: number;
  /**
   * (peak RSS − the previous step's peak) / (calls − its calls), when that step had at least 50
   * calls fewer: what one more call costs, without the fixed growth; null otherwise.
   */
  readonly marginalRssPerCallKiB: number | null;
}

/** One call's figures. */
export interface CallFigures {
  readonly index: number;
  readonly conversationId: string;
  readonly setupMs: number | null;
  readonly upstreamReadyMs: number | null;
  readonly callerToUpstreamMs: Summary;
  readonly upstreamToCallerMs: Summary;
  readonly pacedLatenessMs: Summary;
  readonly bargeInMs: Summary;
  readonly replies: number;
  readonly framesSent: number;
  readonly framesAppended: number;
  readonly chunks: number;
  /** Only the kinds that occurred. */
  readonly errors: Partial<ErrorCounts>;
}

/** Everything measured at one number of concurrent calls. */
export interface StepReport {
  readonly calls: number;
  readonly format: string;
  readonly durationS: number;
  readonly spreadS: number;
  readonly wallS: number;
  /** The steady window: every call up (from the last accept to the first hang-up). */
  readonly window: { readonly fromS: number; readonly toS: number; readonly seconds: number };
  readonly latencyMs: {
    /** Gateway-added latency per frame, both directions, in the steady window. */
    readonly frames: Summary;
    /** `userStream.chunk` sent → `input_audio_buffer.append` received, steady window. */
    readonly callerToUpstream: Summary;
    /** `response.output_audio.delta` sent → `playStream.chunk` received, steady window. */
    readonly upstreamToCaller: Summary;
    /** Both directions over the whole step, ramp-up and hang-up included. */
    readonly framesWholeStep: Summary;
    /** Chunks held back by the playout lead: arrival − the moment the lead let them go. */
    readonly pacedLateness: Summary;
    /** Frames the gateway held until the upstream session was ready (call start). */
    readonly heldUntilUpstreamReady: Summary;
    readonly setup: Summary;
    /** `session.initiate` → the upstream's first `session.updated` passed to the gateway. */
    readonly upstreamReady: Summary;
    readonly bargeIn: Summary;
    /** Barge-in as heard: the caller starts talking over the bot → last bot chunk delivered. */
    readonly bargeInHeard: Summary;
    /** `session.initiate` sent → the first bot audio (the greeting) at VAIC. */
    readonly greeting: Summary;
    /** End of caller speech → first bot audio, and its split. */
    readonly replyTotal: Summary;
    readonly replyEngine: Summary;
    readonly replyGateway: Summary;
  };
  readonly gateway: GatewayCost | null;
  readonly engine: ProcessCost | null;
  readonly bench: ProcessCost & {
    /** Queueing delay of the bench's own event loop: an error bar on every latency. */
    readonly loopLagMs: Summary;
    /** How late the bench sent caller frames against their 20 ms schedule. */
    readonly sendLatenessMs: Summary;
  };
  /** The machine during the step: other load makes every figure worse. */
  readonly host: {
    /** 1-minute load average when the step began. */
    readonly loadAverage: number | null;
    /** All processes' CPU time over wall time, in percent of one core. */
    readonly busyPercent: number | null;
    /** The same for processes other than the gateway, the engine and the bench. */
    readonly otherPercent: number | null;
  };
  readonly counts: {
    readonly framesSent: number;
    readonly framesAppended: number;
    readonly chunksReceived: number;
    readonly chunksMeasured: number;
    readonly bargeIns: number;
    readonly replies: number;
    readonly upstreamSessions: number;
    readonly callsAccepted: number;
  };
  readonly errors: ErrorCounts;
  readonly errorTotal: number;
  readonly budget: BudgetReport;
  /** Frame latency against live calls while the step ramped up (the single run's chart). */
  readonly curve: readonly CurvePoint[];
  /** With `--profile`: the gateway's CPU profile file and its hottest functions (self time). */
  readonly profile: (ProfileSummary & { readonly file: string }) | null;
  readonly perCall: readonly CallFigures[];
  /** The null relay's figures at the same load in the same run, and the gateway's ratios. */
  readonly relay: RelayComparison | null;
}

/** One figure of the gateway next to the null relay's. */
export interface Ratio {
  readonly gateway: number;
  readonly relay: number;
  /** gateway / relay (null when the relay's figure is 0 or missing). */
  readonly ratio: number | null;
}

/** The gateway against the do-nothing relay (same upstream client) at one load step. */
export interface RelayComparison {
  readonly callerToUpstreamP99Ms: Ratio;
  readonly upstreamToCallerP99Ms: Ratio;
  readonly framesP99Ms: Ratio;
  readonly replyP50Ms: Ratio;
  readonly bargeInHeardP50Ms: Ratio;
  readonly cpuMsPerCallSecond: Ratio;
  readonly rssPerCallKiB: Ratio;
  readonly relayErrors: number;
}

/** Builds the comparison of a gateway step with the relay's step at the same load. */
export function compareWithRelay(gateway: StepReport, relay: StepReport): RelayComparison {
  const ratio = (g: number | undefined, r: number | undefined): Ratio => {
    const gv = g ?? 0;
    const rv = r ?? 0;
    return { gateway: gv, relay: rv, ratio: rv > 0 ? Math.round((gv / rv) * 100) / 100 : null };
  };
  const gl = gateway.latencyMs;
  const rl = relay.latencyMs;
  return {
    callerToUpstreamP99Ms: ratio(gl.callerToUpstream.p99, rl.callerToUpstream.p99),
    upstreamToCallerP99Ms: ratio(gl.upstreamToCaller.p99, rl.upstreamToCaller.p99),
    framesP99Ms: ratio(gl.frames.p99, rl.frames.p99),
    replyP50Ms: ratio(gl.replyTotal.p50, rl.replyTotal.p50),
    bargeInHeardP50Ms: ratio(gl.bargeInHeard.p50, rl.bargeInHeard.p50),
    cpuMsPerCallSecond: ratio(
      gateway.gateway?.cpuMsPerCallSecond,
      relay.gateway?.cpuMsPerCallSecond,
    ),
    rssPerCallKiB: ratio(gateway.gateway?.rssPerCallKiB, relay.gateway?.rssPerCallKiB),
    relayErrors: relay.errorTotal,
  };
}

/** The whole report (the JSON file). */
export interface BenchReport {
  readonly tool: "deno task bench";
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly command: string;
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly os: string;
    readonly kernel: string;
    readonly deno: string;
    readonly v8: string;
  };
  readonly mode: "single" | "ramp";
  readonly settings: Readonly<Record<string, unknown>>;
  readonly steps: readonly StepReport[];
  /**
   * Ramp only: the largest step before the first one whose frame p99 exceeded the target (or
   * that had errors); 0 when the first step already did.
   */
  readonly capacity: {
    readonly targetMs: number;
    readonly calls: number;
    /** Why the ramp stopped. */
    readonly stoppedBy: "errors" | "far over budget" | "time limit" | "last step";
    /** The null relay's capacity at the same target, in the same run (null: not measured). */
    readonly relayCalls: number | null;
  } | null;
  /** The chart's points. */
  readonly curve: readonly CurvePoint[];
  /**
   * Ramp only: the least-squares slope of the gateway's peak RSS against calls over the steps,
   * in KiB per call (steadier than any one step's figure); null with fewer than 3 steps.
   */
  readonly memorySlopeKiBPerCall: number | null;
}

// ---------------------------------------------------------------------------------------------
// table

const f = (value: number, digits = 3) => value.toFixed(digits);

function row(label: string, s: Summary, budget = ""): string {
  return `  ${label.padEnd(44)}${String(s.count).padStart(8)}${f(s.p50).padStart(9)}${
    f(s.p95).padStart(9)
  }${f(s.p99).padStart(9)}${f(s.max).padStart(10)}  ${budget}`;
}

function verdict(check: BudgetCheck, unit: string): string {
  if (check.value === null) return `≤ ${check.limit} ${unit}: no samples`;
  return `≤ ${check.limit} ${unit}: ${check.ok ? "PASS" : "FAIL"}`;
}

/** The human summary of one step, as lines. */
export function stepLines(step: StepReport): string[] {
  const l = step.latencyMs;
  const lines = [
    `${step.calls} concurrent ${step.format} calls, ${step.durationS} s each, started over ${step.spreadS} s; ` +
    `steady window ${f(step.window.seconds, 1)} s (all ${step.calls} calls up)`,
    "",
    `  ${"latency (ms)".padEnd(44)}${"count".padStart(8)}${"p50".padStart(9)}${"p95".padStart(9)}${
      "p99".padStart(9)
    }${"max".padStart(10)}  budget`,
    row(
      "gateway-added, per frame, both directions",
      l.frames,
      verdict(step.budget.frameP99Ms, "ms"),
    ),
    row("  caller → upstream (chunk → append)", l.callerToUpstream),
    row("  upstream → caller (delta → chunk)", l.upstreamToCaller),
    row("  both, whole step (ramp-up included)", l.framesWholeStep),
    row("paced chunks: lateness vs. playout lead", l.pacedLateness),
    row("held until upstream ready (call start)", l.heldUntilUpstreamReady),
    row("setup: initiate → accepted", l.setup, verdict(step.budget.setupP99Ms, "ms")),
    row("upstream ready: initiate → session.updated", l.upstreamReady),
    row(
      "barge-in: speech_started → playStream.stop",
      l.bargeIn,
      verdict(step.budget.bargeInP99Ms, "ms"),
    ),
    row("barge-in as heard: talk over → last chunk", l.bargeInHeard),
    row("greeting: initiate → first bot audio", l.greeting),
    row("end of speech → first bot audio", l.replyTotal),
    row("  of which engine (+ VAD silence)", l.replyEngine),
    row("  of which gateway", l.replyGateway),
    "",
  ];
  const g = step.gateway;
  if (g) {
    lines.push(
      `  gateway process: ${f(g.cpuSeconds, 2)} CPU s (${f(g.cpuPercent, 1)}% of one core), ` +
        `${f(g.cpuMsPerCallSecond, 3)} CPU ms per call-second; RSS ${f(g.baselineRssMiB, 1)} → ` +
        `${f(g.peakRssMiB, 1)} MiB peak; per call ${f(g.rssPerCallKiB, 1)} KiB (upper bound)${
          g.marginalRssPerCallKiB === null ? "" : `, ${f(g.marginalRssPerCallKiB, 1)} KiB marginal`
        }  ` + verdict(step.budget.memoryPerCallKiB, "KiB"),
    );
  } else {
    lines.push("  gateway process: not measured (no /proc, or --url without --gateway-pid)");
  }
  if (step.engine) {
    lines.push(
      `  engine process:  ${f(step.engine.cpuSeconds, 2)} CPU s (${
        f(step.engine.cpuPercent, 1)
      }% of one core)`,
    );
  }
  const b = step.bench;
  lines.push(
    `  bench process:   ${f(b.cpuSeconds, 2)} CPU s (${f(b.cpuPercent, 1)}% of one core); ` +
      `event-loop lag p50 ${f(b.loopLagMs.p50)} p99 ${f(b.loopLagMs.p99)} max ${
        f(b.loopLagMs.max)
      } ms; frame send lateness p99 ${f(b.sendLatenessMs.p99)} ms`,
  );
  const h = step.host;
  if (h.busyPercent !== null) {
    lines.push(
      `  machine: ${f(h.busyPercent, 1)}% CPU busy in all (percent of one core), ` +
        `${f(h.otherPercent ?? 0, 1)}% by other processes; load average ${
          h.loadAverage ?? "-"
        } before`,
    );
    if ((h.otherPercent ?? 0) > 10) {
      lines.push("  WARNING: other processes competed for the CPUs; these figures are pessimistic");
    }
  }
  const c = step.counts;
  lines.push(
    `  counts: ${c.callsAccepted}/${step.calls} calls accepted, ${c.framesSent} frames sent, ` +
      `${c.framesAppended} appended, ${c.chunksReceived} chunks received (${c.chunksMeasured} ` +
      `measured), ${c.replies} replies, ${c.bargeIns} barge-ins, ${c.upstreamSessions} upstream sessions`,
  );
  const errors = Object.entries(step.errors).filter(([, n]) => n !== 0);
  lines.push(
    errors.length === 0
      ? "  errors: none"
      : `  errors: ${errors.map(([k, n]) => `${k} ${n}`).join(", ")}`,
  );
  const p99s = step.perCall.map((c) => Math.max(c.callerToUpstreamMs.p99, c.upstreamToCallerMs.p99))
    .sort((a, b) => a - b);
  if (p99s.length > 0) {
    const worst = [...step.perCall].sort((a, b) =>
      Math.max(b.callerToUpstreamMs.p99, b.upstreamToCallerMs.p99) -
      Math.max(a.callerToUpstreamMs.p99, a.upstreamToCallerMs.p99)
    ).slice(0, 3);
    lines.push(
      `  per call p99 (ms): best ${f(p99s[0]!)}, median ${f(p99s[p99s.length >> 1]!)}, worst ${
        f(p99s[p99s.length - 1]!)
      } (${
        worst.map((c) =>
          `#${c.index} ${f(Math.max(c.callerToUpstreamMs.p99, c.upstreamToCallerMs.p99))}`
        ).join(", ")
      })`,
    );
  }
  lines.push(`  budget: ${step.budget.ok ? "PASS" : "FAIL"}`);
  if (step.relay) lines.push("", ...relayLines(step.relay));
  if (step.profile) {
    const p = step.profile;
    lines.push(
      "",
      `  gateway CPU profile (${p.file}): ${p.totalMs} ms sampled, ${p.idleMs} ms idle, ` +
        `${p.inspectorMs} ms inspector overhead; self time of the rest:`,
    );
    for (const h of step.profile.hot.slice(0, 20)) {
      lines.push(
        `  ${f(h.selfPercent, 1).padStart(6)}%  ${f(h.selfMs, 0).padStart(7)} ms  ${h.name}${
          h.where ? `  ${h.where}` : ""
        }`,
      );
    }
  }
  return lines;
}

const fr = (r: Ratio, digits = 3) =>
  `${f(r.gateway, digits).padStart(9)}${f(r.relay, digits).padStart(9)}${
    (r.ratio === null ? "-" : `${f(r.ratio, 2)}×`).padStart(8)
  }`;

/** The gateway next to the null relay at one step, as lines. */
export function relayLines(c: RelayComparison): string[] {
  return [
    `  ${"vs. the null relay (same run, same upstream client)".padEnd(44)}${"gateway".padStart(9)}${
      "relay".padStart(9)
    }${"ratio".padStart(8)}`,
    `  ${"caller → upstream p99 (ms)".padEnd(44)}${fr(c.callerToUpstreamP99Ms)}`,
    `  ${"upstream → caller p99 (ms)".padEnd(44)}${fr(c.upstreamToCallerP99Ms)}`,
    `  ${"end of speech → first bot audio p50 (ms)".padEnd(44)}${fr(c.replyP50Ms, 1)}`,
    `  ${"barge-in as heard p50 (ms)".padEnd(44)}${fr(c.bargeInHeardP50Ms, 1)}`,
    `  ${"CPU ms per call-second".padEnd(44)}${fr(c.cpuMsPerCallSecond)}`,
    `  ${"RSS per call (KiB, upper bound)".padEnd(44)}${fr(c.rssPerCallKiB, 1)}`,
    ...(c.relayErrors > 0 ? [`  (the relay's step had ${c.relayErrors} errors)`] : []),
  ];
}

/** The headline of a ramp: capacity at the target and CPU per call against the relay. */
export function headline(report: BenchReport): string | undefined {
  const capacity = report.capacity;
  if (!capacity) return undefined;
  const at = report.steps.filter((s) => s.calls === capacity.calls).at(-1) ??
    report.steps[0];
  const cpu = at?.relay?.cpuMsPerCallSecond;
  return `capacity at p99 ≤ ${capacity.targetMs} ms added: ${capacity.calls} concurrent ${
    report.steps[0]?.format ?? ""
  } calls${capacity.relayCalls === null ? "" : ` (null relay: ${capacity.relayCalls})`}` +
    (cpu && at
      ? `; CPU per call ${f(cpu.gateway)} ms/s = ${
        cpu.ratio === null ? "-" : f(cpu.ratio, 2)
      }× the null relay's at ${at.calls} calls`
      : "") +
    ` (stopped by: ${capacity.stoppedBy})`;
}

/** The ramp's overview table, as lines. */
export function rampLines(report: BenchReport): string[] {
  const lines = [
    `${"calls".padStart(6)}${"p50".padStart(8)}${"p95".padStart(8)}${"p99".padStart(8)}${
      "max".padStart(9)
    }${"barge p99".padStart(11)}${"setup p99".padStart(11)}${"gw CPU%".padStart(9)}${
      "RSS MiB".padStart(9)
    }${"lag p99".padStart(9)}${"errors".padStart(8)}${"relay p99".padStart(11)}${
      "CPU ×relay".padStart(12)
    }  result`,
  ];
  for (const s of report.steps) {
    const l = s.latencyMs;
    lines.push(
      `${String(s.calls).padStart(6)}${f(l.frames.p50).padStart(8)}${f(l.frames.p95).padStart(8)}${
        f(l.frames.p99).padStart(8)
      }${f(l.frames.max).padStart(9)}${f(l.bargeIn.p99).padStart(11)}${
        f(l.setup.p99).padStart(11)
      }${(s.gateway ? f(s.gateway.cpuPercent, 1) : "-").padStart(9)}${
        (s.gateway ? f(s.gateway.peakRssMiB, 1) : "-").padStart(9)
      }${f(s.bench.loopLagMs.p99, 2).padStart(9)}${String(s.errorTotal).padStart(8)}${
        (s.relay ? f(s.relay.framesP99Ms.relay) : "-").padStart(11)
      }${
        (s.relay?.cpuMsPerCallSecond.ratio == null
          ? "-"
          : `${f(s.relay.cpuMsPerCallSecond.ratio, 2)}×`)
          .padStart(12)
      }  ${s.budget.frameP99Ms.ok && s.errorTotal === 0 ? "within" : "over"}`,
    );
  }
  lines.push("(lag p99: the bench's own event-loop lag, an error bar on every latency of its row)");
  if (report.memorySlopeKiBPerCall !== null) {
    lines.push(
      "",
      `gateway memory: peak RSS grows ${f(report.memorySlopeKiBPerCall, 1)} KiB per added call ` +
        `(least squares over the steps; budget ${BUDGET.memoryPerCallKiB} KiB)`,
    );
  }
  const line = headline(report);
  if (line) lines.push("", line);
  return lines;
}
