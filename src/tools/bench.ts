/**
 * `deno task bench`: the gateway's latency and capacity benchmark.
 *
 * Three processes: the gateway (`src/main.ts`, as deployed), the local realtime engine as its
 * upstream, and this one, which plays VAIC (N concurrent calls of real speech in real-time 20 ms
 * frames) and sits between the gateway and the engine as a recording proxy, so one clock sees
 * every frame enter and leave the gateway. Reports gateway-added latency per frame in both
 * directions, call setup, barge-in reaction, reply latency split into engine and gateway time,
 * the gateway's CPU and memory, and errors; `--ramp` finds the capacity at a p99 target.
 *
 * Library: {@linkcode runBench}. CLI: `deno task bench --help`.
 */
import { parseArgs } from "node:util";
import type { AudioCodesFormat } from "../protocol/media_format.ts";
import { formatPlan, isAudioCodesFormat } from "../protocol/media_format.ts";
import { ResamplerFactory } from "../audio/resampler.ts";
import type { CallAudio } from "./bench/audio.ts";
import { FIXTURES_DIR, prepareAudio } from "./bench/audio.ts";
import type { CallScript } from "./bench/caller.ts";
import { BenchCall, DEFAULT_SCRIPT, Pacer } from "./bench/caller.ts";
import type { DenoChild } from "./bench/process.ts";
import {
  baseEnv,
  loadAverage,
  MemoryWatch,
  readProc,
  sampleProcess,
  sampleSystem,
  startDenoChild,
} from "./bench/process.ts";
import type { ErrorCounts } from "./bench/probe.ts";
import { CallProbe, Recorder } from "./bench/probe.ts";
import type {
  BenchReport,
  BudgetCheck,
  CallFigures,
  CurvePoint,
  ProcessCost,
  StepReport,
} from "./bench/report.ts";
import { BUDGET, chartSvg, compareWithRelay, rampLines, stepLines } from "./bench/report.ts";
import type { Summary } from "./bench/stats.ts";
import { rounded, summarize } from "./bench/stats.ts";
import { BenchTap } from "./bench/tap.ts";
import { InspectorProfiler, summarizeProfile } from "./bench/profile.ts";

