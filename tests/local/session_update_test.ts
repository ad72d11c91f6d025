import assert from "node:assert/strict";
import { openSession, startTestEngine, update } from "./engine_helpers.ts";
import type { Event } from "./engine_helpers.ts";

Deno.test("engine handles session.update by merging audio and echoing the full config", async () => {
  await using engine = startTestEngine();
  const { ws, created } = await openSession(engine);
  await using _ws = ws;
  const updated = await update(ws, {
    instructions: "You answer calls for Acme Bakery.",
    audio: {
      input: {
        format: { type: "audio/pcmu" },
        transcription: { model: "gpt-4o-mini-transcribe", language: "en" },
        turn_detection: { type: "server_vad", silence_duration_ms: 500 },
      },
    },
  });
  assert.match(String(updated.event_id), /^event_/);
  const session = updated.session as Record<string, unknown>;
  assert.equal(session.id, (created.session as Event).id);
  assert.equal(session.instructions, "You answer calls for Acme Bakery.");
  assert.deepEqual(session.audio, {
    input: {
      format: { type: "audio/pcmu" },
      // Unset fields are omitted, never null (the GA schema has `prompt?: string`).
      transcription: { model: "gpt-4o-mini-transcribe", language: "en" },
      noise_reduction: null,
      turn_detection: {
        type: "server_vad",
        threshold: 0.5,
        prefix_padding_ms: 300,
        silence_duration_ms: 500,
        idle_timeout_ms: null,
        create_response: true,
        interrupt_response: true,
      },
    },
    // audio.output was not in the update: it keeps its values (deep merge).
    output: { format: { type: "audio/pcm", rate: 24000 }, voice: "alloy", speed: 1 },
  });

  const second = await update(ws, {
    audio: { output: { format: { type: "audio/pcma" }, voice: "marin" } },
    tools: [{ type: "function", name: "lookup", parameters: { type: "object" } }],
    tool_choice: "required",
    output_modalities: ["text"],
    max_output_tokens: 200,
    tracing: "auto",
  });
  const s2 = second.session as Record<string, Record<string, unknown>>;
  assert.deepEqual(s2.audio!.output, { format: { type: "audio/pcma" }, voice: "marin", speed: 1 });
  assert.deepEqual((s2.audio!.input as Event).format, { type: "audio/pcmu" });
  assert.equal(s2.instructions, "You answer calls for Acme Bakery.");
  assert.deepEqual(s2.output_modalities, ["text"]);
  assert.equal(s2.tool_choice, "required");
  assert.equal(s2.max_output_tokens, 200);

  const third = await update(ws, { audio: { input: { turn_detection: null } } });
  assert.equal(((third.session as Event).audio as { input: Event }).input.turn_detection, null);
});

