/** `deno task bench`: the command line. */
import { parseArgs } from "node:util";
import { isAudioCodesFormat } from "../../protocol/media_format.ts";
import type { BenchOptions } from "./options.ts";
import { CAPACITY_TARGET_MS, DEFAULT_STEPS } from "./options.ts";
import { reportLines, writeReport } from "./output.ts";
import type { BenchReport } from "./report.ts";
import { BUDGET } from "./report.ts";
import { runBench } from "./run.ts";

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
