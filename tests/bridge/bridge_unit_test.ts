/**
 * The Bridge's policy on a scripted fake transport (no sockets, fake clock): barge-in order,
 * truncation bounds, cancel only while generating, deferred responses, pending audio, and the
 * replay and re-request after a lost session — plus a property over generated timelines.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { Bridge } from "../../src/bridge/bridge.ts";
import type { BridgeLeg, BridgeOptions, LegEvent } from "../../src/bridge/bridge.ts";
import type { Interrupted } from "../../src/bridge/playout.ts";
import { silentLogger } from "../../src/core/logger.ts";
import { fakeClock } from "../fake_clock.ts";
import { FakeProvider, server } from "./fake_transport.ts";
import type { FakeTransport, Sent } from "./fake_transport.ts";
import { SESSION } from "./helpers.ts";

/** PCM 24 kHz: 48 bytes per ms, so `audio(ms)` is 64 base64 characters per ms. */
const BYTES_PER_MS = 48;
const audio = (ms: number): string => "A".repeat(64 * ms);

/** A leg that records its calls into a shared timeline and reports a scripted `heard`. */
class UnitLeg implements BridgeLeg {
  readonly events: LegEvent[] = [];
  readonly plays: { readonly itemId: string; readonly ms: number }[] = [];
  heard: Interrupted | undefined;
  interrupts = 0;

  constructor(readonly timeline: string[]) {}

  playAudio(itemId: string, delta: string): void {
    this.plays.push({ itemId, ms: delta.length / 64 });
    this.timeline.push(`play:${itemId}`);
  }

  endAudio(itemId: string): void {
    this.timeline.push(`end:${itemId}`);
  }

  interrupt(): Interrupted | undefined {
    this.interrupts++;
    this.timeline.push("interrupt");
    return this.heard;
  }

  notify(event: LegEvent): void {
    this.events.push(event);
    this.timeline.push(`notify:${event.type}`);
  }

  of<T extends LegEvent["type"]>(type: T): Extract<LegEvent, { type: T }>[] {
    return this.events.filter((e): e is Extract<LegEvent, { type: T }> => e.type === type);
  }
}

/** A Bridge on a fake provider and a fake clock; `ready()` starts it and confirms a session. */
function harness(options: Partial<BridgeOptions> = {}) {
  const provider = new FakeProvider();
  const { clock, tick } = fakeClock();
  const timeline: string[] = [];
  provider.onSend = (_t, event) => void timeline.push(`send:${event.type}`);
  const leg = new UnitLeg(timeline);
  const failures: string[] = [];
  const bridge = new Bridge({
    provider,
    session: SESSION,
    upstreamBytesPerMs: BYTES_PER_MS,
    leg,
    clock,
    log: silentLogger(),
    onFailed: (reason) => void failures.push(reason),
    random: () => 0.5,
    ...options,
  });
  const ready = (): FakeTransport => {
    bridge.start();
    const transport = provider.current;
    transport.open();
    transport.confirm();
    return transport;
  };
  return { bridge, provider, leg, timeline, tick, failures, ready };
}

/** A response that generated `ms` of audio for item `itemId`. */
function speak(t: FakeTransport, id: string, ms: number, { done = false } = {}): void {
  t.emit(server.responseCreated(id));
  t.emit(server.audioDelta(id, `item_${id}`, audio(ms)));
  if (done) t.emit(server.audioDone(id, `item_${id}`));
}

