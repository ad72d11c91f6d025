/**
 * Degrade, don't die (issue #15): Redis going away never ends a call; resumes elsewhere are
 * refused with a clear reason meanwhile; once Redis is back (empty, as after a restart without
 * persistence) every live call is written again and can be taken over as before.
 */
import assert from "node:assert/strict";
import { fixture, silence } from "../audiocodes/rig.ts";
import { CallLeg, eventually, probe, startClusterRig } from "./cluster_rig.ts";

/** `/ready`'s reasons (the tap in front of the engine answers no plain GET: ignore that one). */
async function redisReasons(gateway: { url: string }): Promise<string[]> {
  const ready = await probe(gateway, "/ready");
  return ((ready.body.reasons ?? []) as string[]).filter((r) => !r.startsWith("upstream"));
}

async function turn(leg: CallLeg): Promise<void> {
  await leg.stream(await fixture("short_24k.wav"));
  await leg.stream(silence(1500));
  await leg.socket.next("playStream.start", 15_000);
  await leg.socket.next("playStream.stop", 15_000);
}

Deno.test("Redis stopped mid-call: the call goes on; Redis back: calls register again", async () => {
  await using rig = await startClusterRig();
  const a = await rig.gateway();
  const b = await rig.gateway();
  const id = crypto.randomUUID();
  await using call = new CallLeg(a, id);
  await call.begin(["raw/mulaw"]);
  await turn(call);
  await eventually(
    async () => (await rig.redis.cli("EXISTS", `vg:{${id}}:call`)) === "1" || undefined,
    "the record",
  );
  assert.deepEqual(await redisReasons(a), []);

  await rig.redis.stop();
  // /ready says so (calls still work, but only on the instance that has them).
  await eventually(
    async () => (await redisReasons(a)).includes("redis unreachable") || undefined,
    "/ready to report Redis",
  );
  const ready = await probe(a, "/ready");
  assert.equal(ready.status, 503);
  assert.equal((ready.body.cluster as { redis: string }).redis, "down");

  // The live call goes on: another turn is answered.
  call.socket.drain();
  await turn(call);
  // A new call is accepted while Redis is away (it is not resumable elsewhere meanwhile).
  const late = crypto.randomUUID();
  await using lateCall = new CallLeg(a, late);
  await lateCall.begin(["raw/mulaw"]);
  // A resume of a call this instance does not have is refused with a clear reason.
  await using stranger = new CallLeg(b, crypto.randomUUID());
  const refused = await stranger.resume();
  assert.deepEqual(refused, {
    type: "session.error",
    conversationId: stranger.conversationId,
    reason: "Cannot resume call: the call registry is unreachable (Redis down)",
  });

  // Redis comes back empty (a restart without persistence): the client reconnects with backoff
  // and every live call is written again, the one begun during the outage included.
  await rig.redis.resume();
  await eventually(async () => (await redisReasons(a)).length === 0 || undefined, "ready");
  for (const conversationId of [id, late]) {
    await eventually(
      async () =>
        (await rig.redis.cli("EXISTS", `vg:{${conversationId}}:call`)) === "1" || undefined,
      `the record of ${conversationId}`,
    );
  }
  // New calls register again, on either instance.
  const fresh = crypto.randomUUID();
  await using freshCall = new CallLeg(b, fresh);
  await freshCall.begin(["raw/mulaw"]);
  await eventually(
    async () => (await rig.redis.cli("EXISTS", `vg:{${fresh}}:call`)) === "1" || undefined,
    "the new call's record",
  );
  // Nothing the call needs was lost: it is taken over with both turns' history.
  const record = JSON.parse(await rig.redis.cli("HGET", `vg:{${id}}:call`, "record"));
  assert.equal(record.agent.history.length, 4);
  await call.drop();
  await using resumed = new CallLeg(b, id);
  assert.deepEqual(await resumed.resume(), { type: "session.accepted", mediaFormat: "raw/mulaw" });
});
