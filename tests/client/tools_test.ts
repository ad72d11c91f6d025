/**
 * Client tools: the app declares functions, the model (the local engine, which calls a tool
 * when the user types `call <name> {json}`) calls them through the gateway, the SDK runs the
 * handler and the answer goes back to the model.
 */
import assert from "node:assert/strict";
import { z } from "zod";
import { VoiceSession } from "../../src/client/mod.ts";
import { JsonSocket, startTestApp, TIMEOUT_SCALE, wsUrl } from "../helpers.ts";
import { TURN_MS } from "./helpers.ts";

/** Resolves with the transcript of the first reply that mentions the tool's answer. */
function toolReply(voice: VoiceSession): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error("no reply to the tool")),
      10_000 * TIMEOUT_SCALE,
    );
    const on = (text: string, meta: { role: string }) => {
      if (meta.role !== "assistant" || !text.startsWith("The tool returned")) return;
      clearTimeout(timer);
      voice.off("transcript_available", on);
      resolve(text);
    };
    voice.on("transcript_available", on);
  });
}

Deno.test("a client tool declared at connect answers the model", async () => {
  await using app = await startTestApp();
  const seen: unknown[] = [];
  await using voice = await new VoiceSession({
    url: app.url,
    tools: [{
      name: "get_weather",
      description: "The weather in a city",
      parameters: z.object({ city: z.string() }),
      handler: ({ city }) => {
        seen.push(city);
        return { city, forecast: "sunny" };
      },
    }],
  }).connect();
  const reply = toolReply(voice);
  await voice.sendText('call get_weather {"city":"Paris"}');
  assert.match(await reply, /"city":"Paris".*"forecast":"sunny"/);
  assert.deepEqual(seen, ["Paris"]);
});

Deno.test("session.tools() after connect; invalid arguments and thrown errors reach the model", async () => {
  await using app = await startTestApp();
  await using voice = await new VoiceSession({ url: app.url }).connect();
  await voice.tools([
    {
      name: "book",
      parameters: z.object({ slot: z.string().regex(/^\d\d:\d\d$/) }),
      handler: () => "booked",
    },
    {
      name: "fail",
      parameters: { type: "object", properties: {} },
      handler: () => {
        throw new Error("calendar offline");
      },
    },
  ]);
  let reply = toolReply(voice);
  await voice.sendText('call book {"slot":"noon"}');
  assert.match(await reply, /Invalid arguments for \\"book\\": slot/);
  reply = toolReply(voice);
  await voice.sendText("call fail {}");
  assert.match(await reply, /calendar offline/);
  await assert.rejects(
    voice.tools([{ name: "bad name", handler: () => 1 }]),
    /Cannot use tool "bad name"/,
  );
});

Deno.test("a client tool that does not answer in time is cancelled, and the model is told", async () => {
  await using app = await startTestApp({ TOOL_TIMEOUT_MS: "300", TOOL_FILLER_MS: "0" });
  let aborted: unknown;
  await using voice = await new VoiceSession({
    url: app.url,
    tools: [{
      name: "slow",
      handler: (_args, { signal }) =>
        new Promise((resolve) => {
          signal.addEventListener("abort", () => {
            aborted = signal.reason;
            resolve("too late");
          });
        }),
    }],
  }).connect();
  const reply = toolReply(voice);
  await voice.sendText("call slow {}");
  assert.match(await reply, /did not answer within 300 ms/);
  assert.match(String(aborted), /cancelled the call: timeout/);
});

Deno.test("interrupt() cancels the app's running tool calls", async () => {
  await using app = await startTestApp({ TOOL_FILLER_MS: "0" });
  const started = Promise.withResolvers<AbortSignal>();
  await using voice = await new VoiceSession({
    url: app.url,
    tools: [{
      name: "wait",
      handler: (_args, { signal }) => {
        started.resolve(signal);
        return new Promise((resolve) => signal.addEventListener("abort", () => resolve("stop")));
      },
    }],
  }).connect();
  const reply = toolReply(voice);
  await voice.sendText("call wait {}");
  const signal = await started.promise;
  await voice.interrupt();
  assert.match(await reply, /The user interrupted the tool call/);
  assert.equal(signal.aborted, true);
});

Deno.test("tools.update and tool.result are checked on the wire", async (t) => {
  await using app = await startTestApp();
  await using client = new JsonSocket(wsUrl(app, "/api/v1/streaming/realtime/wire-user"));
  await client.next("session.ready", TURN_MS);
  await t.step("duplicate names", async () => {
    client.send({
      type: "tools.update",
      tools_update: { tools: [{ name: "a" }, { name: "a" }] },
    });
    const error = await client.next("error");
    assert.equal((error.error as { code: string }).code, "invalid_message");
    assert.match((error.error as { message: string }).message, /"a" is declared twice/);
  });
  await t.step("declared", async () => {
    client.send({ type: "tools.update", tools_update: { tools: [{ name: "a" }] } });
    assert.deepEqual((await client.next("tools.updated")).tools, ["a"]);
  });
  await t.step("an answer nobody waits for", async () => {
    client.send({ type: "tool.result", tool_result: { call_id: "call_x", output: "{}" } });
    const error = await client.next("error");
    assert.match((error.error as { message: string }).message, /no tool call "call_x" is waiting/);
  });
});
