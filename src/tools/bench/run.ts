/** {@linkcode runBench}: warm-up, then a single run or the ramp, the gateway and relay in turn. */
import { ResamplerFactory } from "../../audio/resampler.ts";
import { FIXTURES_DIR, prepareAudio } from "./audio.ts";
import type { CallScript } from "./caller.ts";
import { DEFAULT_SCRIPT } from "./caller.ts";
import type { Target } from "./launch.ts";
import { startProcesses } from "./launch.ts";
import type { BenchOptions } from "./options.ts";
import { CAPACITY_TARGET_MS, DEFAULT_STEPS } from "./options.ts";
import { readProc } from "./process.ts";
import type { CallProbe } from "./probe.ts";
import { Recorder } from "./recorder.ts";
import { runRamp } from "./ramp.ts";
import type { BenchReport, CurvePoint, StepReport } from "./report.ts";
import { BUDGET, compareWithRelay } from "./report.ts";
import { round } from "./stats.ts";
import type { StepPlan } from "./step.ts";
import { measureStep, summaryLine } from "./step.ts";

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
    const ramp = await runRamp(runStep, {
      steps: options.steps ?? DEFAULT_STEPS,
      stepDurationS: options.stepDurationS ?? 10,
      stepSpreadS: options.stepSpreadS ?? 3,
      limitS: options.timeLimitS ?? (processes.relay ? 240 : 110),
      relay: processes.relay !== undefined,
      targetMs,
      format,
      began,
      log,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    steps.push(...ramp.steps);
    capacity = ramp.capacity;
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
