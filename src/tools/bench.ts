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
 * Library: {@linkcode runBench}. CLI: `deno task bench --help`. The parts live in `./bench/`:
 * options, the processes (launch), a run and its ramp, one measured step, the simulated calls
 * (caller, on the simulator's VAIC connection), the tap and probes, the report and its outputs,
 * and the command line.
 */
import { main } from "./bench/cli.ts";

export type { BenchOptions } from "./bench/options.ts";
export { BENCH_INSTRUCTIONS } from "./bench/options.ts";
export { runBench } from "./bench/run.ts";
export { reportLines, writeReport } from "./bench/output.ts";
export { main };

if (import.meta.main) Deno.exit(await main(Deno.args));
