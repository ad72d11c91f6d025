import assert from "node:assert/strict";
import type { ConnectionState, HandlerContext } from "../../src/user/handlers.ts";
import {
  composeInstructions,
  dispatch,
  gaTurnDetection,
  legMessage,
  observeLeg,
} from "../../src/user/handlers.ts";
import type { ClientMessage } from "../../src/user/messages.ts";

const OPEN: Extract<ConnectionState, { phase: "open" }> = {
  phase: "open",
  sessionId: "sess_1",
  voice: "marin",
  language: "en",
  instructions: "Be brief.",
  maxOutputTokens: undefined,
  turnDetection: {
    type: "server_vad",
    threshold: 0.5,
    prefix_padding_ms: 300,
    silence_duration_ms: 500,
    create_response: true,
  },
  modelSpoken: false,
  clientTools: [],
};
const CTX: HandlerContext = {
  now: 1_700_000_000_123,
  vad: { threshold: 0.5, prefixPaddingMs: 300, silenceMs: 500 },
  maxTextChars: 20,
};
const run = (message: ClientMessage, state: ConnectionState = OPEN) =>
  dispatch(state, message, CTX);

Deno.test("session.update answers with the session and patches only what changed", async (t) => {
  await t.step("voice and language", () => {
    const result = run({
      type: "session.update",
      session_update: { voice: "alloy", language: "de" },
    });
    assert.deepEqual(result.effects, [
      {
        type: "upstream.session",
        patch: {
          voice: "alloy",
          language: "de",
          instructions: composeInstructions("Be brief.", "de"),
        },
      },
      {
        type: "send",
        message: {
          type: "session.update",
          session: { id: "sess_1", voice: "alloy", language: "de" },
        },
      },
    ]);
  });
  await t.step("the same values change nothing upstream", () => {
    const result = run({
      type: "session.update",
      session_update: { voice: "marin", language: "en" },
    });
    assert.deepEqual(result.effects.map((e) => e.type), ["send"]);
  });
  await t.step("temperature is ignored, max tokens kept for responses", () => {
    const result = run({
      type: "session.update",
      session_update: { temperature: 0.8, max_response_output_tokens: 4096 },
    });
    assert.deepEqual(result.effects.map((e) => e.type), ["log", "send"]);
    assert.equal(result.state.phase === "open" && result.state.maxOutputTokens, 4096);
    const text = run({
      type: "conversation.item.input",
      conversation_item_input: { type: "input_text", text: "Hi" },
    }, result.state);
    assert.deepEqual(text.effects, [
      { type: "upstream.text", text: "Hi" },
      { type: "upstream.respond", response: { max_output_tokens: 4096 } },
    ]);
  });
  await t.step("a region subtag keeps only the language for transcription", () => {
    const result = run({ type: "session.update", session_update: { language: "pt-BR" } });
    const patch = result.effects[0];
    assert.ok(patch?.type === "upstream.session");
    assert.equal(patch.patch.language, "pt");
  });
});

Deno.test("conversation.item.input forwards text with a response and audio untouched", async (t) => {
  await t.step("text", () => {
    const result = run({
      type: "conversation.item.input",
      conversation_item_input: { type: "input_text", text: "Hello" },
    });
    assert.deepEqual(result.effects, [
      { type: "upstream.text", text: "Hello" },
      { type: "upstream.respond", response: undefined },
    ]);
  });
  await t.step("audio", () => {
    const result = run({
      type: "conversation.item.input",
      conversation_item_input: { type: "input_audio_buffer", audio: "AAAAAA==" },
    });
    assert.deepEqual(result.effects, [{ type: "upstream.audio", audio: "AAAAAA==" }]);
  });
  await t.step("bad base64", () => {
    const result = run({
      type: "conversation.item.input",
      conversation_item_input: { type: "input_audio_buffer", audio: "not base64!" },
    });
    assert.equal(result.effects.length, 1);
    const effect = result.effects[0];
    assert.ok(effect?.type === "send" && effect.message.type === "error");
    assert.equal(effect.message.error.code, "invalid_message");
    assert.match(effect.message.error.message, /not valid base64/);
  });
  // Every padding case: n % 3 = 0, 1, 2 bytes, both parities.
  for (const bytes of [1, 2, 3, 4, 5, 6, 2048, 4800, 4801, 8192]) {
    const audio = new Uint8Array(bytes).toBase64();
    await t.step(`${bytes} bytes ${bytes % 2 === 0 ? "pass" : "are refused"}`, () => {
      const result = run({
        type: "conversation.item.input",
        conversation_item_input: { type: "input_audio_buffer", audio },
      });
      if (bytes % 2 === 0) {
        assert.deepEqual(result.effects, [{ type: "upstream.audio", audio }]);
        return;
      }
      assert.deepEqual(result.effects, [{
        type: "send",
        message: {
          type: "error",
          error: {
            code: "invalid_message",
            message: `Cannot append audio: PCM16 needs an even number of bytes, got ${bytes}`,
          },
        },
      }]);
    });
  }
});

