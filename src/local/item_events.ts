/**
 * The `conversation.item.*` client events (§3.5–3.8) on the session's default conversation, and
 * the validation that turns a client item into a stored one (also for `response.input`).
 */
import type { AudioFormat } from "./audio_format.ts";
import { bytesPerMs } from "./audio_format.ts";
import type { Conversation, StoredContent, StoredItem } from "./conversation.ts";
import { wireItem } from "./conversation.ts";
import type { WireError } from "./errors.ts";
import { invalidRequest } from "./errors.ts";
import type { EventSink } from "./event_sink.ts";
import { decodeBase64 } from "./input_turns.ts";
import type { ClientEvent, ItemInput } from "../protocol/openai_realtime_client.ts";

/** Answers the item events of one session. */
export class ItemEvents {
  readonly #conversation: Conversation;
  readonly #sink: EventSink;
  readonly #newId: (prefix: string) => string;
  readonly #inputFormat: () => AudioFormat;

  constructor(options: {
    conversation: Conversation;
    sink: EventSink;
    newId(prefix: string): string;
    /** The session's current input audio format (of `input_audio` parts). */
    inputFormat(): AudioFormat;
  }) {
    this.#conversation = options.conversation;
    this.#sink = options.sink;
    this.#newId = options.newId;
    this.#inputFormat = options.inputFormat;
  }

