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
      // Past the default 30 s clock tolerance.
      authorization: `Bearer ${await signJwt({ sub: "u", exp: Date.now() / 1000 - 60 }, SECRET)}`,
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
  await t.step("a valid token's bearer.<token> subprotocol is never echoed", async () => {
    await using client = new JsonSocket(wsUrl(app, AUTH_PATH), {
      protocols: ["bearer.tok-alpha", "realtime"],
    });
    await client.next("session.created");
    assert.equal(client.socket.protocol, "realtime");
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

Deno.test("a bearer.<token> subprotocol offered without realtime is refused with 400", async (t) => {
  await using app = await startTestApp(AUTH_ENV);
  await t.step("the answer says what to offer and never names the token", async () => {
    const response = await fetch(`${app.url}${AUTH_PATH}`, {
      headers: {
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-version": "13",
        "sec-websocket-protocol": "bearer.tok-alpha",
      },
    });
    assert.equal(response.status, 400);
    assert.equal(response.headers.get("sec-websocket-protocol"), null);
    const body = await response.json();
    assert.equal(body.error, "subprotocol_required");
    assert.match(body.message, /offer the "realtime" subprotocol alongside "bearer.<token>"/);
    assert.ok(!JSON.stringify(body).includes("tok-alpha"));
  });
  await t.step("a WebSocket client cannot open", async () => {
    const socket = new JsonSocket(wsUrl(app, AUTH_PATH), { protocols: ["bearer.tok-alpha"] });
    await assert.rejects(socket.opened);
    await socket.closed;
    assert.equal(app.user.connections.size, 0);
  });
});

Deno.test("JWT claims: sub is the user id, bounded by MAX_ID_CHARS; iss and aud checked", async (t) => {
  await using app = await startTestApp({
    ...AUTH_ENV,
    MAX_ID_CHARS: "16",
    REALTIME_JWT_ISSUER: "https://issuer.example",
    REALTIME_JWT_AUDIENCE: "voice",
  });
  const exp = Math.floor(Date.now() / 1000) + 60;
  const good = { iss: "https://issuer.example", aud: "voice", exp };
  const cases: [string, Record<string, unknown>, number][] = [
    ["all claims right", { ...good, sub: "user-16-chars-ok" }, 426],
    ["sub over MAX_ID_CHARS", { ...good, sub: "user-17-chars-bad" }, 401],
    ["sub with a slash", { ...good, sub: "a/b" }, 401],
    ["no sub", { ...good }, 401],
    ["no exp", { iss: good.iss, aud: good.aud, sub: "u" }, 401],
    ["wrong issuer", { ...good, sub: "u", iss: "https://other.example" }, 401],
    ["wrong audience", { ...good, sub: "u", aud: "other" }, 401],
  ];
  for (const [name, claims, status] of cases) {
    await t.step(`${name}: ${status}`, async () => {
      const response = await fetch(`${app.url}${AUTH_PATH}`, {
        headers: { authorization: `Bearer ${await signJwt(claims, SECRET)}` },
      });
      assert.equal(response.status, status);
      await response.body?.cancel();
    });
  }
});

Deno.test("the open route bounds user ids by MAX_ID_CHARS", async () => {
  await using app = await startTestApp({ MAX_ID_CHARS: "8" });
  const response = await fetch(`${app.url}${openPath("123456789")}`);
  assert.equal(response.status, 400);
  assert.deepEqual(await response.json(), {
    error: "Cannot connect: user_id must be 1-8 letters, digits, '.', '_', '~' or '-'",
  });
  await using client = new JsonSocket(wsUrl(app, openPath("12345678")));
  await client.next("session.created");
});
