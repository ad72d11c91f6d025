/**
 * VoiceSession against a running gateway with its local engine: real sockets, real audio.
 */
import assert from "node:assert/strict";
import {
  AudioFormatError,
  ConfigurationError,
  ConnectionClosedError,
  ConnectionError,
  NotConnectedError,
  ServerError,
  SessionState,
  TimeoutError,
  VoiceSession,
  type VoiceSessionError,
} from "../../src/client/mod.ts";
import { startTestApp } from "../helpers.ts";
import {
  bytes,
  FAST,
  once,
  recordStates,
  speech,
  stream,
  TURN_MS,
  withSilence,
} from "./helpers.ts";

const ECHO = /^I heard [\d.]+ seconds of speech\.$/;

Deno.test("await using: connects, applies the options, and disconnects at the end of the block", async () => {
  await using app = await startTestApp();
  const session = new VoiceSession({ url: app.url, voice: "alloy", language: "pt-BR" });
  const states = recordStates(session);
  assert.equal(session.isConnected, false);
  assert.equal(session.sessionId, undefined);
  {
    await using voice = await session.connect();
    assert.equal(voice, session);
    assert.equal(voice.state, SessionState.CONNECTED);
    assert.equal(voice.isConnected, true);
    assert.match(voice.sessionId!, /^sess_/);
    assert.equal(voice.model, "gpt-realtime");
    assert.equal(voice.voice, "alloy"); // confirmed by the gateway (its default is marin)
    assert.deepEqual(voice.turnDetection, {
      mode: "server_vad",
      threshold: 0.5,
      prefixPadding: 300,
      silenceDuration: 500,
    });
    assert.equal(app.user.connections.size, 1);
    const [connection] = [...app.user.connections];
    assert.equal(connection!.sessionId, voice.sessionId);
  }
  assert.equal(session.state, SessionState.DISCONNECTED);
  assert.equal(session.isConnected, false);
  assert.deepEqual(states, ["IDLE", "CONNECTING", "CONNECTED", "DISCONNECTED"]);
  // The gateway saw the close.
  await Promise.all([...app.user.connections].map((c) => c.closed));
  assert.equal(app.user.connections.size, 0);
});

Deno.test("manual connect/disconnect; connect again opens a new session with the same options", async () => {
  await using app = await startTestApp();
  const session = new VoiceSession({
    url: `${app.url}/api/v1/streaming/realtime/alice`,
    voice: "echo",
  });
  await session.connect();
  const first = session.sessionId;
  assert.equal([...app.user.connections][0]!.userId, "alice");
  await session.disconnect();
  await session.disconnect(); // twice is fine
  assert.equal(session.state, SessionState.DISCONNECTED);
  assert.equal(session.sessionId, first, "the id stays readable after disconnecting");
  await session.connect();
  try {
    assert.notEqual(session.sessionId, first);
    assert.equal(session.voice, "echo");
    assert.equal(session.state, SessionState.CONNECTED);
  } finally {
    await session.disconnect();
  }
});

Deno.test("text in, whole response out: receive(), events, states", async () => {
  await using app = await startTestApp();
  await using voice = await new VoiceSession({ url: app.url }).connect();
  const states = recordStates(voice);
  const started = once(voice, "response_started");
  const transcript = once(voice, "transcript_available");
  const done = once(voice, "response_done");
  await voice.sendText("Hello, how are you?");
  const reply = await voice.receive({ timeout: TURN_MS });
  assert.equal(reply.transcript, "You said: “Hello, how are you?”");
  assert.equal(reply.interrupted, false);
  assert.ok(reply.audio.byteLength > 24000, `${reply.audio.byteLength} bytes of audio`);
  assert.equal(reply.audio.byteLength % 2, 0);
  assert.ok(reply.usage.outputTokens > 0 && reply.usage.inputTokens > 0);
  assert.equal((await started)[0].id, reply.id);
  assert.deepEqual(await transcript, [reply.transcript, { role: "assistant" }]);
  assert.equal((await done)[0], reply);
  assert.deepEqual(states, ["CONNECTED", "PROCESSING", "SPEAKING", "CONNECTED"]);
});

