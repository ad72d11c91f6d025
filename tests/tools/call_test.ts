import assert from "node:assert/strict";
import {
  decodeFromFormat,
  encodeForFormat,
  jsonReport,
  runCall,
  timelinePrinter,
} from "../../src/tools/call.ts";
import type { CallOptions, CallReport, TimelineEntry } from "../../src/tools/call.ts";
import { AUDIOCODES_FORMATS, formatPlan } from "../../src/protocol/media_format.ts";
import { encodeG711 } from "../../src/audio/g711.ts";
import { bytesOf, toBase64 } from "../../src/audio/pcm.ts";
import { ResamplerFactory } from "../../src/audio/resampler.ts";
import { readWav } from "../../src/audio/wav.ts";
import type { PcmAudio } from "../../src/audio/wav.ts";
import { nullAgent } from "../../src/audiocodes/null_agent.ts";
import { startTestApp, wsUrl } from "../helpers.ts";

const resamplers = await ResamplerFactory.load();
const CALL_TS = new URL("../../src/tools/call.ts", import.meta.url).pathname;
const fixturePath = (name: string) =>
  new URL(`../fixtures/speech/${name}`, import.meta.url).pathname;
const hello = readWav(Deno.readFileSync(fixturePath("hello_16k.wav")));
const short = readWav(Deno.readFileSync(fixturePath("short_24k.wav")));

/** A sine tone of `ms` at `rate`. */
function tone(ms: number, rate: number, hz = 440): PcmAudio {
  const samples = new Int16Array(Math.round(ms * rate / 1000));
  for (let i = 0; i < samples.length; i++) {
    samples[i] = Math.round(8000 * Math.sin(2 * Math.PI * hz * i / rate));
  }
  return { sampleRate: rate, samples };
}

/** Options every test call shares: as fast as possible, short waits. */
const FAST: CallOptions = { speed: 0, timeoutMs: 2000, lingerMs: 2000, resamplers };

// ---------------------------------------------------------------------------------------------
// a scripted fake bot

type Json = Record<string, unknown>;

interface BotSide {
  /** Sends one message to the simulator. */
  send(message: Json): void;
  /** Sends a whole play stream: start, one chunk per piece, stop. */
  play(streamId: string, mediaFormat: string, pieces: Uint8Array[]): void;
  close(): void;
}

/** What the fake bot does with each message; return true when handled (skips the defaults). */
type Script = (message: Json, bot: BotSide) => boolean | void;

interface FakeBot extends AsyncDisposable {
  readonly url: string;
  /** Every message the bot received, across connections. */
  readonly received: Json[];
}

/**
 * A bot on 127.0.0.1:0 that answers the protocol like a minimal gateway (accepts the first
 * offered format, answers userStream.start/stop, closes on session.end) unless the script
 * handles a message itself.
 */
function fakeBot(script: Script = () => {}): FakeBot {
  const received: Json[] = [];
  const sockets = new Set<WebSocket>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    sockets.add(socket);
    socket.addEventListener("close", () => sockets.delete(socket));
    const bot: BotSide = {
      send(message) {
        if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
      },
      play(streamId, mediaFormat, pieces) {
        bot.send({ type: "playStream.start", streamId, mediaFormat });
        for (const piece of pieces) {
          bot.send({ type: "playStream.chunk", streamId, audioChunk: toBase64(piece) });
        }
        bot.send({ type: "playStream.stop", streamId });
      },
      close() {
        if (socket.readyState === WebSocket.OPEN) socket.close(1000, "bye");
      },
    };
    socket.addEventListener("message", (event) => {
      const message: Json = JSON.parse(String(event.data));
      received.push(message);
      if (script(message, bot)) return;
      switch (message.type) {
        case "session.initiate": {
          const formats = message.supportedMediaFormats;
          bot.send({ type: "session.accepted", mediaFormat: Array.isArray(formats) && formats[0] });
          return;
        }
        case "userStream.start":
          bot.send({ type: "userStream.started" });
          return;
        case "userStream.stop":
          bot.send({ type: "userStream.stopped" });
          return;
        case "session.end":
          bot.close();
          return;
      }
    });
    return response;
  });
  return {
    url: `ws://127.0.0.1:${server.addr.port}/ws`,
    received,
    async [Symbol.asyncDispose]() {
      for (const socket of sockets) socket.close();
      await server.shutdown();
    },
  };
}

