/**
 * A scripted fake of the provider seam (src/realtime/transport.ts): no sockets. A test opens,
 * confirms, feeds server events to and drops the transports a Bridge opens, and reads every
 * client operation the Bridge sent as the GA client event the OpenAI adapter would send.
 */
import type { ServerEvent } from "../../src/protocol/openai_realtime.ts";
import type {
  ClientEvent,
  ItemInput,
  ResponseParams,
} from "../../src/protocol/openai_realtime_client.ts";
import type { SessionOptions } from "../../src/realtime/session_config.ts";
import { gaClientEvent } from "../../src/realtime/openai_transport.ts";
import type {
  RealtimeProvider,
  RealtimeTransport,
  TransportClose,
  TransportListener,
  TransportState,
  Truncation,
  WarmTransport,
} from "../../src/realtime/transport.ts";

/** A client event as the fake recorded it, with the session the Bridge asked for. */
export type Sent = ClientEvent & { readonly options?: SessionOptions };

/** One fake session connection. */
export class FakeTransport implements RealtimeTransport {
  readonly index: number;
  readonly sent: Sent[] = [];
  /** How the Bridge closed it, if it did. */
  closedWith: { readonly code: number; readonly reason: string } | undefined;
  #state: TransportState = "connecting";
  #listener: TransportListener;
  #detached = false;
  readonly #closed = Promise.withResolvers<void>();
  readonly #onSend: (transport: FakeTransport, event: Sent) => void;

  constructor(
    listener: TransportListener,
    options: { readonly index: number; readonly onSend: (t: FakeTransport, e: Sent) => void },
  ) {
    this.#listener = listener;
    this.index = options.index;
    this.#onSend = options.onSend;
  }

  get state(): TransportState {
    return this.#state;
  }

  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** The types of the events sent, in order. */
  get types(): string[] {
    return this.sent.map((e) => e.type);
  }

  /** Sent events of one type. */
  ofType<T extends ClientEvent["type"]>(type: T): Extract<ClientEvent, { type: T }>[] {
    return this.sent.filter((e): e is Extract<Sent, { type: T }> => e.type === type);
  }

  // Script -----------------------------------------------------------------------------------

  /** The connection opens (and the service says `session.created`). */
  open(session: Record<string, unknown> = {}): void {
    this.#state = "open";
    this.#listener.onOpen();
    this.emit({ type: "session.created", session });
  }

  /** The service confirms the oldest configuration (`session.updated`). */
  confirm(): void {
    this.emit({ type: "session.updated", session: {} });
  }