Deno.test("streamReceive() yields the response's audio and transcript as they arrive", async () => {
  await using app = await startTestApp();
  await using voice = await new VoiceSession({ url: app.url }).connect();
  await voice.sendText("Tell me a story");
  const whole = voice.receive({ timeout: TURN_MS });
  const audio: Uint8Array[] = [];
  let text = "";
  for await (const chunk of voice.streamReceive({ timeout: TURN_MS })) {
    if (chunk.type === "audio") audio.push(chunk.data);
    else text += chunk.text;
  }
  const reply = await whole;
  assert.ok(audio.length > 1, "several audio chunks");
  assert.equal(text, reply.transcript);
  const joined = new Uint8Array(audio.reduce((n, a) => n + a.byteLength, 0));
  let offset = 0;
  for (const a of audio) {
    joined.set(a, offset);
    offset += a.byteLength;
  }
  assert.deepEqual(joined, reply.audio);
});

Deno.test("listen(): turn detection finds the utterance in streamed audio; the model replies", async () => {
  await using app = await startTestApp(FAST);
  await using voice = await new VoiceSession({ url: app.url }).connect();
  const states = recordStates(voice);
  const spoken = await speech("short_24k.wav", 24000);
  const audio = bytes(withSilence(spoken, 1500));
  const events: string[] = [];
  voice.on("speech_started", () => events.push("speech_started"));
  voice.on("speech_ended", () => events.push("speech_ended"));
  voice.on("response_started", () => events.push("response_started"));
  const heard = voice.listen({ timeout: TURN_MS });
  await stream(voice, audio);
  const utterance = await heard;
  // The utterance is the speech (±VAD padding) and its audio is exactly what was sent there.
  assert.ok(utterance.startMs >= 0 && utterance.endMs <= 2900, JSON.stringify(utterance));
  assert.ok(
    utterance.durationMs > 800 && utterance.durationMs < 1900,
    `utterance of ${utterance.durationMs} ms`,
  );
  const from = Math.floor(utterance.startMs * 48 / 2) * 2;
  assert.ok(utterance.audio.byteLength > 0);
  assert.deepEqual(utterance.audio, audio.subarray(from, from + utterance.audio.byteLength));
  const reply = await voice.receive({ timeout: TURN_MS });
  assert.match(reply.transcript, ECHO);
  assert.deepEqual(events, ["speech_started", "speech_ended", "response_started"]);
  assert.deepEqual(states.slice(0, 5), [
    "CONNECTED",
    "LISTENING",
    "PROCESSING",
    "SPEAKING",
    "CONNECTED",
  ]);
});

Deno.test("user transcripts arrive as transcript_available with role user", async () => {
  await using app = await startTestApp(FAST);
  await using voice = await new VoiceSession({ url: app.url }).connect();
  const transcripts: [string, string][] = [];
  voice.on("transcript_available", (text, { role }) => transcripts.push([role, text]));
  const reply = await voice.respond(bytes(await speech("short_24k.wav", 24000)), {
    timeout: TURN_MS,
  });
  assert.match(reply.transcript, ECHO);
  assert.ok(
    transcripts.some(([role, text]) => role === "user" && /seconds of speech/.test(text)),
    JSON.stringify(transcripts),
  );
  assert.ok(transcripts.some(([role, text]) => role === "assistant" && text === reply.transcript));
});

Deno.test("respond() with turn detection: one utterance, exactly one reply", async () => {
  await using app = await startTestApp(FAST);
  await using voice = await new VoiceSession({ url: app.url }).connect();
  let responses = 0;
  voice.on("response_started", () => responses++);
  const errors: VoiceSessionError[] = [];
  voice.on("error", (e) => errors.push(e));
  // The audio ends right after the speech: commit (the default) has to end the turn.
  const reply = await voice.respond(bytes(await speech("short_24k.wav", 24000)), {
    timeout: TURN_MS,
  });
  assert.match(reply.transcript, ECHO);
  const seconds = Number(/[\d.]+/.exec(reply.transcript)![0]);
  assert.ok(seconds > 0.8 && seconds < 1.6, reply.transcript);
  // Nothing else follows: no second response, no error.
  await voice.sendText("ping");
  assert.match((await voice.receive({ timeout: TURN_MS })).transcript, /^You said/);
  assert.equal(responses, 2);
  assert.deepEqual(errors, []);
});

