/**
 * Whole phone calls with agent profiles and tools: the local engine as the model (behind a tap
 * that shows what the gateway sent it), a real HTTP tool server and a real MCP server.
 */
import assert from "node:assert/strict";
import { McpServer, WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/server";
import { z } from "zod";
import type { Rig } from "../audiocodes/rig.ts";
import { startRig, Vaic } from "../audiocodes/rig.ts";
import type { TappedEvent } from "../realtime_tap.ts";
import { TIMEOUT_SCALE } from "../json_socket.ts";
import { wsUrl } from "../helpers.ts";
import { runCall } from "../../src/tools/call.ts";

interface ToolRequest {
  readonly path: string;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
  aborted: boolean;
}

/** An HTTP tool server: `/balance` answers, `/fail` is a 500, `/slow` answers after `slowMs`. */
function toolServer(slowMs = 3000) {
  const requests: ToolRequest[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    const entry: ToolRequest = {
      path,
      headers: req.headers,
      body: await req.json(),
      aborted: false,
    };
    requests.push(entry);
    if (path === "/fail") return new Response("database down", { status: 500 });
    if (path === "/slow") {
      const { promise, resolve } = Promise.withResolvers<void>();
      const timer = setTimeout(resolve, slowMs);
      req.signal.addEventListener("abort", () => {
        entry.aborted = true;
        clearTimeout(timer);
        resolve();
      }, { once: true });
      await promise;
      if (entry.aborted) return new Response(null, { status: 499 });
    }
    const args = entry.body.arguments as { account?: string };
    return Response.json({ account: args.account, balance: 42.5, currency: "EUR" });
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, requests, server };
}

/** An MCP server (streamable HTTP, stateless) with one tool. */
function mcpServer() {
  const calls: Record<string, unknown>[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    // Stateless: no server-to-client SSE stream (spec: 405 for GET). A stream left open by the
    // client would keep shutdown() waiting for its request to end.
    if (req.method !== "POST") return new Response(null, { status: 405 });
    const mcp = new McpServer({ name: "bank", version: "1.0.0" });
    mcp.registerTool("order_status", {
      description: "The status of an order",
      inputSchema: { order: z.string() },
    }, ({ order }) => {
      calls.push({ order });
      return { content: [{ type: "text", text: JSON.stringify({ order, status: "shipped" }) }] };
    });
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
    });
    await mcp.connect(transport);
    return await transport.handleRequest(req);
  });
  return { url: `http://127.0.0.1:${server.addr.port}/mcp`, calls, server };
}

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs * TIMEOUT_SCALE;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("Timed out waiting for a condition");
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function agentsFile(profiles: unknown[]): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(path, JSON.stringify({ profiles }));
  return path;
}

const tool = (name: string, url: string, extra: Record<string, unknown> = {}) => ({
  name,
  description: `The ${name} tool`,
  parameters: { type: "object", properties: { account: { type: "string" } } },
  url,
  ...extra,
});

/** The output the gateway gave the model for `callId`-less tool runs, in order. */
function outputs(rig: Rig): string[] {
  return rig.tap.events.flatMap((e: TappedEvent) => {
    const item = e.event.item as { type?: string; output?: string } | undefined;
    return e.from === "client" && e.event.type === "conversation.item.create" &&
        item?.type === "function_call_output"
      ? [item.output ?? ""]
      : [];
  });
}

async function toolOutput(rig: Rig, index = 0): Promise<string> {
  await rig.tap.waitFor(() => outputs(rig).length > index, 15_000);
  return outputs(rig)[index]!;
}

/** The caller types (VAIC message activity) the local engine's tool-call convention. */
function say(vaic: Vaic, text: string): void {
  vaic.activity({ type: "message", text });
}

