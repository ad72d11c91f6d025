/**
 * A watchdog for upgraded sockets that never open. When the client's connection goes away while
 * the server is still deciding (a cap counted on Redis, a JWT being verified), Deno 2.9.6 still
 * upgrades, and the socket then stays CONNECTING for good: no `open`, `error` or `close` event, and
 * `close()` only moves it to CLOSING. Whatever the socket holds (cap slots, a registry entry)
 * would leak. This gives such a socket `timeoutMs` to open, then calls `onStuck` once.
 */
import type { Clock } from "./clock.ts";

/** Longest wait for an upgraded socket to open (the 101 is already written: it opens at once). */
export const HANDSHAKE_TIMEOUT_MS = 5000;

/** Calls `onStuck` if `socket` has not opened (nor closed) within `timeoutMs`. */
export function watchHandshake(
  socket: WebSocket,
  options: { readonly clock: Clock; readonly timeoutMs?: number; readonly onStuck: () => void },
): void {
  const { clock, onStuck } = options;
  const timer = clock.setTimeout(() => {
    socket.removeEventListener("open", settled);
    socket.removeEventListener("close", settled);
    if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CLOSED) return;
    try {
      socket.close();
    } catch {
      // Not open: nothing to close.
    }
    onStuck();
  }, options.timeoutMs ?? HANDSHAKE_TIMEOUT_MS);
  const settled = (): void => {
    clock.clearTimeout(timer);
    socket.removeEventListener("open", settled);
    socket.removeEventListener("close", settled);
  };
  socket.addEventListener("open", settled);
  socket.addEventListener("close", settled);
}
