/**
 * Browser audio for the voice page: microphone capture through the `pcm-capture` AudioWorklet
 * (PCM16 mono 24 kHz, base64) and gapless playback of the model's PCM16 chunks that can stop
 * at once on barge-in and say how much of the current reply was heard.
 */
import type { CaptureChunk } from "./pcm_worklet.ts";

/** The API's audio rate. */
export const SAMPLE_RATE = 24000;

/** The shortest interval between two audio messages (the worklet posts 40 ms chunks). */
const SEND_INTERVAL_MS = 40;

/** Encodes bytes as base64 (chunked so large buffers do not overflow the call stack). */
export function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Decodes base64 PCM16 little-endian into float samples. */
export function base64ToFloat32(base64: string): Float32Array<ArrayBuffer> {
  const binary = atob(base64);
  const count = binary.length >> 1;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const lo = binary.charCodeAt(2 * i);
    const hi = binary.charCodeAt(2 * i + 1);
    const value = (hi << 8) | lo;
    out[i] = (value >= 0x8000 ? value - 0x10000 : value) / 0x8000;
  }
  return out;
}

/** Opens an AudioContext at 24 kHz when the browser allows it, else at its default rate. */
export function openAudioContext(): AudioContext {
  try {
    return new AudioContext({ sampleRate: SAMPLE_RATE, latencyHint: "interactive" });
  } catch {
    return new AudioContext({ latencyHint: "interactive" });
  }
}

/** A running microphone capture. */
export interface MicCapture {
  /** Mutes or unmutes (muted: nothing is sent). */
  setMuted(muted: boolean): void;
  stop(): void;
}

/** Starts capturing the microphone; `onChunk` gets base64 PCM16 24 kHz and an RMS level. */
export async function startMicCapture(
  context: AudioContext,
  options: { workletUrl: string; onChunk: (base64: string, level: number) => void },
): Promise<MicCapture> {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: {
      channelCount: 1,
      echoCancellation: true,
      noiseSuppression: true,
      autoGainControl: true,
    },
  });
  try {
    await context.audioWorklet.addModule(options.workletUrl);
    const source = context.createMediaStreamSource(stream);
    const node = new AudioWorkletNode(context, "pcm-capture", {
      numberOfInputs: 1,
      numberOfOutputs: 0,
      channelCount: 1,
      channelCountMode: "explicit",
    });
    let muted = false;
    // A stalled audio thread catches up in bursts: coalesce chunks so that at most one message
    // leaves every SEND_INTERVAL_MS, whatever the burst (the gateway rate-limits messages).
    const pending: Uint8Array[] = [];
    let pendingBytes = 0;
    let level = 0;
    let lastSend = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const flush = () => {
      timer = undefined;
      if (pendingBytes === 0) return;
      const bytes = new Uint8Array(pendingBytes);
      let offset = 0;
      for (const piece of pending) {
        bytes.set(piece, offset);
        offset += piece.length;
      }
      pending.length = 0;
      pendingBytes = 0;
      lastSend = performance.now();
      options.onChunk(bytesToBase64(bytes), level);
    };
    node.port.onmessage = (event: MessageEvent<CaptureChunk>) => {
      if (muted) return;
      pending.push(new Uint8Array(event.data.pcm));
      pendingBytes += event.data.pcm.byteLength;
      level = event.data.level;
      if (timer !== undefined) return;
      const wait = SEND_INTERVAL_MS - (performance.now() - lastSend);
      if (wait <= 0) flush();
      else timer = setTimeout(flush, wait);
    };
    source.connect(node);
    return {
      setMuted(value) {
        muted = value;
        for (const track of stream.getAudioTracks()) track.enabled = !value;
      },
      stop() {
        if (timer !== undefined) clearTimeout(timer);
        node.port.onmessage = null;
        source.disconnect();
        node.disconnect();
        for (const track of stream.getTracks()) track.stop();
      },
    };
  } catch (error) {
    for (const track of stream.getTracks()) track.stop();
    throw error;
  }
}

/** Gapless playback of PCM16 24 kHz chunks. */
export class PcmPlayer {
  readonly #context: AudioContext;
  readonly #output: AudioNode;
  readonly #sources = new Set<AudioBufferSourceNode>();
  #nextTime = 0;
  #itemStart: number | undefined;
  #itemScheduledMs = 0;
  #onIdle: (() => void) | undefined;

  constructor(context: AudioContext, options: { onIdle?: () => void } = {}) {
    this.#context = context;
    const gain = context.createGain();
    gain.connect(context.destination);
    this.#output = gain;
    this.#onIdle = options.onIdle;
  }

  /** True while audio is scheduled or playing. */
  get playing(): boolean {
    return this.#sources.size > 0;
  }

  /** Starts a new reply: the played time counts from its first chunk. */
  beginItem(): void {
    this.#itemStart = undefined;
    this.#itemScheduledMs = 0;
  }

  /** Queues one base64 PCM16 chunk right after the previous one. */
  enqueue(base64: string): void {
    const samples = base64ToFloat32(base64);
    if (samples.length === 0) return;
    const buffer = this.#context.createBuffer(1, samples.length, SAMPLE_RATE);
    buffer.copyToChannel(samples, 0);
    const source = this.#context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.#output);
    const now = this.#context.currentTime;
    // A little lead on the first chunk absorbs jitter; later chunks follow gaplessly.
    const startAt = Math.max(this.#nextTime, now + 0.05);
    source.start(startAt);
    this.#itemStart ??= startAt;
    this.#itemScheduledMs += buffer.duration * 1000;
    this.#nextTime = startAt + buffer.duration;
    this.#sources.add(source);
    source.onended = () => {
      this.#sources.delete(source);
      if (this.#sources.size === 0) this.#onIdle?.();
    };
  }

  /** Milliseconds of the current reply that have been played so far. */
  playedMs(): number {
    if (this.#itemStart === undefined) return 0;
    const elapsed = (this.#context.currentTime - this.#itemStart) * 1000;
    return Math.max(0, Math.min(this.#itemScheduledMs, elapsed));
  }

  /** Stops everything now and drops what is queued. */
  stop(): void {
    for (const source of this.#sources) {
      source.onended = null;
      try {
        source.stop();
      } catch {
        // Not started yet.
      }
      source.disconnect();
    }
    const wasPlaying = this.#sources.size > 0;
    this.#sources.clear();
    this.#nextTime = 0;
    this.#itemStart = undefined;
    this.#itemScheduledMs = 0;
    if (wasPlaying) this.#onIdle?.();
  }
}
