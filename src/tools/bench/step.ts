/**
 * One measured step of the benchmark: N calls against one target (the gateway or the relay),
 * process costs sampled around them, and the step's report from what the recorder holds.
 */
import { formatPlan } from "../../protocol/media_format.ts";
import type { CallAudio } from "./audio.ts";
import type { CallScript } from "./caller.ts";
import { BenchCall } from "./caller.ts";
import { Pacer } from "./pacer.ts";
import type { Processes, Target } from "./launch.ts";
import { loadAverage, MemoryWatch, sampleProcess, sampleSystem } from "./process.ts";
import { CallProbe } from "./probe.ts";
import type { ErrorCounts, Recorder } from "./recorder.ts";
import { InspectorProfiler, summarizeProfile } from "./profile.ts";
import type { BudgetCheck, CallFigures, CurvePoint, ProcessCost, StepReport } from "./report.ts";
import { BUDGET } from "./report.ts";
import type { Summary } from "./stats.ts";
import { round, rounded, summarize } from "./stats.ts";

/** One step: how many calls, for how long, started over how long. */
export interface StepPlan {
  readonly step: number;
  readonly calls: number;
  readonly durationS: number;
  readonly spreadS: number;
}

/** Measures the bench's own event-loop lag: a message posted to itself every 10 ms. */
class LagMonitor {
  readonly #channel = new MessageChannel();
  readonly #timer: ReturnType<typeof setInterval>;
  #sentAt = 0;

  constructor(into: { push(value: number): void }) {
    this.#channel.port2.onmessage = () => into.push(performance.now() - this.#sentAt);
    this.#timer = setInterval(() => {
      this.#sentAt = performance.now();
      this.#channel.port1.postMessage(0);
    }, 10);
  }

  close(): void {
    clearInterval(this.#timer);
    this.#channel.port1.close();
    this.#channel.port2.close();
  }
}