Deno.test("Bridge barge-in cancels, then truncates to what was heard, after the leg stopped", () => {
  const h = harness();
  using _ = { [Symbol.dispose]: () => h.bridge.close() };
  const t = h.ready();
  h.bridge.requestResponse();
  speak(t, "r1", 100);
  h.leg.heard = { itemId: "item_r1", playedMs: 40, sentMs: 60 };
  h.timeline.length = 0;

  t.emit(server.speechStarted(1000));

  assert.deepEqual(h.timeline, [
    "notify:speech.started",
    "interrupt",
    "send:response.cancel",
    "send:conversation.item.truncate",
  ]);
  assert.equal(t.ofType("response.cancel")[0]!.response_id, "r1");
  const truncate = t.ofType("conversation.item.truncate")[0]!;
  assert.deepEqual(
    { item: truncate.item_id, index: truncate.content_index, endMs: truncate.audio_end_ms },
    { item: "item_r1", index: 0, endMs: 40 },
  );
  assert.deepEqual(h.bridge.stats, { ...h.bridge.stats, cancels: 1, truncates: 1 });
  // What the cancelled response still sends is not played.
  const plays = h.leg.plays.length;
  t.emit(server.audioDelta("r1", "item_r1", audio(20)));
  t.emit(server.audioDone("r1", "item_r1"));
  assert.equal(h.leg.plays.length, plays);
  assert.ok(!h.timeline.includes("end:item_r1"));
  // Its response.done still ends it for the leg.
  t.emit(server.responseDone("r1", "cancelled"));
  assert.equal(h.leg.of("response.done").at(-1)?.status, "cancelled");
  assert.equal(h.bridge.generating, false);
});

Deno.test("Bridge truncates within what was played and generated, never below 0", async (t) => {
  const cases: {
    name: string;
    generatedMs: number;
    audioDone: boolean;
    heard: Interrupted | undefined;
    endMs: number | undefined;
  }[] = [
    {
      name: "played less than generated",
      generatedMs: 100,
      audioDone: false,
      heard: { itemId: "item_r1", playedMs: 40, sentMs: 60 },
      endMs: 40,
    },
    {
      name: "played more than generated: clamped to the audio generated",
      generatedMs: 100,
      audioDone: false,
      heard: { itemId: "item_r1", playedMs: 500, sentMs: 500 },
      endMs: 100,
    },
    {
      name: "unknown item: clamped to the time sent",
      generatedMs: 100,
      audioDone: false,
      heard: { itemId: "item_other", playedMs: 90, sentMs: 30 },
      endMs: 30,
    },
    {
      name: "heard in full: no truncate",
      generatedMs: 100,
      audioDone: true,
      heard: { itemId: "item_r1", playedMs: 100, sentMs: 100 },
      endMs: undefined,
    },
    {
      name: "done but not all heard",
      generatedMs: 100,
      audioDone: true,
      heard: { itemId: "item_r1", playedMs: 99, sentMs: 100 },
      endMs: 99,
    },
    {
      name: "nothing played: no truncate",
      generatedMs: 100,
      audioDone: false,
      heard: { itemId: "item_r1", playedMs: 0, sentMs: 20 },
      endMs: undefined,
    },
    {
      name: "negative played time: no truncate",
      generatedMs: 100,
      audioDone: false,
      heard: { itemId: "item_r1", playedMs: -5, sentMs: 20 },
      endMs: undefined,
    },
    {
      name: "nothing playing",
      generatedMs: 100,
      audioDone: false,
      heard: undefined,
      endMs: undefined,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const h = harness();
      using _ = { [Symbol.dispose]: () => h.bridge.close() };
      const transport = h.ready();
      speak(transport, "r1", c.generatedMs, { done: c.audioDone });
      h.leg.heard = c.heard;
      assert.equal(h.bridge.interrupt(), c.heard);
      const truncates = transport.ofType("conversation.item.truncate");
      assert.deepEqual(
        truncates.map((e) => e.audio_end_ms),
        c.endMs === undefined ? [] : [c.endMs],
      );
    });
  }
});

