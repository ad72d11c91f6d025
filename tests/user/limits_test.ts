import assert from "node:assert/strict";
import { JsonSocket, startTestApp, wsUrl } from "../helpers.ts";
import { signJwt } from "../../src/user/auth.ts";
import { openPath, textMessage } from "./helpers.ts";
import { manualClock } from "./manual_clock.ts";
import { recordingLogger } from "./recording_log.ts";
import { serveUserApi } from "./user_server.ts";

const AUTH_PATH = "/api/v1/streaming/realtime";
const SECRET = "jwt-secret-for-the-tests";

/** An upgrade request's status and JSON body, read without opening a socket. */
async function upgradeStatus(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
      ...headers,
    },
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {} };
}

/** Opens a client and waits for its session. */
async function connect(
  url: string,
  options: { headers?: HeadersInit; protocols?: string[] } = {},
): Promise<JsonSocket> {
  const client = new JsonSocket(url, options);
  await client.next("session.created");
  return client;
}

Deno.test("MAX_APP_SESSIONS: a full instance answers 503 before the upgrade", async () => {
  await using app = await startTestApp({ MAX_APP_SESSIONS: "2" });
  await using a = await connect(wsUrl(app, openPath("a")));
  await using b = await connect(wsUrl(app, openPath("b")));
  const refused = await upgradeStatus(`${app.url}${openPath("c")}`);
  assert.equal(refused.status, 503);
  assert.equal(refused.body.error, "server_full");
  assert.equal(app.user.connections.size, 2);
  // A place frees up when a session ends.
  const [first] = [...app.user.connections];
  await a.close();
  await first!.closed;
  await using c = await connect(wsUrl(app, openPath("c")));
  assert.equal(app.user.connections.size, 2);
  void b;
  void c;
});

Deno.test("MAX_SESSIONS_PER_USER: 429 before the upgrade, per user id and route", async (t) => {
  await using app = await startTestApp({
    MAX_SESSIONS_PER_USER: "2",
    REALTIME_JWT_SECRET: SECRET,
    REALTIME_API_TOKENS: "static-token",
  });
  const alice1 = await connect(wsUrl(app, openPath("alice")));
  await using alice2 = await connect(wsUrl(app, openPath("alice")));
  await t.step("a third session for the same user is refused", async () => {
    const refused = await upgradeStatus(`${app.url}${openPath("alice")}`);
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error, "too_many_sessions");
    assert.match(String(refused.body.message), /user "alice" already has 2 open sessions/);
  });
  await t.step("another user is not affected", async () => {
    await using bob = await connect(wsUrl(app, openPath("bob")));
    void bob;
  });
  await t.step("an authenticated user of the same name has its own count", async () => {
    const jwt = await signJwt({ sub: "alice", exp: Math.floor(Date.now() / 1000) + 60 }, SECRET);
    await using authed = await connect(wsUrl(app, AUTH_PATH), {
      protocols: ["realtime", `bearer.${jwt}`],
    });
    void authed;
  });
  await t.step('a JWT whose sub is "token" is still counted per user', async () => {
    const jwt = await signJwt({ sub: "token", exp: Math.floor(Date.now() / 1000) + 60 }, SECRET);
    const protocols = ["realtime", `bearer.${jwt}`];
    await using j1 = await connect(wsUrl(app, AUTH_PATH), { protocols });
    await using j2 = await connect(wsUrl(app, AUTH_PATH), { protocols });
    const refused = await upgradeStatus(`${app.url}${AUTH_PATH}`, {
      "sec-websocket-protocol": protocols.join(", "),
    });
    assert.equal(refused.status, 429);
    void [j1, j2];
  });
  await t.step("static-token sessions are not counted per user", async () => {
    const headers = { authorization: "Bearer static-token" };
    await using s1 = await connect(wsUrl(app, AUTH_PATH), { headers });
    await using s2 = await connect(wsUrl(app, AUTH_PATH), { headers });
    await using s3 = await connect(wsUrl(app, AUTH_PATH), { headers });
    void [s1, s2, s3];
  });
  await t.step("closing a session frees its place", async () => {
    const connection = [...app.user.connections].find((c) => c.userId === "alice");
    await alice1.close();
    await connection!.closed;
    await using again = await connect(wsUrl(app, openPath("alice")));
    void again;
  });
  void alice2;
});

