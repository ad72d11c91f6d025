/**
 * An experiment, never the default: `deno run --preload` this into the gateway and its `ws://`
 * upstream sockets use {@linkcode NoDelayWebSocket} (Nagle's algorithm off) instead of Deno's
 * native client (Nagle on). `deno task bench --upstream-nodelay` uses it to measure what the
 * native client's socket option costs; `wss://` keeps the native client.
 */
import { NoDelayWebSocket } from "./ws_client.ts";

const Native = globalThis.WebSocket;
const Patched = new Proxy(Native, {
  construct(target, args: ConstructorParameters<typeof WebSocket>) {
    const [url, options] = args;
    if (new URL(url).protocol !== "ws:") return Reflect.construct(target, args);
    return new NoDelayWebSocket(url, options);
  },
});
Object.defineProperty(globalThis, "WebSocket", {
  value: Patched,
  writable: true,
  configurable: true,
});
