/**
 * One WebSocket connection of a {@linkcode VoiceSession} to the gateway: opens it, sends client
 * messages and audio, checks what the gateway sends with the protocol module's guards, and
 * matches answers to the waits for them.
 *
 * @module
 */
import { audioInputFrame, type ClientMessage, ServerMessage } from "../protocol/user_api.ts";
import type { Waiter } from "./deadline.ts";

/** Largest audio message sent: 2 s of model audio (128 KiB of base64), far below frame limits. */
const MAX_CHUNK_SAMPLES = 2 * 24000;

/** What a {@linkcode Connection} reports. */
export interface ConnectionListener {
  /** A valid gateway message (unknown types and shapes are ignored: newer gateways add some). */
  message(message: ServerMessage): void;
  /** A frame that is not JSON. */
  badFrame(): void;
  /** The socket closed; `opened` tells whether it ever opened. */
  close(code: number, reason: string, opened: boolean): void;
}

/** One socket to the gateway. */
export class Connection {
  readonly #socket: WebSocket;
  readonly #closed = Promise.withResolvers<void>();
  readonly #expected = new Map<string, Waiter<ServerMessage>[]>();
  #opened = false;

  /** Opens the socket (throws what the WebSocket constructor throws). */
  constructor(url: string, protocols: string[] | undefined, listener: ConnectionListener) {
    const socket = new WebSocket(url, protocols);
    this.#socket = socket;
    socket.onopen = () => this.#opened = true;
    socket.onmessage = (event: MessageEvent) => {
      if (typeof event.data !== "string") return;
      let value: unknown;
      try {
        value = JSON.parse(event.data);
      } catch {
        listener.badFrame();
        return;
      }
      if (ServerMessage(value)) listener.message(value);
    };
    socket.onclose = (event: CloseEvent) => {
      listener.close(event.code, event.reason, this.#opened);
      this.#closed.resolve();
    };
  }

  /** True while the socket is open. */
  get open(): boolean {
    return this.#socket.readyState === WebSocket.OPEN;
  }

  /** Resolves once the socket has closed (and the listener heard it). */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** Sends a message; dropped unless the socket is open. */
  send(message: ClientMessage): void {
    if (this.open) this.#socket.send(JSON.stringify(message));
  }

  /** Sends model-rate mono samples as audio messages of at most 2 s. */
  sendSamples(samples: Int16Array): void {
    if (!this.open) return;
    for (let offset = 0; offset < samples.length; offset += MAX_CHUNK_SAMPLES) {
      const part = samples.subarray(offset, offset + MAX_CHUNK_SAMPLES);
      this.#socket.send(
        audioInputFrame(new Uint8Array(part.buffer, part.byteOffset, part.byteLength).toBase64()),
      );
    }
  }

  /** Closes the socket unless it is closing already. */
  close(code: number, reason: string): void {
    if (this.#socket.readyState <= WebSocket.OPEN) this.#socket.close(code, reason);
  }

  /** Waits for the next message of a type; `ack` waits also fail on `invalid_message`. */
  expect(type: ServerMessage["type"], ack = false): Promise<ServerMessage> {
    const { promise, resolve, reject } = Promise.withResolvers<ServerMessage>();
    const key = ack ? `ack:${type}` : type;
    const list = this.#expected.get(key) ?? [];
    list.push({ resolve, reject });
    this.#expected.set(key, list);
    return promise;
  }

  /** Resolves the waits for `message`'s type. */
  settle(message: ServerMessage): void {
    for (const key of [message.type, `ack:${message.type}`]) {
      const list = this.#expected.get(key);
      if (!list) continue;
      this.#expected.delete(key);
      for (const waiter of list) waiter.resolve(message);
    }
  }

  /** Fails the acknowledgement waits: configuration goes one message at a time. */
  refuseAcks(error: unknown): void {
    for (const [key, list] of this.#expected) {
      if (!key.startsWith("ack:")) continue;
      this.#expected.delete(key);
      for (const waiter of list) waiter.reject(error);
    }
  }

  /** Fails every wait. */
  failAll(error: unknown): void {
    for (const list of this.#expected.values()) for (const waiter of list) waiter.reject(error);
    this.#expected.clear();
  }
}
