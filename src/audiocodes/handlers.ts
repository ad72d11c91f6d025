/**
 * Pure handlers for the AudioCodes Bot API, keyed by message type:
 * `(state, message, ctx) => { state, effects }`. No I/O, no clock, no randomness; the per-socket
 * shell (`connection.ts`) runs the effects.
 */
import type { Activity, BotMessage, VaicMessage } from "../protocol/audiocodes.ts";
import { base64ByteLength, isBase64 } from "../protocol/base64.ts";
import type { AudioCodesFormat } from "../protocol/media_format.ts";
import { chooseMediaFormat } from "../protocol/media_format.ts";
import type { HandlerResult as RouterResult, Handlers, LogEffect } from "../core/router.ts";
import { dispatch as route, same } from "../core/router.ts";

/** Per-socket protocol state, a union on `phase`. */
export type ConnectionState =
  | { readonly phase: "new" }
  | {
    readonly phase: "active";
    readonly conversationId: string;
    readonly mediaFormat: AudioCodesFormat;
    /** Participants whose user stream is open; `""` is the stream without a participant. */
    readonly userStreams: readonly string[];
  }
  /** A `session.resume` waits for the shared registry's claim (see {@linkcode resumeSettled}). */
  | { readonly phase: "resuming"; readonly conversationId: string }
  | { readonly phase: "ended" };

/** The initial state of a new socket. */
export const INITIAL_STATE: ConnectionState = { phase: "new" };

/** What a handler may ask the shell to do. */
export type Effect =
  | { readonly type: "send"; readonly message: BotMessage }
  | {
    readonly type: "conversation.open";
    readonly conversationId: string;
    readonly mediaFormat: AudioCodesFormat;
    readonly caller?: string;
    readonly botName?: string;
  }
  | { readonly type: "conversation.resume"; readonly conversationId: string }
  /** Claim the call in the shared registry (async); the shell then calls `resumeSettled`. */
  | { readonly type: "conversation.claim"; readonly conversationId: string }
  | {
    readonly type: "conversation.end";
    readonly conversationId: string;
    readonly reasonCode?: string;
    readonly reason?: string;
  }
  | {
    readonly type: "call.audio";
    readonly conversationId: string;
    readonly audioChunk: string;
    readonly bytes: number;
  }
  | {
    readonly type: "call.userStream";
    readonly conversationId: string;
    readonly open: boolean;
    readonly participant?: string;
  }
  | { readonly type: "call.activity"; readonly conversationId: string; readonly activity: Activity }
  | { readonly type: "call.dropped"; readonly conversationId: string; readonly reason: string }
  | { readonly type: "close"; readonly code: number; readonly reason: string }
  | LogEffect;

/** A handler's result. */
export type HandlerResult = RouterResult<ConnectionState, Effect>;

/** Read-only facts a handler may consult. */
export interface HandlerContext {
  /** Our media format preference, most preferred first. */
  readonly preference: readonly AudioCodesFormat[];
  /** Looks up a live or resumable conversation by id; `attached`: its socket is still open. */
  lookup(
    conversationId: string,
  ): { readonly mediaFormat: AudioCodesFormat; readonly attached?: boolean } | undefined;
  /** Longest identifier accepted (conversationId, caller, botName, participant). */
  readonly maxIdChars?: number;
  /**
   * Calls are shared with other instances (Redis): a resume of a call not attached here is
   * claimed in the shared registry before it is answered.
   */
  readonly shared?: boolean;
}

const warn = (message: string, fields?: Record<string, unknown>): Effect => ({
  type: "log",
  level: "warn",
  message,
  ...(fields ? { fields } : {}),
});

const participantOf = (participant: string | undefined) =>
  participant === undefined ? {} : { participant };

/** Open user streams per call (participants: caller, agent, a few conference legs). */
export const MAX_USER_STREAMS = 8;

/** Declines a call: `session.error` with the reason, then a normal close. */
const decline = (conversationId: string | undefined, reason: string, close: string) => ({
  state: { phase: "ended" } as const,
  effects: [
    {
      type: "send",
      message: {
        type: "session.error",
        ...(conversationId === undefined ? {} : { conversationId }),
        reason,
      },
    },
    { type: "close", code: 1000, reason: close },
  ] satisfies Effect[],
});

