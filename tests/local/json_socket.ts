/**
 * A JSON WebSocket client whose incoming messages can be awaited in order with cursor semantics:
 * `next()` skips what does not match, so engine tests can assert strict event order. (The shared
 * `tests/json_socket.ts` keeps unmatched messages for later reads instead.)
 */
/** A JSON WebSocket client whose incoming messages can be awaited in order. */
export class JsonSocket implements AsyncDisposable {
  readonly socket: WebSocket;
  readonly received: Record<string, unknown>[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<CloseEvent>;
  #cursor = 0;
  #waiters: (() => void)[] = [];

  constructor(url: string, options: { headers?: HeadersInit; protocols?: string[] } = {}) {
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
      this.received.push(JSON.parse(String(event.data)));
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

  /** Resolves with the next message (after the cursor) matching the predicate; skips others. */
  async next(
    match: string | ((m: Record<string, unknown>) => boolean) = () => true,
    timeoutMs = 5000,
  ): Promise<Record<string, unknown>> {
    const pred = typeof match === "string"
      ? (m: Record<string, unknown>) => m.type === match
      : match;
    const deadline = Date.now() + timeoutMs;
    while (true) {
      while (this.#cursor < this.received.length) {
        const m = this.received[this.#cursor++]!;
        if (pred(m)) return m;
      }
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

  /** Messages received so far after the cursor, without consuming them. */
  pending(): Record<string, unknown>[] {
    return this.received.slice(this.#cursor);
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
