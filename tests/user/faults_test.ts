import assert from "node:assert/strict";
import { JsonSocket, startTestApp, wsUrl } from "../helpers.ts";
import type { UserConnection } from "../../src/user/connection.ts";
import { openPath, textMessage } from "./helpers.ts";
import { recordingLogger } from "./recording_log.ts";
import { serveUserApi } from "./user_server.ts";

type App = Awaited<ReturnType<typeof startTestApp>>;

function connectionOf(app: App, userId: string): UserConnection {
  const connection = [...app.user.connections].find((c) => c.userId === userId);
  assert.ok(connection, `no connection for ${userId}`);
  return connection;
}

/** The session ended with internal_error and 1011, and nothing came after the error. */
async function assertEndedByFault(client: JsonSocket): Promise<void> {
  const error = await client.next("error", 10_000);
  assert.deepEqual(error.error, {
    code: "internal_error",
    message: "Cannot continue the session: the gateway hit an internal error; connect again",
  });
  const closed = await client.closed;
  assert.equal(closed.code, 1011);
  assert.equal(client.received.at(-1), error, "nothing is sent after the error");
}

/** Another session on the same gateway still gets a full reply. */
async function assertStillServes(client: JsonSocket): Promise<void> {
  client.send({ type: "ping", ping: { timestamp: 3 } });
  assert.deepEqual(await client.next("pong"), { type: "pong", timestamp: 3 });
  client.send(textMessage("Still there?"));
  await client.next("response.done", 10_000);
}

Deno.test("a fault in a Bridge leg event ends only that session", async () => {
  const { log, entries } = recordingLogger();
  await using app = await startTestApp({}, { log });
  await using victim = new JsonSocket(wsUrl(app, openPath("victim")));
  await using bystander = new JsonSocket(wsUrl(app, openPath("bystander")));
  await victim.next("session.ready");
  await bystander.next("session.ready");
  const connection = connectionOf(app, "victim");
  connection.leg.notify = () => {
    throw new TypeError("Cannot read leg state: a bug");
  };
  victim.send(textMessage("Hello"));
  await assertEndedByFault(victim);
  await connection.closed;
  assert.equal(app.user.connections.size, 1);
  const logged = entries.find((e) => e.msg === "Ended user session: internal error");
  assert.equal(logged?.level, "error");
  assert.equal(logged?.fields.error, "TypeError: Cannot read leg state: a bug");
  // The whole stack, as text (it survives JSON), down to where the fault was thrown.
  assert.match(String(logged?.fields.stack), /^TypeError: Cannot read leg state: a bug\n\s+at /);
  assert.match(String(logged?.fields.stack), /faults_test\.ts/);
  assert.equal(logged?.fields.userId, "victim");
  await assertStillServes(bystander);
});

Deno.test("a fault in model audio handling ends only that session", async () => {
  await using app = await startTestApp();
  await using victim = new JsonSocket(wsUrl(app, openPath("victim")));
  await using bystander = new JsonSocket(wsUrl(app, openPath("bystander")));
  await victim.next("session.ready");
  await bystander.next("session.ready");
  const connection = connectionOf(app, "victim");
  connection.leg.playAudio = () => {
    throw new RangeError("Cannot play audio: a bug");
  };
  victim.send(textMessage("Hello"));
  await assertEndedByFault(victim);
  assert.ok(!victim.received.some((m) => m.type === "response.audio"));
  await assertStillServes(bystander);
});

Deno.test("a fault while handling a client frame ends only that session", async () => {
  await using app = await startTestApp();
  await using victim = new JsonSocket(wsUrl(app, openPath("victim")));
  await using bystander = new JsonSocket(wsUrl(app, openPath("bystander")));
  await victim.next("session.created");
  await bystander.next("session.created");
  connectionOf(app, "victim").leg.requestInterrupt = () => {
    throw new Error("Cannot interrupt: a bug");
  };
  victim.send({ type: "response.interrupt" });
  await assertEndedByFault(victim);
  await assertStillServes(bystander);
});

Deno.test("a fault while starting a session ends it with internal_error", async () => {
  await using app = await startTestApp();
  let calls = 0;
  await using api = serveUserApi({
    upstreamUrl: () => {
      if (calls++ === 0) throw new Error("Cannot resolve upstream: a bug");
      return app.upstreamUrl;
    },
  });
  await using victim = new JsonSocket(wsUrl(api, openPath("victim")));
  await assertEndedByFault(victim);
  assert.ok(!victim.received.some((m) => m.type === "session.created"));
  await using next = new JsonSocket(wsUrl(api, openPath("next")));
  await next.next("session.ready");
  await assertStillServes(next);
});
