import assert from "node:assert/strict";
import { JsonSocket, startTestApp, wsUrl } from "../helpers.ts";
import { audioMessage, openPath, speechChunks, textMessage } from "./helpers.ts";

type App = Awaited<ReturnType<typeof startTestApp>>;

/** Tests stream recorded speech faster than real time: lift the per-connection rate limit. */
const FAST = { REALTIME_RATE_LIMIT: "10000" };

function onlyConnection(app: App) {
  const [connection, ...rest] = [...app.user.connections];
  assert.ok(connection && rest.length === 0, "expected exactly one user connection");
  return connection;
}

Deno.test("user API sends session.created on connect", async () => {
  await using app = await startTestApp();
  await using client = new JsonSocket(wsUrl(app, openPath()));
  const created = await client.next();
  assert.equal(created.type, "session.created");
  const session = created.session as Record<string, unknown>;
  assert.match(String(session.id), /^sess_/);
  assert.equal(session.voice, "marin");
  assert.equal(session.language, "en");
  assert.equal(session.model, "gpt-realtime");
  assert.deepEqual(session.turn_detection, {
    type: "server_vad",
    threshold: 0.5,
    prefix_padding_ms: 300,
    silence_duration_ms: 500,
    create_response: true,
  });
  assert.equal(onlyConnection(app).userId, "test_user");
});

Deno.test("session.update is answered with session {id, voice, language}", async () => {
  await using app = await startTestApp();
  await using client = new JsonSocket(wsUrl(app, openPath()));
  const created = await client.next("session.created");
  client.send({
    type: "session.update",
    session_update: {
      voice: "alloy",
      language: "en",
      instructions: "You are a helpful AI assistant.",
      temperature: 0.8,
      max_response_output_tokens: 4096,
    },
  });
  const answer = await client.next("session.update");
  assert.deepEqual(answer, {
    type: "session.update",
    session: { id: (created.session as { id: string }).id, voice: "alloy", language: "en" },
  });
});

Deno.test("ping is answered with pong", async (t) => {
  await using app = await startTestApp();
  await using client = new JsonSocket(wsUrl(app, openPath()));
  await t.step("echoing the client's timestamp", async () => {
    client.send({ type: "ping", ping: { timestamp: 1234567890.123 } });
    assert.deepEqual(await client.next("pong"), { type: "pong", timestamp: 1234567890.123 });
  });
  await t.step("with the server time when none was given", async () => {
    client.send({ type: "ping" });
    const pong = await client.next("pong");
    assert.equal(typeof pong.timestamp, "number");
    assert.ok(Number(pong.timestamp) > 1_600_000_000);
  });
});

Deno.test("input_text gets a spoken reply: started, deltas, audio, transcript, done", async () => {
  await using app = await startTestApp();
  await using client = new JsonSocket(wsUrl(app, openPath()));
  client.send(textMessage("Hello, how are you?"));
  const started = await client.next("response.started");
  assert.match(String((started.response as { id: string }).id), /^resp_/);
  const done = await client.next("response.done", 10_000);
  const usage = (done.response as { usage: Record<string, number> }).usage;
  assert.deepEqual(Object.keys(usage), ["input_tokens", "output_tokens"]);
  assert.ok(usage.input_tokens! > 0 && usage.output_tokens! > 0);
  const seen = client.received;
  const deltas = seen.filter((m) => m.type === "response.delta")
    .map((m) => (m.response as { delta: { content: string } }).delta.content).join("");
  assert.equal(deltas, "You said: “Hello, how are you?”");
  const audio = seen.filter((m) => m.type === "response.audio");
  assert.ok(audio.length > 0);
  for (const m of audio) {
    const response = m.response as { audio: string; timestamp: number };
    assert.deepEqual(Object.keys(response), ["audio", "timestamp"]);
    assert.equal(Uint8Array.fromBase64(response.audio).length % 2, 0);
  }
  const transcript = seen.find((m) => m.type === "response.transcript");
  assert.equal(
    (transcript?.response as { transcript: string }).transcript,
    "You said: “Hello, how are you?”",
  );
  assert.ok(seen.some((m) => m.type === "response.audio.done"));
  const order = seen.map((m) => m.type).filter((t) =>
    t === "response.started" || t === "response.audio.done" || t === "response.done"
  );
  assert.deepEqual(order, ["response.started", "response.audio.done", "response.done"]);
});

