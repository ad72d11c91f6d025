/**
 * The default conversation of a session: ordered items with their audio (§3.5–3.8, §4.4–4.5).
 * Audio bytes are kept beside the wire shape so `added`/`done` never carry them while
 * `conversation.item.retrieve` does.
 */
import type { AudioFormat } from "./audio_format.ts";
import { bytesPerMs } from "./audio_format.ts";

/** A content part as the engine stores and sends it. */
export type StoredContent =
  | { type: "input_text"; text: string }
  | {
    type: "input_audio";
    /**
     * `null` until transcribed, as the service sends it (§4.4). The GA reference types mark it
     * optional, but the Agents SDK's item schema requires the field (`string | null`) and
     * rejects the whole event without it, so it stays present.
     */
    transcript: string | null;
    audio?: StoredAudio;
    /** Detected speech inside the clip (ms from its start), for VAD turns; never sent. */
    speech?: { fromMs: number; toMs: number };
  }
  | { type: "input_image"; image_url?: string; detail?: "auto" | "low" | "high" }
  | { type: "output_text"; text: string }
  | {
    type: "output_audio";
    transcript: string;
    audio?: StoredAudio;
    /** Truncated by the client (possibly while still streaming); never sent. */
    truncated?: boolean;
  };

/** Audio bytes of a content part, in the format they were produced or appended in. */
export interface StoredAudio {
  bytes: Uint8Array<ArrayBuffer> | undefined;
  readonly format: AudioFormat;
  /** Duration, kept when the bytes are dropped to save memory. */
  ms: number;
}

/** An item as the engine stores it. */
export type StoredItem =
  | {
    id: string;
    type: "message";
    role: "system" | "user" | "assistant";
    status: "completed" | "incomplete" | "in_progress";
    content: StoredContent[];
  }
  | {
    id: string;
    type: "function_call";
    status: "completed" | "incomplete" | "in_progress";
    name: string;
    call_id: string;
    arguments: string;
  }
  | { id: string; type: "function_call_output"; call_id: string; output: string }
  | {
    id: string;
    type: "mcp_approval_response";
    approval_request_id: string;
    approve: boolean;
    reason: string | null;
  };

/** The JSON shape of an item on the wire. */
export type WireItem = Record<string, unknown>;

/** Serialises an item; `withAudio` adds base64 audio (for `conversation.item.retrieved`). */
export function wireItem(item: StoredItem, withAudio = false): WireItem {
  if (item.type !== "message") return { ...item, object: "realtime.item" };
  return {
    id: item.id,
    object: "realtime.item",
    type: "message",
    status: item.status,
    role: item.role,
    content: item.content.map((part) => {
      if (part.type === "output_audio") {
        const { audio, truncated: _truncated, ...rest } = part;
        if (!withAudio || !audio?.bytes) return rest;
        return { ...rest, audio: audio.bytes.toBase64(), format: audio.format };
      }
      if (part.type !== "input_audio") return { ...part };
      const { audio, speech: _speech, ...rest } = part;
      if (!withAudio || !audio?.bytes) return rest;
      // §0.1: retrieved items carry the audio and its format.
      return { ...rest, audio: audio.bytes.toBase64(), format: audio.format };
    }),
  };
}

/** Where an item goes: after an id, at the start (`"root"`), or at the end. */
export type Placement = string | null | undefined;

/** Ordered items of one conversation. */
export class Conversation {
  readonly id: string;
  readonly #items: StoredItem[] = [];
  #audioBytes = 0;
  readonly #maxAudioBytes: number;

  constructor(id: string, options: { maxAudioBytes: number }) {
    this.id = id;
    this.#maxAudioBytes = options.maxAudioBytes;
  }

  /** Items in order. */
  get items(): readonly StoredItem[] {
    return this.#items;
  }

  /** The item with this id. */
  get(id: string): StoredItem | undefined {
    return this.#items.find((item) => item.id === id);
  }

  /** Whether `previous` names a place the conversation has (`"root"`, absent, or an item). */
  canPlace(previous: Placement): boolean {
    return previous === undefined || previous === null || previous === "root" ||
      this.get(previous) !== undefined;
  }

  /** Inserts an item and returns the id of the item before it (or null). */
  insert(item: StoredItem, previous: Placement = undefined): string | null {
    let index = this.#items.length;
    if (previous === "root") index = 0;
    else if (typeof previous === "string") {
      const at = this.#items.findIndex((i) => i.id === previous);
      if (at >= 0) index = at + 1;
    }
    this.#items.splice(index, 0, item);
    this.#account(item);
    return index === 0 ? null : this.#items[index - 1]!.id;
  }

  /** The id of the item before `id` (or null). */
  previousOf(id: string): string | null {
    const at = this.#items.findIndex((i) => i.id === id);
    return at > 0 ? this.#items[at - 1]!.id : null;
  }

  /** The id of the last item (or null). */
  lastId(): string | null {
    return this.#items.at(-1)?.id ?? null;
  }

  /** Removes an item; false when there is none. */
  delete(id: string): boolean {
    const at = this.#items.findIndex((i) => i.id === id);
    if (at < 0) return false;
    const [item] = this.#items.splice(at, 1);
    if (item?.type === "message") {
      for (const part of item.content) {
        if ((part.type === "input_audio" || part.type === "output_audio") && part.audio?.bytes) {
          this.#audioBytes -= part.audio.bytes.byteLength;
        }
      }
    }
    return true;
  }

  /** The function call with this call id, if any. */
  findCall(callId: string): StoredItem | undefined {
    return this.#items.find((i) => i.type === "function_call" && i.call_id === callId);
  }

  /** Records audio added to an item after insertion (streamed output). */
  addAudioBytes(bytes: number): void {
    this.#audioBytes += bytes;
    this.#enforceCap();
  }

  /** Records audio removed from an item (truncation). */
  removeAudioBytes(bytes: number): void {
    this.#audioBytes -= bytes;
  }

  #account(item: StoredItem): void {
    if (item.type !== "message") return;
    for (const part of item.content) {
      if ((part.type === "input_audio" || part.type === "output_audio") && part.audio?.bytes) {
        this.#audioBytes += part.audio.bytes.byteLength;
      }
    }
    this.#enforceCap();
  }

  /** Drops the audio bytes of the oldest items (keeping durations) above the memory cap. */
  #enforceCap(): void {
    for (const item of this.#items) {
      if (this.#audioBytes <= this.#maxAudioBytes) return;
      if (item.type !== "message") continue;
      for (const part of item.content) {
        if ((part.type === "input_audio" || part.type === "output_audio") && part.audio?.bytes) {
          this.#audioBytes -= part.audio.bytes.byteLength;
          part.audio.bytes = undefined;
        }
      }
    }
  }
}

/** Milliseconds of audio in a byte count of the format. */
export function msOf(bytes: number, format: AudioFormat): number {
  return bytes / bytesPerMs(format);
}
