/**
 * The tools a call's model may use besides the gateway's own (`end_call`, `transfer_call`): HTTP
 * tools and MCP servers from its profile. The gateway calls them itself, so they work with any
 * upstream, the local engine included. Every run ends in an output the model can speak about —
 * a non-2xx answer, a timeout or a refused connection becomes `{"ok":false,"error":…}` — and is
 * cancelled when the call ends. Secrets (header values) are never logged.
 */
import type { Logger } from "../core/logger.ts";
import type { GatewayMetrics } from "../core/metrics.ts";
import type { FunctionTool } from "../realtime/session_config.ts";
import type { McpClient } from "./mcp_client.ts";
import { connectMcp, McpSessionExpired } from "./mcp_client.ts";
import type { AgentProfile, HttpTool, McpServerSpec } from "./profile.ts";
import { httpToolDefinitions } from "./profile.ts";

/** Who is calling, sent to HTTP tools with the arguments. */
export interface ToolContext {
  readonly profile: string;
  readonly conversationId?: string;
  readonly sessionId?: string;
  readonly caller?: string;
  readonly callee?: string;
  readonly botName?: string;
  readonly userId?: string;
}

/** Longest tool answer handed to the model (characters). */
const MAX_OUTPUT_CHARS = 16_000;

const errorOutput = (error: string): string => JSON.stringify({ ok: false, error });

/** Separator between an MCP server's name and its tool's name in the function name. */
const MCP_SEPARATOR = "__";

/**
 * MCP clients shared by every call of the gateway, one per server URL, connected on first use and
 * reconnected after a failure. Tool lists are cached per connection.
 */
export class McpPool {
  readonly #clients = new Map<string, Promise<{ client: McpClient; tools: McpToolInfo[] }>>();
  readonly #log: Logger;
  #closed = false;

  constructor(options: { log: Logger }) {
    this.#log = options.log;
  }

  #connect(spec: McpServerSpec): Promise<{ client: McpClient; tools: McpToolInfo[] }> {
    if (this.#closed) return Promise.reject(new Error("the gateway is shutting down"));
    const key = this.#key(spec);
    let entry = this.#clients.get(key);
    if (!entry) {
      entry = (async () => {
        const timeoutMs = spec.timeoutMs ?? 10_000;
        const client = await connectMcp(new URL(spec.url), {
          ...(spec.headers ? { headers: spec.headers } : {}),
          timeoutMs,
        });
        let listed;
        try {
          listed = await client.listTools({ timeoutMs });
        } catch (error) {
          // The session it opened is ended, not left to expire on the server.
          await client.close();
          throw error;
        }
        const tools = listed.map((t) => ({
          name: t.name,
          description: t.description ?? t.title ?? t.name,
          inputSchema: { ...t.inputSchema },
        }));
        return { client, tools };
      })();
      this.#clients.set(key, entry);
      entry.catch((error) => {
        // Next use tries again.
        this.#clients.delete(key);
        this.#log.warn({ server: spec.name, error: String(error) }, "Cannot reach MCP server");
      });
    }
    return entry;
  }

  /** The server's tools (those allowed), or none when it cannot be reached. */
  async tools(spec: McpServerSpec): Promise<McpToolInfo[]> {
    try {
      const { tools } = await this.#connect(spec);
      return spec.allowedTools ? tools.filter((t) => spec.allowedTools!.includes(t.name)) : tools;
    } catch {
      return [];
    }
  }

  /** Calls a tool; the text of its answer, or an error output. */
  async call(
    spec: McpServerSpec,
    name: string,
    args: Record<string, unknown>,
    signal: AbortSignal,
    timeoutMs: number,
  ): Promise<{ ok: boolean; output: string }> {
    try {
      const options = { signal, timeoutMs: spec.timeoutMs ?? timeoutMs };
      let result;
      try {
        result = await (await this.#connect(spec)).client.callTool(name, args, options);
      } catch (error) {
        if (!(error instanceof McpSessionExpired)) throw error;
        // The server forgot the session (restarted, expired it): initialize again, once.
        this.#clients.delete(this.#key(spec));
        result = await (await this.#connect(spec)).client.callTool(name, args, options);
      }
      const text = result.content.map((c) =>
        typeof c === "object" && c !== null && "text" in c && typeof c.text === "string"
          ? c.text
          : ""
      ).join("\n");
      if (result.isError) return { ok: false, output: errorOutput(text || "tool error") };
      return { ok: true, output: text };
    } catch (error) {
      if (signal.aborted) return { ok: false, output: errorOutput("cancelled") };
      const message = error instanceof Error ? error.message : String(error);
      return { ok: false, output: errorOutput(`The tool failed: ${message.slice(0, 200)}`) };
    }
  }

  #key(spec: McpServerSpec): string {
    return `${spec.url} ${JSON.stringify(spec.headers)}`;
  }

  /** Closes every client; no new one is opened after. */
  async close(): Promise<void> {
    this.#closed = true;
    const entries = [...this.#clients.values()];
    this.#clients.clear();
    await Promise.all(entries.map(async (entry) => {
      // A server that never answers must not hold the gateway's shutdown.
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          (async () => await (await entry).client.close())(),
          new Promise<void>((resolve) => timer = setTimeout(resolve, 2000)),
        ]);
      } catch {
        // Never connected.
      } finally {
        clearTimeout(timer);
      }
    }));
  }
}