const isEvent = (message: Json, name: string): boolean =>
  message.type === "activities" && Array.isArray(message.activities) &&
  message.activities.some((a: Json) => a.name === name);

/** PCM16 bytes of a tone, split into `parts` pieces. */
function pcmPieces(audio: PcmAudio, parts: number): Uint8Array[] {
  const bytes = bytesOf(new Int16Array(audio.samples));
  const size = Math.ceil(bytes.byteLength / parts / 2) * 2;
  const pieces: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.byteLength; offset += size) {
    pieces.push(bytes.slice(offset, offset + size));
  }
  return pieces;
}

function assertViolation(report: CallReport, pattern: RegExp): void {
  assert.ok(
    report.violations.some((v) => pattern.test(v)),
    `expected a violation matching ${pattern}, got ${JSON.stringify(report.violations)}`,
  );
  assert.equal(report.ok, false);
}

// ---------------------------------------------------------------------------------------------
// format conversion

Deno.test("encodeForFormat() and decodeFromFormat() convert every raw format", async (t) => {
  const source = tone(200, 16000);
  for (const format of AUDIOCODES_FORMATS) {
    await t.step(format, async () => {
      const plan = formatPlan(format);
      const bytes = await encodeForFormat(source, format, { resamplers });
      assert.equal(bytes.byteLength, 200 * plan.bytesPerMs);
      const back = decodeFromFormat(bytes, format);
      assert.equal(back.sampleRate, plan.sampleRate);
      assert.equal(back.samples.length, 200 * plan.sampleRate / 1000);
      // Same loudness after companding and resampling (RMS within 10 %), ignoring the edges.
      const rms = (s: Int16Array) => {
        const mid = s.subarray(s.length / 4, (3 * s.length) / 4);
        return Math.sqrt(mid.reduce((sum, v) => sum + v * v, 0) / mid.length);
      };
      const ratio = rms(back.samples) / rms(source.samples);
      assert.ok(ratio > 0.9 && ratio < 1.1, `${format}: RMS ratio ${ratio}`);
    });
  }
});

Deno.test("decodeFromFormat() drops a trailing odd byte of PCM16", () => {
  const audio = decodeFromFormat(new Uint8Array([1, 0, 2, 0, 3]), "raw/lpcm16");
  assert.deepEqual(Array.from(audio.samples), [1, 2]);
});

// ---------------------------------------------------------------------------------------------
// against the real gateway

Deno.test("runCall() places a clean call on the gateway in every format", async (t) => {
  await using app = await startTestApp({}, { agents: nullAgent });
  for (const format of AUDIOCODES_FORMATS) {
    await t.step(format, async () => {
      const report = await runCall({
        ...FAST,
        url: wsUrl(app, "/ws"),
        formats: [format],
        audio: hello,
        tailSilenceMs: 500,
        waitMs: 0,
        dtmf: [{ digits: "12#" }],
      });
      assert.deepEqual(report.violations, []);
      assert.equal(report.error, undefined);
      assert.equal(report.ok, true);
      assert.equal(report.mediaFormat, format);
      assert.equal(report.endedBy, "client");
      assert.ok(report.acceptedAtMs !== undefined && report.userStreamStartedAtMs !== undefined);
      const speechFrames = Math.ceil(hello.samples.length / hello.sampleRate * 1000 / 20);
      assert.equal(report.sent.chunks, speechFrames + 25);
      assert.equal(report.sent.bytes, report.sent.chunks * 20 * formatPlan(format).bytesPerMs);
      assert.deepEqual(report.sent.dtmf, ["12#"]);
      assert.deepEqual(report.playStreams, []);
      const sent = report.timeline.filter((e) => e.direction === "sent").map((e) => e.type);
      assert.deepEqual(sent.filter((type) => type !== "userStream.chunk"), [
        "session.initiate",
        "activities",
        "userStream.start",
        "activities",
        "userStream.stop",
        "session.end",
      ]);
      assert.ok(
        report.timeline.some((e) => e.direction === "received" && e.type === "userStream.stopped"),
      );
    });
  }
});

