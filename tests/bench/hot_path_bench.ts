/**
 * The per-frame work of the audio pass-through, piece by piece: parsing a caller frame and an
 * upstream audio delta (fast path vs the full zod schema it stands in for), and the base64
 * check of each caller frame, and what the Prometheus metrics add to each frame.
 *
 * Run: deno task bench:micro
 */
import { parseVaicFrame, VaicMessage } from "../../src/protocol/audiocodes.ts";
import { isBase64 } from "../../src/protocol/base64.ts";
import { parseServerEvent, ServerEvent } from "../../src/protocol/openai_realtime.ts";
import { GatewayMetrics } from "../../src/core/metrics.ts";

// A 20 ms µ-law frame as VAIC sends it, and a 120 ms µ-law delta as the engine sends it.
const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 37) & 0xff);
const chunk = bytes(160).toBase64();
const frame = JSON.stringify({
  type: "userStream.chunk",
  conversationId: crypto.randomUUID(),
  audioChunk: chunk,
});
const delta = JSON.stringify({
  type: "response.output_audio.delta",
  event_id: "event_0123456789abcdef",
  response_id: "resp_0123456789abcdef",
  item_id: "item_0123456789abcdef",
  output_index: 0,
  content_index: 0,
  delta: bytes(960).toBase64(),
});

let sink = 0;
Deno.bench("caller frame: parseVaicFrame (fast path)", { group: "frame", baseline: true }, () => {
  if (parseVaicFrame(frame).ok) sink++;
});
Deno.bench("caller frame: JSON.parse + VaicMessage.safeParse", { group: "frame" }, () => {
  if (VaicMessage.safeParse(JSON.parse(frame)).success) sink++;
});
Deno.bench("audio delta: parseServerEvent (fast path)", { group: "delta", baseline: true }, () => {
  if (parseServerEvent(delta).known) sink++;
});
Deno.bench("audio delta: JSON.parse + ServerEvent.safeParse", { group: "delta" }, () => {
  if (ServerEvent.safeParse(JSON.parse(delta)).success) sink++;
});
Deno.bench("isBase64 of a 20 ms µ-law frame (216 chars)", () => {
  if (isBase64(chunk)) sink++;
});

// What the metrics add per frame (prom-client, labels as the phone route passes them), next to
// the frame's parse: one histogram observation and one counter increment each way.
const metrics = new GatewayMetrics({ calls: () => 0, sessions: () => 0 });
const TO_MODEL = { direction: "caller_to_model" } as const;
const AUDIO_IN = { route: "audiocodes", direction: "in" } as const;
Deno.bench("metrics per frame: frameLatency.observe + audioBytes.inc", () => {
  metrics.audioBytes.inc(AUDIO_IN, 160);
  metrics.frameLatency.observe(TO_MODEL, 0.00012);
  sink++;
});
