import assert from "node:assert/strict";
import { JsonSocket } from "../json_socket.ts";
import { createLocalEngine } from "../../src/local/engine.ts";
import { route } from "../../src/core/route.ts";
import { startEngine } from "../../src/local/main.ts";
import type { Clock, TimerId } from "../../src/core/clock.ts";
import { openSession, startTestEngine } from "./engine_helpers.ts";

const httpUrl = (wsUrl: string) => wsUrl.replace(/^ws/, "http");

Deno.test("engine handles session.created with the full default session", async () => {
  await using engine = startTestEngine();
  const { ws, created } = await openSession(engine, { query: "model=gpt-realtime-mini" });
  await using _ws = ws;
  assert.match(String(created.event_id), /^event_[A-Za-z0-9]{21}$/);
  const session = created.session as Record<string, unknown>;
  assert.match(String(session.id), /^sess_/);
  assert.equal(session.type, "realtime");
  assert.equal(session.object, "realtime.session");
  assert.equal(session.model, "gpt-realtime-mini");
  assert.deepEqual(session.output_modalities, ["audio"]);
  assert.equal(session.tool_choice, "auto");
  assert.equal(session.max_output_tokens, "inf");
  assert.equal(typeof session.expires_at, "number");
  assert.deepEqual(session.audio, {
    input: {
      format: { type: "audio/pcm", rate: 24000 },
      transcription: null,
      noise_reduction: null,
      turn_detection: {
        type: "server_vad",
        threshold: 0.5,
        prefix_padding_ms: 300,
        silence_duration_ms: 200,
        idle_timeout_ms: null,
        create_response: true,
        interrupt_response: true,
      },
    },
    output: { format: { type: "audio/pcm", rate: 24000 }, voice: "alloy", speed: 1 },
  });
  assert.equal(engine.engine.sessions, 1);
  assert.deepEqual(engine.engine.stats(), { engine: { sessions: 1 } });
});

Deno.test("engine handles HTTP requests that are not upgrades", async (t) => {
  await using engine = startTestEngine();
  await t.step("plain GET answers 426 with a JSON error", async () => {
    const response = await fetch(`${httpUrl(engine.url)}?model=gpt-realtime`);
    assert.equal(response.status, 426);
    const body = await response.json();
    assert.equal(body.error.code, "upgrade_required");
  });
  await t.step("other paths are not the engine's", async () => {
    const local = createLocalEngine();
    const routed = await route(local.routes, () => new Response(null, { status: 404 }))(
      new Request("http://x/health"),
    );
    assert.equal(routed.status, 404);
    await local.close();
    const response = await fetch(httpUrl(engine.url).replace("/v1/realtime", "/nope"));
    assert.equal(response.status, 404);
    await response.body?.cancel();
  });
  await t.step("POST answers 405", async () => {
    const response = await fetch(httpUrl(engine.url), { method: "POST" });
    assert.equal(response.status, 405);
    await response.body?.cancel();
  });
});

async function handshakeStatus(url: string, init: RequestInit): Promise<number> {
  // A raw upgrade request: the status is what a WebSocket client sees before any upgrade.
  const response = await fetch(url, {
    ...init,
    headers: {
      connection: "Upgrade",
      upgrade: "websocket",
      "sec-websocket-version": "13",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      ...(init.headers ?? {}),
    },
  });
  await response.body?.cancel();
  return response.status;
}

Deno.test("engine handles authentication", async (t) => {
  await using engine = startTestEngine({ apiKey: "sk-test-key" });
  const url = `${httpUrl(engine.url)}?model=gpt-realtime`;
  await t.step("a wrong key is refused with 401 before the upgrade", async () => {
    assert.equal(
      await handshakeStatus(url, { headers: { authorization: "Bearer sk-wrong" } }),
      401,
    );
  });
  await t.step("a missing key is refused with 401", async () => {
    assert.equal(await handshakeStatus(url, {}), 401);
  });
  await t.step("a wrong key over a WebSocket fails to connect", async () => {
    const ws = new JsonSocket(`${engine.url}?model=gpt-realtime`, {
      headers: { authorization: "Bearer sk-wrong" },
      unmatched: "skip",
    });
    await assert.rejects(ws.opened);
    await ws.closed;
  });
  await t.step("the Bearer header is accepted", async () => {
    const { ws } = await openSession(engine, { headers: { authorization: "Bearer sk-test-key" } });
    await ws.close();
  });
  await t.step("the browser subprotocol is accepted and answered with 'realtime'", async () => {
    const { ws } = await openSession(engine, {
      protocols: ["realtime", "openai-insecure-api-key.sk-test-key", "openai-project.p1"],
    });
    assert.equal(ws.socket.protocol, "realtime");
    await ws.close();
  });
});

