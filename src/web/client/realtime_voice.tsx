/**
 * `RealtimeVoice` (seed 001's frontend): a voice conversation with the model through the
 * gateway — connect/disconnect, microphone capture at 24 kHz PCM16 through an AudioWorklet,
 * playback that stops at once on interruption, text input, a live transcript, an event log and
 * the connection and error state.
 */
// @ts-types="@types/react"
import { useCallback, useEffect, useRef, useState } from "react";
import type { ClientMessage, ServerMessage, Voice } from "../../user/messages.ts";
import type { MicCapture } from "./audio_io.ts";
import { openAudioContext, PcmPlayer, startMicCapture } from "./audio_io.ts";
import type { ConnectionStatus } from "./realtime_client.ts";
import { RealtimeClient } from "./realtime_client.ts";

/** What the assistant and the user are doing, for the orb and its label. */
type Phase = "idle" | "listening" | "user" | "thinking" | "speaking";

interface Entry {
  readonly id: number;
  readonly role: "user" | "assistant";
  readonly text: string;
  readonly final: boolean;
  readonly voice?: boolean;
  readonly interrupted?: boolean;
}

interface LogLine {
  readonly id: number;
  readonly time: string;
  readonly direction: "in" | "out" | "note";
  readonly type: string;
  readonly detail: string;
}

/** Props of {@linkcode RealtimeVoice}. */
export interface RealtimeVoiceProps {
  /** The gateway origin (default: the page's). */
  readonly origin?: string;
  /** Where the AudioWorklet processor is served (same origin). */
  readonly workletUrl?: string;
}

const VOICE_OPTIONS: readonly Voice[] = [
  "marin",
  "cedar",
  "alloy",
  "ash",
  "ballad",
  "coral",
  "echo",
  "sage",
  "shimmer",
  "verse",
];
const LANGUAGES: readonly [string, string][] = [
  ["en", "English"],
  ["de", "Deutsch"],
  ["es", "Español"],
  ["fr", "Français"],
  ["it", "Italiano"],
  ["pt", "Português"],
  ["nl", "Nederlands"],
  ["ja", "日本語"],
];
const PHASE_LABEL: Record<Phase, string> = {
  idle: "Ready when you are",
  listening: "Listening…",
  user: "You're speaking",
  thinking: "Thinking…",
  speaking: "Speaking",
};
const STATUS_LABEL: Record<ConnectionStatus, string> = {
  idle: "Disconnected",
  connecting: "Connecting…",
  connected: "Live",
  closed: "Disconnected",
  error: "Connection problem",
};
const MAX_LOG = 200;

function clock(): string {
  return new Date().toLocaleTimeString([], { hour12: false });
}

function summarize(message: ServerMessage | ClientMessage): string {
  switch (message.type) {
    case "response.audio":
      return `${Math.round((message.response.audio.length * 3) / 4 / 48)} ms of audio`;
    case "response.delta":
      return message.response.delta.content;
    case "response.transcript":
      return message.response.transcript;
    case "input.transcript":
      return message.transcript.text;
    case "error":
      return `${message.error.code}: ${message.error.message}`;
    case "session.update":
      return "session" in message
        ? `${message.session.id} · ${message.session.voice} · ${message.session.language}`
        : JSON.stringify(message.session_update);
    case "session.created":
      return `${message.session.id} · ${message.session.voice}`;
    case "response.done":
      return `${message.response.usage.input_tokens} in / ${message.response.usage.output_tokens} out tokens`;
    case "response.interrupted":
      return `heard ${message.response.played_ms} ms`;
    case "conversation.item.input":
      return message.conversation_item_input.type === "input_text"
        ? message.conversation_item_input.text
        : "audio";
    default:
      return "";
  }
}

