/**
 * The effective GA session configuration: defaults as `session.created` shows them (§2.1) and the
 * pure merge of a `session.update` into it (§2.8). A refused update changes nothing.
 */
import type { AudioFormat } from "./audio_format.ts";
import type { WireError } from "./errors.ts";
import { invalidRequest } from "./errors.ts";
import type {
  SessionPatch,
  Tool,
  ToolChoice,
  TurnDetection,
  Voice,
} from "../protocol/openai_realtime_client.ts";

/** Effective `server_vad` settings (every field filled). */
export interface ServerVad {
  readonly type: "server_vad";
  readonly threshold: number;
  readonly prefix_padding_ms: number;
  readonly silence_duration_ms: number;
  readonly idle_timeout_ms: number | null;
  readonly create_response: boolean;
  readonly interrupt_response: boolean;
}

/** Effective `semantic_vad` settings. */
export interface SemanticVad {
  readonly type: "semantic_vad";
  readonly eagerness: "low" | "medium" | "high" | "auto";
  readonly create_response: boolean;
  readonly interrupt_response: boolean;
}

/** Effective turn detection; `null` = manual commits only. */
export type EffectiveTurnDetection = ServerVad | SemanticVad | null;

/** Effective input transcription settings. */
export interface TranscriptionConfig {
  readonly model: string;
  /** Absent when unset: the GA schema has `language?: string`, never `null`. */
  readonly language?: string;
  readonly prompt?: string;
  readonly [extra: string]: unknown;
}

/** The session object the engine echoes in `session.created` / `session.updated`. */
export interface SessionConfig {
  readonly type: "realtime";
  readonly object: "realtime.session";
  readonly id: string;
  readonly model: string;
  readonly output_modalities: readonly ("audio" | "text")[];
  readonly instructions: string;
  readonly tools: readonly Tool[];
  readonly tool_choice: ToolChoice;
  readonly max_output_tokens: number | "inf";
  readonly tracing: unknown;
  readonly truncation: unknown;
  readonly prompt: unknown;
  readonly expires_at: number;
  readonly include: readonly string[] | null;
  readonly parallel_tool_calls?: boolean;
  readonly reasoning?: unknown;
  readonly audio: {
    readonly input: {
      readonly format: AudioFormat;
      readonly transcription: TranscriptionConfig | null;
      readonly noise_reduction: { readonly type: "near_field" | "far_field" } | null;
      readonly turn_detection: EffectiveTurnDetection;
    };
    readonly output: {
      readonly format: AudioFormat;
      readonly voice: Voice;
      readonly speed: number;
    };
  };
}

/** The engine's default instructions (the service has a long built-in prompt here). */
export const DEFAULT_INSTRUCTIONS =
  "You are the local realtime engine, an offline stand-in for a speech-to-speech model. " +
  "Greet with a chime, echo what the caller says, and quote what they type.";

/** The default `server_vad` settings, as GA servers echo them (§2.1). */
export const DEFAULT_SERVER_VAD: ServerVad = {
  type: "server_vad",
  threshold: 0.5,
  prefix_padding_ms: 300,
  silence_duration_ms: 200,
  idle_timeout_ms: null,
  create_response: true,
  interrupt_response: true,
};

/** The configuration of a new session. */
export function defaultSessionConfig(
  options: { id: string; model: string; expiresAt: number },
): SessionConfig {
  return {
    type: "realtime",
    object: "realtime.session",
    id: options.id,
    model: options.model,
    output_modalities: ["audio"],
    instructions: DEFAULT_INSTRUCTIONS,
    tools: [],
    tool_choice: "auto",
    max_output_tokens: "inf",
    tracing: null,
    truncation: "auto",
    prompt: null,
    expires_at: options.expiresAt,
    include: null,
    audio: {
      input: {
        format: { type: "audio/pcm", rate: 24000 },
        transcription: null,
        noise_reduction: null,
        turn_detection: DEFAULT_SERVER_VAD,
      },
      output: {
        format: { type: "audio/pcm", rate: 24000 },
        voice: "alloy",
        speed: 1.0,
      },
    },
  };
}

/** Fills the fields a partial turn-detection object leaves out (§2.3). */
export function effectiveTurnDetection(td: TurnDetection | null): EffectiveTurnDetection {
  if (td === null) return null;
  if (td.type === "semantic_vad") {
    return {
      type: "semantic_vad",
      eagerness: td.eagerness ?? "auto",
      create_response: td.create_response ?? true,
      interrupt_response: td.interrupt_response ?? true,
    };
  }
  return {
    type: "server_vad",
    threshold: td.threshold ?? DEFAULT_SERVER_VAD.threshold,
    prefix_padding_ms: td.prefix_padding_ms ?? DEFAULT_SERVER_VAD.prefix_padding_ms,
    silence_duration_ms: td.silence_duration_ms ?? DEFAULT_SERVER_VAD.silence_duration_ms,
    idle_timeout_ms: td.idle_timeout_ms ?? null,
    create_response: td.create_response ?? true,
    interrupt_response: td.interrupt_response ?? true,
  };
}

