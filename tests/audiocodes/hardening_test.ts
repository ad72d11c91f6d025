/**
 * The AudioCodes route as an attacker and a busy contact centre see it: bounded identifiers,
 * log volume, stored events, sockets and message rates; no takeover of a live call; an internal
 * error ends one call only.
 */
import assert from "node:assert/strict";
import type { AgentFactory, CallAgent } from "../../src/audiocodes/conversation.ts";
import { createLogger } from "../../src/core/logger.ts";
import type { Logger } from "../../src/core/logger.ts";
import { JsonSocket, startTestApp, wsUrl } from "../helpers.ts";
import { recordingAgents } from "./recording_agent.ts";

function initiate(id: string, extra: Record<string, unknown> = {}) {
  return {
    type: "session.initiate",
    conversationId: id,
    expectAudioMessages: true,
    supportedMediaFormats: ["raw/mulaw"],
    ...extra,
  };
}

/** A logger that keeps every JSON line it is given, and counts their bytes. */
function capturingLogger(): { log: Logger; lines: string[]; bytes: () => number } {
  const lines: string[] = [];
  const log = createLogger("debug", { write: (line) => lines.push(line) });
  return { log, lines, bytes: () => lines.reduce((n, l) => n + l.length + 1, 0) };
}

async function opened(socket: JsonSocket): Promise<void> {
  await socket.opened;
}

Deno.test("session.initiate with an identifier over MAX_ID_CHARS is declined, and the log stays small", async (t) => {
  const { log, bytes, lines } = capturingLogger();
  const { agents, calls } = recordingAgents();
  await using app = await startTestApp({ LOG_LEVEL: "debug" }, { agents, log });
  const huge = "x".repeat(512 * 1024);
  for (
    const [name, message] of [
      ["conversationId", initiate(huge)],
      ["caller", initiate("call-1", { caller: huge })],
      ["botName", initiate("call-2", { botName: "b".repeat(129) })],
    ] as const
  ) {
    await t.step(name, async () => {
      const before = bytes();
      await using vaic = new JsonSocket(wsUrl(app, "/ws"));
      vaic.send(message);
      const error = await vaic.next("session.error");
      assert.equal(error.reason, `Cannot accept call: ${name} is longer than 128 characters`);
      assert.equal(error.conversationId, undefined);
      // 200 unknown frames whose type is itself huge: rate-limited, cut lines.
      for (let i = 0; i < 200; i++) vaic.send({ type: `unknown-${huge}` });
      await vaic.closed;
      assert.ok(bytes() - before < 8 * 1024, `log grew by ${bytes() - before} bytes`);
    });
  }
  assert.equal(calls.size, 0);
  assert.ok(lines.every((l) => l.length < 2048), "every log line is cut short");
});

Deno.test("100,000 bad frames on one socket: dropped over the rate, socket closed, log bounded", async () => {
  const { log, bytes } = capturingLogger();
  const { agents } = recordingAgents();
  await using app = await startTestApp({ LOG_LEVEL: "debug" }, { agents, log });
  await using flood = new JsonSocket(wsUrl(app, "/ws"));
  flood.send(initiate("flood-call"));
  await flood.next("session.accepted");
  const before = bytes();
  await opened(flood);
  for (let i = 0; i < 100_000 && flood.socket.readyState === WebSocket.OPEN; i++) {
    flood.socket.send(`{"type":"bogus-${i}"}`);
  }
  await flood.closed;
  // The server closed it (1008; the client may see the close as abnormal mid-send).
  assert.equal(app.gateway.manager.get("flood-call")?.phase, "detached");
  assert.ok(bytes() - before < 8 * 1024, `log grew by ${bytes() - before} bytes`);
  // The flooder's call waits for a resume like any dropped socket; the gateway still serves.
  assert.equal((await fetch(`${app.url}/health`).then((r) => r.json())).status, "ok");
});

Deno.test("a flood on one call does not stop another call's frames", async () => {
  const { agents, calls } = recordingAgents();
  await using app = await startTestApp({ AUDIOCODES_RATE_LIMIT: "100" }, { agents });
  await using calm = new JsonSocket(wsUrl(app, "/ws"));
  calm.send(initiate("calm-call"));
  await calm.next("session.accepted");
  calm.send({ type: "userStream.start" });
  await calm.next("userStream.started");
  await using flood = new JsonSocket(wsUrl(app, "/ws"));
  flood.send(initiate("flood-call"));
  await flood.next("session.accepted");
  for (let i = 0; i < 5_000 && flood.socket.readyState === WebSocket.OPEN; i++) {
    flood.socket.send(`{"type":"userStream.chunk","audioChunk":"AAAA"}`);
  }
  for (let i = 0; i < 10; i++) calm.send({ type: "userStream.chunk", audioChunk: "AAAA" });
  calm.send({ type: "connection.validate" });
  await calm.next("connection.validated");
  assert.equal(calls.get("calm-call")?.audio.length, 10);
  await flood.closed;
  assert.equal(app.gateway.manager.get("flood-call")?.phase, "detached");
  assert.ok(app.gateway.manager.get("flood-call")!.stats.rateDropped > 0);
});