Deno.test("respond() with manual turns commits the audio", async () => {
  await using app = await startTestApp(FAST);
  const session = new VoiceSession({ url: app.url, turnDetection: false });
  await using voice = await session.connect();
  assert.deepEqual(voice.turnDetection, { mode: "none" });
  const states = recordStates(voice);
  const reply = await voice.respond(bytes(await speech("short_24k.wav", 24000)), {
    timeout: TURN_MS,
  });
  // Manual commits echo the whole clip: 1.3 s.
  assert.equal(reply.transcript, "I heard 1.3 seconds of speech.");
  assert.ok(Math.abs(reply.audio.byteLength / 48 - 1343) < 50, `${reply.audio.byteLength / 48} ms`);
  assert.deepEqual(states, ["CONNECTED", "PROCESSING", "SPEAKING", "CONNECTED"]);
  await assert.rejects(voice.listen(), ConfigurationError);
});

Deno.test("streamed chunks with commit:false, then an empty commit, make one manual turn", async () => {
  await using app = await startTestApp(FAST);
  await using voice = await new VoiceSession({ url: app.url, turnDetection: false }).connect();
  await stream(voice, bytes(await speech("short_24k.wav", 24000)));
  const reply = voice.receive({ timeout: TURN_MS });
  await voice.sendAudio(new Uint8Array(0)); // commit defaults to true
  assert.equal((await reply).transcript, "I heard 1.3 seconds of speech.");
});

Deno.test("listen() times out with a TimeoutError and leaves the session usable", async () => {
  await using app = await startTestApp();
  await using voice = await new VoiceSession({ url: app.url }).connect();
  const error = await voice.listen({ timeout: 50 }).catch((e) => e);
  assert.ok(error instanceof TimeoutError, String(error));
  assert.equal(error.code, "timeout");
  assert.equal(error.name, "TimeoutError");
  await assert.rejects(voice.receive({ timeout: 50 }), TimeoutError);
  await voice.sendText("still here?");
  assert.match((await voice.receive({ timeout: TURN_MS })).transcript, /still here/);
});

Deno.test("interrupt() mid-response: the reply stops, is marked interrupted, the model forgets the rest", async () => {
  // A real-time engine and a long reply, so that the reply is still being generated.
  await using app = await startTestApp({}, {
    engine: { speed: 1, scenario: () => ({ audioMs: 6000, transcript: "A long answer." }) },
  });
  await using voice = await new VoiceSession({ url: app.url }).connect();
  const states = recordStates(voice);
  const interrupted = once(voice, "interrupted");
  await voice.sendText("Talk for a while");
  const stream = voice.streamReceive({ timeout: TURN_MS });
  let chunks = 0;
  for await (const chunk of stream) {
    if (chunk.type === "audio" && ++chunks === 3) break;
  }
  const whole = voice.receive({ timeout: TURN_MS });
  const cut = await voice.interrupt({ playedMs: 100 });
  assert.notEqual(cut.itemId, null);
  assert.equal(cut.playedMs, 100);
  assert.deepEqual((await interrupted)[0], cut);
  const reply = await whole;
  assert.equal(reply.interrupted, true);
  // Cut short: less than the 6 s the engine was asked for.
  assert.ok(reply.audio.byteLength / 48 < 6000, `${reply.audio.byteLength / 48} ms generated`);
  assert.deepEqual(states, ["CONNECTED", "PROCESSING", "SPEAKING", "CONNECTED"]);
  // The gateway truncated the model's memory of the item to what was heard.
  assert.equal(app.user.connections.size, 1);
  const bridge = [...app.user.connections][0]!.bridge!;
  assert.equal(bridge.stats.truncates, 1);
  assert.equal(bridge.stats.cancels, 1);
});

Deno.test("barge-in: speaking over the model interrupts it (speech_started, interrupted, LISTENING)", async () => {
  await using app = await startTestApp(FAST, {
    engine: {
      speed: 1,
      scenario: (turn) => turn.input.kind === "text" ? { audioMs: 8000 } : undefined,
    },
  });
  await using voice = await new VoiceSession({ url: app.url }).connect();
  await voice.sendText("Talk for a while");
  const first = voice.receive({ timeout: TURN_MS });
  first.catch(() => {}); // awaited below; keeps an early failure readable
  // Speak once the model's audio is playing.
  for await (const chunk of voice.streamReceive({ timeout: TURN_MS })) {
    if (chunk.type === "audio") break;
  }
  const interrupted = once(voice, "interrupted");
  const speaking = once(voice, "speech_started");
  await stream(voice, bytes(withSilence(await speech("short_24k.wav", 24000), 1000)));
  await speaking;
  assert.ok(
    voice.state === SessionState.LISTENING || voice.state === SessionState.PROCESSING,
    voice.state,
  );
  const cut = await interrupted;
  assert.notEqual(cut[0].itemId, null);
  assert.equal((await first).interrupted, true);
  // The user's turn gets its own reply.
  assert.match((await voice.receive({ timeout: TURN_MS })).transcript, ECHO);
});