Deno.test("runCall() sends the bearer token the gateway requires", async (t) => {
  await using app = await startTestApp({ AUDIOCODES_BOT_TOKEN: "s3cr3t-token" }, {
    agents: nullAgent,
  });
  await t.step("with the token", async () => {
    const report = await runCall({
      ...FAST,
      url: wsUrl(app, "/ws"),
      token: "s3cr3t-token",
      waitMs: 0,
    });
    assert.equal(report.ok, true, JSON.stringify(report.violations));
  });
  await t.step("without it", async () => {
    const report = await runCall({ ...FAST, url: wsUrl(app, "/ws") });
    assert.equal(report.endedBy, "connect-error");
    assert.match(report.error ?? "", /^Cannot connect to ws:\/\/127\.0\.0\.1:\d+\/ws: /);
    assert.deepEqual(report.violations, []);
  });
});

Deno.test("runCall() reports the gateway declining the call", async () => {
  await using app = await startTestApp({}, { agents: nullAgent });
  const report = await runCall({ ...FAST, url: wsUrl(app, "/ws"), formats: ["wav/mulaw"] });
  assert.equal(report.endedBy, "session-error");
  assert.match(report.error ?? "", /^Gateway sent session\.error: .*no common media format/);
  assert.equal(report.mediaFormat, undefined);
  assert.deepEqual(report.violations, []);
  assert.equal(report.ok, false);
});

// ---------------------------------------------------------------------------------------------
// against a scripted bot

Deno.test("runCall() records play streams and waits for the reply", async () => {
  const greeting = tone(300, 24000);
  const reply = tone(240, 8000, 300);
  await using bot = fakeBot((message, b) => {
    if (isEvent(message, "start")) b.play("play-0", "raw/lpcm16_24", pcmPieces(greeting, 3));
    if (isEvent(message, "DTMF")) {
      b.send({ type: "userStream.speech.started" });
      b.send({ type: "userStream.speech.stopped" });
      b.send({
        type: "userStream.speech.recognition",
        alternatives: [{ text: "one two", confidence: 0.9 }],
      });
      b.send({ type: "userStream.speech.committed" });
      const mulaw = encodeG711("mulaw", reply.samples);
      b.play("play-1", "raw/mulaw", [mulaw.subarray(0, 960), mulaw.subarray(960)]);
    }
  });
  const report = await runCall({
    ...FAST,
    url: bot.url,
    formats: ["raw/lpcm16", "raw/lpcm16_24", "raw/mulaw"],
    audio: short,
    dtmf: [{ digits: "12" }],
    waitMs: 2000,
  });
  assert.deepEqual(report.violations, []);
  assert.equal(report.ok, true);
  assert.equal(report.mediaFormat, "raw/lpcm16");
  assert.equal(report.endedBy, "client");

  const [s0, s1] = report.playStreams;
  assert.equal(report.playStreams.length, 2);
  assert.deepEqual(
    [s0?.streamId, s0?.mediaFormat, s0?.chunks, s0?.bytes, s0?.audioMs, s0?.reply],
    ["play-0", "raw/lpcm16_24", 3, 300 * 48, 300, false],
  );
  assert.deepEqual(
    [s1?.streamId, s1?.mediaFormat, s1?.chunks, s1?.bytes, s1?.audioMs, s1?.reply],
    ["play-1", "raw/mulaw", 2, 240 * 8, 240, true],
  );
  for (const s of [s0!, s1!]) {
    assert.ok(s.startedAtMs <= s.firstChunkAtMs! && s.firstChunkAtMs! <= s.lastChunkAtMs!);
    assert.ok(s.lastChunkAtMs! <= s.stoppedAtMs!);
  }
  assert.ok(report.replyStartAtMs !== undefined && report.replyLatencyMs !== undefined);
  assert.deepEqual(report.events.map((e) => e.type), [
    "userStream.speech.started",
    "userStream.speech.stopped",
    "userStream.speech.recognition",
    "userStream.speech.committed",
  ]);
  assert.equal(report.events[2]?.text, "one two");

  // Bot audio: the greeting as is, then the µ-law reply decoded and resampled to 24 kHz.
  assert.equal(report.botAudio?.sampleRate, 24000);
  assert.equal(report.botAudio?.samples.length, 7200 + 5760);
  assert.deepEqual(report.botAudio?.samples.subarray(0, 7200), greeting.samples);

  // The report serialises without the samples.
  const json = JSON.parse(JSON.stringify(jsonReport(report)));
  assert.deepEqual(json.botAudio, { sampleRate: 24000, samples: 12960, ms: 540 });

  const end = bot.received.at(-1);
  assert.deepEqual(end, {
    type: "session.end",
    conversationId: report.conversationId,
    reasonCode: "client-disconnected",
    reason: "Client Side",
  });
});

