/**
 * The gateway's MCP client: the part of the Model Context Protocol's Streamable HTTP transport
 * (spec 2025-06-18, back to 2025-03-26) that tools need — `initialize`, `tools/list` (all pages)
 * and `tools/call` as JSON-RPC over `POST`, answers as JSON or as an SSE stream, the
 * `Mcp-Session-Id` of a stateful server, and `DELETE` of that session on close.
 *
 * Written here rather than taken from `@modelcontextprotocol/client`: that package brings ten more
 * packages (a process spawner for stdio servers among them) into the gateway's runtime, against its
 * budget of 20. `tests/agents/mcp_client_test.ts` holds this client to the official server.
 */

/**
 * The protocol version offered; the server answers with the one it speaks. Not 2025-11-25: that
 * version lets a server end an answer's SSE stream early and expects the client to resume it
 * (`GET` with `Last-Event-ID`), which this client does not do.
 */
export const MCP_PROTOCOL_VERSION = "2025-06-18";

/** Versions this client speaks; another answer to `initialize` is refused. */
const SUPPORTED_VERSIONS = new Set(["2025-06-18", "2025-03-26"]);

/** One tool as `tools/list` describes it. */
export interface McpTool {
  readonly name: string;
  readonly title?: string;
  readonly description?: string;
  readonly inputSchema: Record<string, unknown>;
}

/** What `tools/call` answers. */
export interface McpToolResult {
  readonly content: readonly unknown[];
  readonly isError: boolean;
}

/**
 * The server no longer knows the session (HTTP 404 to a request carrying `Mcp-Session-Id`): the
 * spec's signal to initialize again.
 */
export class McpSessionExpired extends Error {
  constructor() {
    super("MCP session expired (HTTP 404)");
    this.name = "McpSessionExpired";
  }
}

/** A JSON-RPC error answer from the server. */
export class McpError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(`MCP error ${code}: ${message}`);
    this.name = "McpError";
    this.code = code;
  }
}

/** Options of {@linkcode connectMcp}. */
export interface McpClientOptions {
  /** Headers sent with every request (e.g. `authorization`); never logged. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Longest wait for `initialize`. */
  readonly timeoutMs: number;
  readonly clientName?: string;
}

