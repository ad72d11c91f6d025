import assert from "node:assert/strict";
import {
  audioBytes,
  openSession,
  responseEvents,
  shape,
  startTestEngine,
  update,
  withoutTranscriptDeltas,
} from "./engine_helpers.ts";
import type { Event } from "./engine_helpers.ts";
import type { ScenarioTurn } from "../../src/local/scenario.ts";

const PCMU = { type: "audio/pcmu" } as const;
const manual = {
  audio: { input: { format: PCMU, turn_detection: null }, output: { format: PCMU } },
};

const transcriptOf = (done: Event): unknown =>
  (((done.response as Event).output as Event[])[0]!.content as Event[])[0]!.transcript;

Deno.test("engine handles response.create: the greeting in §4.16 order with consistent ids", async () => {
  await using engine = startTestEngine();
  const { ws } = await openSession(engine);
  await using _ws = ws;
  await update(ws, manual);
  ws.send({ type: "response.create" });
  const events = await responseEvents(ws);
  assert.deepEqual(shape(withoutTranscriptDeltas(events)), [
    "response.created",
    "response.output_item.added",
    "conversation.item.added",
    "response.content_part.added",
    "response.output_audio.delta*",
    "response.output_audio.done",
    "response.output_audio_transcript.done",
    "response.content_part.done",
    "response.output_item.done",
    "conversation.item.done",
    "response.done",
  ]);
  const rate = await ws.next();
  assert.equal(rate.type, "rate_limits.updated");
  assert.equal((rate.rate_limits as Event[]).length, 2);

  const ids = new Set(events.map((e) => e.event_id));
  assert.equal(ids.size, events.length, "event ids are unique");
  const created = events[0]!.response as Event;
  const responseId = created.id;
  assert.match(String(responseId), /^resp_/);
  assert.equal(created.status, "in_progress");
  assert.equal(created.usage, null);
  assert.match(String(created.conversation_id), /^conv_/);
  const itemId = (events[1]!.item as Event).id;
  for (const e of events.slice(1)) {
    if ("response_id" in e) assert.equal(e.response_id, responseId);
    if ("item_id" in e) assert.equal(e.item_id, itemId);
    if ("output_index" in e) assert.equal(e.output_index, 0);
    if ("content_index" in e) assert.equal(e.content_index, 0);
  }
  // The transcript runs ahead of the audio.
  const firstTranscript = events.findIndex((e) =>
    e.type === "response.output_audio_transcript.delta"
  );
  const firstAudio = events.findIndex((e) => e.type === "response.output_audio.delta");
  assert.ok(firstTranscript < firstAudio);
  const transcript = events.filter((e) => e.type === "response.output_audio_transcript.delta")
    .map((e) => e.delta).join("");
  assert.equal(transcript, "Hello! This is the local realtime engine.");

  // A chime of 0.8 s in µ-law, in several varying chunks of 40–200 ms.
  assert.equal(audioBytes(events), 6400);
  const sizes = events.filter((e) => e.type === "response.output_audio.delta").map((e) =>
    Uint8Array.fromBase64(String(e.delta)).byteLength / 8
  );
  assert.ok(sizes.length >= 4, String(sizes));
  for (const ms of sizes.slice(0, -1)) assert.ok(ms >= 40 && ms <= 200, String(sizes));

  const done = events.at(-1)!.response as Event;
  assert.equal(done.status, "completed");
  assert.equal(done.status_details, null);
  assert.deepEqual(done.output, [{
    id: itemId,
    object: "realtime.item",
    type: "message",
    status: "completed",
    role: "assistant",
    content: [{ type: "output_audio", transcript: "Hello! This is the local realtime engine." }],
  }]);
  const usage = done.usage as Event;
  assert.ok(Number(usage.output_tokens) > 0 && Number(usage.input_tokens) > 0);
  assert.equal(
    usage.total_tokens,
    Number(usage.input_tokens) + Number(usage.output_tokens),
  );
});

Deno.test("engine handles response.create faster than real time but not all at once", async () => {
  await using engine = startTestEngine({ speed: 8 });
  const { ws } = await openSession(engine);
  await using _ws = ws;
  await update(ws, manual);
  ws.send({ type: "response.create", response: { metadata: { purpose: "pace" } } });
  const started = performance.now();
  const events = await responseEvents(ws);
  const elapsed = performance.now() - started;
  // 800 ms of audio at 8× real time: about 100 ms, certainly not 800 ms and not 0.
  assert.ok(elapsed >= 60 && elapsed < 700, `${elapsed} ms`);
  assert.deepEqual((events.at(-1)!.response as Event).metadata, { purpose: "pace" });
});

