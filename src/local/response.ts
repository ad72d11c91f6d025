/**
 * One model response, streamed like the service streams it (§4.8–4.12, order per §4.16): created,
 * output item, content part, transcript and audio deltas faster than real time in varying chunk
 * sizes, the closing events, `response.done`, `rate_limits.updated`. Cancellation closes the
 * item in progress and ends with `status: "cancelled"`.
 */
import type { ResamplerFactory } from "../audio/resampler.ts";
import type { Clock, TimerId } from "../core/clock.ts";
import type { AudioFormat } from "./audio_format.ts";
import { bytesPerMs, bytesPerSample } from "./audio_format.ts";
import type { Conversation, StoredItem } from "./conversation.ts";
import { wireItem } from "./conversation.ts";
import { renderSound } from "./render.ts";
import type { Reply } from "./replies.ts";
import type { ReplyPlan } from "./scenario.ts";
import type { Voice } from "../protocol/openai_realtime_client.ts";
import { random, splitJson, textPieces } from "./pieces.ts";
import { rateLimits, usageOf } from "./usage.ts";

/** How fast output is produced. */
export interface Pacing {
  /** Audio produced per unit of wall time (8 = eight times real time). */
  readonly speed: number;
  /** Wait between `response.created` and the first output, unless a plan says otherwise. */
  readonly firstDeltaMs: number;
  /** Wait between text or argument deltas. */
  readonly textDeltaMs: number;
}

/** What a response needs from its session. */
export interface ResponseDeps {
  emit(type: string, fields: Record<string, unknown>): void;
  readonly clock: Clock;
  newId(prefix: string): string;
  /** The default conversation, or undefined for an out-of-band response. */
  readonly conversation: Conversation | undefined;
  readonly resamplers: ResamplerFactory;
  readonly pacing: Pacing;
  /** Called once, after `response.done`. */
  onDone(run: ResponseRun): void;
  /** Drops the connection (scenario `disconnect`). */
  disconnect(code: number, reason: string): void;
}

/** What a response produces. */
export interface ResponseSpec {
  readonly id: string;
  /** Position among the session's responses; seeds chunk sizes and babble. */
  readonly index: number;
  readonly conversationId: string | null;
  readonly modalities: readonly ("audio" | "text")[];
  readonly format: AudioFormat;
  readonly voice: Voice;
  readonly maxOutputTokens: number | "inf";
  readonly metadata: Readonly<Record<string, string>> | null;
  readonly reply: Reply;
  readonly plan: ReplyPlan | undefined;
  /** What the model "read", for usage. */
  readonly context: { readonly instructions: string; readonly items: readonly StoredItem[] };
}

/** Why a response ended early. */
export type CancelReason = "client_cancelled" | "turn_detected";

type Step = () => void;

/** A streaming response. */
export class ResponseRun {
  readonly spec: ResponseSpec;
  readonly #deps: ResponseDeps;
  #timer: TimerId | undefined;
  #finished = false;
  readonly #output: StoredItem[] = [];
  /** State of the item being streamed, for closing it on cancel. */
  #current:
    | {
      readonly item: StoredItem;
      readonly kind: "audio" | "text" | "function_call";
      readonly clip: Uint8Array<ArrayBuffer>;
      sentBytes: number;
      sentText: string;
    }
    | undefined;
  #deltas = 0;
  #audioMs = 0;
  #incomplete = false;

  constructor(spec: ResponseSpec, deps: ResponseDeps) {
    this.spec = spec;
    this.#deps = deps;
  }

  /** The response id. */
  get id(): string {
    return this.spec.id;
  }

  /** Whether the response is still producing (no `response.done` yet). */
  get active(): boolean {
    return !this.#finished;
  }

  /** Whether it writes to the default conversation. */
  get inBand(): boolean {
    return this.#deps.conversation !== undefined;
  }

  /** Milliseconds of audio produced so far. */
  get audioMs(): number {
    return this.#audioMs;
  }

