/**
 * Issue #11, lifecycle races: fast-check generates call timelines — caller speech or silence,
 * barge-in, hang-up, socket drops with and without `session.resume`, upstream drops, DTMF and
 * tool calls, each at a random offset after a milestone of the call — and after every timeline
 * the gateway must still serve, a fresh call must work, and the call must have left nothing
 * behind: no conversation, no upstream session, no pending gateway timer (each run is a test step
 * with its own gateway and a clock that tracks its timers; Deno's op and resource sanitizers
 * check the whole test at its end).
 *
 * Replay a failure with the FUZZ_SEED (and FUZZ_PATH) the failure message prints.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { startTestApp } from "../helpers.ts";
import type { App } from "../../src/app.ts";
import {
  assertNoInternalErrors,
  assertNoTimers,
  assertReleased,
  assertServing,
  eventually,
  fcParameters,
  fuzzSeed,
  runsFor,
  TrackingClock,
  UncaughtErrors,
} from "./lifecycle_rig.ts";
import {
  AppSessionDriver,
  appTimeline,
  describeSteps,
  PhoneCallDriver,
  phoneTimeline,
  TIMELINE_ENV,
  toolScenario,
} from "./timelines.ts";

const seed = fuzzSeed("call_timeline_test");

/**
 * Runs `body` as a test step and turns a failed step into a failed
 * fast-check run, so the counterexample is reported, shrunk under the fuzz task, and replayable.
 */
async function asStep(
  t: Deno.TestContext,
  name: string,
  body: () => Promise<void>,
): Promise<void> {
  let failure: unknown;
  const ok = await t.step(name, async () => {
    try {
      await body();
    } catch (error) {
      failure = error;
      throw error;
    }
  });
  if (!ok) {
    throw failure ?? new Error(`Step "${name}" failed (see above)`);
  }
}

function startTimelineApp(clock: TrackingClock, speed: number): Promise<App> {
  return startTestApp(TIMELINE_ENV, { clock, engine: { speed, scenario: toolScenario } });
}

Deno.test("a phone call's timeline leaves the gateway serving and the call released", async (t) => {
  using uncaught = new UncaughtErrors();
  let run = 0;
  await fc.assert(
    fc.asyncProperty(phoneTimeline, async (timeline) => {
      const n = run++;
      const name = `${n} ${timeline.format}: ${
        describeSteps(timeline.steps)
      }, tail ${timeline.tailMs}`;
      await asStep(t, name, async () => {
        const clock = new TrackingClock();
        await using app = await startTimelineApp(clock, timeline.speed);
        const call = new PhoneCallDriver(app, timeline.format, `timeline-${n}`);
        try {
          await call.begin();
          await call.play(timeline.steps, timeline.tailMs);
        } finally {
          await call.close();
        }
        await assertReleased(app, call.conversationId, 0);
        assert.equal(app.gateway.manager.size, 0);
        assertNoInternalErrors(app);
        uncaught.assertNone(`during the timeline (the call ended: ${call.over})`);
        await assertNoTimers(clock);
        await assertServing(app, timeline.format);
        await app.close();
        uncaught.assertNone("while the gateway shut down");
      });
    }),
    fcParameters(seed, runsFor(8)),
  );
});

Deno.test("an app session's timeline leaves the gateway serving and the session released", async (t) => {
  using uncaught = new UncaughtErrors();
  let run = 0;
  await fc.assert(
    fc.asyncProperty(appTimeline, async (timeline) => {
      const n = run++;
      await asStep(
        t,
        `${n} ×${timeline.speed}: ${describeSteps(timeline.steps)}, tail ${timeline.tailMs}`,
        async () => {
          const clock = new TrackingClock();
          await using app = await startTimelineApp(clock, timeline.speed);
          const session = new AppSessionDriver(app, `user-${n}`);
          try {
            await session.begin();
            await session.play(timeline.steps, timeline.tailMs);
          } finally {
            await session.client.close();
          }
          await eventually(
            () => app.user.connections.size === 0,
            () => `${app.user.connections.size} app connections still open`,
          );
          await eventually(
            () => (app.engine?.sessions ?? 0) === 0,
            () => `engine has ${app.engine?.sessions} live sessions after the app session closed`,
          );
          uncaught.assertNone("during the timeline");
          await assertNoTimers(clock);
          await assertServing(app);
          // A fresh app session is served too, up to a ready model.
          const fresh = new AppSessionDriver(app, `fresh-${n}`);
          try {
            await fresh.begin();
            await fresh.client.next("session.ready");
          } finally {
            await fresh.client.close();
          }
          await app.close();
          uncaught.assertNone("while the gateway shut down");
        },
      );
    }),
    fcParameters(seed, runsFor(6)),
  );
});