Deno.test("runCall() ends the call like VAIC when the bot hangs up", async () => {
  await using bot = fakeBot((message, b) => {
    if (message.type === "userStream.start") {
      b.send({ type: "userStream.started" });
      b.play("bye", "raw/lpcm16", pcmPieces(tone(100, 16000), 2));
      b.send({
        type: "activities",
        activities: [{ type: "event", name: "hangup", activityParams: { hangupReason: "done" } }],
      });
      return true;
    }
  });
  const report = await runCall({ ...FAST, url: bot.url, audio: hello, waitMs: 2000 });
  assert.deepEqual(report.violations, []);
  assert.equal(report.endedBy, "bot-hangup");
  assert.deepEqual(report.events.map((e) => [e.type, e.name]), [["activities", "hangup"]]);
  const types = bot.received.map((m) => m.type);
  assert.ok(!types.includes("userStream.stop"));
  assert.deepEqual(bot.received.at(-1), {
    type: "session.end",
    conversationId: report.conversationId,
    reasonCode: "bot-disconnected",
    reason: "Client Side",
  });
});

Deno.test("runCall() paces frames at a multiple of real time", async () => {
  await using bot = fakeBot();
  const report = await runCall({
    ...FAST,
    url: bot.url,
    formats: ["raw/lpcm16_24"],
    audio: short,
    speed: 40,
    tailSilenceMs: 0,
    waitMs: 0,
  });
  assert.equal(report.ok, true, JSON.stringify(report.violations));
  const chunks = report.timeline.filter((e) => e.type === "userStream.chunk");
  assert.equal(chunks.length, Math.ceil(short.samples.length / 480));
  // Drift-free schedule: frame i never leaves before i × 20 ms / 40 after the first (only a
  // lower bound: a slow machine may send late, never early).
  const first = chunks[0]!.atMs;
  chunks.forEach((c, i) => assert.ok(c.atMs - first >= i * 0.5 - 5, `frame ${i} too early`));
});

Deno.test("runCall() ends the call when aborted", async () => {
  const controller = new AbortController();
  await using bot = fakeBot((message, b) => {
    if (message.type === "userStream.start") {
      b.send({ type: "userStream.started" });
      b.send({ type: "playStream.start", streamId: "p", mediaFormat: "raw/mulaw" });
      b.send({ type: "playStream.chunk", streamId: "p", audioChunk: "////" });
      return true;
    }
  });
  const report = await runCall({
    ...FAST,
    url: bot.url,
    speed: 1,
    tailSilenceMs: 60_000,
    signal: controller.signal,
    onEntry(entry) {
      if (entry.type === "playStream.chunk") controller.abort();
    },
  });
  assert.equal(report.endedBy, "aborted");
  assert.deepEqual(report.violations, []);
  assert.equal(bot.received.at(-1)?.type, "session.end");
  assert.equal(bot.received.at(-1)?.reasonCode, "client-disconnected");
});

