/**
 * Server events of one engine session on their way out (§4): each gets an `event_id` and goes
 * out as one JSON text frame, while the socket is open; errors are logged too.
 */
import type { Logger } from "../core/logger.ts";
import type { WireError } from "./errors.ts";

/** Sends a session's server events on its socket. */
export class EventSink {
  readonly #socket: WebSocket;
  readonly #newId: (prefix: string) => string;
  readonly #log: Logger;

  constructor(socket: WebSocket, options: { newId(prefix: string): string; log: Logger }) {
    this.#socket = socket;
    this.#newId = options.newId;
    this.#log = options.log;
  }

  /** Sends `{ type, event_id, ...fields }`; nothing once the socket is no longer open. */
  emit(type: string, fields: Record<string, unknown>): void {
    if (this.#socket.readyState !== WebSocket.OPEN) return;
    this.#socket.send(JSON.stringify({ type, event_id: this.#newId("event"), ...fields }));
  }

  /** Sends an `error` event (§4.1). */
  error(error: WireError): void {
    this.#log.debug({ code: error.code, param: error.param }, "Sent error event");
    this.emit("error", { error });
  }
}
