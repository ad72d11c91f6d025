/**
 * Long calls: the service ends a session at its maximum duration (`session.expires_at`); the
 * Bridge moves a live call onto a fresh session before that, at a quiet moment, with the
 * conversation replayed, so the call is never cut.
 */
import assert from "node:assert/strict";
import { Bridge } from "../../src/bridge/bridge.ts";
import type { BridgeOptions } from "../../src/bridge/bridge.ts";
import { systemClock } from "../../src/core/clock.ts";
import { silentLogger } from "../../src/core/logger.ts";
import { startTestEngine } from "../local/engine_helpers.ts";
import { RecordingLeg, ScriptedUpstream, SESSION, TestClock } from "./helpers.ts";
import type { Event, ScriptedConnection } from "./helpers.ts";

const HOUR_S = 3600;

function bridgeFor(url: string, options: Partial<BridgeOptions> = {}) {
  const leg = new RecordingLeg();
  const failures: string[] = [];
  const bridge = new Bridge({
    upstream: { url, model: "gpt-realtime" },
    session: SESSION,
    upstreamBytesPerMs: 8,
    clock: systemClock,
    log: silentLogger(),
    leg,
    onFailed: (reason) => failures.push(reason),
    ...options,
  });
  return { bridge, leg, failures };
}

function reply(connection: ScriptedConnection, id: string, transcript: string): void {
  connection.send({
    type: "response.output_audio_transcript.done",
    response_id: id,
    item_id: `item_${id}`,
    output_index: 0,
    content_index: 0,
    transcript,
  });
  connection.send({
    type: "response.done",
    response: { id, status: "completed", conversation_id: "conv_1", output: [] },
  });
}

const texts = (connection: ScriptedConnection | undefined) =>
  (connection?.received ?? []).filter((e) => e.type === "conversation.item.create")
    .map((e) => ((e.item as Event).content as Event[])[0]!.text);

Deno.test("Bridge recycles its session before it expires, at a quiet moment", async (t) => {
  const clock = new TestClock();
  // Sessions expire one hour after the fake clock's epoch; responses stay open until told.
  await using upstream = new ScriptedUpstream({
    created: () => false,
    onEvent: (connection, event) => {
      if (event.type === "session.update") {
        connection.send({ type: "session.updated", session: {} });
      }
      if (event.type === "response.create") {
        connection.send({
          type: "response.created",
          response: { id: "resp_1", status: "in_progress", conversation_id: "conv_1", output: [] },
        });
      }
    },
  });
  const { bridge, leg, failures } = bridgeFor(upstream.url, { clock });
  leg.onAny = () => clock.wake();
  await using _bridge = bridge;
  bridge.start();
  const first = await upstream.accepted(1);
  first.send({ type: "session.created", session: { expires_at: HOUR_S } });
  await leg.next("session.ready");
  bridge.sendUserText("hello");
  bridge.requestResponse();
  await leg.next("response.started");

  await t.step("not while a response is under way", async () => {
    // The window opens 5 minutes before the expiry.
    clock.tick(55 * 60_000);
    for (let i = 0; i < 5; i++) clock.tick(200);
    await upstream.received(0, (e) => e.type === "response.create");
    assert.equal(upstream.connections.length, 1);
    assert.equal(bridge.stats.recycles, 0);
  });

  await t.step("once quiet: a new session, configured, with the history replayed", async () => {
    reply(first, "resp_1", "Hi there");
    await leg.next("response.done");
    clock.tick(200);
    const second = await upstream.accepted(2);
    second.send({ type: "session.created", session: { expires_at: 2 * HOUR_S } });
    await upstream.received(1, (e) => e.type === "session.update");
    await clock.until(() => bridge.stats.recycles === 1, "the recycle");
    assert.deepEqual(texts(second), ["hello", "Hi there"]);
    assert.equal(bridge.stats.reconnects, 0);
    assert.deepEqual(failures, []);
    assert.ok(bridge.ready);
  });

  await t.step("the call goes on in the new session, and the leg saw nothing", async () => {
    bridge.appendAudio("AAAA");
    await upstream.received(1, (e) => e.type === "input_audio_buffer.append");
    assert.equal(
      upstream.connections[0]!.received.filter((e) => e.type === "input_audio_buffer.append")
        .length,
      0,
    );
    assert.equal(leg.events("session.ready").length, 1, "the leg saw no reconnect");
  });
});

Deno.test("Bridge takes a session_expired error as a lost session, not a failed call", async () => {
  let expire = true;
  await using upstream = new ScriptedUpstream({
    onEvent: (connection, event) => {
      if (event.type !== "session.update") return;
      connection.send({ type: "session.updated", session: {} });
      if (expire) {
        expire = false;
        connection.send({
          type: "error",
          error: {
            type: "invalid_request_error",
            code: "session_expired",
            message: "Your session hit the maximum duration of 60 minutes.",
          },
        });
      }
    },
  });
  const { bridge, leg, failures } = bridgeFor(upstream.url);
  await using _bridge = bridge;
  bridge.start();
  await leg.next("session.ready", 2);
  assert.deepEqual(failures, []);
  assert.equal(bridge.stats.reconnects, 1);
  assert.equal(upstream.connections.length, 2);
});

Deno.test("a call on the local engine outlives the engine's session limit", async () => {
  // Sessions of 2 s (expires_at in whole seconds, so 1–2 s of lifetime): the call recycles.
  await using engine = startTestEngine({ maxSessionMs: 2000 });
  const { bridge, leg, failures } = bridgeFor(engine.url);
  await using _bridge = bridge;
  bridge.start();
  await leg.next("session.ready");
  bridge.sendUserText("hello");
  bridge.requestResponse();
  await leg.next("response.done");
  // Nothing reaches the leg when it happens: look every 20 ms.
  const poll = setInterval(() => leg.wake(), 20);
  try {
    await leg.until(() => bridge.stats.recycles >= 1, "a recycle");
  } finally {
    clearInterval(poll);
  }
  bridge.sendUserText("still there?");
  bridge.requestResponse();
  const done = await leg.next("response.done", 2);
  assert.equal(done.status, "completed");
  assert.deepEqual(failures, []);
  assert.equal(bridge.stats.reconnects, 0, "moved over before the engine closed the session");
  assert.deepEqual(leg.events("response.transcript.done").map((e) => e.text), [
    "You said: “hello”",
    "You said: “still there?”",
  ]);
});
