/**
 * Nagle's algorithm on the sockets that carry audio, seen on the real process: the gateway
 * (`src/main.ts`, as deployed) runs under `strace`, which records every `setsockopt` the runtime
 * makes. The upstream socket must end up with `TCP_NODELAY` set (README, Performance).
 *
 * Two steps record what Deno 2.9.6 itself does, so that a Deno upgrade that changes it shows
 * here: its native WebSocket client clears `TCP_NODELAY`, and `Deno.serve` terminating TLS
 * in-process leaves it off on accepted sockets. When the first of those fails, Deno keeps
 * NODELAY on its client (denoland/deno#35581): `UPSTREAM_CLIENT=native` may become the default.
 */
import assert from "node:assert/strict";
import { JsonSocket, TIMEOUT_SCALE } from "../json_socket.ts";

const root = new URL("../../", import.meta.url).pathname;
const tls = (name: string) => `${root}tests/fixtures/tls/${name}`;

/** strace is installed and may trace here (ptrace can be forbidden in containers). */
const hasStrace = await new Deno.Command("strace", {
  args: ["-f", "-qq", "-e", "trace=none", "true"],
  stdout: "null",
  stderr: "null",
}).output().then((o) => o.success, () => false);

/** What strace saw of the gateway's TCP sockets. */
interface SocketTrace {
  /** Per outgoing connection to `port` (the embedded engine: the upstream): last TCP_NODELAY. */
  readonly upstream: (0 | 1 | undefined)[];
  /** Per accepted connection: last TCP_NODELAY set on it (undefined: never set, so off). */
  readonly accepted: (0 | 1 | undefined)[];
}

