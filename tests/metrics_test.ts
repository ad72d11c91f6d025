/** `/metrics`: Prometheus text that the reference parser reads, with counters that move. */
import assert from "node:assert/strict";
import { runCall } from "../src/tools/call.ts";
import { readWav } from "../src/audio/wav.ts";
import { JsonSocket, startTestApp, wsUrl } from "./helpers.ts";

/** A sample: metric name, labels, value. */
interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/**
 * Parses exposition text with the Prometheus project's own Python parser
 * (`prometheus_client.parser`, Debian's python3-prometheus-client): a format error fails here.
 */
async function parseWithPrometheus(text: string): Promise<Sample[]> {
  const script = [
    "import json, sys",
    "from prometheus_client.parser import text_string_to_metric_families",
    "out = []",
    "for family in text_string_to_metric_families(sys.stdin.read()):",
    "    for s in family.samples:",
    "        out.append({'name': s.name, 'labels': s.labels, 'value': s.value})",
    "print(json.dumps(out))",
  ].join("\n");
  const child = new Deno.Command("/usr/bin/python3", {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const output = await child.output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.find((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
  return found?.value ?? 0;
}

/** One simulated VAIC call (raw/lpcm16, "hello"), at twice real time. */
async function helloCall(app: { url: string }) {
  const speech = readWav(
    await Deno.readFile(new URL("./fixtures/speech/hello_16k.wav", import.meta.url)),
  );
  return await runCall({
    url: wsUrl(app, "/ws"),
    formats: ["raw/lpcm16"],
    audio: speech,
    speed: 2,
  });
}

Deno.test("GET /metrics is Prometheus text whose counters follow a call", async () => {
  await using app = await startTestApp({ GREETING: "false" });
  const scrape = async () =>
    await parseWithPrometheus(await (await fetch(`${app.url}/metrics`)).text());

  const before = await scrape();
  assert.equal(value(before, "voicegw_calls_active"), 0);
  assert.equal(value(before, "voicegw_calls_accepted_total", { format: "raw/lpcm16" }), 0);

  const report = await helloCall(app);
  assert.deepEqual(report.violations, []);
  const after = await scrape();
  assert.equal(value(after, "voicegw_calls_accepted_total", { format: "raw/lpcm16" }), 1);
  assert.equal(value(after, "voicegw_calls_ended_total", { outcome: "caller_hangup" }), 1);
  assert.equal(value(after, "voicegw_calls_active"), 0);
  assert.ok(
    value(after, "voicegw_audio_bytes_total", { route: "audiocodes", direction: "in" }) >=
      report.sent.bytes * 0.9,
  );
  assert.ok(
    value(after, "voicegw_audio_bytes_total", { route: "audiocodes", direction: "out" }) > 0,
  );
  assert.equal(value(after, "voicegw_turn_latency_seconds_count", { route: "audiocodes" }), 1);
  assert.ok(
    value(after, "voicegw_frame_latency_seconds_count", { direction: "caller_to_model" }) >=
      report.sent.chunks,
  );
  assert.ok(
    value(after, "voicegw_model_tokens_total", { direction: "output", modality: "audio" }) > 0,
  );
});

Deno.test("METRICS_ENABLED=false: nothing recorded, /metrics is 404, calls work", async () => {
  await using app = await startTestApp({ GREETING: "false", METRICS_ENABLED: "false" });
  const report = await helloCall(app);
  assert.deepEqual(report.violations, []);
  assert.ok(report.playStreams.length > 0, "the bot answered");
  const response = await fetch(`${app.url}/metrics`);
  assert.equal(response.status, 404);
  await response.body?.cancel();
  // The registry holds no sample: nothing was recorded, even counters of the call just made.
  const text = await app.gateway.metrics.text();
  assert.doesNotMatch(text, /^voicegw_calls_accepted_total\{/m);
});

Deno.test("METRICS_TOKEN guards /metrics", async () => {
  await using app = await startTestApp({ METRICS_TOKEN: "scrape-me-please" });
  const refused = await fetch(`${app.url}/metrics`);
  assert.equal(refused.status, 401);
  await refused.body?.cancel();
  const allowed = await fetch(`${app.url}/metrics`, {
    headers: { authorization: "Bearer scrape-me-please" },
  });
  assert.equal(allowed.status, 200);
  assert.match(await allowed.text(), /^# HELP voicegw_/m);
});

Deno.test("app sessions move their own counters on /metrics", async () => {
  await using app = await startTestApp();
  const scrape = async () =>
    await parseWithPrometheus(await (await fetch(`${app.url}/metrics`)).text());
  const client = new JsonSocket(wsUrl(app, "/api/v1/streaming/realtime/metrics-user"));
  await client.next("session.ready");
  client.send({
    type: "conversation.item.input",
    conversation_item_input: { type: "input_text", text: "Hello there" },
  });
  await client.next("response.done", 10_000);
  client.send("not json");
  await client.next("error");
  const live = await scrape();
  assert.equal(value(live, "voicegw_app_sessions_active"), 1);
  await client.close();
  await Promise.all([...app.user.connections].map((c) => c.closed));
  const after = await scrape();
  assert.equal(value(after, "voicegw_app_sessions_active"), 0);
  assert.equal(value(after, "voicegw_app_sessions_ended_total", { outcome: "caller_hangup" }), 1);
  assert.ok(value(after, "voicegw_audio_bytes_total", { route: "app", direction: "out" }) > 0);
  assert.equal(value(after, "voicegw_turn_latency_seconds_count", { route: "app" }), 1);
  assert.equal(value(after, "voicegw_bad_frames_total", { route: "app" }), 1);
  assert.ok(
    value(after, "voicegw_model_tokens_total", { direction: "output", modality: "audio" }) > 0,
  );
});
