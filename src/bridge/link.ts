/**
 * The Bridge's link to the realtime service: one current transport at a time, opened through
 * the provider (warm when it has one), bounded by a connect timeout, opened again with backoff
 * inside a reconnect window after a failed attempt or a lost session. Events of a transport
 * that is no longer current are dropped here, so the Bridge only ever hears its own session.
 */
import type { Clock, TimerId } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { ServerEvent } from "../protocol/openai_realtime.ts";
import type {
  RealtimeProvider,
  RealtimeTransport,
  TransportClose,
  TransportListener,
} from "../realtime/transport.ts";
import { sessionExpiry } from "../realtime/upstream_pool.ts";

/**
 * Where the link stands. `connecting` covers an attempt under way, a session configuring (open,
 * waiting for `session.updated`) and the wait between attempts (`transport` is then the last
 * one tried, or none before the first).
 */
export type LinkPhase =
  | { readonly phase: "idle" }
  | { readonly phase: "connecting"; readonly transport: RealtimeTransport | undefined }
  | { readonly phase: "ready"; readonly transport: RealtimeTransport }
  | { readonly phase: "closed"; readonly failed: boolean };

/** What the link tells its Bridge. */
export interface LinkHost {
  /** A new attempt begins: its session counts audio from 0. */
  attempting(): void;
  /** The transport is open: configure the session. */
  opened(transport: RealtimeTransport): void;
  /** A server event of the current transport. */
  event(event: ServerEvent): void;
  /** The current transport closed; `wasReady`: a working session was lost. */
  down(wasReady: boolean): void;
  /** The call cannot go on. */
  fail(reason: string): void;
  /** A listener threw inside a transport callback. */
  internalError(error: unknown, during: string): void;
}

/** Options of an {@linkcode UpstreamLink}. */
export interface LinkOptions {
  readonly provider: RealtimeProvider;
  readonly clock: Clock;
  readonly log: Logger;
  readonly host: LinkHost;
  /** Counters it keeps: attempts (sockets opened), warm sessions taken, outages. */
  readonly stats: { attempts: number; warm: number; reconnects: number };
  /** Session lifetime assumed when `session.created` has no `expires_at` (default 60 min). */
  readonly sessionMs?: number;
  readonly reconnectWindowMs?: number;
  readonly connectTimeoutMs?: number;
  readonly reconnectBaseMs?: number;
  readonly reconnectMaxMs?: number;
  readonly random?: () => number;
}

/** A replacement session the call moves onto (recycling). */
export interface Replacement {
  readonly transport: RealtimeTransport;
  readonly openedAt: number;
  readonly expiresAt: number;
}

/** One call's link to the realtime service. */
export class UpstreamLink {
  readonly #o: LinkOptions;
  #phase: LinkPhase = { phase: "idle" };
  /** Every transport not yet closed (stale attempts included), for asyncDispose. */
  readonly #transports = new Set<RealtimeTransport>();
  /** When the current outage (or the first connection) began, monotonic ms. */
  #outageStart = 0;
  /** Failed attempts in the current outage. */
  #failedAttempts = 0;
  #connectTimer: TimerId | undefined;
  #retryTimer: TimerId | undefined;
  #openedAt = 0;
  #expiresAt = Infinity;

  constructor(options: LinkOptions) {
    this.#o = options;
  }

  /** Where the link stands. */
  get phase(): LinkPhase {
    return this.#phase;
  }

  /** The current transport (connecting or ready), if any. */
  get transport(): RealtimeTransport | undefined {
    const phase = this.#phase;
    return phase.phase === "connecting" || phase.phase === "ready" ? phase.transport : undefined;
  }

