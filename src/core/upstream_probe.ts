/**
 * Readiness of a remote upstream: can its host be reached at all? A plain HTTPS request to the
 * realtime endpoint (any HTTP answer, even 4xx, means reachable), cached and rate-limited so
 * `/ready` polled every second costs one request per `ttlMs`.
 */

/** A cached reachability check. */
export function cachedProbe(options: {
  /** The upstream WebSocket URL (`wss://…` → probed as `https://…`). */
  readonly url: string;
  readonly ttlMs: number;
  readonly timeoutMs: number;
  readonly now: () => number;
  readonly fetch?: typeof fetch;
}): () => Promise<{ ok: boolean; detail: string }> {
  const doFetch = options.fetch ?? fetch;
  const target = options.url.replace(/^ws/, "http");
  let cached: { at: number; result: Promise<{ ok: boolean; detail: string }> } | undefined;
  const probe = async (): Promise<{ ok: boolean; detail: string }> => {
    try {
      const response = await doFetch(target, {
        method: "GET",
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      await response.body?.cancel();
      return { ok: response.status < 500, detail: `HTTP ${response.status}` };
    } catch (error) {
      const name = error instanceof Error ? error.name : "Error";
      return {
        ok: false,
        detail: name === "TimeoutError" ? "timed out" : "connection refused or failed",
      };
    }
  };
  return () => {
    const now = options.now();
    if (!cached || now - cached.at >= options.ttlMs) cached = { at: now, result: probe() };
    return cached.result;
  };
}