Deno.test("Bridge sends response.cancel only while a response is generating", async (t) => {
  await t.step("not before any response", () => {
    const h = harness();
    using _ = { [Symbol.dispose]: () => h.bridge.close() };
    const transport = h.ready();
    transport.emit(server.speechStarted());
    assert.deepEqual(transport.ofType("response.cancel"), []);
    assert.equal(h.leg.interrupts, 1);
  });
  await t.step("not after response.done, while its audio still plays", () => {
    const h = harness();
    using _ = { [Symbol.dispose]: () => h.bridge.close() };
    const transport = h.ready();
    h.bridge.requestResponse();
    speak(transport, "r1", 100, { done: true });
    transport.emit(server.responseDone("r1"));
    h.leg.heard = { itemId: "item_r1", playedMs: 30, sentMs: 50 };
    transport.emit(server.speechStarted());
    assert.deepEqual(transport.ofType("response.cancel"), []);
    // The caller still cut the item short: it is truncated.
    assert.deepEqual(transport.ofType("conversation.item.truncate").map((e) => e.audio_end_ms), [
      30,
    ]);
  });
  await t.step("not for an out-of-band response", () => {
    const h = harness();
    using _ = { [Symbol.dispose]: () => h.bridge.close() };
    const transport = h.ready();
    transport.emit(server.responseCreated("oob", null));
    transport.emit(server.speechStarted());
    assert.deepEqual(transport.ofType("response.cancel"), []);
    assert.equal(h.bridge.generating, false);
  });
});

Deno.test("Bridge defers a response asked for while one is active, and creates it once", () => {
  const h = harness();
  using _ = { [Symbol.dispose]: () => h.bridge.close() };
  const t = h.ready();
  h.bridge.requestResponse({ instructions: "first" });
  assert.equal(t.ofType("response.create").length, 1);
  t.emit(server.responseCreated("r1"));
  h.bridge.requestResponse({ instructions: "second" });
  h.bridge.requestResponse({ instructions: "third" });
  // Nothing while r1 is active; the latest request wins.
  assert.equal(t.ofType("response.create").length, 1);
  t.emit(server.responseDone("r1"));
  const creates = t.ofType("response.create");
  assert.deepEqual(creates.map((e) => e.response?.instructions), ["first", "third"]);
  // The deferred request was sent once: the next response.done asks for nothing more.
  t.emit(server.responseCreated("r2"));
  t.emit(server.responseDone("r2"));
  assert.equal(t.ofType("response.create").length, 2);
  // A done of a response that is not the active one changes nothing.
  t.emit(server.responseDone("r_unknown"));
  assert.equal(t.ofType("response.create").length, 2);
  assert.equal(h.leg.of("response.done").length, 2);
});

Deno.test("Bridge sends one create when the leg asks again while hearing response.done", () => {
  const h = harness();
  using _ = { [Symbol.dispose]: () => h.bridge.close() };
  const t = h.ready();
  h.bridge.requestResponse({ instructions: "first" });
  t.emit(server.responseCreated("r1"));
  h.bridge.requestResponse({ instructions: "deferred" });
  const notify = h.leg.notify.bind(h.leg);
  h.leg.notify = (event) => {
    notify(event);
    if (event.type === "response.done") h.bridge.requestResponse({ instructions: "latest" });
  };
  t.emit(server.responseDone("r1"));
  assert.deepEqual(t.ofType("response.create").map((e) => e.response?.instructions), [
    "first",
    "latest",
  ]);
});

Deno.test("Bridge keeps audio and events while not ready and sends them after the configuration", () => {
  const h = harness({ maxPendingMs: 30 });
  using _ = { [Symbol.dispose]: () => h.bridge.close() };
  h.bridge.start();
  const t = h.provider.current;
  h.bridge.appendAudio(audio(20));
  h.bridge.sendUserText("hello");
  h.bridge.appendAudio(audio(20)); // Over 30 ms: the oldest audio goes.
  h.bridge.requestResponse();
  assert.deepEqual(t.sent, [], "nothing goes out before the socket opens");
  t.open();
  assert.deepEqual(t.types, ["session.update"], "audio waits for session.updated");
  t.confirm();
  assert.deepEqual(t.types, [
    "session.update",
    "conversation.item.create",
    "input_audio_buffer.append",
    "response.create",
  ]);
  assert.equal(h.bridge.stats.droppedPending, 1);
  assert.deepEqual(h.leg.of("session.ready").length, 1);
  // The session's audio timeline starts after the dropped 20 ms.
  t.emit(server.speechStarted(5));
  assert.equal(h.leg.of("speech.started")[0]!.audioStartMs, 25);
  // The text went out, so it is in the replay history now.
  assert.deepEqual(h.bridge.history, [{ role: "user", text: "hello" }]);
});

