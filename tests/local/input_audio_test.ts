import assert from "node:assert/strict";
import type { AudioFormat } from "../../src/local/audio_format.ts";
import {
  appendAudio,
  audioBytes,
  openSession,
  responseEvents,
  spokenTurn,
  startTestEngine,
  update,
} from "./engine_helpers.ts";
import type { Event } from "./engine_helpers.ts";

const PCMU: AudioFormat = { type: "audio/pcmu" };

Deno.test("engine handles input_audio_buffer.commit, clear and their errors", async (t) => {
  await using engine = startTestEngine();
  const { ws } = await openSession(engine);
  await using _ws = ws;
  await update(ws, {
    audio: { input: { format: PCMU, turn_detection: null }, output: { format: PCMU } },
  });

  await t.step("append has no acknowledgement", async () => {
    appendAudio(ws, new Uint8Array(8 * 40).fill(0xff), PCMU);
    ws.send({ type: "input_audio_buffer.clear", event_id: "clear_1" });
    const cleared = await ws.next();
    assert.equal(cleared.type, "input_audio_buffer.cleared");
    assert.match(String(cleared.event_id), /^event_/);
  });

  await t.step("commit under 100 ms is refused with the documented message", async () => {
    appendAudio(ws, new Uint8Array(8 * 40).fill(0xff), PCMU);
    ws.send({ type: "input_audio_buffer.commit", event_id: "commit_early" });
    const error = await ws.next();
    assert.deepEqual(error.error, {
      type: "invalid_request_error",
      code: "input_audio_buffer_commit_empty",
      message:
        "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only has 40.00ms of audio.",
      param: null,
      event_id: "commit_early",
    });
  });

  await t.step("commit makes a user audio item and no response", async () => {
    appendAudio(ws, new Uint8Array(8 * 160).fill(0xff), PCMU);
    ws.send({ type: "input_audio_buffer.commit" });
    const committed = await ws.next();
    assert.equal(committed.type, "input_audio_buffer.committed");
    assert.equal(committed.previous_item_id, null);
    const added = await ws.next();
    const done = await ws.next();
    assert.equal(added.type, "conversation.item.added");
    assert.equal(done.type, "conversation.item.done");
    const item = {
      id: committed.item_id,
      object: "realtime.item",
      type: "message",
      status: "completed",
      role: "user",
      content: [{ type: "input_audio", transcript: null }],
    };
    assert.deepEqual(added.item, item);
    assert.deepEqual(done.item, item);
    ws.send({ type: "conversation.item.retrieve", item_id: committed.item_id });
    const retrieved = await ws.next();
    const part = ((retrieved.item as Event).content as Event[])[0]!;
    assert.equal(Uint8Array.fromBase64(String(part.audio)).byteLength, 8 * 200);
    assert.deepEqual(part.format, PCMU);
  });

  await t.step("bad base64 is refused", async () => {
    ws.send({ type: "input_audio_buffer.append", event_id: "bad_b64", audio: "@@not base64@@" });
    const error = await ws.next();
    assert.equal((error.error as Event).code, "invalid_value");
    assert.equal((error.error as Event).param, "audio");
    assert.equal((error.error as Event).event_id, "bad_b64");
  });

  await t.step("an append over 15 MiB is refused", async () => {
    ws.send({ type: "input_audio_buffer.append", audio: "A".repeat(15 * 1024 * 1024 + 4) });
    const error = await ws.next();
    assert.equal((error.error as Event).code, "string_above_max_length");
  });

  await t.step("output_audio_buffer.clear is WebRTC/SIP only", async () => {
    ws.send({ type: "output_audio_buffer.clear", event_id: "oabc" });
    const error = await ws.next();
    assert.equal((error.error as Event).event_id, "oabc");
  });
});

for (
  const format of [
    { type: "audio/pcmu" },
    { type: "audio/pcma" },
    { type: "audio/pcm", rate: 24000 },
  ] satisfies AudioFormat[]
) {
  Deno.test(`engine handles a server_vad turn in ${format.type}`, async () => {
    await using engine = startTestEngine();
    const { ws } = await openSession(engine);
    await using _ws = ws;
    await update(ws, {
      audio: {
        input: {
          format,
          transcription: { model: "gpt-4o-mini-transcribe" },
          turn_detection: { type: "server_vad", silence_duration_ms: 500, prefix_padding_ms: 300 },
        },
        output: { format },
      },
    });
    appendAudio(ws, spokenTurn(format, { leadMs: 600, speechMs: 1200, tailMs: 1000 }), format);
    const started = await ws.next();
    assert.equal(started.type, "input_audio_buffer.speech_started");
    // Speech begins at 600 ms; 300 ms of prefix padding is included.
    assert.ok(Math.abs(Number(started.audio_start_ms) - 300) <= 40, String(started.audio_start_ms));
    const stopped = await ws.next();
    assert.equal(stopped.type, "input_audio_buffer.speech_stopped");
    assert.equal(stopped.item_id, started.item_id);
    const end = Number(stopped.audio_end_ms);
    assert.ok(end >= 1800 + 500 && end <= 1800 + 500 + 300, String(end));
    const committed = await ws.next();
    assert.equal(committed.type, "input_audio_buffer.committed");
    assert.equal(committed.item_id, started.item_id);
    assert.equal((await ws.next()).type, "conversation.item.added");
    assert.equal((await ws.next()).type, "conversation.item.done");
    assert.equal((await ws.next()).type, "conversation.item.input_audio_transcription.delta");
    const transcription = await ws.next();
    assert.equal(transcription.type, "conversation.item.input_audio_transcription.completed");
    assert.match(String(transcription.transcript), /^\(1\.[2-5] seconds of speech\)$/);
    assert.equal((transcription.usage as Event).type, "tokens");

    const events = await responseEvents(ws);
    const done = events.at(-1)!;
    const response = done.response as Event;
    assert.equal(response.status, "completed");
    assert.deepEqual((response.audio as Event).output, { format, voice: "alloy" });
    const transcript = ((response.output as Event[])[0]!.content as Event[])[0]!.transcript;
    assert.match(String(transcript), /^I heard 1\.[2-5] seconds of speech\.$/);
    // The echo: the caller's speech, in the output format, with a little margin.
    const bytesPerMs = format.type === "audio/pcm" ? 48 : 8;
    const echoMs = audioBytes(events) / bytesPerMs;
    assert.ok(echoMs >= 1200 && echoMs <= 1900, String(echoMs));
    const rate = await ws.next();
    assert.equal(rate.type, "rate_limits.updated");
  });
}

