/**
 * A wire tap between the gateway and a realtime upstream: a WebSocket proxy on 127.0.0.1:0 that
 * forwards every frame untouched (it never decodes audio) and records both directions, so tests
 * can assert on exactly what the Bridge sent and what the engine answered.
 */

import { TIMEOUT_SCALE } from "./json_socket.ts";

/** One recorded frame. */
export interface TappedEvent {
  readonly at: number;
  readonly from: "client" | "server";
  readonly session: number;
  readonly event: Record<string, unknown>;
}

/** A running tap. */
export class RealtimeTap implements AsyncDisposable {
  readonly events: TappedEvent[] = [];
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #pairs = new Set<{ client: WebSocket; upstream: WebSocket }>();
  #sessions = 0;
  #refusing: number | undefined;
  #waiters: (() => void)[] = [];

  /** Proxies `ws://127.0.0.1:PORT/v1/realtime?…` to `target` (same path and query). */
  constructor(target: string) {
    this.#server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
      if (this.#refusing !== undefined) {
        return new Response("refused by the tap", { status: this.#refusing });
      }
      const url = new URL(request.url);
      const auth = request.headers.get("authorization");
      const upstreamUrl = `${target}${url.search}`;
      const { socket: client, response } = Deno.upgradeWebSocket(request);
      const session = this.#sessions++;
      const upstream = auth
        ? new WebSocket(upstreamUrl, { headers: { authorization: auth } })
        : new WebSocket(upstreamUrl);
      const pair = { client, upstream };
      this.#pairs.add(pair);
      const early: string[] = [];
      upstream.onopen = () => {
        for (const frame of early.splice(0)) upstream.send(frame);
      };
      client.onmessage = (e) => {
        this.#record("client", session, String(e.data));
        if (upstream.readyState === WebSocket.OPEN) upstream.send(e.data);
        else early.push(String(e.data));
      };
      upstream.onmessage = (e) => {
        this.#record("server", session, String(e.data));
        if (client.readyState === WebSocket.OPEN) client.send(e.data);
      };
      const closeBoth = (code: number, reason: string) => {
        this.#pairs.delete(pair);
        for (const s of [client, upstream]) {
          if (s.readyState === WebSocket.OPEN || s.readyState === WebSocket.CONNECTING) {
            try {
              s.close(code === 1005 || code === 1006 ? 1011 : code, reason);
            } catch { /* closing */ }
          }
        }
        this.#wake();
      };
      client.onclose = (e) => closeBoth(e.code, e.reason);
      upstream.onclose = (e) => closeBoth(e.code, e.reason);
      return response;
    });
  }

  /** The URL to give the gateway as OPENAI_REALTIME_URL. */
  get url(): string {
    return `ws://127.0.0.1:${this.#server.addr.port}/v1/realtime`;
  }

  /** Number of upstream sessions opened through the tap so far. */
  get sessions(): number {
    return this.#sessions;
  }

  /** Client events of a type, in order. */
  sent(type: string): Record<string, unknown>[] {
    return this.events.filter((e) => e.from === "client" && e.event.type === type).map((e) =>
      e.event
    );
  }

  /** Server events of a type, in order. */
  received(type: string): Record<string, unknown>[] {
    return this.events.filter((e) => e.from === "server" && e.event.type === type).map((e) =>
      e.event
    );
  }

  /** Resolves with the first recorded event (past or future) that matches. */
  async waitFor(
    predicate: (e: TappedEvent) => boolean,
    timeoutMs = 10_000,
  ): Promise<TappedEvent> {
    const deadline = Date.now() + timeoutMs * TIMEOUT_SCALE;
    while (true) {
      const found = this.events.find(predicate);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("Timed out waiting for a tapped event");
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** Answers every new upgrade with this HTTP status (the model "is down"); undefined: proxy. */
  refuse(status: number | undefined): void {
    this.#refusing = status;
  }

  /** Kills every proxied upstream connection abruptly (the model "dies"). */
  dropAll(code = 1011): void {
    for (const { client, upstream } of this.#pairs) {
      upstream.close(1000);
      client.close(code, "upstream dropped");
    }
  }

  #record(from: "client" | "server", session: number, text: string) {
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(text);
    } catch {
      event = { type: "(not json)" };
    }
    this.events.push({ at: performance.now(), from, session, event });
    this.#wake();
  }

  #wake() {
    for (const w of this.#waiters.splice(0)) w();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const { client, upstream } of this.#pairs) {
      for (const s of [client, upstream]) {
        try {
          s.close(1000);
        } catch { /* closing */ }
      }
    }
    await this.#server.shutdown();
  }
}
