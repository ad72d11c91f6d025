import assert from "node:assert/strict";
import { CLIENT_MESSAGE_TYPES, parseClientFrame } from "../../src/user/messages.ts";

Deno.test("parseClientFrame() accepts every seed message as written", async (t) => {
  const cases: [string, unknown][] = [
    ["session.update", {
      type: "session.update",
      session_update: {
        voice: "alloy",
        language: "en",
        instructions: "You are a helpful AI assistant.",
        temperature: 0.8,
        max_response_output_tokens: 4096,
      },
    }],
    ["conversation.item.input audio", {
      type: "conversation.item.input",
      conversation_item_input: { type: "input_audio_buffer", audio: "AAAAAA==" },
    }],
    ["conversation.item.input text", {
      type: "conversation.item.input",
      conversation_item_input: { type: "input_text", text: "Hello, how are you?" },
    }],
    ["ping", { type: "ping", ping: { timestamp: 1234567890.123 } }],
  ];
  for (const [name, message] of cases) {
    await t.step(name, () => {
      const parsed = parseClientFrame(JSON.stringify(message));
      assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
      assert.deepEqual(parsed.message, message);
    });
  }
});

Deno.test("parseClientFrame() accepts the extensions with and without payloads", () => {
  const messages = [
    { type: "turn_detection.update", turn_detection_update: { type: "none" } },
    {
      type: "turn_detection.update",
      turn_detection_update: { type: "server_vad", threshold: 0.6, silence_duration_ms: 800 },
    },
    { type: "turn_detection.update", turn_detection_update: { type: "semantic_vad" } },
    { type: "input_audio_buffer.commit" },
    { type: "input_audio_buffer.commit", input_audio_buffer_commit: { respond: false } },
    { type: "response.create" },
    { type: "response.create", response_create: { instructions: "Say hi" } },
    { type: "response.interrupt" },
    { type: "response.interrupt", response_interrupt: { played_ms: 1200 } },
    { type: "ping" },
    {
      type: "tools.update",
      tools_update: {
        tools: [{ name: "get_weather", description: "Weather", parameters: { type: "object" } }],
      },
    },
    { type: "tool.result", tool_result: { call_id: "call_1", output: '{"ok":true}' } },
    { type: "tool.result", tool_result: { call_id: "call_2", error: "offline" } },
  ];
  for (const message of messages) {
    const parsed = parseClientFrame(JSON.stringify(message));
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
    assert.deepEqual(parsed.message, message);
  }
  assert.equal(CLIENT_MESSAGE_TYPES.length, 9);
});

Deno.test("parseClientFrame() strips unknown fields", () => {
  const parsed = parseClientFrame(
    JSON.stringify({ type: "ping", extra: 1, ping: { timestamp: 1, other: true } }),
  );
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.message, { type: "ping", ping: { timestamp: 1 } });
});

Deno.test("parseClientFrame() refuses bad frames with a reason", async (t) => {
  const cases: [string, string, RegExp][] = [
    ["not JSON", "{nope", /^Cannot parse message: not valid JSON$/],
    ["an array", "[1,2]", /expected a JSON object/],
    ["no type", JSON.stringify({ ping: {} }), /"type" field is missing/],
    ["unknown type", JSON.stringify({ type: "session.delete" }), /unknown type "session.delete"/],
    [
      "missing payload",
      JSON.stringify({ type: "conversation.item.input" }),
      /^Cannot handle conversation.item.input: conversation_item_input is invalid/,
    ],
    [
      "unknown input type",
      JSON.stringify({
        type: "conversation.item.input",
        conversation_item_input: { type: "input_image" },
      }),
      /conversation_item_input.type is invalid/,
    ],
    [
      "unknown voice",
      JSON.stringify({ type: "session.update", session_update: { voice: "robot" } }),
      /session_update.voice is invalid/,
    ],
    [
      "bad language",
      JSON.stringify({ type: "session.update", session_update: { language: "english!" } }),
      /session_update.language is invalid/,
    ],
    [
      "too many tokens",
      JSON.stringify({
        type: "session.update",
        session_update: { max_response_output_tokens: 5000 },
      }),
      /max_response_output_tokens is invalid/,
    ],
    [
      "empty text",
      JSON.stringify({
        type: "conversation.item.input",
        conversation_item_input: { type: "input_text", text: "" },
      }),
      /conversation_item_input.text is invalid/,
    ],
    [
      "threshold out of range",
      JSON.stringify({
        type: "turn_detection.update",
        turn_detection_update: { type: "server_vad", threshold: 2 },
      }),
      /turn_detection_update.threshold is invalid/,
    ],
  ];
  for (const [name, frame, expected] of cases) {
    await t.step(name, () => {
      const parsed = parseClientFrame(frame);
      assert.equal(parsed.ok, false);
      if (!parsed.ok) assert.match(parsed.error, expected);
    });
  }
});
