import assert from "node:assert/strict";
import { JsonSocket, startTestApp, wsUrl } from "../helpers.ts";
import { recordingAgents } from "./recording_agent.ts";
import type { Conversation } from "../../src/audiocodes/conversation.ts";

const ID = "3f0a9c1e-0000-4000-8000-000000000002";
const ALL_FORMATS = ["raw/mulaw", "wav/mulaw", "raw/lpcm16_8", "raw/lpcm16", "raw/lpcm16_24"];
const SILENCE_16 = "AAAAAAAAAAAAAAAAAAAAAA==";
const SINE_16 = "AAD1CxgW3xxAH98cGBb1CwAAC/To6SHjwOAh4+jpC/Q=";

function initiate(id = ID, formats: string[] = ["raw/lpcm16"]) {
  return {
    type: "session.initiate",
    conversationId: id,
    botName: "support_agent",
    caller: "+14155550123",
    expectAudioMessages: true,
    supportedMediaFormats: formats,
  };
}

/** Sends a probe and returns every message that arrived before its answer. */
async function quietSince(socket: JsonSocket): Promise<Record<string, unknown>[]> {
  socket.send({ type: "connection.validate", conversationId: ID });
  await socket.next("connection.validated");
  return socket.drain();
}

function released(app: Awaited<ReturnType<typeof startTestApp>>): Promise<[Conversation, string]> {
  return new Promise((resolve) => {
    const off = app.gateway.manager.onRelease((c, reason) => {
      off();
      resolve([c, reason]);
    });
  });
}

Deno.test("GET /ws without upgrade answers the VAIC validation probe", async () => {
  await using app = await startTestApp();
  const response = await fetch(`${app.url}/ws`);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { type: "ac-bot-api", success: true });
});

Deno.test("GET /health reports status, upstream mode and active calls", async () => {
  const { agents } = recordingAgents();
  await using app = await startTestApp({}, { agents });
  await using vaic = new JsonSocket(wsUrl(app, "/ws"));
  vaic.send(initiate());
  await vaic.next("session.accepted");
  const health = await (await fetch(`${app.url}/health`)).json();
  assert.equal(health.status, "ok");
  assert.equal(health.upstream.mode, "local");
  assert.deepEqual(health.calls, {
    active: 1,
    detached: 0,
    accepted: 1,
    ended: 0,
    internalErrors: 0,
  });
});

Deno.test("/ws checks the bearer token before the upgrade", async (t) => {
  const { agents } = recordingAgents();
  await using app = await startTestApp({ AUDIOCODES_BOT_TOKEN: "s3cr3t-shared-token" }, { agents });

  await t.step("plain GET without a token gets 401", async () => {
    const response = await fetch(`${app.url}/ws`);
    assert.equal(response.status, 401);
    await response.body?.cancel();
  });

  await t.step("plain GET with the token answers the probe", async () => {
    const response = await fetch(`${app.url}/ws`, {
      headers: { authorization: "Bearer s3cr3t-shared-token" },
    });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { type: "ac-bot-api", success: true });
  });

  await t.step("an upgrade with a wrong token is refused", async () => {
    const socket = new JsonSocket(wsUrl(app, "/ws"), {
      headers: { authorization: "Bearer wrong" },
    });
    await assert.rejects(socket.opened);
    await socket.closed;
  });

  await t.step("an upgrade without a token is refused", async () => {
    const socket = new JsonSocket(wsUrl(app, "/ws"));
    await assert.rejects(socket.opened);
    await socket.closed;
  });

  await t.step("an upgrade with the right token holds a call", async () => {
    await using vaic = new JsonSocket(wsUrl(app, "/ws"), {
      headers: { authorization: "Bearer s3cr3t-shared-token" },
    });
    vaic.send(initiate());
    assert.deepEqual(await vaic.next(), { type: "session.accepted", mediaFormat: "raw/lpcm16" });
  });
});

Deno.test("connection.validate is answered outside any call", async () => {
  const { agents, calls } = recordingAgents();
  await using app = await startTestApp({}, { agents });
  await using vaic = new JsonSocket(wsUrl(app, "/ws"));
  vaic.send({
    type: "connection.validate",
    conversationId: "3f0a9c1e-0000-4000-8000-000000000001",
  });
  assert.deepEqual(await vaic.next(), { type: "connection.validated", success: true });
  assert.equal(calls.size, 0);
  assert.equal(app.gateway.manager.size, 0);
});

