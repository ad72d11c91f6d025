/**
 * The engine's deterministic reply rules (documented in `src/local/README.md`): which input a
 * response answers, and what it says and plays. Pure functions.
 */
import type { StoredAudio, StoredItem } from "./conversation.ts";
import type { ReplyPlan, TurnInput } from "./scenario.ts";
import type { FunctionTool, ToolChoice } from "../protocol/openai_realtime_client.ts";

/** The greeting's transcript. */
export const GREETING_TRANSCRIPT = "Hello! This is the local realtime engine.";

/** The idle re-prompt's transcript. */
export const IDLE_TRANSCRIPT = "Are you still there?";

/** Milliseconds of babble per transcript character for text replies, and its bounds. */
export const MS_PER_CHAR = 60;
const MIN_VOICE_MS = 600;
const MAX_VOICE_MS = 8000;
/** Longest echo played back. */
export const MAX_ECHO_MS = 60_000;
/** Margin kept around the detected speech when echoing a VAD turn. */
const ECHO_MARGIN_MS = 100;

/** What a response answers, with what the rules need beyond the scenario's view. */
export type ResolvedInput =
  | { readonly kind: "none" }
  | { readonly kind: "idle" }
  | { readonly kind: "text"; readonly text: string; readonly itemId: string }
  | { readonly kind: "tool_output"; readonly output: string; readonly callId: string }
  | {
    readonly kind: "audio";
    readonly itemId: string;
    readonly audio: StoredAudio | undefined;
    /** Duration the transcript reports: the detected speech, else the whole clip. */
    readonly speechMs: number;
    /** Part of the clip to echo. */
    readonly fromMs: number;
    readonly toMs: number;
  };

/** The scenario's view of an input. */
export function publicInput(input: ResolvedInput): TurnInput {
  switch (input.kind) {
    case "none":
    case "idle":
      return { kind: input.kind };
    case "text":
      return { kind: "text", text: input.text, itemId: input.itemId };
    case "tool_output":
      return { kind: "tool_output", output: input.output, callId: input.callId };
    case "audio":
      return { kind: "audio", ms: input.speechMs, itemId: input.itemId };
    default:
      return input satisfies never;
  }
}

/**
 * The input a response answers: the latest user message or tool output after the last model
 * output (assistant message or function call), scanning back from the end. System messages are
 * context, not input. Nothing found → the greeting.
 */
export function findInput(items: readonly StoredItem[]): ResolvedInput {
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i]!;
    switch (item.type) {
      case "function_call_output":
        return { kind: "tool_output", output: item.output, callId: item.call_id };
      case "function_call":
        return { kind: "none" };
      case "mcp_approval_response":
        continue;
      case "message": {
        if (item.role === "system") continue;
        if (item.role === "assistant") return { kind: "none" };
        const audio = item.content.find((p) => p.type === "input_audio");
        if (audio?.type === "input_audio") {
          const ms = audio.audio?.ms ?? 0;
          const speech = audio.speech;
          const fromMs = speech ? Math.max(0, speech.fromMs - ECHO_MARGIN_MS) : 0;
          const toMs = speech ? Math.min(ms, speech.toMs + ECHO_MARGIN_MS) : ms;
          return {
            kind: "audio",
            itemId: item.id,
            audio: audio.audio,
            speechMs: speech ? speech.toMs - speech.fromMs : ms,
            fromMs,
            toMs: Math.min(toMs, fromMs + MAX_ECHO_MS),
          };
        }
        const text = item.content.flatMap((p) => p.type === "input_text" ? [p.text] : []).join(
          "\n",
        );
        return { kind: "text", text, itemId: item.id };
      }
      default:
        return item satisfies never;
    }
  }
  return { kind: "none" };
}

/** What a reply plays. */
export type Sound =
  | { readonly type: "chime" }
  | { readonly type: "babble"; readonly ms: number }
  | {
    readonly type: "echo";
    readonly audio: StoredAudio | undefined;
    readonly fromMs: number;
    readonly toMs: number;
  };

/** A resolved reply. */
export type Reply =
  | { readonly kind: "speech"; readonly transcript: string; readonly sound: Sound }
  | { readonly kind: "tool_call"; readonly name: string; readonly arguments: string };

