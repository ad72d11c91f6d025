/**
 * A client that goes away while the gateway decides on its upgrade (here: a cap counted slowly, as
 * on a busy Redis) leaves Deno with a socket that never opens nor closes. The watchdog frees what
 * it holds: its cap slots and its place among the live sessions.
 */
import assert from "node:assert/strict";
import type { Slots } from "../../src/core/peer.ts";
import { localSlots } from "../../src/core/peer.ts";
import { serveUserApi } from "./user_server.ts";

/** Local slots that answer after `delayMs`, counting what is held. */
function slowSlots(delayMs: number): Slots & { held: () => number } {
  const inner = localSlots();
  let held = 0;
  return {
    async acquire(key, cap) {
      await new Promise((r) => setTimeout(r, delayMs));
      const ok = await inner.acquire(key, cap);
      if (ok) held++;
      return ok;
    },
    release(key) {
      held--;
      inner.release(key);
    },
    held: () => held,
  };
}

/** Sends a WebSocket upgrade request over raw TCP and hangs up at once. */
async function upgradeAndHangUp(port: number, path: string): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const request = [
    `GET ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
    "",
    "",
  ].join("\r\n");
  await conn.write(new TextEncoder().encode(request));
  conn.close();
}

async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test({
  name: "a client gone during admission frees its slots and session once the watchdog fires",
  // Deno keeps the stuck upgraded connection itself (its server shutdown would wait for it for
  // ever; listen() bounds that wait): that leftover is Deno's, not the gateway's.
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const slots = slowSlots(200);
  const server = serveUserApi({
    env: { REALTIME_OPEN_ROUTE: "true" },
    upstreamUrl: () => "ws://127.0.0.1:9/v1/realtime",
    slots,
    handshakeTimeoutMs: 400,
    shutdownTimeoutMs: 300,
  });
  await upgradeAndHangUp(server.port, "/api/v1/streaming/realtime/alice");
  // The admission completes after the client left: slots taken, a session registered…
  await until(() => server.user.connections.size === 1, "the upgrade");
  assert.equal(slots.held(), 2, "the peer's and the user's slot");
  // …and freed by the watchdog, since the socket never opens.
  await until(() => server.user.connections.size === 0, "the watchdog");
  assert.equal(slots.held(), 0);
  // Closing returns even though Deno still holds the stuck connection (unbounded, it never would).
  await server.close();
});