Deno.test("configureTurnDetection(): applied while connected, kept before connect, checked", async () => {
  await using app = await startTestApp();
  const session = new VoiceSession({ url: app.url });
  await session.configureTurnDetection({ threshold: 0.7, silenceDuration: 900 });
  await using voice = await session.connect();
  assert.deepEqual(voice.turnDetection, {
    mode: "server_vad",
    threshold: 0.7,
    prefixPadding: 300,
    silenceDuration: 900,
  });
  // Omitted fields keep their values; overlapping calls apply in call order.
  await Promise.all([
    voice.configureTurnDetection({ prefixPadding: 200 }),
    voice.configureTurnDetection({ enabled: false }),
    voice.configureTurnDetection({ enabled: true, threshold: 0.4 }),
  ]);
  assert.deepEqual(voice.turnDetection, {
    mode: "server_vad",
    threshold: 0.4,
    prefixPadding: 200,
    silenceDuration: 900,
  });
  await voice.configureTurnDetection({ enabled: false });
  assert.deepEqual(voice.turnDetection, { mode: "none" });
  await assert.rejects(voice.configureTurnDetection({ threshold: 2 }), ConfigurationError);
  await assert.rejects(voice.configureTurnDetection({ silenceDuration: 1.5 }), /whole number/);
  assert.deepEqual(voice.turnDetection, { mode: "none" });
});

Deno.test("configureAudio(): 16 kHz PCM16 in and out, resampled", async () => {
  await using app = await startTestApp(FAST);
  const session = new VoiceSession({ url: app.url, sampleRate: 16000, turnDetection: false });
  assert.deepEqual(session.audio, { sampleRate: 16000, channels: 1, format: "pcm16" });
  await using voice = await session.connect();
  const hello = await speech("hello_16k.wav", 16000);
  const reply = await voice.respond(bytes(hello), { timeout: TURN_MS });
  assert.equal(reply.transcript, "I heard 3.6 seconds of speech.");
  // The echo comes back at 16 kHz: as many samples as were sent (± filter edges).
  const samples = reply.audio.byteLength / 2;
  assert.ok(Math.abs(samples - hello.length) < 400, `${samples} vs ${hello.length} samples`);
});

Deno.test("configureAudio(): float32 stereo at 48 kHz in and out", async () => {
  await using app = await startTestApp(FAST);
  await using voice = await new VoiceSession({ url: app.url, turnDetection: false }).connect();
  await voice.configureAudio({ sampleRate: 48000, channels: 2, format: "float32" });
  const pcm = await speech("short_24k.wav", 24000);
  // Upsample by repetition (good enough for an echo), as interleaved float stereo.
  const floats = new Float32Array(pcm.length * 4);
  for (let i = 0; i < pcm.length; i++) {
    for (let k = 0; k < 4; k++) floats[4 * i + k] = pcm[i]! / 32768;
  }
  const reply = await voice.respond(floats, { timeout: TURN_MS });
  assert.equal(reply.transcript, "I heard 1.3 seconds of speech.");
  const out = new Float32Array(
    reply.audio.buffer,
    reply.audio.byteOffset,
    reply.audio.byteLength / 4,
  );
  assert.ok(Math.abs(out.length / 2 - pcm.length * 2) < 600, `${out.length / 2} frames`);
  assert.ok(out.every((v) => v >= -1 && v <= 1));
  assert.ok(out.some((v) => Math.abs(v) > 0.05), "the echo is not silent");
  for (let i = 0; i < out.length; i += 2) assert.equal(out[i], out[i + 1]);
});