Deno.test("MAX_CONNECTIONS_PER_PEER: 429 per peer address", async (t) => {
  await t.step("the socket address without TRUST_PROXY (X-Forwarded-For ignored)", async () => {
    await using app = await startTestApp({ MAX_CONNECTIONS_PER_PEER: "2" });
    await using a = await connect(wsUrl(app, openPath("a")));
    await using b = await connect(wsUrl(app, openPath("b")), {
      headers: { "x-forwarded-for": "203.0.113.9" },
    });
    const refused = await upgradeStatus(`${app.url}${openPath("c")}`, {
      "x-forwarded-for": "198.51.100.1",
    });
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error, "too_many_connections");
    assert.deepEqual([...app.user.connections].map((c) => c.peer), ["127.0.0.1", "127.0.0.1"]);
    void [a, b];
  });
  await t.step("the last X-Forwarded-For hop with TRUST_PROXY", async () => {
    await using app = await startTestApp({ MAX_CONNECTIONS_PER_PEER: "1", TRUST_PROXY: "true" });
    // Earlier hops are the client's to write; only the proxy's own (last) entry counts.
    await using a = await connect(wsUrl(app, openPath("a")), {
      headers: { "x-forwarded-for": "1.1.1.1, 203.0.113.9" },
    });
    await using b = await connect(wsUrl(app, openPath("b")), {
      headers: { "x-forwarded-for": "203.0.113.10" },
    });
    const refused = await upgradeStatus(`${app.url}${openPath("c")}`, {
      "x-forwarded-for": "9.9.9.9, 203.0.113.9",
    });
    assert.equal(refused.status, 429);
    assert.deepEqual(
      [...app.user.connections].map((c) => c.peer).sort(),
      ["203.0.113.10", "203.0.113.9"],
    );
    void [a, b];
  });
});

Deno.test("ALLOWED_ORIGINS: a browser origin not on the list gets 403 before the upgrade", async (t) => {
  await using app = await startTestApp({
    ALLOWED_ORIGINS: "https://app.example.com, http://localhost:5173/",
    REALTIME_API_TOKENS: "tok",
  });
  const cases: [string, Record<string, string>, number][] = [
    ["another origin", { origin: "https://evil.example" }, 403],
    ["a listed origin", { origin: "https://app.example.com" }, 101],
    ["a listed origin written with a slash in the list", { origin: "http://localhost:5173" }, 101],
    ["an opaque origin", { origin: "null" }, 403],
    ["no Origin header (not a browser)", {}, 101],
  ];
  for (const [name, headers, status] of cases) {
    await t.step(`${name}: ${status}`, async () => {
      if (status === 101) {
        await using client = await connect(wsUrl(app, openPath("u")), { headers });
        void client;
        return;
      }
      const refused = await upgradeStatus(`${app.url}${openPath("u")}`, headers);
      assert.equal(refused.status, status);
      assert.equal(refused.body.error, "forbidden_origin");
    });
  }
  await t.step("the authenticated route too, before the token is looked at", async () => {
    const refused = await upgradeStatus(`${app.url}${AUTH_PATH}`, {
      origin: "https://evil.example",
      authorization: "Bearer tok",
    });
    assert.equal(refused.status, 403);
  });
  await t.step("an empty list allows every origin", async () => {
    await using open = await startTestApp();
    await using client = await connect(wsUrl(open, openPath("u")), {
      headers: { origin: "https://anywhere.example" },
    });
    void client;
  });
});

