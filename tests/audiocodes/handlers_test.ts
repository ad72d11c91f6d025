import assert from "node:assert/strict";
import type { HandlerContext } from "../../src/audiocodes/handlers.ts";
import { dispatch, INITIAL_STATE } from "../../src/audiocodes/handlers.ts";
import { parseVaicFrame } from "../../src/protocol/audiocodes.ts";
import type { VaicMessage } from "../../src/protocol/audiocodes.ts";

const ctx = (known: Record<string, "raw/mulaw"> = {}): HandlerContext => ({
  preference: ["raw/lpcm16_24", "raw/mulaw", "raw/lpcm16"],
  lookup: (id) => (known[id] ? { mediaFormat: known[id] } : undefined),
});

function parse(frame: unknown): VaicMessage {
  const parsed = parseVaicFrame(JSON.stringify(frame));
  assert.ok(parsed.ok, JSON.stringify(parsed));
  return parsed.message;
}

Deno.test("parseVaicFrame() accepts every inbound test vector of §9.1", () => {
  const vectors = [
    { type: "connection.validate", conversationId: "v1" },
    {
      type: "session.initiate",
      conversationId: "c",
      botName: "b",
      caller: "+1",
      expectAudioMessages: true,
      supportedMediaFormats: ["raw/lpcm16"],
    },
    {
      type: "session.initiate",
      conversationId: "c",
      expectAudioMessages: true,
      supportedMediaFormats: ["raw/mulaw"],
    },
    { type: "session.resume", conversationId: "c" },
    { type: "userStream.start", conversationId: "c" },
    { type: "userStream.start", conversationId: "c", participant: "caller" },
    { type: "userStream.chunk", conversationId: "c", audioChunk: "AAAAAAAAAAAAAAAAAAAAAA==" },
    { type: "userStream.stop", conversationId: "c" },
    {
      type: "activities",
      conversationId: "c",
      activities: [{ type: "event", name: "DTMF", value: "1234#" }],
    },
    {
      type: "activities",
      conversationId: "c",
      activities: [{ type: "event", name: "noUserInput", value: 2 }],
    },
    {
      type: "session.end",
      conversationId: "c",
      reasonCode: "client-disconnected",
      reason: "Client Side",
    },
    { type: "session.end" },
  ];
  for (const v of vectors) assert.equal(parse(v).type, v.type);
});

Deno.test("parseVaicFrame() tells bad JSON, unknown types and bad fields apart", () => {
  assert.deepEqual(parseVaicFrame("{x").ok, false);
  assert.equal((parseVaicFrame("{x") as { kind: string }).kind, "json");
  assert.deepEqual(parseVaicFrame('{"type":"some.future.message"}'), {
    ok: false,
    kind: "unknown-type",
    type: "some.future.message",
  });
  const bad = parseVaicFrame('{"type":"userStream.chunk","audioChunk":5}');
  assert.ok(!bad.ok && bad.kind === "invalid");
  assert.match(bad.error, /^Invalid userStream\.chunk: audioChunk: /);
});

Deno.test("handlers are pure: initiate → accepted, chunk → audio effect", () => {
  const first = dispatch(
    INITIAL_STATE,
    parse({ type: "session.initiate", conversationId: "c", supportedMediaFormats: ["raw/mulaw"] }),
    ctx(),
  );
  assert.deepEqual(first.state, {
    phase: "active",
    conversationId: "c",
    mediaFormat: "raw/mulaw",
    userStreams: [],
  });
  assert.deepEqual(first.effects.map((e) => e.type), ["conversation.open", "send"]);
  const started = dispatch(
    first.state,
    parse({ type: "userStream.start", conversationId: "c" }),
    ctx(),
  );
  const chunk = dispatch(
    started.state,
    parse({ type: "userStream.chunk", conversationId: "c", audioChunk: "/////w==" }),
    ctx(),
  );
  assert.deepEqual(chunk.effects, [{
    type: "call.audio",
    conversationId: "c",
    audioChunk: "/////w==",
    bytes: 4,
  }]);
  assert.equal(chunk.state, started.state);
  const stopped = dispatch(
    started.state,
    parse({ type: "userStream.stop", conversationId: "c" }),
    ctx(),
  );
  const outside = dispatch(
    stopped.state,
    parse({ type: "userStream.chunk", conversationId: "c", audioChunk: "/////w==" }),
    ctx(),
  );
  assert.deepEqual(outside.effects.map((e) => e.type), ["call.dropped"]);
});

Deno.test("handlers refuse a duplicate initiate and an unknown resume", () => {
  const active = dispatch(
    INITIAL_STATE,
    parse({
      type: "session.initiate",
      conversationId: "c",
      supportedMediaFormats: ["raw/mulaw"],
    }),
    ctx(),
  ).state;
  const dup = dispatch(
    active,
    parse({ type: "session.initiate", conversationId: "c", supportedMediaFormats: ["raw/mulaw"] }),
    ctx(),
  );
  assert.equal(dup.state, active);
  assert.deepEqual(dup.effects.map((e) => e.type), ["log"]);
  const live = dispatch(
    INITIAL_STATE,
    parse({ type: "session.initiate", conversationId: "c", supportedMediaFormats: ["raw/mulaw"] }),
    ctx({ c: "raw/mulaw" }),
  );
  assert.deepEqual(live.effects[0], {
    type: "send",
    message: {
      type: "session.error",
      conversationId: "c",
      reason: 'Cannot accept call: conversation "c" is already active',
    },
  });
  const unknown = dispatch(
    INITIAL_STATE,
    parse({ type: "session.resume", conversationId: "x" }),
    ctx(),
  );
  assert.deepEqual(unknown.effects[0], {
    type: "send",
    message: { type: "session.error", conversationId: "x", reason: "conversation not found" },
  });
  const known = dispatch(
    INITIAL_STATE,
    parse({ type: "session.resume", conversationId: "c" }),
    ctx({ c: "raw/mulaw" }),
  );
  assert.deepEqual(known.effects[1], {
    type: "send",
    message: { type: "session.accepted", mediaFormat: "raw/mulaw" },
  });
});
