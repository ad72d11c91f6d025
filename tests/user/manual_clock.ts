/** A {@linkcode Clock} driven by @sinonjs/fake-timers that also counts its pending timers. */
import FakeTimers from "@sinonjs/fake-timers";
import type { Clock, TimerId } from "../../src/core/clock.ts";

/** A fake clock, a way to advance it, and how many timers are pending. */
export function manualClock(): { clock: Clock; tick(ms: number): void; timers(): number } {
  const fake = FakeTimers.createClock(1_700_000_000_000);
  const start = fake.now;
  return {
    clock: {
      now: () => fake.now,
      monotonic: () => fake.now - start,
      setTimeout: (callback, ms) => fake.setTimeout(callback, ms) as unknown as TimerId,
      clearTimeout: (id) => fake.clearTimeout(id as unknown as number),
    },
    tick: (ms) => void fake.tick(ms),
    timers: () => fake.countTimers(),
  };
}