Deno.test("session.initiate picks the media format by our preference", async (t) => {
  const cases: { name: string; env: Record<string, string>; offer: string[]; want?: string }[] = [
    { name: "only raw/lpcm16 offered", env: {}, offer: ["raw/lpcm16"], want: "raw/lpcm16" },
    {
      name: "default preference takes lpcm16_24",
      env: {},
      offer: ALL_FORMATS,
      want: "raw/lpcm16_24",
    },
    {
      name: "mulaw offered first, bot prefers lpcm16",
      env: { MEDIA_FORMATS: "raw/lpcm16,raw/mulaw" },
      offer: ALL_FORMATS,
      want: "raw/lpcm16",
    },
    { name: "mulaw only", env: {}, offer: ["raw/mulaw"], want: "raw/mulaw" },
    { name: "lpcm16_8 only", env: {}, offer: ["raw/lpcm16_8"], want: "raw/lpcm16_8" },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const { agents, calls } = recordingAgents();
      await using app = await startTestApp(c.env, { agents });
      await using vaic = new JsonSocket(wsUrl(app, "/ws"));
      vaic.send(initiate(ID, c.offer));
      assert.deepEqual(await vaic.next(), { type: "session.accepted", mediaFormat: c.want });
      assert.equal(calls.get(ID)?.handle.mediaFormat, c.want);
      assert.equal(calls.get(ID)?.handle.caller, "+14155550123");
    });
  }
});

Deno.test("session.initiate with no usable format is declined with session.error", async (t) => {
  for (
    const [env, offer] of [
      [{ MEDIA_FORMATS: "raw/lpcm16" }, ["raw/mulaw"]],
      [{}, ["raw/opus", "wav/mulaw"]],
    ] as const
  ) {
    await t.step(JSON.stringify(offer), async () => {
      const { agents, calls } = recordingAgents();
      await using app = await startTestApp(env, { agents });
      await using vaic = new JsonSocket(wsUrl(app, "/ws"));
      vaic.send(initiate("3f0a9c1e-0000-4000-8000-000000000004", [...offer]));
      const error = await vaic.next();
      assert.equal(error.type, "session.error");
      assert.equal(
        error.reason,
        `Cannot accept call: no common media format in ${JSON.stringify(offer)}`,
      );
      assert.equal(calls.size, 0);
      await vaic.closed;
    });
  }
});

Deno.test("user streams are acknowledged and chunks reach the agent untouched", async () => {
  const { agents, calls } = recordingAgents();
  await using app = await startTestApp({}, { agents });
  await using vaic = new JsonSocket(wsUrl(app, "/ws"));
  vaic.send(initiate());
  await vaic.next("session.accepted");
  vaic.send({ type: "userStream.start", conversationId: ID });
  assert.deepEqual(await vaic.next(), { type: "userStream.started" });
  vaic.send({ type: "userStream.chunk", conversationId: ID, audioChunk: SILENCE_16 });
  vaic.send({ type: "userStream.chunk", conversationId: ID, audioChunk: SINE_16 });
  vaic.send({ type: "userStream.stop", conversationId: ID });
  assert.deepEqual(await vaic.next(), { type: "userStream.stopped" });
  const call = calls.get(ID)!;
  assert.deepEqual(call.audio, [SILENCE_16, SINE_16]);
  assert.deepEqual(call.userStreams, [{ open: true }, { open: false }]);
  const conversation = app.gateway.manager.get(ID)!;
  assert.equal(conversation.stats.chunksIn, 2);
  assert.equal(conversation.stats.bytesIn, 48);
});

Deno.test("userStream.start and stop echo the participant", async () => {
  const { agents } = recordingAgents();
  await using app = await startTestApp({}, { agents });
  await using vaic = new JsonSocket(wsUrl(app, "/ws"));
  vaic.send(initiate());
  await vaic.next("session.accepted");
  vaic.send({ type: "userStream.start", conversationId: ID, participant: "caller" });
  assert.deepEqual(await vaic.next(), { type: "userStream.started", participant: "caller" });
  vaic.send({ type: "userStream.stop", conversationId: ID, participant: "caller" });
  assert.deepEqual(await vaic.next(), { type: "userStream.stopped", participant: "caller" });
});