Deno.test("engine handles text input with a quoted reply of matching length", async () => {
  await using engine = startTestEngine();
  const { ws } = await openSession(engine);
  await using _ws = ws;
  await update(ws, manual);
  ws.send({
    type: "conversation.item.create",
    item: { type: "message", role: "user", content: [{ type: "input_text", text: "Hi there" }] },
  });
  ws.send({ type: "response.create" });
  const events = await responseEvents(ws);
  const transcript = "You said: “Hi there”";
  assert.equal(transcriptOf(events.at(-1)!), transcript);
  assert.equal(audioBytes(events), transcript.length * 60 * 8);
  // Not silence: a voice-like signal.
  const bytes = Uint8Array.fromBase64(
    String(events.find((e) => e.type === "response.output_audio.delta")!.delta),
  );
  assert.ok(bytes.some((b) => b !== 0xff && b !== 0x7f));
});

Deno.test("engine handles output_modalities text with response.output_text events", async () => {
  await using engine = startTestEngine();
  const { ws } = await openSession(engine);
  await using _ws = ws;
  await update(ws, manual);
  ws.send({
    type: "conversation.item.create",
    item: { type: "message", role: "user", content: [{ type: "input_text", text: "billing" }] },
  });
  ws.send({ type: "response.create", response: { output_modalities: ["text"] } });
  const events = await responseEvents(ws);
  assert.deepEqual(shape(events), [
    "response.created",
    "response.output_item.added",
    "conversation.item.added",
    "response.content_part.added",
    "response.output_text.delta*",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "conversation.item.done",
    "response.done",
  ]);
  assert.deepEqual(events[3]!.part, { type: "text", text: "" });
  const done = events.find((e) => e.type === "response.output_text.done")!;
  assert.equal(done.text, "You said: “billing”");
  assert.deepEqual(((events.at(-1)!.response as Event).output as Event[])[0]!.content, [
    { type: "output_text", text: "You said: “billing”" },
  ]);
  assert.deepEqual((events.at(-1)!.response as Event).output_modalities, ["text"]);
});

Deno.test("engine handles per-response audio format and voice overrides", async () => {
  await using engine = startTestEngine();
  const { ws } = await openSession(engine);
  await using _ws = ws;
  await update(ws, manual);
  ws.send({
    type: "response.create",
    response: { audio: { output: { format: { type: "audio/pcm", rate: 24000 }, voice: "marin" } } },
  });
  const events = await responseEvents(ws);
  assert.deepEqual(((events[0]!.response as Event).audio as Event).output, {
    format: { type: "audio/pcm", rate: 24000 },
    voice: "marin",
  });
  assert.equal(audioBytes(events), 800 * 48);
});

Deno.test("engine handles a second in-band response.create while one is active", async () => {
  await using engine = startTestEngine({ speed: 1 });
  const { ws } = await openSession(engine);
  await using _ws = ws;
  await update(ws, manual);
  ws.send({ type: "response.create" });
  const created = await ws.next("response.created");
  ws.send({ type: "response.create", event_id: "create_dup" });
  const error = (await ws.next("error")).error as Event;
  const id = (created.response as Event).id;
  assert.deepEqual(error, {
    type: "invalid_request_error",
    code: "conversation_already_has_active_response",
    message:
      `Conversation already has an active response in progress: ${id}. Wait until the response is finished before creating a new one.`,
    param: null,
    event_id: "create_dup",
  });

  await t_outOfBand(ws);

  ws.send({ type: "response.cancel" });
  const done = await ws.next((e) => e.type === "response.done" && (e.response as Event).id === id);
  const response = done.response as Event;
  assert.equal(response.status, "cancelled");
  assert.deepEqual(response.status_details, { type: "cancelled", reason: "client_cancelled" });
  const item = (response.output as Event[])[0];
  if (item) assert.equal(item.status, "incomplete");

  ws.send({ type: "response.cancel", event_id: "cancel_2" });
  const notActive = (await ws.next("error")).error as Event;
  assert.equal(notActive.code, "response_cancel_not_active");
  assert.equal(notActive.message, "Cancellation failed: no active response found");
  assert.equal(notActive.event_id, "cancel_2");
});

