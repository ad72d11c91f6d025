import assert from "node:assert/strict";
import { silentLogger } from "../../src/core/logger.ts";
import type { ServerEvent } from "../../src/protocol/openai_realtime.ts";
import type {
  UpstreamClient,
  UpstreamClose,
  UpstreamListener,
} from "../../src/realtime/upstream.ts";
import { Upstream } from "../../src/realtime/upstream.ts";
import { closedPort, ScriptedUpstream, Signal } from "../bridge/helpers.ts";

/** A listener that records everything and can be told to throw. */
class Recorder implements UpstreamListener {
  readonly events: ServerEvent[] = [];
  readonly errors: { error: unknown; where: string }[] = [];
  opened = false;
  close: UpstreamClose | undefined;
  throwOn: ServerEvent["type"] | undefined;
  onEach: ((event: ServerEvent) => void) | undefined;
  readonly signal = new Signal();

  onOpen(): void {
    this.opened = true;
    this.signal.wake();
  }

  onEvent(event: ServerEvent): void {
    this.events.push(event);
    this.signal.wake();
    this.onEach?.(event);
    if (event.type === this.throwOn) throw new TypeError(`Cannot handle ${event.type}`);
  }

  onClose(close: UpstreamClose): void {
    this.close = close;
    this.signal.wake();
  }

  onListenerError(error: unknown, where: "open" | "message" | "close"): void {
    this.errors.push({ error, where });
    this.signal.wake();
  }
}

const CLIENTS: readonly UpstreamClient[] = ["ws", "native"];

Deno.test("Upstream hands a listener's exception to onListenerError and goes on", async (t) => {
  for (const client of CLIENTS) {
    await t.step(client, async () => {
      await using server = new ScriptedUpstream({
        onEvent: (connection) => {
          connection.send({ type: "session.updated", session: {} });
          connection.send({ type: "session.updated", session: {} });
        },
      });
      const recorder = new Recorder();
      recorder.throwOn = "session.created";
      const upstream = new Upstream(
        { url: server.url, model: "m", log: silentLogger(), client },
        recorder,
      );
      await recorder.signal.until(() => recorder.errors.length > 0, "the listener error");
      assert.equal(recorder.errors[0]!.where, "message");
      assert.match(String(recorder.errors[0]!.error), /TypeError: Cannot handle session.created/);
      // The socket still works.
      upstream.send({ type: "session.update", session: {} });
      await recorder.signal.until(() => recorder.events.length === 3, "two more events");
      upstream.close();
      await upstream.closed;
      assert.equal(recorder.close, undefined, "no onClose after close()");
    });
  }
});

Deno.test("Upstream calls no listener after close(), even for frames already received", async (t) => {
  for (const client of CLIENTS) {
    await t.step(client, async () => {
      await using server = new ScriptedUpstream({
        onEvent: (connection) => {
          for (let i = 0; i < 20; i++) connection.send({ type: "session.updated", session: {} });
        },
      });
      const recorder = new Recorder();
      const upstream = new Upstream(
        { url: server.url, model: "m", log: silentLogger(), client },
        recorder,
      );
      recorder.onEach = (event) => {
        if (event.type === "session.updated") upstream.close();
      };
      await recorder.signal.until(() => recorder.opened, "open");
      upstream.send({ type: "session.update", session: {} });
      await recorder.signal.until(
        () => recorder.events.some((e) => e.type === "session.updated"),
        "the first session.updated",
      );
      await upstream.closed;
      assert.deepEqual(recorder.events.map((e) => e.type), ["session.created", "session.updated"]);
      assert.equal(recorder.close, undefined);
      assert.equal(upstream.state, "closed");
      assert.equal(upstream.send({ type: "input_audio_buffer.commit" }), false);
    });
  }
});

Deno.test("Upstream reports why a connection never opened", async (t) => {
  await using unauthorized = new ScriptedUpstream({
    refuse: () => new Response("no", { status: 401 }),
  });
  const refusedUrl = `ws://127.0.0.1:${closedPort()}/v1/realtime`;
  const cases = [
    { client: "ws", url: refusedUrl, failure: { kind: "refused" } },
    { client: "ws", url: unauthorized.url, failure: { kind: "http", status: 401 } },
    // Deno's client says only "tcp connect error" for a refusal.
    {
      client: "native",
      url: refusedUrl,
      failure: { kind: "network", detail: "tcp connect error" },
    },
    { client: "native", url: unauthorized.url, failure: { kind: "http", status: 401 } },
  ] as const;
  for (const c of cases) {
    await t.step(`${c.client}: ${JSON.stringify(c.failure)}`, async () => {
      const recorder = new Recorder();
      const upstream = new Upstream(
        { url: c.url, model: "m", log: silentLogger(), client: c.client },
        recorder,
      );
      await recorder.signal.until(() => recorder.close !== undefined, "the close");
      await upstream.closed;
      assert.equal(recorder.close!.opened, false);
      assert.deepEqual(recorder.close!.failure, c.failure);
    });
  }
});

Deno.test("Upstream reports the close code of an open connection", async () => {
  await using server = new ScriptedUpstream({
    onEvent: (connection) => connection.close(1011, "overloaded"),
  });
  const recorder = new Recorder();
  const upstream = new Upstream({ url: server.url, model: "m", log: silentLogger() }, recorder);
  await recorder.signal.until(() => recorder.opened, "open");
  upstream.send({ type: "session.update", session: {} });
  await recorder.signal.until(() => recorder.close !== undefined, "the close");
  assert.deepEqual(recorder.close, { code: 1011, reason: "overloaded", opened: true });
});