Deno.test("activities are recorded and never answered", async () => {
  const { agents, calls } = recordingAgents();
  await using app = await startTestApp({}, { agents });
  await using vaic = new JsonSocket(wsUrl(app, "/ws"));
  vaic.send(initiate());
  await vaic.next("session.accepted");
  const event = (name: string, extra: Record<string, unknown> = {}) => ({
    type: "activities",
    conversationId: ID,
    activities: [{ type: "event", name, ...extra }],
  });
  vaic.send(event("start", {
    id: "a1",
    timestamp: "2026-03-02T10:15:04.512Z",
    language: "en-US",
    parameters: {
      vaigConversationId: ID,
      caller: "+14155550123",
      callee: "+18005550199",
      callerDisplayName: "Jane Doe",
    },
  }));
  vaic.send(event("DTMF", { value: "1234#" }));
  vaic.send(event("dtmf", { value: "7" }));
  vaic.send(event("noUserInput", { value: 2 }));
  vaic.send(event("transferStatus", {
    value: { status: "failed", reasonCode: "busy", reason: 'SIP ;cause=486 ;text="Busy Here"' },
  }));
  vaic.send(event("playUrlFailed", {
    value: { playUrlUrl: "https://media.example.net/missing.wav", reason: "Invalid URL" },
  }));
  vaic.send(event("someFutureEvent", { value: { x: 1 } }));
  vaic.send({
    type: "activities",
    conversationId: ID,
    activities: [{ type: "message", text: "hi" }],
  });
  assert.deepEqual(await quietSince(vaic), []);
  const conversation = app.gateway.manager.get(ID)!;
  assert.deepEqual(conversation.callData, {
    vaigConversationId: ID,
    caller: "+14155550123",
    callee: "+18005550199",
    callerDisplayName: "Jane Doe",
  });
  assert.deepEqual(
    conversation.events.map((e) => e.name),
    [
      "start",
      "dtmf",
      "dtmf",
      "nouserinput",
      "transferstatus",
      "playurlfailed",
      "somefutureevent",
      "message",
    ],
  );
  // DTMF digits may be PINs: the event is kept, its value is not.
  assert.equal(conversation.events[1]?.value, undefined);
  assert.deepEqual(conversation.events[4]?.value, {
    status: "failed",
    reasonCode: "busy",
    reason: 'SIP ;cause=486 ;text="Busy Here"',
  });
  assert.equal(calls.get(ID)?.activities.length, 8);
});

Deno.test("session.end releases the call, closes the socket and sends nothing", async (t) => {
  for (
    const end of [
      {
        type: "session.end",
        conversationId: ID,
        reasonCode: "client-disconnected",
        reason: "Client Side",
      },
      { type: "session.end", conversationId: ID },
      { type: "session.end" },
    ]
  ) {
    await t.step(JSON.stringify(end), async () => {
      const { agents, calls } = recordingAgents();
      await using app = await startTestApp({}, { agents });
      await using vaic = new JsonSocket(wsUrl(app, "/ws"));
      vaic.send(initiate());
      await vaic.next("session.accepted");
      const gone = released(app);
      vaic.send(end);
      const [, reason] = await gone;
      assert.match(reason, /^session\.end/);
      await vaic.closed;
      assert.deepEqual(vaic.pending(), []);
      assert.equal(app.gateway.manager.size, 0);
      assert.ok(calls.get(ID)?.closed?.startsWith("session.end"));
    });
  }
});

