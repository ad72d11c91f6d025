import assert from "node:assert/strict";
import { runCall } from "../../src/tools/call.ts";
import type { AudioCodesFormat } from "../../src/protocol/media_format.ts";
import { formatPlan } from "../../src/protocol/media_format.ts";
import type { Scenario } from "../../src/local/scenario.ts";
import { wsUrl } from "../helpers.ts";
import { fixture, silence, startRig, Vaic } from "./rig.ts";

/** A scenario answering the first spoken turn with `plan`, everything else by default. */
const onSpeech = (plan: ReturnType<Scenario>): Scenario => (turn) =>
  turn.input.kind === "audio" ? plan : undefined;

Deno.test("a whole call works in each format, bot audio in the negotiated format", async (t) => {
  const speech = await fixture("short_24k.wav");
  const speechMs = (speech.samples.length / speech.sampleRate) * 1000;
  for (
    const format of [
      "raw/mulaw",
      "raw/lpcm16_24",
      "raw/lpcm16",
      "raw/lpcm16_8",
    ] as AudioCodesFormat[]
  ) {
    await t.step(format, async () => {
      await using rig = await startRig();
      const report = await runCall({
        url: wsUrl(rig.app, "/ws"),
        formats: [format],
        audio: speech,
        speed: 0,
        waitMs: 15_000,
      });
      assert.deepEqual(report.violations, []);
      assert.equal(report.mediaFormat, format);
      assert.ok(report.ok, report.error ?? "");
      const reply = report.playStreams.find((s) => s.reply);
      assert.ok(reply, "the echo reply was played");
      for (const stream of report.playStreams) assert.equal(stream.mediaFormat, format);
      assert.equal(report.botAudio?.sampleRate, formatPlan(format).sampleRate);
      // The engine echoes the committed utterance: its length, give or take VAD padding.
      assert.ok(
        Math.abs(reply.audioMs - speechMs) < 700,
        `echo ${reply.audioMs} ms vs speech ${speechMs} ms`,
      );
      // The upstream was configured for the matching GA format.
      const update = rig.tap.sent("session.update")[0]?.session as {
        audio: { input: { format: unknown }; output: { format: unknown } };
      };
      assert.deepEqual(update.audio.input.format, formatPlan(format).upstream);
      assert.deepEqual(update.audio.output.format, formatPlan(format).upstream);
    });
  }
});

Deno.test("the bot greets first, before the caller says anything", async () => {
  await using rig = await startRig();
  await using vaic = new Vaic(rig.app);
  await vaic.begin(["raw/mulaw"]);
  const start = await vaic.socket.next("playStream.start");
  assert.equal(start.streamId, "play-0");
  assert.equal(start.mediaFormat, "raw/mulaw");
  await vaic.socket.next("playStream.chunk");
  await vaic.socket.next((m) => m.type === "playStream.stop" && m.streamId === "play-0");
  const create = rig.tap.sent("response.create")[0];
  assert.match(
    String((create?.response as Record<string, unknown>).instructions),
    /Greet the caller/,
  );
  // No caller audio was sent before the greeting played.
  assert.equal(rig.tap.sent("input_audio_buffer.append").length, 0);
});