Deno.test("Bridge replays the history to a new session and asks again for a lost reply", () => {
  const h = harness();
  using _ = { [Symbol.dispose]: () => h.bridge.close() };
  const t1 = h.ready();
  t1.emit(server.userTranscript("item_u1", "What time is it?"));
  h.bridge.requestResponse({ instructions: "Answer" });
  speak(t1, "r1", 50);
  t1.emit(server.transcriptDone("r1", "item_r1", "It is noon."));
  t1.emit(server.responseDone("r1"));
  h.bridge.requestResponse({ instructions: "Go on" });
  speak(t1, "r2", 30);
  h.timeline.length = 0;

  t1.drop({ code: 1006 });

  // The leg stops playing and hears the reply end, since no response.done will come.
  assert.deepEqual(h.timeline.slice(0, 2), ["interrupt", "notify:response.done"]);
  assert.deepEqual(h.leg.of("response.done").at(-1), {
    type: "response.done",
    responseId: "r2",
    status: "failed",
    usage: undefined,
  });
  assert.equal(h.bridge.ready, false);
  assert.equal(h.bridge.stats.reconnects, 1);
  const t2 = h.provider.current;
  assert.notEqual(t2, t1);
  t2.open();
  const replayed = t2.ofType("conversation.item.create").map((e) => e.item);
  assert.deepEqual(replayed, [
    { type: "message", role: "user", content: [{ type: "input_text", text: "What time is it?" }] },
    { type: "message", role: "assistant", content: [{ type: "output_text", text: "It is noon." }] },
  ]);
  assert.deepEqual(t2.types[0], "session.update");
  assert.equal(t2.ofType("response.create").length, 0, "no request before the session is ready");
  t2.confirm();
  const creates = t2.ofType("response.create");
  assert.deepEqual(creates.map((e) => e.response?.instructions), ["Go on"]);
  assert.equal(h.bridge.stats.resumedResponses, 1);
  assert.deepEqual(h.failures, []);
});

Deno.test("Bridge does not ask again for a reply the caller barged in on", () => {
  const h = harness();
  using _ = { [Symbol.dispose]: () => h.bridge.close() };
  const t1 = h.ready();
  h.bridge.requestResponse();
  speak(t1, "r1", 50);
  t1.emit(server.speechStarted());
  t1.drop();
  const t2 = h.provider.current;
  t2.open();
  t2.confirm();
  assert.deepEqual(t2.ofType("response.create"), []);
  assert.equal(h.bridge.stats.resumedResponses, 0);
});

Deno.test("Bridge retries a failed attempt after a jittered backoff, and fails on a 401", () => {
  const h = harness({ reconnectBaseMs: 100, reconnectWindowMs: 5000 });
  using _ = { [Symbol.dispose]: () => h.bridge.close() };
  h.bridge.start();
  h.provider.current.drop({ failure: { kind: "refused" } });
  assert.equal(h.provider.transports.length, 1);
  // random() = 0.5 under a ceiling of 100 ms: 50 ms.
  h.tick(49);
  assert.equal(h.provider.transports.length, 1);
  h.tick(1);
  assert.equal(h.provider.transports.length, 2);
  h.provider.current.drop({ failure: { kind: "http", status: 401 } });
  assert.deepEqual(h.failures, ["upstream answered HTTP 401"]);
  assert.equal(h.bridge.failed, true);
  assert.equal(h.bridge.phase.phase, "closed");
});

