/**
 * The bench (`src/tools/bench.ts --url`) against variants of the gateway, started here, in
 * alternating rounds (the order flips each round, so the box's noise falls on every variant):
 *
 * - `--set cluster` (issue #15): `one` gateway without Redis, `two-no-redis` (two independent
 *   gateways) and `two` gateways sharing a real `redis-server` (`REDIS_URL`), all behind the same
 *   round-robin TCP balancer (so its hop is in each). Reports the calls each instance took, the gateways' CPU per call-second, caller→upstream
 *   latency and the registry operations Redis served (from `/metrics`) per call and per thousand
 *   frames: Redis must stay off the per-frame path.
 * - `--set observability` (issue #14): one gateway with metrics on (the default), with
 *   `METRICS_ENABLED=false`, and with `OTEL_DENO=true` exporting to a local OTLP receiver here.
 *
 *   deno task bench:compare --set cluster --calls 100 --duration 20 --rounds 2
 *   deno task bench:compare --set observability --calls 100 --duration 20 --rounds 3
 */
import { parseArgs } from "node:util";
import type { DenoChild } from "./bench/process.ts";
import { baseEnv, sampleProcess, startDenoChild } from "./bench/process.ts";

/** One way of running the gateway. */
interface Variant {
  readonly name: string;
  readonly instances: number;
  readonly redis: boolean;
  readonly env: Readonly<Record<string, string>>;
}

const SETS: Record<string, readonly Variant[]> = {
  cluster: [
    { name: "one", instances: 1, redis: false, env: {} },
    // Two without Redis: what two processes cost by themselves, so the next row shows Redis's part.
    { name: "two-no-redis", instances: 2, redis: false, env: {} },
    { name: "two", instances: 2, redis: true, env: {} },
  ],
  observability: [
    { name: "metrics", instances: 1, redis: false, env: {} },
    { name: "no-metrics", instances: 1, redis: false, env: { METRICS_ENABLED: "false" } },
    {
      name: "otel",
      instances: 1,
      redis: false,
      env: {
        OTEL_DENO: "true",
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_SERVICE_NAME: "voice-gateway-bench",
      },
    },
  ],
};

interface ModeResult {
  readonly mode: string;
  readonly callsPerInstance: number[];
  readonly cpuMsPerCallSecond: number;
  readonly callerToUpstreamP50Ms: number;
  readonly callerToUpstreamP99Ms: number;
  readonly upstreamToCallerP99Ms: number;
  readonly framesSent: number;
  readonly registryOps: number;
  readonly registryOpsPerCall: number;
  readonly registryOpsPerKiloFrame: number;
  readonly errors: number;
  /** OTLP export requests the local receiver got (the `otel` variant). */
  readonly otlpRequests: number;
}

const ROOT = new URL("../../", import.meta.url).pathname;
const PERMISSIONS = ["--allow-net", "--allow-env", "--allow-read", "--allow-sys=hostname"];