Deno.test("barge-in during a long reply stops the stream and truncates to what was heard", async () => {
  const lead = 200;
  await using rig = await startRig(
    { GREETING: "false", PLAYOUT_LEAD_MS: String(lead) },
    { speed: 1, scenario: onSpeech({ audioMs: 8000, transcript: "A long answer." }) },
  );
  await using vaic = new Vaic(rig.app);
  await vaic.begin(["raw/mulaw"]);
  const hello = await fixture("hello_16k.wav");
  await vaic.stream(hello);
  await vaic.stream(silence(1500));
  const start = await vaic.socket.next("playStream.start", 15_000);
  await vaic.socket.next("playStream.chunk");
  const firstChunkAt = performance.now();
  // Let about a second play, then talk over the bot in real time.
  await vaic.stream(silence(1000), { realtime: true });
  const talking = vaic.stream(hello, { realtime: true });
  await vaic.socket.next("userStream.speech.started", 10_000);
  const stop = await vaic.socket.next("playStream.stop");
  const stoppedAt = performance.now();
  assert.equal(stop.streamId, start.streamId);
  // What VAIC received of the stream, and for how long it had been playing.
  const chunks = vaic.socket.received.filter((m) =>
    m.type === "playStream.chunk" && m.streamId === start.streamId
  );
  const receivedMs = chunks.reduce(
    (ms, m) => ms + Uint8Array.fromBase64(String(m.audioChunk)).length / 8,
    0,
  );
  const played = Math.min(receivedMs, stoppedAt - firstChunkAt);
  const truncate = (await rig.tap.waitFor((e) => e.event.type === "conversation.item.truncate"))
    .event;
  const audioEnd = Number(truncate.audio_end_ms);
  assert.ok(
    audioEnd >= played - 40 && audioEnd <= played + lead,
    `audio_end_ms ${audioEnd} vs played ${played.toFixed(0)} (+${lead} lead)`,
  );
  assert.ok(receivedMs - played <= lead + 40, `queued ahead ${receivedMs - played} ms`);
  assert.equal(truncate.content_index, 0);
  // The engine accepted the truncate.
  const truncated = await rig.tap.waitFor((e) => e.event.type === "conversation.item.truncated");
  assert.equal(truncated.event.audio_end_ms, audioEnd);
  assert.equal(rig.tap.received("error").length, 0);
  // At 1× the reply was still generating: it was cancelled, and nothing more of it played.
  assert.equal(rig.tap.sent("response.cancel").length, 1);
  await talking;
  const after = vaic.socket.received.filter((m) =>
    m.type === "playStream.chunk" && m.streamId === start.streamId
  );
  assert.equal(after.length, chunks.length);
});

Deno.test("barge-in after generation finished truncates without a cancel", async () => {
  await using rig = await startRig(
    { GREETING: "false" },
    { speed: 20, scenario: onSpeech({ audioMs: 6000, transcript: "A long answer." }) },
  );
  await using vaic = new Vaic(rig.app);
  await vaic.begin(["raw/lpcm16_24"]);
  const hello = await fixture("hello_16k.wav");
  await vaic.stream(hello);
  await vaic.stream(silence(1500));
  await vaic.socket.next("playStream.start", 15_000);
  await rig.tap.waitFor((e) =>
    e.event.type === "response.done" &&
    (e.event.response as { status: string }).status === "completed"
  );
  await vaic.stream(silence(500), { realtime: true });
  await vaic.stream(hello, { realtime: true });
  await vaic.socket.next("playStream.stop", 10_000);
  await rig.tap.waitFor((e) => e.event.type === "conversation.item.truncated");
  assert.equal(rig.tap.sent("response.cancel").length, 0);
  assert.equal(rig.tap.received("error").length, 0);
});

Deno.test("barge-in before any audio played cancels without a truncate", async () => {
  await using rig = await startRig(
    { GREETING: "false" },
    { speed: 1, scenario: onSpeech({ delayMs: 60_000, transcript: "Too late." }) },
  );
  await using vaic = new Vaic(rig.app);
  await vaic.begin(["raw/mulaw"]);
  const hello = await fixture("hello_16k.wav");
  await vaic.stream(hello);
  await vaic.stream(silence(1500));
  await rig.tap.waitFor((e) => e.event.type === "response.created", 15_000);
  await vaic.stream(hello);
  await vaic.stream(silence(1500));
  await rig.tap.waitFor((e) => e.from === "client" && e.event.type === "response.cancel");
  await vaic.socket.next("userStream.speech.started");
  // A probe to make sure everything the gateway did in between has arrived.
  await rig.tap.waitFor((e) =>
    e.event.type === "response.done" &&
    (e.event.response as { status: string }).status === "cancelled"
  );
  assert.equal(rig.tap.sent("conversation.item.truncate").length, 0);
  assert.equal(vaic.socket.received.filter((m) => m.type === "playStream.start").length, 0);
});