Deno.test("engine handles speech during a reply by cancelling it (turn_detected)", async () => {
  await using engine = startTestEngine({ speed: 2 });
  const { ws } = await openSession(engine);
  await using _ws = ws;
  await update(ws, {
    audio: {
      input: { format: PCMU, turn_detection: { type: "server_vad", silence_duration_ms: 300 } },
      output: { format: PCMU },
    },
  });
  ws.send({ type: "response.create", response: { instructions: "Greet" } });
  const created = await ws.next("response.created");
  await ws.next("response.output_audio.delta");
  appendAudio(ws, spokenTurn(PCMU, { leadMs: 100, speechMs: 800, tailMs: 600 }), PCMU);
  await ws.next("input_audio_buffer.speech_started");
  const done = await ws.next("response.done");
  const response = done.response as Event;
  assert.equal(response.id, (created.response as Event).id);
  assert.equal(response.status, "cancelled");
  assert.deepEqual(response.status_details, { type: "cancelled", reason: "turn_detected" });
  assert.equal((response.output as Event[])[0]!.status, "incomplete");
  await ws.next("input_audio_buffer.committed");
  const next = await ws.next("response.done");
  assert.equal((next.response as Event).status, "completed");
});

Deno.test("engine handles create_response: false by committing without a reply", async () => {
  await using engine = startTestEngine();
  const { ws } = await openSession(engine);
  await using _ws = ws;
  await update(ws, {
    audio: {
      input: {
        format: PCMU,
        turn_detection: { type: "semantic_vad", eagerness: "high", create_response: false },
      },
    },
  });
  appendAudio(ws, spokenTurn(PCMU), PCMU);
  await ws.next("input_audio_buffer.committed");
  await ws.next("conversation.item.done");
  ws.send({ type: "input_audio_buffer.clear" });
  await ws.next("input_audio_buffer.cleared");
  assert.deepEqual(ws.received.filter((e) => String(e.type).startsWith("response.")), []);
});

Deno.test("engine handles turn_detection null as manual turns only", async () => {
  await using engine = startTestEngine();
  const { ws } = await openSession(engine);
  await using _ws = ws;
  await update(ws, {
    audio: { input: { format: PCMU, turn_detection: null }, output: { format: PCMU } },
  });
  appendAudio(ws, spokenTurn(PCMU, { leadMs: 0, speechMs: 1000, tailMs: 0 }), PCMU);
  ws.send({ type: "input_audio_buffer.commit" });
  const committed = await ws.next();
  assert.equal(committed.type, "input_audio_buffer.committed");
  ws.send({ type: "response.create" });
  const events = await responseEvents(ws);
  const transcript = (((events.at(-1)!.response as Event).output as Event[])[0]!
    .content as Event[])[0]!.transcript;
  assert.equal(transcript, "I heard 1.0 seconds of speech.");
  assert.equal(audioBytes(events), 8000 * 1 * 1);
});

Deno.test("engine handles idle_timeout_ms with timeout_triggered and a re-prompt", async () => {
  await using engine = startTestEngine({ speed: 100 });
  const { ws } = await openSession(engine);
  await using _ws = ws;
  await update(ws, {
    audio: {
      input: { format: PCMU, turn_detection: { type: "server_vad", idle_timeout_ms: 20 } },
      output: { format: PCMU },
    },
  });
  ws.send({ type: "response.create" });
  await ws.next("response.done");
  const timeout = await ws.next("input_audio_buffer.timeout_triggered");
  assert.match(String(timeout.item_id), /^item_/);
  const committed = await ws.next("input_audio_buffer.committed");
  assert.equal(committed.item_id, timeout.item_id);
  const done = await ws.next("response.done");
  const transcript = (((done.response as Event).output as Event[])[0]!.content as Event[])[0]!
    .transcript;
  assert.equal(transcript, "Are you still there?");
  await update(ws, { audio: { input: { turn_detection: null } } });
});
