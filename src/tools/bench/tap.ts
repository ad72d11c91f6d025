/**
 * The benchmark's wire tap: a WebSocket proxy that the gateway takes for OpenAI. Every frame is
 * forwarded untouched, first; then the few the benchmark needs are noted with the time they
 * passed (appends out of the gateway; audio deltas, `speech_started` and `session.updated` into
 * it). An upstream session is tied to its call by the tag the gateway wrote into the session's
 * instructions from the call's data.
 */
import type { CallProbe } from "./probe.ts";
import type { Recorder } from "./recorder.ts";
import { APPEND_PREFIX } from "./probe.ts";
import { NoDelayWebSocket } from "./ws_client.ts";

/** Finds the tag in a session.update; the bench's INSTRUCTIONS template puts it there. */
export const TAG_PATTERN = /bench-\d+-\d+/;

/** Options of {@linkcode BenchTap}. */
export interface BenchTapOptions {
  /** The real upstream, e.g. the local engine's `ws://127.0.0.1:PORT/v1/realtime`. */
  readonly target: string;
  /** The call a tag belongs to. */
  readonly lookup: (tag: string) => CallProbe | undefined;
  /** Where session counts and unmapped sessions go (the current step's recorder). */
  readonly recorder: () => Recorder;
  /** 0 picks a free port. */
  readonly port?: number;
  /**
   * Wait before answering each upgrade (ms): the connection setup (TCP, TLS, WebSocket) of a
   * distant service, so that what a warm pool saves shows in the greeting. Default 0.
   */
  readonly handshakeDelayMs?: number;
}

interface Pair {
  readonly gateway: WebSocket;
  readonly upstream: NoDelayWebSocket;
  closed: Promise<void>;
}

const TYPE_PREFIX = `{"type":"`;

/** The running proxy. */
export class BenchTap implements AsyncDisposable {
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #pairs = new Set<Pair>();
  readonly #options: BenchTapOptions;

  constructor(options: BenchTapOptions) {
    this.#options = options;
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: options.port ?? 0, onListen: () => {} },
      (request) => {
        const delay = options.handshakeDelayMs ?? 0;
        if (delay <= 0) return this.#accept(request);
        return new Promise<void>((resolve) => setTimeout(resolve, delay)).then(() =>
          this.#accept(request)
        );
      },
    );
  }

  /** The URL to give the gateway as `OPENAI_REALTIME_URL`. */
  get url(): string {
    return `ws://127.0.0.1:${this.#server.addr.port}/v1/realtime`;
  }

  #accept(request: Request): Response {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("WebSocket upgrade expected", { status: 426 });
    }
    const search = new URL(request.url).search;
    const { socket: gateway, response } = Deno.upgradeWebSocket(request);
    // Nagle's algorithm off, so the tap forwards appends to the engine without delay.
    const upstream = new NoDelayWebSocket(`${this.#options.target}${search}`);
    const recorder = this.#options.recorder();
    recorder.counts.upstreamSessions++;
    let probe: CallProbe | undefined;
    let readyAt: number | undefined;
    const early: string[] = [];
    let counted = false;

    upstream.onopen = () => {
      for (const frame of early.splice(0)) upstream.send(frame);
    };
    gateway.onmessage = (event: MessageEvent) => {
      const at = performance.now();
      const data: unknown = event.data;
      if (typeof data !== "string") return;
      if (upstream.readyState === WebSocket.OPEN) upstream.send(data);
      else early.push(data);
      if (data.startsWith(APPEND_PREFIX) || isAppend(data)) {
        if (probe) probe.appended(data, at);
        else if (!counted) {
          counted = true;
          recorder.errors.unmappedSessions++;
        }
        return;
      }
      if (probe) return;
      const tag = TAG_PATTERN.exec(data)?.[0];
      if (tag === undefined) return;
      probe = this.#options.lookup(tag);
      probe?.attached(readyAt);
    };
    upstream.onmessage = (event: MessageEvent) => {
      const data: unknown = event.data;
      if (typeof data !== "string") return;
      const at = performance.now();
      if (gateway.readyState === WebSocket.OPEN) gateway.send(data);
      switch (eventType(data)) {
        case "response.output_audio.delta": {
          const delta = parseDelta(data);
          if (delta && probe) probe.delta(delta.itemId, delta.delta, at);
          return;
        }
        case "input_audio_buffer.speech_started":
          probe?.speechStarted(at);
          return;
        case "session.updated":
          readyAt ??= at;
          probe?.ready(at);
          return;
        default:
          return;
      }
    };
    const pair: Pair = { gateway, upstream, closed: Promise.resolve() };
    let closedCount = 0;
    pair.closed = new Promise<void>((resolve) => {
      const onClose = (code: number, reason: string) => {
        closedCount++;
        for (const socket of [gateway, upstream]) {
          if (
            socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING
          ) {
            try {
              socket.close(code === 1005 || code === 1006 ? 1000 : code, reason);
            } catch { /* closing */ }
          }
        }
        if (closedCount === 2) {
          this.#pairs.delete(pair);
          resolve();
        }
      };
      gateway.onclose = (e) => onClose(e.code, e.reason);
      upstream.onclose = (e) => onClose(e.code, e.reason);
    });
    gateway.onerror = () => {};
    upstream.onerror = () => {};
    this.#pairs.add(pair);
    return response;
  }

  /** Number of proxied sessions still open. */
  get open(): number {
    return this.#pairs.size;
  }

  /** Closes every proxied pair and the listener. */
  async close(): Promise<void> {
    const closing = [...this.#pairs];
    for (const { gateway, upstream } of closing) {
      for (const socket of [gateway, upstream]) {
        try {
          socket.close(1001, "bench shutting down");
        } catch { /* closing */ }
      }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(closing.map((p) => p.closed)),
      new Promise<void>((resolve) => timer = setTimeout(resolve, 3000)),
    ]);
    clearTimeout(timer);
    await this.#server.shutdown();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The `type` of an event serialised with `type` first (the engine does), without parsing. */
function eventType(data: string): string {
  if (data.startsWith(TYPE_PREFIX)) {
    const end = data.indexOf(`"`, TYPE_PREFIX.length);
    if (end > 0) return data.slice(TYPE_PREFIX.length, end);
  }
  try {
    const event: unknown = JSON.parse(data);
    return typeof event === "object" && event !== null && "type" in event &&
        typeof event.type === "string"
      ? event.type
      : "";
  } catch {
    return "";
  }
}

function isAppend(data: string): boolean {
  return data.includes(`"input_audio_buffer.append"`) &&
    eventType(data) === "input_audio_buffer.append";
}

function parseDelta(data: string): { itemId: string; delta: string } | undefined {
  try {
    const event: unknown = JSON.parse(data);
    if (
      typeof event === "object" && event !== null && "item_id" in event && "delta" in event &&
      typeof event.item_id === "string" && typeof event.delta === "string"
    ) {
      return { itemId: event.item_id, delta: event.delta };
    }
  } catch {
    // Counted by the chunk that will not match.
  }
  return undefined;
}