  /** Sends `response.created` and starts producing. */
  start(): void {
    const { plan } = this.spec;
    this.#emit("response.created", { response: this.#wire("in_progress", null, null) });
    if (plan?.error) {
      this.#emit("error", {
        error: {
          type: plan.error.type ?? "server_error",
          code: plan.error.code,
          message: plan.error.message,
          param: plan.error.param ?? null,
          event_id: null,
        },
      });
    }
    if (plan?.fail) {
      this.#finish("failed", {
        type: "failed",
        error: {
          type: plan.fail.type ?? "server_error",
          code: plan.fail.code,
          ...(plan.fail.message === undefined ? {} : { message: plan.fail.message }),
        },
      });
      return;
    }
    if (plan?.disconnect && (plan.disconnect.afterDeltas ?? 0) <= 0) {
      this.#drop();
      return;
    }
    this.#after(plan?.delayMs ?? this.#deps.pacing.firstDeltaMs, () => this.#beginItem());
  }

  /** Ends the response early: closes the item in progress, `response.done` cancelled. */
  cancel(reason: CancelReason): void {
    if (this.#finished) return;
    this.#clearTimer();
    if (this.#current) this.#finishItem("incomplete");
    this.#finish("cancelled", { type: "cancelled", reason });
  }

  /** Stops silently (the socket is gone). */
  stop(): void {
    this.#clearTimer();
    this.#finished = true;
  }

  #emit(type: string, fields: Record<string, unknown>): void {
    this.#deps.emit(type, fields);
  }

  #after(ms: number, step: Step): void {
    this.#clearTimer();
    if (ms <= 0) {
      // Still asynchronous, so a burst of client events is handled before output starts.
      this.#timer = this.#deps.clock.setTimeout(() => {
        this.#timer = undefined;
        step();
      }, 0);
      return;
    }
    this.#timer = this.#deps.clock.setTimeout(() => {
      this.#timer = undefined;
      step();
    }, ms);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#deps.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #drop(): void {
    const d = this.spec.plan?.disconnect;
    this.stop();
    this.#deps.disconnect(d?.code ?? 1011, d?.reason ?? "Internal server error");
  }

  #base(itemId: string): Record<string, unknown> {
    return { response_id: this.id, item_id: itemId, output_index: 0, content_index: 0 };
  }

  #beginItem(): void {
    const { reply, modalities } = this.spec;
    const itemId = this.#deps.newId("item");
    const conversation = this.#deps.conversation;
    if (reply.kind === "tool_call") {
      const item: StoredItem = {
        id: itemId,
        type: "function_call",
        status: "in_progress",
        name: reply.name,
        call_id: this.#deps.newId("call"),
        arguments: "",
      };
      this.#addItem(item, conversation);
      this.#current = {
        item,
        kind: "function_call",
        clip: new Uint8Array(0),
        sentBytes: 0,
        sentText: "",
      };
      this.#streamText(textPieces(reply.arguments, 1).flatMap(splitJson), (delta) => {
        if (item.type !== "function_call") return;
        item.arguments += delta;
        this.#emit("response.function_call_arguments.delta", {
          response_id: this.id,
          item_id: itemId,
          output_index: 0,
          call_id: item.call_id,
          delta,
        });
      });
      return;
    }
    const item: StoredItem = {
      id: itemId,
      type: "message",
      role: "assistant",
      status: "in_progress",
      content: [],
    };
    this.#addItem(item, conversation);
    const text = modalities.includes("audio") ? undefined : reply.transcript;
    if (text !== undefined) {
      const limit = this.spec.maxOutputTokens === "inf" ? Infinity : this.spec.maxOutputTokens * 4;
      const shown = text.length > limit ? text.slice(0, limit) : text;
      this.#incomplete = shown.length < text.length;
      item.content.push({ type: "output_text", text: "" });
      this.#emit("response.content_part.added", {
        ...this.#base(itemId),
        part: { type: "text", text: "" },
      });
      this.#current = { item, kind: "text", clip: new Uint8Array(0), sentBytes: 0, sentText: "" };
      this.#streamText(textPieces(shown), (delta) => {
        this.#current!.sentText += delta;
        this.#emit("response.output_text.delta", { ...this.#base(itemId), delta });
      });
      return;
    }
    const format = this.spec.format;
    let clip = renderSound(reply.sound, format, {
      resamplers: this.#deps.resamplers,
      seed: this.spec.index,
    });
    let transcript = reply.transcript;
    if (this.spec.maxOutputTokens !== "inf") {
      // Output audio is about 20 tokens per second (usage.ts).
      const maxBytes = Math.floor(this.spec.maxOutputTokens * 50 * bytesPerMs(format));
      const aligned = maxBytes - (maxBytes % bytesPerSample(format));
      if (clip.byteLength > aligned) {
        transcript = transcript.slice(
          0,
          Math.floor((transcript.length * aligned) / clip.byteLength),
        );
        clip = clip.subarray(0, aligned);
        this.#incomplete = true;
      }
    }
    item.content.push({
      type: "output_audio",
      transcript: "",
      audio: { bytes: undefined, format, ms: 0 },
    });
    this.#emit("response.content_part.added", {
      ...this.#base(itemId),
      part: { type: "audio", transcript: "" },
    });
    this.#current = { item, kind: "audio", clip, sentBytes: 0, sentText: "" };
    this.#streamAudio(clip, textPieces(transcript));
  }

  #addItem(item: StoredItem, conversation: Conversation | undefined): void {
    this.#output.push(item);
    this.#emit("response.output_item.added", {
      response_id: this.id,
      output_index: 0,
      item: wireItem(item),
    });
    if (conversation) {
      const previous = conversation.insert(item);
      this.#emit("conversation.item.added", { previous_item_id: previous, item: wireItem(item) });
    }
  }

  #streamText(pieces: readonly string[], send: (delta: string) => void): void {
    let index = 0;
    const step = () => {
      if (index < pieces.length) {
        send(pieces[index++]!);
        this.#after(this.#deps.pacing.textDeltaMs, step);
        return;
      }
      this.#finishItem(this.#incomplete ? "incomplete" : "completed");
      this.#finishAfterItem();
    };
    step();
  }

  #streamAudio(clip: Uint8Array<ArrayBuffer>, pieces: readonly string[]): void {
    const current = this.#current!;
    const format = this.spec.format;
    const bpm = bytesPerMs(format);
    const sample = bytesPerSample(format);
    const next = random(0x5eed + this.spec.index);
    const chunkCount = Math.max(1, Math.ceil(clip.byteLength / (120 * bpm)));
    // Transcript runs ahead of the audio: all of it within the first half of the chunks.
    const transcriptSpan = Math.max(1, Math.ceil(chunkCount / 2));
    let chunkIndex = 0;
    let piecesSent = 0;
    const itemId = current.item.id;
    const step = () => {
      const due = Math.min(
        pieces.length,
        Math.ceil(((chunkIndex + 1) * pieces.length) / transcriptSpan),
      );
      while (piecesSent < due) {
        const delta = pieces[piecesSent++]!;
        current.sentText += delta;
        this.#emit("response.output_audio_transcript.delta", { ...this.#base(itemId), delta });
      }
      if (current.sentBytes >= clip.byteLength) {
        while (piecesSent < pieces.length) {
          const delta = pieces[piecesSent++]!;
          current.sentText += delta;
          this.#emit("response.output_audio_transcript.delta", { ...this.#base(itemId), delta });
        }
        this.#finishItem(this.#incomplete ? "incomplete" : "completed");
        this.#finishAfterItem();
        return;
      }
      // Chunks of 40–200 ms, like the service's varying delta sizes.
      const ms = 40 + Math.floor(next() * 9) * 20;
      let bytes = Math.min(clip.byteLength - current.sentBytes, Math.round(ms * bpm));
      bytes -= bytes % sample;
      if (bytes <= 0) bytes = clip.byteLength - current.sentBytes;
      const chunk = clip.subarray(current.sentBytes, current.sentBytes + bytes);
      current.sentBytes += bytes;
      const chunkMs = bytes / bpm;
      this.#audioMs += chunkMs;
      const audio = current.item.type === "message" ? current.item.content[0] : undefined;
      if (audio?.type === "output_audio" && audio.audio && !audio.truncated) {
        audio.audio.ms += chunkMs;
      }
      this.#emit("response.output_audio.delta", { ...this.#base(itemId), delta: chunk.toBase64() });
      chunkIndex++;
      this.#deltas++;
      const disconnect = this.spec.plan?.disconnect;
      if (disconnect && this.#deltas >= (disconnect.afterDeltas ?? 0)) {
        this.#drop();
        return;
      }
      this.#after(chunkMs / this.#deps.pacing.speed, step);
    };
    step();
  }

  /** Sends the closing events of the item in progress. */
  #finishItem(status: "completed" | "incomplete"): void {
    const current = this.#current;
    if (!current) return;
    this.#current = undefined;
    const item = current.item;
    const itemId = item.id;
    if (current.kind === "function_call" && item.type === "function_call") {
      this.#emit("response.function_call_arguments.done", {
        response_id: this.id,
        item_id: itemId,
        output_index: 0,
        call_id: item.call_id,
        name: item.name,
        arguments: item.arguments,
      });
    } else if (current.kind === "text" && item.type === "message") {
      const part = item.content[0];
      if (part?.type === "output_text") part.text = current.sentText;
      this.#emit("response.output_text.done", { ...this.#base(itemId), text: current.sentText });
      this.#emit("response.content_part.done", {
        ...this.#base(itemId),
        part: { type: "text", text: current.sentText },
      });
    } else if (current.kind === "audio" && item.type === "message") {
      const part = item.content[0];
      if (part?.type === "output_audio") {
        // A truncate that arrived while streaming wins: keep its cut and its dropped transcript.
        if (!part.truncated) part.transcript = current.sentText;
        if (part.audio) {
          let keep = current.sentBytes;
          if (part.truncated) {
            keep = Math.min(keep, Math.round(part.audio.ms * bytesPerMs(part.audio.format)));
            keep -= keep % bytesPerSample(part.audio.format);
          }
          part.audio.bytes = current.clip.subarray(0, keep);
          this.#deps.conversation?.addAudioBytes(keep);
        }
      }
      this.#emit("response.output_audio.done", this.#base(itemId));
      this.#emit("response.output_audio_transcript.done", {
        ...this.#base(itemId),
        transcript: current.sentText,
      });
      this.#emit("response.content_part.done", {
        ...this.#base(itemId),
        part: { type: "audio", transcript: current.sentText },
      });
    }
    if (item.type === "message" || item.type === "function_call") item.status = status;
    this.#emit("response.output_item.done", {
      response_id: this.id,
      output_index: 0,
      item: wireItem(item),
    });
    const conversation = this.#deps.conversation;
    if (conversation && conversation.get(itemId)) {
      this.#emit("conversation.item.done", {
        previous_item_id: conversation.previousOf(itemId),
        item: wireItem(item),
      });
    }
  }

  #finishAfterItem(): void {
    if (this.#incomplete) {
      this.#finish("incomplete", { type: "incomplete", reason: "max_output_tokens" });
    } else this.#finish("completed", null);
  }

  #finish(status: string, details: Record<string, unknown> | null): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#clearTimer();
    const text = this.#output.map((item) =>
      item.type === "message"
        ? item.content.map((p) =>
          p.type === "output_text" ? p.text : p.type === "output_audio" ? p.transcript : ""
        ).join("")
        : item.type === "function_call"
        ? item.arguments
        : ""
    ).join("");
    const usage = usageOf(this.spec.context, { text, audioMs: this.#audioMs });
    this.#emit("response.done", { response: this.#wire(status, details, usage) });
    this.#emit("rate_limits.updated", { rate_limits: rateLimits(usage.total_tokens) });
    this.#deps.onDone(this);
  }

  #wire(
    status: string,
    details: Record<string, unknown> | null,
    usage: unknown,
  ): Record<string, unknown> {
    const spec = this.spec;
    return {
      object: "realtime.response",
      id: spec.id,
      status,
      status_details: details,
      output: this.#output.map((item) => wireItem(item)),
      conversation_id: spec.conversationId,
      output_modalities: spec.modalities,
      max_output_tokens: spec.maxOutputTokens,
      audio: { output: { format: spec.format, voice: spec.voice } },
      usage,
      metadata: spec.metadata,
    };
  }
}
