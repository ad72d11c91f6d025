/**
 * Helpers for Bridge tests: a recording leg, a capturing logger, a fake clock that reports the
 * timers armed on it, and a scripted realtime upstream (a tiny `Deno.serve` WebSocket server).
 */
import FakeTimers from "@sinonjs/fake-timers";
import type { Clock, TimerId } from "../../src/core/clock.ts";
import type { BridgeLeg, LegEvent } from "../../src/bridge/bridge.ts";
import type { Interrupted } from "../../src/bridge/playout.ts";
import type { SessionOptions } from "../../src/realtime/session_config.ts";

/** A wire event as the tests read it. */
export type Event = Record<string, unknown>;

/** The session most tests configure. */
export const SESSION: SessionOptions = {
  format: { type: "audio/pcmu" },
  instructions: "A",
  voice: "marin",
  tools: [],
  turnDetection: null,
  transcriptionModel: null,
};

/** Resolves waiters when a condition over recorded values holds. */
export class Signal {
  #waiters: (() => void)[] = [];

  wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  async until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`Timed out waiting for ${what}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }
}

/** One call the leg received, in order. */
export type LegCall =
  | { readonly kind: "play"; readonly itemId: string; readonly delta: string }
  | { readonly kind: "end"; readonly itemId: string }
  | { readonly kind: "interrupt" }
  | { readonly kind: "notify"; readonly event: LegEvent };

/** A leg that records every call; hooks may throw or close the Bridge. */
export class RecordingLeg implements BridgeLeg {
  readonly calls: LegCall[] = [];
  readonly #signal = new Signal();
  onPlay: ((itemId: string, delta: string) => void) | undefined;
  onNotify: ((event: LegEvent) => void) | undefined;
  /** Called after every call (e.g. to wake a {@linkcode TestClock} waiter). */
  onAny: (() => void) | undefined;

  /** Re-runs the checks of waiters (call it when something they check changed). */
  wake(): void {
    this.#signal.wake();
    this.onAny?.();
  }

  playAudio(itemId: string, delta: string): void {
    this.calls.push({ kind: "play", itemId, delta });
    this.wake();
    this.onPlay?.(itemId, delta);
  }

  endAudio(itemId: string): void {
    this.calls.push({ kind: "end", itemId });
    this.wake();
  }

  interrupt(): Interrupted | undefined {
    this.calls.push({ kind: "interrupt" });
    this.wake();
    return undefined;
  }

  notify(event: LegEvent): void {
    this.calls.push({ kind: "notify", event });
    this.wake();
    this.onNotify?.(event);
  }

  /** The notifications of a type, in order. */
  events<T extends LegEvent["type"]>(type: T): Extract<LegEvent, { type: T }>[] {
    const out: Extract<LegEvent, { type: T }>[] = [];
    for (const call of this.calls) {
      if (call.kind === "notify" && call.event.type === type) {
        out.push(call.event as Extract<LegEvent, { type: T }>);
      }
    }
    return out;
  }

  /** Waits until `count` notifications of a type arrived; returns the last of them. */
  async next<T extends LegEvent["type"]>(
    type: T,
    count = 1,
    timeoutMs = 5000,
  ): Promise<Extract<LegEvent, { type: T }>> {
    await this.#signal.until(() => this.events(type).length >= count, type, timeoutMs);
    return this.events(type)[count - 1]!;
  }

  /** Waits until some call matches. */
  async until(check: (calls: readonly LegCall[]) => boolean, what: string): Promise<void> {
    await this.#signal.until(() => check(this.calls), what);
  }
}

/** A fake clock that tells which timers were armed, so tests can step a backoff schedule. */
export class TestClock implements Clock {
  readonly #fake = FakeTimers.createClock(0);
  /** Delays of every timer armed so far, in order. */
  readonly armed: number[] = [];
  readonly #signal = new Signal();

  now(): number {
    return this.#fake.now;
  }

  monotonic(): number {
    return this.#fake.now;
  }

  setTimeout(callback: () => void, ms: number): TimerId {
    this.armed.push(ms);
    this.#signal.wake();
    return this.#fake.setTimeout(callback, ms) as unknown as TimerId;
  }

  clearTimeout(id: TimerId): void {
    this.#fake.clearTimeout(id as unknown as number);
  }

  /** Moves fake time on, firing due timers. */
  tick(ms: number): void {
    this.#fake.tick(ms);
  }

  /** Wakes waiters of {@linkcode TestClock.until} (call it when something they check changed). */
  wake(): void {
    this.#signal.wake();
  }

  /** Waits until the check holds; it is re-run whenever a timer is armed or wake() is called. */
  async until(check: () => boolean, what: string): Promise<void> {
    await this.#signal.until(check, what);
  }
}

/** What a script sees of one upstream connection. */
export interface ScriptedConnection {
  readonly index: number;
  readonly received: Event[];
  send(event: Event): void;
  close(code?: number, reason?: string): void;
}

/** How a scripted upstream answers each connection. */
export interface Script {
  /** Answer to the HTTP request before the upgrade (e.g. a 503); undefined upgrades. */
  refuse?(index: number): Response | undefined;
  /** Send `session.created` on open (default true). */
  created?(index: number): boolean;
  /** One client event arrived (default: session.update → session.updated). */
  onEvent?(connection: ScriptedConnection, event: Event): void;
}

/** A scripted realtime upstream on 127.0.0.1:0. */
export class ScriptedUpstream implements AsyncDisposable {
  readonly connections: ScriptedConnection[] = [];
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #sockets = new Set<WebSocket>();
  readonly #closedSockets: Promise<void>[] = [];
  readonly #signal = new Signal();

  constructor(script: Script = {}) {
    let count = 0;
    this.#server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
      const index = count++;
      const refusal = script.refuse?.(index);
      if (refusal) return refusal;
      const { socket, response } = Deno.upgradeWebSocket(req);
      this.#sockets.add(socket);
      const closed = Promise.withResolvers<void>();
      this.#closedSockets.push(closed.promise);
      const connection: ScriptedConnection = {
        index,
        received: [],
        send: (event) => {
          if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(event));
        },
        close: (code = 1011, reason = "") => {
          if (socket.readyState === WebSocket.OPEN) socket.close(code, reason);
        },
      };
      this.connections.push(connection);
      socket.onopen = () => {
        if (script.created?.(index) ?? true) {
          connection.send({ type: "session.created", event_id: `ev_c${index}`, session: {} });
        }
        this.#signal.wake();
      };
      socket.onmessage = (message) => {
        const event = JSON.parse(String(message.data)) as Event;
        connection.received.push(event);
        this.#signal.wake();
        if (script.onEvent) script.onEvent(connection, event);
        else if (event.type === "session.update") {
          connection.send({ type: "session.updated", session: {} });
        }
      };
      socket.onclose = () => {
        this.#sockets.delete(socket);
        closed.resolve();
        this.#signal.wake();
      };
      return response;
    });
  }

  /** `ws://127.0.0.1:PORT/v1/realtime`. */
  get url(): string {
    return `ws://127.0.0.1:${this.#server.addr.port}/v1/realtime`;
  }

