/**
 * The browser `Origin` allow-list (ALLOWED_ORIGINS) shared by the app routes and the page: with
 * a non-empty list, a request that carries an `Origin` not on it is refused before anything
 * else happens. Requests without `Origin` (apps, servers, curl) are not browsers' cross-site
 * requests and pass.
 */

/** `scheme://host[:port]` in lower case; entries that are not URLs are kept as written. */
function normalise(origin: string): string {
  try {
    const url = new URL(origin);
    return url.origin === "null" ? origin.toLowerCase() : url.origin;
  } catch {
    return origin.toLowerCase();
  }
}

/** Checks a request's `Origin` against the allow-list; empty list: every origin passes. */
export function originAllowed(allowed: readonly string[]): (request: Request) => boolean {
  const set = new Set(allowed.map(normalise));
  return (request) => {
    if (set.size === 0) return true;
    const origin = request.headers.get("origin");
    return origin === null || set.has(normalise(origin));
  };
}

/** The 403 answer to a request from an origin that is not allowed. */
export function forbiddenOrigin(): Response {
  return new Response(
    JSON.stringify({
      error: "forbidden_origin",
      message: "Cannot connect: this page's origin is not in the gateway's ALLOWED_ORIGINS",
    }),
    {
      status: 403,
      headers: { "content-type": "application/json", "cache-control": "no-store" },
    },
  );
}
