import assert from "node:assert/strict";
import { openSession, startTestEngine, update } from "./engine_helpers.ts";
import type { Event } from "./engine_helpers.ts";

Deno.test("engine handles malformed client events with error events and stays open", async (t) => {
  await using engine = startTestEngine();
  const { ws } = await openSession(engine);
  await using _ws = ws;
  const cases: [string, unknown, Record<string, unknown>][] = [
    ["unknown type", { type: "response.audio.delta", event_id: "u1" }, {
      type: "invalid_request_error",
      code: "invalid_value",
      param: "type",
      event_id: "u1",
    }],
    ["missing type", { event_id: "m1" }, {
      type: "invalid_request_error",
      code: "invalid_event",
      message: "The 'type' field is missing.",
      event_id: "m1",
    }],
    ["not JSON", "{not json", { type: "invalid_request_error", code: "invalid_json" }],
    ["not an object", "[1,2]", { type: "invalid_request_error", code: "invalid_event" }],
    ["unknown field on an event", { type: "input_audio_buffer.clear", foo: 1 }, {
      code: "unknown_parameter",
      param: "foo",
    }],
    ["missing required field", { type: "conversation.item.delete", event_id: "d1" }, {
      code: "missing_required_parameter",
      message: "Missing required parameter: 'item_id'.",
      param: "item_id",
      event_id: "d1",
    }],
    ["wrong field type", {
      type: "conversation.item.truncate",
      item_id: "x",
      content_index: 0,
      audio_end_ms: "5",
    }, {
      code: "invalid_type",
      param: "audio_end_ms",
    }],
    ["beta response fields", { type: "response.create", response: { modalities: ["text"] } }, {
      code: "unknown_parameter",
      param: "response.modalities",
    }],
  ];
  for (const [name, event, expected] of cases) {
    await t.step(name, async () => {
      ws.send(event);
      const error = await ws.next();
      assert.equal(error.type, "error");
      assert.match(String(error.event_id), /^event_/);
      const body = error.error as Record<string, unknown>;
      for (const [key, value] of Object.entries(expected)) assert.equal(body[key], value, key);
      assert.equal(typeof body.message, "string");
    });
  }
  await t.step("unknown type lists the supported values", () => {
    const first = ws.received.find((e) => e.type === "error")!;
    assert.match(
      String((first.error as Event).message),
      /^Invalid value: 'response\.audio\.delta'\. Supported values are: 'session\.update', /,
    );
  });
  await t.step("the socket still works", async () => {
    const updated = await update(ws, { instructions: "still here" });
    assert.equal((updated.session as Event).instructions, "still here");
  });
});
