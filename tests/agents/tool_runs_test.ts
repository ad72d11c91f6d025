import assert from "node:assert/strict";
import { FILLER_INSTRUCTIONS, ToolRuns } from "../../src/agents/tool_runs.ts";
import { fakeClock } from "../fake_clock.ts";

/** A Bridge stand-in that records what the runs asked of it. */
function fakeBridge() {
  const calls: string[] = [];
  return {
    calls,
    generating: false,
    requestResponse(response?: Record<string, unknown>) {
      calls.push(response?.instructions === FILLER_INSTRUCTIONS ? "filler" : "respond");
    },
    sendFunctionOutput(callId: string, output: string, respond: boolean) {
      calls.push(`output ${callId} ${output} respond=${respond}`);
    },
  };
}

/** A tool run whose answer the test releases. */
function deferred() {
  const { promise, resolve } = Promise.withResolvers<string>();
  return { run: () => promise, resolve };
}

Deno.test("ToolRuns hands the output back and asks for a reply when the caller is quiet", async () => {
  const { clock } = fakeClock();
  const bridge = fakeBridge();
  const runs = new ToolRuns({ bridge, clock, fillerMs: 1000, callerSpeaking: () => false });
  const tool = deferred();
  runs.start("c1", tool.run);
  tool.resolve('{"ok":true}');
  await Promise.resolve();
  await Promise.resolve();
  assert.deepEqual(bridge.calls, ['output c1 {"ok":true} respond=true']);
  assert.equal(runs.running, 0);
});

Deno.test("ToolRuns lets the caller's turn answer a result that lands while they speak", async () => {
  const { clock } = fakeClock();
  const bridge = fakeBridge();
  let speaking = false;
  const runs = new ToolRuns({ bridge, clock, fillerMs: 1000, callerSpeaking: () => speaking });
  const tool = deferred();
  runs.start("c1", tool.run);
  speaking = true; // barge-in while the tool runs
  tool.resolve("42");
  await Promise.resolve();
  await Promise.resolve();
  assert.deepEqual(bridge.calls, ["output c1 42 respond=false"]);
});

Deno.test("ToolRuns says a filler once for a slow tool, never over the caller", async (t) => {
  await t.step("slow tool, quiet caller: one filler", async () => {
    const { clock, tick } = fakeClock();
    const bridge = fakeBridge();
    const runs = new ToolRuns({ bridge, clock, fillerMs: 1000, callerSpeaking: () => false });
    const tool = deferred();
    runs.start("c1", tool.run);
    tick(999);
    assert.deepEqual(bridge.calls, []);
    tick(5000);
    assert.deepEqual(bridge.calls, ["filler"]);
    tool.resolve("x");
    await Promise.resolve();
    await Promise.resolve();
    assert.deepEqual(bridge.calls, ["filler", "output c1 x respond=true"]);
  });
  await t.step("caller speaking: no filler", () => {
    const { clock, tick } = fakeClock();
    const bridge = fakeBridge();
    const runs = new ToolRuns({ bridge, clock, fillerMs: 1000, callerSpeaking: () => true });
    runs.start("c1", deferred().run);
    tick(2000);
    assert.deepEqual(bridge.calls, []);
    runs.close();
  });
});

Deno.test("ToolRuns drops outputs and fillers after close", async () => {
  const { clock, tick } = fakeClock();
  const bridge = fakeBridge();
  const runs = new ToolRuns({ bridge, clock, fillerMs: 1000, callerSpeaking: () => false });
  const tool = deferred();
  runs.start("c1", tool.run);
  runs.close();
  tick(2000);
  tool.resolve("late");
  await Promise.resolve();
  await Promise.resolve();
  assert.deepEqual(bridge.calls, []);
});
