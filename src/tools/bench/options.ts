/** The benchmark's options and their defaults. */
import type { AudioCodesFormat } from "../../protocol/media_format.ts";
import type { CallScript } from "./caller.ts";

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

/** The ramp's default steps (concurrent calls). */
export const DEFAULT_STEPS: readonly number[] = [25, 50, 100, 150, 200, 250, 300, 400, 500];

/** The ramp's default target: p99 ≤ 5 ms added (issue #13, on this shared 2-core box). */
export const CAPACITY_TARGET_MS = 5;
