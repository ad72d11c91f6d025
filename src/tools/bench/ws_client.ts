/**
 * A small WebSocket client (RFC 6455, `ws://` only, text and close/ping/pong frames) over
 * `Deno.connect` with `TCP_NODELAY` set.
 *
 * Why: Deno 2.9's native `WebSocket` client clears `TCP_NODELAY` on its socket (seen with
 * `strace`), so Nagle's algorithm holds a small frame while an earlier one is unacknowledged,
 * and a peer that delays its ACKs turns that into stalls of 10–40 ms. The bench's own clients
 * (the simulated VAIC, the tap's leg to the engine) must not add such delays to what they
 * measure. It implements the part of the `WebSocket` interface the gateway and the bench use.
 */
import { concatBytes } from "../../audio/pcm.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A `WebSocket` look-alike for `ws://` URLs whose TCP socket has Nagle's algorithm off. */
export class NoDelayWebSocket extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;

  readonly url: string;
  readonly protocol = "";
  readonly extensions = "";
  binaryType: BinaryType = "arraybuffer";
  #state = 0;
  #conn: Deno.TcpConn | undefined;
  #queue: Uint8Array[] = [];
  #writing = false;
  #closeSent = false;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #closed: { code: number; reason: string; wasClean: boolean } | undefined;
  #handlers: Record<string, ((event: Event) => void) | null> = {};

  constructor(url: string | URL, options?: string | string[] | { headers?: HeadersInit }) {
    super();
    const target = new URL(url);
    if (target.protocol !== "ws:") {
      throw new SyntaxError(`Cannot open ${target.href}: only ws:// URLs are supported`);
    }
    this.url = target.href;
    const headers = new Headers(
      typeof options === "object" && !Array.isArray(options) ? options.headers : undefined,
    );
    void this.#connect(target, headers);
  }

  get readyState(): number {
    return this.#state;
  }

  get bufferedAmount(): number {
    return this.#queue.reduce((n, b) => n + b.byteLength, 0);
  }

  get onopen(): ((event: Event) => void) | null {
    return this.#handlers.open ?? null;
  }
  set onopen(handler: ((event: Event) => void) | null) {
    this.#handlers.open = handler;
  }
  get onmessage(): ((event: MessageEvent) => void) | null {
    return this.#handlers.message ?? null;
  }
  set onmessage(handler: ((event: MessageEvent) => void) | null) {
    this.#handlers.message = handler as ((event: Event) => void) | null;
  }
  get onclose(): ((event: CloseEvent) => void) | null {
    return this.#handlers.close ?? null;
  }
  set onclose(handler: ((event: CloseEvent) => void) | null) {
    this.#handlers.close = handler as ((event: Event) => void) | null;
  }
  get onerror(): ((event: Event) => void) | null {
    return this.#handlers.error ?? null;
  }
  set onerror(handler: ((event: Event) => void) | null) {
    this.#handlers.error = handler;
  }

  #emit(event: Event): void {
    this.#handlers[event.type]?.call(this, event);
    this.dispatchEvent(event);
  }

  /** Sends a text frame (other data is sent as binary). */
  send(data: string | ArrayBufferLike | ArrayBufferView): void {
    if (this.#state === 0) throw new DOMException("readyState not OPEN", "InvalidStateError");
    if (this.#state !== 1) return;
    if (typeof data === "string") this.#frame(0x1, encoder.encode(data));
    else if (ArrayBuffer.isView(data)) {
      this.#frame(0x2, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    } else this.#frame(0x2, new Uint8Array(data));
  }

  /** Starts the closing handshake. */
  close(code = 1000, reason = ""): void {
    if (this.#state >= 2) return;
    if (this.#state === 0) {
      this.#state = 2;
      return;
    }
    this.#state = 2;
    this.#sendClose(code, reason);
    // A peer that never answers the close frame must not keep the socket open.
    this.#closeTimer = setTimeout(() => this.#finish(code, reason, false), 2000);
  }

  #sendClose(code: number, reason: string): void {
    if (this.#closeSent) return;
    this.#closeSent = true;
    const text = encoder.encode(reason);
    const payload = new Uint8Array(2 + text.byteLength);
    payload[0] = code >> 8;
    payload[1] = code & 0xff;
    payload.set(text, 2);
    this.#frame(0x8, payload);
  }

  #frame(opcode: number, payload: Uint8Array): void {
    const n = payload.byteLength;
    const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
    const frame = new Uint8Array(head + 4 + n);
    frame[0] = 0x80 | opcode;
    if (n < 126) frame[1] = 0x80 | n;
    else if (n < 65536) {
      frame[1] = 0x80 | 126;
      frame[2] = n >> 8;
      frame[3] = n & 0xff;
    } else {
      frame[1] = 0x80 | 127;
      new DataView(frame.buffer).setBigUint64(2, BigInt(n));
    }
    const mask = frame.subarray(head, head + 4);
    crypto.getRandomValues(mask);
    for (let i = 0; i < n; i++) frame[head + 4 + i] = payload[i]! ^ mask[i & 3]!;
    this.#write(frame);
  }

  #write(bytes: Uint8Array): void {
    this.#queue.push(bytes);
    if (!this.#writing) void this.#drainWrites();
  }

  async #drainWrites(): Promise<void> {
    const conn = this.#conn;
    if (!conn) return;
    this.#writing = true;
    try {
      while (this.#queue.length > 0) {
        const parts = this.#queue;
        this.#queue = [];
        let bytes = parts[0]!;
        if (parts.length > 1) {
          bytes = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
          let offset = 0;
          for (const part of parts) {
            bytes.set(part, offset);
            offset += part.byteLength;
          }
        }
        let written = 0;
        while (written < bytes.byteLength) written += await conn.write(bytes.subarray(written));
      }
    } catch {
      this.#fail();
    } finally {
      this.#writing = false;
    }
  }

  async #connect(url: URL, headers: Headers): Promise<void> {
    try {
      const conn = await Deno.connect({
        hostname: url.hostname.replace(/^\[|\]$/g, ""),
        port: Number(url.port || 80),
      });
      conn.setNoDelay(true);
      this.#conn = conn;
      if (this.#state !== 0) {
        conn.close();
        return this.#finish(1006, "", false);
      }
      const key = crypto.getRandomValues(new Uint8Array(16)).toBase64();
      const lines = [
        `GET ${url.pathname}${url.search} HTTP/1.1`,
        `Host: ${url.host}`,
        "Upgrade: websocket",
        "Connection: Upgrade",
        `Sec-WebSocket-Key: ${key}`,
        "Sec-WebSocket-Version: 13",
      ];
      headers.forEach((value, name) => lines.push(`${name}: ${value}`));
      this.#write(encoder.encode(`${lines.join("\r\n")}\r\n\r\n`));
      const expected = new Uint8Array(
        await crypto.subtle.digest("SHA-1", encoder.encode(key + GUID)),
      ).toBase64();
      await this.#read(expected);
    } catch {
      this.#fail();
    }
  }

  async #read(expectedAccept: string): Promise<void> {
    const conn = this.#conn!;
    let buffer = new Uint8Array(65536);
    let length = 0;
    let handshaken = false;
    let fragments: Uint8Array[] = [];
    let fragmentOpcode = 0;
    while (this.#closed === undefined) {
      if (length === buffer.length) {
        const grown = new Uint8Array(buffer.length * 2);
        grown.set(buffer);
        buffer = grown;
      }
      const n = await conn.read(buffer.subarray(length)).catch(() => null);
      if (n === null) return this.#finish(1006, "", false);
      length += n;
      let offset = 0;
      if (!handshaken) {
        const end = indexOfHeaderEnd(buffer, length);
        if (end < 0) continue;
        const head = decoder.decode(buffer.subarray(0, end));
        const accept = head.match(/^sec-websocket-accept:\s*(\S+)/im)?.[1];
        if (!/^HTTP\/1\.1 101 /.test(head) || accept !== expectedAccept) return this.#fail();
        handshaken = true;
        offset = end + 4;
        if (this.#state === 0) {
          this.#state = 1;
          this.#emit(new Event("open"));
        }
      }
      // Parse every complete frame in the buffer.
      while (length - offset >= 2) {
        const b0 = buffer[offset]!, b1 = buffer[offset + 1]!;
        let size = b1 & 0x7f;
        let at = offset + 2;
        if (size === 126) {
          if (length - at < 2) break;
          size = (buffer[at]! << 8) | buffer[at + 1]!;
          at += 2;
        } else if (size === 127) {
          if (length - at < 8) break;
          size = Number(new DataView(buffer.buffer, at, 8).getBigUint64(0));
          at += 8;
        }
        const masked = (b1 & 0x80) !== 0;
        const maskAt = at;
        if (masked) at += 4;
        if (length - at < size) break;
        const payload = buffer.slice(at, at + size);
        if (masked) {
          for (let i = 0; i < size; i++) payload[i]! ^= buffer[maskAt + (i & 3)]!;
        }
        offset = at + size;
        const opcode = b0 & 0x0f;
        const fin = (b0 & 0x80) !== 0;
        if (opcode === 0x8) {
          const code = size >= 2 ? (payload[0]! << 8) | payload[1]! : 1005;
          const reason = size > 2 ? decoder.decode(payload.subarray(2)) : "";
          this.#sendClose(code === 1005 ? 1000 : code, "");
          this.#state = 2;
          // Let the close frame go out before the socket closes.
          while (this.#writing || this.#queue.length > 0) {
            await new Promise((resolve) => setTimeout(resolve, 0));
          }
          return this.#finish(code, reason, true);
        }
        if (opcode === 0x9) {
          this.#frame(0xa, payload);
          continue;
        }
        if (opcode === 0xa) continue;
        if (opcode === 0x0) fragments.push(payload);
        else {
          fragmentOpcode = opcode;
          fragments = [payload];
        }
        if (!fin) continue;
        const whole = fragments.length === 1 ? fragments[0]! : concatBytes(fragments);
        fragments = [];
        if (this.#state !== 1) continue;
        const data = fragmentOpcode === 0x1 ? decoder.decode(whole) : whole.buffer;
        this.#emit(new MessageEvent("message", { data, origin: this.url }));
      }
      buffer.copyWithin(0, offset, length);
      length -= offset;
    }
  }

  #fail(): void {
    if (this.#closed) return;
    this.#emit(new Event("error"));
    this.#finish(1006, "", false);
  }

  #finish(code: number, reason: string, wasClean: boolean): void {
    if (this.#closed) return;
    this.#closed = { code, reason, wasClean };
    this.#state = 3;
    clearTimeout(this.#closeTimer);
    try {
      this.#conn?.close();
    } catch { /* closed */ }
    this.#emit(new CloseEvent("close", { code, reason, wasClean }));
  }
}

function indexOfHeaderEnd(buffer: Uint8Array, length: number): number {
  for (let i = 0; i + 3 < length; i++) {
    if (
      buffer[i] === 13 && buffer[i + 1] === 10 && buffer[i + 2] === 13 && buffer[i + 3] === 10
    ) return i;
  }
  return -1;
}
