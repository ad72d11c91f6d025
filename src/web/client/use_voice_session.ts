/**
 * `useVoiceSession`: the voice page's conversation, on the SDK — a {@linkcode VoiceSession}
 * with the SDK's microphone and speaker, its state (the SDK's {@linkcode SessionState} names),
 * the transcript and the event log as React state.
 */
// @ts-types="@types/react"
import { useCallback, useEffect, useRef, useState } from "react";
import {
  type AudioContextLike,
  AudioPlayer,
  ConnectionClosedError,
  ConnectionError,
  type Microphone,
  openAudioContext,
  playResponses,
  SessionState,
  startMicrophone,
  type Voice,
  VoiceSession,
  type VoiceSessionError,
} from "../../client/mod.ts";
import { type Entry, type LogLine, useTranscript } from "./use_transcript.ts";

/** The connection, as the status pill shows it. */
export type ConnectionStatus = "idle" | "connecting" | "connected" | "closed" | "error";

/** What the user chose before connecting. */
export interface ConnectSettings {
  readonly voice: Voice;
  readonly language: string;
  /** A token for the authenticated route; the open route without one. */
  readonly token?: string;
}

/** The page's view of the conversation and what it can do. */
export interface VoiceSessionView {
  readonly status: ConnectionStatus;
  /** The SDK's state; `SPEAKING` also while a finished reply still plays. */
  readonly phase: SessionState;
  readonly error: string | undefined;
  readonly sessionId: string | undefined;
  readonly micReady: boolean;
  readonly muted: boolean;
  readonly level: number;
  readonly entries: readonly Entry[];
  readonly log: readonly LogLine[];
  readonly audio: { readonly chunks: number; readonly ms: number };
  connect(settings: ConnectSettings): Promise<void>;
  disconnect(): void;
  interrupt(): void;
  sendText(text: string): void;
  toggleMute(): void;
  clearEntries(): void;
  setError(error: string | undefined): void;
}

/** Browsers do not show why an upgrade was refused: name the usual reasons. */
const REFUSED =
  "Cannot connect: the gateway refused the connection (a wrong token, too many open sessions, or a page origin the gateway does not allow)";

