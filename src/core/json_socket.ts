/**
 * The one shell around every JSON WebSocket we serve (the AudioCodes Bot API, the user realtime
 * API): it owns the listeners (open, message, close, error), the frame size guard, the message
 * rate limit, the close codes, the per-socket log bound and error containment — an exception in
 * a handler fails this connection only, with the protocol's own last word. What a frame means,
 * and what is said when the connection fails, is the protocol's ({@linkcode JsonSocketHandlers}).
 */
import type { Clock } from "./clock.ts";
import type { Logger } from "./logger.ts";
import type { BoundedLogger, LogLimits } from "./bounded_log.ts";
import { boundedLogger } from "./bounded_log.ts";
import type { Bucket } from "./rate_limit.ts";
import { fullBucket, take } from "./rate_limit.ts";

/** WebSocket close code: a normal close, e.g. a session ended by a limit (RFC 6455 §7.4.1). */
export const CLOSE_NORMAL = 1000;
/** WebSocket close code: the server is going away (shutdown, drain) (§7.4.1). */
export const CLOSE_GOING_AWAY = 1001;
/** WebSocket close code: a policy violation, e.g. no call in time, a message flood (§7.4.1). */
export const CLOSE_POLICY = 1008;
/** WebSocket close code: a frame over the size limit (§7.4.1). */
export const CLOSE_TOO_BIG = 1009;
/** WebSocket close code: a fault in the gateway, or the model gone for good (§7.4.1). */
export const CLOSE_INTERNAL_ERROR = 1011;

/** How a connection ends: the protocol's last message to the peer, if any, then a close. */
export interface SocketEnd<Out> {
  readonly last?: Out;
  readonly code: number;
  readonly reason: string;
}

/** What a protocol does with its socket; each runs inside the shell's error containment. */
export interface JsonSocketHandlers<Out> {
  /** The socket opened. */
  open?(): void;
  /** A frame arrived, before any check (idle clocks, latency stamps). */
  received?(): void;
  /** A text frame within the size and rate limits. */
  text(frame: string): void;
  /** A binary frame within the limits (our protocols speak JSON text frames only). */
  binary(): void;
  /** A frame over the size limit: the protocol's last word; the shell closes with 1009. */
  tooBig(limit: number): Omit<SocketEnd<Out>, "code">;
  /** A frame over the message rate limit, dropped unread. */
  limited(): void;
  /** An exception in a handler: how the protocol ends the connection, or undefined to go on. */
  fault(error: unknown, where: string): SocketEnd<Out> | undefined;
  /** We close the connection: runs once, at once, before the close frame is sent. */
  closing?(): void;
  /** The socket closed, whichever side closed it. */
  closed(): void;
}

/** Options of a {@linkcode JsonSocketShell}. */
export interface JsonSocketOptions {
  /** Largest frame accepted, in bytes (UTF-8 for text). */
  readonly maxFrameBytes: number;
  /** Messages per second (burst: one second's worth); more are dropped unread. */
  readonly rateLimit: number;
  readonly clock: Clock;
  /** Where the socket's log lines go, bounded by `logLimits`. */
  readonly log: Logger;
  readonly logLimits: Omit<LogLimits, "now">;
}

/** One served JSON WebSocket: sends, closes, and contains the faults of its handlers. */
export class JsonSocketShell<Out> {
  /** The socket's log: values cut and lines rate-limited, so one socket cannot flood it. */
  readonly log: BoundedLogger;
  readonly #socket: WebSocket;
  readonly #options: JsonSocketOptions;
  #handlers: JsonSocketHandlers<Out> | undefined;
  #bucket: Bucket;
  #closing = false;

  constructor(socket: WebSocket, options: JsonSocketOptions) {
    this.#socket = socket;
    this.#options = options;
    const { clock } = options;
    this.log = boundedLogger(options.log, { ...options.logLimits, now: () => clock.monotonic() });
    this.#bucket = fullBucket(options.rateLimit, clock.monotonic());
  }

