/**
 * The user realtime API as a {@linkcode Mount} (seed 001): the open route
 * `/api/v1/streaming/realtime/{user_id}`, the authenticated route `/api/v1/streaming/realtime`,
 * and `GET …/status` and `…/health`.
 */
import type { Config } from "../config.ts";
import { openRouteEnabled, usesLocalEngine } from "../config.ts";
import type { Clock } from "../core/clock.ts";
import { systemClock } from "../core/clock.ts";
import { randomId } from "../core/ids.ts";
import type { Logger } from "../core/logger.ts";
import { silentLogger } from "../core/logger.ts";
import { boundedLogger } from "../core/bounded_log.ts";
import { watchHandshake } from "../core/handshake_watch.ts";
import type { Slots } from "../core/peer.ts";
import { localSlots, peerAddress } from "../core/peer.ts";
import type { Mount } from "../core/mount.ts";
import type { Route, RouteHandler } from "../core/route.ts";
import type { GatewayMetrics } from "../core/metrics.ts";
import type { Tracer } from "../core/tracing.ts";
import type { ProfileSet } from "../agents/profile.ts";
import type { McpPool } from "../agents/tools.ts";
import { gatewayTracer } from "../core/tracing.ts";
import type { Authenticator } from "./auth.ts";
import { createAuthenticator, presentedCredentials, selectProtocol } from "./auth.ts";
import type { RouteKind, UserConnection } from "./connection.ts";
import { serveUserSocket } from "./connection.ts";
import { forbiddenOrigin, originAllowed } from "./origin.ts";
import { isUserId, userIdRule } from "./user_id.ts";

/** The API's base path. */
export const REALTIME_BASE = "/api/v1/streaming/realtime";

/** Options of {@linkcode createUserRealtime}. */
export interface UserRealtimeOptions {
  readonly config: Config;
  /** The upstream endpoint, read when a connection opens. */
  readonly upstreamUrl: () => string;
  readonly clock?: Clock;
  readonly log?: Logger;
  readonly newId?: (prefix: string) => string;
  /** The gateway's metrics (sessions, refusals, frames, latency). */
  readonly metrics?: GatewayMetrics;
  /** Traces app sessions (default: the gateway tracer, a no-op without OTel). */
  readonly tracer?: Tracer;
  /** Agent profiles in force (app sessions match on route `app` and their user id). */
  readonly profiles?: () => ProfileSet;
  readonly mcp?: McpPool;
  /**
   * Where the per-peer and per-user caps are counted: this instance (default) or the cluster
   * (the Redis registry, so a client spreading sockets over instances meets the same caps).
   */
  readonly slots?: Slots;
  /** The cluster's view for `…/status` (instances and their counts), when there is one. */
  readonly clusterView?: () => Record<string, unknown>;
  /** How long an upgraded socket may take to open before it is freed (default 5000; tests). */
  readonly handshakeTimeoutMs?: number;
}

/** The mounted API and its live connections. */
export interface UserRealtime extends Mount {
  /** Live connections. */
  readonly connections: ReadonlySet<UserConnection>;
  readonly authenticator: Authenticator;
  close(): Promise<void>;
}

const RESERVED = new Set(["status", "health"]);

const json = (body: unknown, status = 200, headers: HeadersInit = {}): Response =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store", ...headers },
  });

