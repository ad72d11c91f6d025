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
import type { Mount } from "../server.ts";
import type { Authenticator } from "./auth.ts";
import { createAuthenticator, presentedCredentials, selectProtocol } from "./auth.ts";
import type { RouteKind, UserConnection } from "./connection.ts";
import { serveUserSocket } from "./connection.ts";

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
}

/** The mounted API and its live connections. */
export interface UserRealtime extends Mount {
  /** Live connections. */
  readonly connections: ReadonlySet<UserConnection>;
  readonly authenticator: Authenticator;
  close(): Promise<void>;
}

const USER_ID = /^[A-Za-z0-9._~-]{1,128}$/;
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
    now: () => clock.now(),
  });
  const deps = { config, upstreamUrl: options.upstreamUrl, clock, log, newId };

  const counts = () => {
    let open = 0;
    for (const c of connections) if (c.route === "open") open++;
    return { total: connections.size, open, authenticated: connections.size - open };
  };

  const upgrade = (request: Request, route: RouteKind, userId: string): Response => {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return json({ error: "Cannot connect: this route needs a WebSocket upgrade" }, 426, {
        upgrade: "websocket",
      });
    }
    const protocol = selectProtocol(presentedCredentials(request).protocols);
    let upgraded: { socket: WebSocket; response: Response };
    try {
      upgraded = Deno.upgradeWebSocket(request, protocol === undefined ? {} : { protocol });
    } catch {
      return json({ error: "Cannot connect: not a valid WebSocket upgrade" }, 400);
    }
    const { socket, response } = upgraded;
    const connection = serveUserSocket(socket, {
      deps,
      route,
      userId,
      onClose: (c) => connections.delete(c),
    });
    connections.add(connection);
    return response;
  };

  const authenticated = async (request: Request): Promise<Response> => {
    // Headers must be read before Deno.upgradeWebSocket.
    const result = await authenticator.verify(presentedCredentials(request).token);
    if (!result.ok) {
      log.warn({ path: REALTIME_BASE, reason: result.error }, "Refused user connection");
      return json({ error: "unauthorized" }, 401, { "www-authenticate": "Bearer" });
    }
    return upgrade(request, "authenticated", result.subject);
  };

  const status = (): Response =>
    json({
      service: "realtime",
      status: "ok",
      connections: counts(),
      routes: { open: openRouteEnabled(config), authenticated: authenticator.enabled },
      upstream: {
        mode: usesLocalEngine(config) ? "local" : "openai",
        model: config.OPENAI_REALTIME_MODEL,
      },
    });

  return {
    connections,
    authenticator,
    handle(request) {
      const { pathname } = new URL(request.url);
      if (pathname !== REALTIME_BASE && !pathname.startsWith(`${REALTIME_BASE}/`)) {
        return undefined;
      }
      if (request.method !== "GET") {
        return json({ error: "method not allowed" }, 405, { allow: "GET" });
      }
      if (pathname === REALTIME_BASE) return authenticated(request);
      const rest = pathname.slice(REALTIME_BASE.length + 1);
      if (rest === "status") return status();
      if (rest === "health") return json({ status: "ok", service: "realtime" });
      if (RESERVED.has(rest) || !openRouteEnabled(config)) {
        return json({ error: "not found" }, 404);
      }
      if (!USER_ID.test(rest)) {
        return json({
          error: "Cannot connect: user_id must be 1-128 letters, digits, '.', '_', '~' or '-'",
        }, 400);
      }
      return upgrade(request, "open", rest);
    },
    stats() {
      return { realtime: { connections: counts() } };
    },
    close() {
      for (const connection of connections) connection.close(1001, "gateway shutting down");
      return Promise.resolve();
    },
  };
}
