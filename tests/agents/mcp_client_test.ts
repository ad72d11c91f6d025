/**
 * The gateway's MCP client against the official MCP server (`@modelcontextprotocol/server`, a
 * test-only dependency) over real HTTP — stateful with SSE answers, stateful with JSON answers,
 * stateless — and against a hand-written server for what the official one does not do by itself
 * (pages of tools, a server request before the answer on the stream, HTTP errors).
 */
import assert from "node:assert/strict";
import { z } from "zod";
import { McpServer, WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/server";
import { connectMcp, MCP_PROTOCOL_VERSION, McpError } from "../../src/agents/mcp_client.ts";
import { McpPool } from "../../src/agents/tools.ts";
import { silentLogger } from "../../src/core/logger.ts";
import { McpServerSpec } from "../../src/agents/profile.ts";

type Mode = "sse" | "json" | "stateless";

/** The official server with two tools; records the HTTP methods it saw. */
function officialServer(mode: Mode) {
  const methods: string[] = [];
  const transports = new Map<string, WebStandardStreamableHTTPServerTransport>();
  const build = () => {
    const mcp = new McpServer({ name: "bank", version: "1.0.0" });
    mcp.registerTool("order_status", {
      description: "The status of an order",
      inputSchema: { order: z.string() },
    }, ({ order }) => ({
      content: [{ type: "text" as const, text: JSON.stringify({ order, status: "shipped" }) }],
    }));
    mcp.registerTool("fail", { description: "Always fails", inputSchema: {} }, () => ({
      content: [{ type: "text" as const, text: "the ledger is closed" }],
      isError: true,
    }));
    return mcp;
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    methods.push(req.method);
    if (mode === "stateless") {
      if (req.method !== "POST") return new Response(null, { status: 405 });
      const transport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
      });
      await build().connect(transport);
      return await transport.handleRequest(req);
    }
    if (req.method === "GET") return new Response(null, { status: 405 });
    const id = req.headers.get("mcp-session-id");
    // A session this server does not know (it restarted): 404, as the spec says.
    if (id !== null && !transports.has(id)) return new Response(null, { status: 404 });
    let transport = id === null ? undefined : transports.get(id);
    if (!transport) {
      transport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => crypto.randomUUID(),
        enableJsonResponse: mode === "json",
        onsessioninitialized: (sid) => void transports.set(sid, transport!),
      });
      await build().connect(transport);
    }
    return await transport.handleRequest(req);
  });
  return {
    url: new URL(`http://127.0.0.1:${server.addr.port}/mcp`),
    methods,
    server,
    /** Forgets every session, as a restarted server would. */
    forget: () => transports.clear(),
  };
}

for (const mode of ["sse", "json", "stateless"] as const) {
  Deno.test(`MCP client and the official server (${mode}): list, call, tool error, close`, async () => {
    const official = officialServer(mode);
    try {
      const client = await connectMcp(official.url, { timeoutMs: 5000 });
      assert.equal(client.protocolVersion, MCP_PROTOCOL_VERSION);
      const tools = await client.listTools({ timeoutMs: 5000 });
      assert.deepEqual(tools.map((t) => t.name), ["order_status", "fail"]);
      assert.equal(tools[0]!.description, "The status of an order");
      assert.deepEqual(
        (tools[0]!.inputSchema as { properties: Record<string, unknown> }).properties.order,
        { type: "string" },
      );
      const result = await client.callTool("order_status", { order: "O-9" }, { timeoutMs: 5000 });
      assert.deepEqual(result, {
        content: [{ type: "text", text: JSON.stringify({ order: "O-9", status: "shipped" }) }],
        isError: false,
      });
      const failed = await client.callTool("fail", {}, { timeoutMs: 5000 });
      assert.equal(failed.isError, true);
      // An unknown tool: the server answers with an error (a JSON-RPC error or an error result).
      const unknown = await client.callTool("nope", {}, { timeoutMs: 5000 }).then(
        (r) => r.isError,
        (e) => e instanceof McpError,
      );
      assert.equal(unknown, true);
      await client.close();
      // A stateful server's session is ended with DELETE; a stateless one has none to end.
      assert.equal(official.methods.includes("DELETE"), mode !== "stateless");
    } finally {
      await official.server.shutdown();
    }
  });
}

