import assert from "node:assert/strict";
import {
  audioBytes,
  openSession,
  responseEvents,
  startTestEngine,
  update,
} from "./engine_helpers.ts";
import type { Event } from "./engine_helpers.ts";
import type { JsonSocket } from "../json_socket.ts";

const userText = (text: string, extra: Record<string, unknown> = {}) => ({
  type: "conversation.item.create",
  item: { type: "message", role: "user", content: [{ type: "input_text", text }] },
  ...extra,
});

async function created(ws: JsonSocket): Promise<{ added: Event; done: Event }> {
  const added = await ws.next();
  const done = await ws.next();
  assert.equal(added.type, "conversation.item.added");
  assert.equal(done.type, "conversation.item.done");
  return { added, done };
}

Deno.test("engine handles conversation.item.create for every item kind", async (t) => {
  await using engine = startTestEngine();
  const { ws } = await openSession(engine);
  await using _ws = ws;

  let first = "";
  await t.step("user text appends, with previous_item_id null for the first item", async () => {
    ws.send(userText("hello"));
    const { added, done } = await created(ws);
    assert.equal(added.previous_item_id, null);
    const item = added.item as Event;
    assert.match(String(item.id), /^item_/);
    assert.deepEqual(item, {
      id: item.id,
      object: "realtime.item",
      type: "message",
      status: "completed",
      role: "user",
      content: [{ type: "input_text", text: "hello" }],
    });
    assert.deepEqual(done.item, item);
    first = String(item.id);
  });

  await t.step("system message with a client id after an item", async () => {
    ws.send({
      type: "conversation.item.create",
      previous_item_id: first,
      item: {
        id: "sys_1",
        type: "message",
        role: "system",
        content: [{ type: "input_text", text: "The caller is verified." }],
      },
    });
    const { added } = await created(ws);
    assert.equal(added.previous_item_id, first);
    assert.equal((added.item as Event).id, "sys_1");
  });

  await t.step("previous_item_id 'root' inserts at the start", async () => {
    ws.send({
      type: "conversation.item.create",
      previous_item_id: "root",
      item: { type: "message", role: "assistant", content: [{ type: "output_text", text: "Hi" }] },
    });
    const { added } = await created(ws);
    assert.equal(added.previous_item_id, null);
  });

  await t.step("an unknown previous_item_id is refused and nothing is inserted", async () => {
    ws.send(userText("lost", { previous_item_id: "item_nope", event_id: "c1" }));
    const error = await ws.next();
    assert.equal(error.type, "error");
    assert.equal((error.error as Event).param, "previous_item_id");
    assert.equal((error.error as Event).event_id, "c1");
  });

  await t.step("a duplicate id is refused", async () => {
    ws.send({
      type: "conversation.item.create",
      item: { id: "sys_1", type: "message", role: "user", content: [] },
    });
    assert.equal((await ws.next()).type, "error");
  });

  await t.step("assistant audio cannot be created", async () => {
    ws.send({
      type: "conversation.item.create",
      item: { type: "message", role: "assistant", content: [{ type: "output_audio" }] },
    });
    const error = await ws.next();
    assert.equal((error.error as Event).param, "item.content[0].type");
  });

  await t.step("system messages take input_text only", async () => {
    ws.send({
      type: "conversation.item.create",
      item: { type: "message", role: "system", content: [{ type: "output_text", text: "x" }] },
    });
    assert.equal(((await ws.next()).error as Event).code, "invalid_value");
  });

  await t.step("function_call_output needs an existing call_id", async () => {
    ws.send({
      type: "conversation.item.create",
      event_id: "out_1",
      item: { type: "function_call_output", call_id: "call_missing", output: "{}" },
    });
    const error = (await ws.next()).error as Event;
    assert.equal(error.param, "item.call_id");
    assert.equal(error.message, "Tool call ID 'call_missing' not found in conversation.");
  });

  await t.step("function_call then its output", async () => {
    ws.send({
      type: "conversation.item.create",
      item: { type: "function_call", name: "lookup", call_id: "call_1", arguments: "{}" },
    });
    const call = await created(ws);
    assert.equal((call.added.item as Event).call_id, "call_1");
    ws.send({
      type: "conversation.item.create",
      item: { type: "function_call_output", call_id: "call_1", output: "ok" },
    });
    const out = await created(ws);
    assert.equal(out.added.previous_item_id, (call.added.item as Event).id);
  });

  await t.step("missing required fields are named", async () => {
    ws.send({
      type: "conversation.item.create",
      item: { type: "function_call_output", output: "x" },
    });
    const error = (await ws.next()).error as Event;
    assert.equal(error.code, "missing_required_parameter");
    assert.equal(error.param, "item.call_id");
  });

  await t.step("user audio with base64 is kept and retrievable", async () => {
    const audio = new Uint8Array(4800).fill(1).toBase64();
    ws.send({
      type: "conversation.item.create",
      item: { type: "message", role: "user", content: [{ type: "input_audio", audio }] },
    });
    const { added } = await created(ws);
    assert.deepEqual((added.item as Event).content, [{ type: "input_audio", transcript: null }]);
    ws.send({ type: "conversation.item.retrieve", item_id: (added.item as Event).id });
    const retrieved = await ws.next();
    assert.equal(retrieved.type, "conversation.item.retrieved");
    const part = ((retrieved.item as Event).content as Event[])[0]!;
    assert.equal(part.audio, audio);
  });
});