Deno.test("Bridge takes a warm session and configures it at once", () => {
  const h = harness();
  using _ = { [Symbol.dispose]: () => h.bridge.close() };
  const warm = h.provider.connect({
    onOpen: () => {},
    onEvent: () => {},
    onClose: () => {},
    onListenerError: () => {},
  });
  warm.open();
  h.provider.warm.push({ transport: warm, openedAt: 0, expiresAt: 3_600_000 });
  h.bridge.start();
  assert.equal(h.bridge.stats.warm, 1);
  assert.deepEqual(warm.types, ["session.update"]);
  warm.confirm();
  assert.equal(h.bridge.ready, true);
  assert.equal(h.provider.transports.length, 1, "no connection opened");
});

Deno.test("Bridge recycles its session only at a quiet moment, never with a request in flight", () => {
  const h = harness({ sessionMs: 1000, recycleBeforeMs: 500 });
  using _ = { [Symbol.dispose]: () => h.bridge.close() };
  const t1 = h.ready();
  t1.emit(server.userTranscript("item_u1", "Hello"));
  h.bridge.requestResponse();
  h.tick(500);
  // The response.create is out, its response.created not yet in: moving now would lose it.
  assert.equal(h.provider.transports.length, 1);
  t1.emit(server.responseCreated("r1"));
  h.tick(200);
  assert.equal(h.provider.transports.length, 1, "not while generating");
  t1.emit(server.responseDone("r1"));
  h.tick(200);
  assert.equal(h.provider.transports.length, 2);
  const t2 = h.provider.current;
  t2.open();
  assert.deepEqual(t2.types, ["session.update", "conversation.item.create"]);
  t2.confirm();
  assert.equal(h.bridge.stats.recycles, 1);
  assert.deepEqual(t1.closedWith, { code: 1000, reason: "session recycled" });
  h.bridge.requestResponse();
  assert.equal(t2.ofType("response.create").length, 1, "the call goes on on the new session");
});

// ---------------------------------------------------------------------------------------------
// A property over generated timelines

type Step =
  | { readonly kind: "request"; readonly instructions: string }
  | { readonly kind: "serve" }
  | { readonly kind: "delta"; readonly ms: number }
  | { readonly kind: "audioDone" }
  | { readonly kind: "finish" }
  | { readonly kind: "speech"; readonly playedMs: number; readonly sentMs: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant("request" as const), instructions: fc.constantFrom("a", "b") }),
  fc.record({ kind: fc.constant("serve" as const) }),
  fc.record({ kind: fc.constant("delta" as const), ms: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant("audioDone" as const) }),
  fc.record({ kind: fc.constant("finish" as const) }),
  fc.record({
    kind: fc.constant("speech" as const),
    playedMs: fc.integer({ min: -10, max: 300 }),
    sentMs: fc.integer({ min: 0, max: 300 }),
  }),
);

/** A model of the service: serves creates in order, one response at a time. */
class ServiceModel {
  readonly queue: string[] = [];
  active: { id: string; itemId: string } | undefined;
  readonly generatedMs = new Map<string, number>();
  readonly cancelled = new Set<string>();
  #next = 0;
  newId(): string {
    return `r${++this.#next}`;
  }
}

/** The active response ends at the service: its id. */
function finish(model: ServiceModel): string {
  const id = model.active!.id;
  model.active = undefined;
  return id;
}

