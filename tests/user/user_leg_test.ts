import assert from "node:assert/strict";
import { UserLeg } from "../../src/user/user_leg.ts";
import type { ServerMessage } from "../../src/user/messages.ts";
import { fakeClock } from "../fake_clock.ts";

/** 100 ms of PCM16 24 kHz silence, base64. */
const MS100 = new Uint8Array(4800).toBase64();

function setup() {
  const { clock, tick } = fakeClock();
  const sent: ServerMessage[] = [];
  const frames: string[] = [];
  const leg = new UserLeg({
    clock,
    output: { send: (m) => sent.push(m), sendText: (f) => frames.push(f) },
  });
  return { leg, sent, frames, tick };
}

Deno.test("UserLeg.playAudio() sends response.audio at once with the delta untouched", () => {
  const { leg, frames } = setup();
  leg.playAudio("item_1", MS100);
  assert.equal(frames.length, 1);
  assert.deepEqual(JSON.parse(frames[0]!), {
    type: "response.audio",
    response: { audio: MS100, timestamp: 0 },
  });
  assert.equal(leg.stats.audioMs, 100);
});

Deno.test("UserLeg.interrupt() estimates what was heard", async (t) => {
  await t.step("min(ms sent, wall time since the first chunk)", () => {
    const { leg, sent, tick } = setup();
    for (let i = 0; i < 10; i++) leg.playAudio("item_1", MS100);
    tick(350);
    assert.deepEqual(leg.interrupt(), { itemId: "item_1", playedMs: 350, sentMs: 1000 });
    assert.deepEqual(sent, [{
      type: "response.interrupted",
      response: { item_id: "item_1", played_ms: 350, timestamp: 0.35 },
    }]);
    assert.equal(leg.currentItem, undefined);
  });
  await t.step("clamped to what was sent", () => {
    const { leg, tick } = setup();
    leg.playAudio("item_1", MS100);
    tick(250);
    assert.equal(leg.interrupt()?.playedMs, 100);
  });
  await t.step("the client's own played ms wins when given", () => {
    const { leg, sent, tick } = setup();
    for (let i = 0; i < 10; i++) leg.playAudio("item_1", MS100);
    tick(900);
    leg.requestInterrupt(420);
    assert.equal(leg.interrupt()?.playedMs, 420);
    assert.equal(sent.at(-1)?.type, "response.interrupted");
  });
  await t.step("an item queued behind another starts when that one ends", () => {
    const { leg, tick } = setup();
    for (let i = 0; i < 5; i++) leg.playAudio("item_1", MS100);
    leg.endAudio("item_1");
    for (let i = 0; i < 5; i++) leg.playAudio("item_2", MS100);
    tick(700);
    assert.deepEqual(leg.interrupt(), { itemId: "item_2", playedMs: 200, sentMs: 500 });
  });
  await t.step("nothing playing: no message unless the client asked", () => {
    const { leg, sent } = setup();
    assert.equal(leg.interrupt(), undefined);
    assert.equal(sent.length, 0);
    leg.requestInterrupt(undefined);
    assert.equal(leg.interrupt(), undefined);
    assert.deepEqual(sent, [{
      type: "response.interrupted",
      response: { item_id: null, played_ms: 0, timestamp: 0 },
    }]);
  });
  await t.step("a response cut before its first audio is reported, with no item", () => {
    const { leg, sent } = setup();
    leg.notify({ type: "response.started", responseId: "resp_1" });
    assert.equal(leg.interrupt(), undefined);
    assert.deepEqual(sent.at(-1), {
      type: "response.interrupted",
      response: { item_id: null, played_ms: 0, timestamp: 0 },
    });
    leg.notify({ type: "response.done", responseId: "resp_1", status: "cancelled", usage: {} });
    const count = sent.length;
    assert.equal(leg.interrupt(), undefined);
    assert.equal(sent.length, count, "nothing to report once the response is done");
  });
  await t.step("an item heard in full is not reported as interrupted", () => {
    const { leg, sent, tick } = setup();
    leg.playAudio("item_1", MS100);
    leg.endAudio("item_1");
    tick(500);
    assert.deepEqual(leg.interrupt(), { itemId: "item_1", playedMs: 100, sentMs: 100 });
    assert.deepEqual(sent.map((m) => m.type), ["response.audio.done"]);
  });
});

Deno.test("UserLeg.notify() sends the mapped message", () => {
  const { leg, sent } = setup();
  leg.notify({ type: "speech.started", audioStartMs: 0 });
  leg.notify({ type: "response.transcript.delta", responseId: "r", delta: "" });
  assert.deepEqual(sent, [{ type: "speech.started", speech: { audio_start_ms: 0, timestamp: 0 } }]);
});
