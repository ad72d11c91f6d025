/**
 * Barge-in arithmetic (ARCHITECTURE.md "Turn-taking, playout and barge-in"): how much of each
 * assistant item's audio the model generated, and where to truncate an item the caller cut
 * off — at the time played, skipped when nothing was played or the item was heard in full,
 * clamped to the audio generated, never negative.
 */
import type { Truncation } from "../realtime/transport.ts";
import type { Interrupted } from "./playout.ts";

/** What the model generated of one item's audio. */
export interface ItemAudio {
  generatedBytes: number;
  audioDone: boolean;
}

/** Items remembered (the oldest is forgotten first). */
const ITEMS_KEPT = 64;

/** The generated audio of the latest items of a session. */
export class ItemAudioLog {
  readonly #items = new Map<string, ItemAudio>();

  /** The item's record, created on first use. */
  track(itemId: string): ItemAudio {
    let item = this.#items.get(itemId);
    if (!item) {
      item = { generatedBytes: 0, audioDone: false };
      this.#items.set(itemId, item);
      if (this.#items.size > ITEMS_KEPT) this.#items.delete(this.#items.keys().next().value!);
    }
    return item;
  }

  /** The item's record, if known. */
  get(itemId: string): ItemAudio | undefined {
    return this.#items.get(itemId);
  }

  /** Forgets every item (a new session). */
  clear(): void {
    this.#items.clear();
  }
}

/**
 * Where to cut the item the caller heard when they barged in, or undefined when no truncate is
 * due: nothing was played, or the whole item (its audio done) was heard. `audioEndMs` is the
 * time played, clamped to the audio generated (the time sent when the item is unknown).
 */
export function truncationFor(
  heard: Interrupted | undefined,
  options: { readonly item: ItemAudio | undefined; readonly bytesPerMs: number },
): Truncation | undefined {
  if (heard === undefined || !(heard.playedMs > 0)) return undefined;
  const { item, bytesPerMs } = options;
  const generatedMs = item ? Math.floor(item.generatedBytes / bytesPerMs) : heard.sentMs;
  if (item !== undefined && item.audioDone && heard.playedMs >= generatedMs) return undefined;
  return {
    itemId: heard.itemId,
    contentIndex: 0,
    audioEndMs: Math.max(0, Math.floor(Math.min(heard.playedMs, generatedMs))),
  };
}