Deno.test("Bridge holds its sequencing and barge-in invariants over any timeline", () => {
  fc.assert(
    fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
      const h = harness();
      using _ = { [Symbol.dispose]: () => h.bridge.close() };
      const model = new ServiceModel();
      const violations: string[] = [];
      let heardMs = 0;
      h.provider.onSend = (_t, event: Sent) => {
        switch (event.type) {
          case "response.create":
            if (model.active) violations.push(`create while ${model.active.id} is active`);
            // The service refuses a second create before the first is created: never send one.
            if (model.queue.length > 0) violations.push("create while another is in flight");
            model.queue.push(event.event_id!);
            break;
          case "response.cancel":
            if (model.active?.id !== event.response_id) {
              violations.push(`cancel of ${event.response_id}, active ${model.active?.id}`);
            }
            model.cancelled.add(event.response_id!);
            break;
          case "conversation.item.truncate": {
            const generated = model.generatedMs.get(event.item_id) ?? Infinity;
            const end = event.audio_end_ms;
            if (!Number.isInteger(end) || end < 0 || end > generated || end > heardMs) {
              violations.push(`truncate at ${end} (generated ${generated}, heard ${heardMs})`);
            }
            break;
          }
        }
      };
      const t = h.ready();
      let requests = 0;
      let owed = false;
      /** response.done: a deferred request goes out then, exactly once. */
      const done = (id: string) => {
        const before = t.ofType("response.create").length;
        t.emit(server.responseDone(id));
        const sent = t.ofType("response.create").length - before;
        if (sent !== (owed ? 1 : 0)) violations.push(`${sent} creates after ${id}, owed ${owed}`);
        owed = false;
      };
      for (const s of steps) {
        switch (s.kind) {
          case "request":
            requests++;
            // Asked for while one is generating or asked for: owed once that one is done.
            if (h.bridge.generating || model.queue.length > 0) owed = true;
            h.bridge.requestResponse({ instructions: s.instructions });
            break;
          case "serve": {
            const eventId = model.queue.shift();
            if (eventId === undefined) break;
            if (model.active) {
              t.emit(server.error("conversation_already_has_active_response", eventId));
            } else {
              const id = model.newId();
              model.active = { id, itemId: `item_${id}` };
              t.emit(server.responseCreated(id));
            }
            break;
          }
          case "delta": {
            const active = model.active;
            if (!active) break;
            const plays = h.leg.plays.length;
            model.generatedMs.set(
              active.itemId,
              (model.generatedMs.get(active.itemId) ?? 0) + s.ms,
            );
            t.emit(server.audioDelta(active.id, active.itemId, audio(s.ms)));
            const played = h.leg.plays.length > plays;
            if (played === model.cancelled.has(active.id)) {
              violations.push(`audio of ${active.id} played: ${played}`);
            }
            break;
          }
          case "audioDone":
            if (model.active) t.emit(server.audioDone(model.active.id, model.active.itemId));
            break;
          case "finish":
            if (!model.active) break;
            // The service forgets it first: the Bridge may ask for the next one right away.
            done(finish(model));
            break;
          case "speech": {
            // The leg can only have heard an item it was given audio of.
            const playing = h.leg.plays.at(-1)?.itemId;
            heardMs = s.playedMs;
            h.leg.heard = playing === undefined
              ? undefined
              : { itemId: playing, playedMs: s.playedMs, sentMs: s.sentMs };
            t.emit(server.speechStarted());
            break;
          }
        }
        if (h.bridge.generating !== (model.active !== undefined)) {
          violations.push(`generating ${h.bridge.generating}, active ${model.active?.id}`);
        }
      }
      // Drain: the service answers everything; no request is left waiting for ever.
      for (let i = 0; i < 100 && (model.queue.length > 0 || model.active); i++) {
        if (model.active) {
          done(finish(model));
        } else {
          model.queue.shift();
          const id = model.newId();
          model.active = { id, itemId: `item_${id}` };
          t.emit(server.responseCreated(id));
        }
      }
      const creates = t.ofType("response.create").length;
      assert.deepEqual(violations, []);
      assert.ok(creates <= requests, `${creates} creates for ${requests} requests`);
      assert.equal(creates > 0, requests > 0);
      assert.equal(h.bridge.generating, false);
      h.bridge.requestResponse();
      assert.equal(t.ofType("response.create").length, creates + 1, "a new request goes out");
    }),
    { numRuns: 300 },
  );
});