/** Builds the user realtime API. */
export function createUserRealtime(options: UserRealtimeOptions): UserRealtime {
  const { config } = options;
  const clock = options.clock ?? systemClock;
  const log = options.log ?? silentLogger();
  const newId = options.newId ?? randomId;
  const connections = new Set<UserConnection>();
  const authenticator = createAuthenticator({
    tokens: config.REALTIME_API_TOKENS,
    ...(config.REALTIME_JWT_SECRET === undefined ? {} : { jwtSecret: config.REALTIME_JWT_SECRET }),
    ...(config.REALTIME_JWT_ISSUER === undefined ? {} : { jwtIssuer: config.REALTIME_JWT_ISSUER }),
    ...(config.REALTIME_JWT_AUDIENCE === undefined
      ? {}
      : { jwtAudience: config.REALTIME_JWT_AUDIENCE }),
    clockToleranceS: config.REALTIME_JWT_CLOCK_TOLERANCE_S,
    maxIdChars: config.MAX_ID_CHARS,
    now: () => clock.now(),
  });
  const metrics = options.metrics;
  const deps = {
    config,
    upstreamUrl: options.upstreamUrl,
    clock,
    log,
    newId,
    tracer: options.tracer ?? gatewayTracer(),
    ...(metrics ? { metrics } : {}),
    ...(options.profiles ? { profiles: options.profiles } : {}),
    ...(options.mcp ? { mcp: options.mcp } : {}),
  };
  const allowedOrigin = originAllowed(config.ALLOWED_ORIGINS);
  // Refusals are logged with the peer address, never the token; a flood of them is bounded.
  const refusals = boundedLogger(log, {
    maxValueChars: config.LOG_VALUE_MAX_CHARS,
    linesPerSecond: config.LOG_LINES_PER_SOCKET,
    now: () => clock.monotonic(),
  });
  /**
   * Live sockets per peer address (`app-peer:…`) and sessions per user (`app-user:route:id`: an
   * open-route id never counts against a JWT's).
   */
  const slots = options.slots ?? localSlots();
  /** Upgrades between their first check and their socket (the caps wait on the cluster). */
  let admitting = 0;
  let closed = false;

  const counts = () => {
    let open = 0;
    for (const c of connections) if (c.route === "open") open++;
    return { total: connections.size, open, authenticated: connections.size - open };
  };

  const refuse = (
    status: number,
    code: string,
    message: string,
    context: { readonly peer: string; readonly reason?: string; readonly headers?: HeadersInit },
  ): Response => {
    metrics?.refusedConnections.inc({ route: "app", reason: code });
    refusals.warn(
      { path: REALTIME_BASE, peer: context.peer, status, code, reason: context.reason ?? message },
      "Refused user connection",
    );
    return json({ error: code, message }, status, context.headers);
  };

  const upgrade = async (
    request: Request,
    target: {
      readonly route: RouteKind;
      readonly userId: string;
      readonly peer: string;
      /** False for a static token: it names a service, not a user (counted per peer only). */
      readonly perUser: boolean;
    },
  ): Promise<Response> => {
    const { route, userId, peer } = target;
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return json({ error: "Cannot connect: this route needs a WebSocket upgrade" }, 426, {
        upgrade: "websocket",
      });
    }
    const protocol = selectProtocol(presentedCredentials(request).protocols);
    if (!protocol.ok) return refuse(400, "subprotocol_required", protocol.error, { peer });
    const full = () =>
      refuse(
        503,
        "server_full",
        "Cannot connect: the gateway has no room for another session; try again later",
        { peer, headers: { "retry-after": "5" } },
      );
    if (closed) return json({ error: "Cannot connect: the gateway is shutting down" }, 503);
    if (connections.size + admitting >= config.MAX_APP_SESSIONS) return full();
    // Caps: each slot is taken as it is checked (the cluster counts every instance's).
    const peerKey = `app-peer:${peer}`;
    const userKey = target.perUser ? `app-user:${route}:${userId}` : undefined;
    admitting++;
    let held: string[] = [];
    try {
      if (!await slots.acquire(peerKey, config.MAX_CONNECTIONS_PER_PEER)) {
        return refuse(
          429,
          "too_many_connections",
          `Cannot connect: this address already has ${config.MAX_CONNECTIONS_PER_PEER} open sessions; close one first`,
          { peer },
        );
      }
      held.push(peerKey);
      if (userKey !== undefined) {
        if (!await slots.acquire(userKey, config.MAX_SESSIONS_PER_USER)) {
          return refuse(
            429,
            "too_many_sessions",
            `Cannot connect: user ${
              JSON.stringify(userId)
            } already has ${config.MAX_SESSIONS_PER_USER} open sessions; close one first`,
            { peer },
          );
        }
        held.push(userKey);
      }
      if (closed) {
        return json({ error: "Cannot connect: the gateway is shutting down" }, 503);
      }
      let upgraded: { socket: WebSocket; response: Response };
      try {
        upgraded = Deno.upgradeWebSocket(
          request,
          protocol.protocol === undefined ? {} : { protocol: protocol.protocol },
        );
      } catch {
        return json({ error: "Cannot connect: not a valid WebSocket upgrade" }, 400);
      }
      const { socket, response } = upgraded;
      // The connection owns the slots now: given back when it closes.
      const keys = held;
      held = [];
      const release = (c: UserConnection): void => {
        if (!connections.delete(c)) return;
        for (const key of keys) slots.release(key);
      };
      const connection = serveUserSocket(socket, { deps, route, userId, peer, onClose: release });
      connections.add(connection);
      // A client gone while we decided leaves a socket that never opens nor closes: free it.
      watchHandshake(socket, {
        clock,
        ...(options.handshakeTimeoutMs === undefined
          ? {}
          : { timeoutMs: options.handshakeTimeoutMs }),
        onStuck: () => {
          try {
            connection.close(1001, "the WebSocket handshake did not complete");
          } finally {
            release(connection);
          }
        },
      });
      return response;
    } finally {
      admitting--;
      for (const key of held) slots.release(key);
    }
  };

  const authenticated = async (request: Request, peer: string): Promise<Response> => {
    // Headers must be read before Deno.upgradeWebSocket.
    const result = await authenticator.verify(presentedCredentials(request).token);
    if (!result.ok) {
      refusals.warn(
        { path: REALTIME_BASE, peer, status: 401, reason: result.error },
        "Refused user connection",
      );
      return json({ error: "unauthorized" }, 401, { "www-authenticate": "Bearer" });
    }
    return upgrade(request, {
      route: "authenticated",
      userId: result.subject,
      peer,
      // A static token names a service, not a user: its sessions count per peer and instance.
      perUser: result.method === "jwt",
    });
  };

  const status = (): Response =>
    json({
      service: "realtime",
      status: "ok",
      connections: counts(),
      ...(options.clusterView ? { cluster: options.clusterView() } : {}),
      routes: { open: openRouteEnabled(config), authenticated: authenticator.enabled },
      upstream: {
        mode: usesLocalEngine(config) ? "local" : "openai",
        model: config.OPENAI_REALTIME_MODEL,
      },
    });

  /**
   * Every request under the API passes the origin check first (any method), then answers only
   * GET (405 otherwise).
   */
  const fromAllowedOrigin = (
    answer: (request: Request, context: { peer: string; rest: string }) =>
      | Response
      | Promise<Response>,
  ): RouteHandler =>
  (request, { params, remoteAddr }) => {
    const peer = peerAddress(request, {
      ...(remoteAddr ? { remoteAddr } : {}),
      trustProxy: config.TRUST_PROXY,
    });
    if (!allowedOrigin(request)) {
      refusals.warn(
        {
          path: new URL(request.url).pathname,
          peer,
          status: 403,
          origin: request.headers.get("origin"),
        },
        "Refused request from an origin not in ALLOWED_ORIGINS",
      );
      return forbiddenOrigin();
    }
    if (request.method !== "GET") {
      return json({ error: "method not allowed" }, 405, { allow: "GET" });
    }
    return answer(request, { peer, rest: params.pathname.groups[0] ?? "" });
  };

  /** The open route: `…/{user_id}`. */
  const openRoute = (
    request: Request,
    context: { peer: string; rest: string },
  ): Response | Promise<Response> => {
    const { peer, rest } = context;
    if (RESERVED.has(rest) || !openRouteEnabled(config)) {
      return json({ error: "not found" }, 404);
    }
    if (!isUserId(rest, config.MAX_ID_CHARS)) {
      return json({
        error: `Cannot connect: user_id must be ${userIdRule(config.MAX_ID_CHARS)}`,
      }, 400);
    }
    return upgrade(request, { route: "open", userId: rest, peer, perUser: true });
  };

  const path = (pathname: string): URLPattern => new URLPattern({ pathname });
  const routes: readonly Route[] = [
    {
      method: "*",
      pattern: path(REALTIME_BASE),
      handler: fromAllowedOrigin((request, { peer }) => authenticated(request, peer)),
    },
    { method: "*", pattern: path(`${REALTIME_BASE}/status`), handler: fromAllowedOrigin(status) },
    {
      method: "*",
      pattern: path(`${REALTIME_BASE}/health`),
      handler: fromAllowedOrigin(() => json({ status: "ok", service: "realtime" })),
    },
    { method: "*", pattern: path(`${REALTIME_BASE}/*`), handler: fromAllowedOrigin(openRoute) },
  ];

  return {
    connections,
    authenticator,
    routes,
    stats() {
      return { realtime: { connections: counts() } };
    },
    active() {
      return connections.size;
    },
    shutdown() {
      closed = true;
      for (const connection of connections) {
        connection.end({
          error: "server_shutting_down",
          message: "Closed the session: the gateway is shutting down; connect again",
          closeCode: 1001,
          reason: "gateway shutting down",
        });
      }
      return Promise.resolve();
    },
    close() {
      closed = true;
      for (const connection of connections) connection.close(1001, "gateway shutting down");
      return Promise.resolve();
    },
  };
}
