/**
 * The session configuration as negotiated with the upstream: the Bridge's view takes a change
 * only once `session.updated` confirms it; changes asked for while no session is ready wait;
 * a new session gets every change asked for so far in one `session.update` (changes sent on a
 * lost session were never confirmed).
 */
import type { SessionOptions } from "../realtime/session_config.ts";

/** A configuration sent on the current session, waiting for its `session.updated`. */
export interface Proposal {
  readonly eventId: string;
  readonly session: SessionOptions;
}

/** One call's session configuration. */
export class SessionNegotiation {
  #confirmed: SessionOptions;
  /** Sent on the current session, oldest first. */
  #proposals: Proposal[] = [];
  /** Asked for while not ready; sent once ready. */
  #unsent: SessionOptions | undefined;

  constructor(session: SessionOptions) {
    this.#confirmed = session;
  }

  /** The configuration the upstream last confirmed. */
  get confirmed(): SessionOptions {
    return this.#confirmed;
  }

  /** Nothing sent waits for its confirmation, nothing waits to be sent. */
  get settled(): boolean {
    return this.#proposals.length === 0 && this.#unsent === undefined;
  }

  /** The newest configuration asked for, confirmed or not. */
  latest(): SessionOptions {
    return this.#unsent ?? this.#proposals.at(-1)?.session ?? this.#confirmed;
  }

  /** Keeps a configuration to send once a session is ready. */
  defer(session: SessionOptions): void {
    this.#unsent = session;
  }

  /** The configuration kept while not ready, taken to be sent now. */
  takeDeferred(): SessionOptions | undefined {
    const session = this.#unsent;
    this.#unsent = undefined;
    return session;
  }

  /** A `session.update` went out. */
  proposed(proposal: Proposal): void {
    this.#proposals.push(proposal);
  }

  /** A new session opened: what to configure it with (every change asked for so far). */
  opening(): SessionOptions {
    const target = this.latest();
    this.#proposals = [];
    this.#unsent = undefined;
    return target;
  }

  /** `session.updated`: the oldest proposal is confirmed. */
  confirm(): void {
    const confirmed = this.#proposals.shift();
    if (confirmed) this.#confirmed = confirmed.session;
  }

  /** An `error` about this event id: the proposal it refused, taken back, if it was one. */
  refused(eventId: string | undefined): Proposal | undefined {
    const index = this.#proposals.findIndex((p) => p.eventId === eventId);
    return index >= 0 ? this.#proposals.splice(index, 1)[0] : undefined;
  }

  /** The session was lost: nothing sent on it will be confirmed. */
  lost(): void {
    this.#proposals = [];
  }
}
