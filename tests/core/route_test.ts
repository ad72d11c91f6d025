import assert from "node:assert/strict";
import type { Route } from "../../src/core/route.ts";
import { route } from "../../src/core/route.ts";

const answer = (name: string): Route["handler"] => (_request, { params }) =>
  Response.json({ name, groups: params.pathname.groups });

const routes: readonly Route[] = [
  { method: "GET", pattern: new URLPattern({ pathname: "/ws" }), handler: answer("ws") },
  { method: ["GET", "HEAD"], pattern: new URLPattern({ pathname: "/" }), handler: answer("page") },
  { method: "*", pattern: new URLPattern({ pathname: "/api/:id" }), handler: answer("api") },
  { method: "*", pattern: new URLPattern({ pathname: "/api/*" }), handler: answer("api rest") },
];
const serve = route(routes, () => Response.json({ name: "fallback" }, { status: 404 }));

Deno.test("route() answers with the first route whose method and pattern match", async (t) => {
  const cases: [string, string, string, Record<string, string | undefined>?][] = [
    ["GET", "http://x/ws?token=1", "ws", {}],
    ["POST", "http://x/ws", "fallback"],
    ["GET", "http://x/ws/", "fallback"],
    ["HEAD", "http://x/", "page", {}],
    ["DELETE", "http://x/", "fallback"],
    ["PUT", "http://x/api/u1", "api", { id: "u1" }],
    ["GET", "http://x/api/a/b", "api rest", { 0: "a/b" }],
    ["GET", "http://x/nope", "fallback"],
  ];
  for (const [method, url, name, groups] of cases) {
    await t.step(`${method} ${url} -> ${name}`, async () => {
      const response = await serve(new Request(url, { method }));
      const body = await response.json();
      assert.equal(body.name, name);
      if (groups) assert.deepEqual(body.groups, groups);
    });
  }
});

Deno.test("route() hands the peer address to the handler", async () => {
  const remoteAddr: Deno.NetAddr = { transport: "tcp", hostname: "10.0.0.7", port: 4242 };
  const serveAddr = route([{
    method: "GET",
    pattern: new URLPattern({ pathname: "/" }),
    handler: (_request, context) => Response.json(context.remoteAddr ?? null),
  }], () => new Response(null, { status: 404 }));
  const response = await serveAddr(new Request("http://x/"), { remoteAddr });
  assert.deepEqual(await response.json(), remoteAddr);
});