/** An out-of-band response runs in parallel, outside the conversation. */
async function t_outOfBand(ws: import("../json_socket.ts").JsonSocket): Promise<void> {
  ws.send({
    type: "response.create",
    response: {
      conversation: "none",
      output_modalities: ["text"],
      metadata: { purpose: "classify" },
      input: [{
        type: "message",
        role: "user",
        content: [{ type: "input_text", text: "label this" }],
      }],
    },
  });
  const created = await ws.next((e) =>
    e.type === "response.created" &&
    ((e.response as Event).metadata as Event)?.purpose === "classify"
  );
  const id = (created.response as Event).id;
  assert.equal((created.response as Event).conversation_id, null);
  const done = await ws.next((e) => e.type === "response.done" && (e.response as Event).id === id);
  assert.equal((done.response as Event).status, "completed");
  const text = ((((done.response as Event).output as Event[])[0]!).content as Event[])[0]!.text;
  assert.equal(text, "You said: “label this”");
  const between = ws.received.filter((e) =>
    (e.type === "conversation.item.added" || e.type === "conversation.item.done") &&
    (e.item as Event).role === "assistant" &&
    ((e.item as Event).content as Event[]).some((c) => c.type === "output_text")
  );
  assert.deepEqual(between, [], "out-of-band output is not added to the conversation");
}

Deno.test("engine handles response.cancel with a response_id", async () => {
  await using engine = startTestEngine({ speed: 1 });
  const { ws } = await openSession(engine);
  await using _ws = ws;
  await update(ws, manual);
  ws.send({ type: "response.create" });
  const created = await ws.next("response.created");
  await ws.next("response.output_audio.delta");
  const id = (created.response as Event).id;
  ws.send({ type: "response.cancel", response_id: "resp_unknown" });
  assert.equal(((await ws.next("error")).error as Event).code, "response_cancel_not_active");
  ws.send({ type: "response.cancel", response_id: id });
  const rest: Event[] = [];
  while (true) {
    const e = await ws.next();
    rest.push(e);
    if (e.type === "response.done") break;
  }
  assert.deepEqual(shape(withoutTranscriptDeltas(rest)).filter((t) => !t.endsWith("*")), [
    "response.output_audio.done",
    "response.output_audio_transcript.done",
    "response.content_part.done",
    "response.output_item.done",
    "conversation.item.done",
    "response.done",
  ]);
});

Deno.test("engine handles function calling: call rule, arguments stream, tool output reply", async () => {
  await using engine = startTestEngine();
  const { ws } = await openSession(engine);
  await using _ws = ws;
  await update(ws, {
    ...manual,
    tools: [{
      type: "function",
      name: "check_order",
      description: "Look up an order.",
      parameters: { type: "object", properties: { order_number: { type: "string" } } },
    }],
  });
  ws.send({
    type: "conversation.item.create",
    item: {
      type: "message",
      role: "user",
      content: [{ type: "input_text", text: 'call check_order {"order_number": "A1047"}' }],
    },
  });
  ws.send({ type: "response.create" });
  const events = await responseEvents(ws);
  assert.deepEqual(shape(events), [
    "response.created",
    "response.output_item.added",
    "conversation.item.added",
    "response.function_call_arguments.delta*",
    "response.function_call_arguments.done",
    "response.output_item.done",
    "conversation.item.done",
    "response.done",
  ]);
  const added = events[1]!.item as Event;
  assert.equal(added.type, "function_call");
  assert.equal(added.status, "in_progress");
  assert.equal(added.arguments, "");
  const callId = String(added.call_id);
  assert.match(callId, /^call_/);
  const deltas = events.filter((e) => e.type === "response.function_call_arguments.delta");
  assert.ok(deltas.length >= 2);
  for (const d of deltas) assert.equal(d.call_id, callId);
  const argsDone = events.find((e) => e.type === "response.function_call_arguments.done")!;
  assert.equal(argsDone.arguments, '{"order_number":"A1047"}');
  assert.equal(argsDone.name, "check_order");
  assert.equal(deltas.map((d) => d.delta).join(""), argsDone.arguments);
  const doneItem = events.find((e) => e.type === "response.output_item.done")!.item as Event;
  assert.equal(doneItem.status, "completed");

  ws.send({
    type: "conversation.item.create",
    item: { type: "function_call_output", call_id: callId, output: '{"status":"ready"}' },
  });
  await ws.next("conversation.item.done");
  ws.send({ type: "response.create" });
  const reply = await responseEvents(ws);
  assert.equal(transcriptOf(reply.at(-1)!), 'The tool returned: {"status":"ready"}');
});

