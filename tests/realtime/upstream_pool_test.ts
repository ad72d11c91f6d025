import assert from "node:assert/strict";
import { systemClock } from "../../src/core/clock.ts";
import { silentLogger } from "../../src/core/logger.ts";
import { sessionExpiry, UpstreamPool } from "../../src/realtime/upstream_pool.ts";
import type { UpstreamPoolOptions } from "../../src/realtime/upstream_pool.ts";
import { Bridge } from "../../src/bridge/bridge.ts";
import { startTestEngine } from "../local/engine_helpers.ts";
import {
  closedPort,
  RecordingLeg,
  ScriptedUpstream,
  SESSION,
  Signal,
  TestClock,
} from "../bridge/helpers.ts";

function poolFor(url: string, options: Partial<UpstreamPoolOptions> = {}): UpstreamPool {
  return new UpstreamPool({
    size: 2,
    upstream: () => ({ url, model: "gpt-realtime" }),
    session: SESSION,
    clock: systemClock,
    log: silentLogger(),
    ...options,
  });
}

/** Polls `check` on the event loop (socket events wake nothing here) for up to 5 s. */
async function until(check: () => boolean, what: string): Promise<void> {
  const signal = new Signal();
  const timer = setInterval(() => signal.wake(), 5);
  try {
    await signal.until(check, what);
  } finally {
    clearInterval(timer);
  }
}

Deno.test("sessionExpiry() reads expires_at, else assumes the lifetime", () => {
  const clock = { ...systemClock, now: () => 1_000_000, monotonic: () => 500 };
  assert.equal(sessionExpiry({ expires_at: 1060 }, clock, { openedAt: 400 }), 60_500);
  assert.equal(sessionExpiry({}, clock, { openedAt: 400, fallbackMs: 1000 }), 1400);
  assert.equal(sessionExpiry({ expires_at: null }, clock, { openedAt: 0 }), 3_600_000);
});

Deno.test("UpstreamPool keeps sessions ready, configured, and replaces one taken", async () => {
  await using upstream = new ScriptedUpstream();
  await using pool = poolFor(upstream.url);
  assert.equal(pool.size, 0, "nothing opens before start()");
  pool.start();
  await until(() => pool.ready === 2, "2 ready sessions");
  for (const connection of upstream.connections) {
    const update = connection.received.find((e) => e.type === "session.update");
    const audio = (update?.session as { audio: { input: { format: { type: string } } } }).audio;
    assert.equal(audio.input.format.type, "audio/pcmu");
  }
  const taken = pool.take();
  assert.ok(taken);
  assert.equal(taken.upstream.state, "open");
  assert.equal(pool.ready, 1);
  await until(() => pool.ready === 2, "the replacement");
  assert.equal(upstream.connections.length, 3);
  assert.deepEqual(pool.stats, { opened: 3, taken: 1, missed: 0, failed: 0, refreshed: 0 });
  taken.upstream.close();
  await taken.upstream.closed;
});

Deno.test("UpstreamPool replaces a session once half its lifetime passed", async () => {
  const clock = new TestClock();
  await using upstream = new ScriptedUpstream();
  // No expires_at from this upstream: the assumed lifetime (10 s) counts.
  await using pool = poolFor(upstream.url, { size: 1, clock, sessionMs: 10_000 });
  pool.start();
  await until(() => pool.ready === 1, "a ready session");
  clock.tick(4999);
  assert.equal(pool.stats.refreshed, 0);
  clock.tick(1);
  assert.equal(pool.stats.refreshed, 1);
  await until(() => pool.ready === 1, "its replacement");
  assert.equal(upstream.connections.length, 2);
});

Deno.test("UpstreamPool backs off while the upstream refuses, and take() misses", async () => {
  const clock = new TestClock();
  await using pool = poolFor(`ws://127.0.0.1:${closedPort()}/v1/realtime`, { size: 1, clock });
  pool.start();
  await until(() => pool.stats.failed === 1, "a failed open");
  assert.equal(pool.take(), undefined);
  assert.equal(pool.stats.missed, 1);
  assert.ok(clock.armed.includes(500), "retry after 500 ms");
  clock.tick(500);
  await until(() => pool.stats.failed === 2, "a second failed open");
  assert.ok(clock.armed.includes(1000), "then after 1000 ms");
});

Deno.test("UpstreamPool.close() closes every pooled session", async () => {
  await using upstream = new ScriptedUpstream();
  const pool = poolFor(upstream.url, { size: 3 });
  pool.start();
  await until(() => pool.ready === 3, "3 ready sessions");
  await pool.close();
  assert.equal(pool.take(), undefined);
  assert.equal(pool.size, 0);
});

Deno.test("Bridge takes a warm session and re-configures it for the call", async () => {
  await using engine = startTestEngine({ handshakeDelayMs: 20 });
  await using pool = poolFor(engine.url, { size: 1 });
  pool.start();
  await until(() => pool.ready === 1, "a warm session");
  const leg = new RecordingLeg();
  await using bridge = new Bridge({
    upstream: { url: engine.url, model: "gpt-realtime" },
    session: { ...SESSION, format: { type: "audio/pcm", rate: 24000 }, instructions: "B" },
    upstreamBytesPerMs: 48,
    clock: systemClock,
    log: silentLogger(),
    leg,
    pool,
  });
  bridge.start();
  await leg.next("session.ready");
  assert.equal(bridge.stats.warm, 1);
  assert.equal(bridge.stats.attempts, 1);
  assert.equal(bridge.session.instructions, "B");
  bridge.sendUserText("hello");
  bridge.requestResponse();
  const done = await leg.next("response.done");
  assert.equal(done.status, "completed");
  assert.ok(leg.calls.some((c) => c.kind === "play"));
  assert.equal(engine.engine.sessions, 2, "the call's session and the pool's replacement");
});
