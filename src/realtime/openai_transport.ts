/**
 * The OpenAI Realtime GA adapter behind the provider seam ({@linkcode RealtimeProvider}): each
 * operation becomes one typed GA client event (openai-realtime.md §3) on an {@linkcode Upstream}
 * (the `ws` client by default, which keeps TCP_NODELAY), and warm sessions come from an
 * {@linkcode UpstreamPool}. The local engine speaks the same wire, so it is served by this
 * adapter too.
 */
import type { Logger } from "../core/logger.ts";
import type { ClientEvent, ItemInput, ResponseParams } from "../protocol/openai_realtime_client.ts";
import type { SessionOptions } from "./session_config.ts";
import { sessionUpdate } from "./session_config.ts";
import type {
  RealtimeProvider,
  RealtimeTransport,
  TransportListener,
  TransportState,
  Truncation,
  WarmTransport,
} from "./transport.ts";
import type { UpstreamClient, UpstreamSocketFactory } from "./upstream.ts";
import { Upstream } from "./upstream.ts";
import type { WarmSource } from "./upstream_pool.ts";

/**
 * The GA client event of each transport operation but the audio append (pure). The adapter sends
 * these; the scripted fake transport of the Bridge tests records the very same.
 */
export const gaClientEvent = {
  commitAudio: (eventId: string): ClientEvent => ({
    type: "input_audio_buffer.commit",
    event_id: eventId,
  }),
  updateSession: (session: SessionOptions, eventId: string): ClientEvent => ({
    type: "session.update",
    event_id: eventId,
    session: sessionUpdate(session),
  }),
  addItem: (item: ItemInput, eventId: string): ClientEvent => ({
    type: "conversation.item.create",
    event_id: eventId,
    item,
  }),
  createResponse: (response: ResponseParams | undefined, eventId: string): ClientEvent =>
    response === undefined
      ? { type: "response.create", event_id: eventId }
      : { type: "response.create", event_id: eventId, response },
  cancelResponse: (responseId: string, eventId: string): ClientEvent => ({
    type: "response.cancel",
    event_id: eventId,
    response_id: responseId,
  }),
  truncate: (truncation: Truncation, eventId: string): ClientEvent => ({
    type: "conversation.item.truncate",
    event_id: eventId,
    item_id: truncation.itemId,
    content_index: truncation.contentIndex,
    audio_end_ms: truncation.audioEndMs,
  }),
};

/** One GA session on an {@linkcode Upstream}. */
export class OpenAiTransport implements RealtimeTransport {
  readonly #upstream: Upstream;

  constructor(upstream: Upstream) {
    this.#upstream = upstream;
  }

  /** The connection underneath (the pool and its tests hold it). */
  get upstream(): Upstream {
    return this.#upstream;
  }

  get state(): TransportState {
    return this.#upstream.state;
  }

  get closed(): Promise<void> {
    return this.#upstream.closed;
  }

  attach(listener: TransportListener): void {
    this.#upstream.attach(listener);
  }

  appendAudio(base64: string): boolean {
    // Base64 needs no JSON escaping: the frame is built without re-scanning the payload. No
    // event_id on this hot path: an error about an append needs none to be understood.
    return this.#upstream.sendRaw(`{"type":"input_audio_buffer.append","audio":"${base64}"}`);
  }

  commitAudio(eventId: string): boolean {
    return this.#send(gaClientEvent.commitAudio(eventId));
  }

  updateSession(session: SessionOptions, eventId: string): boolean {
    return this.#send(gaClientEvent.updateSession(session, eventId));
  }

  addItem(item: ItemInput, eventId: string): boolean {
    return this.#send(gaClientEvent.addItem(item, eventId));
  }

  createResponse(response: ResponseParams | undefined, eventId: string): boolean {
    return this.#send(gaClientEvent.createResponse(response, eventId));
  }

  cancelResponse(responseId: string, eventId: string): boolean {
    return this.#send(gaClientEvent.cancelResponse(responseId, eventId));
  }

  truncate(truncation: Truncation, eventId: string): boolean {
    return this.#send(gaClientEvent.truncate(truncation, eventId));
  }

  close(code = 1000, reason = "OK"): void {
    this.#upstream.close(code, reason);
  }

  #send(event: ClientEvent): boolean {
    return this.#upstream.send(event);
  }
}

/** Where an OpenAI GA provider connects. */
export interface OpenAiProviderOptions {
  /** Endpoint without query, e.g. `wss://api.openai.com/v1/realtime`. */
  readonly url: string;
  readonly model: string;
  readonly apiKey?: string;
  /** WebSocket client (default `"ws"`, which keeps TCP_NODELAY; `"native"` is Deno's). */
  readonly client?: UpstreamClient;
  /** Opens the socket instead of `client` (tests). */
  readonly socket?: UpstreamSocketFactory;
  /** Warm sessions to take instead of opening a connection. */
  readonly pool?: WarmSource;
  readonly log: Logger;
}

/** The OpenAI Realtime GA service (or the local engine) as a {@linkcode RealtimeProvider}. */
export function openAiProvider(options: OpenAiProviderOptions): RealtimeProvider {
  const { pool, log, ...target } = options;
  return {
    connect: (listener) => new OpenAiTransport(new Upstream({ ...target, log }, listener)),
    takeWarm: (): WarmTransport | undefined => {
      const warm = pool?.take();
      if (warm === undefined) return undefined;
      return {
        transport: new OpenAiTransport(warm.upstream),
        openedAt: warm.openedAt,
        expiresAt: warm.expiresAt,
      };
    },
  };
}
