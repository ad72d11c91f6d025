/**
 * Traces and logs through Deno's built-in OpenTelemetry: the real process with `OTEL_DENO=true`
 * exports to a local OTLP/HTTP (JSON) receiver; a call gives a `call` span with `turn` and
 * `upstream.connect` children and log records that carry the call's trace id.
 */
import assert from "node:assert/strict";
import { runCall } from "../src/tools/call.ts";
import { readWav } from "../src/audio/wav.ts";
import { TIMEOUT_SCALE } from "./helpers.ts";
import { startGatewayProcess } from "./gateway_process.ts";

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: { key: string; value: Record<string, unknown> }[];
}

interface OtlpLog {
  traceId?: string;
  body?: { stringValue?: string };
}

/** An OTLP/HTTP JSON receiver on a free loopback port. */
function otlpReceiver() {
  const spans: OtlpSpan[] = [];
  const logs: OtlpLog[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = await req.json();
    const path = new URL(req.url).pathname;
    if (path === "/v1/traces") {
      for (const r of body.resourceSpans ?? []) {
        for (const s of r.scopeSpans ?? []) spans.push(...(s.spans ?? []));
      }
    } else if (path === "/v1/logs") {
      for (const r of body.resourceLogs ?? []) {
        for (const s of r.scopeLogs ?? []) logs.push(...(s.logRecords ?? []));
      }
    }
    return Response.json({});
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, spans, logs, server };
}

async function until(check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs * TIMEOUT_SCALE;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("Timed out waiting for telemetry");
    await new Promise((r) => setTimeout(r, 50));
  }
}

const attribute = (span: OtlpSpan, key: string) =>
  span.attributes.find((a) => a.key === key)?.value;

Deno.test("OTEL_DENO=true exports a call span with turn children and correlated logs", async () => {
  const receiver = otlpReceiver();
  try {
    await using gateway = await startGatewayProcess({
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_SERVICE_NAME: "voice-gateway-test",
      OTEL_BSP_SCHEDULE_DELAY: "100",
      OTEL_BLRP_SCHEDULE_DELAY: "100",
    });
    const speech = readWav(
      await Deno.readFile(new URL("./fixtures/speech/hello_16k.wav", import.meta.url)),
    );
    const report = await runCall({
      url: `${gateway.url.replace(/^http/, "ws")}/ws`,
      formats: ["raw/mulaw"],
      conversationId: "otel-call-1",
      audio: speech,
      leadSilenceMs: 1500,
      speed: 2,
    });
    assert.deepEqual(report.violations, []);
    const isCall = (s: OtlpSpan) =>
      s.name === "call" &&
      attribute(s, "call.conversation_id")?.stringValue === "otel-call-1";
    await until(() => receiver.spans.some(isCall));
    const call = receiver.spans.find(isCall)!;
    assert.equal(attribute(call, "call.media_format")?.stringValue, "raw/mulaw");
    assert.equal(attribute(call, "call.outcome")?.stringValue, "caller_hangup");
    const children = receiver.spans.filter((s) =>
      s.traceId === call.traceId && s.parentSpanId === call.spanId
    );
    const turns = children.filter((s) => s.name === "turn");
    assert.ok(turns.some((t) => attribute(t, "turn.kind")?.stringValue === "bot"), "greeting");
    const callerTurns = turns.filter((t) => attribute(t, "turn.kind")?.stringValue === "caller");
    assert.ok(
      callerTurns.some((t) => Number(attribute(t, "turn.first_audio_ms")?.doubleValue) > 0),
      JSON.stringify(callerTurns.map((t) => t.attributes)),
    );
    assert.ok(children.some((s) => s.name === "upstream.connect"));
    await until(() =>
      receiver.logs.some((l) =>
        l.traceId === call.traceId && (l.body?.stringValue ?? "").includes("Call accepted")
      )
    );
  } finally {
    await receiver.server.shutdown();
  }
});
