/**
 * The tools of an app session: the profile's HTTP and MCP tools, run by the gateway, and the
 * app's own (`tools.update`), which the app runs when the model calls them (`tool.call`, then its
 * `tool.result`, or `tool.cancelled` on a timeout or an interruption).
 */
import type { Bridge, FunctionCall } from "../bridge/bridge.ts";
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { GatewayMetrics } from "../core/metrics.ts";
import type { AgentProfile } from "../agents/profile.ts";
import type { McpPool } from "../agents/tools.ts";
import { ToolBox } from "../agents/tools.ts";
import { ToolRuns } from "../agents/tool_runs.ts";
import type { FunctionTool } from "../realtime/session_config.ts";
import type { ClientToolSpec, ServerMessage } from "./messages.ts";
import { errorMessage } from "./handlers.ts";

/** App tool calls that may wait for their answers at once. */
const MAX_PENDING_CALLS = 16;

/** The tools of one app session. */
export class SessionTools {
  readonly #clock: Clock;
  readonly #send: (message: ServerMessage) => void;
  readonly #metrics: GatewayMetrics | undefined;
  readonly #timeoutMs: number;
  readonly #fillerMs: number;
  readonly #profile: AgentProfile;
  /** The profile's HTTP and MCP tools, run by the gateway for this session. */
  readonly #toolbox: ToolBox;
  #profileTools: FunctionTool[];
  #clientTools: readonly ClientToolSpec[] = [];
  /** The app's tool calls waiting for a `tool.result`. */
  readonly #pending = new Map<
    string,
    { readonly name: string; readonly finish: (output: string) => void }
  >();
  #runs: ToolRuns | undefined;
  #bridge: Bridge | undefined;

  constructor(options: {
    readonly profile: AgentProfile;
    readonly sessionId: string;
    readonly userId: string;
    readonly clock: Clock;
    /** Sends a message to the app (nothing goes out once the session closes). */
    readonly send: (message: ServerMessage) => void;
    readonly log: Logger;
    readonly timeoutMs: number;
    readonly fillerMs: number;
    readonly mcp?: McpPool;
    readonly metrics?: GatewayMetrics;
  }) {
    const { profile, sessionId, userId } = options;
    this.#clock = options.clock;
    this.#send = options.send;
    this.#metrics = options.metrics;
    this.#timeoutMs = options.timeoutMs;
    this.#fillerMs = options.fillerMs;
    this.#profile = profile;
    this.#toolbox = new ToolBox({
      profile,
      context: () => ({ profile: profile.name, sessionId, userId }),
      ...(options.mcp ? { mcp: options.mcp } : {}),
      log: options.log,
      ...(options.metrics ? { metrics: options.metrics } : {}),
      timeoutMs: options.timeoutMs,
    });
    this.#profileTools = this.#toolbox.httpDefinitions;
  }

  /** Every tool the model is offered: the profile's, then the app's. */
  definitions(): FunctionTool[] {
    return [
      ...this.#profileTools,
      ...this.#clientTools.map((t): FunctionTool => ({
        type: "function",
        name: t.name,
        description: t.description,
        parameters: t.parameters,
      })),
    ];
  }

  /**
   * The session's Bridge is up: tool calls run through it, and the profile's MCP tools are
   * offered once listed (`open()`: the session is still open then).
   */
  start(bridge: Bridge, options: { callerSpeaking: () => boolean; open: () => boolean }): void {
    this.#bridge = bridge;
    this.#runs = new ToolRuns({
      bridge,
      clock: this.#clock,
      fillerMs: this.#fillerMs,
      callerSpeaking: options.callerSpeaking,
    });
    if (this.#profile.mcpServers.length > 0) {
      void this.#toolbox.definitions().then((tools) => {
        if (!options.open()) return;
        this.#profileTools = tools;
        this.#bridge?.updateSession({ tools: this.definitions() });
      });
    }
  }

  /** The app declared its tools (`tools.update`): offer them to the model. */
  declare(tools: readonly ClientToolSpec[]): void {
    this.#clientTools = tools;
    this.#bridge?.updateSession({ tools: this.definitions() });
  }

  /** The app answered a `tool.call`; an answer nobody waits for is refused. */
  result(callId: string, output: string): void {
    const call = this.#pending.get(callId);
    if (!call) {
      this.#send(errorMessage(
        "invalid_message",
        `Cannot accept tool.result: no tool call ${JSON.stringify(callId.slice(0, 64))} is waiting`,
      ));
      return;
    }
    call.finish(output);
  }

  /** Stops waiting for the app's running tool calls (the user interrupted). */
  cancel(reason: string): void {
    for (const [callId, call] of [...this.#pending]) {
      this.#send({
        type: "tool.cancelled",
        tool_cancelled: { call_id: callId, reason, timestamp: this.#clock.now() / 1000 },
      });
      call.finish(JSON.stringify({ ok: false, error: `The user ${reason} the tool call` }));
    }
  }

  /** The model called a tool: the profile's (run here) or the app's (`tool.call`). */
  call(call: FunctionCall): void {
    const runs = this.#runs;
    if (!runs) return;
    if (this.#toolbox.has(call.name)) {
      runs.start(call.callId, () => this.#toolbox.run(call.name, call.arguments));
      return;
    }
    if (
      !this.#clientTools.some((t) => t.name === call.name) ||
      this.#pending.size >= MAX_PENDING_CALLS
    ) {
      this.#bridge?.sendFunctionOutput(
        call.callId,
        JSON.stringify({ ok: false, error: `The tool "${call.name}" is not available` }),
        true,
      );
      return;
    }
    runs.start(call.callId, () => this.#appCall(call));
  }

  /** Nothing more runs or lands (the timers of pending app calls are cleared too). */
  close(): void {
    this.#runs?.close();
    this.#toolbox.close();
    for (const [, call] of this.#pending) {
      call.finish(JSON.stringify({ ok: false, error: "closed" }));
    }
    this.#pending.clear();
  }

  /** Asks the app to run a tool; resolves with its answer, or why there is none. */
  #appCall(call: FunctionCall): Promise<string> {
    const clock = this.#clock;
    const started = clock.monotonic();
    return new Promise<string>((resolve) => {
      const timer = clock.setTimeout(() => {
        this.#send({
          type: "tool.cancelled",
          tool_cancelled: {
            call_id: call.callId,
            reason: "timeout",
            timestamp: clock.now() / 1000,
          },
        });
        finish(JSON.stringify({
          ok: false,
          error: `The app did not answer within ${this.#timeoutMs} ms`,
        }));
      }, this.#timeoutMs);
      const finish = (output: string): void => {
        if (!this.#pending.delete(call.callId)) return;
        clock.clearTimeout(timer);
        const ok = !output.startsWith('{"ok":false');
        this.#metrics?.toolCalls.inc({ tool: call.name, outcome: ok ? "ok" : "error" });
        this.#metrics?.toolLatency.observe(
          { kind: "app" },
          (clock.monotonic() - started) / 1000,
        );
        resolve(output);
      };
      this.#pending.set(call.callId, { name: call.name, finish });
      this.#send({
        type: "tool.call",
        tool_call: {
          call_id: call.callId,
          name: call.name,
          arguments: call.arguments,
          timestamp: clock.now() / 1000,
        },
      });
    });
  }
}