Deno.test("bad audio and bad formats give AudioFormatError / ConfigurationError and send nothing", async () => {
  await using app = await startTestApp();
  await using voice = await new VoiceSession({ url: app.url }).connect();
  const errors: VoiceSessionError[] = [];
  voice.on("error", (e) => errors.push(e));
  await assert.rejects(voice.sendAudio(new Uint8Array(3)), AudioFormatError);
  await assert.rejects(voice.sendText(""), ConfigurationError);
  // The limit the gateway announced (MAX_TEXT_CHARS, default 4096).
  await assert.rejects(voice.sendText("x".repeat(4097)), /1 to 4096 characters, got 4097/);
  await assert.rejects(voice.sendAudio("nope" as unknown as Uint8Array), AudioFormatError);
  // deno-lint-ignore no-explicit-any
  await assert.rejects(voice.configureAudio({ format: "mp3" as any }), AudioFormatError);
  await assert.rejects(voice.configureAudio({ sampleRate: 7000 }), ConfigurationError);
  // deno-lint-ignore no-explicit-any
  await assert.rejects(voice.configureAudio({ channels: 3 as any }), ConfigurationError);
  await voice.configureAudio({ format: "float32" });
  await assert.rejects(voice.sendAudio(new Uint8Array(6)), /whole number of 1-channel float32/);
  assert.deepEqual(voice.audio, { sampleRate: 24000, channels: 1, format: "float32" });
  await voice.sendText("ok");
  await voice.receive({ timeout: TURN_MS });
  assert.deepEqual(errors, [], "the gateway never saw bad audio");
});

Deno.test("misuse before connect: NotConnectedError; bad options: ConfigurationError", async () => {
  const session = new VoiceSession({ url: "http://127.0.0.1:9" });
  await assert.rejects(session.sendAudio(new Uint8Array(2)), NotConnectedError);
  await assert.rejects(session.sendText("hi"), NotConnectedError);
  await assert.rejects(session.receive(), NotConnectedError);
  await assert.rejects(session.listen(), NotConnectedError);
  await assert.rejects(session.respond(new Uint8Array(2)), NotConnectedError);
  await assert.rejects(session.interrupt(), NotConnectedError);
  await assert.rejects(session.streamReceive().next(), NotConnectedError);
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ url: "ftp://x" }, /ftp:/],
    [{ url: "not a url" }, /not a URL/],
    [{ url: "http://x", voice: "robot" }, /voice/],
    [{ url: "http://x", language: "english!" }, /language/],
    [{ url: "http://x", sampleRate: 44 }, /sampleRate/],
    [{ url: "http://x", token: "a b" }, /token/],
    [
      { url: "http://x", agent: { instructions: "a" }, instructions: "b" },
      /agent and instructions/,
    ],
    [{ url: "http://x", turnDetection: { threshold: -1 } }, /threshold/],
    [{ url: "http://x", connectTimeout: 0 }, /connectTimeout/],
    [{ url: "http://x", userId: "a/b" }, /userId/],
  ];
  for (const [options, message] of bad) {
    assert.throws(
      () => new VoiceSession(options as unknown as ConstructorParameters<typeof VoiceSession>[0]),
      (e) => e instanceof ConfigurationError && message.test(e.message),
      JSON.stringify(options),
    );
  }
});

Deno.test("connect failures: refused token, unreachable gateway, other model, no answer", async () => {
  await using app = await startTestApp({ REALTIME_API_TOKENS: "good-token" });
  const refused = new VoiceSession({ url: app.url, token: "bad-token" });
  const error = await refused.connect().catch((e) => e);
  assert.ok(error instanceof ConnectionError, String(error));
  assert.equal(refused.state, SessionState.DISCONNECTED);
  assert.ok(!String(error.message).includes("bad-token"), "no token in messages");

  const authed = new VoiceSession({ url: app.url, token: "good-token" });
  await authed.connect();
  assert.equal([...app.user.connections][0]!.route, "authenticated");
  await authed.disconnect();

  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await assert.rejects(
    new VoiceSession({ url: `ws://127.0.0.1:${port}` }).connect(),
    ConnectionError,
  );

  const other = new VoiceSession({ url: app.url, model: "gpt-realtime-mini" });
  await assert.rejects(other.connect(), /serves "gpt-realtime"/);
  assert.equal(other.state, SessionState.DISCONNECTED);

  // A server that upgrades and then says nothing.
  const ac = new AbortController();
  const sockets: WebSocket[] = [];
  const silent = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} },
    (req) => {
      const { socket, response } = Deno.upgradeWebSocket(req);
      sockets.push(socket);
      return response;
    },
  );
  try {
    const mute = new VoiceSession({
      url: `ws://127.0.0.1:${silent.addr.port}/`,
      connectTimeout: 200,
    });
    await assert.rejects(mute.connect(), TimeoutError);
    assert.equal(mute.state, SessionState.DISCONNECTED);
  } finally {
    ac.abort();
    await silent.finished;
  }
});

