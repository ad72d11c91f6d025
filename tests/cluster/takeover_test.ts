/**
 * Scale-out acceptance (issue #15): gateway processes on one real Redis take over each other's
 * calls — a dropped socket resumed elsewhere, a killed instance, two resumes racing.
 */
import assert from "node:assert/strict";
import { fixture, silence } from "../audiocodes/rig.ts";
import {
  CallLeg,
  eventually,
  logLine,
  probe,
  startClusterRig,
  TEST_LEASE_MS,
} from "./cluster_rig.ts";
import type { RealtimeTap } from "../realtime_tap.ts";

/** The client events of one upstream session, by type. */
function sentIn(tap: RealtimeTap, session: number, type: string): Record<string, unknown>[] {
  return tap.events.filter((e) =>
    e.session === session && e.from === "client" && e.event.type === type
  )
    .map((e) => e.event);
}

/** The texts of replayed items (`conversation.item.create`) of one upstream session. */
function replayed(tap: RealtimeTap, session: number): { role: string; text: string }[] {
  return sentIn(tap, session, "conversation.item.create").map((event) => {
    const item = event.item as { role: string; content: { text?: string }[] };
    return { role: item.role, text: item.content.map((c) => c.text ?? "").join("") };
  });
}

/**
 * The upstream session the new owner opened: the first one, from `from` on, that replays
 * conversation items (found by content, not by number: under load an instance may reconnect).
 */
async function replaySession(tap: RealtimeTap, from: number, items: number): Promise<number> {
  const first = await tap.waitFor((e) =>
    e.session >= from && e.from === "client" && e.event.type === "conversation.item.create"
  );
  await eventually(
    () => replayed(tap, first.session).length >= items || undefined,
    "every replayed item",
  );
  return first.session;
}

/** One caller turn: speech, then silence so the VAD ends it; resolves at the reply's end. */
async function turn(leg: CallLeg): Promise<Record<string, unknown>> {
  await leg.stream(await fixture("short_24k.wav"));
  await leg.stream(silence(1500));
  const start = await leg.socket.next("playStream.start", 15_000);
  await leg.socket.next("playStream.stop", 15_000);
  return start;
}

Deno.test("a call dropped on instance A resumes on instance B with its conversation", async () => {
  await using rig = await startClusterRig();
  const a = await rig.gateway();
  const b = await rig.gateway();
  const id = crypto.randomUUID();
  const first = new CallLeg(a, id);
  assert.equal((await first.begin(["raw/mulaw"])).mediaFormat, "raw/mulaw");
  const firstStart = await turn(first);
  const heard = await rig.tap.waitFor((e) =>
    e.event.type === "conversation.item.input_audio_transcription.completed"
  );
  const said = await rig.tap.waitFor((e) =>
    e.event.type === "response.output_audio_transcript.done"
  );
  const callerText = String(heard.event.transcript);
  const botText = String(said.event.transcript);
  // The turn boundary wrote the call's record, history included.
  const record = await eventually(async () => {
    const text = await rig.redis.cli("HGET", `vg:{${id}}:call`, "record");
    return text.includes(botText) ? JSON.parse(text) : undefined;
  }, "the record with both turns");
  assert.equal(record.mediaFormat, "raw/mulaw");
  assert.equal(record.agent.started, true);
  const sessionsOnA = rig.tap.sessions;

  await first.drop();
  await using second = new CallLeg(b, id);
  const answer = await second.resume();
  assert.deepEqual(answer, { type: "session.accepted", mediaFormat: "raw/mulaw" });

  // B opened its own upstream session and replayed the earlier turns to it.
  const onB = await replaySession(rig.tap, sessionsOnA, 2);
  assert.deepEqual(replayed(rig.tap, onB), [
    { role: "user", text: callerText },
    { role: "assistant", text: botText },
  ]);
  // No second greeting on B.
  assert.equal(sentIn(rig.tap, onB, "response.create").length, 0);

  // The next utterance is answered, on a new play stream.
  await second.openStream();
  const next = await turn(second);
  assert.notEqual(next.streamId, firstStart.streamId);

  // A let go of the call: released with the reason, its counts empty.
  const ended = await eventually(
    () => logLine(a, (l) => l.msg === "Call ended" && l.conversationId === id),
    "A's call summary",
  );
  assert.equal(ended.reason, "resumed on another instance");
  const health = await probe(a, "/health");
  assert.equal((health.body.calls as { active: number }).active, 0);
  assert.equal((health.body.calls as { detached: number }).detached, 0);
  const healthB = await probe(b, "/health");
  assert.equal((healthB.body.calls as { takenOver: number }).takenOver, 1);
  const cluster = healthB.body.cluster as { instances: number; redis: string };
  assert.equal(cluster.redis, "up");
  assert.equal(cluster.instances, 2);
});

