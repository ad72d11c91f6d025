/**
 * Session recycling for long calls: the service ends a session at `expires_at`, so shortly
 * before, at a quiet moment, a fresh session (warm if the provider has one) is opened,
 * configured and given the replay history, and the call moves onto it — unless the
 * conversation moved on meanwhile, in which case it is prepared again.
 */
import type { Clock, TimerId } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { SessionOptions } from "../realtime/session_config.ts";
import type {
  RealtimeProvider,
  RealtimeTransport,
  TransportListener,
} from "../realtime/transport.ts";

/** While a recycle waits for a quiet moment, it looks again this often (ms). */
const RECYCLE_POLL_MS = 200;
/** Replacement sessions that may fail before recycling gives up (the expiry then reconnects). */
const MAX_RECYCLE_ATTEMPTS = 3;

/** What the conversation was when a replacement was configured. */
export interface ConversationStamp {
  readonly session: SessionOptions;
  readonly historyVersion: number;
}

/** A session ready to carry the call on. */
export interface TakeOver {
  readonly transport: RealtimeTransport;
  readonly openedAt: number;
  readonly expiresAt: number;
}

/** What the recycler needs of its Bridge. */
export interface RecycleHost {
  readonly provider: RealtimeProvider;
  readonly clock: Clock;
  readonly log: Logger;
  /** The call is live and its session ready. */
  live(): boolean;
  /** Nothing under way: the call may move now. */
  quiet(): boolean;
  /** The conversation now (a replacement configured for another one is stale). */
  stamp(): ConversationStamp;
  /** Configures a new session for the call (`session.update`, the history replayed). */
  configure(transport: RealtimeTransport, session: SessionOptions): void;
  /** Moves the call onto the replacement. */
  takeOver(replacement: TakeOver): void;
  /** The Bridge owns the transport until it is closed. */
  own(transport: RealtimeTransport): void;
  /** When the service ends a session, from `session.created`'s session (monotonic ms). */
  expiryOf(session: Readonly<Record<string, unknown>>, openedAt: number): number;
  internalError(error: unknown, during: string): void;
}

interface Replacement {
  readonly transport: RealtimeTransport;
  readonly openedAt: number;
  expiresAt: number;
  readonly stamp: ConversationStamp;
  ready: boolean;
}

/** The recycling of one call's sessions. */
export class Recycler {
  readonly #host: RecycleHost;
  readonly #recycleBeforeMs: number | undefined;
  #timer: TimerId | undefined;
  #replacement: Replacement | undefined;
  #attempts = 0;
  /** The current session's expiry (monotonic ms). */
  #expiresAt = Infinity;

  constructor(host: RecycleHost, options: { readonly recycleBeforeMs?: number }) {
    this.#host = host;
    this.#recycleBeforeMs = options.recycleBeforeMs;
  }

  /** Failed replacements are forgiven (a session became ready the ordinary way). */
  resetAttempts(): void {
    this.#attempts = 0;
  }

  /** Arms the recycle of the current session for shortly before it expires. */
  schedule(session: { readonly openedAt: number; readonly expiresAt: number }): void {
    this.#clearTimer();
    this.#expiresAt = session.expiresAt;
    const lifetime = session.expiresAt - session.openedAt;
    if (!this.#host.live() || !Number.isFinite(lifetime) || lifetime <= 0) return;
    const before = this.#recycleBeforeMs ?? Math.min(5 * 60_000, lifetime / 4);
    if (before <= 0) return;
    const { clock } = this.#host;
    const wait = Math.max(0, session.expiresAt - before - clock.monotonic());
    this.#timer = clock.setTimeout(() => this.#tick(), wait);
  }

  /** Stops: no timer, no replacement. */
  stop(): void {
    this.#clearTimer();
    this.discard();
  }

  /** Abandons a replacement being prepared. */
  discard(): void {
    const r = this.#replacement;
    if (!r) return;
    this.#replacement = undefined;
    r.transport.close(1000, "recycle abandoned");
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#host.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** In the recycle window: prepare a replacement when quiet, move onto it when ready. */
  #tick(): void {
    this.#timer = undefined;
    const host = this.#host;
    if (!host.live()) return;
    const replacement = this.#replacement;
    if (replacement === undefined) {
      if (this.#attempts < MAX_RECYCLE_ATTEMPTS && host.quiet()) this.#prepare();
    } else if (replacement.ready) {
      this.#finish();
    }
    if (!host.live() || this.#timer !== undefined) return;
    if (host.clock.monotonic() >= this.#expiresAt) return;
    this.#timer = host.clock.setTimeout(() => this.#tick(), RECYCLE_POLL_MS);
  }

  /** Opens (or takes warm) the session that will carry the call on, and configures it. */
  #prepare(): void {
    const host = this.#host;
    this.#attempts++;
    const stamp = host.stamp();
    // Set once the transport exists; its callbacks come later.
    const slot: { replacement?: Replacement } = {};
    const current = () => slot.replacement !== undefined && slot.replacement === this.#replacement;
    const listener: TransportListener = {
      onOpen: () => {
        if (current()) host.configure(slot.replacement!.transport, stamp.session);
      },
      onEvent: (event) => {
        if (!current()) return;
        const r = slot.replacement!;
        if (event.type === "session.created") {
          r.expiresAt = host.expiryOf(event.session, r.openedAt);
        } else if (event.type === "session.updated" && !r.ready) {
          r.ready = true;
          this.#finish();
        } else if (event.type === "error") {
          host.log.warn(
            { code: event.error.code, message: event.error.message },
            "The replacement upstream session refused an event; recycling later",
          );
          this.discard();
        }
      },
      onClose: () => {
        if (current()) this.discard();
      },
      onListenerError: (error, where) => host.internalError(error, `replacement ${where}`),
    };
    const warm = host.provider.takeWarm?.();
    let transport: RealtimeTransport;
    try {
      if (warm) {
        transport = warm.transport;
        transport.attach(listener);
      } else {
        transport = host.provider.connect(listener);
      }
    } catch (error) {
      host.log.warn({ err: String(error) }, "Cannot open a replacement upstream session");
      return;
    }
    const replacement: Replacement = {
      transport,
      openedAt: warm?.openedAt ?? host.clock.monotonic(),
      expiresAt: warm?.expiresAt ?? Infinity,
      stamp,
      ready: false,
    };
    slot.replacement = replacement;
    this.#replacement = replacement;
    host.own(transport);
    host.log.info({ warm: warm !== undefined }, "Recycling the upstream session");
    if (warm) host.configure(transport, stamp.session);
  }

  /** Moves the call onto the ready replacement, if it is still quiet and nothing changed. */
  #finish(): void {
    const host = this.#host;
    const r = this.#replacement;
    if (!r?.ready || !host.live()) return;
    const now = host.stamp();
    if (r.stamp.session !== now.session || r.stamp.historyVersion !== now.historyVersion) {
      // The conversation moved on while it was prepared: prepare it again when quiet.
      this.discard();
      return;
    }
    if (!host.quiet()) return;
    this.#replacement = undefined;
    this.#attempts = 0;
    host.takeOver({ transport: r.transport, openedAt: r.openedAt, expiresAt: r.expiresAt });
  }
}
