/** A {@linkcode Clock} driven by @sinonjs/fake-timers, for pure timing tests. */
import FakeTimers from "@sinonjs/fake-timers";
import type { Clock } from "../src/core/clock.ts";

/** A fake clock and a way to advance it. */
export function fakeClock(): { clock: Clock; tick(ms: number): void } {
  const fake = FakeTimers.createClock(0);
  return {
    clock: {
      now: () => fake.now,
      monotonic: () => fake.now,
      setTimeout: (callback, ms) =>
        fake.setTimeout(callback, ms) as unknown as ReturnType<typeof setTimeout>,
      clearTimeout: (id) => fake.clearTimeout(id as unknown as number),
    },
    tick: (ms) => void fake.tick(ms),
  };
}
