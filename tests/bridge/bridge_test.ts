import { recordingLogger } from "../user/recording_log.ts";
import assert from "node:assert/strict";
import { Bridge } from "../../src/bridge/bridge.ts";
import type { BridgeOptions } from "../../src/bridge/bridge.ts";
import { systemClock } from "../../src/core/clock.ts";
import { silentLogger } from "../../src/core/logger.ts";
import { startTestEngine } from "../local/engine_helpers.ts";
import {
  burstResponse,
  closedPort,
  RecordingLeg,
  ScriptedUpstream,
  SESSION,
  TestClock,
} from "./helpers.ts";
import type { Event } from "./helpers.ts";

/** A Bridge with test defaults; `failures` collects onFailed reasons. */
function bridgeFor(
  url: string,
  options: Partial<BridgeOptions> & { leg?: RecordingLeg } = {},
): { bridge: Bridge; leg: RecordingLeg; failures: string[] } {
  const leg = options.leg ?? new RecordingLeg();
  const clock = options.clock;
  if (clock instanceof TestClock) leg.onAny = () => clock.wake();
  const failures: string[] = [];
  const bridge = new Bridge({
    upstream: { url, model: "gpt-realtime" },
    session: SESSION,
    upstreamBytesPerMs: 8,
    clock: systemClock,
    log: silentLogger(),
    onFailed: (reason) => {
      failures.push(reason);
      leg.wake();
    },
    ...options,
    leg,
  });
  return { bridge, leg, failures };
}

/**
 * Steps a fake clock through a backoff: fires each retry timer (delay ≤ `maxRetryMs`) as soon as
 * it is armed, until `done()` holds or `untilMs` of fake time passed. Returns the delays fired.
 */
async function stepRetries(
  clock: TestClock,
  done: () => boolean,
  { maxRetryMs = 1000, untilMs = Infinity } = {},
): Promise<number[]> {
  const delays: number[] = [];
  let seen = clock.armed.length;
  let elapsed = 0;
  while (elapsed < untilMs) {
    let index = -1;
    await clock.until(() => {
      if (done()) return true;
      index = clock.armed.findIndex((ms, i) => i >= seen && ms <= maxRetryMs);
      return index >= 0;
    }, "a retry timer or the end");
    if (index < 0) break;
    seen = index + 1;
    const ms = clock.armed[index]!;
    delays.push(ms);
    elapsed += ms;
    clock.tick(ms);
  }
  return delays;
}

Deno.test("Bridge gives every client event an event_id, except the audio append", async () => {
  await using upstream = new ScriptedUpstream();
  const { bridge, leg } = bridgeFor(upstream.url);
  await using _bridge = bridge;
  bridge.start();
  await leg.next("session.ready");
  bridge.appendAudio("AAAA");
  bridge.sendUserText("hi");
  bridge.requestResponse();
  bridge.commitAudio();
  await upstream.received(0, (e) => e.type === "input_audio_buffer.commit");
  const received = upstream.connections[0]!.received;
  assert.deepEqual(received.map((e) => e.type), [
    "session.update",
    "input_audio_buffer.append",
    "conversation.item.create",
    "response.create",
    "input_audio_buffer.commit",
  ]);
  const ids = received.filter((e) => e.type !== "input_audio_buffer.append").map((e) => e.event_id);
  for (const id of ids) assert.match(String(id), /^evt_\d+$/);
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual(received[1], { type: "input_audio_buffer.append", audio: "AAAA" });
  // noise_reduction is omitted, never null.
  const input = ((received[0]!.session as Event).audio as { input: Event }).input;
  assert.ok(!("noise_reduction" in input));
});

Deno.test("Bridge maps an upstream error's event_id back to the event type that caused it", async () => {
  await using upstream = new ScriptedUpstream({
    onEvent: (connection, event) => {
      if (event.type === "session.update") {
        connection.send({ type: "session.updated", session: {} });
      }
      if (event.type === "conversation.item.create") {
        connection.send({
          type: "error",
          error: {
            type: "invalid_request_error",
            code: "invalid_value",
            message: "Invalid item",
            param: null,
            event_id: event.event_id,
          },
        });
        connection.send({
          type: "error",
          error: { type: "server_error", code: null, message: "Who knows", event_id: "evt_999" },
        });
      }
    },
  });
  const { bridge, leg } = bridgeFor(upstream.url);
  await using _bridge = bridge;
  bridge.start();
  await leg.next("session.ready");
  bridge.sendUserText("hi");
  await leg.next("error", 2);
  assert.deepEqual(leg.events("error"), [
    {
      type: "error",
      code: "invalid_value",
      message: "Invalid item",
      eventType: "conversation.item.create",
    },
    { type: "error", code: "server_error", message: "Who knows" },
  ]);
  assert.equal(bridge.closed, false);
});