Deno.test("MCP client: pages of tools, a server request before the answer, HTTP errors", async () => {
  const seen: { method: string; session: string | null; version: string | null }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    if (new URL(req.url).pathname === "/denied") return new Response("no", { status: 401 });
    const body = await req.json();
    seen.push({
      method: body.method,
      session: req.headers.get("mcp-session-id"),
      version: req.headers.get("mcp-protocol-version"),
    });
    const answer = (result: unknown) => ({ jsonrpc: "2.0", id: body.id, result });
    if (body.method === "initialize") {
      return Response.json(answer({ protocolVersion: "2025-03-26", capabilities: {} }), {
        headers: { "mcp-session-id": "s-1" },
      });
    }
    if (body.method === "notifications/initialized") return new Response(null, { status: 202 });
    if (body.method === "tools/list") {
      const page = body.params.cursor === undefined
        ? { tools: [{ name: "a", inputSchema: { type: "object" } }], nextCursor: "p2" }
        : { tools: [{ name: "b", inputSchema: { type: "object" } }] };
      return Response.json(answer(page));
    }
    // tools/call: a ping request and a progress notification first, then the answer (CRLF).
    const events = [
      { jsonrpc: "2.0", id: "server-1", method: "ping" },
      { jsonrpc: "2.0", method: "notifications/progress", params: { progress: 1 } },
      answer({ content: [{ type: "text", text: "done" }] }),
    ].map((m) => `event: message\r\ndata: ${JSON.stringify(m)}\r\n\r\n`).join("");
    return new Response(events, { headers: { "content-type": "text/event-stream" } });
  });
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const client = await connectMcp(new URL(`${base}/mcp`), {
      timeoutMs: 5000,
      headers: { authorization: "Bearer t" },
    });
    assert.equal(client.protocolVersion, "2025-03-26");
    assert.deepEqual((await client.listTools({ timeoutMs: 5000 })).map((t) => t.name), ["a", "b"]);
    const result = await client.callTool("a", {}, { timeoutMs: 5000 });
    assert.deepEqual(result.content, [{ type: "text", text: "done" }]);
    // After initialize: the session id and the negotiated version on every request.
    assert.deepEqual(seen.slice(1).map((s) => [s.session, s.version]), [
      ["s-1", "2025-03-26"],
      ["s-1", "2025-03-26"],
      ["s-1", "2025-03-26"],
      ["s-1", "2025-03-26"],
    ]);
    await assert.rejects(
      connectMcp(new URL(`${base}/denied`), { timeoutMs: 5000 }),
      /HTTP 401/,
    );
    // An aborted call rejects at once.
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(client.callTool("a", {}, { timeoutMs: 5000, signal: controller.signal }));
  } finally {
    await server.shutdown();
  }
});

Deno.test("McpPool: a session the server forgot (404) is initialized again, once", async () => {
  const official = officialServer("json");
  const pool = new McpPool({ log: silentLogger() });
  try {
    const spec = McpServerSpec.parse({ name: "bank", url: official.url.href });
    const signal = new AbortController().signal;
    const first = await pool.call(spec, "order_status", { order: "O-1" }, signal, 5000);
    assert.equal(first.ok, true);
    official.forget();
    const second = await pool.call(spec, "order_status", { order: "O-2" }, signal, 5000);
    assert.deepEqual(second, {
      ok: true,
      output: JSON.stringify({ order: "O-2", status: "shipped" }),
    });
    // Two initializations: the first connection and the one after the 404.
    assert.equal(official.methods.filter((m) => m === "POST").length >= 6, true);
  } finally {
    await pool.close();
    await official.server.shutdown();
  }
});

Deno.test("MCP client: a JSON answer over 4 MiB is refused", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = await req.json();
    if (body.method === "initialize") {
      return Response.json({
        jsonrpc: "2.0",
        id: body.id,
        result: { protocolVersion: "2025-06-18", capabilities: {} },
      });
    }
    if (body.method === "notifications/initialized") return new Response(null, { status: 202 });
    return new Response(
      `{"jsonrpc":"2.0","id":${body.id},"result":{"tools":[],"x":"${
        "a".repeat(5 * 1024 * 1024)
      }"}}`,
      {
        headers: { "content-type": "application/json" },
      },
    );
  });
  try {
    const client = await connectMcp(new URL(`http://127.0.0.1:${server.addr.port}/`), {
      timeoutMs: 5000,
    });
    await assert.rejects(client.listTools({ timeoutMs: 5000 }), /over 4 MiB/);
  } finally {
    await server.shutdown();
  }
});