/** Options of {@linkcode runBench}; every field has a default. */
export interface BenchOptions {
  /** Concurrent calls of a single run; default 200. */
  readonly calls?: number;
  /** The one format every call offers; default `raw/mulaw`. */
  readonly format?: AudioCodesFormat;
  /** Seconds each call streams; default 20. */
  readonly durationS?: number;
  /** Call start times are spread evenly over this many seconds; default 5. */
  readonly spreadS?: number;
  /** Seconds of unmeasured warm-up calls (up to 20) first; 0 for none. Default 6. */
  readonly warmupS?: number;
  /** Find the capacity: run `steps` until p99 exceeds `targetMs` or time runs out. */
  readonly ramp?: boolean;
  /** Ramp steps (concurrent calls); default 25, 50, 100, 150, 200, 250, 300, 400, 500. */
  readonly steps?: readonly number[];
  /** Seconds each ramp step's calls stream; default 10. */
  readonly stepDurationS?: number;
  /** Seconds over which a ramp step's calls start; default 3. */
  readonly stepSpreadS?: number;
  /** The ramp stops before a step that would end after this many seconds; default 110. */
  readonly timeLimitS?: number;
  /**
   * p99 target of gateway-added latency per frame, in ms: default 1 (the budget) for a single
   * run, 5 for `ramp` (capacity on a shared 2-core box, where bench, engine and gateway compete).
   */
  readonly targetMs?: number;
  /** A running gateway's `/ws` URL instead of starting one (see `--help`). */
  readonly url?: string;
  /** With `url`: the tap's port, for the gateway's `OPENAI_REALTIME_URL`; default 8011. */
  readonly tapPort?: number;
  /** With `url`: the gateway's pid, for CPU and memory. */
  readonly gatewayPid?: number;
  /** The gateway's PLAYOUT_LEAD_MS; default 200. */
  readonly leadMs?: number;
  /** The two utterances (WAV paths); default the `hello_16k` and `question_8k` fixtures. */
  readonly speech?: readonly [string | URL, string | URL];
  /** Script timings. */
  readonly script?: Partial<CallScript>;
  /** Pin the gateway to CPU 1 and the engine and bench to CPU 0 (`taskset`, Linux). */
  readonly pin?: boolean;
  /**
   * Run the gateway process (only it) under SCHED_FIFO (`chrt -f 10`, root): on a machine whose
   * CPUs other tenants keep busy, its wake-ups are then as prompt as on a dedicated box. Its
   * work is bounded by the load and it blocks on I/O, so it cannot starve the machine; the
   * engine and the bench stay at normal priority. The report records it.
   */
  readonly realtime?: boolean;
  /**
   * Measure the do-nothing relay (`bench/null_gateway.ts`, same upstream client) at every step
   * too, alternating with the gateway, and report the gateway's ratios to it. Default on
   * (off with `calibrate` or `url`).
   */
  readonly relay?: boolean;
  /**
   * Which goes first at odd steps (even steps swap): the gateway (default) or the relay. A
   * single run has one step, so alternate this between rounds.
   */
  readonly relayFirst?: boolean;
  /** `UPSTREAM_CLIENT` of the gateway and the relay: `ws` (default) or `native`. */
  readonly upstreamClient?: "ws" | "native";
  /** The gateway's `UPSTREAM_POOL_SIZE` (default 0). */
  readonly pool?: number;
  /** The tap answers each upstream upgrade after this many ms (a distant service); default 0. */
  readonly handshakeDelayMs?: number;
  /**
   * Calibrate: run `bench/null_gateway.ts` (a do-nothing relay) instead of the gateway, to see
   * the harness's own floor on this machine.
   */
  readonly calibrate?: boolean;
  /**
   * Profile the gateway's CPU during the measured step(s) and write the `.cpuprofile` here
   * (the gateway then runs with the inspector on, which costs a little: profile separately).
   */
  readonly profile?: string;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
  /** The command line recorded in the report. */
  readonly command?: string;
  readonly signal?: AbortSignal;
}

/** The gateway's instructions during a bench: the call's tag ties its upstream session to it. */
export const BENCH_INSTRUCTIONS =
  "You are a voice assistant on a benchmark call. Call tag: {benchTag}.";

const ROOT = new URL("../../", import.meta.url);
const DENO_RUN_PERMISSIONS = [
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-sys=hostname",
];
const DEFAULT_STEPS = [25, 50, 100, 150, 200, 250, 300, 400, 500];

/** A process the calls dial: the gateway, or the null relay. */
interface Target {
  readonly wsUrl: string;
  readonly pid: number | undefined;
}

interface Processes extends AsyncDisposable {
  readonly gateway: Target;
  /** The null relay, when it is measured next to the gateway. */
  readonly relay: Target | undefined;
  readonly inspector: string | undefined;
  readonly enginePid: number;
  readonly tap: BenchTap;
}

interface StepPlan {
  readonly step: number;
  readonly calls: number;
  readonly durationS: number;
  readonly spreadS: number;
}

