import assert from "node:assert/strict";
import type { StoredItem } from "../../src/local/conversation.ts";
import {
  defaultReply,
  findInput,
  GREETING_TRANSCRIPT,
  parseCallRule,
  planReply,
  seconds,
  transcriptionOf,
} from "../../src/local/replies.ts";
import type { FunctionTool } from "../../src/protocol/openai_realtime_client.ts";

const user = (text: string, id = "item_u"): StoredItem => ({
  id,
  type: "message",
  role: "user",
  status: "completed",
  content: [{ type: "input_text", text }],
});
const assistant: StoredItem = {
  id: "item_a",
  type: "message",
  role: "assistant",
  status: "completed",
  content: [{ type: "output_audio", transcript: "hi" }],
};
const tools: FunctionTool[] = [{ type: "function", name: "check_order" }];

Deno.test("findInput() picks the latest input after the last model output", () => {
  assert.deepEqual(findInput([]), { kind: "none" });
  assert.deepEqual(findInput([user("a"), assistant]), { kind: "none" });
  assert.deepEqual(findInput([assistant, user("b")]), {
    kind: "text",
    text: "b",
    itemId: "item_u",
  });
  const system: StoredItem = {
    id: "item_s",
    type: "message",
    role: "system",
    status: "completed",
    content: [{ type: "input_text", text: "context" }],
  };
  assert.equal(findInput([user("c"), system]).kind, "text");
  assert.deepEqual(
    findInput([{ id: "o", type: "function_call_output", call_id: "call_1", output: "42" }]),
    { kind: "tool_output", output: "42", callId: "call_1" },
  );
});

Deno.test("defaultReply() follows the documented rules", async (t) => {
  const context = { tools: [], toolChoice: "auto" as const };
  await t.step("greeting", () => {
    assert.deepEqual(defaultReply({ kind: "none" }, context), {
      kind: "speech",
      transcript: GREETING_TRANSCRIPT,
      sound: { type: "chime" },
    });
  });
  await t.step("text is quoted, with 60 ms of voice per character", () => {
    const reply = defaultReply({ kind: "text", text: "Hello   world", itemId: "i" }, context);
    assert.deepEqual(reply, {
      kind: "speech",
      transcript: "You said: “Hello world”",
      sound: { type: "babble", ms: 23 * 60 },
    });
  });
  await t.step("audio is echoed with its duration", () => {
    const reply = defaultReply({
      kind: "audio",
      itemId: "i",
      audio: undefined,
      speechMs: 1830,
      fromMs: 0,
      toMs: 2000,
    }, context);
    assert.equal(reply.kind === "speech" && reply.transcript, "I heard 1.8 seconds of speech.");
  });
  await t.step("call rule with a configured tool", () => {
    const reply = defaultReply(
      { kind: "text", text: 'call check_order {"n": 1}', itemId: "i" },
      { tools, toolChoice: "auto" },
    );
    assert.deepEqual(reply, { kind: "tool_call", name: "check_order", arguments: '{"n":1}' });
  });
  await t.step("tool_choice none disables calls", () => {
    const reply = defaultReply(
      { kind: "text", text: "call check_order {}", itemId: "i" },
      { tools, toolChoice: "none" },
    );
    assert.equal(reply.kind, "speech");
  });
  await t.step("tool_choice required and forced functions always call", () => {
    assert.deepEqual(defaultReply({ kind: "none" }, { tools, toolChoice: "required" }), {
      kind: "tool_call",
      name: "check_order",
      arguments: "{}",
    });
    assert.deepEqual(
      defaultReply({ kind: "none" }, {
        tools,
        toolChoice: { type: "function", name: "check_order" },
      }),
      { kind: "tool_call", name: "check_order", arguments: "{}" },
    );
  });
});

Deno.test("parseCallRule() reads `call <name> {json}`", () => {
  assert.deepEqual(parseCallRule("call x"), { name: "x", arguments: "{}" });
  assert.deepEqual(parseCallRule("  Call get_time { }"), { name: "get_time", arguments: "{}" });
  assert.equal(parseCallRule("call x [1]"), undefined);
  assert.equal(parseCallRule("call x {bad"), undefined);
  assert.equal(parseCallRule("please call x"), undefined);
});

Deno.test("planReply() lets a scenario override the content", () => {
  const base = defaultReply({ kind: "none" }, { tools: [], toolChoice: "auto" });
  assert.equal(planReply(base, undefined), base);
  assert.equal(planReply(base, { delayMs: 5 }), base);
  assert.deepEqual(planReply(base, { audioMs: 8000 }), {
    kind: "speech",
    transcript: GREETING_TRANSCRIPT,
    sound: { type: "babble", ms: 8000 },
  });
  assert.deepEqual(planReply(base, { toolCall: { name: "end_call" } }), {
    kind: "tool_call",
    name: "end_call",
    arguments: "{}",
  });
});

Deno.test("seconds() and transcriptionOf() round to a tenth", () => {
  assert.equal(seconds(1849), "1.8");
  assert.equal(seconds(1850), "1.9");
  assert.equal(transcriptionOf(1800), "(1.8 seconds of speech)");
});