Deno.test("spoken audio drives speech events and the echo reply (server VAD)", async () => {
  await using app = await startTestApp(FAST);
  await using client = new JsonSocket(wsUrl(app, openPath()));
  await client.next("session.created");
  const chunks = await speechChunks();
  for (const chunk of chunks) client.send(audioMessage(chunk));
  const started = await client.next("speech.started", 10_000);
  const stopped = await client.next("speech.stopped", 10_000);
  // Positions in the audio this client sent: the utterance lies inside it.
  const sentMs = chunks.reduce((ms, chunk) => ms + (chunk.length * 3) / 4 / 48, 0);
  const startMs = (started.speech as { audio_start_ms: number }).audio_start_ms;
  const endMs = (stopped.speech as { audio_end_ms: number }).audio_end_ms;
  assert.ok(startMs >= 0 && startMs < endMs && endMs <= sentMs, `${startMs}..${endMs}/${sentMs}`);
  await client.next("speech.committed", 10_000);
  await client.next("response.started", 10_000);
  const transcript = await client.next("response.transcript", 10_000);
  assert.match(
    (transcript.response as { transcript: string }).transcript,
    /^I heard [\d.]+ seconds of speech\.$/,
  );
  await client.next("response.done", 10_000);
  assert.ok(client.received.some((m) => m.type === "response.audio"));
});

Deno.test("manual turns: turn_detection.update none, audio, commit, reply", async () => {
  await using app = await startTestApp(FAST);
  await using client = new JsonSocket(wsUrl(app, openPath()));
  client.send({ type: "turn_detection.update", turn_detection_update: { type: "none" } });
  assert.deepEqual(await client.next("turn_detection.updated"), {
    type: "turn_detection.updated",
    turn_detection: { type: "none" },
  });
  for (const chunk of await speechChunks(200)) client.send(audioMessage(chunk));
  client.send({ type: "input_audio_buffer.commit" });
  await client.next("speech.committed", 10_000);
  const transcript = await client.next("response.transcript", 10_000);
  assert.match(
    (transcript.response as { transcript: string }).transcript,
    /^I heard [\d.]+ seconds of speech\.$/,
  );
  await client.next("response.done", 10_000);
  assert.ok(!client.received.some((m) => m.type === "speech.started"));
});

Deno.test("turn_detection.update switches to semantic VAD", async () => {
  await using app = await startTestApp();
  await using client = new JsonSocket(wsUrl(app, openPath()));
  client.send({
    type: "turn_detection.update",
    turn_detection_update: { type: "semantic_vad", eagerness: "high" },
  });
  assert.deepEqual(await client.next("turn_detection.updated"), {
    type: "turn_detection.updated",
    turn_detection: { type: "semantic_vad", eagerness: "high", create_response: true },
  });
  client.send({ type: "ping" });
  await client.next("pong");
  assert.ok(!client.received.some((m) => m.type === "error"));
});

Deno.test("response.create asks the model to speak", async () => {
  await using app = await startTestApp();
  await using client = new JsonSocket(wsUrl(app, openPath()));
  client.send({ type: "response.create", response_create: { instructions: "Greet the user." } });
  await client.next("response.started", 10_000);
  await client.next("response.done", 10_000);
  assert.ok(client.received.some((m) => m.type === "response.audio"));
});

Deno.test("response.interrupt stops the reply and truncates to the client's played ms", async () => {
  await using app = await startTestApp();
  await using client = new JsonSocket(wsUrl(app, openPath()));
  client.send(textMessage("Please tell me a long story about the sea, the wind and the stars."));
  await client.next("response.audio", 10_000);
  client.send({ type: "response.interrupt", response_interrupt: { played_ms: 10 } });
  const interrupted = await client.next("response.interrupted");
  const response = interrupted.response as { item_id: string; played_ms: number };
  assert.match(response.item_id, /^item_/);
  assert.equal(response.played_ms, 10);
  await client.next("response.done", 10_000);
  const bridge = onlyConnection(app).bridge;
  assert.equal(bridge?.stats.truncates, 1);
});

Deno.test("response.interrupt with nothing playing is acknowledged", async () => {
  await using app = await startTestApp();
  await using client = new JsonSocket(wsUrl(app, openPath()));
  client.send({ type: "response.interrupt" });
  const interrupted = await client.next("response.interrupted");
  assert.deepEqual(
    { ...(interrupted.response as Record<string, unknown>), timestamp: 0 },
    { item_id: null, played_ms: 0, timestamp: 0 },
  );
});

