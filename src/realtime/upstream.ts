/**
 * The transport to an OpenAI Realtime GA endpoint (or the local engine): one WebSocket with
 * `Authorization: Bearer`, text frames only, parsed with the tolerant schemas.
 *
 * Two clients sit behind it: the `ws` npm client (default) and Deno's native `WebSocket`. The
 * default is `ws` because Deno's native client clears `TCP_NODELAY` (ARCHITECTURE.md,
 * amendment 1) and because it reports why a handshake failed (refused, HTTP status), which the
 * native client only hints at in an error message.
 *
 * Fault containment: no exception from a listener leaves a socket callback; it goes to
 * {@linkcode UpstreamListener.onListenerError}. After {@linkcode Upstream.close} no listener is
 * called again, so frames already queued on the socket never reach the caller.
 */
// @ts-types="@types/ws"
import WsWebSocket from "ws";
import type { Logger } from "../core/logger.ts";
import type { ServerEvent } from "../protocol/openai_realtime.ts";
import { parseServerEvent } from "../protocol/openai_realtime.ts";

/** Which WebSocket client opens the connection. */
export type UpstreamClient = "ws" | "native";

/** Where and how to connect. */
export interface UpstreamOptions {
  /** Endpoint without query, e.g. `wss://api.openai.com/v1/realtime`. */
  readonly url: string;
  readonly model: string;
  /** Sent as `Authorization: Bearer`; omitted for the local engine when unset. */
  readonly apiKey?: string;
  readonly log: Logger;
  /** `"ws"` (default: keeps TCP_NODELAY, reports HTTP statuses) or Deno's `"native"` client. */
  readonly client?: UpstreamClient;
}

/** Why a connection never opened, as far as the client can tell. */
export type UpstreamFailure =
  | { readonly kind: "refused" }
  | { readonly kind: "http"; readonly status: number }
  | { readonly kind: "network"; readonly detail: string };

/** How a connection ended. */
export interface UpstreamClose {
  readonly code: number;
  readonly reason: string;
  /** The WebSocket handshake had completed. */
  readonly opened: boolean;
  /** Set when the connection failed before it opened and the client said why. */
  readonly failure?: UpstreamFailure;
}

/** Callbacks of one upstream connection; none is called after {@linkcode Upstream.close}. */
export interface UpstreamListener {
  onOpen(): void;
  onEvent(event: ServerEvent): void;
  /** The socket closed without our asking. */
  onClose(close: UpstreamClose): void;
  /** A listener threw inside a socket callback (`where`: the socket event). */
  onListenerError(error: unknown, where: "open" | "message" | "close"): void;
}

/** Connection state of an {@linkcode Upstream}. */
export type UpstreamState = "connecting" | "open" | "closed";

/** The little the Upstream needs of either client. */
interface Socket {
  send(text: string): void;
  close(code: number, reason: string): void;
}

const WS_OPEN = 1;

/** One upstream WebSocket. */
export class Upstream {
  readonly #socket: Socket;
  readonly #log: Logger;
  #listener: UpstreamListener;
  /** Set by close(): the listener hears nothing more. */
  #detached = false;
  #opened = false;
  #failure: UpstreamFailure | undefined;
  #state: UpstreamState = "connecting";
  readonly #closed = Promise.withResolvers<void>();
  readonly #isOpen: () => boolean;