/** Reads an `strace -f -e trace=connect,accept4,setsockopt` log (one process, its threads). */
function parseTrace(text: string, port: number): SocketTrace {
  // fd → the connection it currently holds, in the order they appeared.
  const open = new Map<number, { kind: "upstream" | "accepted"; nodelay: 0 | 1 | undefined }>();
  const all: { kind: "upstream" | "accepted"; nodelay: 0 | 1 | undefined }[] = [];
  const track = (fd: number, kind: "upstream" | "accepted") => {
    const entry = { kind, nodelay: undefined };
    open.set(fd, entry);
    all.push(entry);
  };
  for (const line of text.split("\n")) {
    const connect = /connect\((\d+), \{sa_family=AF_INET6?, sin6?_port=htons\((\d+)\)/.exec(line);
    if (connect) {
      if (Number(connect[2]) === port) track(Number(connect[1]), "upstream");
      else open.delete(Number(connect[1]));
      continue;
    }
    // A call another thread interrupts is split: `accept4(… <unfinished ...>` and
    // `<... accept4 resumed>…) = fd`.
    const accepted = /accept4(?:\(| resumed>).*\) = (\d+)\s*$/.exec(line);
    if (accepted) {
      track(Number(accepted[1]), "accepted");
      continue;
    }
    const option = /setsockopt\((\d+), SOL_TCP, TCP_NODELAY, \[(\d)\]/.exec(line);
    if (option) {
      const entry = open.get(Number(option[1]));
      if (entry) entry.nodelay = option[2] === "1" ? 1 : 0;
    }
  }
  return {
    upstream: all.filter((e) => e.kind === "upstream").map((e) => e.nodelay),
    accepted: all.filter((e) => e.kind === "accepted").map((e) => e.nodelay),
  };
}

/** Runs the gateway under strace, lets `use` talk to it, then stops it and reads the trace. */
async function traceGateway(
  env: Record<string, string>,
  use: (url: string) => Promise<void>,
): Promise<SocketTrace> {
  const log = await Deno.makeTempFile({ prefix: "nodelay-", suffix: ".strace" });
  const child = new Deno.Command("strace", {
    args: [
      "-f",
      "-qq",
      "-e",
      "trace=execve,connect,accept4,setsockopt",
      "-o",
      log,
      Deno.execPath(),
      "run",
      "--config",
      "deno.json",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-sys=hostname",
      "src/main.ts",
    ],
    cwd: root,
    env: { PORT: "0", HOST: "127.0.0.1", NO_COLOR: "1", LOG_LEVEL: "info", ...env },
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let gatewayPid: number | undefined;
  try {
    const url = await listeningUrl(child.stdout);
    // The traced process is the first one strace names (its execve).
    gatewayPid = Number(/^(\d+)\s+execve/m.exec(await Deno.readTextFile(log))?.[1]);
    await use(url);
    Deno.kill(gatewayPid, "SIGKILL");
    await child.status;
    return parseTrace(await Deno.readTextFile(log), Number(new URL(url).port));
  } finally {
    if (gatewayPid !== undefined && !Number.isNaN(gatewayPid)) {
      try {
        Deno.kill(gatewayPid, "SIGKILL");
      } catch { /* gone */ }
    }
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status;
    await Deno.remove(log).catch(() => {});
  }
}

/** Reads stdout until the start-up line; the rest of stdout is drained in the background. */
async function listeningUrl(stdout: ReadableStream<Uint8Array>): Promise<string> {
  const lines = stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const timer = setTimeout(() => lines.cancel(), 30_000 * TIMEOUT_SCALE);
  try {
    while (true) {
      const { value, done } = await lines.read();
      if (done) throw new Error("The gateway exited before it listened");
      buffered += value;
      const match = /"url":"(https?:\/\/[^"]+)","audiocodes"/.exec(buffered) ??
        /\{[^\n]*"msg":"Voice gateway listening"[^\n]*\}/.exec(buffered);
      if (!match) continue;
      const url = match[1] ?? JSON.parse(match[0]).url;
      void (async () => {
        try {
          while (!(await lines.read()).done) { /* drain */ }
        } catch { /* cancelled */ }
      })();
      return url;
    }
  } finally {
    clearTimeout(timer);
  }
}

/** One phone call until the greeting starts playing: the upstream is then open and in use. */
async function callUntilGreeting(url: string): Promise<void> {
  await using vaic = new JsonSocket(`${url.replace(/^http/, "ws")}/ws`);
  vaic.send({
    type: "session.initiate",
    conversationId: "nodelay-1",
    expectAudioMessages: true,
    supportedMediaFormats: ["raw/mulaw"],
    botName: "test",
    caller: "+15550001",
  });
  await vaic.next("session.accepted", 10_000);
  vaic.send({
    type: "activities",
    conversationId: "nodelay-1",
    activities: [{ type: "event", name: "start", id: "a1", timestamp: new Date().toISOString() }],
  });
  await vaic.next("playStream.start", 10_000);
  vaic.send({ type: "session.end", conversationId: "nodelay-1", reasonCode: "normal" });
}

Deno.test({
  name: "the upstream socket has TCP_NODELAY set (strace on the gateway process)",
  ignore: !hasStrace,
  async fn(t) {
    await t.step("UPSTREAM_CLIENT=ws (the default) sets it; Deno.serve sets it too", async () => {
      const trace = await traceGateway({ GREETING: "true" }, callUntilGreeting);
      assert.equal(trace.upstream.length, 1, "one upstream connection");
      assert.deepEqual(trace.upstream, [1], "TCP_NODELAY=1 on the upstream socket");
      // The VAIC socket and the engine's end of the upstream, both accepted by Deno.serve.
      assert.ok(trace.accepted.length >= 2);
      assert.deepEqual(trace.accepted.filter((v) => v !== 1), [], "NODELAY on accepted sockets");
    });
    await t.step("Deno 2.9.6's native client clears it (see README before changing)", async () => {
      const trace = await traceGateway(
        { GREETING: "true", UPSTREAM_CLIENT: "native" },
        callUntilGreeting,
      );
      assert.equal(trace.upstream.length, 1, "one upstream connection");
      assert.deepEqual(
        trace.upstream,
        [0],
        "Deno's native WebSocket client no longer clears TCP_NODELAY: UPSTREAM_CLIENT=native " +
          "may become the default again (README, Performance; denoland/deno#35581)",
      );
    });
    await t.step("Deno.serve terminating TLS leaves it off on accepted sockets", async () => {
      const ca = await Deno.readTextFile(tls("ca.pem"));
      const trace = await traceGateway(
        { TLS_CERT_FILE: tls("cert.pem"), TLS_KEY_FILE: tls("key.pem") },
        async (url) => {
          using client = Deno.createHttpClient({ caCerts: [ca] });
          const health = await fetch(`${url.replace("127.0.0.1", "localhost")}/health`, {
            client,
          });
          assert.equal(health.status, 200);
          await health.body?.cancel();
        },
      );
      assert.ok(trace.accepted.length >= 1, "the TLS connection was accepted");
      assert.deepEqual(
        trace.accepted.filter((v) => v === 1),
        [],
        "Deno.serve now sets TCP_NODELAY on TLS connections: update README (Deploy, Performance)",
      );
    });
  },
});

if (!hasStrace) {
  console.warn(
    "tests/realtime/nodelay_test.ts skipped: strace is missing or may not trace here " +
      "(apt-get install strace)",
  );
}
