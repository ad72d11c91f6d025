/**
 * Client tools: functions the app gives the model. The gateway forwards the model's calls
 * (`tool.call`) and the app's answers (`tool.result`); a call the gateway stops waiting for
 * (`tool.cancelled`: timeout, or the user interrupted) aborts the handler's signal.
 *
 * @module
 */
import {
  type ClientMessage,
  type ClientToolSpec,
  MAX_TOOL_OUTPUT_CHARS,
  TOOL_NAME_PATTERN,
} from "../protocol/user_api.ts";
import { ConfigurationError } from "./errors.ts";

/** What a tool handler gets besides its arguments. */
export interface ToolCallContext {
  /** The model's call id. */
  readonly callId: string;
  /** Aborted when the gateway stops waiting (timeout, interruption, disconnect). */
  readonly signal: AbortSignal;
}

/**
 * A tool the model may call. `parameters` is a zod 4 schema (the arguments are validated with
 * its `safeParse` and the model sees what its `toJSONSchema()` method gives) or a JSON schema
 * object (arguments arrive as parsed, unchecked). The SDK does not depend on zod: any schema
 * object with these two methods works.
 * The handler's return value is sent to the model as JSON (a string as it is); a thrown error
 * becomes `{ "ok": false, "error": message }`, which the model can speak about.
 */
export interface ClientTool<Args = Record<string, unknown>> {
  /** 1-64 letters, digits, `_` or `-`; unique among the app's tools. */
  readonly name: string;
  /** What the tool does, for the model. */
  readonly description?: string;
  /** A zod schema of the arguments, or a JSON schema object. */
  readonly parameters?: ArgumentSchema<Args> | Record<string, unknown>;
  /** Runs the tool; its result (or its error) goes back to the model. */
  handler(args: Args, context: ToolCallContext): unknown;
}

/**
 * A schema that validates arguments and describes them as JSON schema: a zod 4 schema
 * (`z.object({ … })`) has both methods.
 */
export interface ArgumentSchema<Args> {
  /** Validates `value`. */
  safeParse(
    value: unknown,
  ):
    | { readonly success: true; readonly data: Args }
    | {
      readonly success: false;
      readonly error: {
        readonly issues: readonly {
          readonly path: readonly PropertyKey[];
          readonly message: string;
        }[];
      };
    };
  /** The JSON schema of the arguments (zod 4: `io: "input"` describes what the model sends). */
  toJSONSchema(params?: { readonly io?: "input" | "output" }): object;
}

/** A tool of any argument type (a list of tools mixes them). */
// deno-lint-ignore no-explicit-any
export type AnyClientTool = ClientTool<any>;

function isSchema(value: unknown): value is ArgumentSchema<unknown> {
  return typeof value === "object" && value !== null && "safeParse" in value &&
    typeof value.safeParse === "function";
}

/** Checks a list of tools (names, schemas) and maps them by name. */
export function toolsByName(tools: readonly AnyClientTool[]): Map<string, AnyClientTool> {
  const byName = new Map<string, AnyClientTool>();
  for (const tool of tools) {
    if (!TOOL_NAME_PATTERN.test(tool.name) || byName.has(tool.name)) {
      throw new ConfigurationError(
        `Cannot use tool ${
          JSON.stringify(tool.name)
        }: names are 1-64 letters, digits, '_' or '-', each once`,
      );
    }
    const schema: unknown = tool.parameters;
    if (
      isSchema(schema) && !("toJSONSchema" in schema && typeof schema.toJSONSchema === "function")
    ) {
      throw new ConfigurationError(
        `Cannot use tool ${
          JSON.stringify(tool.name)
        }: its parameters schema has no toJSONSchema(); use a zod 4 schema or a JSON schema object`,
      );
    }
    byName.set(tool.name, tool);
  }
  return byName;
}

/** The wire declaration of a tool (`tools.update`). */
export function toolSpec(tool: AnyClientTool): ClientToolSpec {
  const schema: unknown = tool.parameters;
  let parameters: Record<string, unknown>;
  if (isSchema(schema)) {
    // zod adds the JSON schema dialect; the model needs only the schema.
    parameters = Object.fromEntries(
      Object.entries(schema.toJSONSchema({ io: "input" })).filter(([key]) => key !== "$schema"),
    );
  } else if (typeof schema === "object" && schema !== null) {
    parameters = Object.fromEntries(Object.entries(schema));
  } else parameters = { type: "object", properties: {} };
  return { name: tool.name, description: tool.description ?? "", parameters };
}

/** Runs a tool for a `tool.call`: the output to send, never a rejection. */
export async function runTool(
  tool: AnyClientTool | undefined,
  call: { readonly name: string; readonly arguments: string },
  context: ToolCallContext,
): Promise<{ output: string } | { error: string }> {
  if (!tool) return { error: `No tool "${call.name}" in this app` };
  let args: unknown;
  try {
    args = call.arguments.trim() === "" ? {} : JSON.parse(call.arguments);
  } catch {
    return { error: `The arguments of "${call.name}" are not valid JSON` };
  }
  const schema = tool.parameters;
  if (isSchema(schema)) {
    const parsed = schema.safeParse(args);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return {
        error: `Invalid arguments for "${call.name}": ${
          issue?.path.map(String).join(".") || "arguments"
        } ${issue?.message ?? "is invalid"}`,
      };
    }
    args = parsed.data;
  }
  try {
    const result = await (tool.handler as (a: unknown, c: ToolCallContext) => unknown)(
      args,
      context,
    );
    const output = typeof result === "string" ? result : JSON.stringify(result ?? null);
    return {
      output: output.length > MAX_TOOL_OUTPUT_CHARS
        ? output.slice(0, MAX_TOOL_OUTPUT_CHARS)
        : output,
    };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

/** The app's tools and the calls of them under way, for one session. */
export class ToolRunner {
  #tools = new Map<string, AnyClientTool>();
  /** Tool calls being run, by call id (aborted on `tool.cancelled` and on close). */
  readonly #calls = new Map<string, AbortController>();

  /** How many tools the app declared. */
  get size(): number {
    return this.#tools.size;
  }

  /** Replaces the tools (checked with {@linkcode toolsByName}). */
  set(tools: Map<string, AnyClientTool>): void {
    this.#tools = tools;
  }

  /** The `tools.update` message declaring them. */
  update(): ClientMessage {
    return {
      type: "tools.update",
      tools_update: { tools: [...this.#tools.values()].map(toolSpec) },
    };
  }

  /** Runs a `tool.call`; `answer` gets the `tool.result` unless the call was cancelled. */
  call(
    call: { readonly call_id: string; readonly name: string; readonly arguments: string },
    answer: (result: ClientMessage) => void,
  ): void {
    const abort = new AbortController();
    this.#calls.set(call.call_id, abort);
    void runTool(this.#tools.get(call.name), call, { callId: call.call_id, signal: abort.signal })
      .then((result) => {
        if (this.#calls.get(call.call_id) !== abort) return; // cancelled meanwhile
        this.#calls.delete(call.call_id);
        answer({ type: "tool.result", tool_result: { call_id: call.call_id, ...result } });
      });
  }

  /** The gateway stopped waiting for a call (`tool.cancelled`): aborts its handler. */
  cancel(callId: string, reason: string): void {
    const abort = this.#calls.get(callId);
    this.#calls.delete(callId);
    abort?.abort(new Error(`The gateway cancelled the call: ${reason}`));
  }

  /** The connection closed: aborts every call. */
  abortAll(): void {
    for (const abort of this.#calls.values()) abort.abort(new Error("The connection closed"));
    this.#calls.clear();
  }
}
