/**
 * The bench's processes: the local realtime engine, the tap in front of it (in this process),
 * the gateway (or the null relay to calibrate, or a running gateway at `--url`) and the null
 * relay measured next to it.
 */
import type { DenoChild } from "./process.ts";
import { baseEnv, startDenoChild } from "./process.ts";
import type { CallProbe } from "./probe.ts";
import type { Recorder } from "./recorder.ts";
import { BenchTap } from "./tap.ts";
import type { BenchOptions } from "./options.ts";
import { BENCH_INSTRUCTIONS } from "./options.ts";

const ROOT = new URL("../../../", import.meta.url);
const DENO_RUN_PERMISSIONS = [
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-sys=hostname",
];

/** A process the calls dial: the gateway, or the null relay. */
export interface Target {
  readonly wsUrl: string;
  readonly pid: number | undefined;
}

/** The started processes; disposing stops them all. */
export interface Processes extends AsyncDisposable {
  readonly gateway: Target;
  /** The null relay, when it is measured next to the gateway. */
  readonly relay: Target | undefined;
  readonly inspector: string | undefined;
  readonly enginePid: number;
  readonly tap: BenchTap;
}

/** Starts the engine, the tap and the gateway (and the relay), per `options`. */
export async function startProcesses(o: {
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