Deno.test("barge-in: speech during a reply tells the client to stop at once", async () => {
  await using app = await startTestApp(FAST);
  await using client = new JsonSocket(wsUrl(app, openPath()));
  client.send(textMessage(
    "Please tell me a long story about the sea, the wind, the stars and the old lighthouse.",
  ));
  await client.next("response.audio", 10_000);
  // The first second of speech raises speech_started; the rest follows the Bridge's cancel, as
  // it would in real time (a turn that ends before the cancel lands gets no automatic reply).
  const chunks = await speechChunks();
  for (const chunk of chunks.slice(0, 25)) client.send(audioMessage(chunk));
  await client.next("speech.started", 10_000);
  const interrupted = await client.next("response.interrupted");
  for (const chunk of chunks.slice(25)) client.send(audioMessage(chunk));
  const response = interrupted.response as { item_id: string; played_ms: number };
  assert.match(response.item_id, /^item_/);
  assert.ok(response.played_ms >= 0);
  // The caller's turn goes on and gets its own reply.
  const transcript = await client.next("response.transcript", 10_000);
  assert.match(
    (transcript.response as { transcript: string }).transcript,
    /^I heard [\d.]+ seconds of speech\.$/,
  );
});

Deno.test("an invalid message gets invalid_message and the connection stays", async (t) => {
  await using app = await startTestApp();
  await using client = new JsonSocket(wsUrl(app, openPath()));
  await client.opened;
  const cases: [string, string | Uint8Array, RegExp][] = [
    ["not JSON", "{nope", /not valid JSON/],
    ["no type", JSON.stringify({ hello: 1 }), /"type" field is missing/],
    ["unknown type", JSON.stringify({ type: "session.delete" }), /unknown type/],
    [
      "bad field",
      JSON.stringify({ type: "session.update", session_update: { voice: 7 } }),
      /session_update.voice is invalid/,
    ],
    [
      "bad base64 audio",
      JSON.stringify(audioMessage("%%%%")),
      /not valid base64/,
    ],
    [
      "odd number of audio bytes",
      JSON.stringify(audioMessage(new Uint8Array(4801).toBase64())),
      /even number of bytes, got 4801/,
    ],
    ["binary frame", new Uint8Array([1, 2, 3, 4]), /expected a JSON text frame/],
  ];
  for (const [name, frame, message] of cases) {
    await t.step(name, async () => {
      client.socket.send(frame);
      const error = await client.next("error");
      assert.equal((error.error as { code: string }).code, "invalid_message");
      assert.match((error.error as { message: string }).message, message);
      client.send({ type: "ping", ping: { timestamp: 1 } });
      assert.deepEqual(await client.next("pong"), { type: "pong", timestamp: 1 });
    });
  }
});

Deno.test("audio chunks of any even size are accepted, whatever their base64 padding", async () => {
  await using app = await startTestApp(FAST);
  await using client = new JsonSocket(wsUrl(app, openPath()));
  await client.next("session.created");
  // 2 and 2048 bytes end in "=", 8192 in "==", 4800 in none.
  for (const bytes of [2, 2048, 4800, 8192]) {
    client.send(audioMessage(new Uint8Array(bytes).toBase64()));
  }
  client.send({ type: "ping", ping: { timestamp: 5 } });
  await client.next("pong");
  assert.deepEqual(client.received.filter((m) => m.type === "error"), []);
});

Deno.test("session.update: a voice change after the model spoke is refused, the rest applied", async () => {
  await using app = await startTestApp();
  await using client = new JsonSocket(wsUrl(app, openPath()));
  await client.next("session.created");
  client.send(textMessage("Hello"));
  await client.next("response.done", 10_000);
  client.send({
    type: "session.update",
    session_update: { voice: "alloy", language: "fr", instructions: "Be brief." },
  });
  const error = await client.next("error");
  assert.equal((error.error as { code: string }).code, "invalid_message");
  assert.match(
    (error.error as { message: string }).message,
    /voice cannot change once the model has spoken/,
  );
  const answer = await client.next("session.update");
  assert.deepEqual((answer.session as Record<string, unknown>).voice, "marin");
  assert.deepEqual((answer.session as Record<string, unknown>).language, "fr");
  // Later updates keep working upstream, and so does the conversation.
  client.send({ type: "session.update", session_update: { instructions: "Be kind." } });
  await client.next("session.update");
  client.send(textMessage("Bonjour"));
  await client.next("response.done", 10_000);
  const errors = client.received.filter((m) => m.type === "error");
  assert.deepEqual(errors, [error], "no upstream_error (cannot_update_voice) ever");
});

