/**
 * The replay history: what a new upstream session is told of the conversation so far (after a
 * reconnect, a recycle, or a call taken over from another instance), as text items, bounded in
 * entries and characters with the oldest going first.
 */
import type { ItemInput } from "../protocol/openai_realtime_client.ts";

/** One turn of the replay history. */
export interface HistoryEntry {
  readonly role: "user" | "assistant";
  readonly text: string;
  readonly itemId?: string;
}

/** Longest text of one entry. */
const MAX_ENTRY_CHARS = 4000;

/** The bounded replay history of one call. */
export class ReplayHistory {
  readonly #entries: HistoryEntry[] = [];
  readonly #maxTurns: number;
  readonly #maxChars: number;
  #chars = 0;
  #version = 0;

  constructor(options: { readonly maxTurns: number; readonly maxChars: number }) {
    this.#maxTurns = options.maxTurns;
    this.#maxChars = options.maxChars;
  }

  /** The entries, oldest first (a copy). */
  get entries(): readonly HistoryEntry[] {
    return [...this.#entries];
  }

  /** Entries and characters held. */
  get size(): { readonly turns: number; readonly chars: number } {
    return { turns: this.#entries.length, chars: this.#chars };
  }

  /** Bumped on every change (a replacement session prepared before it is stale). */
  get version(): number {
    return this.#version;
  }

  /** Adds a turn (its text cut to the bounds), dropping the oldest ones over the bounds. */
  remember(entry: HistoryEntry): void {
    const cap = Math.min(MAX_ENTRY_CHARS, this.#maxChars);
    const text = entry.text.length > cap ? entry.text.slice(0, cap) : entry.text;
    this.#entries.push(text === entry.text ? entry : { ...entry, text });
    this.#chars += text.length;
    this.#version++;
    while (
      this.#entries.length > this.#maxTurns ||
      (this.#chars > this.#maxChars && this.#entries.length > 0)
    ) {
      this.#chars -= this.#entries.shift()!.text.length;
    }
  }

  /** Forgets an item's turn (its words were truncated away server-side). */
  forget(itemId: string): void {
    const index = this.#entries.findIndex((h) => h.itemId === itemId);
    if (index < 0) return;
    this.#chars -= this.#entries.splice(index, 1)[0]!.text.length;
    this.#version++;
  }

  /** The entries as conversation items to create on a new session, oldest first. */
  items(): ItemInput[] {
    return this.#entries.map((entry): ItemInput =>
      entry.role === "user"
        ? { type: "message", role: "user", content: [{ type: "input_text", text: entry.text }] }
        : {
          type: "message",
          role: "assistant",
          content: [{ type: "output_text", text: entry.text }],
        }
    );
  }
}
