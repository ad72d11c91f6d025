/**
 * Builds the GA `session.update` payload (openai-realtime.md §2.1, §2.10) for one call from the
 * gateway config, the negotiated audio format and the call's data.
 */
import type { Config } from "../config.ts";
import type { RealtimeFormat } from "../protocol/media_format.ts";

/** A function tool declared to the model. */
export interface FunctionTool {
  readonly type: "function";
  readonly name: string;
  readonly description: string;
  readonly parameters: Record<string, unknown>;
}

/** Per-session choices the Bridge owner makes. */
export interface SessionOptions {
  readonly format: RealtimeFormat;
  readonly instructions: string;
  readonly voice: string;
  readonly tools: readonly FunctionTool[];
  /** Turn detection; `null` means the client commits turns itself. */
  readonly turnDetection: Record<string, unknown> | null;
  /** Input transcription model, or `null` for none. */
  readonly transcriptionModel: string | null;
  readonly language?: string;
}

/** The `turn_detection` object from config (every field set, §2.3). */
export function turnDetectionFromConfig(config: Config): Record<string, unknown> | null {
  switch (config.TURN_DETECTION) {
    case "off":
      return null;
    case "semantic_vad":
      // The gateway owns barge-in (it knows what was played), so the server never cancels.
      return { type: "semantic_vad", create_response: true, interrupt_response: false };
    case "server_vad":
      return {
        type: "server_vad",
        threshold: config.VAD_THRESHOLD,
        prefix_padding_ms: config.VAD_PREFIX_PADDING_MS,
        silence_duration_ms: config.VAD_SILENCE_MS,
        idle_timeout_ms: null,
        create_response: true,
        interrupt_response: false,
      };
    default:
      return config.TURN_DETECTION satisfies never;
  }
}

/** Fills `{caller}`, `{callee}`, `{callerDisplayName}` … placeholders from call data. */
export function fillTemplate(text: string, data: Readonly<Record<string, unknown>>): string {
  return text.replace(/\{(\w+)\}/g, (whole, key: string) => {
    const value = data[key];
    return typeof value === "string" || typeof value === "number" ? String(value) : whole;
  });
}

/** The `session` object of a GA `session.update`. */
export function sessionUpdate(options: SessionOptions): Record<string, unknown> {
  return {
    type: "realtime",
    output_modalities: ["audio"],
    instructions: options.instructions,
    audio: {
      input: {
        format: options.format,
        transcription: options.transcriptionModel === null ? null : {
          model: options.transcriptionModel,
          ...(options.language ? { language: options.language } : {}),
        },
        // No `noise_reduction`: omitted, the service keeps its default (off, §2.5).
        turn_detection: options.turnDetection,
      },
      output: { format: options.format, voice: options.voice, speed: 1.0 },
    },
    tools: options.tools,
    tool_choice: "auto",
  };
}
