/**
 * The tools of a phone call: the gateway's own (`end_call`, `transfer_call`), the profile's
 * (HTTP and MCP, run through a {@linkcode ToolBox}), and how the call ends — a hangup or
 * transfer after the farewell has played, the profile's call length and idle hang-up.
 */
import type { Clock, TimerId } from "../core/clock.ts";
import type { GatewayMetrics } from "../core/metrics.ts";
import { clip } from "../core/bounded_log.ts";
import type { Bridge, FunctionCall } from "../bridge/bridge.ts";
import type { Playout } from "../bridge/playout.ts";
import type { FunctionTool } from "../realtime/session_config.ts";
import type { AgentProfile } from "../agents/profile.ts";
import type { McpPool } from "../agents/tools.ts";
import { parseArgs, ToolBox } from "../agents/tools.ts";
import type { ToolRuns } from "../agents/tool_runs.ts";
import type { CallHandle } from "./conversation.ts";

/** The tools the gateway owns on phone calls (`transferTargets`: the allow-list). */
export function phoneTools(transferTargets: readonly string[]): FunctionTool[] {
  const tools: FunctionTool[] = [{
    type: "function",
    name: "end_call",
    description:
      "Hang up the phone call. Say a short goodbye first; the call ends after it has played.",
    parameters: {
      type: "object",
      properties: { reason: { type: "string", description: "Why the call ends" } },
      required: ["reason"],
    },
  }];
  if (transferTargets.length > 0) {
    tools.push({
      type: "function",
      name: "transfer_call",
      description: "Transfer the caller to a human agent or another number.",
      parameters: {
        type: "object",
        properties: {
          target: {
            type: "string",
            description: "Transfer target URI",
            enum: [...transferTargets],
          },
          reason: { type: "string", description: "Why the caller is transferred" },
        },
        required: ["target"],
      },
    });
  }
  return tools;
}

/** The profile's tools for one call; they see the call's parties as context. */
export function phoneToolbox(
  call: CallHandle,
  options: {
    readonly profile: AgentProfile;
    readonly mcp?: McpPool | undefined;
    readonly metrics?: GatewayMetrics | undefined;
    readonly timeoutMs: number;
  },
): ToolBox {
  const { profile, mcp, metrics } = options;
  return new ToolBox({
    profile,
    context: () => {
      const callee = call.callData?.callee;
      return {
        profile: profile.name,
        conversationId: call.conversationId,
        ...(call.caller === undefined ? {} : { caller: call.caller }),
        ...(typeof callee === "string" ? { callee: clip(callee, 256) } : {}),
        ...(call.botName === undefined ? {} : { botName: call.botName }),
      };
    },
    ...(mcp ? { mcp } : {}),
    log: call.log,
    ...(metrics ? { metrics } : {}),
    timeoutMs: options.timeoutMs,
  });
}

/** What {@linkcode CallTools} works with; the profile and its toolbox change at call start. */
export interface CallToolsOptions {
  readonly call: CallHandle;
  readonly clock: Clock;
  readonly bridge: Bridge;
  readonly playout: Playout;
  readonly runs: ToolRuns;
  readonly profile: () => AgentProfile;
  readonly toolbox: () => ToolBox;
}

type AfterSpeech = { readonly action: () => void; waitResponses: number };

/** Runs the model's function calls on a phone call and ends the call when it is time. */
export class CallTools {
  readonly #o: CallToolsOptions;
  #ending = false;
  #closed = false;
  #after: AfterSpeech | undefined;
  #safetyTimer: TimerId | undefined;
  #idleTimer: TimerId | undefined;
  #profileTimer: TimerId | undefined;

  constructor(options: CallToolsOptions) {
    this.#o = options;
  }

  /** True once the hangup has gone out: no more audio or turns for the caller. */
  get ending(): boolean {
    return this.#ending;
  }

