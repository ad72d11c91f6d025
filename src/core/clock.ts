/** Time, injected so pure code and tests never read the real clock directly. */

/** A cancellable timer handle. */
export type TimerId = ReturnType<typeof setTimeout>;

/** The clock and timers a component uses. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Monotonic milliseconds, for measuring durations. */
  monotonic(): number;
  setTimeout(callback: () => void, ms: number): TimerId;
  clearTimeout(id: TimerId): void;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (id) => clearTimeout(id),
};

/**
 * A clock whose timer callbacks cannot throw into the event loop: an exception is handed to
 * `onError` (the call that owns the timers ends; the process goes on).
 */
export function guardedClock(clock: Clock, onError: (error: unknown) => void): Clock {
  return {
    now: () => clock.now(),
    monotonic: () => clock.monotonic(),
    setTimeout: (callback, ms) =>
      clock.setTimeout(() => {
        try {
          callback();
        } catch (error) {
          onError(error);
        }
      }, ms),
    clearTimeout: (id) => clock.clearTimeout(id),
  };
}