Deno.test("a binary frame over MAX_FRAME_BYTES closes the socket with 1009", async () => {
  const { agents } = recordingAgents();
  await using app = await startTestApp({ MAX_FRAME_BYTES: "2048" }, { agents });
  await using vaic = new JsonSocket(wsUrl(app, "/ws"));
  vaic.send(initiate("bin-call"));
  await vaic.next("session.accepted");
  vaic.socket.send(new Uint8Array(100));
  vaic.send({ type: "connection.validate" });
  await vaic.next("connection.validated");
  vaic.socket.send(new Uint8Array(4096));
  assert.equal((await vaic.closed).code, 1009);
});

Deno.test("a /ws socket that carries no call within FIRST_MESSAGE_TIMEOUT_MS is closed", async () => {
  const { agents } = recordingAgents();
  await using app = await startTestApp({ FIRST_MESSAGE_TIMEOUT_MS: "150" }, { agents });
  await using idle = new JsonSocket(wsUrl(app, "/ws"));
  await using probing = new JsonSocket(wsUrl(app, "/ws"));
  probing.send({ type: "connection.validate" });
  await probing.next("connection.validated");
  await using calling = new JsonSocket(wsUrl(app, "/ws"));
  calling.send(initiate("timely-call"));
  await calling.next("session.accepted");
  assert.equal((await idle.closed).code, 1008);
  assert.equal((await probing.closed).code, 1008);
  assert.equal(calling.socket.readyState, WebSocket.OPEN);
});

Deno.test("MAX_CALLS and MAX_CONNECTIONS_PER_PEER refuse sockets before the upgrade", async (t) => {
  const { agents } = recordingAgents();
  await t.step("MAX_CALLS: 503", async () => {
    await using app = await startTestApp({ MAX_CALLS: "2" }, { agents });
    await using a = new JsonSocket(wsUrl(app, "/ws"));
    a.send(initiate("cap-a"));
    await a.next("session.accepted");
    await using b = new JsonSocket(wsUrl(app, "/ws"));
    await opened(b);
    const refused = await fetch(`${app.url}/ws`, {
      headers: {
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-version": "13",
      },
    });
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get("retry-after"), "1");
    await refused.body?.cancel();
  });
  await t.step("idle sockets per peer: 429; a socket carrying a call frees its place", async () => {
    await using app = await startTestApp({ MAX_CONNECTIONS_PER_PEER: "2" }, { agents });
    await using a = new JsonSocket(wsUrl(app, "/ws"));
    await using b = new JsonSocket(wsUrl(app, "/ws"));
    await Promise.all([opened(a), opened(b)]);
    const third = new JsonSocket(wsUrl(app, "/ws"));
    await assert.rejects(third.opened);
    await third.closed;
    a.send(initiate("peer-a"));
    await a.next("session.accepted");
    await using c = new JsonSocket(wsUrl(app, "/ws"));
    await opened(c);
  });
});

Deno.test("session.resume of a call whose socket is still open is refused; the owner keeps it", async () => {
  const { agents, calls } = recordingAgents();
  await using app = await startTestApp({}, { agents });
  await using owner = new JsonSocket(wsUrl(app, "/ws"));
  owner.send(initiate("owned-call"));
  await owner.next("session.accepted");
  await using thief = new JsonSocket(wsUrl(app, "/ws"));
  thief.send({ type: "session.resume", conversationId: "owned-call" });
  const error = await thief.next("session.error");
  assert.equal(error.reason, "Cannot resume call: its socket is still connected");
  await thief.closed;
  owner.send({ type: "userStream.start" });
  await owner.next("userStream.started");
  owner.send({ type: "userStream.chunk", audioChunk: "AAAA" });
  owner.send({ type: "connection.validate" });
  await owner.next("connection.validated");
  assert.equal(calls.get("owned-call")?.audio.length, 1);
  assert.equal(calls.get("owned-call")?.resumed, 0);
  assert.equal(owner.socket.readyState, WebSocket.OPEN);
});

