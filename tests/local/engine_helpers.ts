/** Helpers for local engine tests: an engine on 127.0.0.1:0, sessions, and spoken audio. */
import { JsonSocket } from "../json_socket.ts";
import type { RunningEngine, StartEngineOptions } from "../../src/local/main.ts";
import { startEngine } from "../../src/local/main.ts";
import type { AudioFormat } from "../../src/local/audio_format.ts";
import { encodeSamples, sampleRateOf } from "../../src/local/audio_format.ts";
import { babble, samplesFor } from "../../src/local/synth.ts";

/** An engine on an ephemeral loopback port, fast enough for tests (40× real time). */
export function startTestEngine(options: StartEngineOptions = {}): RunningEngine {
  return startEngine({ hostname: "127.0.0.1", port: 0, speed: 40, firstDeltaMs: 0, ...options });
}

/** A wire event as the tests read it. */
export type Event = Record<string, unknown>;

/** Opens a session and waits for `session.created`. */
export async function openSession(
  engine: RunningEngine,
  options: { query?: string; headers?: HeadersInit; protocols?: string[] } = {},
): Promise<{ ws: JsonSocket; created: Event }> {
  const ws = new JsonSocket(`${engine.url}?${options.query ?? "model=gpt-realtime"}`, {
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.protocols ? { protocols: options.protocols } : {}),
    unmatched: "skip",
  });
  await ws.opened;
  const created = await ws.next("session.created");
  return { ws, created };
}

/** Sends a `session.update` and returns the `session.updated` answer. */
export async function update(ws: JsonSocket, session: Record<string, unknown>): Promise<Event> {
  ws.send({ type: "session.update", session: { type: "realtime", ...session } });
  return await ws.next("session.updated");
}

/** Silence, then `speechMs` of voice-like babble, then silence, encoded in `format`. */
export function spokenTurn(
  format: AudioFormat,
  options: { leadMs?: number; speechMs?: number; tailMs?: number } = {},
): Uint8Array<ArrayBuffer> {
  const rate = sampleRateOf(format);
  const lead = samplesFor(options.leadMs ?? 400, rate);
  const speech = babble(options.speechMs ?? 1200, rate);
  const tail = samplesFor(options.tailMs ?? 1000, rate);
  const all = new Int16Array(lead + speech.length + tail);
  all.set(speech, lead);
  return encodeSamples(format, all);
}

/** Appends audio in frames of `frameMs` (default 20 ms), as a phone bridge does. */
export function appendAudio(
  ws: JsonSocket,
  bytes: Uint8Array,
  format: AudioFormat,
  frameMs = 20,
): void {
  const frame = Math.round((sampleRateOf(format) * frameMs) / 1000) *
    (format.type === "audio/pcm" ? 2 : 1);
  for (let offset = 0; offset < bytes.byteLength; offset += frame) {
    ws.send({
      type: "input_audio_buffer.append",
      audio: bytes.subarray(offset, offset + frame).toBase64(),
    });
  }
}

/** Collects the events of one response, `response.created` through `response.done`. */
export async function responseEvents(ws: JsonSocket): Promise<Event[]> {
  const created = await ws.next("response.created");
  const id = (created.response as Event).id;
  const events: Event[] = [created];
  while (true) {
    const event = await ws.next();
    events.push(event);
    if (event.type === "response.done" && (event.response as Event).id === id) return events;
  }
}

/** The event types in order, with runs of deltas collapsed (`x.delta*`). */
export function shape(events: readonly Event[]): string[] {
  const out: string[] = [];
  for (const e of events) {
    const type = String(e.type);
    const name = type.endsWith(".delta") ? `${type}*` : type;
    if (name.endsWith("*") && out.at(-1) === name) continue;
    out.push(name);
  }
  return out;
}

/** Drops `*_transcript.delta` so audio and transcript interleaving does not matter. */
export function withoutTranscriptDeltas(events: readonly Event[]): Event[] {
  return events.filter((e) => e.type !== "response.output_audio_transcript.delta");
}

/** Total bytes of the audio deltas. */
export function audioBytes(events: readonly Event[]): number {
  let total = 0;
  for (const e of events) {
    if (e.type === "response.output_audio.delta") {
      total += Uint8Array.fromBase64(String(e.delta)).byteLength;
    }
  }
  return total;
}
