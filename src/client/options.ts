/**
 * The options of a {@linkcode VoiceSession} and their checks: the route URL, the token, the
 * session settings and turn detection, turned into what the gateway expects on the wire.
 *
 * @module
 */
import {
  LANGUAGE_PATTERN,
  MAX_INSTRUCTIONS_CHARS,
  type TurnDetectionInfo,
  type TurnDetectionSetting,
  USER_API_PATH,
  type Voice as WireVoice,
  VOICES,
} from "../protocol/user_api.ts";
import { ConfigurationError } from "./errors.ts";
import type { AnyClientTool } from "./tools.ts";

/** A voice of the model. */
export type Voice =
  | "alloy"
  | "ash"
  | "ballad"
  | "coral"
  | "echo"
  | "sage"
  | "shimmer"
  | "verse"
  | "marin"
  | "cedar";
// The SDK's list and the gateway's must stay the same (a compile error otherwise).
true satisfies (Voice extends WireVoice ? (WireVoice extends Voice ? true : false) : false);

/** The turn detection in force, as the gateway confirmed it. */
export interface TurnDetection {
  /** `"server_vad"` (voice activity), `"semantic_vad"` (end of thought) or `"none"` (manual). */
  readonly mode: "server_vad" | "semantic_vad" | "none";
  /** Speech probability threshold (server VAD). */
  readonly threshold?: number;
  /** Milliseconds of audio kept before detected speech (server VAD). */
  readonly prefixPadding?: number;
  /** Milliseconds of silence that end the turn (server VAD). */
  readonly silenceDuration?: number;
}

/** An agent: the instructions the model follows (a `RealtimeAgent` has this shape too). */
export interface Agent {
  /** A name for logs; not sent. */
  readonly name?: string;
  /** What the model should do and how it should sound. */
  readonly instructions: string;
}

/** Turn-detection settings (server VAD). Omitted fields keep the gateway's defaults. */
export interface TurnDetectionOptions {
  /** `false` for manual turns: end each turn with `sendAudio(…, { commit: true })`. */
  readonly enabled?: boolean;
  /** Speech probability threshold, 0–1 (higher needs louder speech). */
  readonly threshold?: number;
  /** Milliseconds of audio kept before detected speech, 0–5000. */
  readonly prefixPadding?: number;
  /** Milliseconds of silence that end the turn, 0–10000. */
  readonly silenceDuration?: number;
}

/** Options of {@linkcode VoiceSession}. */
export interface VoiceSessionOptions {
  /**
   * The gateway: its origin (`http://localhost:8000`, `wss://voice.example.com`) or the full
   * route (`ws://localhost:8000/api/v1/streaming/realtime/alice`). With an origin, the session
   * uses the authenticated route when a `token` is given and the open route otherwise.
   */
  readonly url: string | URL;
  /** A bearer token (or HS256 JWT) for the authenticated route. Sent as a subprotocol. */
  readonly token?: string;
  /** The user id on the open route when `url` is an origin. Default `"voice-session"`. */
  readonly userId?: string;
  /**
   * The model you expect. The gateway chooses the model; when this is set and the gateway
   * serves another one, `connect()` fails with a {@linkcode ConfigurationError}.
   */
  readonly model?: string;
  /** The model's voice (default: the gateway's). Cannot change after the model has spoken. */
  readonly voice?: Voice;
  /** An agent whose instructions the model follows. */
  readonly agent?: Agent;
  /** Instructions for the model (instead of an `agent`). */
  readonly instructions?: string;
  /** The user's language (BCP 47, e.g. `en`, `pt-BR`): transcription hint and reply language. */
  readonly language?: string;
  /** The app's audio rate, both directions. Default 24000 (the model's; no resampling). */
  readonly sampleRate?: number;
  /** Turn detection: `true` (default), `false` (manual turns) or settings. */
  readonly turnDetection?: boolean | TurnDetectionOptions;
  /** Milliseconds `connect()` may take. Default 10000. */
  readonly connectTimeout?: number;
  /** Functions the model may call; the app runs them (see {@linkcode VoiceSession.tools}). */
  readonly tools?: readonly AnyClientTool[];
}

/** RFC 7230 token characters: what a WebSocket subprotocol may contain. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The WebSocket subprotocols that carry the token (none without a token). */
export function tokenProtocols(token: string | undefined): string[] | undefined {
  if (token !== undefined && !TOKEN.test(token)) {
    throw new ConfigurationError(
      "Cannot use token: it may contain only letters, digits and !#$%&'*+-.^_`|~",
    );
  }
  return token ? ["realtime", `bearer.${token}`] : undefined;
}

