/**
 * Issue #11, the critical crash: a caller who hangs up (`session.end`) while the bot is speaking
 * on a resampled call (`raw/lpcm16`, `raw/lpcm16_8`) must not take the process down
 * (`Uncaught TypeError: Cannot resample: the resampler is closed`). Every format is placed N
 * times, each call hanging up 0–60 ms after the greeting's first `playStream.start`.
 *
 * The gateway runs in-process: an uncaught error is trapped (a real process would have exited)
 * and fails the run with its stack, so fast-check can report and replay it.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { Vaic } from "../audiocodes/rig.ts";
import { startTestApp } from "../helpers.ts";
import {
  assertNoInternalErrors,
  assertNoTimers,
  assertReleased,
  assertServing,
  delay,
  engineSessions,
  fcParameters,
  FORMATS,
  fuzzRuns,
  fuzzSeed,
  TrackingClock,
  UncaughtErrors,
} from "./lifecycle_rig.ts";

const seed = fuzzSeed("hangup_during_reply_test");
/**
 * 20 calls per format (100 in all, the reproduction) in the normal suite; more under
 * `deno task fuzz` (FUZZ_RUNS / 3 per format).
 */
const perFormat = Math.max(20, Math.round((fuzzRuns() ?? 0) / 3));

Deno.test("session.end while the bot speaks never crashes the gateway", async (t) => {
  using uncaught = new UncaughtErrors();
  // A 6 s greeting generated at 40× real time (150 ms): model audio is still streaming in, a
  // delta every few milliseconds, whenever the caller hangs up. With the default 0.8 s chime at
  // 8× the crash shows in about one call in twenty; this way in nearly every run of 4 calls.
  const clock = new TrackingClock();
  await using app = await startTestApp({}, {
    clock,
    engine: {
      speed: 40,
      scenario: (turn) => turn.input.kind === "none" ? { audioMs: 6000 } : undefined,
    },
  });
  for (const format of FORMATS) {
    await t.step(`${format}: ${perFormat} calls`, async () => {
      let call = 0;
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: 60 }), async (hangupAfterMs) => {
          const baseline = engineSessions(app);
          const vaic = new Vaic(app, `hangup-${format}-${call++}`);
          try {
            await vaic.begin([format]);
            const start = await vaic.socket.next("playStream.start");
            assert.equal(start.mediaFormat, format);
            await delay(hangupAfterMs);
          } finally {
            // Sends session.end, then closes the socket as VAIC does.
            await vaic[Symbol.asyncDispose]();
          }
          await assertReleased(app, vaic.conversationId, baseline);
          uncaught.assertNone(`after a hang-up ${hangupAfterMs} ms into the greeting (${format})`);
          assertNoInternalErrors(app);
          await assertNoTimers(clock);
        }),
        fcParameters(seed, perFormat),
      );
      await assertServing(app, format);
      uncaught.assertNone(`after the ${format} calls`);
    });
  }
  await app.close();
  uncaught.assertNone("while the gateway shut down");
});