/** The first identifier over the limit, named, or undefined when all fit. */
function overlongId(
  fields: Readonly<Record<string, string | undefined>>,
  max: number | undefined,
): string | undefined {
  if (max === undefined) return undefined;
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined && value.length > max) {
      return `${name} is longer than ${max} characters`;
    }
  }
  return undefined;
}

/** The AudioCodes Bot API handler map. */
export const handlers = {
  "session.initiate"(state, message, ctx) {
    const overlong = overlongId({
      conversationId: message.conversationId,
      caller: message.caller,
      botName: message.botName,
      participant: message.participant,
    }, ctx.maxIdChars);
    if (overlong !== undefined) {
      // The id itself is not echoed: it may be the very thing that is too large.
      return decline(undefined, `Cannot accept call: ${overlong}`, "call declined");
    }
    if (state.phase !== "new") {
      return same(
        state,
        warn("Ignored session.initiate: the socket already carries a conversation", {
          conversationId: message.conversationId,
        }),
      );
    }
    if (ctx.lookup(message.conversationId)) {
      return decline(
        message.conversationId,
        `Cannot accept call: conversation "${message.conversationId}" is already active`,
        "duplicate conversation",
      );
    }
    const mediaFormat = chooseMediaFormat(message.supportedMediaFormats, ctx.preference);
    if (!mediaFormat) {
      return decline(
        message.conversationId,
        `Cannot accept call: no common media format in ${
          JSON.stringify(message.supportedMediaFormats)
        }`,
        "call declined",
      );
    }
    return {
      state: {
        phase: "active",
        conversationId: message.conversationId,
        mediaFormat,
        userStreams: [],
      },
      effects: [
        {
          type: "conversation.open",
          conversationId: message.conversationId,
          mediaFormat,
          ...(message.caller === undefined ? {} : { caller: message.caller }),
          ...(message.botName === undefined ? {} : { botName: message.botName }),
        },
        { type: "send", message: { type: "session.accepted", mediaFormat } },
      ],
    };
  },

  "session.resume"(state, message, ctx) {
    const overlong = overlongId({ conversationId: message.conversationId }, ctx.maxIdChars);
    if (overlong !== undefined) {
      return decline(undefined, `Cannot resume call: ${overlong}`, "resume declined");
    }
    if (state.phase !== "new") {
      return same(state, warn("Ignored session.resume: the socket already carries a conversation"));
    }
    const known = ctx.lookup(message.conversationId);
    if (known?.attached) {
      // No takeover: a live call's socket keeps it. VAIC resumes only after its socket dropped.
      return decline(
        message.conversationId,
        "Cannot resume call: its socket is still connected",
        "resume declined",
      );
    }
    if (ctx.shared) {
      return {
        state: { phase: "resuming", conversationId: message.conversationId },
        effects: [{ type: "conversation.claim", conversationId: message.conversationId }],
      };
    }
    if (!known) {
      return decline(message.conversationId, "conversation not found", "unknown conversation");
    }
    return {
      state: {
        phase: "active",
        conversationId: message.conversationId,
        mediaFormat: known.mediaFormat,
        userStreams: [],
      },
      effects: [
        { type: "conversation.resume", conversationId: message.conversationId },
        { type: "send", message: { type: "session.accepted", mediaFormat: known.mediaFormat } },
      ],
    };
  },

  "session.end"(state, message) {
    if (state.phase !== "active") {
      return {
        state: { phase: "ended" },
        effects: [{ type: "close", code: 1000, reason: "session ended" }],
      };
    }
    return {
      state: { phase: "ended" },
      effects: [
        {
          type: "conversation.end",
          conversationId: state.conversationId,
          ...(message.reasonCode === undefined ? {} : { reasonCode: message.reasonCode }),
          ...(message.reason === undefined ? {} : { reason: message.reason }),
        },
        { type: "close", code: 1000, reason: "session ended" },
      ],
    };
  },

  "connection.validate"(state) {
    return same(state, { type: "send", message: { type: "connection.validated", success: true } });
  },

  "userStream.start"(state, message, ctx) {
    if (state.phase !== "active") {
      return same(state, warn("Ignored userStream.start outside a conversation"));
    }
    const key = message.participant ?? "";
    const overlong = overlongId({ participant: message.participant }, ctx.maxIdChars);
    if (overlong !== undefined) return same(state, warn(`Ignored userStream.start: ${overlong}`));
    if (!state.userStreams.includes(key) && state.userStreams.length >= MAX_USER_STREAMS) {
      return same(
        state,
        warn(`Ignored userStream.start: more than ${MAX_USER_STREAMS} open user streams`),
      );
    }
    const userStreams = state.userStreams.includes(key)
      ? state.userStreams
      : [...state.userStreams, key];
    return {
      state: { ...state, userStreams },
      effects: [
        {
          type: "call.userStream",
          conversationId: state.conversationId,
          open: true,
          ...participantOf(message.participant),
        },
        {
          type: "send",
          message: { type: "userStream.started", ...participantOf(message.participant) },
        },
      ],
    };
  },

  "userStream.chunk"(state, message) {
    if (state.phase !== "active") {
      return same(state, warn("Dropped userStream.chunk outside a conversation"));
    }
    if (!state.userStreams.includes(message.participant ?? "")) {
      return same(state, {
        type: "call.dropped",
        conversationId: state.conversationId,
        reason: "Dropped userStream.chunk outside a user stream",
      });
    }
    if (!isBase64(message.audioChunk)) {
      return same(state, {
        type: "call.dropped",
        conversationId: state.conversationId,
        reason: "Dropped userStream.chunk: audioChunk is not valid base64",
      });
    }
    return same(state, {
      type: "call.audio",
      conversationId: state.conversationId,
      audioChunk: message.audioChunk,
      bytes: base64ByteLength(message.audioChunk),
    });
  },

  "userStream.stop"(state, message) {
    if (state.phase !== "active") {
      return same(state, warn("Ignored userStream.stop outside a conversation"));
    }
    const key = message.participant ?? "";
    return {
      state: { ...state, userStreams: state.userStreams.filter((p) => p !== key) },
      effects: [
        {
          type: "call.userStream",
          conversationId: state.conversationId,
          open: false,
          ...participantOf(message.participant),
        },
        {
          type: "send",
          message: { type: "userStream.stopped", ...participantOf(message.participant) },
        },
      ],
    };
  },

  "activities"(state, message) {
    if (state.phase !== "active") {
      return same(state, warn("Ignored activities outside a conversation"));
    }
    return same(
      state,
      ...message.activities.map((activity): Effect => ({
        type: "call.activity",
        conversationId: state.conversationId,
        activity,
      })),
    );
  },
} satisfies Handlers<VaicMessage, ConnectionState, HandlerContext, HandlerResult>;

