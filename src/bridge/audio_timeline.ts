/**
 * The caller's audio timeline across upstream sessions: the leg appends one continuous stream,
 * while each upstream session counts its audio from 0 (a new session after a reconnect or a
 * recycle, minus audio dropped while it waited). Positions the upstream reports (speech
 * started/stopped) are mapped back onto the leg's timeline.
 */

/** One call's audio timeline. */
export class AudioTimeline {
  readonly #bytesPerMs: number;
  /** Bytes of caller audio the leg appended, over every upstream session. */
  #appendedBytes = 0;
  /** Where the current upstream session's timeline starts in the leg's (bytes). */
  #epochBytes = 0;

  constructor(bytesPerMs: number) {
    this.#bytesPerMs = bytesPerMs;
  }

  /** The leg appended audio. */
  appended(bytes: number): void {
    this.#appendedBytes += bytes;
  }

  /** Audio was dropped before any session heard it: the session's timeline starts after it. */
  dropped(bytes: number): void {
    this.#epochBytes += bytes;
  }

  /** A new session begins; `waitingBytes` of audio wait for it and open its timeline. */
  newSession(waitingBytes: number): void {
    this.#epochBytes = this.#appendedBytes - waitingBytes;
  }

  /** An upstream audio position (ms) as a position in everything the leg appended. */
  legMs(upstreamMs: number): number {
    return Math.round(this.#epochBytes / this.#bytesPerMs + upstreamMs);
  }
}