function randomUserId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return `web-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The conversation of the voice page with the gateway at `origin`. */
export function useVoiceSession(origin: string, workletUrl: string): VoiceSessionView {
  const [status, setStatus] = useState<ConnectionStatus>("idle");
  const [state, setState] = useState<SessionState>(SessionState.IDLE);
  const [playing, setPlaying] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [sessionId, setSessionId] = useState<string | undefined>();
  const [muted, setMuted] = useState(false);
  const [micReady, setMicReady] = useState(false);
  const [level, setLevel] = useState(0);
  const [audio, setAudio] = useState({ chunks: 0, ms: 0 });
  const transcript = useTranscript();
  const { note } = transcript;

  const sessionRef = useRef<VoiceSession | undefined>(undefined);
  const contextRef = useRef<AudioContextLike | undefined>(undefined);
  const playerRef = useRef<AudioPlayer | undefined>(undefined);
  const micRef = useRef<Microphone | undefined>(undefined);

  const teardown = useCallback(() => {
    micRef.current?.stop();
    micRef.current = undefined;
    playerRef.current?.stop();
    playerRef.current = undefined;
    const session = sessionRef.current;
    sessionRef.current = undefined;
    void session?.disconnect();
    void contextRef.current?.close().catch(() => {});
    contextRef.current = undefined;
    setMicReady(false);
    setLevel(0);
    setPlaying(false);
  }, []);

  useEffect(() => teardown, [teardown]);

  const follow = (session: VoiceSession, player: AudioPlayer) => {
    const t = transcript;
    session.on("state_change", (next, previous) => {
      if (sessionRef.current !== session) return;
      setState(next);
      note("in", "state", `${previous} → ${next}`);
      if (next === SessionState.CONNECTING) setStatus("connecting");
      else if (session.isConnected) setStatus("connected");
    });
    session.on("speech_started", () => {
      note("in", "speech_started", "");
      t.userSpeaking();
    });
    session.on("speech_ended", () => {
      note("in", "speech_ended", "");
      t.userStopped();
    });
    session.on("transcript_available", (text, { role }) => {
      note("in", "transcript", `${role}: ${text}`);
      if (role === "user") t.userTranscript(text);
      else t.assistantTranscript(text);
    });
    session.on("response_started", ({ id }) => {
      note("in", "response_started", id);
      t.assistantStarted();
    });
    session.on("interrupted", ({ playedMs }) => {
      note("in", "interrupted", `heard ${playedMs} ms`);
      t.assistantInterrupted();
    });
    session.on("response_done", ({ usage }) => {
      note("in", "response_done", `${usage.inputTokens} in / ${usage.outputTokens} out tokens`);
      t.assistantDone();
    });
    session.on("error", (e: VoiceSessionError) => {
      note("in", "error", `${e.code}: ${e.message}`);
      if (session.isConnected || sessionRef.current !== session) {
        setError(e.message);
        return;
      }
      // The connection closed under the page: a normal close is no error (the gateway's
      // reason, if any, came before as its own error).
      const normal = e instanceof ConnectionClosedError &&
        (e.closeCode === 1000 || e.closeCode === 1005);
      teardown();
      setState(SessionState.DISCONNECTED);
      setStatus(normal ? "closed" : "error");
      if (!normal) setError(e.message);
    });
    playResponses(session, player, {
      onChunk: (chunk) => {
        if (chunk.type === "transcript") return t.assistantDelta(chunk.text);
        setPlaying(true);
        setAudio((a) => ({ chunks: a.chunks + 1, ms: a.ms + chunk.data.byteLength / 48 }));
      },
    });
  };

  const connect = async (settings: ConnectSettings) => {
    if (sessionRef.current) return;
    setError(undefined);
    const context = openAudioContext();
    contextRef.current = context;
    await context.resume().catch(() => {});
    const player = new AudioPlayer(context, { onIdle: () => setPlaying(false) });
    playerRef.current = player;
    let session: VoiceSession;
    try {
      session = new VoiceSession({
        url: origin,
        userId: randomUserId(),
        voice: settings.voice,
        language: settings.language,
        ...(settings.token ? { token: settings.token } : {}),
      });
    } catch (e) {
      teardown();
      setError(describe(e));
      return;
    }
    sessionRef.current = session;
    follow(session, player);
    note("out", "connect", `${settings.voice} · ${settings.language}`);
    try {
      await session.connect();
    } catch (e) {
      if (sessionRef.current !== session) return; // disconnected meanwhile
      teardown();
      setStatus("error");
      setState(SessionState.DISCONNECTED);
      setError(e instanceof ConnectionError && /refused/.test(e.message) ? REFUSED : describe(e));
      return;
    }
    setSessionId(session.sessionId);
    startMicrophone(session, { context, workletUrl, onLevel: setLevel }).then((mic) => {
      if (sessionRef.current !== session) return mic.stop();
      micRef.current = mic;
      setMicReady(true);
      note("note", "microphone", "capturing PCM16 mono 24 kHz");
    }, (e: unknown) => {
      setError(`Cannot use the microphone: ${describe(e)}`);
      note("note", "microphone", "unavailable: text only");
    });
  };

  const disconnect = () => {
    teardown();
    setStatus("closed");
    setState(SessionState.DISCONNECTED);
  };

  const interrupt = () => {
    const player = playerRef.current;
    const playedMs = Math.floor(player?.playedMs() ?? 0);
    note("out", "interrupt", `played ${playedMs} ms`);
    sessionRef.current?.interrupt({ playedMs }).catch(() => {});
    player?.stop();
  };

  const sendText = (text: string) => {
    const session = sessionRef.current;
    if (!session?.isConnected) return;
    if (playerRef.current?.playing) interrupt();
    note("out", "text", text);
    session.sendText(text).catch((e: unknown) => setError(describe(e)));
    transcript.userText(text);
  };

  const toggleMute = () => {
    const next = !muted;
    setMuted(next);
    micRef.current?.setMuted(next);
    if (next) setLevel(0);
  };

  const phase = playing && state === SessionState.CONNECTED ? SessionState.SPEAKING : state;
  return {
    status,
    phase,
    error,
    sessionId,
    micReady,
    muted,
    level,
    entries: transcript.entries,
    log: transcript.log,
    audio,
    connect,
    disconnect,
    interrupt,
    sendText,
    toggleMute,
    clearEntries: transcript.clear,
    setError,
  };
}