/** A connected MCP server. */
export interface McpClient {
  /** The protocol version the server chose. */
  readonly protocolVersion: string;
  listTools(options: { timeoutMs: number }): Promise<McpTool[]>;
  callTool(
    name: string,
    args: Record<string, unknown>,
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<McpToolResult>;
  /** Ends a stateful server's session (`DELETE`); bounded by `timeoutMs`. */
  close(timeoutMs?: number): Promise<void>;
}

type JsonRpcAnswer = {
  readonly id?: unknown;
  readonly result?: unknown;
  readonly error?: { readonly code?: unknown; readonly message?: unknown };
};

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Connects: `initialize`, then `notifications/initialized`. */
export async function connectMcp(url: URL, options: McpClientOptions): Promise<McpClient> {
  let sessionId: string | undefined;
  let protocolVersion = MCP_PROTOCOL_VERSION;
  let nextId = 1;

  const headers = (): Record<string, string> => ({
    ...options.headers,
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    "mcp-protocol-version": protocolVersion,
    ...(sessionId === undefined ? {} : { "mcp-session-id": sessionId }),
  });

  const post = async (
    body: Record<string, unknown>,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<unknown> => {
    const signals = [AbortSignal.timeout(timeoutMs), ...(signal ? [signal] : [])];
    const response = await fetch(url, {
      method: "POST",
      headers: headers(),
      body: JSON.stringify({ jsonrpc: "2.0", ...body }),
      signal: AbortSignal.any(signals),
    });
    const session = response.headers.get("mcp-session-id");
    if (session !== null && sessionId === undefined) sessionId = session;
    if (!("id" in body)) {
      // A notification: 202 Accepted, no body.
      await response.body?.cancel();
      if (!response.ok) throw new Error(`MCP server answered HTTP ${response.status}`);
      return undefined;
    }
    if (!response.ok) {
      await response.body?.cancel();
      if (response.status === 404 && sessionId !== undefined) throw new McpSessionExpired();
      throw new Error(`MCP server answered HTTP ${response.status}`);
    }
    const type = response.headers.get("content-type") ?? "";
    const answer = type.includes("text/event-stream")
      ? await answerFromStream(response, body.id)
      : JSON.parse(await cappedText(response)) as JsonRpcAnswer;
    if (!isObject(answer)) throw new Error("MCP server sent no JSON-RPC answer");
    if (isObject(answer.error)) {
      throw new McpError(
        typeof answer.error.code === "number" ? answer.error.code : 0,
        typeof answer.error.message === "string" ? answer.error.message : "error",
      );
    }
    return answer.result;
  };

  const request = (
    method: string,
    params: Record<string, unknown>,
    timeoutMs: number,
    signal?: AbortSignal,
  ) => post({ id: nextId++, method, params }, timeoutMs, signal);

  const initialized = await request("initialize", {
    protocolVersion: MCP_PROTOCOL_VERSION,
    capabilities: {},
    clientInfo: { name: options.clientName ?? "voice-gateway", version: "1" },
  }, options.timeoutMs);
  if (!isObject(initialized) || typeof initialized.protocolVersion !== "string") {
    throw new Error("MCP server's initialize answer has no protocolVersion");
  }
  if (!SUPPORTED_VERSIONS.has(initialized.protocolVersion)) {
    throw new Error(`MCP server speaks protocol ${initialized.protocolVersion.slice(0, 20)} only`);
  }
  protocolVersion = initialized.protocolVersion;
  await post({ method: "notifications/initialized" }, options.timeoutMs);

  return {
    get protocolVersion() {
      return protocolVersion;
    },
    async listTools({ timeoutMs }) {
      const tools: McpTool[] = [];
      let cursor: string | undefined;
      // Pages until the server gives no cursor (bounded: a server cannot loop the gateway).
      for (let page = 0; page < 100; page++) {
        const result = await request(
          "tools/list",
          cursor === undefined ? {} : { cursor },
          timeoutMs,
        );
        if (!isObject(result) || !Array.isArray(result.tools)) {
          throw new Error("MCP server's tools/list answer has no tools");
        }
        for (const tool of result.tools) {
          if (!isObject(tool) || typeof tool.name !== "string") continue;
          tools.push({
            name: tool.name,
            ...(typeof tool.title === "string" ? { title: tool.title } : {}),
            ...(typeof tool.description === "string" ? { description: tool.description } : {}),
            inputSchema: isObject(tool.inputSchema) ? tool.inputSchema : { type: "object" },
          });
        }
        cursor = typeof result.nextCursor === "string" ? result.nextCursor : undefined;
        if (cursor === undefined) break;
      }
      return tools;
    },
    async callTool(name, args, { timeoutMs, signal }) {
      const result = await request("tools/call", { name, arguments: args }, timeoutMs, signal);
      if (!isObject(result)) throw new Error("MCP server's tools/call answer is not an object");
      return {
        content: Array.isArray(result.content) ? result.content : [],
        isError: result.isError === true,
      };
    },
    async close(timeoutMs = 2000) {
      if (sessionId === undefined) return;
      try {
        const response = await fetch(url, {
          method: "DELETE",
          headers: headers(),
          signal: AbortSignal.timeout(timeoutMs),
        });
        await response.body?.cancel();
      } catch {
        // The session expires on the server by itself.
      }
    },
  };
}

/** Longest answer or SSE event read (characters): a server cannot grow the gateway's memory. */
const MAX_EVENT_CHARS = 4 * 1024 * 1024;

/** A JSON answer's text, refused past {@linkcode MAX_EVENT_CHARS}. */
async function cappedText(response: Response): Promise<string> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) return text;
      text += value;
      if (text.length > MAX_EVENT_CHARS) throw new Error("MCP server sent an answer over 4 MiB");
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/**
 * Reads an SSE answer until the JSON-RPC answer to `id` (the server may send its own requests and
 * notifications first; a client that offers no capabilities leaves them unanswered).
 */
async function answerFromStream(response: Response, id: unknown): Promise<JsonRpcAnswer> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      if (buffer.length > MAX_EVENT_CHARS) throw new Error("MCP server sent an event over 4 MiB");
      // Events end with a blank line (LF or CRLF).
      let end: RegExpExecArray | null;
      while ((end = /\r?\n\r?\n/.exec(buffer)) !== null) {
        const event = buffer.slice(0, end.index);
        buffer = buffer.slice(end.index + end[0].length);
        const data = event.split(/\r?\n/)
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(line[5] === " " ? 6 : 5))
          .join("\n");
        if (data === "") continue;
        let message: unknown;
        try {
          message = JSON.parse(data);
        } catch {
          continue;
        }
        if (isObject(message) && message.id === id && ("result" in message || "error" in message)) {
          return message as JsonRpcAnswer;
        }
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  throw new Error("MCP server closed the stream without an answer");
}
