import assert from "node:assert/strict";
import type { ParsedFrame } from "../../src/protocol/audiocodes.ts";
import { parseVaicFrame, VaicMessage } from "../../src/protocol/audiocodes.ts";

/** What parseVaicFrame answers when every frame goes through the zod schema. */
function throughSchema(text: string): ParsedFrame {
  const raw = JSON.parse(text) as { type: string };
  const parsed = VaicMessage.safeParse(raw);
  if (parsed.success) return { ok: true, message: parsed.data };
  const issue = parsed.error.issues[0];
  return {
    ok: false,
    kind: "invalid",
    type: raw.type,
    error: `Invalid ${raw.type}: ${issue?.path.join(".") || "message"}: ${issue?.message}`,
  };
}

Deno.test("parseVaicFrame()'s userStream.chunk fast path answers exactly as the schema", () => {
  const chunk = { type: "userStream.chunk" };
  const frames = [
    { ...chunk, conversationId: "c", audioChunk: "AAAA" },
    { ...chunk, audioChunk: "AAAA" },
    { ...chunk, audioChunk: "" },
    { ...chunk, conversationId: "c", audioChunk: "AA==", participant: "caller" },
    { ...chunk, audioChunk: "AA==", participant: "" },
    { ...chunk, conversationId: "c", audioChunk: "AAAA", extra: 1, value: { deep: [1] } },
    { ...chunk, conversationId: "c", audioChunk: "not base64 (the handler checks it)" },
    { ...chunk, conversationId: "", audioChunk: "AAAA" },
    { ...chunk, conversationId: 5, audioChunk: "AAAA" },
    { ...chunk, conversationId: null, audioChunk: "AAAA" },
    { ...chunk, conversationId: "c" },
    { ...chunk, conversationId: "c", audioChunk: null },
    { ...chunk, conversationId: "c", audioChunk: ["AAAA"] },
    { ...chunk, conversationId: "c", audioChunk: "AAAA", participant: 1 },
    { ...chunk, conversationId: "c", audioChunk: "AAAA", participant: null },
    { ...chunk, conversationId: 1, audioChunk: 2, participant: 3 },
  ];
  for (const frame of frames) {
    const text = JSON.stringify(frame);
    assert.deepEqual(parseVaicFrame(text), throughSchema(text), text);
  }
  const parsed = parseVaicFrame('{"type":"userStream.chunk","audioChunk":"AAAA","x":1}');
  assert.ok(parsed.ok);
  assert.deepEqual(Object.keys(parsed.message), ["type", "audioChunk"]);
});