Deno.test("server close: pending calls reject, error is emitted, connect() again works", async () => {
  await using app = await startTestApp();
  const session = new VoiceSession({ url: app.url, voice: "sage" });
  await session.connect();
  const first = session.sessionId;
  const errors: VoiceSessionError[] = [];
  session.on("error", (e) => errors.push(e));
  const pendingListen = session.listen();
  const pendingReceive = session.receive();
  [...app.user.connections][0]!.close(1011, "maintenance");
  const listenError = await pendingListen.catch((e) => e);
  assert.ok(listenError instanceof ConnectionClosedError, String(listenError));
  assert.equal(listenError.closeCode, 1011);
  assert.equal(listenError.reason, "maintenance");
  await assert.rejects(pendingReceive, ConnectionClosedError);
  assert.equal(session.state, SessionState.DISCONNECTED);
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof ConnectionClosedError);
  await assert.rejects(session.sendText("hello?"), NotConnectedError);

  await session.connect();
  try {
    assert.notEqual(session.sessionId, first);
    assert.equal(session.voice, "sage");
    await session.sendText("back again");
    assert.match((await session.receive({ timeout: TURN_MS })).transcript, /back again/);
  } finally {
    await session.disconnect();
  }
});

Deno.test("disconnect() rejects pending receives; the gateway's errors surface as ServerError", async () => {
  await using app = await startTestApp({ REALTIME_RATE_LIMIT: "2" });
  const session = new VoiceSession({ url: app.url, turnDetection: false });
  await session.connect();
  const serverErrors = once(session, "error");
  // 2 messages per second: a burst of audio is refused with rate_limited (and the call goes on).
  for (let i = 0; i < 5; i++) await session.sendAudio(new Uint8Array(960), { commit: false });
  const [error] = await serverErrors;
  assert.ok(error instanceof ServerError, String(error));
  assert.equal(error.code, "rate_limited");
  assert.equal(session.state, SessionState.CONNECTED);
  const pending = session.receive();
  await session.disconnect();
  const closed = await pending.catch((e) => e);
  assert.ok(closed instanceof ConnectionClosedError);
  assert.equal(closed.closeCode, 1000);
});

Deno.test("connect() and disconnect() overlapping, in both orders", async () => {
  await using app = await startTestApp();
  for (const sampleRate of [24000, 16000]) {
    // disconnect() while connect() runs: the connect fails as cancelled, nothing stays open.
    const session = new VoiceSession({ url: app.url, sampleRate });
    const connecting = session.connect();
    await session.disconnect();
    await assert.rejects(connecting, /disconnect\(\) was called while connecting/);
    assert.equal(session.state, SessionState.DISCONNECTED);
    await Promise.all([...app.user.connections].map((c) => c.closed));
    assert.equal(app.user.connections.size, 0);
    // connect() right after an unawaited disconnect(): a new session, once the old one closed.
    await session.connect();
    const first = session.sessionId;
    const closing = session.disconnect();
    await session.connect();
    await closing;
    assert.equal(session.state, SessionState.CONNECTED);
    assert.notEqual(session.sessionId, first);
    await session.disconnect();
  }
});

Deno.test("bad timeouts are refused up front and leave nothing pending", async () => {
  await using app = await startTestApp();
  await using voice = await new VoiceSession({ url: app.url }).connect();
  for (const timeout of [0, -1, Number.NaN]) {
    await assert.rejects(voice.listen({ timeout }), ConfigurationError);
    await assert.rejects(voice.interrupt({ timeout }), ConfigurationError);
    await assert.rejects(voice.receive({ timeout }), ConfigurationError);
  }
  // Disposal at the end of the test would surface a stray rejected waiter as an uncaught error.
});

Deno.test("configureAudio() during connect() wins; several replies in a row keep their length", async () => {
  await using app = await startTestApp(FAST);
  const session = new VoiceSession({ url: app.url, sampleRate: 48000, turnDetection: false });
  const connecting = session.connect();
  await session.configureAudio({ sampleRate: 16000 });
  await using voice = await connecting;
  assert.equal(voice.audio.sampleRate, 16000);
  const hello = await speech("hello_16k.wav", 16000);
  const lengths: number[] = [];
  for (let i = 0; i < 3; i++) {
    const reply = await voice.respond(bytes(hello), { timeout: TURN_MS });
    assert.equal(reply.transcript, "I heard 3.6 seconds of speech.");
    lengths.push(reply.audio.byteLength / 2);
  }
  // 16 kHz out, the same each time: no state carried from one reply into the next.
  assert.ok(Math.abs(lengths[0]! - hello.length) < 400, `${lengths[0]} vs ${hello.length}`);
  assert.deepEqual(lengths, [lengths[0], lengths[0], lengths[0]]);
});

