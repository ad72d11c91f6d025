/**
 * Runs the model's calls of a call's tools (HTTP, MCP, or an app's client tools) alongside the
 * conversation: a slow tool makes the bot say a short filler once; the answer goes back as the
 * function's output and the model speaks about it — right away, or, if the caller is talking
 * when it lands, after the caller's turn (the turn's own response sees it).
 */
import type { Clock, TimerId } from "../core/clock.ts";
import type { ResponseParams } from "../protocol/openai_realtime_client.ts";

/** What a tool run needs of the Bridge. */
export interface ToolBridge {
  readonly generating: boolean;
  requestResponse(response?: ResponseParams): void;
  sendFunctionOutput(callId: string, output: string, respond: boolean): void;
}

/** Runs one tool: resolves with its output (never rejects). */
export type ToolRunner = (name: string, argumentsJson: string) => Promise<string>;

/** What the bot is told to say while a slow tool runs. */
export const FILLER_INSTRUCTIONS =
  "Say one short sentence telling the caller you are looking that up and it takes a moment. Do not call any tool.";

/** Tool calls of one call or session. */
export class ToolRuns {
  readonly #bridge: ToolBridge;
  readonly #clock: Clock;
  readonly #fillerMs: number;
  readonly #callerSpeaking: () => boolean;
  readonly #timers = new Set<TimerId>();
  #running = 0;
  #closed = false;

  constructor(options: {
    bridge: ToolBridge;
    clock: Clock;
    /** 0 = no filler. */
    fillerMs: number;
    callerSpeaking: () => boolean;
  }) {
    this.#bridge = options.bridge;
    this.#clock = options.clock;
    this.#fillerMs = options.fillerMs;
    this.#callerSpeaking = options.callerSpeaking;
  }

  /** Tool calls still running. */
  get running(): number {
    return this.#running;
  }

  /** Runs `run` for the model's call `callId` and hands its output back. */
  start(callId: string, run: () => Promise<string>): void {
    if (this.#closed) return;
    this.#running++;
    let done = false;
    let filler: TimerId | undefined;
    if (this.#fillerMs > 0) {
      filler = this.#clock.setTimeout(() => {
        if (filler !== undefined) this.#timers.delete(filler);
        filler = undefined;
        // Once, and never over the caller or another reply.
        if (done || this.#closed || this.#callerSpeaking() || this.#bridge.generating) return;
        this.#bridge.requestResponse({ instructions: FILLER_INSTRUCTIONS, tool_choice: "none" });
      }, this.#fillerMs);
      this.#timers.add(filler);
    }
    // A runner never rejects; should one, the model still gets an output.
    void run().catch(() => JSON.stringify({ ok: false, error: "The tool failed" })).then(
      (output) => {
        done = true;
        this.#running--;
        if (filler !== undefined) {
          this.#clock.clearTimeout(filler);
          this.#timers.delete(filler);
        }
        if (this.#closed) return;
        // While the caller talks, their turn's response will see the output: do not talk over it.
        this.#bridge.sendFunctionOutput(callId, output, !this.#callerSpeaking());
      },
    );
  }

  /** Stops filler timers; outputs that arrive later are dropped. */
  close(): void {
    this.#closed = true;
    for (const timer of this.#timers) this.#clock.clearTimeout(timer);
    this.#timers.clear();
  }
}