Deno.test("engine handles bad session.update events with the service's errors", async (t) => {
  await using engine = startTestEngine();
  const { ws } = await openSession(engine);
  await using _ws = ws;
  const cases: [string, unknown, Record<string, unknown>][] = [
    ["missing session.type", { instructions: "hi" }, {
      code: "missing_required_parameter",
      message: "Missing required parameter: 'session.type'.",
      param: "session.type",
    }],
    ["beta turn_detection at top level", { type: "realtime", turn_detection: null }, {
      code: "unknown_parameter",
      message: "Unknown parameter: 'session.turn_detection'.",
      param: "session.turn_detection",
    }],
    ["beta modalities", { type: "realtime", modalities: ["text", "audio"] }, {
      code: "unknown_parameter",
      param: "session.modalities",
    }],
    ["beta input_audio_format", { type: "realtime", input_audio_format: "g711_ulaw" }, {
      code: "unknown_parameter",
      param: "session.input_audio_format",
    }],
    ["beta voice at top level", { type: "realtime", voice: "alloy" }, {
      code: "unknown_parameter",
      param: "session.voice",
    }],
    ["temperature", { type: "realtime", temperature: 0.8 }, {
      code: "unknown_parameter",
      param: "session.temperature",
    }],
    ["max_response_output_tokens", { type: "realtime", max_response_output_tokens: 100 }, {
      code: "unknown_parameter",
      param: "session.max_response_output_tokens",
    }],
    ["beta field nested in audio.input", {
      type: "realtime",
      audio: { input: { input_audio_noise_reduction: null } },
    }, { code: "unknown_parameter", param: "session.audio.input.input_audio_noise_reduction" }],
    ["bad format type", { type: "realtime", audio: { input: { format: { type: "pcm16" } } } }, {
      code: "invalid_value",
      param: "session.audio.input.format.type",
      message:
        "Invalid value: 'pcm16'. Supported values are: 'audio/pcm', 'audio/pcmu', and 'audio/pcma'.",
    }],
    ["bad PCM rate", {
      type: "realtime",
      audio: { input: { format: { type: "audio/pcm", rate: 16000 } } },
    }, { code: "invalid_value", param: "session.audio.input.format.rate" }],
    ["bad voice", { type: "realtime", audio: { output: { voice: "robot" } } }, {
      code: "invalid_value",
      param: "session.audio.output.voice",
    }],
    ["bad turn detection type", {
      type: "realtime",
      audio: { input: { turn_detection: { type: "push_to_talk" } } },
    }, { code: "invalid_value", param: "session.audio.input.turn_detection.type" }],
    ["threshold above 1", {
      type: "realtime",
      audio: { input: { turn_detection: { type: "server_vad", threshold: 2 } } },
    }, {
      code: "integer_above_max_value",
      param: "session.audio.input.turn_detection.threshold",
    }],
    ["bad session.type", { type: "conversation" }, {
      code: "invalid_value",
      param: "session.type",
    }],
    ["transcription session on a realtime socket", { type: "transcription" }, {
      code: "invalid_value",
      message: "Passing a transcription session update event to a realtime session is not allowed.",
    }],
    ["both output modalities", { type: "realtime", output_modalities: ["text", "audio"] }, {
      param: "session.output_modalities",
    }],
    ["wrong type", { type: "realtime", instructions: 42 }, {
      code: "invalid_type",
      param: "session.instructions",
      message:
        "Invalid type for 'session.instructions': expected a string, but got an integer instead.",
    }],
  ];
  for (const [name, session, expected] of cases) {
    await t.step(name, async () => {
      ws.send({ type: "session.update", event_id: `evt_${name.length}`, session });
      const error = await ws.next("error");
      const body = error.error as Record<string, unknown>;
      assert.equal(body.type, "invalid_request_error");
      assert.equal(body.event_id, `evt_${name.length}`);
      for (const [key, value] of Object.entries(expected)) assert.equal(body[key], value, key);
    });
  }
  await t.step("a refused update changes nothing", async () => {
    ws.send({
      type: "session.update",
      session: { type: "realtime", instructions: "changed", temperature: 1 },
    });
    await ws.next("error");
    const updated = await update(ws, {});
    assert.notEqual((updated.session as Event).instructions, "changed");
    assert.deepEqual(ws.pending(), []);
  });
});

Deno.test("engine handles a voice change after audio output with an error", async () => {
  await using engine = startTestEngine();
  const { ws } = await openSession(engine);
  await using _ws = ws;
  await update(ws, { audio: { input: { turn_detection: null } } });
  ws.send({ type: "response.create" });
  await ws.next("response.done");
  ws.send({
    type: "session.update",
    session: { type: "realtime", audio: { output: { voice: "cedar" } } },
  });
  const error = await ws.next("error");
  assert.equal((error.error as Event).code, "cannot_update_voice");
  // The same voice is fine.
  await update(ws, { audio: { output: { voice: "alloy" } } });
});

Deno.test("engine echoes transcription without null language or prompt", async (t) => {
  await using engine = startTestEngine();
  const { ws } = await openSession(engine);
  await using _ws = ws;
  const cases: { sent: Event; echoed: Event }[] = [
    { sent: { model: "whisper-1" }, echoed: { model: "whisper-1" } },
    { sent: { model: "whisper-1", language: null, prompt: null }, echoed: { model: "whisper-1" } },
    {
      sent: { model: "gpt-4o-transcribe", language: "de", prompt: "Bakery words" },
      echoed: { model: "gpt-4o-transcribe", language: "de", prompt: "Bakery words" },
    },
  ];
  for (const { sent, echoed } of cases) {
    await t.step(JSON.stringify(sent), async () => {
      const updated = await update(ws, { audio: { input: { transcription: sent } } });
      const input = ((updated.session as Event).audio as { input: Event }).input;
      assert.deepEqual(input.transcription, echoed);
    });
  }
});
