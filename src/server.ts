/**
 * The gateway as a plain `(Request) => Response` function built from its dependencies, and a
 * `Deno.serve` wrapper that owns the listening socket.
 */
import type { Config } from "./config.ts";
import { usesLocalEngine } from "./config.ts";
import type { Clock } from "./core/clock.ts";
import { systemClock } from "./core/clock.ts";
import type { Logger } from "./core/logger.ts";
import { silentLogger } from "./core/logger.ts";
import type { AgentFactory } from "./audiocodes/conversation.ts";
import { ConversationManager } from "./audiocodes/conversation_manager.ts";
import { serveAudioCodesSocket } from "./audiocodes/connection.ts";
import { watchHandshake } from "./core/handshake_watch.ts";
import { localSlots, peerAddress } from "./core/peer.ts";
import { bearerToken, secretsEqual } from "./core/secrets.ts";
import { GatewayMetrics, outcomeOf } from "./core/metrics.ts";
import type { CallCluster } from "./cluster/call_cluster.ts";
import type { Mount } from "./core/mount.ts";
import type { Route } from "./core/route.ts";
import { route } from "./core/route.ts";

/** What the gateway is built from. */
export interface GatewayDeps {
  readonly config: Config;
  readonly log?: Logger;
  readonly clock?: Clock;
  /** Builds the agent for each phone call (the Bridge in production). */
  readonly agents: AgentFactory;
  /** Optional parts (user API, page, engine): their routes are tried in order after ours. */
  readonly mounts?: readonly Mount[];
  /** Checks the upstream for `/ready` (default: always reachable, e.g. the local engine). */
  readonly probeUpstream?: UpstreamProbe;
  /** The gateway's metrics (built here when not given). */
  readonly metrics?: GatewayMetrics;
  /** Version and commit reported by `/health` and `/ready`. */
  readonly build?: { readonly version: string; readonly commit: string };
  /** The shared call registry (`REDIS_URL`); the gateway binds and closes it. */
  readonly cluster?: CallCluster;
}

/** A built gateway: its fetch handler and its state. */
export interface Gateway {
  fetch(request: Request, info?: { remoteAddr?: Deno.Addr }): Response | Promise<Response>;
  readonly manager: ConversationManager;
  readonly metrics: GatewayMetrics;
  /** True once a drain began: `/ready` is 503 and new calls and sessions are refused. */
  readonly draining: boolean;
  /**
   * Graceful drain: refuse new calls and sessions at once, let live ones finish until
   * `timeoutMs`, then hang up each remaining call (a `hangup` activity) and end each app
   * session (`error` `server_shutting_down`, then 1001). `signal` aborts the wait (a second
   * signal): the remaining calls are ended at once, just as cleanly.
   */
  drain(options: { timeoutMs: number; signal?: AbortSignal }): Promise<void>;
  close(): Promise<void>;
}

/** Whether the upstream can be reached, for `/ready` (cached by the caller). */
export type UpstreamProbe = () => Promise<{ ok: boolean; detail: string }>;

const json = (body: unknown, status = 200, headers: HeadersInit = {}): Response =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });

