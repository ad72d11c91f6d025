/**
 * The warm upstream and long calls, through the whole gateway: a phone call takes a pooled
 * session (its greeting no longer waits for the connection setup), and a call outlives the
 * engine's session limit without being cut.
 */
import assert from "node:assert/strict";
import { JsonSocket, startTestApp, TIMEOUT_SCALE, wsUrl } from "../helpers.ts";
import type { App } from "../../src/app.ts";

async function health(app: App): Promise<Record<string, unknown>> {
  return await (await fetch(`${app.url}/health`)).json();
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000 * TIMEOUT_SCALE;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Places a µ-law call and sends `start`; resolves with the socket. */
function placeCall(app: App, conversationId: string): JsonSocket {
  const vaic = new JsonSocket(wsUrl(app, "/ws"));
  vaic.send({
    type: "session.initiate",
    conversationId,
    expectAudioMessages: true,
    supportedMediaFormats: ["raw/mulaw"],
    botName: "test",
    caller: "+15550001",
  });
  vaic.send({
    type: "activities",
    conversationId,
    activities: [{ type: "event", name: "start", id: "a1", timestamp: new Date().toISOString() }],
  });
  return vaic;
}

Deno.test("a phone call takes a warm upstream session: the greeting skips the setup", async () => {
  const handshakeDelayMs = 600;
  await using app = await startTestApp(
    { UPSTREAM_POOL_SIZE: "2", GREETING: "true" },
    { engine: { handshakeDelayMs } },
  );
  const pool = async () => (await health(app)).upstreamPool as Record<string, number>;
  await until(async () => (await pool()).ready === 2, "2 warm sessions");
  const started = performance.now();
  await using vaic = placeCall(app, "warm-1");
  await vaic.next("session.accepted");
  await vaic.next("playStream.start");
  const greetingMs = performance.now() - started;
  assert.ok(
    greetingMs < handshakeDelayMs,
    `greeting after ${greetingMs.toFixed(0)} ms, within the ${handshakeDelayMs} ms setup`,
  );
  assert.equal((await pool()).taken, 1);
  vaic.send({ type: "session.end", conversationId: "warm-1", reasonCode: "normal" });
  await vaic.closed;
});

Deno.test("a phone call outlives the engine's session limit (recycled, not cut)", async () => {
  await using app = await startTestApp({
    UPSTREAM_POOL_SIZE: "1",
    GREETING: "true",
    ENGINE_MAX_SESSION_MS: "2000",
    DTMF_MODE: "digit",
  });
  await using vaic = placeCall(app, "long-1");
  await vaic.next("session.accepted");
  await vaic.next("playStream.stop", 10_000);
  // Past the engine's limit: the first session is over by now.
  await new Promise((resolve) => setTimeout(resolve, 2500));
  vaic.send({
    type: "activities",
    conversationId: "long-1",
    activities: [{ type: "event", name: "DTMF", value: "5", id: "a2" }],
  });
  await vaic.next("playStream.start", 10_000);
  await vaic.next("playStream.stop", 10_000);
  const metrics = await (await fetch(`${app.url}/metrics`)).text();
  assert.match(metrics, /voicegw_calls_active(\{[^}]*\})? 1/);
  assert.doesNotMatch(metrics, /voicegw_upstream_reconnects_total\{[^}]*\} [1-9]/);
  assert.equal(vaic.received.filter((m) => m.type === "activities").length, 0, "no hangup");
  vaic.send({ type: "session.end", conversationId: "long-1", reasonCode: "normal" });
  await vaic.closed;
});
