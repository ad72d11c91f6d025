import assert from "node:assert/strict";
import type { LegEvent } from "../../src/bridge/bridge.ts";
import { phoneLegMessage } from "../../src/audiocodes/leg_messages.ts";
import { BotMessage } from "../../src/protocol/audiocodes.ts";

Deno.test("phoneLegMessage() maps Bridge events to AudioCodes messages", async (t) => {
  const cases: [LegEvent, unknown][] = [
    [{ type: "speech.started", audioStartMs: 120 }, { type: "userStream.speech.started" }],
    [{ type: "speech.stopped", audioEndMs: 900 }, { type: "userStream.speech.stopped" }],
    [{ type: "speech.committed" }, { type: "userStream.speech.committed" }],
    [
      { type: "speech.hypothesis", text: "book a" },
      { type: "userStream.speech.hypothesis", alternatives: [{ text: "book a" }] },
    ],
    [
      { type: "speech.recognition", text: "book a table" },
      { type: "userStream.speech.recognition", alternatives: [{ text: "book a table" }] },
    ],
    [{ type: "session.ready" }, undefined],
    [{ type: "response.started", responseId: "resp_1" }, undefined],
    [{ type: "response.transcript.delta", responseId: "resp_1", delta: "Hel" }, undefined],
    [{ type: "response.transcript.done", itemId: "item_1", text: "Hello" }, undefined],
    [{ type: "response.done", responseId: "resp_1", status: "completed", usage: {} }, undefined],
    [{ type: "error", code: "invalid_value", message: "sk-… is wrong" }, undefined],
  ];
  for (const [event, expected] of cases) {
    await t.step(event.type, () => {
      const message = phoneLegMessage(event);
      assert.deepEqual(message, expected);
      // What goes to VAIC is a valid Bot API message.
      if (message !== undefined) assert.ok(BotMessage.safeParse(message).success);
    });
  }
});