  /** True once we close the connection or it closed: nothing more goes out or comes in. */
  get closing(): boolean {
    return this.#closing;
  }

  /** Wires the socket's listeners to the protocol's handlers (once). */
  listen(handlers: JsonSocketHandlers<Out>): void {
    if (this.#handlers) throw new TypeError("Cannot listen: the socket already has handlers");
    this.#handlers = handlers;
    const socket = this.#socket;
    socket.addEventListener("open", () => this.guard("start", () => handlers.open?.()));
    socket.addEventListener("message", (event: MessageEvent) => {
      this.guard("frame", () => this.#frame(handlers, event.data));
    });
    socket.addEventListener("close", () => {
      this.#closing = true;
      try {
        handlers.closed();
      } catch {
        // The socket is gone either way; what its handler did not finish cannot be helped.
      } finally {
        this.log.flush();
      }
    });
    socket.addEventListener("error", () => {
      // The close event follows; nothing else to do.
    });
  }

  /** Sends a message as JSON text, while the connection is open. */
  send(message: Out): void {
    this.sendText(JSON.stringify(message));
  }

  /** Sends an already serialised frame (hot paths build audio frames themselves). */
  sendText(frame: string): void {
    if (!this.#closing && this.#socket.readyState === WebSocket.OPEN) this.#socket.send(frame);
  }

  /** Closes the connection (the protocol's `closing` runs first, once). */
  close(code: number, reason: string): void {
    if (!this.#closing) {
      this.#closing = true;
      this.#handlers?.closing?.();
    }
    const socket = this.#socket;
    if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) {
      socket.close(code, reason);
    }
  }

  /** Sends the last message, if any, then closes, whatever the send did. */
  end(end: SocketEnd<Out>): void {
    try {
      if (end.last !== undefined) this.send(end.last);
    } finally {
      this.close(end.code, end.reason);
    }
  }

  /**
   * Runs `task` unless the connection is closing; an exception in it ends this connection as
   * the protocol says (`fault`), never the process or another connection.
   */
  guard<T>(where: string, task: () => T): T | undefined {
    if (this.#closing) return undefined;
    try {
      return task();
    } catch (error) {
      this.#fail(error, where);
      return undefined;
    }
  }

  #fail(error: unknown, where: string): void {
    let end: SocketEnd<Out> | undefined;
    try {
      end = this.#handlers?.fault(error, where);
    } catch {
      // The protocol's own failure path failed: close all the same.
      end = { code: CLOSE_INTERNAL_ERROR, reason: "internal error" };
    }
    if (end) this.end(end);
  }

  #frame(handlers: JsonSocketHandlers<Out>, data: unknown): void {
    handlers.received?.();
    const { maxFrameBytes } = this.#options;
    if (frameTooBig(data, maxFrameBytes)) {
      this.end({ ...handlers.tooBig(maxFrameBytes), code: CLOSE_TOO_BIG });
      return;
    }
    if (this.#limited()) {
      handlers.limited();
      return;
    }
    if (typeof data === "string") handlers.text(data);
    else handlers.binary();
  }

  /** Over the rate limit: the frame is dropped, cheaply, unparsed. */
  #limited(): boolean {
    const { rateLimit, clock } = this.#options;
    const allowed = take(this.#bucket, { perSecond: rateLimit, now: clock.monotonic() });
    this.#bucket = allowed.bucket;
    return !allowed.allowed;
  }
}

/** Whether a frame is over `limit` bytes (text: its UTF-8 length). */
export function frameTooBig(data: unknown, limit: number): boolean {
  if (data instanceof ArrayBuffer) return data.byteLength > limit;
  if (data instanceof Blob) return data.size > limit;
  if (ArrayBuffer.isView(data)) return data.byteLength > limit;
  if (typeof data !== "string") return false;
  // UTF-16 length is at most the UTF-8 byte count; encode only when it could matter.
  if (data.length > limit) return true;
  if (data.length * 3 <= limit) return false;
  return new TextEncoder().encode(data).byteLength > limit;
}
