/**
 * The scenario hook: lets a test (or a demo) decide what each response does instead of the
 * default reply rules: force a tool call, a long reply, a delay, an error, a failed response or
 * a dropped connection.
 */
import type { FunctionTool } from "../protocol/openai_realtime_client.ts";

/** What the response answers. */
export type TurnInput =
  /** No user input since the last response: the greeting. */
  | { readonly kind: "none" }
  /** A committed (or created) user audio item of `ms` milliseconds. */
  | { readonly kind: "audio"; readonly ms: number; readonly itemId: string }
  /** A user text item. */
  | { readonly kind: "text"; readonly text: string; readonly itemId: string }
  /** A `function_call_output` item. */
  | { readonly kind: "tool_output"; readonly output: string; readonly callId: string }
  /** `idle_timeout_ms` fired with the caller silent. */
  | { readonly kind: "idle" };

/** What a scenario sees for each response. */
export interface ScenarioTurn {
  readonly sessionId: string;
  readonly responseId: string;
  /** 0 for the session's first response, then 1, 2, … */
  readonly responseIndex: number;
  readonly input: TurnInput;
  /** Function tools in effect for this response. */
  readonly tools: readonly FunctionTool[];
  readonly outputModalities: readonly ("audio" | "text")[];
  /** `"none"` for out-of-band responses. */
  readonly conversation: "auto" | "none";
  readonly metadata: Readonly<Record<string, string>> | null;
}

/** How one response should go; every field is optional and combines with the defaults. */
export interface ReplyPlan {
  /** Answer with a function call instead of speech (`arguments` as JSON text or an object). */
  readonly toolCall?: {
    readonly name: string;
    readonly arguments?: string | Readonly<Record<string, unknown>>;
  };
  /** Spoken reply of this length (a voice-like babble); default from the transcript length. */
  readonly audioMs?: number;
  /** The reply's transcript (or text); default from the reply rules. */
  readonly transcript?: string;
  /** Wait this long after `response.created` before the first output. */
  readonly delayMs?: number;
  /** Send this `error` event right after `response.created`; the response then goes on. */
  readonly error?: {
    readonly code: string;
    readonly message: string;
    readonly type?: "invalid_request_error" | "server_error";
    readonly param?: string | null;
  };
  /** End the response with `status: "failed"` and this error, without output. */
  readonly fail?: { readonly code: string; readonly message?: string; readonly type?: string };
  /** Close the socket abruptly (default code 1011) after this many audio deltas (default 0). */
  readonly disconnect?: {
    readonly code?: number;
    readonly reason?: string;
    readonly afterDeltas?: number;
  };
}

/** The hook: return a plan, or undefined for the default rules. */
export type Scenario = (turn: ScenarioTurn) => ReplyPlan | undefined;