/** "1.8" for 1830 ms. */
export function seconds(ms: number): string {
  return (Math.round(ms / 100) / 10).toFixed(1);
}

/** The input transcription the engine reports for a user audio item. */
export function transcriptionOf(speechMs: number): string {
  return `(${seconds(speechMs)} seconds of speech)`;
}

function clip(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/** Babble length for a transcript. */
export function voiceMsFor(transcript: string): number {
  return Math.min(MAX_VOICE_MS, Math.max(MIN_VOICE_MS, transcript.length * MS_PER_CHAR));
}

/** `call <tool_name> {json}` → the tool name and normalised JSON arguments. */
export function parseCallRule(text: string): { name: string; arguments: string } | undefined {
  const match = text.match(/^\s*call\s+([A-Za-z0-9_.-]+)\s*([\s\S]*)$/i);
  if (!match) return undefined;
  const rest = match[2]!.trim();
  if (rest === "") return { name: match[1]!, arguments: "{}" };
  try {
    const parsed: unknown = JSON.parse(rest);
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return undefined;
    return { name: match[1]!, arguments: JSON.stringify(parsed) };
  } catch {
    return undefined;
  }
}

/** The default reply to an input, given the tools in effect. */
export function defaultReply(
  input: ResolvedInput,
  context: { readonly tools: readonly FunctionTool[]; readonly toolChoice: ToolChoice },
): Reply {
  const { tools, toolChoice } = context;
  if (toolChoice !== "none" && tools.length > 0) {
    const rule = input.kind === "text" ? parseCallRule(input.text) : undefined;
    const known = rule && tools.some((t) => t.name === rule.name) ? rule : undefined;
    if (typeof toolChoice === "object" && toolChoice.type === "function") {
      if (tools.some((t) => t.name === toolChoice.name)) {
        return {
          kind: "tool_call",
          name: toolChoice.name,
          arguments: known?.name === toolChoice.name ? known.arguments : "{}",
        };
      }
    } else if (known) {
      return { kind: "tool_call", name: known.name, arguments: known.arguments };
    } else if (toolChoice === "required" && input.kind !== "tool_output") {
      return { kind: "tool_call", name: tools[0]!.name, arguments: "{}" };
    }
  }
  switch (input.kind) {
    case "none":
      return { kind: "speech", transcript: GREETING_TRANSCRIPT, sound: { type: "chime" } };
    case "idle":
      return {
        kind: "speech",
        transcript: IDLE_TRANSCRIPT,
        sound: { type: "babble", ms: voiceMsFor(IDLE_TRANSCRIPT) },
      };
    case "audio":
      return {
        kind: "speech",
        transcript: `I heard ${seconds(input.speechMs)} seconds of speech.`,
        sound: { type: "echo", audio: input.audio, fromMs: input.fromMs, toMs: input.toMs },
      };
    case "text": {
      const transcript = `You said: “${clip(input.text)}”`;
      return { kind: "speech", transcript, sound: { type: "babble", ms: voiceMsFor(transcript) } };
    }
    case "tool_output": {
      const transcript = `The tool returned: ${clip(input.output)}`;
      return { kind: "speech", transcript, sound: { type: "babble", ms: voiceMsFor(transcript) } };
    }
    default:
      return input satisfies never;
  }
}

/** Applies a scenario plan's content fields over the default reply. */
export function planReply(defaults: Reply, plan: ReplyPlan | undefined): Reply {
  if (!plan) return defaults;
  if (plan.toolCall) {
    const args = plan.toolCall.arguments;
    return {
      kind: "tool_call",
      name: plan.toolCall.name,
      arguments: typeof args === "string" ? args : JSON.stringify(args ?? {}),
    };
  }
  if (plan.transcript === undefined && plan.audioMs === undefined) return defaults;
  const transcript = plan.transcript ??
    (defaults.kind === "speech" ? defaults.transcript : GREETING_TRANSCRIPT);
  return {
    kind: "speech",
    transcript,
    sound: { type: "babble", ms: plan.audioMs ?? voiceMsFor(transcript) },
  };
}
