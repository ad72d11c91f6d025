/**
 * The connection of a simulated VAIC, shared by the simulator (`CallCore`) and the
 * bench's calls (`../bench/caller.ts`): the socket and whether it opened and closed, waits that
 * the owner's socket handlers wake, JSON sends while open, and the hang-up (§0.7: `session.end`,
 * then the gateway closes the socket; a client that waited in vain closes it itself).
 *
 * What each client does with the bot's messages stays its own: the simulator checks every one
 * against the protocol (zod), the bench only reads what it measures, at a hundred calls.
 */
import type { Clock } from "../../core/clock.ts";
import type { VaicMessage } from "../../protocol/audiocodes.ts";

/** The part of a WebSocket a VAIC connection uses (the runtime's, or the bench's NODELAY one). */
export interface VaicSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** The reply a request awaits: `session.accepted`, `userStream.started`, `userStream.stopped`. */
export type Pending = "accepted" | "started" | "stopped";

/** How a VAIC connection hangs up. */
export interface HangUpOptions {
  /** Sends `session.end`; omitted when the call must not send it (or cannot). */
  readonly sendEnd: (() => void) | undefined;
  /** How long the gateway may take to close after `session.end`. */
  readonly lingerMs: number;
  /** How long the socket may take to close after we close it. */
  readonly timeoutMs: number;
}

/** A VAIC client's socket and its waits. */
export class VaicConnection<S extends VaicSocket = WebSocket> {
  readonly clock: Clock;
  socket: S | undefined;
  opened = false;
  closed = false;
  readonly waiters: Set<() => void> = new Set();
  /** The reply a request awaits; the owner's message handler clears it when the reply comes. */
  pending: Pending | undefined;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** Re-checks every wait (the owner calls it when anything arrives, opens or closes). */
  wake(): void {
    if (this.waiters.size === 0) return;
    for (const waiter of [...this.waiters]) waiter();
  }

  /** Resolves true once `done()` holds, false after `ms` (a timer of 0 still yields a turn). */
  until(done: () => boolean, ms: number): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (value: boolean) => {
        if (timer !== undefined) this.clock.clearTimeout(timer);
        this.waiters.delete(check);
        resolve(value);
      };
      const check = () => {
        if (done()) finish(true);
      };
      // No timer for an endless wait: setTimeout would treat Infinity as 0.
      const timer = Number.isFinite(ms)
        ? this.clock.setTimeout(() => finish(done()), Math.min(Math.max(0, ms), 2 ** 31 - 1))
        : undefined;
      this.waiters.add(check);
    });
  }

  /** Sends a message as JSON; false (nothing sent) when the socket is not open. */
  sendJson(message: VaicMessage): boolean {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(message));
    return true;
  }

  /**
   * Sends a request (`send`) and waits for its reply, for `stop()`, or `timeoutMs`; true when the
   * reply came (`pending` is then cleared; after a timeout it still names the request).
   */
  async request(
    pending: Pending,
    send: () => void,
    options: { readonly timeoutMs: number; readonly stop: () => boolean },
  ): Promise<boolean> {
    this.pending = pending;
    send();
    await this.until(() => this.pending !== pending || options.stop(), options.timeoutMs);
    return this.pending !== pending;
  }

  /**
   * Hangs up: `session.end` (when `sendEnd` is given) and a wait for the gateway to close the
   * socket; then, if it is still open, closes it and waits for the close.
   */
  async hangUp(options: HangUpOptions): Promise<void> {
    const socket = this.socket;
    if (!socket) return;
    if (options.sendEnd && !this.closed) {
      options.sendEnd();
      await this.until(() => this.closed, options.lingerMs);
    }
    if (!this.closed) {
      try {
        socket.close(1000, "call ended");
      } catch { /* already closing */ }
      await this.until(() => this.closed, options.timeoutMs);
    }
  }
}