/** Builds the gateway's request handler. */
export function createGateway(deps: GatewayDeps): Gateway {
  const log = deps.log ?? silentLogger();
  const clock = deps.clock ?? systemClock;
  const config = deps.config;
  const startedAt = clock.now();
  // One child logger for every AudioCodes socket and the registry: a pino child is not free.
  const audiocodesLog = log.child({ part: "audiocodes" });
  const logLimits = {
    maxValueChars: config.LOG_VALUE_MAX_CHARS,
    linesPerSecond: config.LOG_LINES_PER_SOCKET,
  };
  const cluster = deps.cluster;
  const manager = new ConversationManager({
    ...(cluster ? { registry: cluster } : {}),
    clock,
    graceMs: config.RESUME_GRACE_MS,
    log: audiocodesLog,
    agents: deps.agents,
    limits: {
      maxEvents: config.MAX_CALL_EVENTS,
      maxCallMs: config.MAX_CALL_MS,
      log: logLimits,
      logTranscripts: config.LOG_TRANSCRIPTS,
    },
  });
  const mounts = deps.mounts ?? [];
  cluster?.bind({
    record: (id) => manager.record(id),
    letGo: (id, reason) => manager.handOver(id, reason),
    counts: () => {
      const calls = manager.list();
      return {
        calls: calls.length,
        detached: calls.filter((c) => c.phase === "detached").length,
        sessions: mounts.reduce((n, m) => n + (m.active?.() ?? 0), 0),
      };
    },
  });
  const metrics = deps.metrics ?? new GatewayMetrics({
    calls: () => manager.size,
    sessions: () => mounts.reduce((n, m) => n + (m.active?.() ?? 0), 0),
  });
  manager.onRelease((_, reason) => metrics.callsTotal.inc({ outcome: outcomeOf(reason) }));
  const sockets = new Set<WebSocket>();
  /**
   * `/ws` sockets per peer that do not carry a call yet (idle-socket floods). Counted per instance
   * even in a cluster: it guards this instance's sockets, and a Redis round trip on every VAIC
   * call setup would add to its latency (app sockets' caps are cluster-wide, see user/route.ts).
   */
  const pending = localSlots();
  /** Refusals logged per second at most (a refused flood must not flood the log). */
  let refusalLogAt = -Infinity;
  let refusalsSuppressed = 0;
  const logRefusal = (fields: Record<string, unknown>, message: string): void => {
    const now = clock.monotonic();
    if (now - refusalLogAt < 1000) {
      refusalsSuppressed++;
      return;
    }
    refusalLogAt = now;
    log.warn({ ...fields, suppressed: refusalsSuppressed }, message);
    refusalsSuppressed = 0;
  };

  const authorizedForBot = (request: Request): boolean => {
    const expected = config.AUDIOCODES_BOT_TOKEN;
    if (expected === undefined) return true;
    const token = bearerToken(request);
    return token !== undefined && secretsEqual(token, expected);
  };

  const audiocodes = async (
    request: Request,
    info: { remoteAddr?: Deno.Addr },
  ): Promise<Response> => {
    // Headers must be read before Deno.upgradeWebSocket.
    const peer = peerAddress(request, { ...info, trustProxy: config.TRUST_PROXY });
    if (!authorizedForBot(request)) {
      metrics.refusedConnections.inc({ route: "audiocodes", reason: "unauthorized" });
      logRefusal(
        { path: "/ws", peer: peer },
        "Refused AudioCodes connection: bad or missing bearer token",
      );
      return json({ error: "unauthorized" }, 401, { "www-authenticate": "Bearer" });
    }
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      // VAIC / Live Hub validation probe (§1.5).
      return json({ type: "ac-bot-api", success: true });
    }
    // Detached calls hold a model session while they wait for a resume: they count too.
    const detached = manager.list().filter((c) => c.phase === "detached").length;
    if (sockets.size + detached >= config.MAX_CALLS) {
      metrics.refusedConnections.inc({ route: "audiocodes", reason: "capacity" });
      logRefusal({ path: "/ws", peer, limit: config.MAX_CALLS }, "Refused call: at MAX_CALLS");
      return json({ error: "Cannot accept call: the gateway is at capacity" }, 503, {
        "retry-after": "1",
      });
    }
    const clusterCap = config.CLUSTER_MAX_CALLS;
    if (cluster && clusterCap !== undefined && cluster.up && cluster.view.calls >= clusterCap) {
      // The sum of the last heartbeats: it may lag by a heartbeat (a third of the lease TTL).
      metrics.refusedConnections.inc({ route: "audiocodes", reason: "cluster_capacity" });
      logRefusal({ path: "/ws", peer, limit: clusterCap }, "Refused call: at CLUSTER_MAX_CALLS");
      return json({ error: "Cannot accept call: the cluster is at capacity" }, 503, {
        "retry-after": "1",
      });
    }
    const pendingKey = `ws-pending:${peer}`;
    if (!await pending.acquire(pendingKey, config.MAX_CONNECTIONS_PER_PEER)) {
      metrics.refusedConnections.inc({ route: "audiocodes", reason: "peer_limit" });
      logRefusal(
        { path: "/ws", peer, limit: config.MAX_CONNECTIONS_PER_PEER },
        "Refused connection: too many sockets without a call from this peer",
      );
      return json({ error: "Cannot connect: too many pending connections" }, 429, {
        "retry-after": "1",
      });
    }
    if (draining) {
      // Drain began while the cluster counted the slot.
      pending.release(pendingKey);
      return json({ error: "Cannot connect: the gateway is shutting down" }, 503, {
        "retry-after": "1",
        connection: "close",
      });
    }
    let upgraded: { socket: WebSocket; response: Response };
    try {
      upgraded = Deno.upgradeWebSocket(request);
    } catch {
      pending.release(pendingKey);
      return json({ error: "Cannot connect: not a valid WebSocket upgrade" }, 400);
    }
    const { socket, response } = upgraded;
    let isPending = true;
    const settle = (): void => {
      if (!isPending) return;
      isPending = false;
      pending.release(pendingKey);
    };
    sockets.add(socket);
    const gone = (): void => {
      sockets.delete(socket);
      settle();
    };
    socket.addEventListener("close", gone);
    // A client gone before the upgrade leaves a socket that never opens nor closes: free it.
    watchHandshake(socket, { clock, onStuck: gone });
    serveAudioCodesSocket(socket, {
      manager,
      preference: config.MEDIA_FORMATS,
      maxFrameBytes: config.MAX_FRAME_BYTES,
      log: audiocodesLog,
      clock,
      maxIdChars: config.MAX_ID_CHARS,
      rateLimit: config.AUDIOCODES_RATE_LIMIT,
      firstMessageTimeoutMs: config.FIRST_MESSAGE_TIMEOUT_MS,
      logLimits,
      onActive: settle,
      metrics,
    });
    return response;
  };

  let draining = false;
  const build = deps.build ?? { version: "0.0.0", commit: "unknown" };
  const probeUpstream: UpstreamProbe = deps.probeUpstream ??
    (() => Promise.resolve({ ok: true, detail: "local engine" }));

  const ready = async (): Promise<Response> => {
    const reasons: string[] = [];
    if (draining) reasons.push("draining");
    const live = manager.list().length;
    if (live >= config.MAX_CALLS) reasons.push(`at MAX_CALLS (${config.MAX_CALLS})`);
    const upstream = await probeUpstream();
    if (!upstream.ok) reasons.push(`upstream unreachable: ${upstream.detail}`);
    // Calls still work without Redis, but cannot be resumed on another instance.
    if (cluster && !cluster.up) reasons.push("redis unreachable");
    const view = cluster?.view;
    if (view && config.CLUSTER_MAX_CALLS !== undefined && view.calls >= config.CLUSTER_MAX_CALLS) {
      reasons.push(`cluster at CLUSTER_MAX_CALLS (${config.CLUSTER_MAX_CALLS})`);
    }
    return json(
      {
        status: reasons.length === 0 ? "ready" : "not ready",
        ...(reasons.length === 0 ? {} : { reasons }),
        upstream: { mode: usesLocalEngine(config) ? "local" : "openai", detail: upstream.detail },
        ...(view ? { cluster: clusterSummary(view) } : {}),
        ...build,
      },
      reasons.length === 0 ? 200 : 503,
      { "cache-control": "no-store" },
    );
  };

  const health = (): Response => {
    const calls = manager.list();
    const mountStats = Object.assign({}, ...mounts.map((m) => m.stats?.() ?? {}));
    return json({
      status: draining ? "draining" : "ok",
      ...build,
      uptimeSeconds: Math.round((clock.now() - startedAt) / 1000),
      upstream: {
        mode: usesLocalEngine(config) ? "local" : "openai",
        model: config.OPENAI_REALTIME_MODEL,
      },
      calls: {
        active: calls.filter((c) => c.phase === "live").length,
        detached: calls.filter((c) => c.phase === "detached").length,
        ...manager.stats,
      },
      ...(cluster ? { cluster: clusterSummary(cluster.view) } : {}),
      ...mountStats,
    });
  };

  const activeSessions = (): number =>
    manager.list().length + mounts.reduce((n, m) => n + (m.active?.() ?? 0), 0);

  const drain = async (options: { timeoutMs: number; signal?: AbortSignal }): Promise<void> => {
    draining = true;
    log.info({ timeoutMs: options.timeoutMs, live: activeSessions() }, "Draining");
    const deadline = clock.monotonic() + options.timeoutMs;
    // Wait for calls and sessions to end by themselves, checking as they end and at the deadline.
    while (activeSessions() > 0 && !options.signal?.aborted) {
      const left = deadline - clock.monotonic();
      if (left <= 0) break;
      let timer: ReturnType<Clock["setTimeout"]> | undefined;
      let onAbort: (() => void) | undefined;
      await new Promise<void>((resolve) => {
        timer = clock.setTimeout(resolve, Math.min(left, 250));
        onAbort = resolve;
        options.signal?.addEventListener("abort", onAbort, { once: true });
      });
      if (timer !== undefined) clock.clearTimeout(timer);
      if (onAbort) options.signal?.removeEventListener("abort", onAbort);
    }
    const left = activeSessions();
    if (left > 0) log.info({ live: left }, "Drain deadline: ending the remaining calls");
    await manager.hangUpAll("gateway shutting down");
    for (const mount of mounts) await mount.shutdown?.();
    // VAIC answers a hangup by closing its socket; give it a moment before the 1001s.
    const closeBy = clock.monotonic() + 1000;
    while (sockets.size > 0 && clock.monotonic() < closeBy && !options.signal?.aborted) {
      await new Promise<void>((resolve) => clock.setTimeout(resolve, 20));
    }
  };

  const metricsRoute = async (request: Request): Promise<Response> => {
    if (!metrics.enabled) return json({ error: "not found: metrics are off" }, 404);
    const expected = config.METRICS_TOKEN;
    if (expected !== undefined) {
      const token = bearerToken(request);
      if (token === undefined || !secretsEqual(token, expected)) {
        return json({ error: "unauthorized" }, 401, { "www-authenticate": "Bearer" });
      }
    }
    return new Response(await metrics.text(), {
      headers: { "content-type": metrics.contentType, "cache-control": "no-store" },
    });
  };

  /** The route table: the gateway's own routes, then each mount's in order; else 404. */
  const routes: readonly Route[] = [
    {
      method: "GET",
      pattern: new URLPattern({ pathname: "/ws" }),
      handler: (request, { remoteAddr }) =>
        audiocodes(request, remoteAddr === undefined ? {} : { remoteAddr }),
    },
    { method: "GET", pattern: new URLPattern({ pathname: "/health" }), handler: () => health() },
    { method: "GET", pattern: new URLPattern({ pathname: "/ready" }), handler: () => ready() },
    { method: "GET", pattern: new URLPattern({ pathname: "/metrics" }), handler: metricsRoute },
    ...mounts.flatMap((mount) => mount.routes),
  ];
  const routed = route(routes, () => json({ error: "not found" }, 404));

  return {
    manager,
    metrics,
    get draining() {
      return draining;
    },
    drain,
    fetch(request, info = {}) {
      if (draining && request.headers.get("upgrade")?.toLowerCase() === "websocket") {
        metrics.refusedConnections.inc({
          route: new URL(request.url).pathname === "/ws" ? "audiocodes" : "app",
          reason: "draining",
        });
        // VAIC and apps try another instance.
        return json({ error: "Cannot connect: the gateway is shutting down" }, 503, {
          "retry-after": "1",
          connection: "close",
        });
      }
      return routed(request, info);
    },
    async close() {
      await manager.close();
      for (const socket of sockets) socket.close(1001, "gateway shutting down");
      for (const mount of mounts) await mount.close?.();
      await cluster?.close();
    },
  };
}

