/**
 * A time limit shared by the steps of one operation of a {@linkcode VoiceSession}.
 *
 * @module
 */
import { TimeoutError } from "./errors.ts";
import { positive } from "./options.ts";

/** A time limit shared by the steps of one operation; `clear()` it when done. */
export class Deadline {
  readonly #timeout: Promise<never> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** Starts the limit; `undefined` means no limit. */
  constructor(operation: string, timeoutMs: number | undefined) {
    if (timeoutMs === undefined) return;
    const ms = positive(timeoutMs, "timeout");
    this.#timeout = new Promise<never>((_, reject) => {
      this.#timer = setTimeout(() => reject(new TimeoutError(operation, ms)), ms);
    });
    this.#timeout.catch(() => {});
  }

  /** `promise`, or a {@linkcode TimeoutError} once the limit passes. */
  race<T>(promise: Promise<T>): Promise<T> {
    return this.#timeout ? Promise.race([promise, this.#timeout]) : promise;
  }

  /** Stops the timer. */
  clear(): void {
    clearTimeout(this.#timer);
  }
}

/** A promise's settlers. */
export interface Waiter<T> {
  /** Settles with a value. */
  resolve(value: T): void;
  /** Settles with an error. */
  reject(error: unknown): void;
}
