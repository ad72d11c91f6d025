/**
 * Client event ids (`evt_1`, `evt_2`, …) and the types of the latest ones, so that an upstream
 * `error` naming an `event_id` can say which of our events it refused.
 */
import type { ClientEventType } from "../protocol/openai_realtime_client.ts";

/** Event ids remembered with their type. */
const KEPT = 128;

/** The event ids of one call. */
export class EventIds {
  #counter = 0;
  readonly #types = new Map<string, ClientEventType>();

  /** A new id for an event of this type. */
  next(type: ClientEventType): string {
    const id = `evt_${++this.#counter}`;
    this.#types.set(id, type);
    if (this.#types.size > KEPT) this.#types.delete(this.#types.keys().next().value!);
    return id;
  }

  /** The type of the event with this id, if it is one of the latest. */
  typeOf(eventId: string | undefined): ClientEventType | undefined {
    return eventId === undefined ? undefined : this.#types.get(eventId);
  }
}