/** Runs the benchmark and returns its report. */
export async function runBench(options: BenchOptions = {}): Promise<BenchReport> {
  const startedAt = new Date();
  const began = performance.now();
  const log = options.log ?? (() => {});
  const format = options.format ?? "raw/mulaw";
  const targetMs = options.targetMs ?? (options.ramp ? CAPACITY_TARGET_MS : BUDGET.frameP99Ms);
  const leadMs = options.leadMs ?? 200;
  const script: CallScript = { ...DEFAULT_SCRIPT, ...options.script };
  const resamplers = await ResamplerFactory.load();
  const [first, second] = options.speech ??
    [new URL("hello_16k.wav", FIXTURES_DIR), new URL("question_8k.wav", FIXTURES_DIR)];
  const audio = await prepareAudio(format, { first, second, resamplers });

  let recorder = new Recorder();
  const probes = new Map<string, CallProbe>();
  await using processes = await startProcesses({
    options,
    leadMs,
    lookup: (tag) => probes.get(tag),
    recorder: () => recorder,
    log,
  });

  const previousBy = new Map<Target, { calls: number; peakRssBytes: number }>();
  const runOne = async (
    plan: StepPlan,
    measured: boolean,
    target: Target,
  ): Promise<StepReport> => {
    recorder = new Recorder();
    probes.clear();
    const previous = previousBy.get(target);
    const isRelay = target === processes.relay;
    const result = await measureStep(isRelay ? { ...plan, step: plan.step + 1000 } : plan, {
      target,
      ...(previous ? { previous } : {}),
      ...(measured && !isRelay && options.profile !== undefined
        ? {
          profile: `${options.profile.replace(/\.cpuprofile$/, "")}${
            options.ramp ? `-${plan.calls}` : ""
          }.cpuprofile`,
        }
        : {}),
      audio,
      script,
      leadMs,
      targetMs,
      recorder,
      processes,
      register: (probe) => probes.set(probe.tag, probe),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (measured) log(`  ${isRelay ? "null relay" : "gateway"}: ${summaryLine(result)}`);
    if (result.gateway) {
      previousBy.set(target, {
        calls: plan.calls,
        peakRssBytes: result.gateway.peakRssMiB * 2 ** 20,
      });
    }
    return result;
  };
  // The gateway and the relay take turns (which goes first alternates), so that drift of the
  // machine over the run weighs on both alike.
  const runStep = async (plan: StepPlan, measured: boolean): Promise<StepReport> => {
    const relay = processes.relay;
    if (!relay) return await runOne(plan, measured, processes.gateway);
    const relayFirst = (plan.step % 2 === 0) !== (options.relayFirst ?? false);
    const first = await runOne(plan, measured, relayFirst ? relay : processes.gateway);
    if (options.signal?.aborted) return first;
    const second = await runOne(plan, measured, relayFirst ? processes.gateway : relay);
    const [gateway, relayStep] = relayFirst ? [second, first] : [first, second];
    return { ...gateway, relay: compareWithRelay(gateway, relayStep) };
  };

  const warmupS = options.warmupS ?? 6;
  const firstCalls = options.ramp ? (options.steps ?? DEFAULT_STEPS)[0] ?? 25 : options.calls;
  if (warmupS > 0) {
    const calls = Math.min(20, firstCalls ?? 200);
    log(`Warm-up: ${calls} calls for ${warmupS} s (not measured)`);
    await runStep({ step: 0, calls, durationS: warmupS, spreadS: 1 }, false);
  }

  const steps: StepReport[] = [];
  let capacity: BenchReport["capacity"] = null;
  if (!options.ramp) {
    const calls = options.calls ?? 200;
    const durationS = options.durationS ?? 20;
    const spreadS = options.spreadS ?? 5;
    log(`Run: ${calls} concurrent ${format} calls, ${durationS} s each`);
    steps.push(await runStep({ step: 1, calls, durationS, spreadS }, true));
  } else {
    const stepDurationS = options.stepDurationS ?? 10;
    const stepSpreadS = options.stepSpreadS ?? 3;
    const limitS = options.timeLimitS ?? (processes.relay ? 240 : 110);
    // Each step runs the relay too: twice the time.
    const perStepS = (stepSpreadS + stepDurationS + 3) * (processes.relay ? 2 : 1);
    let best = 0;
    let failed = false;
    let relayBest: number | null = processes.relay ? 0 : null;
    let relayFailed = false;
    let stoppedBy: NonNullable<BenchReport["capacity"]>["stoppedBy"] = "last step";
    const list = options.steps ?? DEFAULT_STEPS;
    for (const [i, calls] of list.entries()) {
      const elapsedS = (performance.now() - began) / 1000;
      if (elapsedS + perStepS > limitS) {
        stoppedBy = "time limit";
        break;
      }
      if (options.signal?.aborted) break;
      log(`Ramp step ${i + 1}/${list.length}: ${calls} concurrent ${format} calls`);
      const step = await runStep(
        { step: i + 1, calls, durationS: stepDurationS, spreadS: stepSpreadS },
        true,
      );
      steps.push(step);
      const within = step.budget.frameP99Ms.ok && step.errorTotal === 0;
      if (within && !failed) best = calls;
      failed ||= !within;
      if (step.relay && relayBest !== null) {
        const relayWithin = step.relay.framesP99Ms.relay <= targetMs &&
          step.relay.relayErrors === 0;
        if (relayWithin && !relayFailed) relayBest = calls;
        relayFailed ||= !relayWithin;
      }
      // Past the budget the ramp goes on for the chart, until calls fail or it is no longer real
      // time (p99 over 100 ms or 20 × the target).
      if (step.errorTotal > 0) {
        stoppedBy = "errors";
        break;
      }
      if (step.latencyMs.frames.p99 > Math.max(20 * targetMs, 100)) {
        stoppedBy = "far over budget";
        break;
      }
    }
    capacity = { targetMs, calls: best, stoppedBy, relayCalls: relayBest };
  }

  const curve: CurvePoint[] = steps.length > 1
    ? steps.map((s) => ({
      calls: s.calls,
      count: s.latencyMs.frames.count,
      p50: s.latencyMs.frames.p50,
      p95: s.latencyMs.frames.p95,
      p99: s.latencyMs.frames.p99,
      max: s.latencyMs.frames.max,
    }))
    : [...(steps[0]?.curve ?? [])];
  const withRss = steps.filter((s) => s.gateway !== null);
  const memorySlopeKiBPerCall = options.ramp && withRss.length >= 3
    ? round(slope(withRss.map((s) => [s.calls, (s.gateway?.peakRssMiB ?? 0) * 1024])), 1)
    : null;
  return {
    tool: "deno task bench",
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: options.command ?? "deno task bench",
    machine: machine(),
    mode: options.ramp ? "ramp" : "single",
    settings: {
      format,
      targetMs,
      leadMs,
      warmupS,
      script,
      speech: [audio.first.name, audio.second.name],
      gateway: options.url ??
        (options.calibrate
          ? "calibration: src/tools/bench/null_gateway.ts (a do-nothing relay), not the gateway"
          : "started by the bench (src/main.ts)"),
      pinned: options.pin ?? false,
      profiled: options.profile !== undefined,
      realtime: options.realtime ?? false,
      calibrate: options.calibrate ?? false,
      relay: processes.relay !== undefined,
      upstreamClient: options.upstreamClient ?? "ws",
      pool: options.pool ?? 0,
      handshakeDelayMs: options.handshakeDelayMs ?? 0,
    },
    steps,
    capacity,
    curve,
    memorySlopeKiBPerCall,
  };
}

/** Least-squares slope of y over x. */
function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let sxy = 0, sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return sxx === 0 ? 0 : sxy / sxx;
}

async function startProcesses(o: {
  options: BenchOptions;
  leadMs: number;
  lookup: (tag: string) => CallProbe | undefined;
  recorder: () => Recorder;
  log: (line: string) => void;
}): Promise<Processes> {
  const { options, log } = o;
  const cwd = ROOT.pathname;
  const pin = options.pin === true && navigator.hardwareConcurrency >= 2;
  if (pin) await pinSelf("0");
  const realtime = options.realtime ? { fifo: FIFO_PRIORITY } : {};
  log("Starting the local realtime engine");
  const engine = await startDenoChild({
    script: "src/local/main.ts",
    args: ["--port", "0", "--host", "127.0.0.1"],
    env: { ...baseEnv(), LOG_LEVEL: "info" },
    cwd,
    permissions: DENO_RUN_PERMISSIONS,
    readyMessage: "Local realtime engine listening",
    ...(pin ? { cpus: "0" } : {}),
  });
  let tap: BenchTap | undefined;
  let gateway: DenoChild | undefined;
  let relay: DenoChild | undefined;
  try {
    tap = new BenchTap({
      target: engine.url,
      lookup: o.lookup,
      recorder: o.recorder,
      port: options.url === undefined ? 0 : options.tapPort ?? 8011,
      ...(options.handshakeDelayMs ? { handshakeDelayMs: options.handshakeDelayMs } : {}),
    });
    const env = {
      ...baseEnv(),
      OPENAI_API_KEY: "bench",
      // Loopback only (HOST below): the bench's VAIC sends no token.
      ALLOW_UNAUTHENTICATED_BOT: "true",
      OPENAI_REALTIME_URL: tap.url,
      HOST: "127.0.0.1",
      PORT: "0",
      LOG_LEVEL: "info",
      INSTRUCTIONS: BENCH_INSTRUCTIONS,
      PLAYOUT_LEAD_MS: String(o.leadMs),
      UPSTREAM_CLIENT: options.upstreamClient ?? "ws",
      UPSTREAM_POOL_SIZE: String(options.pool ?? 0),
    };
    const start = (script: string, profile: boolean) =>
      startDenoChild({
        script,
        env,
        cwd,
        permissions: DENO_RUN_PERMISSIONS,
        readyMessage: "Voice gateway listening",
        ...(pin ? { cpus: "1" } : {}),
        ...realtime,
        flags: profile ? ["--inspect=127.0.0.1:0"] : [],
      });
    const wsOf = (child: DenoChild) => `${child.url.replace(/^http/, "ws")}/ws`;
    let target: Target;
    if (options.url === undefined) {
      log(options.calibrate ? "Starting the null relay (calibration)" : "Starting the gateway");
      gateway = await start(
        options.calibrate ? "src/tools/bench/null_gateway.ts" : "src/main.ts",
        options.profile !== undefined,
      );
      target = { wsUrl: wsOf(gateway), pid: gateway.pid };
      if (!options.calibrate && (options.relay ?? true)) {
        log("Starting the null relay (measured next to the gateway)");
        relay = await start("src/tools/bench/null_gateway.ts", false);
      }
    } else {
      target = { wsUrl: options.url, pid: options.gatewayPid };
      log(
        `Targeting ${options.url}: its OPENAI_REALTIME_URL must be ${tap.url} and its ` +
          `INSTRUCTIONS must contain {benchTag}`,
      );
    }
    const started = { engine, tap, gateway, relay };
    return {
      gateway: target,
      relay: relay ? { wsUrl: wsOf(relay), pid: relay.pid } : undefined,
      get inspector() {
        return started.gateway?.inspector;
      },
      enginePid: engine.pid,
      tap,
      async [Symbol.asyncDispose]() {
        await started.gateway?.close();
        await started.relay?.close();
        await started.tap.close();
        await started.engine.close();
      },
    };
  } catch (error) {
    await gateway?.close();
    await relay?.close();
    await tap?.close();
    await engine.close();
    throw error;
  }
}

const FIFO_PRIORITY = 10;
/** The ramp's default target: p99 ≤ 5 ms added (issue #13, on this shared 2-core box). */
const CAPACITY_TARGET_MS = 5;

async function pinSelf(cpus: string): Promise<void> {
  try {
    await new Deno.Command("taskset", {
      args: ["-a", "-p", "-c", cpus, String(Deno.pid)],
      stdout: "null",
      stderr: "null",
    }).output();
  } catch {
    // No taskset: run unpinned.
  }
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

async function measureStep(
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

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function summaryLine(step: StepReport): string {
  const l = step.latencyMs.frames;
  return `${step.calls} calls: frame p50 ${l.p50} p99 ${l.p99} max ${l.max} ms; barge-in p99 ${step.latencyMs.bargeIn.p99} ms; setup p99 ${step.latencyMs.setup.p99} ms; ${step.errorTotal} errors`;
}

function machine(): BenchReport["machine"] {
  let cpuModel = "";
  try {
    cpuModel = readProc("/proc/cpuinfo").match(/^model name\s*:\s*(.+)$/m)?.[1] ?? "";
  } catch { /* not Linux */ }
  return {
    cpus: navigator.hardwareConcurrency,
    cpuModel,
    os: Deno.build.os,
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
  };
}

// ---------------------------------------------------------------------------------------------
// files

/** Writes `<name>.json` and `<name>.svg` into `dir`; returns their paths. */
export async function writeReport(
  report: BenchReport,
  dir: string,
): Promise<{ json: string; svg: string }> {
  await Deno.mkdir(dir, { recursive: true });
  const name = report.mode === "ramp" ? "ramp" : "bench";
  const json = `${dir.replace(/\/$/, "")}/${name}.json`;
  const svg = `${dir.replace(/\/$/, "")}/${name}.svg`;
  await Deno.writeTextFile(json, `${JSON.stringify(report, null, 2)}\n`);
  const step = report.steps.at(-1);
  const format = step?.format ?? "";
  const title = report.mode === "ramp"
    ? `Gateway-added latency per frame vs. concurrent ${format} calls`
    : `Gateway-added latency per frame while ${step?.calls ?? 0} ${format} calls ramp up`;
  const m = report.machine;
  const capacity = report.capacity
    ? `; capacity at p99 ≤ ${report.capacity.targetMs} ms: ${report.capacity.calls} calls`
    : "";
  await Deno.writeTextFile(
    svg,
    chartSvg(report.curve, {
      title,
      subtitle: `${m.cpus} × ${
        m.cpuModel || "CPU"
      }, ${m.os} ${m.kernel}, Deno ${m.deno}${capacity}`,
      targetMs: report.capacity?.targetMs ?? step?.budget.frameP99Ms.limit ?? BUDGET.frameP99Ms,
    }),
  );
  return { json, svg };
}

/** The report's human text (the stdout table). */
export function reportLines(report: BenchReport): string[] {
  const m = report.machine;
  const lines = [
    `Voice gateway benchmark (${report.mode}) on ${m.cpus} × ${
      m.cpuModel || "CPU"
    }, ${m.os} ${m.kernel}, Deno ${m.deno}`,
    "",
  ];
  if (report.mode === "ramp") {
    lines.push(...rampLines(report), "");
    const last = report.steps.filter((s) => s.calls === report.capacity?.calls).at(-1);
    if (last) lines.push(`At capacity (${last.calls} calls):`, ...stepLines(last));
  } else {
    for (const step of report.steps) lines.push(...stepLines(step));
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------
// CLI

const USAGE = `Usage: deno task bench [options]

Measures what the gateway adds: starts the gateway (src/main.ts) and the local realtime engine
as separate processes, plays N concurrent VAIC calls of real speech in real-time 20 ms frames,
and records every frame on both sides of the gateway.

Options:
  --calls N            concurrent calls (default 200)
  --format F           raw/mulaw (default), raw/alaw, raw/lpcm16_24, raw/lpcm16, raw/lpcm16_8
  --duration S         seconds each call streams (default 20)
  --spread S           seconds over which the calls start (default 5)
  --warmup S           seconds of unmeasured warm-up calls first; 0 for none (default 6)
  --ramp               find the capacity: steps of calls; capacity = the largest step before
                       the first whose p99 exceeds --target-ms (steps go on for the chart
                       until calls fail, p99 > max(20 × target, 100 ms), or the time limit)
  --steps LIST         ramp steps (default ${DEFAULT_STEPS.join(",")})
  --step-duration S    seconds each ramp step streams (default 10)
  --time-limit S       the ramp stops before exceeding this (default 240 with the relay, else 110)
  --target-ms X        p99 target of gateway-added latency per frame (default ${BUDGET.frameP99Ms};
                       ${CAPACITY_TARGET_MS} with --ramp)
  --speech A.wav,B.wav the two utterances (default tests/fixtures/speech/hello_16k.wav,question_8k.wav)
  --pin                pin the gateway to CPU 1, engine and bench to CPU 0 (taskset)
  --realtime           run the gateway process (only it) under SCHED_FIFO (chrt, root): on a
                       machine other tenants keep busy, its wake-ups are then as prompt as on a
                       dedicated box; the engine and the bench stay at normal priority
  --calibrate          measure only the do-nothing relay (src/tools/bench/null_gateway.ts):
                       the floor of the harness on this machine
  --no-relay           skip the null relay that is otherwise measured at every step next to the
                       gateway (same upstream client, alternating), with the gateway's ratios
  --relay-first        measure the relay before the gateway (at odd steps; a single run has one:
                       alternate this between rounds)
  --upstream-client C  ws (default) or native: UPSTREAM_CLIENT of the gateway and the relay
  --pool N             the gateway's UPSTREAM_POOL_SIZE (default 0)
  --handshake-delay-ms MS
                       the upstream answers each connection after MS (a distant service's
                       TCP + TLS + WebSocket setup); with --pool it shows in the greeting
  --profile FILE       CPU-profile the gateway during the run (V8 inspector); writes
                       FILE.cpuprofile (per step with --ramp) and prints the hottest functions
  --out DIR            where bench.json/bench.svg (ramp.json/ramp.svg) go (default out/bench)
  --no-files           print only
  --json               print the JSON report instead of the table
  --strict             exit 2 when the budget is not met
  --url URL            target a running gateway's /ws instead; start it with
                       OPENAI_API_KEY=bench OPENAI_REALTIME_URL=ws://127.0.0.1:<tap-port>/v1/realtime
                       INSTRUCTIONS='Call tag: {benchTag}.'
  --tap-port N         with --url: the tap's port (default 8011)
  --gateway-pid PID    with --url: the gateway's pid, for CPU and memory
  --lead-ms MS         with --url: the gateway's PLAYOUT_LEAD_MS (default 200)
  -h, --help           this text`;

/** Runs the CLI; resolves with the exit code (0 done, 1 error, 2 over budget with --strict). */
export async function main(args: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCli(args);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 1;
  }
  if (parsed === "help") {
    console.log(USAGE);
    return 0;
  }
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  let report: BenchReport;
  try {
    report = await runBench({
      ...parsed.options,
      signal: controller.signal,
      log: (line) => console.error(line),
      command: ["deno task bench", ...args].join(" "),
    });
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
  if (parsed.json) console.log(JSON.stringify(report, null, 2));
  else for (const line of reportLines(report)) console.log(line);
  if (parsed.out !== undefined) {
    const files = await writeReport(report, parsed.out);
    console.error(`Wrote ${files.json} and ${files.svg}`);
  }
  const ok = report.mode === "ramp"
    ? (report.capacity?.calls ?? 0) > 0
    : report.steps.every((s) => s.budget.ok);
  return parsed.strict && !ok ? 2 : 0;
}

interface Cli {
  readonly options: BenchOptions;
  readonly out: string | undefined;
  readonly json: boolean;
  readonly strict: boolean;
}

function parseCli(args: readonly string[]): Cli | "help" {
  const { values } = parseArgs({
    args: [...args],
    strict: true,
    allowPositionals: false,
    options: {
      calls: { type: "string" },
      format: { type: "string" },
      duration: { type: "string" },
      spread: { type: "string" },
      warmup: { type: "string" },
      ramp: { type: "boolean" },
      steps: { type: "string" },
      "step-duration": { type: "string" },
      "time-limit": { type: "string" },
      "target-ms": { type: "string" },
      speech: { type: "string" },
      pin: { type: "boolean" },
      profile: { type: "string" },
      realtime: { type: "boolean" },
      "no-relay": { type: "boolean" },
      "relay-first": { type: "boolean" },
      "upstream-client": { type: "string" },
      pool: { type: "string" },
      "handshake-delay-ms": { type: "string" },
      calibrate: { type: "boolean" },
      out: { type: "string" },
      "no-files": { type: "boolean" },
      json: { type: "boolean" },
      strict: { type: "boolean" },
      url: { type: "string" },
      "tap-port": { type: "string" },
      "gateway-pid": { type: "string" },
      "lead-ms": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  const num = (name: string, value: string | undefined, min: number): number | undefined => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n < min) {
      throw new TypeError(
        `Cannot parse --${name}: ${JSON.stringify(value)} is not a number >= ${min}`,
      );
    }
    return n;
  };
  const int = (name: string, value: string | undefined, min: number): number | undefined => {
    const n = num(name, value, min);
    if (n !== undefined && !Number.isInteger(n)) {
      throw new TypeError(`Cannot parse --${name}: ${JSON.stringify(value)} is not a whole number`);
    }
    return n;
  };
  const format = values.format;
  if (format !== undefined && !isAudioCodesFormat(format)) {
    throw new TypeError(`Cannot parse --format: ${JSON.stringify(format)} is not a raw/* format`);
  }
  const steps = values.steps?.split(",").map((s) => int("steps", s.trim(), 1)!);
  const upstreamClient = values["upstream-client"];
  if (upstreamClient !== undefined && upstreamClient !== "ws" && upstreamClient !== "native") {
    throw new TypeError(
      `Cannot parse --upstream-client: ${JSON.stringify(upstreamClient)} is not ws or native`,
    );
  }
  let speech: [string, string] | undefined;
  if (values.speech !== undefined) {
    const [a, b] = values.speech.split(",").map((s) => s.trim());
    if (!a || !b) throw new TypeError("Cannot parse --speech: expected two WAV paths, A,B");
    speech = [a, b];
  }
  const options: BenchOptions = {
    ...(values.calls === undefined ? {} : { calls: int("calls", values.calls, 1)! }),
    ...(format === undefined ? {} : { format }),
    ...(values.duration === undefined ? {} : { durationS: num("duration", values.duration, 1)! }),
    ...(values.spread === undefined ? {} : { spreadS: num("spread", values.spread, 0)! }),
    ...(values.warmup === undefined ? {} : { warmupS: num("warmup", values.warmup, 0)! }),
    ...(values.ramp ? { ramp: true } : {}),
    ...(steps === undefined ? {} : { steps }),
    ...(values["step-duration"] === undefined
      ? {}
      : { stepDurationS: num("step-duration", values["step-duration"], 1)! }),
    ...(values["time-limit"] === undefined
      ? {}
      : { timeLimitS: num("time-limit", values["time-limit"], 1)! }),
    ...(values["target-ms"] === undefined
      ? {}
      : { targetMs: num("target-ms", values["target-ms"], 0)! }),
    ...(speech === undefined ? {} : { speech }),
    ...(values.pin ? { pin: true } : {}),
    ...(values.profile === undefined ? {} : { profile: values.profile }),
    ...(values.realtime ? { realtime: true } : {}),
    ...(values["no-relay"] ? { relay: false } : {}),
    ...(values["relay-first"] ? { relayFirst: true } : {}),
    ...(upstreamClient === undefined ? {} : { upstreamClient }),
    ...(values.pool === undefined ? {} : { pool: int("pool", values.pool, 0)! }),
    ...(values["handshake-delay-ms"] === undefined
      ? {}
      : { handshakeDelayMs: num("handshake-delay-ms", values["handshake-delay-ms"], 0)! }),
    ...(values.calibrate ? { calibrate: true } : {}),
    ...(values.url === undefined ? {} : { url: values.url }),
    ...(values["tap-port"] === undefined
      ? {}
      : { tapPort: int("tap-port", values["tap-port"], 0)! }),
    ...(values["gateway-pid"] === undefined
      ? {}
      : { gatewayPid: int("gateway-pid", values["gateway-pid"], 1)! }),
    ...(values["lead-ms"] === undefined ? {} : { leadMs: num("lead-ms", values["lead-ms"], 0)! }),
  };
  return {
    options,
    out: values["no-files"] ? undefined : values.out ?? "out/bench",
    json: values.json ?? false,
    strict: values.strict ?? false,
  };
}

if (import.meta.main) Deno.exit(await main(Deno.args));