Deno.test("conversation.item.input refuses text over MAX_TEXT_CHARS", () => {
  const at = run({
    type: "conversation.item.input",
    conversation_item_input: { type: "input_text", text: "x".repeat(20) },
  });
  assert.equal(at.effects[0]?.type, "upstream.text");
  const over = run({
    type: "conversation.item.input",
    conversation_item_input: { type: "input_text", text: "x".repeat(21) },
  });
  assert.deepEqual(over, {
    state: OPEN,
    effects: [{
      type: "send",
      message: {
        type: "error",
        error: {
          code: "invalid_message",
          message: "Cannot send text: 21 characters is over the limit of 20",
        },
      },
    }],
  });
});

Deno.test("session.update refuses a voice change once the model has spoken", async (t) => {
  const spoken = { ...OPEN, modelSpoken: true };
  await t.step("voice alone: refused, the session answer keeps the voice", () => {
    const result = run({ type: "session.update", session_update: { voice: "alloy" } }, spoken);
    assert.deepEqual(result.state, spoken);
    assert.equal(result.effects.length, 2);
    const [error, answer] = result.effects;
    assert.ok(error?.type === "send" && error.message.type === "error");
    assert.equal(error.message.error.code, "invalid_message");
    assert.match(error.message.error.message, /voice cannot change once the model has spoken/);
    assert.deepEqual(answer, {
      type: "send",
      message: {
        type: "session.update",
        session: { id: "sess_1", voice: "marin", language: "en" },
      },
    });
  });
  await t.step("the rest of the update is applied; voice never goes upstream", () => {
    const result = run({
      type: "session.update",
      session_update: { voice: "alloy", language: "fr", instructions: "Be kind." },
    }, spoken);
    assert.deepEqual(result.state, { ...spoken, language: "fr", instructions: "Be kind." });
    assert.deepEqual(result.effects.slice(1), [
      {
        type: "upstream.session",
        patch: { language: "fr", instructions: composeInstructions("Be kind.", "fr") },
      },
      {
        type: "send",
        message: {
          type: "session.update",
          session: { id: "sess_1", voice: "marin", language: "fr" },
        },
      },
    ]);
  });
  await t.step("the same voice again is no change and no error", () => {
    const result = run({ type: "session.update", session_update: { voice: "marin" } }, spoken);
    assert.ok(!result.effects.some((e) => e.type === "send" && e.message.type === "error"));
  });
  await t.step("before the model has spoken the voice changes", () => {
    const result = run({ type: "session.update", session_update: { voice: "alloy" } });
    assert.equal(result.state.phase === "open" && result.state.voice, "alloy");
  });
});

Deno.test("observeLeg() marks the model as having spoken on audio and audio transcripts", async (t) => {
  const cases: [Parameters<typeof observeLeg>[1], boolean][] = [
    [{ type: "response.audio", itemId: "item_1" }, true],
    [{ type: "response.transcript.delta", responseId: "resp_1", delta: "Hi" }, true],
    [{ type: "response.transcript.done", itemId: "item_1", text: "Hi" }, true],
    [{ type: "response.started", responseId: "resp_1" }, false],
    [{ type: "response.done", responseId: "resp_1", status: "cancelled", usage: null }, false],
    [{ type: "speech.started", audioStartMs: 0 }, false],
    [{ type: "session.ready" }, false],
  ];
  for (const [event, spoken] of cases) {
    await t.step(event.type, () => {
      const next = observeLeg(OPEN, event);
      assert.equal(next.phase === "open" && next.modelSpoken, spoken);
    });
  }
  await t.step("a closed connection stays closed", () => {
    assert.deepEqual(observeLeg({ phase: "closed" }, { type: "response.audio", itemId: "i" }), {
      phase: "closed",
    });
  });
});

Deno.test("ping answers pong with the client's timestamp or the time now", () => {
  assert.deepEqual(run({ type: "ping", ping: { timestamp: 1234567890.123 } }).effects, [
    { type: "send", message: { type: "pong", timestamp: 1234567890.123 } },
  ]);
  assert.deepEqual(run({ type: "ping" }).effects, [
    { type: "send", message: { type: "pong", timestamp: 1_700_000_000.123 } },
  ]);
});

Deno.test("turn_detection.update fills every field and never lets the server cancel", async (t) => {
  await t.step("server_vad with defaults from config", () => {
    const result = run({
      type: "turn_detection.update",
      turn_detection_update: { type: "server_vad", silence_duration_ms: 800 },
    });
    const info = {
      type: "server_vad",
      threshold: 0.5,
      prefix_padding_ms: 300,
      silence_duration_ms: 800,
      create_response: true,
    } as const;
    assert.deepEqual(result.effects, [
      {
        type: "upstream.session",
        patch: {
          turnDetection: {
            ...info,
            idle_timeout_ms: null,
            interrupt_response: false,
          },
        },
      },
      { type: "send", message: { type: "turn_detection.updated", turn_detection: info } },
    ]);
    assert.deepEqual(result.state.phase === "open" && result.state.turnDetection, info);
  });
  await t.step("semantic_vad", () => {
    assert.deepEqual(
      gaTurnDetection({ type: "semantic_vad", eagerness: "high", create_response: false }),
      {
        type: "semantic_vad",
        eagerness: "high",
        create_response: false,
        interrupt_response: false,
      },
    );
  });
  await t.step("none is manual turns", () => {
    const result = run({ type: "turn_detection.update", turn_detection_update: { type: "none" } });
    assert.deepEqual(result.effects[0], {
      type: "upstream.session",
      patch: { turnDetection: null },
    });
  });
});

