import assert from "node:assert/strict";
import { ResponseSequencer } from "../../src/bridge/response_sequencer.ts";

Deno.test("ResponseSequencer answers a turn the server left unanswered, once", () => {
  const s = new ResponseSequencer();
  assert.equal(s.request(undefined), true);
  s.sent(undefined);
  assert.equal(s.created("r1", true), true);
  s.committed(false);
  assert.equal(s.done("r1"), true);
  assert.deepEqual(s.next(), { kind: "none" }, "manual turns: nothing owed");
  s.created("r2", true);
  s.committed(true);
  assert.equal(s.settled, false);
  assert.equal(s.done("r2"), true);
  assert.deepEqual(s.next(), { kind: "request", params: undefined });
  assert.deepEqual(s.next(), { kind: "none" });
  assert.equal(s.settled, true);
});

Deno.test("ResponseSequencer resumes a lost reply before a deferred one, not a cancelled one", async (t) => {
  await t.step("lost while generating", () => {
    const s = new ResponseSequencer();
    s.sent({ instructions: "A" });
    s.created("r1", true);
    assert.equal(s.request({ instructions: "B" }), false);
    assert.equal(s.lost(), "r1");
    assert.equal(s.activeId, undefined);
    assert.deepEqual(s.ready(), { kind: "resume", params: { instructions: "A" } });
    assert.deepEqual(s.ready(), { kind: "deferred", params: { instructions: "B" } });
    assert.equal(s.ready(), undefined);
  });
  await t.step("lost after barge-in", () => {
    const s = new ResponseSequencer();
    s.created("r1", true);
    assert.equal(s.cancel(), "r1");
    assert.equal(s.discarded("r1"), true);
    assert.equal(s.discarded("r2"), false);
    assert.equal(s.lost(), "r1");
    assert.equal(s.ready(), undefined);
    assert.equal(s.settled, true);
  });
  await t.step("out-of-band responses are not tracked", () => {
    const s = new ResponseSequencer();
    s.sent(undefined);
    assert.equal(s.created("oob", false), false);
    assert.equal(s.cancel(), undefined);
    assert.equal(s.settled, true, "the request was answered");
  });
  await t.step("a refused request is no longer awaited", () => {
    const s = new ResponseSequencer();
    s.sent(undefined);
    assert.equal(s.settled, false);
    s.refused();
    assert.equal(s.settled, true);
  });
});

Deno.test("ResponseSequencer holds a request while one is asked for and not yet created", async (t) => {
  await t.step("created in band: the held one goes after its done", () => {
    const s = new ResponseSequencer();
    assert.equal(s.request({ instructions: "A" }), true);
    s.sent({ instructions: "A" });
    assert.equal(s.request({ instructions: "B" }), false, "A is in flight");
    assert.equal(s.created("r1", true), true);
    assert.equal(s.freed(), undefined, "A is generating");
    assert.equal(s.done("r1"), true);
    assert.deepEqual(s.next(), { kind: "request", params: { instructions: "B" } });
  });
  await t.step("refused: the held one goes at once", () => {
    const s = new ResponseSequencer();
    s.sent({ instructions: "A" });
    assert.equal(s.request({ instructions: "B" }), false);
    s.refused();
    assert.deepEqual(s.freed(), { params: { instructions: "B" } });
    assert.equal(s.freed(), undefined, "only once");
  });
  await t.step("answered out of band: the held one goes at once", () => {
    const s = new ResponseSequencer();
    s.sent({ conversation: "none" });
    assert.equal(s.request(undefined), false);
    assert.equal(s.created("oob1", false), false);
    assert.deepEqual(s.freed(), { params: undefined });
  });
  await t.step("queued while not ready: a lost reply waits behind it", () => {
    const s = new ResponseSequencer();
    s.sent({ instructions: "A" });
    s.created("r1", true);
    assert.equal(s.lost(), "r1");
    // Asked for again while the new session is not ready: queued, in flight once ready.
    assert.equal(s.request({ instructions: "C" }), true);
    s.sent({ instructions: "C" });
    assert.equal(s.ready(), undefined, "C went out with the queue");
    s.created("r2", true);
    s.done("r2");
    assert.deepEqual(s.next(), { kind: "request", params: { instructions: "A" } });
  });
});

Deno.test("ResponseSequencer cancels a response once, however often the caller barges in", () => {
  const s = new ResponseSequencer();
  s.sent(undefined);
  s.created("r1", true);
  assert.equal(s.cancel(), "r1");
  assert.equal(s.cancel(), undefined, "already cancelled");
  assert.equal(s.discarded("r1"), true);
});