Deno.test("engine handles conversation.item.delete and .retrieve", async () => {
  await using engine = startTestEngine();
  const { ws } = await openSession(engine);
  await using _ws = ws;
  ws.send(userText("bye"));
  const { added } = await created(ws);
  const id = String((added.item as Event).id);
  ws.send({ type: "conversation.item.retrieve", item_id: id });
  const retrieved = await ws.next();
  assert.deepEqual(retrieved.item, added.item);
  ws.send({ type: "conversation.item.delete", item_id: id });
  const deleted = await ws.next();
  assert.equal(deleted.type, "conversation.item.deleted");
  assert.equal(deleted.item_id, id);
  ws.send({ type: "conversation.item.delete", item_id: id, event_id: "del_2" });
  const error = (await ws.next()).error as Event;
  assert.equal(error.code, "item_delete_invalid_item_id");
  assert.equal(error.event_id, "del_2");
  ws.send({ type: "conversation.item.retrieve", item_id: id });
  assert.equal(((await ws.next()).error as Event).code, "item_retrieve_invalid_item_id");
});

Deno.test("engine handles conversation.item.truncate of assistant audio", async (t) => {
  await using engine = startTestEngine();
  const { ws } = await openSession(engine);
  await using _ws = ws;
  await update(ws, {
    audio: {
      input: { format: { type: "audio/pcmu" }, turn_detection: null },
      output: { format: { type: "audio/pcmu" } },
    },
  });
  ws.send({ type: "response.create" });
  const events = await responseEvents(ws);
  const item = ((events.at(-1)!.response as Event).output as Event[])[0]!;
  const itemId = String(item.id);
  const audioMs = audioBytes(events) / 8;
  assert.equal(audioMs, 800);

  await t.step("past the end is refused with the service's message", async () => {
    ws.send({
      type: "conversation.item.truncate",
      event_id: "trunc_far",
      item_id: itemId,
      content_index: 0,
      audio_end_ms: 5000,
    });
    const error = (await ws.next("error")).error as Event;
    assert.equal(error.message, "Audio content of 800 ms is already shorter than 5000 ms");
    assert.equal(error.event_id, "trunc_far");
  });

  await t.step("user items cannot be truncated", async () => {
    ws.send(userText("x"));
    const { added } = await created(ws);
    ws.send({
      type: "conversation.item.truncate",
      item_id: (added.item as Event).id,
      content_index: 0,
      audio_end_ms: 0,
    });
    const error = (await ws.next()).error as Event;
    assert.equal(error.code, "unsupported_content_type");
    assert.equal(error.message, "Only model output audio messages can be truncated");
  });

  await t.step("unknown items are refused", async () => {
    ws.send({
      type: "conversation.item.truncate",
      item_id: "item_nope",
      content_index: 0,
      audio_end_ms: 0,
    });
    assert.equal(((await ws.next()).error as Event).code, "item_truncate_invalid_item_id");
  });

  await t.step("success cuts the audio and drops the transcript", async () => {
    ws.send({
      type: "conversation.item.truncate",
      item_id: itemId,
      content_index: 0,
      audio_end_ms: 300,
    });
    const truncated = await ws.next();
    assert.equal(truncated.type, "conversation.item.truncated");
    assert.equal(truncated.item_id, itemId);
    assert.equal(truncated.content_index, 0);
    assert.equal(truncated.audio_end_ms, 300);
    ws.send({ type: "conversation.item.retrieve", item_id: itemId });
    const retrieved = await ws.next();
    const part = ((retrieved.item as Event).content as Event[])[0]!;
    assert.equal(part.type, "output_audio");
    assert.equal(part.transcript, "");
    assert.equal(Uint8Array.fromBase64(String(part.audio)).byteLength, 300 * 8);
  });
});

Deno.test("engine handles a truncate while the reply is still streaming (vector B1)", async () => {
  await using engine = startTestEngine({ speed: 1 });
  const { ws } = await openSession(engine);
  await using _ws = ws;
  await update(ws, {
    audio: {
      input: { format: { type: "audio/pcmu" }, turn_detection: null },
      output: { format: { type: "audio/pcmu" } },
    },
  });
  ws.send({ type: "response.create" });
  const delta = await ws.next("response.output_audio.delta");
  const itemId = String(delta.item_id);
  const firstMs = Uint8Array.fromBase64(String(delta.delta)).byteLength / 8;
  ws.send({
    type: "conversation.item.truncate",
    item_id: itemId,
    content_index: 0,
    audio_end_ms: Math.floor(firstMs / 2),
  });
  const truncated = await ws.next("conversation.item.truncated");
  assert.equal(truncated.audio_end_ms, Math.floor(firstMs / 2));
  ws.send({ type: "response.cancel" });
  await ws.next("response.done");
  ws.send({ type: "conversation.item.retrieve", item_id: itemId });
  const retrieved = await ws.next("conversation.item.retrieved");
  const part = ((retrieved.item as Event).content as Event[])[0]!;
  assert.equal(part.transcript, "");
  assert.equal(Uint8Array.fromBase64(String(part.audio)).byteLength, Math.floor(firstMs / 2) * 8);
});

Deno.test("engine handles response.input with item references", async () => {
  await using engine = startTestEngine();
  const { ws } = await openSession(engine);
  await using _ws = ws;
  ws.send(userText("first question"));
  const { added } = await created(ws);
  ws.send(userText("second question"));
  await created(ws);
  ws.send({
    type: "response.create",
    response: {
      conversation: "none",
      output_modalities: ["text"],
      input: [{ type: "item_reference", id: (added.item as Event).id }],
    },
  });
  const events = await responseEvents(ws);
  const text = (((events.at(-1)!.response as Event).output as Event[])[0]!.content as Event[])[0]!
    .text;
  assert.equal(text, "You said: “first question”");
  ws.send({
    type: "response.create",
    event_id: "ref_bad",
    response: { input: [{ type: "item_reference", id: "item_missing" }] },
  });
  const error = (await ws.next("error")).error as Event;
  assert.equal(error.param, "response.input[0].id");
  assert.equal(error.event_id, "ref_bad");
});