Deno.test("refused connections are logged with the peer address, never the token", async () => {
  const { log, entries } = recordingLogger();
  await using app = await startTestApp({ REALTIME_API_TOKENS: "right-token" }, { log });
  const response = await fetch(`${app.url}${AUTH_PATH}`, {
    headers: { authorization: "Bearer wrong-secret-token" },
  });
  assert.equal(response.status, 401);
  await response.body?.cancel();
  const refusal = entries.find((e) => e.msg === "Refused user connection");
  assert.equal(refusal?.level, "warn");
  assert.equal(refusal?.fields.peer, "127.0.0.1");
  assert.equal(refusal?.fields.reason, "unknown token");
  assert.ok(!JSON.stringify(entries).includes("wrong-secret-token"));
});

Deno.test("input_text over MAX_TEXT_CHARS gets invalid_message and the session goes on", async () => {
  await using app = await startTestApp({ MAX_TEXT_CHARS: "10" });
  await using client = await connect(wsUrl(app, openPath()));
  const created = client.received[0]!.session as { limits: Record<string, number> };
  assert.equal(created.limits.max_text_chars, 10);
  client.send(textMessage("x".repeat(11)));
  const error = await client.next("error");
  assert.deepEqual(error.error, {
    code: "invalid_message",
    message: "Cannot send text: 11 characters is over the limit of 10",
  });
  client.send(textMessage("0123456789"));
  await client.next("response.done", 10_000);
  assert.deepEqual(client.received.filter((m) => m.type === "error"), [error]);
});

Deno.test("APP_IDLE_TIMEOUT_MS: a session without client messages ends with idle_timeout", async () => {
  await using app = await startTestApp();
  const time = manualClock();
  await using api = serveUserApi({
    env: { APP_IDLE_TIMEOUT_MS: "60000" },
    upstreamUrl: () => app.upstreamUrl,
    clock: time.clock,
  });
  await using client = await connect(wsUrl(api, openPath()));
  await client.next("session.ready");
  time.tick(59_999);
  // Any message counts as activity: the deadline moves.
  client.send({ type: "ping", ping: { timestamp: 1 } });
  await client.next("pong");
  time.tick(59_999);
  client.send({ type: "ping", ping: { timestamp: 2 } });
  await client.next("pong");
  time.tick(60_000);
  const error = await client.next("error");
  assert.deepEqual(error.error, {
    code: "idle_timeout",
    message: "Closed the session: no message from the client for 60000 ms",
  });
  const closed = await client.closed;
  assert.equal(closed.code, 1000);
  await Promise.all([...api.user.connections].map((c) => c.closed));
  assert.equal(time.timers(), 0, "the session's timers are cleared");
});

Deno.test("APP_MAX_SESSION_MS: a session ends with session_expired however busy", async () => {
  await using app = await startTestApp();
  const time = manualClock();
  await using api = serveUserApi({
    env: { APP_IDLE_TIMEOUT_MS: "30000", APP_MAX_SESSION_MS: "90000" },
    upstreamUrl: () => app.upstreamUrl,
    clock: time.clock,
  });
  await using client = await connect(wsUrl(api, openPath()));
  // The upstream connect timeout runs on the same manual clock: be connected before ticking.
  await client.next("session.ready");
  for (let i = 0; i < 3; i++) {
    time.tick(29_000);
    client.send({ type: "ping", ping: { timestamp: i } });
    await client.next("pong");
  }
  time.tick(3_000);
  const error = await client.next("error");
  assert.equal((error.error as { code: string }).code, "session_expired");
  assert.match((error.error as { message: string }).message, /maximum length of 90000 ms/);
  assert.equal((await client.closed).code, 1000);
  await Promise.all([...api.user.connections].map((c) => c.closed));
  assert.equal(time.timers(), 0);
});

Deno.test("a client that closes first leaves no session timers behind", async () => {
  await using app = await startTestApp();
  const time = manualClock();
  await using api = serveUserApi({ upstreamUrl: () => app.upstreamUrl, clock: time.clock });
  const client = await connect(wsUrl(api, openPath()));
  assert.ok(time.timers() >= 2);
  const [connection] = [...api.user.connections];
  await client.close();
  await connection!.closed;
  assert.equal(time.timers(), 0);
});