/** Checks the session settings the gateway would refuse (voice, language, instructions). */
export function checkSessionOptions(options: VoiceSessionOptions): void {
  if (options.agent && options.instructions !== undefined) {
    throw new ConfigurationError("Cannot use both agent and instructions: choose one");
  }
  const { voice, language } = options;
  if (voice !== undefined && !(VOICES as readonly unknown[]).includes(voice)) {
    throw new ConfigurationError(
      `Cannot use voice ${JSON.stringify(voice)}: expected one of ${VOICES.join(", ")}`,
    );
  }
  if (
    language !== undefined && (typeof language !== "string" || !LANGUAGE_PATTERN.test(language))
  ) {
    throw new ConfigurationError(
      `Cannot use language ${
        JSON.stringify(language)
      }: expected a language code such as "en" or "pt-BR"`,
    );
  }
  const instructions = options.instructions ?? options.agent?.instructions;
  if (
    instructions !== undefined &&
    (typeof instructions !== "string" || instructions.length > MAX_INSTRUCTIONS_CHARS)
  ) {
    throw new ConfigurationError(
      `Cannot use ${
        options.agent ? "agent.instructions" : "instructions"
      }: expected text of at most ${MAX_INSTRUCTIONS_CHARS} characters`,
    );
  }
}

/** Checks a positive number of milliseconds. */
export function positive(value: number, name: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new ConfigurationError(`Cannot use ${name} ${value}: expected a positive number of ms`);
  }
  return value;
}

/** The WebSocket URL of the session's route. */
export function routeUrl(options: VoiceSessionOptions): string {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new ConfigurationError(
      `Cannot use url ${JSON.stringify(String(options.url))}: not a URL`,
    );
  }
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new ConfigurationError(
      `Cannot use url with ${url.protocol}: expected ws:, wss:, http: or https:`,
    );
  }
  if (url.pathname === "/" || url.pathname === "") {
    const userId = options.userId ?? "voice-session";
    if (!/^[A-Za-z0-9._~-]{1,128}$/.test(userId)) {
      throw new ConfigurationError(
        "Cannot use userId: expected 1–128 characters of A-Z a-z 0-9 . _ ~ -",
      );
    }
    url.pathname = options.token ? USER_API_PATH : `${USER_API_PATH}/${userId}`;
  }
  return url.href;
}

/** A URL fit for an error message: no credentials, no query. */
export function redact(href: string): string {
  const url = new URL(href);
  url.username = "";
  url.password = "";
  url.search = "";
  return url.href;
}

/** The wire setting for turn-detection options (checked). */
export function turnDetectionSetting(options: TurnDetectionOptions): TurnDetectionSetting {
  if (options.enabled === false) return { type: "none" };
  const { threshold, prefixPadding, silenceDuration } = options;
  return {
    type: "server_vad",
    ...(threshold === undefined ? {} : { threshold: inRange(threshold, 0, 1, "threshold") }),
    ...(prefixPadding === undefined
      ? {}
      : { prefix_padding_ms: inRange(prefixPadding, 0, 5000, "prefixPadding", true) }),
    ...(silenceDuration === undefined
      ? {}
      : { silence_duration_ms: inRange(silenceDuration, 0, 10_000, "silenceDuration", true) }),
  };
}

/** The wire setting equivalent to the turn detection in force. */
export function settingOf(info: TurnDetectionInfo | undefined): TurnDetectionSetting | undefined {
  if (!info || info.type !== "server_vad") return info;
  return {
    type: "server_vad",
    threshold: info.threshold,
    prefix_padding_ms: info.prefix_padding_ms,
    silence_duration_ms: info.silence_duration_ms,
  };
}

/** The turn detection in force, in the SDK's naming. */
export function turnDetectionOf(info: TurnDetectionInfo | undefined): TurnDetection | undefined {
  if (!info) return undefined;
  if (info.type !== "server_vad") return { mode: info.type };
  return {
    mode: "server_vad",
    threshold: info.threshold,
    prefixPadding: info.prefix_padding_ms,
    silenceDuration: info.silence_duration_ms,
  };
}

/** Options applied over the current setting: omitted fields keep their values. */
export function mergeTurnDetection(
  current: TurnDetectionSetting | undefined,
  lastVad: TurnDetectionSetting | undefined,
  patch: TurnDetectionSetting,
  options: TurnDetectionOptions,
): TurnDetectionSetting {
  if (patch.type !== "server_vad") return patch;
  const tuning = options.threshold !== undefined || options.prefixPadding !== undefined ||
    options.silenceDuration !== undefined;
  // `enabled: true` alone keeps semantic VAD if that is in force.
  if (!tuning && current && current.type !== "none") return current;
  const base = current?.type === "server_vad" ? current : lastVad;
  return base?.type === "server_vad" ? { ...base, ...patch } : patch;
}

function inRange(value: number, min: number, max: number, name: string, whole = false): number {
  if (
    typeof value !== "number" || !Number.isFinite(value) || value < min || value > max ||
    (whole && !Number.isInteger(value))
  ) {
    throw new ConfigurationError(
      `Cannot use ${name} ${value}: expected ${
        whole ? "a whole number " : ""
      }from ${min} to ${max}`,
    );
  }
  return value;
}