  /** Waits until connection `index` exists and received an event that matches. */
  async received(index: number, match: (event: Event) => boolean): Promise<Event> {
    let found: Event | undefined;
    await this.#signal.until(() => {
      found = this.connections[index]?.received.find(match);
      return found !== undefined;
    }, `an event on connection ${index}`);
    return found!;
  }

  /** Waits until `count` connections were accepted. */
  async accepted(count: number): Promise<ScriptedConnection> {
    await this.#signal.until(() => this.connections.length >= count, `${count} connections`);
    return this.connections[count - 1]!;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const socket of this.#sockets) {
      try {
        socket.close(1001);
      } catch { /* closing */ }
    }
    await Promise.all(this.#closedSockets);
    await this.#server.shutdown();
  }
}

/** A port nothing listens on (closed right after it was picked). */
export function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/** Deltas of a response, all sent in one go so that they queue on the client's socket. */
export function burstResponse(connection: ScriptedConnection, id: string, deltas: number): void {
  connection.send({
    type: "response.created",
    response: { id, status: "in_progress", conversation_id: "conv_1", output: [] },
  });
  for (let i = 0; i < deltas; i++) {
    connection.send({
      type: "response.output_audio.delta",
      response_id: id,
      item_id: `item_${id}`,
      output_index: 0,
      content_index: 0,
      delta: "AAAA",
    });
  }
  connection.send({
    type: "response.output_audio.done",
    response_id: id,
    item_id: `item_${id}`,
    output_index: 0,
    content_index: 0,
  });
  connection.send({
    type: "response.done",
    response: { id, status: "completed", conversation_id: "conv_1", output: [] },
  });
}
