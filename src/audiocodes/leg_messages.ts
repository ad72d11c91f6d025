/**
 * What the Bridge tells the phone leg ({@linkcode LegEvent}), as AudioCodes Bot API messages for
 * VAIC: pure, one function per event type, as the app leg's `legHandlers` (user/handlers.ts).
 * Audio is not here: model audio goes out as paced play streams (phone_agent.ts).
 */
import type { LegEvent } from "../bridge/bridge.ts";
import type { Handlers } from "../core/router.ts";
import { dispatch } from "../core/router.ts";
import type { BotMessage } from "../protocol/audiocodes.ts";

/** A map with one pure function per leg event type: the message for VAIC, if any. */
export type PhoneLegHandlers = Handlers<LegEvent, void, void, BotMessage | undefined>;

/** Turns what the Bridge reports into messages for VAIC (speech events and transcripts, §2.14-18). */
export const phoneLegHandlers = {
  "session.ready": () => undefined,
  "speech.started": () => ({ type: "userStream.speech.started" }),
  "speech.stopped": () => ({ type: "userStream.speech.stopped" }),
  "speech.committed": () => ({ type: "userStream.speech.committed" }),
  "speech.hypothesis": (_, e) => ({
    type: "userStream.speech.hypothesis",
    alternatives: [{ text: e.text }],
  }),
  "speech.recognition": (_, e) => ({
    type: "userStream.speech.recognition",
    alternatives: [{ text: e.text }],
  }),
  // The bot's words reach the caller as audio; VAIC has no message for their transcript.
  "response.started": () => undefined,
  "response.transcript.delta": () => undefined,
  "response.transcript.done": () => undefined,
  "response.done": () => undefined,
  // An upstream refusal is the gateway's to handle (logs, metrics), never the caller's.
  "error": () => undefined,
} satisfies PhoneLegHandlers;

/** The message for VAIC for a leg event, if any. */
export function phoneLegMessage(event: LegEvent): BotMessage | undefined {
  return dispatch(phoneLegHandlers, { state: undefined, message: event, ctx: undefined });
}
