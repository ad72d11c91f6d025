/**
 * A small browser client of the user realtime API for the voice page: opens the socket (the
 * open `{user_id}` route, or the authenticated route with a `bearer.<token>` subprotocol),
 * sends the seed's messages and the extensions, and hands parsed server messages to a callback.
 */
import type { ClientMessage, ServerMessage } from "../../user/messages.ts";

/** Where and how to connect. */
export interface ConnectOptions {
  /** Page origin, e.g. `https://gateway.example.com`. */
  readonly origin: string;
  /** A user id for the open route; ignored when a token is given. */
  readonly userId: string;
  /** A token for the authenticated route. */
  readonly token?: string;
}

/** Connection state of the page. */
export type ConnectionStatus = "idle" | "connecting" | "connected" | "closed" | "error";

/** Callbacks of a {@linkcode RealtimeClient}. */
export interface ClientListener {
  onStatus(status: ConnectionStatus, detail?: string): void;
  onMessage(message: ServerMessage, raw: string): void;
  onSent(message: ClientMessage): void;
}

/** The WebSocket URL of the API for an origin. */
export function realtimeUrl(options: ConnectOptions): string {
  const base = options.origin.replace(/^http/, "ws") + "/api/v1/streaming/realtime";
  return options.token ? base : `${base}/${encodeURIComponent(options.userId)}`;
}

/** One socket to the API. */
export class RealtimeClient {
  readonly #socket: WebSocket;
  readonly #listener: ClientListener;
  #opened = false;

  constructor(options: ConnectOptions, listener: ClientListener) {
    this.#listener = listener;
    const protocols = options.token ? ["realtime", `bearer.${options.token}`] : undefined;
    this.#socket = new WebSocket(realtimeUrl(options), protocols);
    listener.onStatus("connecting");
    this.#socket.onopen = () => {
      this.#opened = true;
      listener.onStatus("connected");
    };
    this.#socket.onmessage = (event: MessageEvent) => {
      if (typeof event.data !== "string") return;
      let message: ServerMessage;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      listener.onMessage(message, event.data);
    };
    this.#socket.onclose = (event: CloseEvent) => {
      if (!this.#opened) {
        // Browsers do not show why an upgrade was refused: name the usual reasons.
        listener.onStatus(
          "error",
          "Cannot connect: the gateway refused the connection (a wrong token, too many open sessions, or a page origin the gateway does not allow)",
        );
      } else if (event.code === 1000 || event.code === 1005) {
        listener.onStatus("closed");
      } else {
        listener.onStatus(
          "error",
          `Connection closed (${event.code}${event.reason ? `: ${event.reason}` : ""})`,
        );
      }
    };
  }

  /** True while the socket is open. */
  get open(): boolean {
    return this.#socket.readyState === WebSocket.OPEN;
  }

  /** Sends one message; dropped when the socket is not open. */
  send(message: ClientMessage): void {
    if (!this.open) return;
    this.#socket.send(JSON.stringify(message));
    this.#listener.onSent(message);
  }

  /** Sends a chunk of microphone audio (not reported to `onSent`: too chatty). */
  sendAudio(base64: string): void {
    if (!this.open) return;
    this.#socket.send(
      `{"type":"conversation.item.input","conversation_item_input":{"type":"input_audio_buffer","audio":"${base64}"}}`,
    );
  }

  /** Closes normally. */
  close(): void {
    if (this.#socket.readyState <= WebSocket.OPEN) this.#socket.close(1000, "bye");
  }
}