/** Runs one step's calls against `o.target` and reports what was measured. */
export async function measureStep(
  plan: StepPlan,
  o: {
    /** Whom the calls dial. */
    target: Target;
    audio: CallAudio;
    script: CallScript;
    leadMs: number;
    targetMs: number;
    recorder: Recorder;
    processes: Processes;
    register: (probe: CallProbe) => void;
    /** The previous step's calls and gateway peak RSS, for the marginal memory per call. */
    previous?: { calls: number; peakRssBytes: number };
    profile?: string;
    signal?: AbortSignal;
  },
): Promise<StepReport> {
  const { recorder, processes } = o;
  const formatPlanned = formatPlan(o.audio.format);
  const pacer = new Pacer();
  const t0 = performance.now() + 200;
  const calls: BenchCall[] = [];
  const probes: CallProbe[] = [];
  for (let i = 0; i < plan.calls; i++) {
    const probe = new CallProbe(i, {
      tag: `bench-${plan.step}-${i}`,
      recorder,
      plan: formatPlanned,
      leadMs: o.leadMs,
    });
    o.register(probe);
    probes.push(probe);
    calls.push(
      new BenchCall({
        url: o.target.wsUrl,
        conversationId: `bench-${plan.step}-${i}-${crypto.randomUUID().slice(0, 8)}`,
        audio: o.audio,
        script: o.script,
        probe,
        recorder,
        pacer,
        // Evenly spread, and each call on its own phase of the 20 ms frame clock (golden-ratio
        // steps), as independent phones would be.
        startAt: t0 + (plan.spreadS * 1000 * i) / plan.calls + ((i * 0.618034) % 1) * 20,
        durationMs: plan.durationS * 1000,
        ...(o.signal ? { signal: o.signal } : {}),
      }),
    );
  }
  const gwPid = o.target.pid;
  const gw0 = gwPid === undefined ? undefined : sampleProcess(gwPid);
  const engine0 = sampleProcess(processes.enginePid);
  const self0 = sampleProcess("self");
  const system0 = sampleSystem();
  const load = loadAverage();
  const memory = gwPid === undefined ? undefined : new MemoryWatch(gwPid);
  let profiler: InspectorProfiler | undefined;
  if (o.profile !== undefined) {
    if (processes.inspector === undefined) throw new Error("Cannot profile: no inspector URL");
    profiler = new InspectorProfiler(processes.inspector);
    await profiler.start();
  }
  const lag = new LagMonitor(recorder.loopLag);
  const wall0 = performance.now();
  let profile: StepReport["profile"] = null;
  try {
    await Promise.all(calls.map((call) => call.run()));
  } finally {
    lag.close();
    if (profiler && o.profile !== undefined) {
      const cpu = await profiler.stop();
      await profiler.close();
      await Deno.writeTextFile(o.profile, JSON.stringify(cpu));
      profile = { file: o.profile, ...summarizeProfile(cpu, 30) };
    }
  }
  const wallS = (performance.now() - wall0) / 1000;
  const system1 = sampleSystem();
  const engine1 = sampleProcess(processes.enginePid);
  const self1 = sampleProcess("self");
  const peak = memory?.stop() ?? 0;
  const gw1 = gwPid === undefined ? undefined : sampleProcess(gwPid);
  const cost = (a: ReturnType<typeof sampleProcess>, b: ReturnType<typeof sampleProcess>) =>
    a && b
      ? {
        cpuSeconds: round(b.cpuSeconds - a.cpuSeconds, 2),
        cpuPercent: round(((b.cpuSeconds - a.cpuSeconds) / wallS) * 100, 1),
      }
      : null;

  // The steady window: from the last call accepted to the first call hanging up.
  const accepted = calls.map((c) => c.times.acceptedAt).filter((t) => t !== undefined);
  const ended = calls.map((c) => c.times.streamEndAt).filter((t) => t !== undefined);
  let from = accepted.length > 0 ? Math.max(...accepted) : wall0;
  let to = ended.length > 0 ? Math.min(...ended) : performance.now();
  if (to <= from) {
    // Calls never all overlapped (spread ≥ duration): use the whole step.
    from = -Infinity;
    to = Infinity;
  }
  const framesIn = recorder.frameIn.between(from, to);
  const framesOut = recorder.frameOut.between(from, to);
  const both = new Float64Array(framesIn.length + framesOut.length);
  both.set(framesIn);
  both.set(framesOut, framesIn.length);
  const whole = new Float64Array(recorder.frameIn.count + recorder.frameOut.count);
  whole.set(recorder.frameIn.values());
  whole.set(recorder.frameOut.values(), recorder.frameIn.count);

  const frames = rounded(summarize(both));
  const setup = rounded(recorder.setup.summary());
  const bargeIn = rounded(recorder.bargeIn.summary());
  const gatewayCost = cost(gw0, gw1);
  const baselineRss = gw0?.rssBytes ?? 0;
  const gateway = gatewayCost && gw0
    ? {
      ...gatewayCost,
      cpuSecondsPerCall: round(gatewayCost.cpuSeconds / plan.calls, 4),
      cpuMsPerCallSecond: round((gatewayCost.cpuSeconds * 1000) / (plan.calls * plan.durationS), 3),
      baselineRssMiB: round(baselineRss / 2 ** 20, 1),
      peakRssMiB: round(peak / 2 ** 20, 1),
      rssPerCallKiB: round(Math.max(0, peak - baselineRss) / 1024 / plan.calls, 1),
      // Against a much smaller step only: over a few calls GC timing is all one would see.
      marginalRssPerCallKiB: o.previous && plan.calls - o.previous.calls >= 50
        ? round(
          Math.max(0, peak - o.previous.peakRssBytes) / 1024 / (plan.calls - o.previous.calls),
          1,
        )
        : null,
    }
    : null;
  const errorTotal = Object.values(recorder.errors).reduce((n, v) => n + v, 0);
  const check = (summary: Summary, limit: number): BudgetCheck =>
    summary.count === 0
      ? { value: null, limit, ok: false }
      : { value: summary.p99, limit, ok: summary.p99 <= limit };
  // The marginal figure when there is a smaller step to compare with, else the upper bound.
  const perCallKiB = gateway ? gateway.marginalRssPerCallKiB ?? gateway.rssPerCallKiB : null;
  const memoryCheck: BudgetCheck = perCallKiB === null
    ? { value: null, limit: BUDGET.memoryPerCallKiB, ok: false }
    : {
      value: perCallKiB,
      limit: BUDGET.memoryPerCallKiB,
      ok: perCallKiB <= BUDGET.memoryPerCallKiB,
    };
  const budget = {
    frameP99Ms: check(frames, o.targetMs),
    bargeInP99Ms: check(bargeIn, BUDGET.bargeInP99Ms),
    setupP99Ms: check(setup, BUDGET.setupP99Ms),
    memoryPerCallKiB: memoryCheck,
  };
  const bins = recorder.frameIn.byLive(plan.calls, 10);
  const binsOut = recorder.frameOut.byLive(plan.calls, 10);
  const curve = bins.map((bin, i): CurvePoint => {
    const s = rounded(summarize([...bin.values, ...(binsOut[i]?.values ?? [])]));
    return { calls: bin.upTo, count: s.count, p50: s.p50, p95: s.p95, p99: s.p99, max: s.max };
  });
  const selfCost: ProcessCost = cost(self0, self1) ?? { cpuSeconds: 0, cpuPercent: 0 };
  const engineCost = cost(engine0, engine1);
  const busyPercent = system0 && system1
    ? round(((system1.busySeconds - system0.busySeconds) / wallS) * 100, 1)
    : null;
  const otherPercent = busyPercent === null ? null : round(
    Math.max(
      0,
      busyPercent - selfCost.cpuPercent - (engineCost?.cpuPercent ?? 0) -
        (gatewayCost?.cpuPercent ?? 0),
    ),
    1,
  );
  return {
    calls: plan.calls,
    format: o.audio.format,
    durationS: plan.durationS,
    spreadS: plan.spreadS,
    wallS: round(wallS, 2),
    window: {
      fromS: Number.isFinite(from) ? round((from - wall0) / 1000, 2) : 0,
      toS: Number.isFinite(to) ? round((to - wall0) / 1000, 2) : round(wallS, 2),
      seconds: Number.isFinite(from) ? round((to - from) / 1000, 2) : round(wallS, 2),
    },
    latencyMs: {
      frames,
      callerToUpstream: rounded(summarize(framesIn)),
      upstreamToCaller: rounded(summarize(framesOut)),
      framesWholeStep: rounded(summarize(whole)),
      pacedLateness: rounded(summarize(recorder.paced.values())),
      heldUntilUpstreamReady: rounded(recorder.preReady.summary()),
      setup,
      upstreamReady: rounded(recorder.upstreamReady.summary()),
      bargeIn,
      bargeInHeard: rounded(recorder.bargeInHeard.summary()),
      greeting: rounded(recorder.greeting.summary()),
      replyTotal: rounded(recorder.replyTotal.summary()),
      replyEngine: rounded(recorder.replyEngine.summary()),
      replyGateway: rounded(recorder.replyGateway.summary()),
    },
    gateway,
    engine: engineCost,
    bench: {
      ...selfCost,
      loopLagMs: rounded(recorder.loopLag.summary()),
      sendLatenessMs: rounded(recorder.sendLateness.summary()),
    },
    host: { loadAverage: load ?? null, busyPercent, otherPercent },
    counts: {
      ...recorder.counts,
      chunksMeasured: recorder.frameOut.count + recorder.paced.count,
      callsAccepted: accepted.length,
    },
    errors: { ...recorder.errors },
    errorTotal,
    budget: {
      ...budget,
      ok: Object.values(budget).every((c) => c.ok) && errorTotal === 0,
    },
    curve,
    profile,
    perCall: probes.map((p, i): CallFigures => ({
      index: p.index,
      conversationId: callId(calls[i]),
      setupMs: p.setupMs === undefined ? null : round(p.setupMs, 3),
      upstreamReadyMs: p.upstreamReadyMs === undefined ? null : round(p.upstreamReadyMs, 3),
      callerToUpstreamMs: rounded(p.frameIn.summary()),
      upstreamToCallerMs: rounded(p.frameOut.summary()),
      pacedLatenessMs: rounded(p.paced.summary()),
      bargeInMs: rounded(p.bargeIn.summary()),
      replies: p.replies,
      framesSent: p.framesSent,
      framesAppended: p.framesAppended,
      chunks: p.chunks,
      errors: nonZero(p.errors),
    })),
    relay: null,
  };
}

function callId(call: BenchCall | undefined): string {
  return call?.conversationId ?? "";
}

function nonZero(errors: ErrorCounts): Partial<ErrorCounts> {
  const out: Partial<ErrorCounts> = {};
  for (const [key, value] of Object.entries(errors)) {
    if (value !== 0 && isErrorKey(key, errors)) out[key] = value;
  }
  return out;
}

function isErrorKey(key: string, errors: ErrorCounts): key is keyof ErrorCounts {
  return key in errors;
}

/** The step's one-line progress summary. */
export function summaryLine(step: StepReport): string {
  const l = step.latencyMs.frames;
  return `${step.calls} calls: frame p50 ${l.p50} p99 ${l.p99} max ${l.max} ms; barge-in p99 ${step.latencyMs.bargeIn.p99} ms; setup p99 ${step.latencyMs.setup.p99} ms; ${step.errorTotal} errors`;
}