/** The cluster part of `/health` and `/ready`: this instance and every live one. */
export function clusterSummary(view: CallCluster["view"]): Record<string, unknown> {
  return {
    instance: view.instance,
    redis: view.redis,
    instances: view.instances.length,
    calls: view.calls,
    members: view.instances,
    unregisteredCalls: view.unregistered,
  };
}

/** A running server. */
export interface RunningServer extends AsyncDisposable {
  /** Base URL, e.g. `http://127.0.0.1:8000`. */
  readonly url: string;
  readonly port: number;
  readonly finished: Promise<void>;
  close(): Promise<void>;
}

/** Serves a fetch handler with `Deno.serve`; port 0 picks a free port. */
export function listen(
  handler: (
    request: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ) => Response | Promise<Response>,
  options: {
    hostname: string;
    port: number;
    /** PEM contents; with them the server speaks TLS (`https://`, `wss://`). */
    tls?: { cert: string; key: string };
    onClose?: () => Promise<void>;
    /**
     * Longest wait for the HTTP server's shutdown (default 5000). Deno 2.9.6 waits forever for a
     * socket upgraded after its client left (it never opens nor closes); the process must still
     * exit, so past this `close()` returns and the exit takes the rest.
     */
    shutdownTimeoutMs?: number;
  },
): RunningServer {
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    ...(options.tls ?? {}),
    onListen: () => {},
  }, handler);
  const addr = server.addr;
  const host = addr.hostname === "0.0.0.0" ? "127.0.0.1" : addr.hostname;
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      await options.onClose?.();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        server.shutdown(),
        new Promise<void>((resolve) =>
          timer = setTimeout(resolve, options.shutdownTimeoutMs ?? 5000)
        ),
      ]);
      clearTimeout(timer);
    })();
  return {
    url: `${options.tls ? "https" : "http"}://${
      host.includes(":") ? `[${host}]` : host
    }:${addr.port}`,
    port: addr.port,
    finished: server.finished,
    close,
    [Symbol.asyncDispose]: close,
  };
}