Deno.test("a frame over MAX_FRAME_BYTES gets message_too_large and close 1009", async () => {
  await using app = await startTestApp({ MAX_FRAME_BYTES: "2048" });
  await using client = new JsonSocket(wsUrl(app, openPath()));
  await client.next("session.created");
  client.send(textMessage("x".repeat(3000)));
  const error = await client.next("error");
  assert.deepEqual(error.error, {
    code: "message_too_large",
    message: "Cannot accept message: larger than 2048 bytes",
  });
  const closed = await client.closed;
  assert.equal(closed.code, 1009);
});

Deno.test("messages over REALTIME_RATE_LIMIT are dropped with rate_limited", async () => {
  await using app = await startTestApp({ REALTIME_RATE_LIMIT: "5" });
  await using client = new JsonSocket(wsUrl(app, openPath()));
  await client.next("session.created");
  for (let i = 0; i < 20; i++) client.send({ type: "ping", ping: { timestamp: i } });
  const error = await client.next("error");
  assert.equal((error.error as { code: string }).code, "rate_limited");
  const pongs = client.received.filter((m) => m.type === "pong").length;
  assert.ok(pongs >= 5 && pongs <= 6, `pongs before the error: ${pongs}`);
  assert.equal(client.socket.readyState, WebSocket.OPEN);
});

Deno.test("an unreachable upstream gets upstream_unavailable and close 1011", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await using app = await startTestApp({
    OPENAI_API_KEY: "sk-test-secret-key",
    OPENAI_REALTIME_URL: `ws://127.0.0.1:${port}/v1/realtime`,
    // With a real key the open route is off unless asked for.
    REALTIME_OPEN_ROUTE: "true",
    UPSTREAM_RECONNECT_MS: "300",
  });
  await using client = new JsonSocket(wsUrl(app, openPath()));
  const error = await client.next("error", 10_000);
  assert.deepEqual(error.error, {
    code: "upstream_unavailable",
    message: "Cannot reach the voice model: try again later",
  });
  const closed = await client.closed;
  assert.equal(closed.code, 1011);
  const everything = JSON.stringify(client.received);
  assert.ok(!everything.includes("sk-test") && !everything.includes(String(port)));
});

Deno.test("closing the client closes its Bridge", async () => {
  await using app = await startTestApp();
  const client = new JsonSocket(wsUrl(app, openPath()));
  await client.next("session.created");
  const connection = onlyConnection(app);
  await client.close();
  await connection.closed;
  assert.equal(app.user.connections.size, 0);
});

Deno.test("speech positions stay in the client's timeline across an upstream reconnect", async () => {
  await using app = await startTestApp(FAST);
  await using client = new JsonSocket(wsUrl(app, openPath()));
  await client.next("session.created");
  const chunks = await speechChunks();
  const sentMs = chunks.reduce((ms, chunk) => ms + (chunk.length * 3) / 4 / 48, 0);
  for (const chunk of chunks) client.send(audioMessage(chunk));
  const first = await client.next("speech.started", 10_000);
  await client.next("response.done", 10_000);
  // The model's socket drops; the Bridge opens a new upstream session, whose audio counts from 0.
  await client.next("session.ready");
  app.engine!.disconnectAll();
  // The new upstream session is configured: the client hears session.ready again.
  await client.next("session.ready", 10_000);
  assert.equal(onlyConnection(app).bridge!.stats.reconnects, 1);
  for (const chunk of chunks) client.send(audioMessage(chunk));
  const second = await client.next("speech.started", 10_000);
  const start = (m: Record<string, unknown>) =>
    (m.speech as { audio_start_ms: number }).audio_start_ms;
  // The clip again: its speech starts after everything sent before it (9 s), not near 0.
  assert.ok(start(first) >= 0 && start(first) < sentMs, `first at ${start(first)}`);
  assert.ok(
    start(second) >= sentMs - 100 && start(second) < sentMs + 1000,
    `second at ${start(second)}, sent before ${sentMs}`,
  );
});
