/**
 * Plausible token accounting for `response.done.usage` (§4.8) and `rate_limits.updated` (§4.13).
 * Estimates: text ≈ 4 characters per token, input audio 10 tokens/s, output audio 20 tokens/s.
 */
import type { StoredItem } from "./conversation.ts";

/** `response.usage`. */
export interface Usage {
  readonly total_tokens: number;
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly input_token_details: {
    readonly text_tokens: number;
    readonly audio_tokens: number;
    readonly image_tokens: number;
    readonly cached_tokens: number;
    readonly cached_tokens_details: {
      readonly text_tokens: number;
      readonly audio_tokens: number;
      readonly image_tokens: number;
    };
  };
  readonly output_token_details: { readonly text_tokens: number; readonly audio_tokens: number };
}

/** Tokens of a text. */
export function textTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** Tokens of input audio. */
export function inputAudioTokens(ms: number): number {
  return Math.ceil(ms / 100);
}

/** Tokens of output audio. */
export function outputAudioTokens(ms: number): number {
  return Math.ceil(ms / 50);
}

/** Usage of a response over its context and output. */
export function usageOf(
  context: { readonly instructions: string; readonly items: readonly StoredItem[] },
  output: { readonly text: string; readonly audioMs: number },
): Usage {
  let text = textTokens(context.instructions);
  let audio = 0;
  let image = 0;
  for (const item of context.items) {
    switch (item.type) {
      case "message":
        for (const part of item.content) {
          if (part.type === "input_text" || part.type === "output_text") {
            text += textTokens(part.text);
          } else if (part.type === "input_audio") audio += inputAudioTokens(part.audio?.ms ?? 0);
          else if (part.type === "output_audio") {
            // Earlier model audio is billed again as input (§4.8).
            audio += inputAudioTokens(part.audio?.ms ?? 0);
          } else image += 85;
        }
        break;
      case "function_call":
        text += textTokens(item.name + item.arguments);
        break;
      case "function_call_output":
        text += textTokens(item.output);
        break;
      case "mcp_approval_response":
        text += 4;
        break;
      default:
        item satisfies never;
    }
  }
  const outText = textTokens(output.text);
  const outAudio = outputAudioTokens(output.audioMs);
  const input = text + audio + image;
  return {
    total_tokens: input + outText + outAudio,
    input_tokens: input,
    output_tokens: outText + outAudio,
    input_token_details: {
      text_tokens: text,
      audio_tokens: audio,
      image_tokens: image,
      cached_tokens: 0,
      cached_tokens_details: { text_tokens: 0, audio_tokens: 0, image_tokens: 0 },
    },
    output_token_details: { text_tokens: outText, audio_tokens: outAudio },
  };
}

/** The `rate_limits` array after a response of `tokens` tokens. */
export function rateLimits(tokens: number): {
  name: "requests" | "tokens";
  limit: number;
  remaining: number;
  reset_seconds: number;
}[] {
  const limit = 40_000;
  return [
    { name: "requests", limit: 5000, remaining: 4999, reset_seconds: 0.012 },
    {
      name: "tokens",
      limit,
      remaining: Math.max(0, limit - tokens),
      reset_seconds: Math.round((tokens / limit) * 60 * 1000) / 1000,
    },
  ];
}
