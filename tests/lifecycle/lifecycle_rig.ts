/**
 * Shared pieces of the lifecycle race suite (issue #11): fuzz scaling and seeds, a trap for
 * uncaught errors, the "the gateway still serves" check and the "the call left nothing behind"
 * check.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type { App } from "../../src/app.ts";
import type { Clock, TimerId } from "../../src/core/clock.ts";
import type { AudioCodesFormat } from "../../src/protocol/media_format.ts";
import { TIMEOUT_SCALE } from "../helpers.ts";
import { Vaic } from "../audiocodes/rig.ts";

/** Every media format VAIC may offer, pass-through first, then the resampled ones. */
export const FORMATS: readonly AudioCodesFormat[] = [
  "raw/lpcm16_24",
  "raw/mulaw",
  "raw/alaw",
  "raw/lpcm16",
  "raw/lpcm16_8",
];

/** `FUZZ_RUNS` from `deno task fuzz`, or undefined in the normal suite. */
export function fuzzRuns(): number | undefined {
  const raw = Deno.env.get("FUZZ_RUNS");
  if (raw === undefined || raw.trim() === "") return undefined;
  const runs = Number(raw);
  if (!Number.isInteger(runs) || runs < 1) {
    throw new RangeError(`Cannot read FUZZ_RUNS: expected a positive whole number, got "${raw}"`);
  }
  return runs;
}

/** Runs of a property: `FUZZ_RUNS` (scaled by `share`) under the fuzz task, else `normal`. */
export function runsFor(normal: number, share = 1): number {
  const fuzz = fuzzRuns();
  return fuzz === undefined ? normal : Math.max(normal, Math.round(fuzz * share));
}

/** The seed of this test file: `FUZZ_SEED` to replay a failure, otherwise random; printed. */
export function fuzzSeed(name: string): number {
  const raw = Deno.env.get("FUZZ_SEED");
  const seed = raw === undefined || raw.trim() === ""
    ? (crypto.getRandomValues(new Uint32Array(1))[0]! | 0)
    : Number(raw);
  if (!Number.isInteger(seed)) {
    throw new RangeError(`Cannot read FUZZ_SEED: expected a whole number, got "${raw}"`);
  }
  console.log(`${name}: FUZZ_SEED=${seed} (set it to replay)`);
  return seed;
}

/**
 * fast-check parameters: the seed, the runs, and a failure report that says how to replay
 * (fast-check's own message carries the seed, the path and the shrunk counterexample).
 */
export function fcParameters<T>(
  seed: number,
  numRuns: number,
): fc.Parameters<T> {
  // FUZZ_PATH (with FUZZ_SEED) replays exactly the reported counterexample.
  const path = Deno.env.get("FUZZ_PATH");
  return {
    seed,
    numRuns,
    ...(path ? { path } : {}),
    // Runs take real time: the normal suite reports the first failure as is; the fuzz task
    // shrinks it.
    endOnFailure: fuzzRuns() === undefined,
    verbose: fc.VerbosityLevel.Verbose,
    reporter(details) {
      if (!details.failed) return;
      const error = details.errorInstance;
      const stack = error instanceof Error ? error.stack ?? String(error) : String(error);
      throw new Error(
        `${fc.defaultReportMessage(details)}\n` +
          `Replay: FUZZ_SEED=${details.seed} FUZZ_PATH="${details.counterexamplePath}"\n` +
          `Failure of the counterexample:\n${stack}`,
        { cause: error },
      );
    },
  };
}