Deno.test("Bridge.updateSession() takes effect only on the matching session.updated", async (t) => {
  /** An error the leg hears after the events before it were handled. */
  const marker = { type: "error", error: { type: "server_error", code: "marker", message: "" } };
  await using upstream = new ScriptedUpstream({
    onEvent: (connection, event) => {
      if (event.type !== "session.update") return;
      const instructions = (event.session as Event).instructions;
      if (instructions === "B") return; // confirmed by the test
      if (instructions === "C") {
        connection.send({
          type: "error",
          error: {
            type: "invalid_request_error",
            code: "invalid_value",
            message: "Refused",
            event_id: event.event_id,
          },
        });
      } else connection.send({ type: "session.updated", session: {} });
    },
  });
  const { bridge, leg } = bridgeFor(upstream.url);
  await using _bridge = bridge;
  bridge.start();
  await leg.next("session.ready");

  await t.step("the change waits for its confirmation", async () => {
    bridge.updateSession({ instructions: "B" });
    await upstream.received(0, (e) => (e.session as Event | undefined)?.instructions === "B");
    assert.equal(bridge.session.instructions, "A");
    upstream.connections[0]!.send({ type: "session.updated", session: {} });
    upstream.connections[0]!.send(marker);
    await leg.next("error");
    assert.equal(bridge.session.instructions, "B");
  });

  await t.step("a refused change is dropped and the leg is told", async () => {
    bridge.updateSession({ instructions: "C" });
    const error = await leg.next("error", 2);
    assert.deepEqual(error, {
      type: "error",
      code: "invalid_value",
      message: "Refused",
      eventType: "session.update",
    });
    assert.equal(bridge.session.instructions, "B");
  });

  await t.step("a reconnect configures the confirmed session", async () => {
    upstream.connections[0]!.close(1011, "restart");
    const update = await upstream.received(1, (e) => e.type === "session.update");
    assert.equal((update.session as Event).instructions, "B");
  });
});

Deno.test("a closed Bridge ignores upstream deltas already queued on its socket", async () => {
  await using upstream = new ScriptedUpstream({
    onEvent: (connection, event) => {
      if (event.type === "session.update") {
        connection.send({ type: "session.updated", session: {} });
      }
      if (event.type === "response.create") burstResponse(connection, "resp_1", 20);
    },
  });
  const { bridge, leg, failures } = bridgeFor(upstream.url);
  await using _bridge = bridge;
  // The known crash: the leg closes (and frees its resampler) on the first delta while the
  // rest of the burst is already queued on the socket.
  leg.onPlay = () => bridge.close();
  bridge.start();
  await leg.next("session.ready");
  const before = leg.calls.length;
  bridge.requestResponse();
  await leg.until((calls) => calls.some((c) => c.kind === "play"), "the first delta");
  // Once the socket is closed, every frame before the server's close reply was read (and
  // ignored): the whole burst.
  await bridge[Symbol.asyncDispose]();
  const after = leg.calls.slice(before);
  assert.deepEqual(after.map((c) => c.kind === "notify" ? c.event.type : c.kind), [
    "response.started",
    "play",
  ]);
  assert.deepEqual(failures, []);
  assert.equal(bridge.closed, true);
  // Nothing a closed Bridge is asked to do reaches the leg or the upstream.
  bridge.requestResponse();
  bridge.appendAudio("AAAA");
  assert.equal(bridge.interrupt(), undefined);
  assert.equal(leg.calls.length, before + 2);
});