/** A free TCP port on loopback. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** A round-robin TCP balancer (what a layer-4 load balancer does), on loopback. */
function balancer(targets: readonly number[]): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  let next = 0;
  (async () => {
    for await (const inbound of listener) {
      const port = targets[next++ % targets.length]!;
      inbound.setNoDelay(true);
      void Deno.connect({ hostname: "127.0.0.1", port }).then((outbound) => {
        outbound.setNoDelay(true);
        open.add(inbound).add(outbound);
        const done = () => {
          for (const conn of [inbound, outbound]) {
            open.delete(conn);
            try {
              conn.close();
            } catch { /* closed */ }
          }
        };
        Promise.all([
          inbound.readable.pipeTo(outbound.writable).catch(() => {}),
          outbound.readable.pipeTo(inbound.writable).catch(() => {}),
        ]).finally(done);
      }, () => inbound.close());
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close() {
      listener.close();
      for (const conn of open) {
        try {
          conn.close();
        } catch { /* closed */ }
      }
    },
  };
}

/** Starts `redis-server` without persistence on a free port. */
async function startRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = freePort();
  const child = new Deno.Command("redis-server", {
    args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const deadline = Date.now() + 10_000;
  while (true) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        await child.status;
        throw new Error("redis-server did not start");
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

/** Sum of a counter's samples in a gateway's `/metrics`. */
async function counter(url: string, name: string): Promise<number> {
  const response = await fetch(`${url}/metrics`);
  if (!response.ok) {
    // METRICS_ENABLED=false: nothing to read.
    await response.body?.cancel();
    return NaN;
  }
  const text = await response.text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) {
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return sum;
}

/** A local OTLP/HTTP receiver that accepts and drops everything (what tracing costs to send). */
function otlpSink(): { url: string; received: () => number; close(): Promise<void> } {
  let received = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    received++;
    await req.body?.cancel();
    return Response.json({});
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    received: () => received,
    close: () => server.shutdown(),
  };
}

async function runMode(
  variant: Variant,
  options: { calls: number; duration: number; tapPort: number },
): Promise<ModeResult> {
  const mode = variant.name;
  let redis: Awaited<ReturnType<typeof startRedis>> | undefined;
  let sink: ReturnType<typeof otlpSink> | undefined;
  const gateways: DenoChild[] = [];
  let lb: { port: number; close(): void } | undefined;
  try {
    if (variant.redis) redis = await startRedis();
    if (variant.env.OTEL_DENO === "true") sink = otlpSink();
    for (let i = 0; i < variant.instances; i++) {
      gateways.push(
        await startDenoChild({
          script: "src/main.ts",
          cwd: ROOT,
          permissions: PERMISSIONS,
          readyMessage: "Voice gateway listening",
          env: {
            ...baseEnv(),
            OPENAI_API_KEY: "bench",
            ALLOW_UNAUTHENTICATED_BOT: "true",
            OPENAI_REALTIME_URL: `ws://127.0.0.1:${options.tapPort}/v1/realtime`,
            HOST: "127.0.0.1",
            PORT: "0",
            LOG_LEVEL: "info",
            INSTRUCTIONS: "Call tag: {benchTag}.",
            PLAYOUT_LEAD_MS: "200",
            ...(redis ? { REDIS_URL: redis.url } : {}),
            ...variant.env,
            ...(sink ? { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url } : {}),
          },
        }),
      );
    }
    lb = balancer(gateways.map((g) => Number(new URL(g.url).port)));
    const before = gateways.map((g) => sampleProcess(g.pid)?.cpuSeconds ?? 0);
    const opsBefore = await Promise.all(
      gateways.map((g) => counter(g.url, "voicegw_registry_ops_total")),
    );
    const bench = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--config",
        "deno.dev.json",
        "--allow-net",
        "--allow-env",
        "--allow-read",
        "--allow-write",
        "--allow-run",
        "--allow-sys",
        "src/tools/bench.ts",
        "--url",
        `ws://127.0.0.1:${lb.port}/ws`,
        "--tap-port",
        String(options.tapPort),
        "--calls",
        String(options.calls),
        "--duration",
        String(options.duration),
        "--warmup",
        "0",
        "--no-files",
        "--json",
      ],
      cwd: ROOT,
      env: baseEnv(),
      clearEnv: true,
      // A hung bench must not hang the comparison (the calls, their spread and start-up, twice).
      signal: AbortSignal.timeout((options.duration * 2 + 180) * 1000),
      stdout: "piped",
      stderr: "piped",
    }).output();
    const after = gateways.map((g) => sampleProcess(g.pid)?.cpuSeconds ?? 0);
    const opsAfter = await Promise.all(
      gateways.map((g) => counter(g.url, "voicegw_registry_ops_total")),
    );
    const callsPerInstance = await Promise.all(
      gateways.map((g) => counter(g.url, "voicegw_calls_accepted_total")),
    );
    const out = new TextDecoder().decode(bench.stdout);
    if (!bench.success) {
      throw new Error(`bench failed: ${new TextDecoder().decode(bench.stderr).slice(-2000)}`);
    }
    const report = JSON.parse(out.slice(out.indexOf("{")));
    const step = report.steps?.[0] ?? report;
    const cpu = after.reduce((n, a, i) => n + a - before[i]!, 0);
    const ops = opsAfter.reduce((n, a, i) => n + a - opsBefore[i]!, 0);
    const frames = step.counts.framesSent as number;
    return {
      mode,
      callsPerInstance,
      cpuMsPerCallSecond: (cpu * 1000) / (options.calls * options.duration),
      callerToUpstreamP50Ms: step.latencyMs.callerToUpstream.p50,
      callerToUpstreamP99Ms: step.latencyMs.callerToUpstream.p99,
      upstreamToCallerP99Ms: step.latencyMs.upstreamToCaller.p99,
      framesSent: frames,
      registryOps: ops,
      registryOpsPerCall: ops / options.calls,
      registryOpsPerKiloFrame: (ops * 1000) / Math.max(1, frames),
      errors: step.errorTotal,
      otlpRequests: sink?.received() ?? 0,
    };
  } finally {
    lb?.close();
    for (const gateway of gateways) await gateway.close();
    await redis?.stop();
    await sink?.close();
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      calls: { type: "string", default: "100" },
      duration: { type: "string", default: "20" },
      rounds: { type: "string", default: "2" },
      set: { type: "string", default: "cluster" },
      "tap-port": { type: "string" },
    },
  });
  const options = {
    calls: Number(values.calls),
    duration: Number(values.duration),
    tapPort: values["tap-port"] === undefined ? freePort() : Number(values["tap-port"]),
  };
  const variants = SETS[values.set];
  if (!variants) throw new Error(`--set must be one of ${Object.keys(SETS).join(", ")}`);
  const results: ModeResult[] = [];
  for (let round = 0; round < Number(values.rounds); round++) {
    // Alternating, and the order flipped each round: the box's noise falls on all alike.
    const order = round % 2 === 0 ? [...variants] : [...variants].reverse();
    for (const variant of order) {
      console.error(`round ${round + 1}: ${variant.name}, ${options.calls} calls`);
      const result = await runMode(variant, options);
      console.error(JSON.stringify(result));
      results.push(result);
    }
  }
  console.log(
    "mode | calls per instance | gateway CPU ms per call-second | caller→upstream p50 / p99 ms | " +
      "upstream→caller p99 ms | " +
      "Redis ops per call | per 1000 frames | errors   (medians over rounds)",
  );
  for (const { name: mode } of variants) {
    const of = results.filter((r) => r.mode === mode);
    const m = (f: (r: ModeResult) => number) => median(of.map(f));
    console.log(
      `${mode} | ${
        of.map((r) => r.callsPerInstance.map((n) => Number.isNaN(n) ? "-" : n).join("+")).join(", ")
      } | ${m((r) => r.cpuMsPerCallSecond).toFixed(2)} | ${
        m((r) => r.callerToUpstreamP50Ms).toFixed(2)
      } / ${m((r) => r.callerToUpstreamP99Ms).toFixed(2)} | ${
        m((r) => r.upstreamToCallerP99Ms).toFixed(2)
      } | ${m((r) => r.registryOpsPerCall).toFixed(1)} | ${
        m((r) => r.registryOpsPerKiloFrame).toFixed(2)
      } | ${m((r) => r.errors)}`,
    );
  }
}