interface McpToolInfo {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: Record<string, unknown>;
}

/** A call's tools: their definitions for the model, and running them. */
export class ToolBox {
  readonly #profile: AgentProfile;
  readonly #context: () => ToolContext;
  readonly #mcp: McpPool | undefined;
  readonly #log: Logger;
  readonly #metrics: GatewayMetrics | undefined;
  readonly #timeoutMs: number;
  readonly #abort = new AbortController();
  readonly #http = new Map<string, HttpTool>();
  readonly #mcpTools = new Map<string, { spec: McpServerSpec; tool: string }>();
  readonly #fetch: typeof fetch;

  constructor(options: {
    profile: AgentProfile;
    /** Read at each run (call data such as the callee arrives after the call starts). */
    context: () => ToolContext;
    mcp?: McpPool;
    log: Logger;
    metrics?: GatewayMetrics;
    timeoutMs: number;
    fetch?: typeof fetch;
  }) {
    this.#profile = options.profile;
    this.#context = options.context;
    this.#mcp = options.mcp;
    this.#log = options.log;
    this.#metrics = options.metrics;
    this.#timeoutMs = options.timeoutMs;
    this.#fetch = options.fetch ?? fetch;
    for (const tool of options.profile.tools) this.#http.set(tool.name, tool);
  }

  /** The HTTP tools' definitions, known at once. */
  get httpDefinitions(): FunctionTool[] {
    return httpToolDefinitions(this.#profile);
  }

  /** Every tool's definition, MCP servers listed (unreachable servers offer none). */
  async definitions(): Promise<FunctionTool[]> {
    const out = this.httpDefinitions;
    if (!this.#mcp) return out;
    for (const spec of this.#profile.mcpServers) {
      for (const tool of await this.#mcp.tools(spec)) {
        const name = `${spec.name}${MCP_SEPARATOR}${tool.name}`.slice(0, 64);
        if (this.#http.has(name) || this.#mcpTools.has(name)) continue;
        this.#mcpTools.set(name, { spec, tool: tool.name });
        out.push({
          type: "function",
          name,
          description: tool.description,
          parameters: tool.inputSchema,
        });
      }
    }
    return out;
  }

  /** Whether the model's function `name` is one of these tools. */
  has(name: string): boolean {
    return this.#http.has(name) || this.#mcpTools.has(name);
  }

  /** Runs a tool; never rejects: failures are outputs the model can speak about. */
  async run(name: string, argumentsJson: string): Promise<string> {
    const started = performance.now();
    const args = parseArgs(argumentsJson);
    let result: { ok: boolean; output: string; kind: string };
    const http = this.#http.get(name);
    const mcp = this.#mcpTools.get(name);
    if (http) result = { ...(await this.#runHttp(http, args)), kind: "http" };
    else if (mcp && this.#mcp) {
      result = {
        ...(await this.#mcp.call(mcp.spec, mcp.tool, args, this.#abort.signal, this.#timeoutMs)),
        kind: "mcp",
      };
    } else result = { ok: false, output: errorOutput(`Unknown tool "${name}"`), kind: "unknown" };
    const ms = performance.now() - started;
    this.#metrics?.toolCalls.inc({ tool: name, outcome: result.ok ? "ok" : "error" });
    this.#metrics?.toolLatency.observe({ kind: result.kind }, ms / 1000);
    this.#log.info({ tool: name, ok: result.ok, ms: Math.round(ms) }, "Tool call finished");
    return result.output.length > MAX_OUTPUT_CHARS
      ? result.output.slice(0, MAX_OUTPUT_CHARS)
      : result.output;
  }

  async #runHttp(
    tool: HttpTool,
    args: Record<string, unknown>,
  ): Promise<{ ok: boolean; output: string }> {
    const timeoutMs = tool.timeoutMs ?? this.#timeoutMs;
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(timeoutMs)]);
    const body = JSON.stringify({ tool: tool.name, arguments: args, context: this.#context() });
    let url = tool.url;
    if (tool.method === "GET") {
      const u = new URL(tool.url);
      for (const [k, v] of Object.entries(args)) {
        u.searchParams.set(k, typeof v === "string" ? v : JSON.stringify(v));
      }
      url = u.toString();
    }
    try {
      const response = await this.#fetch(url, {
        method: tool.method,
        headers: { "content-type": "application/json", ...tool.headers },
        ...(tool.method === "GET" ? {} : { body }),
        signal,
      });
      const text = await response.text();
      if (!response.ok) {
        return {
          ok: false,
          output: errorOutput(`The tool answered HTTP ${response.status}: ${text.slice(0, 300)}`),
        };
      }
      return { ok: true, output: text };
    } catch (error) {
      if (this.#abort.signal.aborted) return { ok: false, output: errorOutput("cancelled") };
      const name = error instanceof Error ? error.name : "";
      return {
        ok: false,
        output: errorOutput(
          name === "TimeoutError"
            ? `The tool did not answer within ${timeoutMs} ms`
            : "The tool could not be reached",
        ),
      };
    }
  }

  /** Cancels every run (the call ended). */
  close(): void {
    this.#abort.abort();
  }
}

/** A function call's JSON arguments as an object (`{}` when they are not a JSON object). */
export function parseArgs(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value))
      : {};
  } catch {
    return {};
  }
}