Deno.test("input_audio_buffer.commit commits and asks for a reply unless told not to", () => {
  assert.deepEqual(run({ type: "input_audio_buffer.commit" }).effects, [
    { type: "upstream.commit" },
    { type: "upstream.respond", response: undefined },
  ]);
  assert.deepEqual(
    run({ type: "input_audio_buffer.commit", input_audio_buffer_commit: { respond: false } })
      .effects,
    [{ type: "upstream.commit" }],
  );
});

Deno.test("response.create and response.interrupt reach the Bridge", () => {
  assert.deepEqual(
    run({ type: "response.create", response_create: { instructions: "Greet" } }).effects,
    [{ type: "upstream.respond", response: { instructions: "Greet" } }],
  );
  assert.deepEqual(
    run({ type: "response.interrupt", response_interrupt: { played_ms: 640 } }).effects,
    [
      { type: "upstream.interrupt", playedMs: 640 },
      // The app's running tool calls are no longer wanted either.
      { type: "tools.cancel", reason: "interrupted" },
    ],
  );
  assert.deepEqual(run({ type: "response.interrupt" }).effects, [
    { type: "upstream.interrupt", playedMs: undefined },
    { type: "tools.cancel", reason: "interrupted" },
  ]);
});

Deno.test("dispatch() ignores messages once the connection is closed", () => {
  const result = run({ type: "ping" }, { phase: "closed" });
  assert.deepEqual(result, { state: { phase: "closed" }, effects: [] });
});

Deno.test("legMessage() maps Bridge events to client messages", async (t) => {
  const ctx = { now: 2_000_000 };
  const cases: [Parameters<typeof legMessage>[0], unknown][] = [
    [
      { type: "speech.started", audioStartMs: 1200 },
      { type: "speech.started", speech: { audio_start_ms: 1200, timestamp: 2000 } },
    ],
    [
      { type: "speech.stopped", audioEndMs: 2400 },
      { type: "speech.stopped", speech: { audio_end_ms: 2400, timestamp: 2000 } },
    ],
    [{ type: "speech.committed" }, { type: "speech.committed", speech: { timestamp: 2000 } }],
    [
      { type: "speech.hypothesis", text: "hel" },
      { type: "input.transcript", transcript: { text: "hel", final: false, timestamp: 2000 } },
    ],
    [
      { type: "speech.recognition", text: "hello" },
      { type: "input.transcript", transcript: { text: "hello", final: true, timestamp: 2000 } },
    ],
    [
      { type: "response.started", responseId: "resp_1" },
      { type: "response.started", response: { id: "resp_1", timestamp: 2000 } },
    ],
    [
      { type: "response.transcript.delta", responseId: "resp_1", delta: "Hi" },
      { type: "response.delta", response: { delta: { content: "Hi" }, timestamp: 2000 } },
    ],
    [{ type: "response.transcript.delta", responseId: "resp_1", delta: "" }, undefined],
    [
      { type: "response.transcript.done", itemId: "item_1", text: "Hi there" },
      {
        type: "response.transcript",
        response: { item_id: "item_1", transcript: "Hi there", timestamp: 2000 },
      },
    ],
    [
      {
        type: "response.done",
        responseId: "resp_1",
        status: "completed",
        usage: { total_tokens: 30, input_tokens: 10, output_tokens: 20 },
      },
      {
        type: "response.done",
        response: { usage: { input_tokens: 10, output_tokens: 20 }, timestamp: 2000 },
      },
    ],
    [
      { type: "response.done", responseId: "resp_1", status: "failed", usage: null },
      {
        type: "response.done",
        response: { usage: { input_tokens: 0, output_tokens: 0 }, timestamp: 2000 },
      },
    ],
  ];
  for (const [event, expected] of cases) {
    await t.step(event.type, () => assert.deepEqual(legMessage(event, ctx), expected));
  }
  await t.step("upstream errors show only a sanitised code", () => {
    const message = legMessage({
      type: "error",
      code: "invalid_api_key",
      message: "Incorrect API key provided: sk-abc***xyz",
    }, ctx);
    assert.deepEqual(message, {
      type: "error",
      error: {
        code: "upstream_error",
        message: "Cannot complete the request: the model refused it (invalid_api_key)",
      },
    });
    assert.ok(!JSON.stringify(message).includes("sk-"));
  });
});