Deno.test("a call on a killed instance resumes elsewhere once its owner lease expires", async () => {
  await using rig = await startClusterRig();
  const a = await rig.gateway();
  const b = await rig.gateway();
  const id = crypto.randomUUID();
  const first = new CallLeg(a, id);
  await first.begin(["raw/mulaw"]);
  await turn(first);
  const said = await rig.tap.waitFor((e) =>
    e.event.type === "response.output_audio_transcript.done"
  );
  await eventually(async () => {
    const text = await rig.redis.cli("HGET", `vg:{${id}}:call`, "record");
    return text.includes(String(said.event.transcript)) ? true : undefined;
  }, "the record with the reply");
  const sessionsOnA = rig.tap.sessions;

  // SIGKILL: no detach is written, the lease simply stops being renewed.
  a.process.kill("SIGKILL");
  await a.status;
  await first.socket.closed;
  const killedAt = performance.now();
  await using second = new CallLeg(b, id);
  // B holds the resume until the lease lapses (at most CLUSTER_LEASE_TTL_MS after the last
  // renewal), then answers: VAIC never sees a refusal.
  const answer = await second.resume();
  const waited = performance.now() - killedAt;
  assert.deepEqual(answer, { type: "session.accepted", mediaFormat: "raw/mulaw" });
  assert.ok(waited <= TEST_LEASE_MS + 1000, `resumed ${Math.round(waited)} ms after the kill`);
  const onB = await replaySession(rig.tap, sessionsOnA, 2);
  assert.deepEqual(replayed(rig.tap, onB).map((r) => r.role), ["user", "assistant"]);
  await second.openStream();
  await turn(second);
});

Deno.test("two resumes of one call racing on two instances: exactly one wins", async () => {
  await using rig = await startClusterRig();
  const a = await rig.gateway();
  const b = await rig.gateway();
  const id = crypto.randomUUID();
  const first = new CallLeg(a, id);
  await first.begin(["raw/mulaw"]);
  await eventually(
    async () => (await rig.redis.cli("EXISTS", `vg:{${id}}:call`)) === "1" || undefined,
    "the record",
  );
  await first.drop();
  await eventually(
    async () => (await rig.redis.cli("HGET", `vg:{${id}}:call`, "attached")) === "0" || undefined,
    "the detached record",
  );
  await using onA = new CallLeg(a, id);
  await using onB = new CallLeg(b, id);
  const answers = await Promise.all([onA.resume(), onB.resume()]);
  const won = answers.filter((m) => m.type === "session.accepted");
  const lost = answers.filter((m) => m.type === "session.error");
  assert.equal(won.length, 1, JSON.stringify(answers));
  assert.equal(lost.length, 1);
  assert.equal(lost[0]!.reason, "Cannot resume call: its socket is still connected");
  // The registry names one owner, and that owner is the instance that answered.
  const owner = await rig.redis.cli("HGET", `vg:{${id}}:call`, "owner");
  const winner = answers[0]!.type === "session.accepted" ? a : b;
  const view = await probe(winner, "/health");
  assert.equal((view.body.cluster as { instance: string }).instance, owner);
});
