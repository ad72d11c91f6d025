/** The other ways to run the gateway: `deno serve` (the Deno Deploy entry) and in-process TLS. */
import assert from "node:assert/strict";
import { runCall } from "../src/tools/call.ts";
import { readWav } from "../src/audio/wav.ts";
import { TIMEOUT_SCALE } from "./helpers.ts";
import { startGatewayProcess } from "./gateway_process.ts";

const root = new URL("../", import.meta.url);
const tls = (name: string) => new URL(`tests/fixtures/tls/${name}`, root).pathname;

/** Reads stdout lines until one parses as JSON and matches; returns it. */
async function lineWhere(
  stdout: ReadableStream<Uint8Array>,
  match: (line: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  let buffered = "";
  for await (const text of stdout.pipeThrough(new TextDecoderStream())) {
    buffered += text;
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      try {
        const parsed = JSON.parse(line);
        if (match(parsed)) return parsed;
      } catch {
        // Not a log line.
      }
    }
  }
  throw new Error("stdout ended before the line arrived");
}

Deno.test("deno serve runs src/deploy.ts: health, and a phone call answered offline", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "serve",
      "--config",
      "deno.json",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "src/deploy.ts",
    ],
    cwd: root,
    env: { NO_COLOR: "1", GREETING: "false" },
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    const listening = await lineWhere(
      child.stdout,
      (l) => l.msg === "Voice gateway serving (deno serve)",
    );
    const base = `http://127.0.0.1:${listening.port}`;
    const health = await (await fetch(`${base}/health`)).json();
    assert.equal(health.status, "ok");
    assert.equal(health.upstream.mode, "local");
    const report = await runCall({
      url: `${base.replace(/^http/, "ws")}/ws`,
      formats: ["raw/mulaw"],
      audio: readWav(await Deno.readFile(new URL("tests/fixtures/speech/hello_16k.wav", root))),
      speed: 2,
    });
    assert.deepEqual(report.violations, []);
    assert.ok(report.playStreams.length >= 1, "the engine answered through the deploy entry");
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel().catch(() => {});
  }
});

Deno.test("TLS_CERT_FILE/TLS_KEY_FILE serve https:// and wss:// in-process", async () => {
  await using gateway = await startGatewayProcess({
    TLS_CERT_FILE: tls("cert.pem"),
    TLS_KEY_FILE: tls("key.pem"),
    GREETING: "true",
  });
  assert.match(gateway.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  using client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(tls("ca.pem"))] });
  const health = await (await fetch(`${gateway.url}/health`, { client })).json();
  assert.equal(health.status, "ok");
  // A VAIC call over wss:// (the simulator in a process that trusts the test CA); offline, the
  // embedded engine is reached on its own loopback listener.
  const call = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--config",
      "deno.dev.json",
      "--cert",
      tls("ca.pem"),
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      "src/tools/call.ts",
      "--url",
      `${gateway.url.replace(/^https/, "wss").replace("127.0.0.1", "localhost")}/ws`,
      "--formats",
      "raw/mulaw",
      "--wait-until",
      "timeout",
      "--wait-ms",
      String(1000 * TIMEOUT_SCALE),
      "--json",
    ],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(call.stderr);
  assert.equal(call.code, 0, stderr);
  const report = JSON.parse(new TextDecoder().decode(call.stdout));
  assert.deepEqual(report.violations, []);
  assert.ok(report.playStreams.length >= 1, "the greeting played over wss://");
});
