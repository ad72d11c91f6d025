/**
 * The transport to an OpenAI Realtime GA endpoint (or the local engine): a native `WebSocket`
 * client with `Authorization: Bearer`, text frames only, parsed with the tolerant schemas.
 */
import type { Logger } from "../core/logger.ts";
import type { ServerEvent } from "./events.ts";
import { parseServerEvent } from "./events.ts";

/** Where and how to connect. */
export interface UpstreamOptions {
  /** Endpoint without query, e.g. `wss://api.openai.com/v1/realtime`. */
  readonly url: string;
  readonly model: string;
  /** Sent as `Authorization: Bearer`; omitted for the local engine when unset. */
  readonly apiKey?: string;
  readonly log: Logger;
}

/** Callbacks of one upstream connection. */
export interface UpstreamListener {
  onOpen(): void;
  onEvent(event: ServerEvent): void;
  /** The socket closed; `expected` is true when we closed it ourselves. */
  onClose(code: number, reason: string, expected: boolean): void;
}

/** Connection state of an {@linkcode Upstream}. */
export type UpstreamState = "connecting" | "open" | "closed";

/** One upstream WebSocket. */
export class Upstream {
  readonly #socket: WebSocket;
  readonly #log: Logger;
  #closing = false;
  #state: UpstreamState = "connecting";

  constructor(options: UpstreamOptions, listener: UpstreamListener) {
    this.#log = options.log;
    const url = new URL(options.url);
    url.searchParams.set("model", options.model);
    this.#socket = options.apiKey === undefined
      ? new WebSocket(url)
      : new WebSocket(url, { headers: { authorization: `Bearer ${options.apiKey}` } });
    this.#socket.addEventListener("open", () => {
      this.#state = "open";
      listener.onOpen();
    });
    this.#socket.addEventListener("message", (message: MessageEvent) => {
      if (typeof message.data !== "string") return;
      const parsed = parseServerEvent(message.data);
      if (parsed.known) {
        listener.onEvent(parsed.event);
      } else if (parsed.error) {
        this.#log.warn({ type: parsed.type, error: parsed.error }, "Ignored bad upstream event");
      }
    });
    this.#socket.addEventListener("close", (event: CloseEvent) => {
      this.#state = "closed";
      listener.onClose(event.code, event.reason, this.#closing);
    });
    this.#socket.addEventListener("error", () => {
      // A close event always follows.
    });
  }

  /** Current state. */
  get state(): UpstreamState {
    return this.#state;
  }

  /** Sends a client event; returns false if the socket is not open. */
  send(event: Record<string, unknown>): boolean {
    return this.sendRaw(JSON.stringify(event));
  }

  /** Sends an already serialised client event. */
  sendRaw(text: string): boolean {
    if (this.#state !== "open") return false;
    this.#socket.send(text);
    return true;
  }

  /** Closes the socket normally. */
  close(code = 1000, reason = "OK"): void {
    this.#closing = true;
    if (this.#state !== "closed") {
      try {
        this.#socket.close(code, reason);
      } catch {
        // Already closing.
      }
    }
  }
}
