/** The voice page's conversation card (transcript and text input) and its event log. */
// @ts-types="@types/react"
import { useEffect, useRef, useState } from "react";
import type { Entry, LogLine } from "./use_transcript.ts";

/** The transcript as bubbles, with a box to type a message. */
export function Conversation(props: {
  entries: readonly Entry[];
  live: boolean;
  onClear(): void;
  onSend(text: string): void;
}): React.JSX.Element {
  const { entries, live } = props;
  const [draft, setDraft] = useState("");
  const end = useRef<HTMLLIElement | null>(null);
  useEffect(() => {
    end.current?.scrollIntoView?.({ block: "end" });
  }, [entries]);
  const send = (event: React.FormEvent) => {
    event.preventDefault();
    const text = draft.trim();
    if (!text || !live) return;
    props.onSend(text);
    setDraft("");
  };
  return (
    <section className="card conversation">
      <div className="card-head">
        <h2>Conversation</h2>
        {entries.length > 0 && (
          <button type="button" className="link" onClick={props.onClear}>Clear</button>
        )}
      </div>
      <ol className="transcript" data-testid="transcript" aria-live="polite">
        {entries.length === 0 && (
          <li className="empty">
            Say hello, or type a message below. Replies appear here as they are spoken.
          </li>
        )}
        {entries.map((e) => <Bubble key={e.id} entry={e} />)}
        <li ref={end} className="anchor" aria-hidden="true" />
      </ol>
      <form className="composer" onSubmit={send}>
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
  );
}

function Bubble({ entry: e }: { entry: Entry }) {
  const placeholder = e.role === "user" ? (e.final ? "Voice message" : "Listening…") : "…";
  return (
    <li
      className={`bubble bubble-${e.role} ${e.final ? "" : "streaming"} ${
        e.interrupted ? "interrupted" : ""
      }`}
      data-role={e.role}
    >
      <span className="who">{e.role === "user" ? "You" : "Assistant"}</span>
      <span className="text">{e.text || placeholder}</span>
      {e.interrupted && <span className="tag">interrupted</span>}
    </li>
  );
}

/** What the session reported and what the page did, newest first. */
export function EventLog(props: { log: readonly LogLine[] }): React.JSX.Element {
  return (
    <section className="card events">
      <details open>
        <summary>
          <h2>Event log</h2>
          <span className="count">{props.log.length}</span>
        </summary>
        <ol className="log" data-testid="log">
          {props.log.map((line) => (
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
  );
}