Deno.test("engine handles a missing model with 400", async () => {
  await using engine = startTestEngine();
  assert.equal(await handshakeStatus(httpUrl(engine.url), {}), 400);
});

Deno.test("engine handles the retired beta shape with an error and close 4000", async (t) => {
  await using engine = startTestEngine();
  for (
    const [name, options] of [
      ["header", { headers: { "OpenAI-Beta": "realtime=v1" } }],
      ["subprotocol", { protocols: ["realtime", "openai-beta.realtime-v1"] }],
    ] satisfies [string, { headers?: HeadersInit; protocols?: string[] }][]
  ) {
    await t.step(name, async () => {
      await using ws = new JsonSocket(`${engine.url}?model=gpt-realtime`, {
        ...options,
        unmatched: "skip",
      });
      const error = await ws.next("error");
      assert.deepEqual((error as { error: unknown }).error, {
        type: "invalid_request_error",
        code: "beta_api_shape_disabled",
        message:
          "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API.",
        param: null,
        event_id: null,
      });
      const closed = await ws.closed;
      assert.equal(closed.code, 4000);
      assert.equal(closed.reason, "invalid_request_error.beta_api_shape_disabled");
    });
  }
});

Deno.test("engine handles disconnectAll() by dropping every session with the code", async () => {
  await using engine = startTestEngine();
  const a = await openSession(engine);
  const b = await openSession(engine);
  assert.equal(engine.engine.sessions, 2);
  engine.engine.disconnectAll(1011);
  assert.equal((await a.ws.closed).code, 1011);
  assert.equal((await b.ws.closed).code, 1011);
});

Deno.test("engine handles close() by closing sessions with 1001", async () => {
  const engine = startTestEngine();
  const { ws } = await openSession(engine);
  const closing = engine.close();
  assert.equal((await ws.closed).code, 1001);
  await closing;
});

/** A clock whose timers fire only when the test says so. */
class ManualClock implements Clock {
  readonly timers = new Map<TimerId, { callback: () => void; ms: number }>();
  now = () => 1_767_225_600_000;
  monotonic = () => 0;
  setTimeout = (callback: () => void, ms: number): TimerId => {
    // A real (already cleared) timer id, so the type matches the runtime's.
    const id = setTimeout(() => {}, 0);
    clearTimeout(id);
    this.timers.set(id, { callback, ms });
    return id;
  };
  clearTimeout = (id: TimerId): void => {
    this.timers.delete(id);
  };
  /** Fires the timers set for exactly `ms`. */
  fire(ms: number): number {
    let fired = 0;
    for (const [id, timer] of [...this.timers]) {
      if (timer.ms !== ms) continue;
      this.timers.delete(id);
      timer.callback();
      fired++;
    }
    return fired;
  }
}

Deno.test("engine handles maxSessionMs by closing with 1001 and the documented reason", async () => {
  const clock = new ManualClock();
  await using engine = startEngine({
    hostname: "127.0.0.1",
    port: 0,
    clock,
    maxSessionMs: 120_000,
  });
  const { ws, created } = await openSession(engine);
  assert.equal(
    (created.session as { expires_at: number }).expires_at,
    Math.floor((clock.now() + 120_000) / 1000),
  );
  assert.equal(clock.fire(120_000), 1);
  const closed = await ws.closed;
  assert.equal(closed.code, 1001);
  assert.equal(closed.reason, "Your session hit the maximum duration of 2 minutes.");
});

Deno.test("startEngine() serves TLS when given a certificate", async () => {
  const dir = new URL("../fixtures/tls/", import.meta.url);
  await using engine = startEngine({
    hostname: "127.0.0.1",
    port: 0,
    cert: await Deno.readTextFile(new URL("cert.pem", dir)),
    key: await Deno.readTextFile(new URL("key.pem", dir)),
  });
  assert.match(engine.url, /^wss:\/\/127\.0\.0\.1:\d+\/v1\/realtime$/);
  const client = Deno.createHttpClient({
    caCerts: [await Deno.readTextFile(new URL("ca.pem", dir))],
  });
  const response = await fetch(engine.url.replace("wss", "https"), { client });
  assert.equal(response.status, 426);
  await response.body?.cancel();
  client.close();
});