/** Normalises a format object (PCM always carries its rate in echoes). */
export function effectiveFormat(
  format: { type: "audio/pcm"; rate?: 24000 } | { type: "audio/pcmu" } | { type: "audio/pcma" },
): AudioFormat {
  return format.type === "audio/pcm" ? { type: "audio/pcm", rate: 24000 } : { type: format.type };
}

const sameVoice = (a: Voice, b: Voice): boolean =>
  typeof a === "string" || typeof b === "string" ? a === b : a.id === b.id;

/** The outcome of a `session.update`. */
export type UpdateResult =
  | { readonly ok: true; readonly config: SessionConfig }
  | { readonly ok: false; readonly error: WireError };

/**
 * Merges a validated session patch into the configuration: top-level fields replace, `audio.input`
 * and `audio.output` merge field by field.
 */
export function applySessionPatch(
  config: SessionConfig,
  patch: SessionPatch,
  context: { readonly audioProduced: boolean; readonly eventId?: string | undefined },
): UpdateResult {
  const eventId = context.eventId;
  if (patch.type !== "realtime") {
    return {
      ok: false,
      error: invalidRequest(
        "invalid_value",
        "Passing a transcription session update event to a realtime session is not allowed.",
        { param: "session.type", eventId },
      ),
    };
  }
  const voice = patch.audio?.output?.voice;
  if (
    voice !== undefined && context.audioProduced && !sameVoice(voice, config.audio.output.voice)
  ) {
    return {
      ok: false,
      error: invalidRequest(
        "cannot_update_voice",
        "Cannot update a conversation's voice if assistant audio is present.",
        { param: "session.audio.output.voice", eventId },
      ),
    };
  }
  const input = patch.audio?.input;
  const output = patch.audio?.output;
  const transcription = input?.transcription === undefined
    ? config.audio.input.transcription
    : input.transcription === null
    ? null
    : withoutNulls({
      ...input.transcription,
      model: input.transcription.model ?? "whisper-1",
    });
  const next: SessionConfig = {
    ...config,
    ...(patch.instructions === undefined ? {} : { instructions: patch.instructions }),
    ...(patch.output_modalities === undefined
      ? {}
      : { output_modalities: patch.output_modalities }),
    ...(patch.tools === undefined ? {} : { tools: patch.tools }),
    ...(patch.tool_choice === undefined ? {} : { tool_choice: patch.tool_choice }),
    ...(patch.max_output_tokens === undefined
      ? {}
      : { max_output_tokens: patch.max_output_tokens }),
    ...(patch.tracing === undefined ? {} : { tracing: patch.tracing }),
    ...(patch.truncation === undefined ? {} : { truncation: patch.truncation }),
    ...(patch.prompt === undefined ? {} : { prompt: patch.prompt }),
    ...(patch.include === undefined ? {} : { include: patch.include }),
    ...(patch.parallel_tool_calls === undefined
      ? {}
      : { parallel_tool_calls: patch.parallel_tool_calls }),
    ...(patch.reasoning === undefined ? {} : { reasoning: patch.reasoning }),
    audio: {
      input: {
        format: input?.format ? effectiveFormat(input.format) : config.audio.input.format,
        transcription,
        noise_reduction: input?.noise_reduction === undefined
          ? config.audio.input.noise_reduction
          : input.noise_reduction,
        turn_detection: input?.turn_detection === undefined
          ? config.audio.input.turn_detection
          : effectiveTurnDetection(input.turn_detection),
      },
      output: {
        format: output?.format ? effectiveFormat(output.format) : config.audio.output.format,
        voice: output?.voice ?? config.audio.output.voice,
        speed: output?.speed ?? config.audio.output.speed,
      },
    },
  };
  return { ok: true, config: next };
}

/** The transcription settings without `null` fields: the GA schema has none (§2.4). */
function withoutNulls(
  transcription: Record<string, unknown> & { model: string },
): TranscriptionConfig {
  const out: Record<string, unknown> & { model: string } = { model: transcription.model };
  for (const [key, value] of Object.entries(transcription)) {
    if (value !== null && value !== undefined) out[key] = value;
  }
  return out;
}
