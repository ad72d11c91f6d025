import assert from "node:assert/strict";
import { sessionUpdate } from "../../src/realtime/session_config.ts";
import type { SessionOptions } from "../../src/realtime/session_config.ts";

const OPTIONS: SessionOptions = {
  format: { type: "audio/pcmu" },
  instructions: "Be brief",
  voice: "marin",
  tools: [],
  turnDetection: null,
  transcriptionModel: "gpt-4o-mini-transcribe",
  language: "en",
};

Deno.test("sessionUpdate() omits noise_reduction rather than sending null", () => {
  const input = (sessionUpdate(OPTIONS).audio as { input: Record<string, unknown> }).input;
  assert.ok(!("noise_reduction" in input));
  assert.deepEqual(input, {
    format: { type: "audio/pcmu" },
    transcription: { model: "gpt-4o-mini-transcribe", language: "en" },
    turn_detection: null,
  });
});

Deno.test("sessionUpdate() sends transcription null only to turn it off", () => {
  const off = sessionUpdate({ ...OPTIONS, transcriptionModel: null });
  assert.equal((off.audio as { input: Record<string, unknown> }).input.transcription, null);
  const noLanguage = sessionUpdate({ ...OPTIONS, language: undefined });
  assert.deepEqual((noLanguage.audio as { input: Record<string, unknown> }).input.transcription, {
    model: "gpt-4o-mini-transcribe",
  });
});