Deno.test("runCall() reports protocol violations", async (t) => {
  const cases: { name: string; script: Script; options?: CallOptions; expect: RegExp }[] = [
    {
      name: "a chunk outside a stream",
      script: (m, b) => {
        if (isEvent(m, "start")) {
          b.send({ type: "playStream.chunk", streamId: "x", audioChunk: "AAAA" });
        }
      },
      expect: /^playStream\.chunk for "x" outside a playStream\.start\/stop pair/,
    },
    {
      name: "a chunk with another streamId",
      script: (m, b) => {
        if (isEvent(m, "start")) {
          b.send({ type: "playStream.start", streamId: "a", mediaFormat: "raw/mulaw" });
          b.send({ type: "playStream.chunk", streamId: "b", audioChunk: "AAAA" });
          b.send({ type: "playStream.stop", streamId: "a" });
        }
      },
      expect: /^playStream\.chunk for "b" while play stream "a" is open/,
    },
    {
      name: "a second start while a stream is open",
      script: (m, b) => {
        if (isEvent(m, "start")) {
          b.send({ type: "playStream.start", streamId: "a", mediaFormat: "raw/mulaw" });
          b.play("b", "raw/mulaw", [new Uint8Array(160)]);
        }
      },
      expect: /^playStream\.start "b" while play stream "a" is open/,
    },
    {
      name: "a format not offered",
      script: (m, b) => {
        if (isEvent(m, "start")) b.play("a", "raw/alaw", [new Uint8Array(160)]);
      },
      options: { formats: ["raw/mulaw"] },
      expect: /^playStream\.start "a" uses "raw\/alaw", which was not offered/,
    },
    {
      name: "an accepted format not offered",
      script: (m, b) => {
        if (m.type !== "session.initiate") return;
        b.send({ type: "session.accepted", mediaFormat: "raw/alaw" });
        return true;
      },
      options: { formats: ["raw/mulaw"] },
      expect: /^session\.accepted chose "raw\/alaw", which was not offered/,
    },
    {
      name: "a stream never stopped",
      script: (m, b) => {
        if (isEvent(m, "start")) {
          b.send({ type: "playStream.start", streamId: "a", mediaFormat: "raw/mulaw" });
        }
      },
      options: { timeoutMs: 1000 },
      expect: /^Play stream "a" was never stopped/,
    },
    {
      name: "no session.accepted",
      script: (m) => m.type === "session.initiate",
      options: { timeoutMs: 1000 },
      expect: /^No session\.accepted within 1000 ms of session\.initiate/,
    },
    {
      name: "no userStream.started",
      script: (m) => m.type === "userStream.start",
      options: { timeoutMs: 1000 },
      expect: /^No userStream\.started within 1000 ms/,
    },
    {
      name: "no userStream.stopped",
      script: (m) => m.type === "userStream.stop",
      options: { timeoutMs: 1000 },
      expect: /^No userStream\.stopped within 1000 ms/,
    },
    {
      name: "a message after session.end",
      script: (m, b) => {
        if (m.type !== "session.end") return;
        b.send({ type: "userStream.speech.started" });
        b.close();
        return true;
      },
      expect: /^Received userStream\.speech\.started after session\.end/,
    },
    {
      name: "an unknown message type",
      script: (m, b) => {
        if (isEvent(m, "start")) b.send({ type: "session.resumed" });
      },
      expect: /^Invalid bot message: unknown type "session\.resumed"/,
    },
    {
      name: "a malformed message",
      script: (m, b) => {
        if (isEvent(m, "start")) b.send({ type: "playStream.start", mediaFormat: "raw/mulaw" });
      },
      expect: /^Invalid bot message: playStream\.start: streamId: /,
    },
    {
      name: "bad base64 audio",
      script: (m, b) => {
        if (isEvent(m, "start")) {
          b.play("a", "raw/mulaw", []);
          b.send({ type: "playStream.start", streamId: "c", mediaFormat: "raw/mulaw" });
          b.send({ type: "playStream.chunk", streamId: "c", audioChunk: "not base64!" });
          b.send({ type: "playStream.stop", streamId: "c" });
        }
      },
      expect: /^playStream\.chunk for "c" is not valid base64/,
    },
    {
      name: "a closed socket instead of a hangup",
      script: (m, b) => {
        if (m.type !== "userStream.start") return;
        b.close();
        return true;
      },
      expect: /^Gateway closed the socket before session\.end \(code 1000 "bye"\)/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await using bot = fakeBot(c.script);
      const report = await runCall({ ...FAST, url: bot.url, waitMs: 0, ...c.options });
      assertViolation(report, c.expect);
    });
  }
});

Deno.test("runCall() counts a repeated violation once", async () => {
  await using bot = fakeBot((m, b) => {
    if (!isEvent(m, "start")) return;
    for (let i = 0; i < 3; i++) {
      b.send({ type: "playStream.chunk", streamId: "x", audioChunk: "AAAA" });
    }
  });
  const report = await runCall({ ...FAST, url: bot.url, waitMs: 0 });
  assert.deepEqual(report.violations, [
    'playStream.chunk for "x" outside a playStream.start/stop pair (§2.20) (×3)',
  ]);
});

// ---------------------------------------------------------------------------------------------
// output