Deno.test("a call with 10,000 activities keeps a bounded record", async () => {
  const { agents } = recordingAgents();
  await using app = await startTestApp({ AUDIOCODES_RATE_LIMIT: "100000" }, { agents });
  await using vaic = new JsonSocket(wsUrl(app, "/ws"));
  vaic.send(initiate("busy-call"));
  await vaic.next("session.accepted");
  const value = "v".repeat(900);
  for (let i = 0; i < 10_000; i++) {
    vaic.send({
      type: "activities",
      activities: [{ type: "event", name: `event-${i}`, value: { note: value, i } }],
    });
  }
  vaic.send({ type: "connection.validate" });
  await vaic.next("connection.validated", 30_000);
  const conversation = app.gateway.manager.get("busy-call")!;
  assert.equal(conversation.events.length, 200);
  assert.equal(conversation.eventsDropped, 9_800);
  assert.equal(conversation.events.at(-1)?.name, "event-9999");
  // What the record holds is a few dozen bytes an event, not the values sent.
  assert.ok(JSON.stringify(conversation.events).length < 200 * 160);
});

/** An agent whose `audio` throws on the first chunk; everything else is recorded. */
function failingAgents(
  failOn: "audio" | "timer",
): { agents: AgentFactory; closed: Map<string, string> } {
  const closed = new Map<string, string>();
  const agents: AgentFactory = (call): CallAgent => {
    const id = call.conversationId;
    return {
      audio: () => {
        if (failOn === "audio" && id.startsWith("bad")) throw new TypeError("boom in audio");
      },
      userStream: () => {},
      activity: () => {
        if (failOn === "timer" && id.startsWith("bad")) {
          call.clock.setTimeout(() => {
            throw new TypeError("boom in a timer");
          }, 1);
        }
      },
      detached: () => {},
      resumed: () => {},
      close: (reason) => {
        closed.set(id, reason);
        return Promise.resolve();
      },
    };
  };
  return { agents, closed };
}

Deno.test("an internal error in one call ends that call with a hangup; others go on", async (t) => {
  for (const failOn of ["audio", "timer"] as const) {
    await t.step(failOn, async () => {
      const { log, lines } = capturingLogger();
      const { agents, closed } = failingAgents(failOn);
      await using app = await startTestApp({}, { agents, log });
      await using good = new JsonSocket(wsUrl(app, "/ws"));
      good.send(initiate("good-call"));
      await good.next("session.accepted");
      await using bad = new JsonSocket(wsUrl(app, "/ws"));
      bad.send(initiate("bad-call"));
      await bad.next("session.accepted");
      bad.send({ type: "userStream.start" });
      if (failOn === "audio") bad.send({ type: "userStream.chunk", audioChunk: "AAAA" });
      else bad.send({ type: "activities", activities: [{ type: "event", name: "start" }] });
      const hangup = await bad.next("activities");
      assert.deepEqual(hangup.activities, [{
        type: "event",
        name: "hangup",
        activityParams: { hangupReason: "internal error" },
      }]);
      assert.equal(closed.get("bad-call"), "internal error");
      assert.equal(app.gateway.manager.get("bad-call"), undefined);
      assert.equal(app.gateway.manager.stats.internalErrors, 1);
      const logged = lines.map((l) => JSON.parse(l)).find((l) =>
        l.msg === "Ending call: internal error"
      );
      assert.match(logged?.err?.stack ?? "", /boom in/);
      good.send({ type: "connection.validate" });
      await good.next("connection.validated");
      assert.ok(app.gateway.manager.get("good-call"));
    });
  }
});

Deno.test("MAX_CALL_MS hangs up a call that runs too long", async () => {
  const { agents, calls } = recordingAgents();
  await using app = await startTestApp({ MAX_CALL_MS: "1000" }, { agents });
  await using vaic = new JsonSocket(wsUrl(app, "/ws"));
  vaic.send(initiate("long-call"));
  await vaic.next("session.accepted");
  const hangup = await vaic.next("activities");
  assert.deepEqual(hangup.activities, [{
    type: "event",
    name: "hangup",
    activityParams: { hangupReason: "maximum call duration reached" },
  }]);
  assert.equal(calls.get("long-call")?.closed, "maximum call duration reached");
});

Deno.test("the call summary logs counts, not transcripts or DTMF digits", async () => {
  const { log, lines } = capturingLogger();
  const { agents } = recordingAgents((call, activity) => {
    if (activity.name === "DTMF") call.handle.transcribe("caller", "my PIN is 4711");
  });
  await using app = await startTestApp({}, { agents, log });
  await using vaic = new JsonSocket(wsUrl(app, "/ws"));
  vaic.send(initiate("quiet-call"));
  await vaic.next("session.accepted");
  vaic.send({ type: "activities", activities: [{ type: "event", name: "DTMF", value: "4711#" }] });
  vaic.send({ type: "session.end", reasonCode: "client-disconnected" });
  await vaic.closed;
  const ended = lines.map((l) => JSON.parse(l)).find((l) => l.msg === "Call ended");
  assert.ok(ended);
  assert.equal(ended.callerTurns, 1);
  assert.equal(ended.transcript, undefined);
  assert.ok(lines.every((l) => !l.includes("4711")), "no digits or transcript in the log");
});
