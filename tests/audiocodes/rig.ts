/**
 * A test rig for whole phone calls: the local engine standalone on port 0, a wire tap in front
 * of it, and the gateway pointed at the tap as if it were OpenAI (so the Bearer path is used).
 */
import type { App } from "../../src/app.ts";
import type { RunningEngine, StartEngineOptions } from "../../src/local/main.ts";
import { startEngine } from "../../src/local/main.ts";
import { readWav } from "../../src/audio/wav.ts";
import type { PcmAudio } from "../../src/audio/wav.ts";
import { encodeForFormat } from "../../src/tools/call.ts";
import type { AudioCodesFormat } from "../../src/protocol/media_format.ts";
import { formatPlan } from "../../src/protocol/media_format.ts";
import { JsonSocket, startTestApp, wsUrl } from "../helpers.ts";
import { RealtimeTap } from "../realtime_tap.ts";

/** Engine + tap + gateway. */
export interface Rig extends AsyncDisposable {
  readonly engine: RunningEngine;
  readonly tap: RealtimeTap;
  readonly app: App;
}

/** Starts a rig; `env` overrides gateway config, `engine` the engine's options. */
export async function startRig(
  env: Record<string, string> = {},
  engine: StartEngineOptions = {},
): Promise<Rig> {
  const running = startEngine({ port: 0, ...engine });
  const tap = new RealtimeTap(running.url);
  const app = await startTestApp({
    OPENAI_API_KEY: "sk-test-key",
    OPENAI_REALTIME_URL: tap.url,
    // The rig streams audio faster than real time; VAIC's 50 frames a second never come near.
    AUDIOCODES_RATE_LIMIT: "100000",
    ...env,
  });
  return {
    engine: running,
    tap,
    app,
    async [Symbol.asyncDispose]() {
      await app.close();
      await tap[Symbol.asyncDispose]();
      await running.close();
    },
  };
}

/** Reads a speech fixture. */
export async function fixture(name: string): Promise<PcmAudio> {
  return readWav(await Deno.readFile(new URL(`../fixtures/speech/${name}`, import.meta.url)));
}

/** Silence of `ms` milliseconds at `sampleRate`. */
export function silence(ms: number, sampleRate = 16000): PcmAudio {
  return { sampleRate, samples: new Int16Array((ms * sampleRate) / 1000) };
}

/** A hand-driven VAIC: one call socket with helpers to stream audio in 20 ms frames. */
export class Vaic implements AsyncDisposable {
  readonly socket: JsonSocket;
  readonly conversationId: string;
  mediaFormat: AudioCodesFormat = "raw/mulaw";

  constructor(app: { readonly url: string }, conversationId: string = crypto.randomUUID()) {
    this.socket = new JsonSocket(wsUrl(app, "/ws"));
    this.conversationId = conversationId;
  }

  /** initiate → accepted → start activity → userStream.start → started; resolves with accepted. */
  async begin(
    formats: AudioCodesFormat[] = ["raw/mulaw"],
    options: { botName?: string } = {},
  ): Promise<Record<string, unknown>> {
    this.socket.send({
      type: "session.initiate",
      conversationId: this.conversationId,
      caller: "+14155550123",
      botName: options.botName ?? "test",
      expectAudioMessages: true,
      supportedMediaFormats: formats,
    });
    const accepted = await this.socket.next("session.accepted");
    this.mediaFormat = accepted.mediaFormat as AudioCodesFormat;
    this.socket.send({
      type: "activities",
      conversationId: this.conversationId,
      activities: [{
        type: "event",
        name: "start",
        parameters: { caller: "+14155550123", callee: "+18005550199" },
      }],
    });
    await this.openStream();
    return accepted;
  }

  /** userStream.start → userStream.started. */
  async openStream(): Promise<void> {
    this.socket.send({ type: "userStream.start", conversationId: this.conversationId });
    await this.socket.next("userStream.started");
  }

  /** Streams audio as 20 ms chunks; `realtime` paces them at 1× against a start time. */
  async stream(audio: PcmAudio, options: { realtime?: boolean } = {}): Promise<void> {
    const bytes = await encodeForFormat(audio, this.mediaFormat);
    const frame = formatPlan(this.mediaFormat).bytesPerMs * 20;
    const start = performance.now();
    for (let i = 0, n = 0; i < bytes.length; i += frame, n++) {
      if (options.realtime) {
        const wait = start + n * 20 - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      if (this.socket.socket.readyState !== WebSocket.OPEN) return;
      this.socket.send({
        type: "userStream.chunk",
        conversationId: this.conversationId,
        audioChunk: bytes.subarray(i, i + frame).toBase64(),
      });
    }
  }

  /** Sends activities. */
  activity(activity: Record<string, unknown>): void {
    this.socket.send({
      type: "activities",
      conversationId: this.conversationId,
      activities: [activity],
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.socket.socket.readyState === WebSocket.OPEN) {
      this.socket.send({ type: "session.end", conversationId: this.conversationId });
    }
    await this.socket.close();
  }
}