Deno.test("engine handles tool_choice none and unknown tools by replying normally", async () => {
  await using engine = startTestEngine();
  const { ws } = await openSession(engine);
  await using _ws = ws;
  await update(ws, manual);
  ws.send({
    type: "conversation.item.create",
    item: {
      type: "message",
      role: "user",
      content: [{ type: "input_text", text: "call nope {}" }],
    },
  });
  ws.send({ type: "response.create" });
  const events = await responseEvents(ws);
  assert.equal(transcriptOf(events.at(-1)!), "You said: “call nope {}”");
});

Deno.test("engine handles max_output_tokens by cutting the reply (incomplete)", async () => {
  await using engine = startTestEngine();
  const { ws } = await openSession(engine);
  await using _ws = ws;
  await update(ws, manual);
  ws.send({ type: "response.create", response: { max_output_tokens: 10 } });
  const events = await responseEvents(ws);
  const done = events.at(-1)!.response as Event;
  assert.equal(done.status, "incomplete");
  assert.deepEqual(done.status_details, { type: "incomplete", reason: "max_output_tokens" });
  assert.equal(audioBytes(events), 500 * 8);
});

Deno.test("engine handles the scenario hook", async (t) => {
  const turns: ScenarioTurn[] = [];
  await using engine = startTestEngine({
    scenario: (turn) => {
      turns.push(turn);
      const plan = String(turn.metadata?.plan ?? "");
      switch (plan) {
        case "long":
          return { audioMs: 3000, transcript: "A long answer.", delayMs: 5 };
        case "tool":
          return { toolCall: { name: "end_call", arguments: { reason: "done" } } };
        case "fail":
          return { fail: { code: "insufficient_quota", message: "You exceeded your quota." } };
        case "error":
          return { error: { code: "server_error", message: "Something odd." } };
        case "drop":
          return { disconnect: { code: 1011, afterDeltas: 2 } };
        default:
          return undefined;
      }
    },
  });
  const { ws } = await openSession(engine);
  await using _ws = ws;
  await update(ws, manual);
  const create = (plan: string) =>
    ws.send({ type: "response.create", response: { metadata: { plan } } });

  await t.step("undefined keeps the default rules and the turn is described", async () => {
    create("");
    await responseEvents(ws);
    assert.equal(turns[0]!.responseIndex, 0);
    assert.deepEqual(turns[0]!.input, { kind: "none" });
    assert.equal(turns[0]!.conversation, "auto");
  });
  await t.step("a long audio reply", async () => {
    create("long");
    const events = await responseEvents(ws);
    assert.equal(audioBytes(events), 3000 * 8);
    assert.equal(transcriptOf(events.at(-1)!), "A long answer.");
  });
  await t.step("a forced tool call", async () => {
    create("tool");
    const events = await responseEvents(ws);
    const done = events.find((e) => e.type === "response.function_call_arguments.done")!;
    assert.equal(done.name, "end_call");
    assert.equal(done.arguments, '{"reason":"done"}');
  });
  await t.step("a failed response", async () => {
    create("fail");
    const events = await responseEvents(ws);
    assert.deepEqual(shape(events), ["response.created", "response.done"]);
    const done = events.at(-1)!.response as Event;
    assert.equal(done.status, "failed");
    assert.deepEqual(done.status_details, {
      type: "failed",
      error: {
        type: "server_error",
        code: "insufficient_quota",
        message: "You exceeded your quota.",
      },
    });
  });
  await t.step("an error event, then the reply", async () => {
    create("error");
    await ws.next("response.created");
    const error = (await ws.next()).error as Event;
    assert.equal(error.code, "server_error");
    assert.equal(error.message, "Something odd.");
    assert.equal((await ws.next("response.done")).type, "response.done");
  });
  await t.step("a disconnect after two deltas", async () => {
    create("drop");
    await ws.next("response.output_audio.delta");
    await ws.next("response.output_audio.delta");
    const closed = await ws.closed;
    assert.equal(closed.code, 1011);
  });
});