  /** The current session: when it opened and when the service will end it (monotonic ms). */
  get session(): { readonly openedAt: number; readonly expiresAt: number } {
    return { openedAt: this.#openedAt, expiresAt: this.#expiresAt };
  }

  /** Opens the first transport. */
  start(): void {
    if (this.#phase.phase !== "idle") return;
    this.#outageStart = this.#o.clock.monotonic();
    this.#failedAttempts = 0;
    this.#connect();
  }

  /** `session.created` of the current session: the attempt made it in time; its expiry. */
  created(session: Readonly<Record<string, unknown>>): void {
    this.#clearConnectTimer();
    this.#expiresAt = this.expiryOf(session, this.#openedAt);
  }

  /** When the service ends a session, from `session.created`'s session (monotonic ms). */
  expiryOf(session: Readonly<Record<string, unknown>>, openedAt: number): number {
    return sessionExpiry(session, this.#o.clock, {
      openedAt,
      ...(this.#o.sessionMs === undefined ? {} : { fallbackMs: this.#o.sessionMs }),
    });
  }

  /** The session accepted its configuration: the transport if it just became ready. */
  ready(): RealtimeTransport | undefined {
    if (this.#phase.phase !== "connecting" || this.#phase.transport === undefined) return undefined;
    const transport = this.#phase.transport;
    this.#phase = { phase: "ready", transport };
    this.#failedAttempts = 0;
    return transport;
  }

  /** Moves onto a replacement session; returns the one it replaced (for the caller to close). */
  takeOver(replacement: Replacement): RealtimeTransport | undefined {
    const old = this.transport;
    this.#phase = { phase: "ready", transport: replacement.transport };
    replacement.transport.attach(this.#listenerFor(() => replacement.transport));
    this.#openedAt = replacement.openedAt;
    this.#expiresAt = replacement.expiresAt;
    return old;
  }

  /** Owns `transport` until it is closed ({@linkcode UpstreamLink.settled} waits for it). */
  own(transport: RealtimeTransport): void {
    this.#transports.add(transport);
    void transport.closed.then(() => this.#transports.delete(transport));
  }

  /** The current session is over (it expired): close it and go on as after a lost one. */
  expire(): void {
    this.transport?.close(1000, "session expired");
    this.#onClose({ code: 1001, reason: "session expired", opened: true });
  }

  /** Closes for good; `failed`: the call failed. */
  close(failed: boolean): void {
    if (this.#phase.phase === "closed") return;
    const transport = this.transport;
    this.#phase = { phase: "closed", failed };
    this.#clearConnectTimer();
    if (this.#retryTimer !== undefined) this.#o.clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    transport?.close(1000, "call ended");
  }

  /** Resolves once every transport the link opened (or was given) is closed. */
  async settled(): Promise<void> {
    await Promise.all([...this.#transports].map((transport) => transport.closed));
  }

  #closed(): boolean {
    return this.#phase.phase === "closed";
  }

  #clearConnectTimer(): void {
    if (this.#connectTimer !== undefined) this.#o.clock.clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
  }

  /** The listener of a transport: events of one no longer current are ignored. */
  #listenerFor(transport: () => RealtimeTransport | undefined): TransportListener {
    const current = () => transport() !== undefined && transport() === this.transport;
    const host = this.#o.host;
    return {
      onOpen: () => {
        if (current()) host.opened(this.transport!);
      },
      onEvent: (event) => {
        if (current() && !this.#closed()) host.event(event);
      },
      onClose: (close) => {
        if (current()) this.#onClose(close);
      },
      onListenerError: (error, where) => host.internalError(error, `upstream ${where}`),
    };
  }

  #connect(): void {
    const { clock, host, log, provider, stats } = this.#o;
    this.#phase = { phase: "connecting", transport: this.transport };
    stats.attempts++;
    host.attempting();
    this.#openedAt = clock.monotonic();
    this.#expiresAt = Infinity;
    const warm = provider.takeWarm?.();
    if (warm !== undefined) {
      // Open and created already: configure it at once (one round trip to session.updated).
      stats.warm++;
      this.#phase = { phase: "connecting", transport: warm.transport };
      this.#openedAt = warm.openedAt;
      this.#expiresAt = warm.expiresAt;
      warm.transport.attach(this.#listenerFor(() => warm.transport));
      this.own(warm.transport);
      host.opened(warm.transport);
      return;
    }
    let transport: RealtimeTransport | undefined;
    try {
      transport = provider.connect(this.#listenerFor(() => transport));
    } catch (error) {
      // A bad URL or option: no retry helps. Fail outside the caller's stack (start()).
      log.error(
        { err: error instanceof Error ? error.stack : String(error) },
        "Cannot open the upstream",
      );
      const name = error instanceof Error ? error.name : "error";
      this.#retryTimer = clock.setTimeout(() => {
        this.#retryTimer = undefined;
        host.fail(`cannot open the upstream: ${name}`);
      }, 0);
      return;
    }
    const opened = transport;
    this.#phase = { phase: "connecting", transport: opened };
    this.own(opened);
    this.#connectTimer = clock.setTimeout(() => {
      this.#connectTimer = undefined;
      if (this.#closed() || opened !== this.transport) return;
      opened.close(1000, "connect timed out");
      this.#attemptFailed("upstream connect timed out", false);
    }, this.#o.connectTimeoutMs ?? 10_000);
  }

  #onClose(close: TransportClose): void {
    if (this.#closed()) return;
    const { clock, host, log, stats } = this.#o;
    this.#clearConnectTimer();
    const wasReady = this.#phase.phase === "ready";
    this.#phase = { phase: "connecting", transport: this.transport };
    const cause = describeClose(close);
    if (!wasReady) {
      host.down(false);
      // Refusals that no retry mends (bad key, wrong path) end the call at once.
      const status = close.failure?.kind === "http" ? close.failure.status : 0;
      const permanent = status >= 400 && status < 500 && status !== 408 && status !== 429;
      this.#attemptFailed(cause, permanent);
      return;
    }
    log.warn({ code: close.code, reason: close.reason }, "Upstream closed unexpectedly");
    host.down(true);
    if (this.#closed()) return;
    if ((this.#o.reconnectWindowMs ?? 5000) <= 0) {
      host.fail(cause);
      return;
    }
    stats.reconnects++;
    this.#outageStart = clock.monotonic();
    this.#failedAttempts = 0;
    log.info({ cause }, "Reconnecting to the upstream");
    this.#connect();
  }

  /** An attempt failed: retry with backoff inside the window, else fail with the cause. */
  #attemptFailed(cause: string, permanent: boolean): void {
    if (this.#closed()) return;
    const { clock, host, log } = this.#o;
    this.#failedAttempts++;
    const window = this.#o.reconnectWindowMs ?? 5000;
    const left = this.#outageStart + window - clock.monotonic();
    if (permanent || left <= 0) {
      host.fail(cause);
      return;
    }
    const delay = backoffDelay(this.#failedAttempts, {
      leftMs: left,
      baseMs: this.#o.reconnectBaseMs ?? 100,
      maxMs: this.#o.reconnectMaxMs ?? 1000,
      random: this.#o.random ?? Math.random,
    });
    log.info(
      { cause, failedAttempts: this.#failedAttempts, delayMs: delay },
      "Upstream attempt failed; retrying",
    );
    this.#retryTimer = clock.setTimeout(() => {
      this.#retryTimer = undefined;
      if (!this.#closed()) this.#connect();
    }, delay);
  }
}

/**
 * The wait before the next attempt: full jitter under a ceiling that starts at `baseMs`,
 * doubles per failed attempt up to `maxMs`, never past the window's end.
 */
export function backoffDelay(
  failedAttempts: number,
  options: {
    readonly leftMs: number;
    readonly baseMs: number;
    readonly maxMs: number;
    readonly random: () => number;
  },
): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(failedAttempts - 1, 20));
  return Math.min(options.leftMs, Math.floor(options.random() * ceiling));
}

/** The cause of a failed attempt or a lost session, for logs and `onFailed`. */
export function describeClose(close: TransportClose): string {
  switch (close.failure?.kind) {
    case "refused":
      return "upstream refused the connection";
    case "http":
      return `upstream answered HTTP ${close.failure.status}`;
    case "network":
      return `upstream could not be reached (${close.failure.detail})`;
    case undefined:
      return `upstream closed with code ${close.code}${close.reason ? ` (${close.reason})` : ""}`;
    default:
      return close.failure satisfies never;
  }
}