Deno.test("a leg that throws fails its call, not the process", async (t) => {
  const cases = [
    {
      name: "playAudio throws",
      arm: (leg: RecordingLeg) => {
        leg.onPlay = () => {
          throw new TypeError("Cannot read properties of undefined (reading 'process')");
        };
      },
      reason: "internal error: TypeError while handling response.output_audio.delta",
      stack: /TypeError: Cannot read properties of undefined/,
    },
    {
      name: "notify throws on response.started",
      arm: (leg: RecordingLeg) => {
        leg.onNotify = (event) => {
          if (event.type === "response.started") throw new RangeError("Bad state");
        };
      },
      reason: "internal error: RangeError while handling response.created",
      stack: /RangeError: Bad state/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await using upstream = new ScriptedUpstream({
        onEvent: (connection, event) => {
          if (event.type === "session.update") {
            connection.send({ type: "session.updated", session: {} });
          }
          if (event.type === "response.create") burstResponse(connection, "resp_1", 10);
        },
      });
      const { log, entries: records } = recordingLogger();
      const { bridge, leg, failures } = bridgeFor(upstream.url, { log });
      await using _bridge = bridge;
      bridge.start();
      await leg.next("session.ready");
      c.arm(leg);
      bridge.requestResponse();
      await leg.until(() => failures.length > 0, "the failure");
      // Every frame of the burst was read by the time the socket is closed.
      await bridge[Symbol.asyncDispose]();
      assert.deepEqual(failures, [c.reason]);
      assert.equal(bridge.closed, true);
      assert.equal(bridge.failed, true);
      assert.ok(leg.calls.filter((call) => call.kind === "play").length <= 1);
      const error = records.find((r) => r.level === "error" && r.fields.err !== undefined);
      assert.match(String(error?.fields.err), c.stack);
    });
  }
});

Deno.test("Bridge survives an upstream down for 1.5 s and asks again for the lost reply", async () => {
  const clock = new TestClock();
  // The first engine never finishes a reply: it is lost when that engine goes away.
  await using first = startTestEngine({ scenario: () => ({ delayMs: 60_000 }) });
  const port = first.port;
  const { bridge, leg, failures } = bridgeFor(first.url, { clock, random: () => 0.999 });
  await using _bridge = bridge;
  bridge.start();
  await leg.next("session.ready");
  bridge.sendUserText("hello");
  bridge.requestResponse();
  const lost = await leg.next("response.started");
  await first.close();
  const failed = await leg.next("response.done");
  assert.deepEqual(failed, {
    type: "response.done",
    responseId: lost.responseId,
    status: "failed",
    usage: undefined,
  });
  // Down for 1.5 s (fake time): every attempt is refused, with backoff.
  const delays = await stepRetries(clock, () => failures.length > 0, { untilMs: 1500 });
  assert.deepEqual(delays, [99, 199, 399, 799, 999]);
  // Back up on the same port: the next attempt gets through.
  await using _second = startTestEngine({ hostname: "127.0.0.1", port });
  await stepRetries(clock, () => leg.events("session.ready").length === 2);
  // The history was replayed and the lost reply asked for again.
  const done = await leg.next("response.done", 2);
  assert.equal(done.status, "completed");
  assert.deepEqual(leg.events("response.transcript.done").map((e) => e.text), [
    "You said: “hello”",
  ]);
  assert.deepEqual(failures, []);
  assert.equal(bridge.stats.reconnects, 1);
  assert.equal(bridge.stats.resumedResponses, 1);
  assert.ok(leg.calls.some((c) => c.kind === "play"));
});

Deno.test("a reply cancelled by barge-in is not asked for again after a reconnect", async () => {
  await using upstream = new ScriptedUpstream({
    onEvent: (connection, event) => {
      if (event.type === "session.update") {
        connection.send({ type: "session.updated", session: {} });
      }
      if (event.type === "response.create" && connection.index === 0) {
        connection.send({
          type: "response.created",
          response: { id: "resp_1", status: "in_progress", conversation_id: "conv_1" },
        });
      }
    },
  });
  const { bridge, leg } = bridgeFor(upstream.url);
  await using _bridge = bridge;
  bridge.start();
  await leg.next("session.ready");
  bridge.requestResponse();
  await leg.next("response.started");
  bridge.interrupt();
  await upstream.received(0, (e) => e.type === "response.cancel");
  upstream.connections[0]!.close(1011, "restart");
  await leg.next("session.ready", 2);
  // A marker: had a response.create been sent on connect, it would arrive before this.
  bridge.commitAudio();
  await upstream.received(1, (e) => e.type === "input_audio_buffer.commit");
  assert.ok(!upstream.connections[1]!.received.some((e) => e.type === "response.create"));
  assert.equal(bridge.stats.resumedResponses, 0);
});

