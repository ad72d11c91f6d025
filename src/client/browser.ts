/**
 * Microphone and speaker for {@linkcode VoiceSession} in browsers: capture through an
 * AudioWorklet as PCM16 mono 24 kHz (what the session sends by default), gapless playback of
 * the model's replies that stops at once on barge-in and says how much of a reply was heard.
 * The browser voice page is built on these.
 *
 * Web Audio is not part of Deno's types: the helpers describe the few parts they use
 * ({@linkcode AudioContextLike}), which a browser's `AudioContext` has.
 *
 * @example Talk to the model from a page (after a click: browsers start audio on a gesture)
 * ```ts ignore
 * import {
 *   AudioPlayer,
 *   openAudioContext,
 *   playResponses,
 *   startMicrophone,
 *   VoiceSession,
 * } from "./mod.ts";
 *
 * const context = openAudioContext();
 * const session = new VoiceSession({ url: location.origin, voice: "marin" });
 * const player = new AudioPlayer(context);
 * playResponses(session, player); // plays every reply, stops on barge-in
 * await session.connect();
 * const mic = await startMicrophone(session, { context });
 * // … later
 * mic.stop();
 * await session.disconnect();
 * ```
 *
 * @module
 */
import { MODEL_SAMPLE_RATE } from "./audio.ts";
import { ConfigurationError } from "./errors.ts";
import { type CaptureChunk, pcmCaptureSource } from "./pcm_worklet.ts";
import type { ResponseChunk } from "./response_stream.ts";
import type { VoiceSession } from "./voice_session.ts";

/** A Web Audio node, as the helpers use it. */
export interface AudioNodeLike {
  /** Connects this node's output to `node`. */
  connect(node: AudioNodeLike): unknown;
  /** Disconnects it. */
  disconnect(): void;
}

/** A Web Audio buffer source, as the helpers use it. */
export interface AudioBufferSourceLike extends AudioNodeLike {
  /** The audio it plays. */
  buffer: { readonly duration: number } | null;
  /** Called when it ends. */
  onended: (() => void) | null;
  /** Starts at a context time (s). */
  start(when?: number): void;
  /** Stops now. */
  stop(): void;
}

/** A microphone stream, as the helpers use it. */
export interface MediaStreamLike {
  /** Its tracks. */
  getTracks(): { stop(): void; enabled: boolean }[];
}

/** The parts of a browser `AudioContext` the helpers use. */
export interface AudioContextLike {
  /** Its rate (Hz). */
  readonly sampleRate: number;
  /** Its clock (s). */
  readonly currentTime: number;
  /** The speakers. */
  readonly destination: AudioNodeLike;
  /** Loads worklet modules. */
  readonly audioWorklet: { addModule(url: string): Promise<void> };
  /** A gain node. */
  createGain(): AudioNodeLike;
  /** A buffer of float samples. */
  createBuffer(
    channels: number,
    length: number,
    sampleRate: number,
  ): { readonly duration: number; copyToChannel(samples: Float32Array, channel: number): void };
  /** A buffer source. */
  createBufferSource(): AudioBufferSourceLike;
  /** A node for a microphone stream. */
  createMediaStreamSource(stream: MediaStreamLike): AudioNodeLike;
  /** Starts it (after a user gesture). */
  resume(): Promise<void>;
  /** Stops it. */
  close(): Promise<void>;
}

/** The browser globals the helpers use (absent from Deno's types). */
interface WebAudioGlobals {
  AudioContext: new (options: { sampleRate?: number; latencyHint: string }) => AudioContextLike;
  AudioWorkletNode: new (
    context: AudioContextLike,
    name: string,
    options: Record<string, unknown>,
  ) => AudioNodeLike & { readonly port: MessagePort };
  navigator: {
    mediaDevices: { getUserMedia(constraints: unknown): Promise<MediaStreamLike> };
  };
}

function web(): WebAudioGlobals {
  return globalThis as unknown as WebAudioGlobals;
}

/** The shortest interval between two microphone messages (the worklet posts 40 ms chunks). */
const SEND_INTERVAL_MS = 40;

/** Opens an AudioContext at 24 kHz when the browser allows it, else at its default rate. */
export function openAudioContext(): AudioContextLike {
  try {
    return new (web().AudioContext)({ sampleRate: MODEL_SAMPLE_RATE, latencyHint: "interactive" });
  } catch {
    return new (web().AudioContext)({ latencyHint: "interactive" });
  }
}

