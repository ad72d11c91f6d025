import assert from "node:assert/strict";
import { systemClock } from "../../src/core/clock.ts";
import { silentLogger } from "../../src/core/logger.ts";
import type { JsonSocketHandlers } from "../../src/core/json_socket.ts";
import {
  CLOSE_INTERNAL_ERROR,
  CLOSE_TOO_BIG,
  frameTooBig,
  JsonSocketShell,
} from "../../src/core/json_socket.ts";
import { JsonSocket } from "../json_socket.ts";

type Out = { readonly type: string; readonly [key: string]: unknown };

/** Serves one shell per socket; `handlers` gets the shell and what to record into. */
function serveShell(
  handlers: (
    shell: JsonSocketShell<Out>,
    note: (item: string) => void,
  ) => Partial<JsonSocketHandlers<Out>>,
  options: { maxFrameBytes?: number; rateLimit?: number } = {},
) {
  const seen: string[] = [];
  const waits: { count: number; resolve: () => void }[] = [];
  const note = (item: string): void => {
    seen.push(item);
    for (const wait of waits) if (seen.length >= wait.count) wait.resolve();
  };
  /** Resolves once `count` things were seen. */
  const until = (count: number): Promise<void> => {
    if (seen.length >= count) return Promise.resolve();
    const { promise, resolve: done } = Promise.withResolvers<void>();
    waits.push({ count, resolve: done });
    return promise;
  };
  const { promise: closed, resolve } = Promise.withResolvers<void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    const shell = new JsonSocketShell<Out>(socket, {
      maxFrameBytes: options.maxFrameBytes ?? 1024,
      rateLimit: options.rateLimit ?? 100,
      clock: systemClock,
      log: silentLogger(),
      logLimits: { maxValueChars: 100, linesPerSecond: 10 },
    });
    const own = handlers(shell, note);
    shell.listen({
      text: (frame) => note(`text ${frame}`),
      binary: () => note("binary"),
      tooBig: () => ({ last: { type: "error", code: "too_big" }, reason: "too big" }),
      limited: () => note("limited"),
      fault: () => ({ last: { type: "error", code: "fault" }, code: 1011, reason: "fault" }),
      ...own,
      closed: () => {
        own.closed?.();
        resolve();
      },
    });
    return response;
  });
  return {
    url: `ws://127.0.0.1:${server.addr.port}/`,
    seen,
    until,
    closed,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

Deno.test("JsonSocketShell hands text and binary frames to the protocol", async () => {
  await using served = serveShell(() => ({}));
  await using client = new JsonSocket(served.url);
  client.send('{"type":"ping"}');
  await client.opened;
  client.socket.send(new Uint8Array([1, 2, 3]));
  client.send('{"type":"done"}');
  await served.until(3);
  assert.deepEqual(served.seen, ['text {"type":"ping"}', "binary", 'text {"type":"done"}']);
});

Deno.test("JsonSocketShell ends a connection with a frame over the size limit with 1009", async () => {
  await using served = serveShell(() => ({}), { maxFrameBytes: 16 });
  await using client = new JsonSocket(served.url);
  client.send(JSON.stringify({ type: "x".repeat(32) }));
  assert.deepEqual(await client.next(), { type: "error", code: "too_big" });
  const closed = await client.closed;
  assert.equal(closed.code, CLOSE_TOO_BIG);
  assert.equal(closed.reason, "too big");
  assert.deepEqual(served.seen, []);
});

Deno.test("JsonSocketShell contains a handler's exception: that connection ends as the protocol says", async () => {
  await using served = serveShell((_shell, note) => ({
    text: (frame) => {
      note(frame);
      throw new TypeError("bug");
    },
    fault: (error, where) => {
      note(`fault ${where} ${(error as Error).message}`);
      return {
        last: { type: "error", code: "internal" },
        code: CLOSE_INTERNAL_ERROR,
        reason: "oops",
      };
    },
  }));
  await using client = new JsonSocket(served.url);
  client.send('{"type":"boom"}');
  assert.deepEqual(await client.next(), { type: "error", code: "internal" });
  assert.equal((await client.closed).code, CLOSE_INTERNAL_ERROR);
  await served.closed;
  assert.deepEqual(served.seen, ['{"type":"boom"}', "fault frame bug"]);
});

Deno.test("JsonSocketShell goes on after a fault the protocol lets pass", async () => {
  await using served = serveShell((shell, note) => ({
    text: (frame) => {
      if (frame === "bad") throw new RangeError("bad frame");
      shell.send({ type: "echo", frame });
    },
    fault: () => {
      note("fault");
      return undefined;
    },
  }));
  await using client = new JsonSocket(served.url);
  client.send("bad");
  client.send("good");
  assert.deepEqual(await client.next(), { type: "echo", frame: "good" });
  assert.deepEqual(served.seen, ["fault"]);
});

Deno.test("JsonSocketShell drops frames over the rate limit unread", async () => {
  await using served = serveShell(() => ({}), { rateLimit: 2 });
  await using client = new JsonSocket(served.url);
  for (let i = 0; i < 4; i++) client.send(`{"n":${i}}`);
  await served.until(4);
  assert.deepEqual(served.seen, ['text {"n":0}', 'text {"n":1}', "limited", "limited"]);
});

Deno.test("JsonSocketShell runs closing once and sends nothing after close", async () => {
  await using served = serveShell((shell, note) => ({
    text: () => {
      shell.close(1000, "bye");
      shell.close(1000, "bye again");
      shell.send({ type: "late" });
    },
    closing: () => note("closing"),
  }));
  await using client = new JsonSocket(served.url);
  client.send("{}");
  const closed = await client.closed;
  assert.equal(closed.code, 1000);
  assert.equal(closed.reason, "bye");
  assert.deepEqual(client.received, []);
  await served.closed;
  assert.deepEqual(served.seen, ["closing"]);
});

Deno.test("frameTooBig() measures text in UTF-8 bytes and binary by length", () => {
  const cases: [unknown, number, boolean][] = [
    ["abcd", 4, false],
    ["abcde", 4, true],
    ["éé", 3, true],
    ["éé", 4, false],
    [new ArrayBuffer(8), 8, false],
    [new ArrayBuffer(9), 8, true],
    [new Uint8Array(9), 8, true],
    [new Blob(["123456789"]), 8, true],
  ];
  for (const [data, limit, expected] of cases) assert.equal(frameTooBig(data, limit), expected);
});