Deno.test("Bridge gives up after the reconnect window and names the cause", async (t) => {
  await t.step("refused, with backoff and full jitter", async () => {
    const clock = new TestClock();
    const { bridge, failures } = bridgeFor(`ws://127.0.0.1:${closedPort()}/v1/realtime`, {
      clock,
      random: () => 0.999,
      reconnectWindowMs: 1000,
    });
    await using _bridge = bridge;
    bridge.start();
    const delays = await stepRetries(clock, () => failures.length > 0);
    assert.deepEqual(failures, ["upstream refused the connection"]);
    // Ceilings 100, 200, 400, 800 (cut to what is left of the window).
    assert.deepEqual(delays, [99, 199, 399, 303]);
    assert.equal(bridge.stats.attempts, 5);
  });

  await t.step("HTTP 503 is retried, then named", async () => {
    const clock = new TestClock();
    await using upstream = new ScriptedUpstream({
      refuse: () => new Response("busy", { status: 503 }),
    });
    const { bridge, failures } = bridgeFor(upstream.url, {
      clock,
      random: () => 0.5,
      reconnectWindowMs: 300,
    });
    await using _bridge = bridge;
    bridge.start();
    await stepRetries(clock, () => failures.length > 0);
    assert.deepEqual(failures, ["upstream answered HTTP 503"]);
    assert.ok(bridge.stats.attempts > 1);
  });

  for (const client of ["ws", "native"] as const) {
    await t.step(`HTTP 401 ends the call at once (${client} client)`, async () => {
      await using engine = startTestEngine({ apiKey: "sk-right" });
      const { bridge, failures, leg } = bridgeFor(engine.url, {
        upstream: { url: engine.url, model: "gpt-realtime", apiKey: "sk-wrong", client },
      });
      await using _bridge = bridge;
      bridge.start();
      await leg.until(() => failures.length > 0, "the failure");
      assert.deepEqual(failures, ["upstream answered HTTP 401"]);
      assert.equal(bridge.stats.attempts, 1);
    });
  }

  await t.step("refused, native client", async () => {
    const url = `ws://127.0.0.1:${closedPort()}/v1/realtime`;
    const { bridge, failures, leg } = bridgeFor(url, {
      upstream: { url, model: "gpt-realtime", client: "native" },
      reconnectWindowMs: 0,
    });
    await using _bridge = bridge;
    bridge.start();
    await leg.until(() => failures.length > 0, "the failure");
    // Deno's client does not tell a refusal from other TCP failures.
    assert.deepEqual(failures, ["upstream could not be reached (tcp connect error)"]);
  });

  await t.step("a close code before the session is ready", async () => {
    const clock = new TestClock();
    await using upstream = new ScriptedUpstream({
      onEvent: (connection) => connection.close(1011, "overloaded"),
    });
    const { bridge, failures } = bridgeFor(upstream.url, {
      clock,
      random: () => 0.5,
      reconnectWindowMs: 200,
    });
    await using _bridge = bridge;
    bridge.start();
    await stepRetries(clock, () => failures.length > 0);
    assert.deepEqual(failures, ["upstream closed with code 1011 (overloaded)"]);
  });

  await t.step("a lost session with no reconnect window", async () => {
    await using upstream = new ScriptedUpstream();
    const { bridge, failures, leg } = bridgeFor(upstream.url, { reconnectWindowMs: 0 });
    await using _bridge = bridge;
    bridge.start();
    await leg.next("session.ready");
    upstream.connections[0]!.close(1011, "bye");
    await leg.until(() => failures.length > 0, "the failure");
    assert.deepEqual(failures, ["upstream closed with code 1011 (bye)"]);
    assert.equal(bridge.stats.attempts, 1);
  });

  await t.step("no session.created within connectTimeoutMs", async () => {
    const clock = new TestClock();
    await using upstream = new ScriptedUpstream({ created: () => false, onEvent: () => {} });
    const { bridge, failures } = bridgeFor(upstream.url, {
      clock,
      reconnectWindowMs: 0,
      connectTimeoutMs: 3000,
    });
    await using _bridge = bridge;
    bridge.start();
    await upstream.received(0, (e) => e.type === "session.update");
    assert.deepEqual(clock.armed, [3000]);
    clock.tick(3000);
    assert.deepEqual(failures, ["upstream connect timed out"]);
  });
});

