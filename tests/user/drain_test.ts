import assert from "node:assert/strict";
import { JsonSocket, startTestApp, wsUrl } from "../helpers.ts";
import { openPath } from "./helpers.ts";

Deno.test("a drain waits for app sessions, then ends them with server_shutting_down", async () => {
  await using app = await startTestApp();
  await using client = new JsonSocket(wsUrl(app, openPath()));
  await client.next("session.created");
  assert.equal(app.user.active?.(), 1);
  const controller = new AbortController();
  const draining = app.gateway.drain({ timeoutMs: 0, signal: controller.signal });
  const error = await client.next("error");
  assert.deepEqual(error.error, {
    code: "server_shutting_down",
    message: "Closed the session: the gateway is shutting down; connect again",
  });
  assert.equal((await client.closed).code, 1001);
  await draining;
  await Promise.all([...app.user.connections].map((c) => c.closed));
  assert.equal(app.user.active?.(), 0);
});
