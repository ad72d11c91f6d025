import assert from "node:assert/strict";
import { JsonSocket, startTestApp, wsUrl } from "../helpers.ts";
import { signJwt } from "../../src/user/auth.ts";
import { openPath } from "./helpers.ts";

const AUTH_PATH = "/api/v1/streaming/realtime";
const SECRET = "jwt-secret-for-the-tests";
const AUTH_ENV = { REALTIME_API_TOKENS: "tok-alpha,tok-beta", REALTIME_JWT_SECRET: SECRET };

Deno.test("GET /api/v1/streaming/realtime/status reports state, connections and upstream", async () => {
  await using app = await startTestApp(AUTH_ENV);
  await using open = new JsonSocket(wsUrl(app, openPath("u1")));
  await using authed = new JsonSocket(wsUrl(app, AUTH_PATH), {
    headers: { authorization: "Bearer tok-alpha" },
  });
  await open.next("session.created");
  await authed.next("session.created");
  const response = await fetch(`${app.url}/api/v1/streaming/realtime/status`);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), {
    service: "realtime",
    status: "ok",
    connections: { total: 2, open: 1, authenticated: 1 },
    routes: { open: true, authenticated: true },
    upstream: { mode: "local", model: "gpt-realtime" },
  });
  const health = await (await fetch(`${app.url}/health`)).json();
  assert.deepEqual(health.realtime, { connections: { total: 2, open: 1, authenticated: 1 } });
});

Deno.test("GET /api/v1/streaming/realtime/health answers ok", async () => {
  await using app = await startTestApp();
  const response = await fetch(`${app.url}/api/v1/streaming/realtime/health`);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { status: "ok", service: "realtime" });
});

Deno.test("the open route refuses what it cannot serve", async (t) => {
  await using app = await startTestApp();
  const cases: [string, RequestInit, string, number][] = [
    ["a plain GET needs an upgrade", {}, openPath("u1"), 426],
    ["a bad user id", {}, "/api/v1/streaming/realtime/bad%20id", 400],
    ["a nested path", {}, "/api/v1/streaming/realtime/a/b", 400],
    ["POST", { method: "POST" }, openPath("u1"), 405],
    ["a broken upgrade", { headers: { upgrade: "websocket" } }, openPath("u1"), 400],
  ];
  for (const [name, init, path, status] of cases) {
    await t.step(name, async () => {
      const response = await fetch(`${app.url}${path}`, init);
      assert.equal(response.status, status);
      await response.body?.cancel();
    });
  }
});

Deno.test("REALTIME_OPEN_ROUTE=false disables the {user_id} route", async () => {
  await using app = await startTestApp({ REALTIME_OPEN_ROUTE: "false" });
  const response = await fetch(`${app.url}${openPath("u1")}`);
  assert.equal(response.status, 404);
  await response.body?.cancel();
  const socket = new JsonSocket(wsUrl(app, openPath("u1")));
  await assert.rejects(socket.opened);
  await socket.closed;
  const status = await (await fetch(`${app.url}/api/v1/streaming/realtime/status`)).json();
  assert.deepEqual(status.routes, { open: false, authenticated: false });
});

Deno.test("the authenticated route answers 401 before the upgrade", async (t) => {
  await using app = await startTestApp(AUTH_ENV);
  const refused: [string, HeadersInit][] = [
    ["no token", {}],
    ["a wrong token", { authorization: "Bearer tok-gamma" }],
    ["a wrong subprotocol token", { "sec-websocket-protocol": "realtime, bearer.nope" }],
    ["an expired JWT", {
      authorization: `Bearer ${await signJwt({ sub: "u", exp: Date.now() / 1000 - 5 }, SECRET)}`,
    }],
    ["a JWT with another secret", {
      authorization: `Bearer ${await signJwt({ sub: "u" }, "some-other-secret-value")}`,
    }],
  ];
  for (const [name, headers] of refused) {
    await t.step(`${name}: 401 on a plain GET`, async () => {
      const response = await fetch(`${app.url}${AUTH_PATH}`, { headers });
      assert.equal(response.status, 401);
      assert.equal(response.headers.get("www-authenticate"), "Bearer");
      assert.deepEqual(await response.json(), { error: "unauthorized" });
    });
  }
  await t.step("a refused upgrade never opens", async () => {
    const socket = new JsonSocket(wsUrl(app, AUTH_PATH), {
      headers: { authorization: "Bearer tok-gamma" },
    });
    await assert.rejects(socket.opened);
    await socket.closed;
    assert.equal(app.user.connections.size, 0);
  });
  await t.step("a good token without an upgrade gets 426", async () => {
    const response = await fetch(`${app.url}${AUTH_PATH}`, {
      headers: { authorization: "Bearer tok-beta" },
    });
    assert.equal(response.status, 426);
    await response.body?.cancel();
  });
});

Deno.test("the authenticated route accepts header, subprotocol and JWT credentials", async (t) => {
  await using app = await startTestApp(AUTH_ENV);
  await t.step("Authorization: Bearer", async () => {
    await using client = new JsonSocket(wsUrl(app, AUTH_PATH), {
      headers: { authorization: "Bearer tok-beta" },
    });
    await client.next("session.created");
    client.send({ type: "ping", ping: { timestamp: 7 } });
    assert.deepEqual(await client.next("pong"), { type: "pong", timestamp: 7 });
  });
  await t.step("bearer.<token> subprotocol next to realtime (browsers)", async () => {
    await using client = new JsonSocket(wsUrl(app, AUTH_PATH), {
      protocols: ["realtime", "bearer.tok-alpha"],
    });
    await client.next("session.created");
    assert.equal(client.socket.protocol, "realtime");
  });
  await t.step("bearer.<token> subprotocol alone is echoed", async () => {
    await using client = new JsonSocket(wsUrl(app, AUTH_PATH), { protocols: ["bearer.tok-alpha"] });
    await client.next("session.created");
    assert.equal(client.socket.protocol, "bearer.tok-alpha");
  });
  await t.step("an HS256 JWT with exp in the future; sub becomes the user id", async () => {
    const jwt = await signJwt({ sub: "user-42", exp: Math.floor(Date.now() / 1000) + 60 }, SECRET);
    await using client = new JsonSocket(wsUrl(app, AUTH_PATH), {
      protocols: ["realtime", `bearer.${jwt}`],
    });
    await client.next("session.created");
    const [connection] = [...app.user.connections];
    assert.equal(connection?.userId, "user-42");
    assert.equal(connection?.route, "authenticated");
  });
});

Deno.test("the authenticated route refuses everyone when no credential is configured", async () => {
  await using app = await startTestApp();
  const response = await fetch(`${app.url}${AUTH_PATH}`, {
    headers: { authorization: "Bearer anything" },
  });
  assert.equal(response.status, 401);
  await response.body?.cancel();
});
