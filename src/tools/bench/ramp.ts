/**
 * `--ramp`: steps of more and more calls until the time limit, errors, or a p99 far over the
 * target; the capacity is the largest step before the first over the target (gateway and, when
 * measured next to it, the relay).
 */
import type { AudioCodesFormat } from "../../protocol/media_format.ts";
import type { BenchReport, StepReport } from "./report.ts";
import type { StepPlan } from "./step.ts";

/** Runs one step (gateway and relay in turn). */
export type RunStep = (plan: StepPlan, measured: boolean) => Promise<StepReport>;

/** Runs the ramp's steps; returns them and the capacity. */
export async function runRamp(runStep: RunStep, o: {
  readonly steps: readonly number[];
  readonly stepDurationS: number;
  readonly stepSpreadS: number;
  /** The ramp stops before a step that would end after this many seconds of the run. */
  readonly limitS: number;
  /** The relay runs at every step too. */
  readonly relay: boolean;
  readonly targetMs: number;
  readonly format: AudioCodesFormat;
  /** When the run began (`performance.now()`). */
  readonly began: number;
  readonly log: (line: string) => void;
  readonly signal?: AbortSignal;
}): Promise<{ steps: StepReport[]; capacity: NonNullable<BenchReport["capacity"]> }> {
  const { stepDurationS, stepSpreadS, limitS, targetMs, format, log } = o;
  const steps: StepReport[] = [];
  // Each step runs the relay too: twice the time.
  const perStepS = (stepSpreadS + stepDurationS + 3) * (o.relay ? 2 : 1);
  let best = 0;
  let failed = false;
  let relayBest: number | null = o.relay ? 0 : null;
  let relayFailed = false;
  let stoppedBy: NonNullable<BenchReport["capacity"]>["stoppedBy"] = "last step";
  const list = o.steps;
  for (const [i, calls] of list.entries()) {
    const elapsedS = (performance.now() - o.began) / 1000;
    if (elapsedS + perStepS > limitS) {
      stoppedBy = "time limit";
      break;
    }
    if (o.signal?.aborted) break;
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
  return { steps, capacity: { targetMs, calls: best, stoppedBy, relayCalls: relayBest } };
}