Deno.test("timelinePrinter() summarises chunks", () => {
  const lines: string[] = [];
  const printer = timelinePrinter((l) => lines.push(l), { every: 2 });
  let seq = 0;
  const e = (entry: Omit<TimelineEntry, "seq">): TimelineEntry => ({ seq: ++seq, ...entry });
  const entries: TimelineEntry[] = [
    e({ atMs: 1, direction: "local", type: "open" }),
    e({
      atMs: 5,
      direction: "received",
      type: "session.accepted",
      detail: { mediaFormat: "raw/mulaw" },
    }),
    e({ atMs: 20, direction: "sent", type: "userStream.chunk", bytes: 160 }),
    e({ atMs: 40, direction: "sent", type: "userStream.chunk", bytes: 160 }),
    e({ atMs: 60, direction: "sent", type: "userStream.chunk", bytes: 160 }),
    e({
      atMs: 70,
      direction: "received",
      type: "playStream.start",
      streamId: "p",
      detail: { streamId: "p", mediaFormat: "raw/lpcm16_24" },
    }),
    e({ atMs: 71, direction: "received", type: "playStream.chunk", streamId: "p", bytes: 960 }),
    e({
      atMs: 72,
      direction: "received",
      type: "playStream.stop",
      streamId: "p",
      detail: { streamId: "p" },
    }),
    e({ atMs: 80, direction: "local", type: "violation", detail: { message: "Bad thing" } }),
    e({ atMs: 90, direction: "sent", type: "userStream.stop", detail: {} }),
  ];
  for (const entry of entries) printer.entry(entry);
  printer.flush();
  assert.deepEqual(lines, [
    "+     1 ms  · open",
    "+     5 ms  ← session.accepted {mediaFormat: raw/mulaw}",
    "+    40 ms  → userStream.chunk ×2 (40 ms, 320 bytes)",
    "+    70 ms  ← playStream.start {streamId: p, mediaFormat: raw/lpcm16_24}",
    "+    71 ms  ← playStream.chunk ×1 p (20 ms, 960 bytes)",
    "+    72 ms  ← playStream.stop {streamId: p}",
    "+    80 ms  ! violation: Bad thing",
    "+    60 ms  → userStream.chunk ×1 (20 ms, 160 bytes)",
    "+    90 ms  → userStream.stop",
  ]);
});

// ---------------------------------------------------------------------------------------------
// the CLI

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--config",
      "deno.dev.json",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      CALL_TS,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder();
  return {
    code: output.code,
    stdout: text.decode(output.stdout),
    stderr: text.decode(output.stderr),
  };
}

Deno.test("deno task call exits 0 and writes the bot's audio", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using bot = fakeBot((m, b) => {
      if (isEvent(m, "DTMF")) b.play("r", "raw/lpcm16", pcmPieces(tone(500, 16000), 5));
    });
    const out = `${dir}/bot.wav`;
    const run = await cli([
      "--url",
      bot.url,
      "--wav",
      fixturePath("question_8k.wav"),
      "--formats",
      "raw/mulaw,raw/lpcm16",
      "--speed",
      "0",
      "--dtmf",
      "5",
      "--token",
      "t",
      "--out",
      out,
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^\+\s+\d+ ms {2}← session\.accepted \{mediaFormat: raw\/mulaw\}$/m);
    assert.match(run.stdout, /→ userStream\.chunk ×50 \(1000 ms, 8000 bytes\)/);
    assert.match(run.stdout, /^ {2}r {2}raw\/lpcm16 {2}500 ms {2}16000 bytes {2}5 chunks/m);
    assert.match(run.stdout, /Wrote .*bot\.wav: 0\.50 s at 16000 Hz/);
    const wav = readWav(await Deno.readFile(out));
    assert.equal(wav.sampleRate, 16000);
    assert.equal(wav.samples.length, 8000);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task call exits 2 on a protocol violation", async () => {
  await using bot = fakeBot((m, b) => {
    if (isEvent(m, "start")) {
      b.send({ type: "playStream.chunk", streamId: "x", audioChunk: "AAAA" });
    }
  });
  const run = await cli(["--url", bot.url, "--speed", "0", "--wait-ms", "0", "--json"]);
  assert.equal(run.code, 2, run.stderr);
  assert.match(
    run.stderr,
    /^Protocol violation: playStream\.chunk for "x" outside a playStream\.start\/stop pair/m,
  );
  const report = JSON.parse(run.stdout);
  assert.equal(report.ok, false);
  assert.equal(report.violations.length, 1);
});

Deno.test("deno task call exits 1 on a bad option", async () => {
  const run = await cli(["--speed", "fast"]);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /^Cannot parse --speed: "fast" is not a number >= 0/);
});