Deno.test("speech events reach VAIC and the transcript is kept (LOG_TRANSCRIPTS)", async () => {
  await using rig = await startRig({ GREETING: "false", LOG_TRANSCRIPTS: "true" });
  await using vaic = new Vaic(rig.app);
  await vaic.begin(["raw/lpcm16"]);
  await vaic.stream(await fixture("hello_16k.wav"));
  await vaic.stream(silence(1500));
  await vaic.socket.next("userStream.speech.started", 10_000);
  await vaic.socket.next("userStream.speech.stopped");
  await vaic.socket.next("userStream.speech.committed");
  const recognition = await vaic.socket.next("userStream.speech.recognition");
  const text = (recognition.alternatives as { text: string }[])[0]?.text;
  assert.ok(text);
  await vaic.socket.next("playStream.stop", 15_000);
  const conversation = rig.app.gateway.manager.get(vaic.conversationId)!;
  assert.deepEqual(conversation.transcript.map((t) => t.role), ["caller", "bot"]);
  assert.equal(conversation.transcript[0]?.text, text);
  assert.match(conversation.transcript[1]!.text, /I heard \d+(\.\d+)? seconds of speech/);
});

Deno.test("DTMF reaches the model as user text and gets a reply", async (t) => {
  for (
    const [mode, presses, expected] of [
      ["digit", ["5"], "The caller pressed 5 on the phone keypad."],
      ["collect", ["1", "23", "4#"], "The caller entered 1234 followed by # on the phone keypad."],
    ] as const
  ) {
    await t.step(mode, async () => {
      await using rig = await startRig({
        GREETING: "false",
        DTMF_MODE: mode,
        LOG_TRANSCRIPTS: "true",
      });
      await using vaic = new Vaic(rig.app);
      await vaic.begin(["raw/mulaw"]);
      for (const digits of presses) vaic.activity({ type: "event", name: "DTMF", value: digits });
      const item = await rig.tap.waitFor((e) =>
        e.from === "client" && e.event.type === "conversation.item.create"
      );
      const content = (item.event.item as { content: { text: string }[] }).content[0];
      assert.equal(content?.text, expected);
      assert.equal(rig.tap.sent("conversation.item.create").length, 1);
      await vaic.socket.next("playStream.stop", 10_000);
      const bot = rig.app.gateway.manager.get(vaic.conversationId)!.transcript.at(-1);
      assert.ok(bot?.text.includes(expected), bot?.text ?? "");
    });
  }
});

Deno.test("end_call hangs up only after the farewell has played", async () => {
  await using rig = await startRig(
    { GREETING: "false" },
    {
      scenario: onSpeech({
        toolCall: { name: "end_call", arguments: { reason: "caller is done" } },
      }),
    },
  );
  const report = await runCall({
    url: wsUrl(rig.app, "/ws"),
    formats: ["raw/mulaw"],
    audio: await fixture("short_24k.wav"),
    speed: 0,
    waitMs: 20_000,
  });
  assert.deepEqual(report.violations, []);
  assert.equal(report.endedBy, "bot-hangup");
  const hangup = report.events.find((e) => e.type === "activities");
  const farewell = report.playStreams.at(-1);
  assert.ok(hangup && farewell?.stoppedAtMs !== undefined && farewell.firstChunkAtMs !== undefined);
  // The farewell played in full (paced at 1×) before the hangup went out.
  assert.ok(hangup.atMs >= farewell.stoppedAtMs);
  assert.ok(hangup.atMs - farewell.firstChunkAtMs >= farewell.audioMs - 30);
  assert.deepEqual(hangup.message, {
    type: "activities",
    activities: [{
      type: "event",
      name: "hangup",
      activityParams: { hangupReason: "caller is done" },
    }],
  });
  const output = rig.tap.sent("conversation.item.create").find((e) =>
    (e.item as { type: string }).type === "function_call_output"
  );
  assert.ok(output);
});

Deno.test("transfer_call transfers to an allowed target and refuses others", async (t) => {
  for (
    const [target, allowed] of [["tel:+18005550100", true], ["tel:+19995550000", false]] as const
  ) {
    await t.step(`${target} ${allowed ? "allowed" : "refused"}`, async () => {
      await using rig = await startRig(
        { GREETING: "false", TRANSFER_TARGETS: "tel:+18005550100,sip:queue@cc.example.net" },
        {
          scenario: onSpeech({
            toolCall: { name: "transfer_call", arguments: { target, reason: "wants a human" } },
          }),
        },
      );
      await using vaic = new Vaic(rig.app);
      await vaic.begin(["raw/mulaw"]);
      await vaic.stream(await fixture("short_24k.wav"));
      await vaic.stream(silence(1500));
      const output = await rig.tap.waitFor(
        (e) =>
          e.from === "client" && e.event.type === "conversation.item.create" &&
          (e.event.item as { type: string }).type === "function_call_output",
        15_000,
      );
      const result = JSON.parse(String((output.event.item as { output: string }).output));
      assert.equal(result.ok, allowed);
      if (allowed) {
        const transfer = await vaic.socket.next("activities", 15_000);
        assert.deepEqual(transfer.activities, [{
          type: "event",
          name: "transfer",
          activityParams: { transferTarget: target, handoverReason: "wants a human" },
        }]);
      } else {
        assert.match(
          result.error,
          /^Transfer refused: "tel:\+19995550000" is not an allowed target$/,
        );
        // The model is told and speaks again; no transfer goes to VAIC.
        await vaic.socket.next("playStream.stop", 15_000);
        assert.ok(!vaic.socket.received.some((m) => m.type === "activities"));
      }
    });
  }
});