function randomUserId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return `web-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** The browser voice page's main component. */
export function RealtimeVoice(props: RealtimeVoiceProps): React.JSX.Element {
  const origin = props.origin ?? location.origin;
  const workletUrl = props.workletUrl ?? "/assets/pcm-worklet.js";
  const [status, setStatus] = useState<ConnectionStatus>("idle");
  const [phase, setPhase] = useState<Phase>("idle");
  const [error, setError] = useState<string | undefined>();
  const [sessionId, setSessionId] = useState<string | undefined>();
  const [voice, setVoice] = useState<Voice>("marin");
  const [language, setLanguage] = useState("en");
  const [token, setToken] = useState("");
  const [openRoute, setOpenRoute] = useState(true);
  const [muted, setMuted] = useState(false);
  const [micReady, setMicReady] = useState(false);
  const [level, setLevel] = useState(0);
  const [entries, setEntries] = useState<Entry[]>([]);
  const [log, setLog] = useState<LogLine[]>([]);
  const [audio, setAudio] = useState({ chunks: 0, ms: 0 });
  const [draft, setDraft] = useState("");

  const clientRef = useRef<RealtimeClient | undefined>(undefined);
  const contextRef = useRef<AudioContext | undefined>(undefined);
  const playerRef = useRef<PcmPlayer | undefined>(undefined);
  const captureRef = useRef<MicCapture | undefined>(undefined);
  const ids = useRef(0);
  const assistantRef = useRef<number | undefined>(undefined);
  const userRef = useRef<number | undefined>(undefined);
  const transcriptEnd = useRef<HTMLLIElement | null>(null);

  const nextId = () => ++ids.current;
  const note = useCallback((direction: LogLine["direction"], type: string, detail: string) => {
    setLog((lines) =>
      [{ id: ++ids.current, time: clock(), direction, type, detail }, ...lines].slice(0, MAX_LOG)
    );
  }, []);
  const updateEntry = (id: number | undefined, change: (e: Entry) => Entry) => {
    if (id === undefined) return;
    setEntries((list) => list.map((e) => (e.id === id ? change(e) : e)));
  };

  useEffect(() => {
    fetch(`${origin}/api/v1/streaming/realtime/status`)
      .then((r) => r.json())
      .then((s: { routes?: { open?: boolean } }) => setOpenRoute(s.routes?.open !== false))
      .catch(() => {});
  }, [origin]);

  useEffect(() => {
    transcriptEnd.current?.scrollIntoView?.({ block: "end" });
  }, [entries]);

  const teardown = useCallback(() => {
    captureRef.current?.stop();
    captureRef.current = undefined;
    playerRef.current?.stop();
    playerRef.current = undefined;
    clientRef.current?.close();
    clientRef.current = undefined;
    void contextRef.current?.close().catch(() => {});
    contextRef.current = undefined;
    assistantRef.current = undefined;
    userRef.current = undefined;
    setMicReady(false);
    setLevel(0);
    setPhase("idle");
  }, []);

  useEffect(() => teardown, [teardown]);

  const onMessage = (message: ServerMessage) => {
    if (message.type !== "response.audio" && message.type !== "response.delta") {
      note("in", message.type, summarize(message));
    }
    switch (message.type) {
      case "session.created":
      case "session.update":
        setSessionId(message.session.id);
        return;
      case "speech.started": {
        setPhase("user");
        if (userRef.current === undefined) {
          const id = nextId();
          userRef.current = id;
          setEntries((
            list,
          ) => [...list, { id, role: "user", text: "", final: false, voice: true }]);
        }
        return;
      }
      case "speech.stopped":
        setPhase("thinking");
        updateEntry(userRef.current, (e) => ({ ...e, final: true }));
        userRef.current = undefined;
        return;
      case "input.transcript": {
        const text = message.transcript.text;
        const id = userRef.current ??
          [...entriesRef.current].reverse().find((e) => e.role === "user" && e.voice)?.id;
        updateEntry(id, (e) => ({ ...e, text, final: message.transcript.final || e.final }));
        return;
      }
      case "response.started": {
        setPhase("thinking");
        playerRef.current?.beginItem();
        const id = nextId();
        assistantRef.current = id;
        setEntries((list) => [...list, { id, role: "assistant", text: "", final: false }]);
        return;
      }
      case "response.delta":
        updateEntry(
          assistantRef.current,
          (e) => ({ ...e, text: e.text + message.response.delta.content }),
        );
        return;
      case "response.transcript":
        updateEntry(
          assistantRef.current,
          (e) => ({ ...e, text: message.response.transcript, final: true }),
        );
        return;
      case "response.audio":
        playerRef.current?.enqueue(message.response.audio);
        setAudio((a) => ({
          chunks: a.chunks + 1,
          ms: a.ms + (message.response.audio.length * 3) / 4 / 48,
        }));
        setPhase("speaking");
        return;
      case "response.interrupted":
        playerRef.current?.stop();
        updateEntry(assistantRef.current, (e) => ({ ...e, interrupted: true, final: true }));
        return;
      case "response.done":
        updateEntry(assistantRef.current, (e) => ({ ...e, final: true }));
        if (!playerRef.current?.playing) setPhase("listening");
        return;
      case "error":
        setError(message.error.message);
        return;
      case "response.audio.done":
      case "speech.committed":
      case "turn_detection.updated":
      case "session.ready":
      case "pong":
      case "tools.updated":
      case "tool.call":
      case "tool.cancelled":
        return;
      default:
        message satisfies never;
    }
  };
  // The socket callback is created once per connection: read the latest closures through refs.
  const onMessageRef = useRef(onMessage);
  onMessageRef.current = onMessage;
  const entriesRef = useRef(entries);
  entriesRef.current = entries;

  const connect = async () => {
    if (clientRef.current) return;
    setError(undefined);
    const useToken = token.trim().length > 0 || !openRoute;
    if (useToken && !token.trim()) {
      setError("This gateway needs an access token: paste one below");
      return;
    }
    const context = openAudioContext();
    contextRef.current = context;
    await context.resume().catch(() => {});
    playerRef.current = new PcmPlayer(context, {
      onIdle: () => setPhase((p) => (p === "speaking" ? "listening" : p)),
    });
    const client = new RealtimeClient(
      { origin, userId: randomUserId(), ...(useToken ? { token: token.trim() } : {}) },
      {
        onStatus: (next, detail) => {
          setStatus(next);
          if (detail) setError(detail);
          if (next === "connected") {
            client.send({ type: "session.update", session_update: { voice, language } });
            setPhase("listening");
            startMicCapture(context, {
              workletUrl,
              onChunk: (base64, rms) => {
                client.sendAudio(base64);
                setLevel(rms);
              },
            }).then((capture) => {
              if (clientRef.current !== client) return capture.stop();
              captureRef.current = capture;
              setMicReady(true);
              note("note", "microphone", "capturing PCM16 mono 24 kHz");
            }, (e: unknown) => {
              setError(`Cannot use the microphone: ${e instanceof Error ? e.message : e}`);
              note("note", "microphone", "unavailable: text only");
            });
          }
          if (next === "closed" || next === "error") teardown();
        },
        onMessage: (message) => onMessageRef.current(message),
        onSent: (message) => note("out", message.type, summarize(message)),
      },
    );
    clientRef.current = client;
  };

  const disconnect = () => {
    teardown();
    setStatus("closed");
  };

  const interrupt = () => {
    const player = playerRef.current;
    clientRef.current?.send({
      type: "response.interrupt",
      response_interrupt: { played_ms: Math.floor(player?.playedMs() ?? 0) },
    });
    player?.stop();
  };

  const sendText = (event: React.FormEvent) => {
    event.preventDefault();
    const text = draft.trim();
    const client = clientRef.current;
    if (!text || !client?.open) return;
    if (playerRef.current?.playing) interrupt();
    client.send({
      type: "conversation.item.input",
      conversation_item_input: { type: "input_text", text },
    });
    setEntries((list) => [...list, { id: nextId(), role: "user", text, final: true }]);
    setDraft("");
  };

  const toggleMute = () => {
    const next = !muted;
    setMuted(next);
    captureRef.current?.setMuted(next);
    if (next) setLevel(0);
  };

  const live = status === "connected";
  const busy = status === "connecting";
  const orbScale = 1 + Math.min(0.35, level * 4);

  return (
    <div className="app">
      <header className="topbar">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            <span />
            <span />
            <span />
          </span>
          <div>
            <h1>Voice Gateway</h1>
            <p>Realtime voice conversations</p>
          </div>
        </div>
        <span className={`pill pill-${status}`} data-testid="status" data-status={status}>
          <span className="dot" />
          {STATUS_LABEL[status]}
        </span>
      </header>

      {error && (
        <div className="banner" role="alert" data-testid="error">
          <span>{error}</span>
          <button type="button" className="link" onClick={() => setError(undefined)}>
            Dismiss
          </button>
        </div>
      )}

      <main className="layout">
        <section className="card stage">
          <div className={`orb orb-${phase}`} aria-hidden="true">
            <div className="orb-ring" style={{ transform: `scale(${orbScale})` }} />
            <div className="orb-core">
              <span className="bar" />
              <span className="bar" />
              <span className="bar" />
              <span className="bar" />
              <span className="bar" />
            </div>
          </div>
          <p className="phase" data-testid="phase" data-phase={phase}>
            {live
              ? (muted && phase === "listening" ? "Microphone muted" : PHASE_LABEL[phase])
              : busy
              ? "Connecting…"
              : "Start a conversation to talk with the assistant"}
          </p>

          <div className="controls">
            {live || busy
              ? (
                <button
                  type="button"
                  className="btn btn-danger"
                  data-testid="disconnect"
                  onClick={disconnect}
                >
                  End conversation
                </button>
              )
              : (
                <button
                  type="button"
                  className="btn btn-primary"
                  data-testid="connect"
                  onClick={() => void connect()}
                >
                  Start conversation
                </button>
              )}
            <button
              type="button"
              className={`btn btn-ghost ${muted ? "active" : ""}`}
              disabled={!micReady}
              onClick={toggleMute}
              aria-pressed={muted}
            >
              {muted ? "Unmute" : "Mute"}
            </button>
            <button
              type="button"
              className="btn btn-ghost"
              disabled={!live || phase !== "speaking"}
              onClick={interrupt}
              data-testid="interrupt"
            >
              Interrupt
            </button>
          </div>

          <div className="settings">
            <label>
              <span>Voice</span>
              <select
                value={voice}
                disabled={live || busy}
                onChange={(e) =>
                  setVoice(VOICE_OPTIONS.find((v) => v === e.target.value) ?? "marin")}
              >
                {VOICE_OPTIONS.map((v) => <option key={v} value={v}>{v}</option>)}
              </select>
            </label>
            <label>
              <span>Language</span>
              <select
                value={language}
                disabled={live || busy}
                onChange={(e) => setLanguage(e.target.value)}
              >
                {LANGUAGES.map(([code, name]) => <option key={code} value={code}>{name}</option>)}
              </select>
            </label>
            <label className="wide">
              <span>Access token{openRoute ? " (optional)" : ""}</span>
              <input
                type="password"
                value={token}
                placeholder={openRoute ? "Not needed on this gateway" : "Paste your token"}
                disabled={live || busy}
                autoComplete="off"
                onChange={(e) => setToken(e.target.value)}
              />
            </label>
          </div>

          <dl className="meta">
            <div>
              <dt>Session</dt>
              <dd data-testid="session-id">{sessionId ?? "—"}</dd>
            </div>
            <div>
              <dt>Microphone</dt>
              <dd>{micReady ? (muted ? "Muted" : "On · 24 kHz") : "Off"}</dd>
            </div>
            <div>
              <dt>Audio received</dt>
              <dd data-testid="audio-received" data-chunks={audio.chunks}>
                {(audio.ms / 1000).toFixed(1)} s
              </dd>
            </div>
          </dl>
        </section>

        <section className="card conversation">
          <div className="card-head">
            <h2>Conversation</h2>
            {entries.length > 0 && (
              <button
                type="button"
                className="link"
                onClick={() => setEntries([])}
              >
                Clear
              </button>
            )}
          </div>
          <ol className="transcript" data-testid="transcript" aria-live="polite">
            {entries.length === 0 && (
              <li className="empty">
                Say hello, or type a message below. Replies appear here as they are spoken.
              </li>
            )}
            {entries.map((e) => (
              <li
                key={e.id}
                className={`bubble bubble-${e.role} ${e.final ? "" : "streaming"} ${
                  e.interrupted ? "interrupted" : ""
                }`}
                data-role={e.role}
              >
                <span className="who">{e.role === "user" ? "You" : "Assistant"}</span>
                <span className="text">
                  {e.text || (e.role === "user" ? (e.final ? "Voice message" : "Listening…") : "…")}
                </span>
                {e.interrupted && <span className="tag">interrupted</span>}
              </li>
            ))}
            <li ref={transcriptEnd} className="anchor" aria-hidden="true" />
          </ol>
          <form className="composer" onSubmit={sendText}>
            <input
              type="text"
              value={draft}
              placeholder={live ? "Type a message…" : "Connect to send messages"}
              disabled={!live}
              onChange={(e) => setDraft(e.target.value)}
              data-testid="text-input"
            />
            <button type="submit" className="btn btn-primary" disabled={!live || !draft.trim()}>
              Send
            </button>
          </form>
        </section>

        <section className="card events">
          <details open>
            <summary>
              <h2>Event log</h2>
              <span className="count">{log.length}</span>
            </summary>
            <ol className="log" data-testid="log">
              {log.map((line) => (
                <li key={line.id} className={`log-${line.direction}`}>
                  <time>{line.time}</time>
                  <span className="arrow">
                    {line.direction === "in" ? "↓" : line.direction === "out" ? "↑" : "•"}
                  </span>
                  <code>{line.type}</code>
                  <span className="detail">{line.detail}</span>
                </li>
              ))}
            </ol>
          </details>
        </section>
      </main>
      <footer className="foot">
        Audio streams as PCM16 mono 24 kHz over <code>/api/v1/streaming/realtime</code>
      </footer>
    </div>
  );
}
