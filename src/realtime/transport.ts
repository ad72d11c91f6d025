/**
 * The provider seam: what a Bridge needs of a realtime speech-to-speech session, whatever
 * serves it. A {@linkcode RealtimeProvider} opens {@linkcode RealtimeTransport}s (or hands over
 * warm ones); a transport sends the client operations and reports the GA server events
 * ({@linkcode ServerEvent}, the common vocabulary every adapter translates into), its opening,
 * its close and why it failed.
 *
 * The policy (turns, barge-in, reconnects, recycling, replay) stays in the Bridge; a transport
 * only carries one session's connection. The OpenAI GA adapter is `openai_transport.ts`; a test
 * drives the Bridge on a scripted fake (tests/bridge/fake_transport.ts).
 */
import type { ServerEvent } from "../protocol/openai_realtime.ts";
import type { ItemInput, ResponseParams } from "../protocol/openai_realtime_client.ts";
import type { SessionOptions } from "./session_config.ts";

/** Why a connection never opened, as far as the client can tell. */
export type TransportFailure =
  | { readonly kind: "refused" }
  | { readonly kind: "http"; readonly status: number }
  | { readonly kind: "network"; readonly detail: string };

/** How a connection ended. */
export interface TransportClose {
  readonly code: number;
  readonly reason: string;
  /** The connection had opened. */
  readonly opened: boolean;
  /** Set when the connection failed before it opened and the client said why. */
  readonly failure?: TransportFailure;
}

/** Where a transport reports; nothing is called after {@linkcode RealtimeTransport.close}. */
export interface TransportListener {
  /** The connection is open: the session may be configured. */
  onOpen(): void;
  /** A server event (GA vocabulary). */
  onEvent(event: ServerEvent): void;
  /** The connection closed without our asking (or never opened). */
  onClose(close: TransportClose): void;
  /** A listener threw inside a transport callback (`where`: the callback). */
  onListenerError(error: unknown, where: "open" | "message" | "close"): void;
}

/** Connection state of a transport. */
export type TransportState = "connecting" | "open" | "closed";

/** Where to cut an assistant item's audio (barge-in: what the caller heard). */
export interface Truncation {
  readonly itemId: string;
  readonly contentIndex: number;
  /** Milliseconds of the item's audio kept; a whole number ≥ 0. */
  readonly audioEndMs: number;
}

/**
 * One session's connection. Every operation returns false when it could not be sent (not
 * open); `eventId` names the client event so that a server `error` can point back at it.
 */
export interface RealtimeTransport {
  readonly state: TransportState;
  /** Resolves once the connection is fully closed (owners must not leak it). */
  readonly closed: Promise<void>;
  /** Hands the connection to a new listener (a warm session taken by a call). */
  attach(listener: TransportListener): void;
  /** Caller audio, base64 in the session's input format (the hot path: no event id). */
  appendAudio(base64: string): boolean;
  /** Commits the buffered caller audio as a user turn (manual turns). */
  commitAudio(eventId: string): boolean;
  /** Configures the session. */
  updateSession(session: SessionOptions, eventId: string): boolean;
  /** Adds an item to the conversation (a text message, a function call's output). */
  addItem(item: ItemInput, eventId: string): boolean;
  /** Asks for a response, with per-response overrides if any. */
  createResponse(response: ResponseParams | undefined, eventId: string): boolean;
  /** Cancels a response still being generated. */
  cancelResponse(responseId: string, eventId: string): boolean;
  /** Cuts an assistant item's audio (and its transcript) to what was heard. */
  truncate(truncation: Truncation, eventId: string): boolean;
  /** Closes the connection; the listener is not called again. */
  close(code?: number, reason?: string): void;
}

/** A session opened and configured ahead of need (a warm pool). */
export interface WarmTransport {
  readonly transport: RealtimeTransport;
  /** When it opened and when the service will end it (monotonic ms). */
  readonly openedAt: number;
  readonly expiresAt: number;
}

/** Opens transports to one realtime service. */
export interface RealtimeProvider {
  /**
   * Opens a connection reporting to `listener`. Throws (`TypeError`) on options no retry can
   * mend, such as a bad URL.
   */
  connect(listener: TransportListener): RealtimeTransport;
  /** A warm session, if the provider keeps any ready (open, created, configured). */
  takeWarm?(): WarmTransport | undefined;
}
