import assert from "node:assert/strict";
import { silentLogger } from "../../src/core/logger.ts";
import type { ServerEvent } from "../../src/protocol/openai_realtime.ts";
import { ClientEvent, SessionPatch } from "../../src/protocol/openai_realtime_client.ts";
import { openAiProvider } from "../../src/realtime/openai_transport.ts";
import type { TransportClose, TransportListener } from "../../src/realtime/transport.ts";
import type { UpstreamSocketFactory, UpstreamSocketHandlers } from "../../src/realtime/upstream.ts";
import { Upstream } from "../../src/realtime/upstream.ts";
import type { WarmSource } from "../../src/realtime/upstream_pool.ts";
import { SESSION } from "../bridge/helpers.ts";

/** A socket the test drives: what was sent, and the handlers to script the far end. */
function scriptedSocket() {
  const frames: string[] = [];
  const opened: { url?: URL; headers?: Readonly<Record<string, string>> } = {};
  let handlers: UpstreamSocketHandlers | undefined;
  let open = false;
  const factory: UpstreamSocketFactory = (url, options) => {
    opened.url = url;
    opened.headers = options.headers;
    handlers = options.handlers;
    return {
      send: (text) => void frames.push(text),
      close: (code, reason) => {
        open = false;
        handlers!.close(code, reason);
      },
      get isOpen() {
        return open;
      },
    };
  };
  return {
    factory,
    frames,
    opened,
    open: () => {
      open = true;
      handlers!.open();
    },
    receive: (event: unknown) => handlers!.text(JSON.stringify(event)),
    fail: (failure: Parameters<UpstreamSocketHandlers["failure"]>[0]) => handlers!.failure(failure),
    close: (code: number) => {
      open = false;
      handlers!.close(code, "");
    },
  };
}

class Recorder implements TransportListener {
  opened = 0;
  readonly events: ServerEvent[] = [];
  closes: TransportClose[] = [];
  onOpen(): void {
    this.opened++;
  }
  onEvent(event: ServerEvent): void {
    this.events.push(event);
  }
  onClose(close: TransportClose): void {
    this.closes.push(close);
  }
  onListenerError(error: unknown): void {
    throw error;
  }
}

Deno.test("OpenAiTransport sends each operation as a valid GA client event", () => {
  const socket = scriptedSocket();
  const provider = openAiProvider({
    url: "wss://example.test/v1/realtime",
    model: "gpt-realtime",
    apiKey: "sk-test",
    socket: socket.factory,
    log: silentLogger(),
  });
  const listener = new Recorder();
  const transport = provider.connect(listener);
  assert.equal(socket.opened.url?.href, "wss://example.test/v1/realtime?model=gpt-realtime");
  assert.deepEqual(socket.opened.headers, { authorization: "Bearer sk-test" });
  assert.equal(transport.state, "connecting");
  assert.equal(transport.commitAudio("evt_0"), false, "nothing is sent before the socket opens");
  socket.open();
  assert.equal(transport.state, "open");
  assert.equal(listener.opened, 1);

  const sent = [
    transport.appendAudio("AAAA"),
    transport.commitAudio("evt_1"),
    transport.updateSession(SESSION, "evt_2"),
    transport.addItem({
      type: "message",
      role: "user",
      content: [{ type: "input_text", text: "hi" }],
    }, "evt_3"),
    transport.addItem({ type: "function_call_output", call_id: "call_1", output: "{}" }, "evt_4"),
    transport.createResponse(undefined, "evt_5"),
    transport.createResponse({ instructions: "Be brief", tool_choice: "none" }, "evt_6"),
    transport.cancelResponse("resp_1", "evt_7"),
    transport.truncate({ itemId: "item_1", contentIndex: 0, audioEndMs: 120 }, "evt_8"),
  ];
  assert.deepEqual(sent, Array(9).fill(true));
  const events = socket.frames.map((frame) => JSON.parse(frame));
  assert.deepEqual(events.map((e) => e.type), [
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "session.update",
    "conversation.item.create",
    "conversation.item.create",
    "response.create",
    "response.create",
    "response.cancel",
    "conversation.item.truncate",
  ]);
  for (const event of events) {
    const parsed = ClientEvent.safeParse(event);
    assert.ok(parsed.success, `${event.type}: ${parsed.error?.message}`);
  }
  assert.ok(SessionPatch.safeParse(events[2].session).success);
  // The audio append carries no event_id (the hot path); everything else names its event.
  assert.deepEqual(events[0], { type: "input_audio_buffer.append", audio: "AAAA" });
  assert.deepEqual(events.slice(1).map((e) => e.event_id), [
    "evt_1",
    "evt_2",
    "evt_3",
    "evt_4",
    "evt_5",
    "evt_6",
    "evt_7",
    "evt_8",
  ]);
  assert.deepEqual(events[8], {
    type: "conversation.item.truncate",
    event_id: "evt_8",
    item_id: "item_1",
    content_index: 0,
    audio_end_ms: 120,
  });

  socket.receive({ type: "session.created", session: {} });
  socket.receive({ type: "no.such.event" });
  assert.deepEqual(listener.events.map((e) => e.type), ["session.created"]);
  transport.close();
  assert.equal(transport.state, "closed");
  assert.deepEqual(listener.closes, [], "no onClose after close()");
});

Deno.test("OpenAiTransport reports why a connection never opened", () => {
  const socket = scriptedSocket();
  const provider = openAiProvider({
    url: "ws://127.0.0.1:1/v1/realtime",
    model: "m",
    socket: socket.factory,
    log: silentLogger(),
  });
  const listener = new Recorder();
  provider.connect(listener);
  assert.deepEqual(socket.opened.headers, {}, "no key: no authorization header");
  socket.fail({ kind: "http", status: 503 });
  socket.fail({ kind: "network", detail: "later" });
  socket.close(1006);
  assert.deepEqual(listener.closes, [
    { code: 1006, reason: "", opened: false, failure: { kind: "http", status: 503 } },
  ]);
});

Deno.test("openAiProvider() hands over warm sessions from the pool", () => {
  const socket = scriptedSocket();
  const upstream = new Upstream(
    {
      url: "ws://127.0.0.1:1/v1/realtime",
      model: "m",
      socket: socket.factory,
      log: silentLogger(),
    },
    new Recorder(),
  );
  socket.open();
  let taken = 0;
  const pool: WarmSource = {
    take: () => taken++ === 0 ? { upstream, openedAt: 5, expiresAt: 99 } : undefined,
  };
  const provider = openAiProvider({
    url: "ws://x/v1/realtime",
    model: "m",
    pool,
    log: silentLogger(),
  });
  const warm = provider.takeWarm?.();
  assert.ok(warm);
  assert.deepEqual({ openedAt: warm.openedAt, expiresAt: warm.expiresAt }, {
    openedAt: 5,
    expiresAt: 99,
  });
  const listener = new Recorder();
  warm.transport.attach(listener);
  socket.receive({ type: "session.updated", session: {} });
  assert.deepEqual(listener.events.map((e) => e.type), ["session.updated"]);
  assert.equal(provider.takeWarm?.(), undefined);
  warm.transport.close();
});
