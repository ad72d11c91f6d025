/**
 * A warm upstream pool: upstream sessions opened (TCP, TLS, WebSocket, `session.created`) and
 * configured (`session.update` → `session.updated`) before a call needs one, so the greeting no
 * longer waits for a connection to the model. A call takes one, re-configures it with its own
 * settings (one `session.update`, one round trip) and owns it from then on.
 *
 * Pooled sessions are replaced once half their lifetime has passed (the service ends a session
 * at `expires_at`, 60 minutes after it opened), so a call always gets one with time left; a
 * session the service closes, or that fails, is replaced with a backoff. An idle session costs
 * no tokens: only what is sent and generated is billed.
 */
import type { Clock, TimerId } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { ServerEvent } from "../protocol/openai_realtime.ts";
import type { SessionOptions } from "./session_config.ts";
import { sessionUpdate } from "./session_config.ts";
import type { UpstreamClient } from "./upstream.ts";
import { Upstream } from "./upstream.ts";

/** An open, configured upstream session ready for a call. */
export interface WarmSession {
  readonly upstream: Upstream;
  /** When the service will end the session (monotonic ms). */
  readonly expiresAt: number;
  /** When its connection opened (monotonic ms). */
  readonly openedAt: number;
}

/** Where a Bridge can take a warm session from. */
export interface WarmSource {
  /** A ready session, handed over (its listener must be replaced at once), or undefined. */
  take(): WarmSession | undefined;
}

/** The service's session limit when `session.created` does not say (60 minutes). */
export const DEFAULT_SESSION_MS = 60 * 60 * 1000;

/**
 * When the service ends a session (monotonic ms): from `session.expires_at` (unix seconds, GA)
 * if present, else `openedAt + fallbackMs`.
 */
export function sessionExpiry(
  session: Readonly<Record<string, unknown>>,
  clock: Clock,
  options: { openedAt: number; fallbackMs?: number },
): number {
  const expires = session.expires_at;
  if (typeof expires === "number" && Number.isFinite(expires) && expires > 0) {
    return clock.monotonic() + (expires * 1000 - clock.now());
  }
  return options.openedAt + (options.fallbackMs ?? DEFAULT_SESSION_MS);
}

/** Options of {@linkcode UpstreamPool}. */
export interface UpstreamPoolOptions {
  /** Sessions kept ready (0: the pool opens nothing). */
  readonly size: number;
  /** Where to connect; read when a session is opened (the engine's URL is known late). */
  readonly upstream: () => {
    readonly url: string;
    readonly model: string;
    readonly apiKey?: string;
    readonly client?: UpstreamClient;
  };
  /** The configuration pooled sessions get before a call takes them (none: as created). */
  readonly session?: SessionOptions;
  readonly clock: Clock;
  readonly log: Logger;
  /** A session must be ready within this time, or it is dropped (default 10000 ms). */
  readonly connectTimeoutMs?: number;
  /** Lifetime assumed when `session.created` has no `expires_at` (default 60 minutes). */
  readonly sessionMs?: number;
  /** Backoff after a failed open: starts here (default 500 ms), doubles, up to 30 s. */
  readonly retryBaseMs?: number;
}

interface Entry {
  readonly upstream: Upstream;
  readonly openedAt: number;
  state: "opening" | "configuring" | "ready";
  expiresAt: number;
  timer: TimerId | undefined;
}

/** A pool of warm upstream sessions. */
export class UpstreamPool implements WarmSource, AsyncDisposable {
  readonly #o: UpstreamPoolOptions;
  readonly #entries = new Set<Entry>();
  readonly #sockets = new Set<Upstream>();
  #started = false;
  #closed = false;
  #failures = 0;
  #retryTimer: TimerId | undefined;
  /** Counters for `/health`, metrics and tests. */
  readonly stats = { opened: 0, taken: 0, missed: 0, failed: 0, refreshed: 0 };

