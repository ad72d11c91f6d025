import assert from "node:assert/strict";
import { gateSettings, SpeechGate } from "../../src/local/vad.ts";
import { FvadModule } from "../../src/local/fvad.ts";
import { babble } from "../../src/local/synth.ts";

Deno.test("gateSettings() maps threshold to aggressiveness and voiced share", () => {
  const at = (threshold: number) =>
    gateSettings({
      type: "server_vad",
      threshold,
      prefix_padding_ms: 300,
      silence_duration_ms: 500,
    });
  assert.deepEqual(at(0.5), {
    mode: 2,
    windowFrames: 10,
    voicedFrames: 6,
    silenceMs: 500,
    prefixPaddingMs: 300,
  });
  assert.equal(at(0).mode, 0);
  assert.equal(at(0).voicedFrames, 4);
  assert.equal(at(1).mode, 3);
  assert.equal(at(1).voicedFrames, 8);
  assert.equal(gateSettings({ type: "semantic_vad", eagerness: "high" }).silenceMs, 300);
  assert.equal(gateSettings({ type: "semantic_vad", eagerness: "low" }).silenceMs, 800);
});

Deno.test("SpeechGate does start after enough voiced frames and stop after the silence", () => {
  const gate = new SpeechGate(gateSettings({
    type: "server_vad",
    threshold: 0.5,
    prefix_padding_ms: 300,
    silence_duration_ms: 200,
  }));
  const events = [];
  const pattern = "....#.######" + "#".repeat(20) + "..#" + ".".repeat(25);
  for (const [i, c] of [...pattern].entries()) {
    const event = gate.push(c === "#", i * 10);
    if (event) events.push(event);
  }
  assert.deepEqual(events, [
    { type: "start", speechStartMs: 40 },
    { type: "stop", speechEndMs: 350, stopMs: 550 },
  ]);
});

Deno.test("FvadModule classifies babble as speech and silence as not", async () => {
  const fvad = await FvadModule.load();
  using detector = fvad.create(8000, 2);
  const speech = babble(500, 8000);
  let voiced = 0;
  for (let i = 0; i + 80 <= speech.length; i += 80) {
    if (detector.isSpeech(speech.subarray(i, i + 80))) voiced++;
  }
  assert.ok(voiced >= 40, `voiced ${voiced} of 50`);
  using quiet = fvad.create(16000, 2);
  assert.equal(quiet.isSpeech(new Int16Array(160)), false);
  assert.throws(() => fvad.create(8000, 4), RangeError);
});