/** Options of {@linkcode startMicrophone}. */
export interface MicrophoneOptions {
  /** The audio context (from {@linkcode openAudioContext}). */
  readonly context: AudioContextLike;
  /**
   * Where the `pcm-capture` worklet module is served. Default: a `blob:` URL of
   * {@linkcode pcmCaptureSource}; pages whose Content-Security-Policy refuses `blob:` scripts
   * serve that text themselves (the voice page serves `/assets/pcm-worklet.js`).
   */
  readonly workletUrl?: string;
  /** Hears the RMS level (0..1) of each chunk sent, for a meter. */
  readonly onLevel?: (level: number) => void;
}

/** A running microphone capture. */
export interface Microphone {
  /** Mutes or unmutes (muted: nothing is sent). */
  setMuted(muted: boolean): void;
  /** Stops the capture and releases the microphone. */
  stop(): void;
}

/**
 * Captures the microphone and streams it to the session (`sendAudio` with `commit: false`:
 * turn detection finds the turns). The session must use the default audio format (PCM16 mono
 * 24 kHz). Chunks that arrive in a burst (a stalled audio thread) leave as one message at most
 * every 40 ms, under the gateway's rate limit.
 */
export async function startMicrophone(
  session: VoiceSession,
  options: MicrophoneOptions,
): Promise<Microphone> {
  const audio = session.audio;
  if (audio.sampleRate !== MODEL_SAMPLE_RATE || audio.channels !== 1 || audio.format !== "pcm16") {
    throw new ConfigurationError(
      "Cannot start the microphone: it sends PCM16 mono 24 kHz; use the session's default audio format",
    );
  }
  const { context } = options;
  const stream = await web().navigator.mediaDevices.getUserMedia({
    audio: {
      channelCount: 1,
      echoCancellation: true,
      noiseSuppression: true,
      autoGainControl: true,
    },
  });
  let blobUrl: string | undefined;
  try {
    let url = options.workletUrl;
    if (url === undefined) {
      url = blobUrl = URL.createObjectURL(
        new Blob([pcmCaptureSource()], { type: "text/javascript" }),
      );
    }
    await context.audioWorklet.addModule(url);
    const source = context.createMediaStreamSource(stream);
    const node = new (web().AudioWorkletNode)(context, "pcm-capture", {
      numberOfInputs: 1,
      numberOfOutputs: 0,
      channelCount: 1,
      channelCountMode: "explicit",
    });
    let muted = false;
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
      options.onLevel?.(level);
      // After a disconnect the last chunks have nowhere to go.
      session.sendAudio(bytes, { commit: false }).catch(() => {});
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
        for (const track of stream.getTracks()) track.enabled = !value;
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
  } finally {
    if (blobUrl) URL.revokeObjectURL(blobUrl);
  }
}

/** Gapless playback of PCM16 mono chunks (the model's replies). */
export class AudioPlayer {
  readonly #context: AudioContextLike;
  readonly #output: AudioNodeLike;
  readonly #sampleRate: number;
  readonly #sources = new Set<AudioBufferSourceLike>();
  #nextTime = 0;
  #itemStart: number | undefined;
  #itemScheduledMs = 0;
  readonly #onIdle: (() => void) | undefined;

  /** A player on `context`; `onIdle` hears when the last queued chunk has played. */
  constructor(
    context: AudioContextLike,
    options: { readonly onIdle?: () => void; readonly sampleRate?: number } = {},
  ) {
    this.#context = context;
    const gain = context.createGain();
    gain.connect(context.destination);
    this.#output = gain;
    this.#onIdle = options.onIdle;
    this.#sampleRate = options.sampleRate ?? MODEL_SAMPLE_RATE;
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

  /** Queues PCM16 little-endian mono right after what is queued. */
  enqueue(pcm: Uint8Array): void {
    const count = pcm.byteLength >> 1;
    if (count === 0) return;
    const view = new DataView(pcm.buffer, pcm.byteOffset, count * 2);
    const samples = new Float32Array(count);
    for (let i = 0; i < count; i++) samples[i] = view.getInt16(2 * i, true) / 0x8000;
    const buffer = this.#context.createBuffer(1, count, this.#sampleRate);
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

/**
 * Plays every reply of the session as it streams and stops playback at once when the reply is
 * interrupted (barge-in or `interrupt()`). `onChunk` sees each chunk too (transcript text,
 * audio). Returns a function that stops following the session.
 */
export function playResponses(
  session: VoiceSession,
  player: AudioPlayer,
  options: { readonly onChunk?: (chunk: ResponseChunk) => void } = {},
): () => void {
  const play = async () => {
    player.beginItem();
    try {
      for await (const chunk of session.streamReceive()) {
        if (chunk.type === "audio") player.enqueue(chunk.data);
        options.onChunk?.(chunk);
      }
    } catch {
      // The connection closed: the session reports it as an `error` event.
    }
  };
  const offStarted = session.on("response_started", () => void play());
  const offInterrupted = session.on("interrupted", () => player.stop());
  return () => {
    offStarted();
    offInterrupted();
  };
}