  constructor(options: UpstreamOptions, listener: UpstreamListener) {
    this.#log = options.log;
    this.#listener = listener;
    const url = new URL(options.url);
    url.searchParams.set("model", options.model);
    const headers: Record<string, string> = options.apiKey === undefined
      ? {}
      : { authorization: `Bearer ${options.apiKey}` };
    if ((options.client ?? "ws") === "ws") {
      const socket = new WsWebSocket(url, { headers, perMessageDeflate: false });
      this.#socket = socket;
      this.#isOpen = () => socket.readyState === WS_OPEN;
      socket.on("open", () => this.#onOpen());
      socket.on("message", (data, isBinary) => {
        if (!isBinary) this.#onMessage(data.toString());
      });
      socket.on("unexpected-response", (_request, response) => {
        this.#failure = { kind: "http", status: response.statusCode ?? 0 };
        response.resume();
        // With this listener ws leaves the handshake to us: abort it (close 1006 follows).
        socket.terminate();
      });
      socket.on("error", (error: Error & { code?: string }) => {
        // A close always follows; remember why it failed before the handshake.
        if (this.#opened || this.#failure) return;
        this.#failure = error.code === "ECONNREFUSED"
          ? { kind: "refused" }
          : { kind: "network", detail: error.code ?? "error" };
      });
      socket.on("close", (code, reason) => this.#onClose(code, reason.toString()));
    } else {
      const socket = Object.keys(headers).length === 0
        ? new WebSocket(url)
        : new WebSocket(url, { headers });
      this.#socket = socket;
      this.#isOpen = () => socket.readyState === WebSocket.OPEN;
      socket.addEventListener("open", () => this.#onOpen());
      socket.addEventListener("message", (message: MessageEvent) => {
        if (typeof message.data === "string") this.#onMessage(message.data);
      });
      socket.addEventListener("error", (event: Event) => {
        if (this.#opened || this.#failure) return;
        this.#failure = nativeFailure(event instanceof ErrorEvent ? event.message : "");
      });
      socket.addEventListener("close", (event: CloseEvent) => {
        this.#onClose(event.code, event.reason);
      });
    }
  }

  /**
   * Hands the connection to a new owner (a warm pool gives it to a call): every later callback
   * goes to `listener`. Throws after {@linkcode Upstream.close}.
   */
  attach(listener: UpstreamListener): void {
    if (this.#detached) throw new TypeError("Cannot attach a listener: the upstream is closed");
    this.#listener = listener;
  }

  /** Current state. */
  get state(): UpstreamState {
    return this.#state;
  }

  /** Resolves once the socket is fully closed (for owners that must not leak it). */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** Sends a client event; returns false if the socket is not open. */
  send(event: Record<string, unknown>): boolean {
    return this.sendRaw(JSON.stringify(event));
  }

  /** Sends an already serialised client event; returns false if the socket is not open. */
  sendRaw(text: string): boolean {
    if (this.#state !== "open" || !this.#isOpen()) return false;
    try {
      this.#socket.send(text);
      return true;
    } catch {
      // Closing under us: the close event reports it.
      return false;
    }
  }

  /** Closes the socket normally; the listener is not called again. */
  close(code = 1000, reason = "OK"): void {
    this.#detached = true;
    if (this.#state === "closed") return;
    try {
      this.#socket.close(code, reason);
    } catch {
      // Already closing.
    }
  }

  #onOpen(): void {
    this.#state = "open";
    this.#opened = true;
    this.#guard("open", () => this.#listener.onOpen());
  }

  #onMessage(text: string): void {
    if (this.#detached) return;
    this.#guard("message", () => {
      const parsed = parseServerEvent(text);
      if (parsed.known) {
        this.#listener.onEvent(parsed.event);
      } else if (parsed.error) {
        this.#log.warn({ type: parsed.type, error: parsed.error }, "Ignored bad upstream event");
      }
    });
  }

  #onClose(code: number, reason: string): void {
    this.#state = "closed";
    this.#closed.resolve();
    const close: UpstreamClose = {
      code,
      reason,
      opened: this.#opened,
      ...(this.#failure ? { failure: this.#failure } : {}),
    };
    this.#guard("close", () => this.#listener.onClose(close));
  }

  #guard(where: "open" | "message" | "close", body: () => void): void {
    if (this.#detached) return;
    try {
      body();
    } catch (error) {
      try {
        this.#listener.onListenerError(error, where);
      } catch (again) {
        this.#log.error(
          { where, err: again instanceof Error ? again.stack : String(again) },
          "Upstream listener failed while handling its own error",
        );
      }
    }
  }
}

/** What Deno's native client tells about a failed handshake, in its error message. */
function nativeFailure(message: string): UpstreamFailure {
  const status = /status code:? (\d{3})/i.exec(message);
  if (status) return { kind: "http", status: Number(status[1]) };
  if (/refused/i.test(message)) return { kind: "refused" };
  // "failed to connect to WebSocket: tcp connect error" — refused or unreachable, unknown which.
  const detail = message.replace(/^.*failed to connect to WebSocket:\s*/i, "").trim();
  return { kind: "network", detail: detail || "error" };
}