  /** Dispatches one function call of the model. */
  onFunctionCall(call: FunctionCall): void {
    const { bridge } = this.#o;
    const args = parseArgs(call.arguments);
    const spoke = bridge.responseHadAudio(call.responseId);
    switch (call.name) {
      case "end_call": {
        const reason = typeof args.reason === "string" && args.reason ? args.reason : "completed";
        this.#o.call.record("tool.end_call", { reason });
        bridge.sendFunctionOutput(call.callId, JSON.stringify({ ok: true }), !spoke);
        // The hangup goes out only after the farewell has played.
        this.#afterSpeech(spoke ? 1 : 2, () => this.hangup(reason));
        return;
      }
      case "transfer_call": {
        const target = typeof args.target === "string" ? args.target : "";
        const reason = typeof args.reason === "string" ? args.reason : "transfer requested";
        const allowed = this.#o.profile().transferTargets;
        if (!allowed.includes(target)) {
          this.#o.call.record("tool.transfer_refused", { target });
          bridge.sendFunctionOutput(
            call.callId,
            JSON.stringify({
              ok: false,
              error: `Transfer refused: ${JSON.stringify(target)} is not an allowed target`,
              allowedTargets: allowed,
            }),
            true,
          );
          return;
        }
        this.#o.call.record("tool.transfer_call", { target, reason });
        bridge.sendFunctionOutput(
          call.callId,
          JSON.stringify({ ok: true, status: "transferring" }),
          !spoke,
        );
        this.#afterSpeech(spoke ? 1 : 2, () => this.#transfer(target, reason));
        return;
      }
      default: {
        const toolbox = this.#o.toolbox();
        if (toolbox.has(call.name)) {
          this.#o.call.record("tool.call", { name: call.name });
          this.#o.runs.start(call.callId, () => toolbox.run(call.name, call.arguments));
          return;
        }
        bridge.sendFunctionOutput(
          call.callId,
          JSON.stringify({ ok: false, error: `Unknown tool ${JSON.stringify(call.name)}` }),
          true,
        );
      }
    }
  }

  /** A response is done: a hangup or transfer waiting for the farewell goes once it played. */
  responseDone(): void {
    if (this.#after && --this.#after.waitResponses <= 0) {
      const { action } = this.#after;
      this.#after = undefined;
      this.#o.playout.whenIdle(action);
    }
  }

  /** Starts the profile's call length and idle hang-up (again, for a new profile). */
  applyLimits(): void {
    const { clock } = this.#o;
    if (this.#profileTimer !== undefined) clock.clearTimeout(this.#profileTimer);
    this.#profileTimer = undefined;
    const max = this.#o.profile().maxCallMs;
    if (max !== undefined) {
      this.#profileTimer = clock.setTimeout(
        () => this.hangup("maximum call duration reached"),
        max,
      );
    }
    this.restartIdle();
  }

  /** The caller did something: the idle hang-up starts over. */
  restartIdle(): void {
    const { clock } = this.#o;
    if (this.#idleTimer !== undefined) clock.clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    const idle = this.#o.profile().idleHangupMs;
    if (idle === undefined || this.#closed) return;
    this.#idleTimer = clock.setTimeout(() => this.hangup("caller idle"), idle);
  }

  /** Sends the hangup activity (once); the call ends here when the caller is gone. */
  hangup(reason: string): void {
    if (this.#ending) return;
    this.#ending = true;
    const { call } = this.#o;
    this.#o.playout.interrupt();
    call.record("hangup", { reason });
    const sent = call.send({
      type: "activities",
      activities: [{ type: "event", name: "hangup", activityParams: { hangupReason: reason } }],
    });
    if (!sent) call.end(reason);
  }

  /** Drops what waits for speech and stops the timers. */
  close(): void {
    const { clock } = this.#o;
    this.#closed = true;
    this.#after = undefined;
    if (this.#safetyTimer !== undefined) clock.clearTimeout(this.#safetyTimer);
    if (this.#idleTimer !== undefined) clock.clearTimeout(this.#idleTimer);
    if (this.#profileTimer !== undefined) clock.clearTimeout(this.#profileTimer);
    this.#safetyTimer = this.#idleTimer = this.#profileTimer = undefined;
  }

  #afterSpeech(waitResponses: number, action: () => void): void {
    const { clock } = this.#o;
    let done = false;
    const once = () => {
      if (done) return;
      done = true;
      if (this.#safetyTimer !== undefined) clock.clearTimeout(this.#safetyTimer);
      this.#safetyTimer = undefined;
      action();
    };
    this.#after = { action: once, waitResponses };
    // Never leave a caller hanging if the farewell never comes.
    this.#safetyTimer = clock.setTimeout(once, 30_000);
  }

  #transfer(target: string, reason: string): void {
    this.#o.call.record("transfer", { target, reason });
    this.#o.call.send({
      type: "activities",
      activities: [{
        type: "event",
        name: "transfer",
        activityParams: { transferTarget: target, handoverReason: reason },
      }],
    });
  }
}