  /** A server event reaches the listener (unless the Bridge closed this transport). */
  emit(event: ServerEvent): void {
    if (this.#detached) return;
    try {
      this.#listener.onEvent(event);
    } catch (error) {
      this.#listener.onListenerError(error, "message");
    }
  }

  /** The connection goes away without the Bridge asking. */
  drop(close: Partial<TransportClose> = {}): void {
    const opened = this.#state === "open";
    this.#state = "closed";
    this.#closed.resolve();
    if (this.#detached) return;
    this.#listener.onClose({ code: 1006, reason: "", opened, ...close });
  }

  // RealtimeTransport --------------------------------------------------------------------------

  attach(listener: TransportListener): void {
    this.#listener = listener;
  }

  appendAudio(base64: string): boolean {
    return this.#record({ type: "input_audio_buffer.append", audio: base64 });
  }

  commitAudio(eventId: string): boolean {
    return this.#record(gaClientEvent.commitAudio(eventId));
  }

  updateSession(session: SessionOptions, eventId: string): boolean {
    return this.#record({ ...gaClientEvent.updateSession(session, eventId), options: session });
  }

  addItem(item: ItemInput, eventId: string): boolean {
    return this.#record(gaClientEvent.addItem(item, eventId));
  }

  createResponse(response: ResponseParams | undefined, eventId: string): boolean {
    return this.#record(gaClientEvent.createResponse(response, eventId));
  }

  cancelResponse(responseId: string, eventId: string): boolean {
    return this.#record(gaClientEvent.cancelResponse(responseId, eventId));
  }

  truncate(truncation: Truncation, eventId: string): boolean {
    return this.#record(gaClientEvent.truncate(truncation, eventId));
  }

  close(code = 1000, reason = "OK"): void {
    this.#detached = true;
    if (this.#state === "closed") return;
    this.closedWith = { code, reason };
    this.#state = "closed";
    this.#closed.resolve();
  }

  #record(event: Sent): boolean {
    if (this.#state !== "open") return false;
    this.sent.push(event);
    this.#onSend(this, event);
    return true;
  }
}

/** A provider of fake transports; `warm` ones are handed out first. */
export class FakeProvider implements RealtimeProvider {
  readonly transports: FakeTransport[] = [];
  readonly warm: WarmTransport[] = [];
  /** Every event sent on any transport, in order (with the transport's index). */
  readonly log: { readonly index: number; readonly event: Sent }[] = [];
  /** Called on every send (e.g. to check an invariant at that moment). */
  onSend: ((transport: FakeTransport, event: Sent) => void) | undefined;
  /** Make connect() throw this (a bad URL). */
  refuse: Error | undefined;

  connect(listener: TransportListener): FakeTransport {
    if (this.refuse) throw this.refuse;
    const transport = new FakeTransport(listener, {
      index: this.transports.length,
      onSend: (t, event) => {
        this.log.push({ index: t.index, event });
        this.onSend?.(t, event);
      },
    });
    this.transports.push(transport);
    return transport;
  }

  takeWarm(): WarmTransport | undefined {
    return this.warm.shift();
  }

  /** The transport opened last. */
  get current(): FakeTransport {
    const last = this.transports.at(-1);
    if (!last) throw new RangeError("Cannot script a transport: none was opened");
    return last;
  }
}

/** GA server events, complete enough for the Bridge. */
export const server = {
  responseCreated: (id: string, conversation: string | null = "conv_1"): ServerEvent => ({
    type: "response.created",
    response: { id, status: "in_progress", conversation_id: conversation, output: [] },
  }),
  responseDone: (id: string, status = "completed"): ServerEvent => ({
    type: "response.done",
    response: { id, status, conversation_id: "conv_1", output: [] },
  }),
  audioDelta: (responseId: string, itemId: string, delta: string): ServerEvent => ({
    type: "response.output_audio.delta",
    response_id: responseId,
    item_id: itemId,
    output_index: 0,
    content_index: 0,
    delta,
  }),
  audioDone: (responseId: string, itemId: string): ServerEvent => ({
    type: "response.output_audio.done",
    response_id: responseId,
    item_id: itemId,
    output_index: 0,
    content_index: 0,
  }),
  transcriptDone: (responseId: string, itemId: string, transcript: string): ServerEvent => ({
    type: "response.output_audio_transcript.done",
    response_id: responseId,
    item_id: itemId,
    output_index: 0,
    content_index: 0,
    transcript,
  }),
  userTranscript: (itemId: string, transcript: string): ServerEvent => ({
    type: "conversation.item.input_audio_transcription.completed",
    item_id: itemId,
    transcript,
  }),
  speechStarted: (audioStartMs = 0): ServerEvent => ({
    type: "input_audio_buffer.speech_started",
    audio_start_ms: audioStartMs,
    item_id: "item_user",
  }),
  speechStopped: (audioEndMs = 0): ServerEvent => ({
    type: "input_audio_buffer.speech_stopped",
    audio_end_ms: audioEndMs,
    item_id: "item_user",
  }),
  committed: (itemId = "item_user"): ServerEvent => ({
    type: "input_audio_buffer.committed",
    item_id: itemId,
  }),
  error: (code: string, eventId?: string): ServerEvent => ({
    type: "error",
    error: {
      type: "invalid_request_error",
      code,
      message: `Refused: ${code}`,
      ...(eventId === undefined ? {} : { event_id: eventId }),
    },
  }),
} as const;