  constructor(options: UpstreamPoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 0) {
      throw new RangeError(`Cannot create an upstream pool of size ${options.size}`);
    }
    this.#o = options;
  }

  /** Starts filling the pool (once the upstream's URL is known). */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#fill();
  }

  /** Sessions ready to be taken now. */
  get ready(): number {
    let n = 0;
    for (const entry of this.#entries) if (entry.state === "ready") n++;
    return n;
  }

  /** Sessions opening or ready. */
  get size(): number {
    return this.#entries.size;
  }

  /** Takes the ready session with the most time left; the pool opens a replacement. */
  take(): WarmSession | undefined {
    if (this.#closed) return undefined;
    let best: Entry | undefined;
    for (const entry of this.#entries) {
      if (entry.state === "ready" && (!best || entry.expiresAt > best.expiresAt)) best = entry;
    }
    if (!best) {
      this.stats.missed++;
      return undefined;
    }
    this.#remove(best);
    this.#sockets.delete(best.upstream);
    this.stats.taken++;
    this.#fill();
    return { upstream: best.upstream, expiresAt: best.expiresAt, openedAt: best.openedAt };
  }

  /** Closes every pooled session and stops refilling (drain, shutdown). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retryTimer !== undefined) this.#o.clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    for (const entry of [...this.#entries]) {
      this.#remove(entry);
      entry.upstream.close(1000, "pool closed");
    }
    await Promise.all([...this.#sockets].map((socket) => socket.closed));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #fill(): void {
    if (!this.#started || this.#closed || this.#retryTimer !== undefined) return;
    while (this.#entries.size < this.#o.size) this.#open();
  }

  #remove(entry: Entry): void {
    if (entry.timer !== undefined) this.#o.clock.clearTimeout(entry.timer);
    entry.timer = undefined;
    this.#entries.delete(entry);
  }

  #open(): void {
    const { clock, log } = this.#o;
    // The entry exists once the socket does; its callbacks come later.
    const slot: { entry?: Entry } = {};
    let upstream: Upstream;
    try {
      upstream = new Upstream({ ...this.#o.upstream(), log }, {
        onOpen: () => {},
        onEvent: (event) => {
          if (slot.entry) this.#onEvent(slot.entry, event);
        },
        onClose: (close) => {
          const entry = slot.entry;
          if (!entry || !this.#entries.has(entry)) return;
          this.#remove(entry);
          if (entry.state === "ready") {
            log.info({ code: close.code }, "A pooled upstream session closed; replacing it");
            this.#fill();
          } else {
            this.#failed(`closed with code ${close.code}`);
          }
        },
        onListenerError: (error) => {
          log.error({ err: String(error) }, "Upstream pool failed handling an event");
          if (slot.entry) this.#drop(slot.entry);
        },
      });
    } catch (error) {
      this.#failed(error instanceof Error ? error.message : String(error));
      return;
    }
    const opened: Entry = {
      upstream,
      openedAt: clock.monotonic(),
      state: "opening",
      expiresAt: Infinity,
      timer: undefined,
    };
    slot.entry = opened;
    this.stats.opened++;
    this.#entries.add(opened);
    this.#sockets.add(upstream);
    void upstream.closed.then(() => this.#sockets.delete(upstream));
    opened.timer = clock.setTimeout(() => {
      opened.timer = undefined;
      if (opened.state !== "ready") {
        this.#drop(opened);
        this.#failed("not ready in time");
      }
    }, this.#o.connectTimeoutMs ?? 10_000);
  }

  #onEvent(entry: Entry, event: ServerEvent): void {
    if (!this.#entries.has(entry)) return;
    if (event.type === "session.created" && entry.state === "opening") {
      entry.expiresAt = sessionExpiry(event.session, this.#o.clock, {
        openedAt: entry.openedAt,
        ...(this.#o.sessionMs === undefined ? {} : { fallbackMs: this.#o.sessionMs }),
      });
      if (this.#o.session === undefined) return this.#ready(entry);
      entry.state = "configuring";
      entry.upstream.send({ type: "session.update", session: sessionUpdate(this.#o.session) });
    } else if (event.type === "session.updated" && entry.state === "configuring") {
      this.#ready(entry);
    } else if (event.type === "error") {
      this.#o.log.warn({ code: event.error.code }, "A pooled upstream session refused an event");
      this.#drop(entry);
      this.#failed(`error ${event.error.code ?? event.error.type}`);
    }
  }

  #ready(entry: Entry): void {
    const { clock } = this.#o;
    entry.state = "ready";
    this.#failures = 0;
    if (entry.timer !== undefined) clock.clearTimeout(entry.timer);
    // Replaced once half its life has gone: a call then still has at least half of it.
    const refreshAt = entry.openedAt + (entry.expiresAt - entry.openedAt) / 2;
    entry.timer = clock.setTimeout(() => {
      entry.timer = undefined;
      this.stats.refreshed++;
      this.#drop(entry);
      this.#fill();
    }, Math.max(0, refreshAt - clock.monotonic()));
  }

  #drop(entry: Entry): void {
    this.#remove(entry);
    entry.upstream.close(1000, "pool refresh");
  }

  #failed(cause: string): void {
    this.stats.failed++;
    this.#failures++;
    if (this.#closed || this.#retryTimer !== undefined) return;
    const delay = Math.min(30_000, (this.#o.retryBaseMs ?? 500) * 2 ** (this.#failures - 1));
    this.#o.log.warn({ cause, retryMs: delay }, "Cannot open a pooled upstream session");
    this.#retryTimer = this.#o.clock.setTimeout(() => {
      this.#retryTimer = undefined;
      this.#fill();
    }, delay);
  }
}
