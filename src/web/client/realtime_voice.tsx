/**
 * `RealtimeVoice` (seed 001's frontend): a voice conversation with the model through the
 * gateway, on the SDK's {@linkcode VoiceSession} with its browser microphone (AudioWorklet,
 * PCM16 mono 24 kHz) and speaker (stops at once on interruption) — connect/disconnect, text
 * input, a live transcript, an event log and the connection and error state.
 */
// @ts-types="@types/react"
import { useEffect, useState } from "react";
import type { Voice } from "../../client/mod.ts";
import { SessionState } from "../../client/mod.ts";
import { USER_API_PATH } from "../../protocol/user_api.ts";
import { Conversation, EventLog } from "./conversation.tsx";
import { Controls, Orb, PhaseLabel, SessionFacts, Settings } from "./stage.tsx";
import { type ConnectionStatus, useVoiceSession } from "./use_voice_session.ts";

/** Props of {@linkcode RealtimeVoice}. */
export interface RealtimeVoiceProps {
  /** The gateway origin (default: the page's). */
  readonly origin?: string;
  /** Where the AudioWorklet processor is served (same origin). */
  readonly workletUrl?: string;
}

const STATUS_LABEL: Record<ConnectionStatus, string> = {
  idle: "Disconnected",
  connecting: "Connecting…",
  connected: "Live",
  closed: "Disconnected",
  error: "Connection problem",
};

/** Whether the gateway serves the open route (else a token is needed). */
function useOpenRoute(origin: string): boolean {
  const [open, setOpen] = useState(true);
  useEffect(() => {
    fetch(`${origin}${USER_API_PATH}/status`)
      .then((r) => r.json())
      .then((s: { routes?: { open?: boolean } }) => setOpen(s.routes?.open !== false))
      .catch(() => {});
  }, [origin]);
  return open;
}

/** The browser voice page's main component. */
export function RealtimeVoice(props: RealtimeVoiceProps): React.JSX.Element {
  const origin = props.origin ?? location.origin;
  const voice = useVoiceSession(origin, props.workletUrl ?? "/assets/pcm-worklet.js");
  const openRoute = useOpenRoute(origin);
  const [voiceName, setVoiceName] = useState<Voice>("marin");
  const [language, setLanguage] = useState("en");
  const [token, setToken] = useState("");
  const live = voice.status === "connected";
  const busy = voice.status === "connecting";

  const connect = () => {
    const trimmed = token.trim();
    if (!openRoute && !trimmed) {
      voice.setError("This gateway needs an access token: paste one below");
      return;
    }
    void voice.connect({ voice: voiceName, language, ...(trimmed ? { token: trimmed } : {}) });
  };

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
        <span
          className={`pill pill-${voice.status}`}
          data-testid="status"
          data-status={voice.status}
        >
          <span className="dot" />
          {STATUS_LABEL[voice.status]}
        </span>
      </header>

      {voice.error && (
        <div className="banner" role="alert" data-testid="error">
          <span>{voice.error}</span>
          <button type="button" className="link" onClick={() => voice.setError(undefined)}>
            Dismiss
          </button>
        </div>
      )}

      <main className="layout">
        <section className="card stage">
          <Orb phase={voice.phase} live={live} level={voice.level} />
          <PhaseLabel phase={voice.phase} live={live} busy={busy} muted={voice.muted} />
          <Controls
            live={live}
            busy={busy}
            micReady={voice.micReady}
            muted={voice.muted}
            canInterrupt={live && voice.phase === SessionState.SPEAKING}
            onConnect={connect}
            onDisconnect={voice.disconnect}
            onToggleMute={voice.toggleMute}
            onInterrupt={voice.interrupt}
          />
          <Settings
            locked={live || busy}
            voice={voiceName}
            language={language}
            token={token}
            openRoute={openRoute}
            onVoice={setVoiceName}
            onLanguage={setLanguage}
            onToken={setToken}
          />
          <SessionFacts
            sessionId={voice.sessionId}
            micReady={voice.micReady}
            muted={voice.muted}
            audio={voice.audio}
          />
        </section>
        <Conversation
          entries={voice.entries}
          live={live}
          onClear={voice.clearEntries}
          onSend={voice.sendText}
        />
        <EventLog log={voice.log} />
      </main>
      <footer className="foot">
        Audio streams as PCM16 mono 24 kHz over <code>{USER_API_PATH}</code>
      </footer>
    </div>
  );
}
