/**
 * Fidelity: `@openai/agents-realtime` runs real turns against the engine over `ws://` and reports
 * no protocol errors.
 */
import assert from "node:assert/strict";
import { z } from "zod";
import { RealtimeAgent, RealtimeSession, tool } from "@openai/agents-realtime";
import type { RealtimeItem, RealtimeSessionEventTypes } from "@openai/agents-realtime";
import { spokenTurn, startTestEngine } from "./engine_helpers.ts";
import type { RunningEngine } from "../../src/local/main.ts";

type Events = RealtimeSessionEventTypes;

/** Resolves with the arguments of the first event `on` delivers that satisfies `match`. */
function when<A extends unknown[]>(
  on: (listener: (...args: A) => void) => () => void,
  match: (...args: A) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<A> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error("Timed out waiting for a session event"));
    }, timeoutMs);
    const off = on((...args: A) => {
      if (!match(...args)) return;
      off();
      clearTimeout(timer);
      resolve(args);
    });
  });
}

/** Subscribes to one session event; returns the unsubscribe function. */
function sub<K extends keyof Events>(
  session: RealtimeSession,
  name: K,
): (listener: (...args: Events[K]) => void) => () => void {
  return (listener) => {
    // deno-lint-ignore no-explicit-any
    const l = listener as (...args: any[]) => void;
    session.on(name, l);
    return () => session.off(name, l);
  };
}

/** The first `name` event satisfying `match`. */
function once<K extends keyof Events>(
  session: RealtimeSession,
  name: K,
  match?: (...args: Events[K]) => boolean,
): Promise<Events[K]> {
  return when(sub(session, name), match);
}

async function connect(
  engine: RunningEngine,
  agent: RealtimeAgent,
): Promise<{ session: RealtimeSession; errors: unknown[]; events: Record<string, unknown>[] }> {
  const session = new RealtimeSession(agent, {
    transport: "websocket",
    model: "gpt-realtime",
    tracingDisabled: true,
    config: {
      audio: {
        input: { turnDetection: { type: "server_vad", silenceDurationMs: 400 } },
      },
    },
  });
  const errors: unknown[] = [];
  const events: Record<string, unknown>[] = [];
  session.on("error", (e) => errors.push(e));
  session.on("transport_event", (e) => events.push(e as Record<string, unknown>));
  const updated = once(session, "transport_event", (e) => e.type === "session.updated");
  await session.connect({ apiKey: "sk-local", url: `${engine.url}?model=gpt-realtime` });
  await updated;
  return { session, errors, events };
}

const lastAssistantText = (history: RealtimeItem[]): string | undefined => {
  for (let i = history.length - 1; i >= 0; i--) {
    const item = history[i]!;
    if (item.type === "message" && item.role === "assistant") {
      const part = item.content[0];
      if (part?.type === "output_audio") return part.transcript ?? undefined;
      if (part?.type === "output_text") return part.text;
    }
  }
  return undefined;
};

Deno.test("engine serves @openai/agents-realtime: spoken turn, text turn and interruption", async (t) => {
  await using engine = startTestEngine({ speed: 4 });
  const agent = new RealtimeAgent({ name: "Echo", instructions: "Echo the caller." });
  const { session, errors, events } = await connect(engine, agent);
  try {
    await t.step("spoken turn: real audio with sendAudio, echo reply", async () => {
      const audio = spokenTurn({ type: "audio/pcm", rate: 24000 }, {
        leadMs: 300,
        speechMs: 1000,
        tailMs: 900,
      });
      const done = once(session, "agent_end");
      const transcribed = once(
        session,
        "history_updated",
        (history) =>
          history.some((i) =>
            i.type === "message" && i.role === "user" && i.content[0]?.type === "input_audio" &&
            /seconds of speech/.test(i.content[0].transcript ?? "")
          ),
      );
      let received = 0;
      const onAudio = (e: { data: ArrayBuffer }) => received += e.data.byteLength;
      session.on("audio", onAudio);
      for (let offset = 0; offset < audio.byteLength; offset += 960) {
        session.sendAudio(audio.slice(offset, offset + 960).buffer);
      }
      const [, , text] = await done;
      session.off("audio", onAudio);
      assert.match(text, /^I heard 1\.[0-3] seconds of speech\.$/);
      assert.ok(received > 48 * 900, `received ${received} bytes`);
      await transcribed;
    });

    await t.step("text turn: sendMessage, quoted reply", async () => {
      const done = once(session, "agent_end");
      session.sendMessage("What time do you open?");
      const [, , text] = await done;
      assert.equal(text, "You said: “What time do you open?”");
      assert.equal(lastAssistantText(session.history), "You said: “What time do you open?”");
    });

    await t.step(
      "interruption: interrupt() during a reply sends an accepted truncate",
      async () => {
        const firstAudio = once(session, "audio");
        const interrupted = once(session, "audio_interrupted");
        session.sendMessage("Tell me a long story about bread, please, with many details.");
        await firstAudio;
        session.interrupt();
        await interrupted;
        await once(session, "transport_event", (e) => e.type === "conversation.item.truncated");
        await once(session, "transport_event", (e) => e.type === "conversation.item.retrieved");
      },
    );
  } finally {
    session.close();
  }
  assert.deepEqual(errors, []);
  assert.equal(events.filter((e) => e.type === "error").length, 0);
});

Deno.test("engine serves @openai/agents-realtime: a tool call and the reply after it", async () => {
  await using engine = startTestEngine();
  const calls: string[] = [];
  const checkOrder = tool({
    name: "check_order",
    description: "Look up an order by number.",
    parameters: z.object({ order_number: z.string() }),
    execute: ({ order_number }) => {
      calls.push(order_number);
      return `Order ${order_number} is ready for pickup after 3 pm.`;
    },
  });
  const agent = new RealtimeAgent({ name: "Shop", instructions: "Help.", tools: [checkOrder] });
  const { session, errors } = await connect(engine, agent);
  try {
    const toolEnd = once(session, "agent_tool_end");
    const reply = once(session, "agent_end", (_ctx, _agent, text) => text.startsWith("The tool"));
    session.sendMessage('call check_order {"order_number":"A1047"}');
    const [, , , result] = await toolEnd;
    assert.equal(result, "Order A1047 is ready for pickup after 3 pm.");
    const [, , text] = await reply;
    assert.equal(text, "The tool returned: Order A1047 is ready for pickup after 3 pm.");
    assert.deepEqual(calls, ["A1047"]);
  } finally {
    session.close();
  }
  assert.deepEqual(errors, []);
});
