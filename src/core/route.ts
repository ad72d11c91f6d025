/**
 * The gateway's routes as data: each a method, a `URLPattern` and a handler, tried in order, as
 * Deno std's `route()` (`@std/http/unstable-route`) does — JSR cannot be reached from our
 * machines, so this is the same few lines on the built-in `URLPattern`.
 */

/** What a route's handler gets besides the request. */
export interface RouteContext {
  /** What the pattern matched (`params.pathname.groups` holds the named and `*` groups). */
  readonly params: URLPatternResult;
  /** The peer's address, when the server knows it. */
  readonly remoteAddr?: Deno.Addr;
}

/** Answers one request a route matched. */
export type RouteHandler = (
  request: Request,
  context: RouteContext,
) => Response | Promise<Response>;

/** One entry of a route table. */
export interface Route {
  /** The request methods it answers; `"*"`: any method. */
  readonly method: string | readonly string[];
  readonly pattern: URLPattern;
  readonly handler: RouteHandler;
}

/** A fetch handler: `Deno.serve`'s shape, with the peer's address when known. */
export type FetchHandler = (
  request: Request,
  info?: { readonly remoteAddr?: Deno.Addr },
) => Response | Promise<Response>;

/** The fetch handler of a route table: the first route that matches answers, else `fallback`. */
export function route(routes: readonly Route[], fallback: FetchHandler): FetchHandler {
  return (request, info = {}) => {
    for (const entry of routes) {
      if (!methodMatches(entry.method, request.method)) continue;
      const params = entry.pattern.exec(request.url);
      if (params === null) continue;
      return entry.handler(request, {
        params,
        ...(info.remoteAddr === undefined ? {} : { remoteAddr: info.remoteAddr }),
      });
    }
    return fallback(request, info);
  };
}

function methodMatches(method: Route["method"], requested: string): boolean {
  if (typeof method === "string") return method === "*" || method === requested;
  return method.includes(requested);
}