Deno.test("bad input is dropped and the call survives", async (t) => {
  const { agents, calls } = recordingAgents();
  await using app = await startTestApp({}, { agents });
  await using vaic = new JsonSocket(wsUrl(app, "/ws"));
  vaic.send(initiate());
  await vaic.next("session.accepted");

  await t.step("a chunk outside a user stream", async () => {
    vaic.send({ type: "userStream.chunk", conversationId: ID, audioChunk: SINE_16 });
    assert.deepEqual(await quietSince(vaic), []);
    assert.deepEqual(calls.get(ID)?.audio, []);
    assert.equal(app.gateway.manager.get(ID)?.stats.chunksDropped, 1);
  });

  vaic.send({ type: "userStream.start", conversationId: ID });
  await vaic.next("userStream.started");

  const cases: [string, unknown][] = [
    ["invalid JSON", "{not json"],
    ["a JSON array", "[1,2,3]"],
    ["an unknown type", { type: "some.future.message", conversationId: ID }],
    ["a missing type", { conversationId: ID }],
    ["wrong field types", { type: "userStream.chunk", conversationId: ID, audioChunk: 123 }],
    ["bad base64", { type: "userStream.chunk", conversationId: ID, audioChunk: "not base64!" }],
    ["truncated base64", { type: "userStream.chunk", conversationId: ID, audioChunk: "AAAAA" }],
    ["activities that is not a list", { type: "activities", conversationId: ID, activities: {} }],
    ["a duplicate initiate", initiate(ID, ["raw/mulaw"])],
    ["a resume on a live socket", { type: "session.resume", conversationId: ID }],
  ];
  for (const [name, frame] of cases) {
    await t.step(name, async () => {
      vaic.send(frame);
      assert.deepEqual(await quietSince(vaic), []);
    });
  }

  await t.step("good audio still flows afterwards", async () => {
    vaic.send({ type: "userStream.chunk", conversationId: ID, audioChunk: SINE_16 });
    await quietSince(vaic);
    assert.deepEqual(calls.get(ID)?.audio, [SINE_16]);
    assert.equal(app.gateway.manager.get(ID)?.mediaFormat, "raw/lpcm16");
    assert.equal(app.gateway.manager.get(ID)?.phase, "live");
  });
});

Deno.test("session.initiate with wrong field types is declined", async () => {
  const { agents } = recordingAgents();
  await using app = await startTestApp({}, { agents });
  await using vaic = new JsonSocket(wsUrl(app, "/ws"));
  vaic.send({ type: "session.initiate", conversationId: ID, supportedMediaFormats: "raw/mulaw" });
  const error = await vaic.next();
  assert.equal(error.type, "session.error");
  assert.match(
    String(error.reason),
    /^Cannot accept call: Invalid session\.initiate: supportedMediaFormats/,
  );
  await vaic.closed;
  assert.equal(app.gateway.manager.size, 0);
});

Deno.test("a second socket cannot initiate a live conversation", async () => {
  const { agents } = recordingAgents();
  await using app = await startTestApp({}, { agents });
  await using first = new JsonSocket(wsUrl(app, "/ws"));
  first.send(initiate());
  await first.next("session.accepted");
  await using second = new JsonSocket(wsUrl(app, "/ws"));
  second.send(initiate());
  const error = await second.next();
  assert.equal(error.type, "session.error");
  assert.equal(error.reason, `Cannot accept call: conversation "${ID}" is already active`);
  await second.closed;
  assert.deepEqual(await quietSince(first), []);
  assert.equal(app.gateway.manager.get(ID)?.phase, "live");
});

Deno.test("a frame over the size limit closes with 1009 and spares other calls", async () => {
  const { agents, calls } = recordingAgents();
  await using app = await startTestApp({ MAX_FRAME_BYTES: "4096" }, { agents });
  await using big = new JsonSocket(wsUrl(app, "/ws"));
  await using other = new JsonSocket(wsUrl(app, "/ws"));
  big.send(initiate());
  other.send(initiate("3f0a9c1e-0000-4000-8000-000000000009", ["raw/mulaw"]));
  await big.next("session.accepted");
  await other.next("session.accepted");
  other.send({ type: "userStream.start", conversationId: "3f0a9c1e-0000-4000-8000-000000000009" });
  await other.next("userStream.started");

  big.send({ type: "userStream.chunk", conversationId: ID, audioChunk: "A".repeat(8192) });
  const closed = await big.closed;
  assert.equal(closed.code, 1009);

  other.send({
    type: "userStream.chunk",
    conversationId: "3f0a9c1e-0000-4000-8000-000000000009",
    audioChunk: "/////////w==",
  });
  assert.deepEqual(await quietSince(other), []);
  assert.deepEqual(calls.get("3f0a9c1e-0000-4000-8000-000000000009")?.audio, ["/////////w=="]);
  // The oversized call is kept for a resume, not ended.
  assert.equal(app.gateway.manager.get(ID)?.phase, "detached");
});

