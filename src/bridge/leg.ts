/**
 * The caller side of a Bridge (a phone call's agent, an app user's connection): what it is
 * told ({@linkcode LegEvent}) and what it does (play, stop, report what was heard).
 */
import type { Interrupted } from "./playout.ts";

/** Something the Bridge tells the caller side about. */
export type LegEvent =
  /** The model accepted the session's configuration: audio now goes straight through. */
  | { readonly type: "session.ready" }
  /** `audioStartMs`: where the speech starts in all audio the leg appended (ms, 0 = first). */
  | { readonly type: "speech.started"; readonly audioStartMs: number }
  /** `audioEndMs`: where the speech ends in all audio the leg appended (ms). */
  | { readonly type: "speech.stopped"; readonly audioEndMs: number }
  | { readonly type: "speech.committed" }
  | { readonly type: "speech.hypothesis"; readonly text: string }
  | { readonly type: "speech.recognition"; readonly text: string }
  | { readonly type: "response.started"; readonly responseId: string }
  | {
    readonly type: "response.transcript.delta";
    readonly responseId: string;
    readonly delta: string;
  }
  | { readonly type: "response.transcript.done"; readonly itemId: string; readonly text: string }
  | {
    readonly type: "response.done";
    readonly responseId: string;
    readonly status: string;
    readonly usage: unknown;
  }
  | {
    readonly type: "error";
    readonly code: string;
    readonly message: string;
    /** The type of our client event the upstream refused (from `error.event_id`), if known. */
    readonly eventType?: string;
  };

/** The caller side of a Bridge: plays model audio and hears about speech and responses. */
export interface BridgeLeg {
  /** Model audio for an item, base64 in the upstream format. */
  playAudio(itemId: string, delta: string): void;
  /** The item's audio is complete. */
  endAudio(itemId: string): void;
  /** Barge-in: stop playback now; what was heard of the item being played, if any. */
  interrupt(): Interrupted | undefined;
  /** Notifications (speech, transcripts, responses, errors). */
  notify(event: LegEvent): void;
  /**
   * Nothing of the model's audio is still playing to the caller (default: assumed). A session
   * is recycled only then, so that a barge-in never refers to the session that was let go.
   */
  idle?(): boolean;
}

/** A function call the model made. */
export interface FunctionCall {
  readonly name: string;
  readonly callId: string;
  readonly arguments: string;
  readonly responseId: string;
}
