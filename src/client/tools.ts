/**
 * Client tools: functions the app gives the model. The gateway forwards the model's calls
 * (`tool.call`) and the app's answers (`tool.result`); a call the gateway stops waiting for
 * (`tool.cancelled`: timeout, or the user interrupted) aborts the handler's signal.
 *
 * @module
 */
import { z } from "zod";
import type { ClientToolSpec } from "../user/messages.ts";

/** What a tool handler gets besides its arguments. */
export interface ToolCallContext {
  /** The model's call id. */
  readonly callId: string;
  /** Aborted when the gateway stops waiting (timeout, interruption, disconnect). */
  readonly signal: AbortSignal;
}

/**
 * A tool the model may call. `parameters` is a zod schema (the arguments are validated with it
 * and the model sees its JSON schema) or a JSON schema object (arguments arrive as parsed).
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

/** A schema that validates arguments (a zod schema: `z.object({ … })`). */
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
}

/** A tool of any argument type (a list of tools mixes them). */
// deno-lint-ignore no-explicit-any
export type AnyClientTool = ClientTool<any>;

function isSchema(value: unknown): value is z.ZodType & ArgumentSchema<unknown> {
  return typeof value === "object" && value !== null && "safeParse" in value &&
    typeof value.safeParse === "function";
}

/** The wire declaration of a tool (`tools.update`). */
export function toolSpec(tool: AnyClientTool): ClientToolSpec {
  const schema: unknown = tool.parameters;
  let parameters: Record<string, unknown>;
  if (isSchema(schema)) {
    const { $schema: _, ...rest } = z.toJSONSchema(schema, { io: "input" });
    parameters = rest;
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
    return { output: output.length > 16_000 ? output.slice(0, 16_000) : output };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}
