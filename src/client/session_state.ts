/**
 * The states of a {@linkcode VoiceSession} and its events: one vocabulary for the SDK and the
 * voice page (`LISTENING` is always "the user is speaking").
 *
 * @module
 */
import type { VoiceSessionError } from "./errors.ts";
import type { Interruption, Role, VoiceResponse } from "./response_stream.ts";

/**
 * The states of a {@linkcode VoiceSession}, driven by what the gateway reports.
 *
 * | state          | meaning                                                        |
 * | -------------- | -------------------------------------------------------------- |
 * | `IDLE`         | created, never connected                                       |
 * | `CONNECTING`   | opening the socket and applying the configuration              |
 * | `CONNECTED`    | live, nobody speaking: the user's turn                         |
 * | `LISTENING`    | turn detection hears the user speak                            |
 * | `PROCESSING`   | the user's turn ended (or text was sent); the model is thinking |
 * | `SPEAKING`     | the model is generating its reply                              |
 * | `DISCONNECTED` | the connection closed (`connect()` may be called again)       |
 */
export const SessionState: {
  readonly IDLE: "IDLE";
  readonly CONNECTING: "CONNECTING";
  readonly CONNECTED: "CONNECTED";
  readonly LISTENING: "LISTENING";
  readonly PROCESSING: "PROCESSING";
  readonly SPEAKING: "SPEAKING";
  readonly DISCONNECTED: "DISCONNECTED";
} = Object.freeze({
  IDLE: "IDLE",
  CONNECTING: "CONNECTING",
  CONNECTED: "CONNECTED",
  LISTENING: "LISTENING",
  PROCESSING: "PROCESSING",
  SPEAKING: "SPEAKING",
  DISCONNECTED: "DISCONNECTED",
});
/** One of the {@linkcode SessionState} values. */
export type SessionState = typeof SessionState[keyof typeof SessionState];

/** True in the states of a live session (connected and configured). */
export function isLive(state: SessionState): boolean {
  return state !== SessionState.IDLE && state !== SessionState.CONNECTING &&
    state !== SessionState.DISCONNECTED;
}

/** Events of a {@linkcode VoiceSession} and their handlers. */
export interface VoiceSessionEvents {
  /** Turn detection heard the user start speaking (barge-in interrupts the model). */
  speech_started: () => void;
  /** The user stopped speaking; the turn ends. */
  speech_ended: () => void;
  /** The model started a response. */
  response_started: (response: { readonly id: string }) => void;
  /** A final transcript of a user turn or of the model's reply. */
  transcript_available: (text: string, info: { readonly role: Role }) => void;
  /** The model's reply was cut: stop local playback now. */
  interrupted: (interruption: Interruption) => void;
  /** A response finished (or was cut). */
  response_done: (response: VoiceResponse) => void;
  /** Something went wrong: a gateway `error`, or the connection closed unexpectedly. */
  error: (error: VoiceSessionError) => void;
  /** The state changed. */
  state_change: (state: SessionState, previous: SessionState) => void;
}

/** Event handlers by event; a throwing handler is reported, never breaks the session. */
export class Emitter {
  readonly #handlers = new Map<keyof VoiceSessionEvents, Set<(...args: never[]) => void>>();

  /** Adds a handler. */
  on<K extends keyof VoiceSessionEvents>(event: K, handler: VoiceSessionEvents[K]): void {
    let set = this.#handlers.get(event);
    if (!set) this.#handlers.set(event, set = new Set());
    set.add(handler);
  }

  /** Removes a handler. */
  off<K extends keyof VoiceSessionEvents>(event: K, handler: VoiceSessionEvents[K]): void {
    this.#handlers.get(event)?.delete(handler);
  }

  /** Calls the handlers of `event`. */
  emit<K extends keyof VoiceSessionEvents>(
    event: K,
    ...args: Parameters<VoiceSessionEvents[K]>
  ): void {
    const set = this.#handlers.get(event);
    if (!set) return;
    for (const handler of [...set]) {
      try {
        (handler as (...a: Parameters<VoiceSessionEvents[K]>) => void)(...args);
      } catch (error) {
        // An app's handler bug must not break the session: report it like an uncaught error.
        reportError(error);
      }
    }
  }
}
