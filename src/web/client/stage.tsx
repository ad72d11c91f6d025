/**
 * The voice page's stage: the orb and its phase label, the conversation controls, the settings
 * chosen before connecting, and the session's facts.
 */
import { SessionState, type Voice } from "../../client/mod.ts";
import { VOICES } from "../../protocol/user_api.ts";

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

/** What the label says in each live state (the SDK's states). */
const PHASE_LABEL: Partial<Record<SessionState, string>> = {
  [SessionState.CONNECTED]: "Your turn: speak any time",
  [SessionState.LISTENING]: "You're speaking",
  [SessionState.PROCESSING]: "Thinking…",
  [SessionState.SPEAKING]: "Speaking",
};

/** The orb: its look follows the phase, its ring the microphone level. */
export function Orb(
  props: { phase: SessionState; live: boolean; level: number },
): React.JSX.Element {
  const look = props.live ? props.phase.toLowerCase() : "idle";
  const scale = 1 + Math.min(0.35, props.level * 4);
  return (
    <div className={`orb orb-${look}`} aria-hidden="true">
      <div className="orb-ring" style={{ transform: `scale(${scale})` }} />
      <div className="orb-core">
        <span className="bar" />
        <span className="bar" />
        <span className="bar" />
        <span className="bar" />
        <span className="bar" />
      </div>
    </div>
  );
}

/** The phase in words; `data-phase` is the SDK's state. */
export function PhaseLabel(
  props: { phase: SessionState; live: boolean; busy: boolean; muted: boolean },
): React.JSX.Element {
  const { phase, live, busy, muted } = props;
  return (
    <p className="phase" data-testid="phase" data-phase={phase}>
      {live
        ? (muted && phase === SessionState.CONNECTED ? "Microphone muted" : PHASE_LABEL[phase])
        : busy
        ? "Connecting…"
        : "Start a conversation to talk with the assistant"}
    </p>
  );
}

/** Start or end, mute, interrupt. */
export function Controls(props: {
  live: boolean;
  busy: boolean;
  micReady: boolean;
  muted: boolean;
  canInterrupt: boolean;
  onConnect(): void;
  onDisconnect(): void;
  onToggleMute(): void;
  onInterrupt(): void;
}): React.JSX.Element {
  return (
    <div className="controls">
      {props.live || props.busy
        ? (
          <button
            type="button"
            className="btn btn-danger"
            data-testid="disconnect"
            onClick={props.onDisconnect}
          >
            End conversation
          </button>
        )
        : (
          <button
            type="button"
            className="btn btn-primary"
            data-testid="connect"
            onClick={props.onConnect}
          >
            Start conversation
          </button>
        )}
      <button
        type="button"
        className={`btn btn-ghost ${props.muted ? "active" : ""}`}
        disabled={!props.micReady}
        onClick={props.onToggleMute}
        aria-pressed={props.muted}
      >
        {props.muted ? "Unmute" : "Mute"}
      </button>
      <button
        type="button"
        className="btn btn-ghost"
        disabled={!props.canInterrupt}
        onClick={props.onInterrupt}
        data-testid="interrupt"
      >
        Interrupt
      </button>
    </div>
  );
}

/** Voice, language and token, fixed while connected. */
export function Settings(props: {
  locked: boolean;
  voice: Voice;
  language: string;
  token: string;
  openRoute: boolean;
  onVoice(voice: Voice): void;
  onLanguage(language: string): void;
  onToken(token: string): void;
}): React.JSX.Element {
  const { locked, openRoute } = props;
  return (
    <div className="settings">
      <label>
        <span>Voice</span>
        <select
          value={props.voice}
          disabled={locked}
          onChange={(e) => props.onVoice(VOICES.find((v) => v === e.target.value) ?? "marin")}
        >
          {VOICES.map((v) => <option key={v} value={v}>{v}</option>)}
        </select>
      </label>
      <label>
        <span>Language</span>
        <select
          value={props.language}
          disabled={locked}
          onChange={(e) => props.onLanguage(e.target.value)}
        >
          {LANGUAGES.map(([code, name]) => <option key={code} value={code}>{name}</option>)}
        </select>
      </label>
      <label className="wide">
        <span>Access token{openRoute ? " (optional)" : ""}</span>
        <input
          type="password"
          value={props.token}
          placeholder={openRoute ? "Not needed on this gateway" : "Paste your token"}
          disabled={locked}
          autoComplete="off"
          onChange={(e) => props.onToken(e.target.value)}
        />
      </label>
    </div>
  );
}

/** Session id, microphone, audio received. */
export function SessionFacts(props: {
  sessionId: string | undefined;
  micReady: boolean;
  muted: boolean;
  audio: { readonly chunks: number; readonly ms: number };
}): React.JSX.Element {
  return (
    <dl className="meta">
      <div>
        <dt>Session</dt>
        <dd data-testid="session-id">{props.sessionId ?? "—"}</dd>
      </div>
      <div>
        <dt>Microphone</dt>
        <dd>{props.micReady ? (props.muted ? "Muted" : "On · 24 kHz") : "Off"}</dd>
      </div>
      <div>
        <dt>Audio received</dt>
        <dd data-testid="audio-received" data-chunks={props.audio.chunks}>
          {(props.audio.ms / 1000).toFixed(1)} s
        </dd>
      </div>
    </dl>
  );
}