Deno.test("garbage on one call never disturbs another", async () => {
  const { agents, calls } = recordingAgents();
  await using app = await startTestApp({}, { agents });
  const ids = ["3f0a9c1e-0000-4000-8000-00000000000a", "3f0a9c1e-0000-4000-8000-00000000000b"];
  await using bad = new JsonSocket(wsUrl(app, "/ws"));
  await using good = new JsonSocket(wsUrl(app, "/ws"));
  bad.send(initiate(ids[0]));
  good.send(initiate(ids[1]));
  await bad.next("session.accepted");
  await good.next("session.accepted");
  good.send({ type: "userStream.start", conversationId: ids[1] });
  await good.next("userStream.started");
  for (const frame of ["nope", "{}", '{"type":7}', JSON.stringify(initiate(ids[1]))]) {
    bad.send(frame);
    good.send({ type: "userStream.chunk", conversationId: ids[1], audioChunk: SINE_16 });
  }
  bad.socket.send(new Uint8Array([1, 2, 3]));
  assert.deepEqual(await quietSince(good), []);
  assert.equal(calls.get(ids[1]!)?.audio.length, 4);
  assert.deepEqual(await quietSince(bad), []);
});

Deno.test("session.resume re-attaches a dropped call within the grace period", async () => {
  const { agents, calls } = recordingAgents();
  await using app = await startTestApp({ RESUME_GRACE_MS: "30000" }, { agents });
  const first = new JsonSocket(wsUrl(app, "/ws"));
  first.send(initiate(ID, ["raw/mulaw"]));
  await first.next("session.accepted");
  first.send({
    type: "activities",
    conversationId: ID,
    activities: [{ type: "event", name: "start", parameters: { callee: "+18005550199" } }],
  });
  await quietSince(first);
  await first.close();
  // Wait until the server has seen the drop.
  while (app.gateway.manager.get(ID)?.phase !== "detached") {
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.equal(calls.get(ID)?.detached, 1);

  await using second = new JsonSocket(wsUrl(app, "/ws"));
  second.send({ type: "session.resume", conversationId: ID });
  assert.deepEqual(await second.next(), { type: "session.accepted", mediaFormat: "raw/mulaw" });
  const conversation = app.gateway.manager.get(ID)!;
  assert.equal(conversation.phase, "live");
  assert.deepEqual(conversation.callData, { callee: "+18005550199" });
  assert.equal(calls.get(ID)?.resumed, 1);
  // The resumed call works: a new user stream flows to the same agent.
  second.send({ type: "userStream.start", conversationId: ID });
  await second.next("userStream.started");
  second.send({ type: "userStream.chunk", conversationId: ID, audioChunk: "/////////w==" });
  await quietSince(second);
  assert.deepEqual(calls.get(ID)?.audio, ["/////////w=="]);
});

Deno.test("session.resume of an unknown conversation is refused", async () => {
  await using app = await startTestApp();
  await using vaic = new JsonSocket(wsUrl(app, "/ws"));
  vaic.send({ type: "session.resume", conversationId: ID });
  assert.deepEqual(await vaic.next(), {
    type: "session.error",
    conversationId: ID,
    reason: "conversation not found",
  });
  await vaic.closed;
});

Deno.test("a dropped call is released when the resume grace period expires", async () => {
  const { agents, calls } = recordingAgents();
  await using app = await startTestApp({ RESUME_GRACE_MS: "30" }, { agents });
  const vaic = new JsonSocket(wsUrl(app, "/ws"));
  vaic.send(initiate());
  await vaic.next("session.accepted");
  const gone = released(app);
  await vaic.close();
  const [conversation, reason] = await gone;
  assert.equal(conversation.conversationId, ID);
  assert.equal(reason, "resume grace period expired");
  assert.equal(calls.get(ID)?.closed, "resume grace period expired");

  await using late = new JsonSocket(wsUrl(app, "/ws"));
  late.send({ type: "session.resume", conversationId: ID });
  assert.equal((await late.next()).type, "session.error");
});