Deno.test("an upstream killed mid-call is reconnected once with the conversation replayed", async () => {
  await using rig = await startRig({ GREETING: "false" });
  await using vaic = new Vaic(rig.app);
  await vaic.begin(["raw/mulaw"]);
  await vaic.stream(await fixture("short_24k.wav"));
  await vaic.stream(silence(1500));
  await vaic.socket.next("playStream.stop", 15_000);
  await rig.tap.waitFor((e) =>
    e.event.type === "conversation.item.input_audio_transcription.completed"
  );
  rig.tap.dropAll();
  // The Bridge reconnects: a second upstream session with the history replayed.
  const replay = await rig.tap.waitFor((e) =>
    e.session === 1 && e.from === "client" && e.event.type === "conversation.item.create"
  );
  assert.equal((replay.event.item as { role: string }).role, "user");
  await rig.tap.waitFor((e) => e.session === 1 && e.event.type === "session.updated");
  // The call goes on: another turn gets another reply.
  vaic.socket.drain();
  await vaic.stream(await fixture("short_24k.wav"));
  await vaic.stream(silence(1500));
  const start = await vaic.socket.next("playStream.start", 15_000);
  assert.equal(start.streamId, "play-1");
  assert.ok(!vaic.socket.received.some((m) => m.type === "activities"));
});

Deno.test("an upstream that cannot be reached again ends the call with a hangup naming the cause", async () => {
  await using rig = await startRig({ GREETING: "false", UPSTREAM_RECONNECT_MS: "600" });
  await using vaic = new Vaic(rig.app);
  await vaic.begin(["raw/mulaw"]);
  await rig.tap.waitFor((e) => e.event.type === "session.updated");
  // The model goes away and stays away: the Bridge retries with backoff for 600 ms, then hangs up.
  rig.tap.refuse(503);
  rig.tap.dropAll();
  const hangup = await vaic.socket.next("activities", 10_000);
  const activity = (hangup.activities as {
    name: string;
    activityParams: { hangupReason: string };
  }[])[0]!;
  assert.equal(activity.name, "hangup");
  assert.equal(activity.activityParams.hangupReason, "upstream answered HTTP 503");
  assert.ok(rig.tap.sessions === 1, "refused attempts never became sessions");
});

Deno.test("a call resumes after a VAIC socket drop and keeps its model session", async () => {
  await using rig = await startRig({ GREETING: "false" });
  const first = new Vaic(rig.app);
  await first.begin(["raw/mulaw"]);
  await first.stream(await fixture("short_24k.wav"));
  await first.stream(silence(1500));
  await first.socket.next("playStream.stop", 15_000);
  await first.socket.close();
  while (rig.app.gateway.manager.get(first.conversationId)?.phase !== "detached") {
    await new Promise((r) => setTimeout(r, 5));
  }
  await using second = new Vaic(rig.app, first.conversationId);
  second.socket.send({ type: "session.resume", conversationId: first.conversationId });
  assert.deepEqual(await second.socket.next(), {
    type: "session.accepted",
    mediaFormat: "raw/mulaw",
  });
  second.socket.send({ type: "userStream.start", conversationId: first.conversationId });
  await second.socket.next("userStream.started");
  await second.stream(await fixture("short_24k.wav"));
  await second.stream(silence(1500));
  const start = await second.socket.next("playStream.start", 15_000);
  assert.equal(start.streamId, "play-1");
  // Same upstream session throughout.
  assert.equal(rig.tap.sessions, 1);
});