Deno.test("listen() cuts the utterance from resampled audio as the app sent it", async () => {
  await using app = await startTestApp(FAST);
  await using voice = await new VoiceSession({ url: app.url, sampleRate: 16000 }).connect();
  const audio = bytes(withSilence(await speech("hello_16k.wav", 16000), 1500, 16000));
  const heard = voice.listen({ timeout: TURN_MS });
  await stream(voice, audio, 640); // 20 ms at 16 kHz
  const utterance = await heard;
  assert.ok(utterance.durationMs > 2500 && utterance.durationMs < 4200, `${utterance.durationMs}`);
  const at = Math.floor((utterance.startMs * 16000) / 1000);
  // A contiguous piece of what was sent, within the resampler's delay (±6 ms) of its position.
  let found = false;
  for (let frame = Math.max(0, at - 96); frame <= at + 96 && !found; frame++) {
    const sent = audio.subarray(frame * 2, frame * 2 + utterance.audio.byteLength);
    found = sent.byteLength === utterance.audio.byteLength &&
      sent.every((b, i) => b === utterance.audio[i]);
  }
  assert.ok(found, "the utterance's audio is what was sent at its position");
  assert.match((await voice.receive({ timeout: TURN_MS })).transcript, ECHO);
});

Deno.test("microphone-sized frames are gathered into 20 ms messages (no rate limiting)", async () => {
  await using app = await startTestApp(); // the default 100 messages per second
  await using voice = await new VoiceSession({ url: app.url }).connect();
  const errors: VoiceSessionError[] = [];
  voice.on("error", (e) => errors.push(e));
  // 0.9 s in 128-sample frames (an AudioWorklet quantum): 169 frames in about 42 messages.
  const audio = bytes(await speech("short_24k.wav", 24000)).subarray(0, 43_200);
  await stream(voice, audio, 256);
  await voice.sendText("done?"); // a reply proves every message before it was handled
  await voice.receive({ timeout: TURN_MS });
  const appends = [...app.user.connections][0]!.bridge!.stats.appends;
  assert.ok(appends >= 40 && appends <= 46, `${appends} audio messages`); // 4 frames each
  assert.deepEqual(errors, []);
});

Deno.test("a refused message fails the wait for its reply; interrupt() with nothing playing", async () => {
  await using app = await startTestApp({ REALTIME_RATE_LIMIT: "1" });
  await using voice = await new VoiceSession({ url: app.url }).connect();
  const cut = await voice.interrupt();
  assert.deepEqual(cut, { itemId: null, playedMs: 0 });
  // The bucket is empty now: the text is dropped, and receive() hears why.
  const reply = voice.receive({ timeout: TURN_MS });
  await voice.sendText("dropped");
  const error = await reply.catch((e) => e);
  assert.ok(error instanceof ServerError, String(error));
  assert.equal(error.code, "rate_limited");
  assert.equal(voice.state, SessionState.CONNECTED);
});

Deno.test("connect() resolves once the model is there, and fails when it cannot be reached", async () => {
  await using app = await startTestApp();
  await using voice = await new VoiceSession({ url: app.url }).connect();
  assert.equal(voice.state, SessionState.CONNECTED);
  assert.equal([...app.user.connections][0]!.bridge!.ready, true, "the upstream is configured");

  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await using cut = await startTestApp({
    OPENAI_API_KEY: "sk-test-not-a-key",
    OPENAI_REALTIME_URL: `ws://127.0.0.1:${port}/v1/realtime`,
    // With a real key the open route is off unless asked for.
    REALTIME_OPEN_ROUTE: "true",
  });
  const session = new VoiceSession({ url: cut.url });
  const error = await session.connect().catch((e) => e);
  assert.ok(error instanceof ConnectionClosedError, String(error));
  assert.equal(error.closeCode, 1011);
  assert.ok(error.cause instanceof ServerError);
  assert.equal((error.cause as ServerError).code, "upstream_unavailable");
  assert.equal(session.state, SessionState.DISCONNECTED);
});
