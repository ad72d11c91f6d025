/**
 * VoiceSession in a real browser: the SDK bundled for browsers with `deno bundle`, imported by
 * a page in headless Chromium, holding a spoken and a typed turn with the gateway.
 */
import assert from "node:assert/strict";
import { readWav } from "../../src/audio/wav.ts";
import { startTestApp } from "../helpers.ts";
import { browserTest, launchChromium, requireChromium } from "../chromium.ts";

const ROOT = new URL("../../", import.meta.url);

/** The SDK as one browser ES module. */
async function bundleSdk(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "sdk-bundle-" });
  try {
    const out = `${dir}/voice_session.js`;
    const run = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--config",
        "deno.dev.json",
        "--platform",
        "browser",
        "-o",
        out,
        "src/client/mod.ts",
      ],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
    return await Deno.readTextFile(out);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  ...browserTest("VoiceSession runs in headless Chromium (bundled with deno bundle)"),
  async fn() {
    requireChromium();
    const code = await bundleSdk();
    const wav = readWav(
      await Deno.readFile(new URL("tests/fixtures/speech/short_24k.wav", ROOT)),
    );
    const speech = new Uint8Array(
      wav.samples.buffer,
      wav.samples.byteOffset,
      wav.samples.byteLength,
    )
      .toBase64();
    await using app = await startTestApp({ REALTIME_RATE_LIMIT: "10000" });
    await using browser = await launchChromium();
    const page = browser.context.pages()[0] ?? await browser.context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(String(error)));
    await page.goto(`${app.url}/health`);
    const result = await page.evaluate(async ({ code, speech }) => {
      const url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
      const sdk = await import(url);
      const session = new sdk.VoiceSession({ url: location.origin, voice: "alloy" });
      const states: string[] = [];
      const events: string[] = [];
      session.on("state_change", (state: string) => states.push(state));
      for (const name of ["speech_started", "speech_ended", "response_started"]) {
        session.on(name, () => events.push(name));
      }
      await session.connect();
      await session.sendText("Hello from Chromium");
      const typed = await session.receive({ timeout: 30_000 });
      const pcm = Uint8Array.fromBase64(speech);
      const spoken = await session.respond(pcm, { timeout: 30_000 });
      const notConnected = await (async () => {
        await session.disconnect();
        try {
          await session.sendText("too late");
          return "no error";
        } catch (error) {
          return (error as Error).name;
        }
      })();
      return {
        sessionId: session.sessionId,
        voice: session.voice,
        typed: { transcript: typed.transcript, bytes: typed.audio.byteLength },
        spoken: { transcript: spoken.transcript, bytes: spoken.audio.byteLength },
        states,
        events,
        notConnected,
        state: session.state,
      };
    }, { code, speech });
    assert.match(result.sessionId, /^sess_/);
    assert.equal(result.voice, "alloy");
    assert.equal(result.typed.transcript, "You said: “Hello from Chromium”");
    assert.ok(result.typed.bytes > 0);
    assert.match(result.spoken.transcript, /^I heard [\d.]+ seconds of speech\.$/);
    assert.ok(result.spoken.bytes > 24_000);
    assert.deepEqual(result.events, [
      "response_started",
      "speech_started",
      "speech_ended",
      "response_started",
    ]);
    assert.deepEqual(result.states.slice(0, 5), [
      "CONNECTING",
      "CONNECTED",
      "PROCESSING",
      "SPEAKING",
      "CONNECTED",
    ]);
    assert.equal(result.notConnected, "NotConnectedError");
    assert.equal(result.state, "DISCONNECTED");
    assert.deepEqual(problems, []);
  },
});
