/**
 * The connection under the OpenAI GA adapter (`openai_transport.ts`) and the warm pool: one
 * WebSocket to a Realtime GA endpoint (or the local engine) with `Authorization: Bearer`, text
 * frames only, parsed with the tolerant schemas.
 *
 * Two clients sit behind it: the `ws` npm client (default) and Deno's native `WebSocket`. The
 * default is `ws` because Deno's native client clears `TCP_NODELAY` (ARCHITECTURE.md,
 * amendment 1) and because it reports why a handshake failed (refused, HTTP status), which the
 * native client only hints at in an error message. Tests may inject a socket of their own
 * (`socket`).
 *
 * Fault containment: no exception from a listener leaves a socket callback; it goes to
 * {@linkcode UpstreamListener.onListenerError}. After {@linkcode Upstream.close} no listener is
 * called again, so frames already queued on the socket never reach the caller.
 */
// @ts-types="./ws_client.d.ts"
import WsWebSocket from "ws";
import type { Logger } from "../core/logger.ts";
import { parseServerEvent } from "../protocol/openai_realtime.ts";
import type { ClientEvent } from "../protocol/openai_realtime_client.ts";
import type {
  TransportClose,
  TransportFailure,
  TransportListener,
  TransportState,
} from "./transport.ts";

/** Which WebSocket client opens the connection. */
export type UpstreamClient = "ws" | "native";

/** What a WebSocket client reports, the same for either client. */
export interface UpstreamSocketHandlers {
  open(): void;
  /** A text frame (binary frames are not part of the protocol and are dropped). */
  text(data: string): void;
  /** Why the handshake failed, if the client can tell; a close follows. */
  failure(failure: UpstreamFailure): void;
  close(code: number, reason: string): void;
}

/** The little the Upstream needs of a WebSocket client. */
export interface UpstreamSocket {
  send(text: string): void;
  close(code: number, reason: string): void;
  /** The client's own view: the connection is open. */
  readonly isOpen: boolean;
}

/** Opens a WebSocket client reporting to `handlers` (injectable: tests pass a scripted one). */
export type UpstreamSocketFactory = (
  url: URL,
  options: {
    readonly headers: Readonly<Record<string, string>>;
    readonly handlers: UpstreamSocketHandlers;
  },
) => UpstreamSocket;

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
  /** Opens the socket instead of `client` (tests). */
  readonly socket?: UpstreamSocketFactory;
}

/** Why a connection never opened, as far as the client can tell. */
export type UpstreamFailure = TransportFailure;

/** How a connection ended. */
export type UpstreamClose = TransportClose;

/** Callbacks of one upstream connection; none is called after {@linkcode Upstream.close}. */
export type UpstreamListener = TransportListener;

/** Connection state of an {@linkcode Upstream}. */
export type UpstreamState = TransportState;

const WS_OPEN = 1;

/** The `ws` npm client: keeps TCP_NODELAY, no compression, reports HTTP statuses. */
export function wsSocket(
  url: URL,
  { headers, handlers }: Parameters<UpstreamSocketFactory>[1],
): UpstreamSocket {
  const socket = new WsWebSocket(url, { headers: { ...headers }, perMessageDeflate: false });
  socket.on("open", () => handlers.open());
  socket.on("message", (data, isBinary) => {
    if (!isBinary) handlers.text(data.toString());
  });
  socket.on("unexpected-response", (_request, response) => {
    handlers.failure({ kind: "http", status: response.statusCode ?? 0 });
    response.resume();
    // With this listener ws leaves the handshake to us: abort it (close 1006 follows).
    socket.terminate();
  });
  socket.on("error", (error: Error & { code?: string }) => {
    // A close always follows; the failure is kept only if it came before the handshake.
    handlers.failure(
      error.code === "ECONNREFUSED"
        ? { kind: "refused" }
        : { kind: "network", detail: error.code ?? "error" },
    );
  });
  socket.on("close", (code, reason) => handlers.close(code, reason.toString()));
  return {
    send: (text) => socket.send(text),
    close: (code, reason) => socket.close(code, reason),
    get isOpen() {
      return socket.readyState === WS_OPEN;
    },
  };
}

/** Deno's native client (clears TCP_NODELAY: ARCHITECTURE.md, amendment 1). */
export function nativeSocket(
  url: URL,
  { headers, handlers }: Parameters<UpstreamSocketFactory>[1],
): UpstreamSocket {
  const socket = Object.keys(headers).length === 0
    ? new WebSocket(url)
    : new WebSocket(url, { headers: { ...headers } });
  socket.addEventListener("open", () => handlers.open());
  socket.addEventListener("message", (message: MessageEvent) => {
    if (typeof message.data === "string") handlers.text(message.data);
  });
  socket.addEventListener("error", (event: Event) => {
    handlers.failure(nativeFailure(event instanceof ErrorEvent ? event.message : ""));
  });
  socket.addEventListener("close", (event: CloseEvent) => {
    handlers.close(event.code, event.reason);
  });
  return {
    send: (text) => socket.send(text),
    close: (code, reason) => socket.close(code, reason),
    get isOpen() {
      return socket.readyState === WebSocket.OPEN;
    },
  };
}

/** One upstream WebSocket. */
export class Upstream {
  readonly #socket: UpstreamSocket;
  readonly #log: Logger;
  #listener: UpstreamListener;
  /** Set by close(): the listener hears nothing more. */
  #detached = false;
  #opened = false;
  #failure: UpstreamFailure | undefined;
  #state: UpstreamState = "connecting";
  readonly #closed = Promise.withResolvers<void>();

  constructor(options: UpstreamOptions, listener: UpstreamListener) {
    this.#log = options.log;
    this.#listener = listener;
    const url = new URL(options.url);
    url.searchParams.set("model", options.model);
    const headers: Record<string, string> = options.apiKey === undefined
      ? {}
      : { authorization: `Bearer ${options.apiKey}` };
    const open = options.socket ?? ((options.client ?? "ws") === "ws" ? wsSocket : nativeSocket);
    this.#socket = open(url, {
      headers,
      handlers: {
        open: () => this.#onOpen(),
        text: (data) => this.#onMessage(data),
        failure: (failure) => {
          // The first reason before the handshake wins; later errors say less.
          if (!this.#opened && !this.#failure) this.#failure = failure;
        },
        close: (code, reason) => this.#onClose(code, reason),
      },
    });
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
  send(event: ClientEvent): boolean {
    return this.sendRaw(JSON.stringify(event));
  }

  /** Sends an already serialised client event; returns false if the socket is not open. */
  sendRaw(text: string): boolean {
    if (this.#state !== "open" || !this.#socket.isOpen) return false;
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
