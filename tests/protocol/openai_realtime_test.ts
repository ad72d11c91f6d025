import assert from "node:assert/strict";
import type { ParsedServerEvent } from "../../src/protocol/openai_realtime.ts";
import { parseServerEvent, ServerEvent } from "../../src/protocol/openai_realtime.ts";

/** What parseServerEvent answers when every known event goes through the zod schema. */
function throughSchema(text: string): ParsedServerEvent {
  const raw = JSON.parse(text) as { type: string };
  const parsed = ServerEvent.safeParse(raw);
  if (!parsed.success) {
    return {
      known: false,
      type: raw.type,
      error: parsed.error.issues[0]?.message ?? "invalid event",
    };
  }
  return { known: true, event: parsed.data };
}

Deno.test("parseServerEvent()'s delta fast path answers exactly as the schema", () => {
  const ref = { response_id: "r", item_id: "i", output_index: 0, content_index: 0 };
  const types = [
    "response.output_audio.delta",
    "response.output_audio_transcript.delta",
    "response.output_text.delta",
  ];
  const variants: Record<string, unknown>[] = [
    { event_id: "e", ...ref, delta: "AAAA" },
    { ...ref, delta: "" },
    { event_id: "e", ...ref, delta: "AAAA", obfuscation: "xyz", extra: { a: 1 } },
    { event_id: null, ...ref, delta: "AAAA" },
    { event_id: 1, ...ref, delta: "AAAA" },
    { ...ref, delta: 5 },
    { ...ref },
    { ...ref, response_id: 1, delta: "A" },
    { ...ref, item_id: null, delta: "A" },
    { ...ref, output_index: "0", delta: "A" },
    { ...ref, content_index: null, delta: "A" },
    { ...ref, output_index: -1.5, content_index: 2 ** 60, delta: "A" },
  ];
  for (const type of types) {
    for (const variant of variants) {
      const text = JSON.stringify({ type, ...variant });
      assert.deepEqual(parseServerEvent(text), throughSchema(text), text);
    }
    // JSON numbers can overflow to Infinity, which z.number() refuses.
    const huge = `{"type":"${type}","response_id":"r","item_id":"i","output_index":1e999,` +
      `"content_index":0,"delta":"AAAA"}`;
    assert.deepEqual(parseServerEvent(huge), throughSchema(huge), huge);
    assert.equal(parseServerEvent(huge).known, false);
  }
});
