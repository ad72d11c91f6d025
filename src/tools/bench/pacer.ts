/**
 * One timer for the frames of every streaming call of a step: each tick sends what is due and
 * the timer is set for the earliest next frame, so a hundred calls cost one timer, not a hundred.
 */

/** A call whose frames the pacer sends. */
export interface Paced {
  /** Sends the frames due by `now`; returns when the next one is due (Infinity when done). */
  tick(now: number): number;
}

/** Sends every streaming call's frames on time from one timer. */
export class Pacer {
  readonly #calls = new Set<Paced>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;

  /** Starts pacing a call (its first frame is due at once). */
  add(call: Paced): void {
    this.#calls.add(call);
    this.#schedule(performance.now());
  }

  /** Stops pacing a call. */
  remove(call: Paced): void {
    this.#calls.delete(call);
    if (this.#calls.size === 0) this.#cancel();
  }

  #schedule(at: number): void {
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    this.#cancel();
    this.#timerAt = at;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.#run();
    }, Math.max(0, at - performance.now()));
  }

  #cancel(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  #run(): void {
    const now = performance.now();
    let next = Infinity;
    for (const call of this.#calls) next = Math.min(next, call.tick(now));
    if (next < Infinity && this.#calls.size > 0) this.#schedule(next);
  }
}