Deno.test("two profiles matched by bot name give different instructions and voices", async () => {
  const path = await agentsFile([
    {
      name: "billing",
      match: { botName: "billing" },
      instructions: "Billing desk.",
      voice: "cedar",
    },
    { name: "sales", match: { botName: "sales" }, instructions: "Sales desk.", voice: "sage" },
  ]);
  try {
    await using rig = await startRig({ AGENTS_FILE: path, GREETING: "false" });
    for (
      const [bot, instructions, voice] of [["billing", "Billing desk.", "cedar"], [
        "sales",
        "Sales desk.",
        "sage",
      ]]
    ) {
      await using vaic = new Vaic(rig.app);
      await vaic.begin(["raw/mulaw"], { botName: bot! });
      const update = await rig.tap.waitFor((e) =>
        e.from === "client" && e.event.type === "session.update" &&
        (e.event.session as { instructions?: string }).instructions === instructions
      );
      const session = update.event.session as { audio: { output: { voice: string } } };
      assert.equal(session.audio.output.voice, voice);
    }
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("an HTTP tool's answer reaches the model and is spoken", async () => {
  const tools = toolServer();
  Deno.env.set("TEST_TOOL_TOKEN", "tool-secret-1");
  const path = await agentsFile([{
    name: "bank",
    match: { botName: "bank" },
    tools: [tool("get_balance", `${tools.url}/balance`, {
      headers: { authorization: "Bearer ${TEST_TOOL_TOKEN}" },
    })],
  }]);
  try {
    await using rig = await startRig({ AGENTS_FILE: path, GREETING: "false" });
    await using vaic = new Vaic(rig.app);
    await vaic.begin(["raw/mulaw"], { botName: "bank" });
    say(vaic, 'call get_balance {"account":"A-17"}');
    const output = JSON.parse(await toolOutput(rig));
    assert.deepEqual(output, { account: "A-17", balance: 42.5, currency: "EUR" });
    const request = tools.requests[0]!;
    assert.equal(request.headers.get("authorization"), "Bearer tool-secret-1");
    assert.deepEqual(request.body.arguments, { account: "A-17" });
    assert.deepEqual(request.body.context, {
      profile: "bank",
      conversationId: vaic.conversationId,
      caller: "+14155550123",
      callee: "+18005550199",
      botName: "bank",
    });
    // The model answers with what the tool returned, and it is played to the caller.
    await rig.tap.waitFor((e) =>
      e.event.type === "response.output_audio_transcript.done" &&
      String(e.event.transcript).includes("The tool returned")
    );
    await vaic.socket.next("playStream.start", 10_000);
  } finally {
    await tools.server.shutdown();
    await Deno.remove(path);
  }
});

Deno.test("tool failures become outputs the model can speak about", async (t) => {
  const tools = toolServer(5000);
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const deadUrl = `http://127.0.0.1:${closed.addr.port}/x`;
  closed.close();
  const path = await agentsFile([{
    name: "flaky",
    tools: [
      tool("broken", `${tools.url}/fail`),
      tool("slow", `${tools.url}/slow`, { timeoutMs: 300 }),
      tool("gone", deadUrl),
    ],
  }]);
  try {
    await using rig = await startRig({ AGENTS_FILE: path, GREETING: "false", TOOL_FILLER_MS: "0" });
    const cases: [string, RegExp][] = [
      ["broken", /^The tool answered HTTP 500: database down$/],
      ["slow", /^The tool did not answer within 300 ms$/],
      ["gone", /^The tool could not be reached$/],
    ];
    for (const [index, [name, pattern]] of cases.entries()) {
      await t.step(name, async () => {
        await using vaic = new Vaic(rig.app);
        await vaic.begin(["raw/mulaw"]);
        say(vaic, `call ${name} {}`);
        const output = JSON.parse(await toolOutput(rig, index));
        assert.equal(output.ok, false);
        assert.match(output.error, pattern);
      });
    }
  } finally {
    await tools.server.shutdown();
    await Deno.remove(path);
  }
});

Deno.test("a hang-up cancels a running tool call", async () => {
  const tools = toolServer(10_000);
  const path = await agentsFile([{ name: "slow", tools: [tool("slow", `${tools.url}/slow`)] }]);
  try {
    await using rig = await startRig({ AGENTS_FILE: path, GREETING: "false" });
    const vaic = new Vaic(rig.app);
    await vaic.begin(["raw/mulaw"]);
    say(vaic, "call slow {}");
    await until(() => tools.requests.length > 0);
    await vaic[Symbol.asyncDispose](); // session.end
    await until(() => tools.requests[0]!.aborted);
    assert.equal(outputs(rig).length, 0, "nothing reached the model after the hang-up");
  } finally {
    await tools.server.shutdown();
    await Deno.remove(path);
  }
});

Deno.test("a slow tool makes the bot say a filler once", async () => {
  const tools = toolServer(1200);
  const path = await agentsFile([{ name: "slow", tools: [tool("slow", `${tools.url}/slow`)] }]);
  try {
    await using rig = await startRig({
      AGENTS_FILE: path,
      GREETING: "false",
      TOOL_FILLER_MS: "200",
    });
    await using vaic = new Vaic(rig.app);
    await vaic.begin(["raw/mulaw"]);
    say(vaic, "call slow {}");
    await toolOutput(rig);
    const fillers = rig.tap.sent("response.create").filter((e) =>
      String((e.response as { instructions?: string } | undefined)?.instructions ?? "")
        .includes("looking that up")
    );
    assert.equal(fillers.length, 1);
  } finally {
    await tools.server.shutdown();
    await Deno.remove(path);
  }
});

Deno.test("MCP tools are listed, offered to the model and called by the gateway", async () => {
  const mcp = mcpServer();
  const path = await agentsFile([{
    name: "shop",
    mcpServers: [{ name: "shop", url: mcp.url }],
  }]);
  try {
    await using rig = await startRig({ AGENTS_FILE: path, GREETING: "false" });
    await using vaic = new Vaic(rig.app);
    await vaic.begin(["raw/mulaw"]);
    // The MCP tools join the session once listed.
    await rig.tap.waitFor((e) =>
      e.from === "client" && e.event.type === "session.update" &&
      JSON.stringify(e.event.session).includes("shop__order_status")
    );
    say(vaic, 'call shop__order_status {"order":"O-9"}');
    assert.deepEqual(JSON.parse(await toolOutput(rig)), { order: "O-9", status: "shipped" });
    assert.deepEqual(mcp.calls, [{ order: "O-9" }]);
  } finally {
    await mcp.server.shutdown();
    await Deno.remove(path);
  }
});

Deno.test("the simulator places a call that exercises a tool (--text)", async () => {
  const tools = toolServer();
  const path = await agentsFile([{
    name: "bank",
    tools: [tool("get_balance", `${tools.url}/balance`)],
  }]);
  try {
    await using rig = await startRig({ AGENTS_FILE: path, GREETING: "false" });
    const report = await runCall({
      url: wsUrl(rig.app, "/ws"),
      formats: ["raw/mulaw"],
      texts: [{ text: 'call get_balance {"account":"A-17"}' }],
      tailSilenceMs: 200,
      speed: 0,
      waitUntil: "reply",
    });
    assert.deepEqual(report.violations, []);
    assert.equal(tools.requests.length, 1);
    assert.ok(report.playStreams.length >= 1, "the reply about the balance was played");
  } finally {
    await tools.server.shutdown();
    await Deno.remove(path);
  }
});

Deno.test("a changed agents file applies to the next call; the live call keeps its profile", async () => {
  const path = await agentsFile([{ name: "p", voice: "cedar" }]);
  try {
    await using rig = await startRig({
      AGENTS_FILE: path,
      AGENTS_RELOAD_MS: "100",
      GREETING: "false",
    });
    const voiceOf = (e: TappedEvent) =>
      (e.event.session as { audio?: { output?: { voice?: string } } }).audio?.output?.voice;
    await using first = new Vaic(rig.app);
    await first.begin(["raw/mulaw"]);
    await rig.tap.waitFor((e) => e.event.type === "session.update" && voiceOf(e) === "cedar");
    await Deno.writeTextFile(path, JSON.stringify({ profiles: [{ name: "p", voice: "sage" }] }));
    // The next call gets the new profile once the store saw the change.
    let voice: string | undefined;
    for (let attempt = 0; attempt < 50 && voice !== "sage"; attempt++) {
      await using next = new Vaic(rig.app);
      await next.begin(["raw/mulaw"]);
      const session = rig.tap.sessions - 1;
      const update = await rig.tap.waitFor((e) =>
        e.session === session && e.from === "client" && e.event.type === "session.update"
      );
      voice = voiceOf(update);
      if (voice !== "sage") await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(voice, "sage");
    // The first call never changed voice.
    const firstSession = rig.tap.events.filter((e) =>
      e.session === 0 && e.from === "client" && e.event.type === "session.update"
    );
    assert.ok(firstSession.every((e) => voiceOf(e) === undefined || voiceOf(e) === "cedar"));
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("per-profile limits: idle hang-up and maximum call length", async (t) => {
  const path = await agentsFile([
    { name: "idle", match: { botName: "idle" }, idleHangupMs: 1000, greeting: false },
    { name: "short", match: { botName: "short" }, maxCallMs: 1000, greeting: false },
  ]);
  try {
    await using rig = await startRig({ AGENTS_FILE: path });
    for (
      const [bot, reason] of [["idle", "caller idle"], ["short", "maximum call duration reached"]]
    ) {
      await t.step(bot!, async () => {
        await using vaic = new Vaic(rig.app);
        await vaic.begin(["raw/mulaw"], { botName: bot! });
        const hangup = await vaic.socket.next("activities", 5000);
        assert.deepEqual(hangup.activities, [{
          type: "event",
          name: "hangup",
          activityParams: { hangupReason: reason },
        }]);
      });
    }
  } finally {
    await Deno.remove(path);
  }
});
