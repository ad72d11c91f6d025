/**
 * A client frame to a typed client event: JSON, an object, a known `type`, then the event's
 * schema; each failure is the error event the service sends for it (§3, §7).
 */
import type { WireError } from "./errors.ts";
import { errorFromIssues, invalidRequest, unknownEventType } from "./errors.ts";
import type { ClientEvent, ClientEventType } from "../protocol/openai_realtime_client.ts";
import { CLIENT_EVENT_SCHEMAS, isClientEventType } from "../protocol/openai_realtime_client.ts";

/** One handler per client event type. */
export type ClientEventHandlers = {
  readonly [K in ClientEventType]: (event: Extract<ClientEvent, { type: K }>) => void;
};

/** The error of a binary frame: events are JSON text frames. */
export function binaryFrameError(): WireError {
  return invalidRequest(
    "invalid_event",
    "Binary frames are not supported: send each event as a JSON text frame.",
  );
}

/** Parses a text frame and calls its event's handler; returns the error event when invalid. */
export function dispatchClientFrame(
  data: string,
  handlers: ClientEventHandlers,
): WireError | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    return invalidRequest(
      "invalid_json",
      "The event could not be parsed as JSON. Each event must be one JSON object.",
    );
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    return invalidRequest("invalid_event", "The event must be a JSON object.");
  }
  const eventIdValue: unknown = Reflect.get(raw, "event_id");
  const eventId = typeof eventIdValue === "string" ? eventIdValue : undefined;
  const type: unknown = Reflect.get(raw, "type");
  if (type === undefined) {
    return invalidRequest("invalid_event", "The 'type' field is missing.", { eventId });
  }
  if (typeof type !== "string") {
    return invalidRequest(
      "invalid_type",
      "Invalid type for 'type': expected a string.",
      { param: "type", eventId },
    );
  }
  if (!isClientEventType(type)) {
    return {
      ...unknownEventType(type, Object.keys(CLIENT_EVENT_SCHEMAS)),
      event_id: eventId ?? null,
    };
  }
  return route(type, raw, eventId, handlers);
}

function route<K extends ClientEventType>(
  type: K,
  raw: object,
  eventId: string | undefined,
  handlers: ClientEventHandlers,
): WireError | undefined {
  const schema = CLIENT_EVENT_SCHEMAS[type];
  const parsed = schema.safeParse(raw);
  if (!parsed.success) return errorFromIssues(parsed.error.issues, raw, { eventId });
  const handler: (event: Extract<ClientEvent, { type: K }>) => void = handlers[type];
  handler(parsed.data);
  return undefined;
}
