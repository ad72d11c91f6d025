import assert from "node:assert/strict";
import { Playout } from "../../src/bridge/playout.ts";
import { fakeClock } from "../fake_clock.ts";

function recorder() {
  const log: string[] = [];
  return {
    log,
    sink: {
      start: (item: string) => void log.push(`start ${item}`),
      chunk: (piece: string) => void log.push(`chunk ${piece}`),
      stop: (item: string, reason: string) => void log.push(`stop ${item} ${reason}`),
    },
  };
}

Deno.test("Playout keeps at most the lead queued ahead of real time", () => {
  const { clock, tick } = fakeClock();
  const { log, sink } = recorder();
  const playout = new Playout({ clock, leadMs: 100, sink });
  for (let i = 0; i < 10; i++) playout.push("item_a", `p${i}`, 20);
  assert.deepEqual(log, [
    "start item_a",
    "chunk p0",
    "chunk p1",
    "chunk p2",
    "chunk p3",
    "chunk p4",
  ]);
  tick(20);
  assert.deepEqual(log.slice(6), ["chunk p5"]);
  tick(40);
  assert.deepEqual(log.slice(7), ["chunk p6", "chunk p7"]);
  assert.equal(playout.playedMs(), 60);
  playout.close();
});

Deno.test("Playout stops a finished stream only once it has played out", () => {
  const { clock, tick } = fakeClock();
  const { log, sink } = recorder();
  const playout = new Playout({ clock, leadMs: 200, sink });
  let idle = 0;
  playout.push("item_a", "a0", 60);
  playout.push("item_a", "a1", 60);
  playout.finish("item_a");
  playout.whenIdle(() => idle++);
  assert.deepEqual(log, ["start item_a", "chunk a0", "chunk a1"]);
  tick(119);
  assert.equal(idle, 0);
  assert.ok(playout.playing);
  tick(1);
  assert.deepEqual(log.slice(3), ["stop item_a played"]);
  assert.equal(idle, 1);
  assert.ok(!playout.playing);
});

Deno.test("Playout plays items in order, one stream each", () => {
  const { clock, tick } = fakeClock();
  const { log, sink } = recorder();
  const playout = new Playout({ clock, leadMs: 50, sink });
  playout.push("item_a", "a0", 40);
  playout.finish("item_a");
  playout.push("item_b", "b0", 40);
  playout.finish("item_b");
  assert.deepEqual(log, ["start item_a", "chunk a0"]);
  tick(40);
  assert.deepEqual(log.slice(2), ["stop item_a played", "start item_b", "chunk b0"]);
  tick(40);
  assert.deepEqual(log.slice(5), ["stop item_b played"]);
});

Deno.test("Playout.interrupt() reports min(sent, elapsed) and drops the queue", async (t) => {
  await t.step("mid-stream: wall time bounds what was heard", () => {
    const { clock, tick } = fakeClock();
    const { log, sink } = recorder();
    const playout = new Playout({ clock, leadMs: 200, sink });
    for (let i = 0; i < 50; i++) playout.push("item_a", `p${i}`, 20);
    tick(333);
    const heard = playout.interrupt();
    assert.deepEqual(heard, { itemId: "item_a", playedMs: 333, sentMs: 540 });
    assert.equal(log.at(-1), "stop item_a interrupted");
    const before = log.length;
    tick(1000);
    assert.equal(log.length, before);
    assert.ok(!playout.playing);
  });

  await t.step("starved stream: sent audio bounds what was heard", () => {
    const { clock, tick } = fakeClock();
    const { sink } = recorder();
    const playout = new Playout({ clock, leadMs: 200, sink });
    playout.push("item_a", "p0", 100);
    tick(500);
    assert.deepEqual(playout.interrupt(), { itemId: "item_a", playedMs: 100, sentMs: 100 });
  });

  await t.step("nothing queued", () => {
    const { clock } = fakeClock();
    const { sink } = recorder();
    assert.equal(new Playout({ clock, leadMs: 200, sink }).interrupt(), undefined);
  });
});
