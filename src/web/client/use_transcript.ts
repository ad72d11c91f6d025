/**
 * `useTranscript`: the voice page's conversation as bubbles (the user's turns, spoken or typed,
 * and the assistant's replies as they stream) and its event log. Every callback is stable, so
 * that session event handlers registered once per connection stay right.
 */
// @ts-types="@types/react"
import { useCallback, useMemo, useRef, useState } from "react";

/** One bubble of the conversation. */
export interface Entry {
  readonly id: number;
  readonly role: "user" | "assistant";
  readonly text: string;
  readonly final: boolean;
  readonly voice?: boolean;
  readonly interrupted?: boolean;
}

/** One line of the event log: what the session reported (in) or the page did (out). */
export interface LogLine {
  readonly id: number;
  readonly time: string;
  readonly direction: "in" | "out" | "note";
  readonly type: string;
  readonly detail: string;
}

/** The transcript and log, and the changes the session's events make to them. */
export interface Transcript {
  readonly entries: readonly Entry[];
  readonly log: readonly LogLine[];
  note(direction: LogLine["direction"], type: string, detail: string): void;
  userSpeaking(): void;
  userStopped(): void;
  userTranscript(text: string): void;
  userText(text: string): void;
  assistantStarted(): void;
  assistantDelta(text: string): void;
  assistantTranscript(text: string): void;
  assistantInterrupted(): void;
  assistantDone(): void;
  clear(): void;
}

const MAX_LOG = 200;

function clock(): string {
  return new Date().toLocaleTimeString([], { hour12: false });
}

/** The page's transcript and event log. */
export function useTranscript(): Transcript {
  const [entries, setEntries] = useState<Entry[]>([]);
  const [log, setLog] = useState<LogLine[]>([]);
  const ids = useRef(0);
  /** The user's spoken turn under way, and the last one (its transcript comes later). */
  const userRef = useRef<number | undefined>(undefined);
  const lastVoiceRef = useRef<number | undefined>(undefined);
  const assistantRef = useRef<number | undefined>(undefined);

  const update = useCallback((id: number | undefined, change: (e: Entry) => Entry) => {
    if (id === undefined) return;
    setEntries((list) => list.map((e) => (e.id === id ? change(e) : e)));
  }, []);
  const add = useCallback((entry: Omit<Entry, "id">): number => {
    const id = ++ids.current;
    setEntries((list) => [...list, { id, ...entry }]);
    return id;
  }, []);

  const note = useCallback((direction: LogLine["direction"], type: string, detail: string) => {
    const line = { id: ++ids.current, time: clock(), direction, type, detail };
    setLog((lines) => [line, ...lines].slice(0, MAX_LOG));
  }, []);

  const actions = useMemo(() => ({
    userSpeaking() {
      if (userRef.current !== undefined) return;
      userRef.current = lastVoiceRef.current = add({
        role: "user",
        text: "",
        final: false,
        voice: true,
      });
    },
    userStopped() {
      update(userRef.current, (e) => ({ ...e, final: true }));
      userRef.current = undefined;
    },
    userTranscript(text: string) {
      update(userRef.current ?? lastVoiceRef.current, (e) => ({ ...e, text, final: true }));
    },
    userText(text: string) {
      add({ role: "user", text, final: true });
    },
    assistantStarted() {
      assistantRef.current = add({ role: "assistant", text: "", final: false });
    },
    assistantDelta(text: string) {
      update(assistantRef.current, (e) => ({ ...e, text: e.text + text }));
    },
    assistantTranscript(text: string) {
      update(assistantRef.current, (e) => ({ ...e, text, final: true }));
    },
    assistantInterrupted() {
      update(assistantRef.current, (e) => ({ ...e, interrupted: true, final: true }));
    },
    assistantDone() {
      update(assistantRef.current, (e) => ({ ...e, final: true }));
    },
    clear() {
      setEntries([]);
    },
  }), [add, update]);

  return { entries, log, note, ...actions };
}