/** Installs listeners for uncaught errors and unhandled rejections and keeps them. */
export class UncaughtErrors implements Disposable {
  readonly errors: unknown[] = [];
  readonly #onError = (event: ErrorEvent): void => {
    // Kept for the assertion; a gateway in production would have died here.
    event.preventDefault();
    this.errors.push(event.error ?? event.message);
  };
  readonly #onRejection = (event: PromiseRejectionEvent): void => {
    event.preventDefault();
    this.errors.push(event.reason);
  };

  constructor() {
    globalThis.addEventListener("error", this.#onError);
    globalThis.addEventListener("unhandledrejection", this.#onRejection);
  }

  /** Fails with the first uncaught error's stack, if any was seen; clears the list. */
  assertNone(when: string): void {
    const errors = this.errors.splice(0);
    if (errors.length === 0) return;
    const first = errors[0];
    const detail = first instanceof Error ? first.stack ?? String(first) : String(first);
    throw new Error(
      `Uncaught error in the gateway ${when} (${errors.length} in all; a real process would ` +
        `have exited):\n${detail}`,
    );
  }

  [Symbol.dispose](): void {
    globalThis.removeEventListener("error", this.#onError);
    globalThis.removeEventListener("unhandledrejection", this.#onRejection);
  }
}

/**
 * Resolves once `check()` holds. The gateway exposes no event for an upstream session or a
 * conversation going away, so this polls every 5 ms up to a deadline (stretched by
 * TEST_TIMEOUT_SCALE); it never passes on time alone.
 */
export async function eventually(
  check: () => boolean,
  what: () => string,
  timeoutMs = 3000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs * TIMEOUT_SCALE;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`Timed out waiting: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Live upstream sessions of the embedded engine. */
export function engineSessions(app: App): number {
  assert.ok(app.engine, "the tests run on the embedded local engine");
  return app.engine.sessions;
}

/**
 * The call left nothing behind: no conversation under its id and the engine's live sessions
 * back to `baseline`.
 */
export async function assertReleased(
  app: App,
  conversationId: string,
  baseline: number,
  timeoutMs = 3000,
): Promise<void> {
  await eventually(
    () => app.gateway.manager.get(conversationId) === undefined,
    () => {
      const c = app.gateway.manager.get(conversationId);
      return `conversation "${conversationId}" still registered (phase ${c?.phase})`;
    },
    timeoutMs,
  );
  await eventually(
    () => engineSessions(app) <= baseline,
    () => `engine has ${engineSessions(app)} live sessions, baseline ${baseline}`,
    timeoutMs,
  );
}

/**
 * No call ended on an internal error: the gateway contains a bug in one call (it hangs that
 * call up instead of crashing), but a contained bug is still a bug.
 */
export function assertNoInternalErrors(app: App): void {
  assert.equal(
    app.gateway.manager.stats.internalErrors,
    0,
    "a call ended on an internal error (the gateway's log has its stack)",
  );
}

/**
 * The gateway still serves: `GET /health` answers ok, and a fresh call is accepted and greeted
 * with a play stream. The fresh call is hung up and released again.
 */
export async function assertServing(
  app: App,
  format: AudioCodesFormat = "raw/mulaw",
): Promise<void> {
  const response = await fetch(`${app.url}/health`);
  assert.equal(response.status, 200);
  assert.equal((await response.json()).status, "ok");
  const baseline = engineSessions(app);
  const vaic = new Vaic(app, `fresh-${crypto.randomUUID()}`);
  try {
    await vaic.begin([format]);
    const start = await vaic.socket.next("playStream.start");
    assert.equal(start.mediaFormat, format);
  } finally {
    await vaic[Symbol.asyncDispose]();
  }
  await assertReleased(app, vaic.conversationId, baseline);
}

/**
 * The real clock, keeping the timers the gateway has pending and where each was started, so a
 * run can check that a finished call left none behind (Deno's op sanitizer only sees the end of
 * a whole test).
 */
export class TrackingClock implements Clock {
  readonly #pending = new Map<TimerId, { readonly ms: number; readonly stack: string }>();

  now(): number {
    return Date.now();
  }

  monotonic(): number {
    return performance.now();
  }

  setTimeout(callback: () => void, ms: number): TimerId {
    const id = setTimeout(() => {
      this.#pending.delete(id);
      callback();
    }, ms);
    this.#pending.set(id, { ms, stack: new Error("Timer started").stack ?? "" });
    return id;
  }

  clearTimeout(id: TimerId): void {
    this.#pending.delete(id);
    clearTimeout(id);
  }

  /** Timers started and neither fired nor cleared. */
  get pending(): number {
    return this.#pending.size;
  }

  /** The pending timers, each with its delay and the stack that started it. */
  describe(): string {
    return [...this.#pending.values()].map((t) => `a ${t.ms} ms timer: ${t.stack}`).join("\n");
  }
}

/** No gateway timer outlives the call: every timer fires or is cleared within `timeoutMs`. */
export async function assertNoTimers(clock: TrackingClock, timeoutMs = 3000): Promise<void> {
  await eventually(
    () => clock.pending === 0,
    () =>
      `${clock.pending} gateway timers still pending after the call ended:\n${clock.describe()}`,
    timeoutMs,
  );
}

/** Resolves after `ms` (the offsets the properties generate are real time). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