  /** `conversation.item.create`. */
  create(event: Extract<ClientEvent, { type: "conversation.item.create" }>): void {
    const eventId = event.event_id;
    const previous = event.previous_item_id;
    if (!this.#conversation.canPlace(previous)) {
      this.#sink.error(invalidRequest(
        "invalid_value",
        `Error adding item: the previous item with id '${previous}' does not exist.`,
        { param: "previous_item_id", eventId },
      ));
      return;
    }
    if (event.item.id !== undefined && this.#conversation.get(event.item.id)) {
      this.#sink.error(invalidRequest(
        "invalid_value",
        `Error adding item: an item with id '${event.item.id}' already exists.`,
        { param: "item.id", eventId },
      ));
      return;
    }
    const built = this.build(event.item, "item", eventId);
    if (!built.ok) {
      this.#sink.error(built.error);
      return;
    }
    const item = built.item;
    const previousId = this.#conversation.insert(item, previous);
    this.#sink.emit("conversation.item.added", {
      previous_item_id: previousId,
      item: wireItem(item),
    });
    this.#sink.emit("conversation.item.done", {
      previous_item_id: previousId,
      item: wireItem(item),
    });
  }

  /** Validates a client item and turns it into a stored one. */
  build(
    input: ItemInput,
    param: string,
    eventId: string | undefined,
  ): { ok: true; item: StoredItem } | { ok: false; error: WireError } {
    const id = input.id ?? this.#newId("item");
    switch (input.type) {
      case "message": {
        const allowed = input.role === "system"
          ? ["input_text"]
          : input.role === "user"
          ? ["input_text", "input_audio", "input_image"]
          : ["output_text"];
        const content: StoredContent[] = [];
        for (const [index, part] of input.content.entries()) {
          if (!allowed.includes(part.type)) {
            return {
              ok: false,
              error: invalidRequest(
                "invalid_value",
                `Invalid value: '${part.type}'. Supported values are: ${
                  allowed.map((a) => `'${a}'`).join(", ")
                }.`,
                { param: `${param}.content[${index}].type`, eventId },
              ),
            };
          }
          switch (part.type) {
            case "input_text":
            case "output_text":
              content.push({ type: part.type, text: part.text });
              break;
            case "input_image":
              content.push({
                type: "input_image",
                ...(part.image_url === undefined ? {} : { image_url: part.image_url }),
                ...(part.detail === undefined ? {} : { detail: part.detail }),
              });
              break;
            case "input_audio": {
              const format = this.#inputFormat();
              const bytes = part.audio === undefined ? new Uint8Array(0) : decodeBase64(part.audio);
              if (!bytes) {
                return {
                  ok: false,
                  error: invalidRequest(
                    "invalid_value",
                    "Invalid 'audio': expected base64-encoded audio bytes.",
                    { param: `${param}.content[${index}].audio`, eventId },
                  ),
                };
              }
              content.push({
                type: "input_audio",
                transcript: part.transcript ?? null,
                audio: { bytes, format, ms: bytes.byteLength / bytesPerMs(format) },
              });
              break;
            }
            case "output_audio":
              break;
            default:
              part satisfies never;
          }
        }
        return {
          ok: true,
          item: { id, type: "message", role: input.role, status: "completed", content },
        };
      }
      case "function_call":
        return {
          ok: true,
          item: {
            id,
            type: "function_call",
            status: "completed",
            name: input.name,
            call_id: input.call_id ?? this.#newId("call"),
            arguments: input.arguments,
          },
        };
      case "function_call_output":
        if (!this.#conversation.findCall(input.call_id)) {
          return {
            ok: false,
            error: invalidRequest(
              "invalid_value",
              `Tool call ID '${input.call_id}' not found in conversation.`,
              { param: `${param}.call_id`, eventId },
            ),
          };
        }
        return {
          ok: true,
          item: { id, type: "function_call_output", call_id: input.call_id, output: input.output },
        };
      case "mcp_approval_response":
        return {
          ok: true,
          item: {
            id,
            type: "mcp_approval_response",
            approval_request_id: input.approval_request_id,
            approve: input.approve,
            reason: input.reason ?? null,
          },
        };
      default:
        return input satisfies never;
    }
  }

  /** `conversation.item.truncate`. */
  truncate(event: Extract<ClientEvent, { type: "conversation.item.truncate" }>): void {
    const eventId = event.event_id;
    const item = this.#conversation.get(event.item_id);
    if (!item) {
      this.#sink.error(invalidRequest(
        "item_truncate_invalid_item_id",
        `Item with item_id '${event.item_id}' not found.`,
        { param: "item_id", eventId },
      ));
      return;
    }
    const part = item.type === "message" && item.role === "assistant"
      ? item.content[event.content_index]
      : undefined;
    if (part?.type !== "output_audio" || !part.audio || part.audio.ms <= 0) {
      this.#sink.error(invalidRequest(
        "unsupported_content_type",
        "Only model output audio messages can be truncated",
        { param: "item_id", eventId },
      ));
      return;
    }
    const audio = part.audio;
    if (event.audio_end_ms > audio.ms) {
      this.#sink.error(invalidRequest(
        "invalid_value",
        `Audio content of ${
          Math.floor(audio.ms)
        } ms is already shorter than ${event.audio_end_ms} ms`,
        { param: "audio_end_ms", eventId },
      ));
      return;
    }
    if (audio.bytes) {
      const sample = audio.format.type === "audio/pcm" ? 2 : 1;
      let keep = Math.round(event.audio_end_ms * bytesPerMs(audio.format));
      keep -= keep % sample;
      this.#conversation.removeAudioBytes(audio.bytes.byteLength - keep);
      audio.bytes = audio.bytes.subarray(0, keep);
    }
    audio.ms = event.audio_end_ms;
    part.truncated = true;
    // The service drops the transcript so the context holds no words the caller did not hear.
    part.transcript = "";
    this.#sink.emit("conversation.item.truncated", {
      item_id: item.id,
      content_index: event.content_index,
      audio_end_ms: event.audio_end_ms,
    });
  }

  /** `conversation.item.delete`. */
  delete(event: Extract<ClientEvent, { type: "conversation.item.delete" }>): void {
    if (!this.#conversation.delete(event.item_id)) {
      this.#sink.error(invalidRequest(
        "item_delete_invalid_item_id",
        `Error deleting item: the item with id '${event.item_id}' does not exist.`,
        { param: "item_id", eventId: event.event_id },
      ));
      return;
    }
    this.#sink.emit("conversation.item.deleted", { item_id: event.item_id });
  }

  /** `conversation.item.retrieve`. */
  retrieve(event: Extract<ClientEvent, { type: "conversation.item.retrieve" }>): void {
    const item = this.#conversation.get(event.item_id);
    if (!item) {
      this.#sink.error(invalidRequest(
        "item_retrieve_invalid_item_id",
        `Error retrieving item: the item with id '${event.item_id}' does not exist.`,
        { param: "item_id", eventId: event.event_id },
      ));
      return;
    }
    this.#sink.emit("conversation.item.retrieved", { item: wireItem(item, true) });
  }
}
