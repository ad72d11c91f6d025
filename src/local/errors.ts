/**
 * The `error` payloads the engine sends (§4.1, §7 of the protocol reference), with the service's
 * codes and message wording where it is known, and the mapping of zod issues onto them.
 */
import type { z } from "zod";

/** The `error` object inside an `error` event. */
export interface WireError {
  readonly type: "invalid_request_error" | "server_error";
  readonly code: string | null;
  readonly message: string;
  readonly param: string | null;
  readonly event_id: string | null;
}

/** Builds an `invalid_request_error`. */
export function invalidRequest(
  code: string,
  message: string,
  options: { param?: string | null; eventId?: string | undefined } = {},
): WireError {
  return {
    type: "invalid_request_error",
    code,
    message,
    param: options.param ?? null,
    event_id: options.eventId ?? null,
  };
}

const quote = (value: unknown): string =>
  typeof value === "string" ? `'${value}'` : JSON.stringify(value) ?? String(value);

/** `Supported values are: 'a', 'b', and 'c'.` */
function supported(values: readonly unknown[]): string {
  const shown = values.map(quote);
  if (shown.length <= 1) return shown.join("");
  if (shown.length === 2) return `${shown[0]} and ${shown[1]}`;
  return `${shown.slice(0, -1).join(", ")}, and ${shown.at(-1)}`;
}

/** Dotted parameter path, e.g. `session.audio.input.format.type` or `item.content[0].type`. */
export function paramPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

function valueAt(data: unknown, path: readonly PropertyKey[]): { found: boolean; value: unknown } {
  let current: unknown = data;
  for (const key of path) {
    if (current === null || typeof current !== "object" || !Object.hasOwn(current, key)) {
      return { found: false, value: undefined };
    }
    current = Reflect.get(current, key);
  }
  return { found: true, value: current };
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "number") return Number.isInteger(value) ? "an integer" : "a decimal";
  if (typeof value === "string") return "a string";
  if (typeof value === "boolean") return "a boolean";
  if (typeof value === "object") return "an object";
  return typeof value;
}

function expectedName(expected: string): string {
  switch (expected) {
    case "string":
      return "a string";
    case "number":
      return "a decimal";
    case "int":
      return "an integer";
    case "boolean":
      return "a boolean";
    case "object":
    case "record":
      return "an object";
    case "array":
      return "an array";
    default:
      return expected;
  }
}

const PRIORITY: Record<string, number> = { unrecognized_keys: 0, invalid_type: 1 };

/**
 * Turns the first zod issue (unknown fields first, as the service reports them) into the
 * service's error: `unknown_parameter`, `missing_required_parameter`, `invalid_type`,
 * `invalid_value`, or a range error such as `integer_above_max_value`.
 */
export function errorFromIssues(
  issues: readonly z.core.$ZodIssue[],
  data: unknown,
  options: { prefix?: readonly PropertyKey[]; eventId?: string | undefined } = {},
): WireError {
  const sorted = [...issues].sort((a, b) => (PRIORITY[a.code] ?? 2) - (PRIORITY[b.code] ?? 2));
  const issue = sorted[0];
  const eventId = options.eventId;
  const prefix = options.prefix ?? [];
  if (!issue) return invalidRequest("invalid_event", "The event is invalid.", { eventId });
  const path = [...prefix, ...issue.path];
  switch (issue.code) {
    case "unrecognized_keys": {
      const param = paramPath([...path, issue.keys[0] ?? ""]);
      return invalidRequest("unknown_parameter", `Unknown parameter: '${param}'.`, {
        param,
        eventId,
      });
    }
    case "invalid_type": {
      const param = paramPath(path);
      const at = valueAt(data, issue.path);
      if (!at.found || at.value === undefined) {
        return invalidRequest(
          "missing_required_parameter",
          `Missing required parameter: '${param}'.`,
          { param, eventId },
        );
      }
      return invalidRequest(
        "invalid_type",
        `Invalid type for '${param}': expected ${expectedName(issue.expected)}, but got ${
          typeName(at.value)
        } instead.`,
        { param, eventId },
      );
    }
    case "invalid_value": {
      const param = paramPath(path);
      const at = valueAt(data, issue.path);
      return invalidRequest(
        "invalid_value",
        `Invalid value: ${quote(at.value)}. Supported values are: ${supported(issue.values)}.`,
        { param, eventId },
      );
    }
    case "invalid_union": {
      // A discriminated union with an unknown discriminator reports the discriminator's path.
      const param = paramPath(path);
      const at = valueAt(data, issue.path);
      if (!at.found) {
        return invalidRequest(
          "missing_required_parameter",
          `Missing required parameter: '${param}'.`,
          { param, eventId },
        );
      }
      const options = "options" in issue && Array.isArray(issue.options) ? issue.options : [];
      return invalidRequest(
        "invalid_value",
        options.length > 0
          ? `Invalid value: ${quote(at.value)}. Supported values are: ${supported(options)}.`
          : `Invalid value for '${param}'.`,
        { param, eventId },
      );
    }
    case "too_big":
    case "too_small": {
      const param = paramPath(path);
      const at = valueAt(data, issue.path);
      const limit = issue.code === "too_big" ? issue.maximum : issue.minimum;
      if (issue.origin === "number" || issue.origin === "int") {
        const kind = Number.isInteger(at.value) ? "integer" : "decimal";
        const side = issue.code === "too_big" ? "above_max_value" : "below_min_value";
        const words = issue.code === "too_big" ? "above maximum value" : "below minimum value";
        const cmp = issue.code === "too_big" ? "<=" : ">=";
        return invalidRequest(
          `${kind}_${side}`,
          `Invalid '${param}': ${kind} ${words}. Expected a value ${cmp} ${
            String(limit)
          }, but got ${String(at.value)} instead.`,
          { param, eventId },
        );
      }
      const side = issue.code === "too_big" ? "above_max_length" : "below_min_length";
      return invalidRequest(
        `array_${side}`,
        `Invalid '${param}': ${
          issue.code === "too_big" ? "too long" : "too short"
        }. Expected a length ${issue.code === "too_big" ? "<=" : ">="} ${String(limit)}.`,
        { param, eventId },
      );
    }
    default: {
      const param = paramPath(path);
      return invalidRequest("invalid_value", `Invalid value for '${param}'.`, { param, eventId });
    }
  }
}

/** Unknown event type (§7.1). */
export function unknownEventType(type: string, supportedTypes: readonly string[]): WireError {
  return invalidRequest(
    "invalid_value",
    `Invalid value: '${type}'. Supported values are: ${supported(supportedTypes)}.`,
    { param: "type" },
  );
}
