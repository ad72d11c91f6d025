/** A JSON WebSocket client for tests; it loads nothing of the gateway. */

/**
 * Waits in tests are upper bounds, never assertions: they are stretched on a loaded machine
 * (CI shares two cores) by this factor, `TEST_TIMEOUT_SCALE` (default 3).
 */
export const TIMEOUT_SCALE = Number(Deno.env.get("TEST_TIMEOUT_SCALE") ?? "3");

/** Options of a {@linkcode JsonSocket}. */
export interface JsonSocketOptions {
  headers?: HeadersInit;
  protocols?: string[];
  /**
   * What {@linkcode JsonSocket.next} does with the unread messages before the one it returns:
   * `"keep"` them for later reads (default), or `"skip"` them, reading strictly in order (the
   * engine tests assert the order of events this way).
   */
  unmatched?: "keep" | "skip";
}

/** A JSON WebSocket client whose incoming messages can be awaited in order. */
export class JsonSocket implements AsyncDisposable {
  readonly socket: WebSocket;
  readonly received: Record<string, unknown>[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<CloseEvent>;
  #unread: Record<string, unknown>[] = [];
  #waiters: (() => void)[] = [];
  readonly #skip: boolean;

  constructor(url: string, options: JsonSocketOptions = {}) {
    this.#skip = options.unmatched === "skip";
    this.socket = options.headers
      ? new WebSocket(url, { headers: options.headers, protocols: options.protocols })
      : new WebSocket(url, options.protocols);
    this.opened = new Promise((resolve, reject) => {
      this.socket.addEventListener("open", () => resolve(), { once: true });
      this.socket.addEventListener(
        "error",
        (e) => reject(new Error(`WebSocket error: ${String((e as ErrorEvent).message ?? "")}`)),
        { once: true },
      );
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) =>
      this.socket.addEventListener("close", (e) => {
        resolve(e);
        this.#wake();
      }, { once: true })
    );
    this.socket.addEventListener("message", (event) => {
      const message = JSON.parse(String(event.data));
      this.received.push(message);
      this.#unread.push(message);
      this.#wake();
    });
  }

  #wake() {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Sends now, or as soon as the socket opens. */
  send(message: unknown): void {
    const frame = typeof message === "string" ? message : JSON.stringify(message);
    if (this.socket.readyState === WebSocket.CONNECTING) {
      this.opened.then(() => this.socket.send(frame), () => {});
    } else {
      this.socket.send(frame);
    }
  }

  /**
   * Resolves with the oldest unread message matching the predicate and marks it read; the
   * others stay unread for later calls, or (`unmatched: "skip"`) those before it are read too.
   */
  async next(
    match: string | ((m: Record<string, unknown>) => boolean) = () => true,
    timeoutMs = 5000,
  ): Promise<Record<string, unknown>> {
    const pred = typeof match === "string"
      ? (m: Record<string, unknown>) => m.type === match
      : match;
    const deadline = Date.now() + timeoutMs * TIMEOUT_SCALE;
    while (true) {
      const index = this.#unread.findIndex(pred);
      if (index >= 0) {
        return this.#skip
          ? this.#unread.splice(0, index + 1)[index]!
          : this.#unread.splice(index, 1)[0]!;
      }
      if (this.#skip) this.#unread.length = 0;
      if (this.socket.readyState === WebSocket.CLOSED) {
        throw new Error(
          `Socket closed while waiting for ${typeof match === "string" ? match : "a message"}`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`Timed out waiting for ${typeof match === "string" ? match : "a message"}`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** Reads and returns every unread message. */
  drain(): Record<string, unknown>[] {
    return this.#unread.splice(0);
  }

  /** Unread messages, without reading them. */
  pending(): Record<string, unknown>[] {
    return [...this.#unread];
  }

  async close(code = 1000): Promise<void> {
    if (
      this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING
    ) {
      try {
        this.socket.close(code);
      } catch { /* already closing */ }
    }
    await this.closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