/** How a claim in the shared registry ended: the call is attached here, or refused. */
export type ResumeOutcome =
  | { readonly ok: true; readonly mediaFormat: AudioCodesFormat }
  | { readonly ok: false; readonly reason: string };

/**
 * The answer to a `session.resume` once the shared registry's claim settled: `session.accepted`
 * in the call's format, or `session.error` with the reason and a close. A socket that moved on
 * meanwhile (`session.end`, closed) gets nothing.
 */
export function resumeSettled(state: ConnectionState, outcome: ResumeOutcome): HandlerResult {
  if (state.phase !== "resuming") return same(state);
  if (!outcome.ok) {
    return outcome.reason === "conversation not found"
      ? decline(state.conversationId, outcome.reason, "unknown conversation")
      : decline(state.conversationId, outcome.reason, "resume declined");
  }
  return {
    state: {
      phase: "active",
      conversationId: state.conversationId,
      mediaFormat: outcome.mediaFormat,
      userStreams: [],
    },
    effects: [{
      type: "send",
      message: { type: "session.accepted", mediaFormat: outcome.mediaFormat },
    }],
  };
}

/** Dispatches one parsed message to its handler. */
export function dispatch(
  state: ConnectionState,
  message: VaicMessage,
  ctx: HandlerContext,
): HandlerResult {
  return route(handlers, { state, message, ctx });
}

/** Lower-cased event name of an activity, for case-insensitive matching (§0.8). */
export function eventName(activity: Activity): string | undefined {
  return activity.type === "event" ? activity.name?.toLowerCase() : undefined;
}
