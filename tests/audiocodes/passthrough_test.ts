/**
 * Proof that same-format calls never touch the audio: the engine and the VAIC simulator run in
 * child processes, so inside this process only the gateway runs — with every base64 decoder
 * and encoder of the runtime replaced by a counting spy.
 */
import assert from "node:assert/strict";
import { startTestApp, wsUrl } from "../helpers.ts";

async function spawnEngine(): Promise<{ url: string; process: Deno.ChildProcess }> {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "src/local/main.ts", "--port", "0"],
    stdout: "piped",
    stderr: "inherit",
    env: { NO_COLOR: "1", LOG_LEVEL: "info" },
  }).spawn();
  const reader = process.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) throw new Error("The engine exited before listening");
    buffered += value;
    const match = buffered.match(/"url":"(ws:[^"]+)"/);
    if (match) {
      // Keep draining the engine's log so it never blocks on a full pipe.
      (async () => {
        while (!(await reader.read()).done) { /* discard */ }
      })().catch(() => {});
      return { url: match[1]!, process };
    }
  }
}

Deno.test("same-format audio is forwarded without ever being decoded or encoded", async (t) => {
  const engine = await spawnEngine();
  try {
    for (const format of ["raw/mulaw", "raw/lpcm16_24"]) {
      await t.step(format, async () => {
        const calls: string[] = [];
        const proto = Uint8Array.prototype as unknown as Record<string, unknown>;
        const ctor = Uint8Array as unknown as Record<string, unknown>;
        const originals = {
          fromBase64: ctor.fromBase64,
          setFromBase64: proto.setFromBase64,
          toBase64: proto.toBase64,
          atob: globalThis.atob,
          btoa: globalThis.btoa,
        };
        const spy = <F>(name: string, original: F): F =>
          function (this: unknown, ...args: unknown[]) {
            calls.push(name);
            return (original as (...a: unknown[]) => unknown).apply(this, args);
          } as F;
        await using app = await startTestApp({
          OPENAI_API_KEY: "sk-test",
          OPENAI_REALTIME_URL: engine.url,
          GREETING: "true",
        });
        ctor.fromBase64 = spy("fromBase64", originals.fromBase64);
        proto.setFromBase64 = spy("setFromBase64", originals.setFromBase64);
        proto.toBase64 = spy("toBase64", originals.toBase64);
        globalThis.atob = spy("atob", originals.atob);
        globalThis.btoa = spy("btoa", originals.btoa);
        let output: Deno.CommandOutput;
        try {
          output = await new Deno.Command(Deno.execPath(), {
            args: [
              "run",
              "--config",
              "deno.dev.json",
              "-A",
              "src/tools/call.ts",
              "--url",
              wsUrl(app, "/ws"),
              "--formats",
              format,
              "--wav",
              "tests/fixtures/speech/short_24k.wav",
              "--speed",
              "0",
              "--json",
            ],
            stdout: "piped",
            stderr: "null",
          }).output();
        } finally {
          ctor.fromBase64 = originals.fromBase64;
          proto.setFromBase64 = originals.setFromBase64;
          proto.toBase64 = originals.toBase64;
          globalThis.atob = originals.atob;
          globalThis.btoa = originals.btoa;
        }
        assert.equal(output.code, 0);
        const report = JSON.parse(new TextDecoder().decode(output.stdout));
        assert.equal(report.mediaFormat, format);
        assert.ok(report.sent.chunks > 50, "caller audio flowed");
        const played = report.playStreams.reduce(
          (n: number, s: { chunks: number }) => n + s.chunks,
          0,
        );
        assert.ok(played > 10, "bot audio flowed");
        assert.deepEqual(calls, []);
      });
    }
  } finally {
    engine.process.kill("SIGTERM");
    await engine.process.status;
  }
});