Deno.test("Bridge keeps its replay history bounded", async (t) => {
  const cases = [
    { name: "defaults", options: {}, turns: 50, chars: 32_000 },
    { name: "custom", options: { maxHistoryTurns: 3, maxHistoryChars: 100 }, turns: 3, chars: 100 },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await using upstream = new ScriptedUpstream();
      const { bridge, leg } = bridgeFor(upstream.url, c.options);
      await using _bridge = bridge;
      bridge.start();
      await leg.next("session.ready");
      for (let i = 0; i < 10_000; i++) bridge.sendUserText(`text ${i}`);
      assert.equal(bridge.historySize.turns, c.turns);
      for (let i = 0; i < 20; i++) bridge.sendUserText("x".repeat(9000));
      assert.ok(bridge.historySize.chars <= c.chars, `${bridge.historySize.chars} chars`);
      assert.ok(bridge.historySize.turns <= c.turns);
      // A reconnect replays what is left, each entry capped.
      upstream.connections[0]!.close(1011, "restart");
      await leg.next("session.ready", 2);
      // A marker: the replay went out before it.
      bridge.commitAudio();
      await upstream.received(1, (e) => e.type === "input_audio_buffer.commit");
      const replayed = upstream.connections[1]!.received.filter((e) =>
        e.type === "conversation.item.create"
      );
      assert.equal(replayed.length, bridge.historySize.turns);
      for (const e of replayed) {
        const text = ((e.item as Event).content as Event[])[0]!.text as string;
        assert.ok(text.length <= Math.min(4000, c.chars));
      }
    });
  }
});

Deno.test("Bridge runs a call end to end with either WebSocket client", async (t) => {
  for (const client of ["ws", "native"] as const) {
    await t.step(client, async () => {
      await using engine = startTestEngine();
      const { bridge, leg } = bridgeFor(engine.url, {
        upstream: { url: engine.url, model: "gpt-realtime", client },
      });
      await using _bridge = bridge;
      bridge.start();
      await leg.next("session.ready");
      bridge.sendUserText("hi");
      bridge.requestResponse();
      const done = await leg.next("response.done");
      assert.equal(done.status, "completed");
      assert.ok(leg.calls.some((c) => c.kind === "play"));
    });
  }
});

Deno.test("Bridge bounds the events that wait for an upstream that is not ready", async () => {
  // The upstream accepts the socket but never answers session.update: nothing may go out.
  await using upstream = new ScriptedUpstream({ onEvent: () => {} });
  const { bridge } = bridgeFor(upstream.url);
  await using _bridge = bridge;
  bridge.start();
  for (let i = 0; i < 10_000; i++) bridge.sendUserText(`text ${i}`);
  assert.equal(bridge.stats.droppedPending, 10_000 - 256);
  assert.equal(bridge.historySize.turns, 0, "texts not sent are not history yet");
});

Deno.test("Bridge replays a given history to its first session, within the bounds", async () => {
  await using upstream = new ScriptedUpstream();
  const history = Array.from({ length: 60 }, (_, i) => ({
    role: i % 2 === 0 ? "user" as const : "assistant" as const,
    text: `turn ${i}`,
  }));
  const { bridge, leg } = bridgeFor(upstream.url, { history });
  await using _bridge = bridge;
  assert.equal(bridge.history.length, 50);
  assert.equal(bridge.history[0]?.text, "turn 10");
  bridge.start();
  await leg.next("session.ready");
  bridge.commitAudio();
  await upstream.received(0, (e) => e.type === "input_audio_buffer.commit");
  const replayed = upstream.connections[0]!.received.filter((e) =>
    e.type === "conversation.item.create"
  );
  assert.deepEqual(
    replayed.map((e) => ((e.item as Event).content as Event[])[0]!.text),
    history.slice(10).map((h) => h.text),
  );
});
