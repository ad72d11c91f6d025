/**
 * The user realtime API alone on 127.0.0.1:0, with its own clock, log and upstream, for tests
 * that drive time or break the upstream; the model is a running test app's local engine.
 */
import type { Clock } from "../../src/core/clock.ts";
import type { Logger } from "../../src/core/logger.ts";
import type { Slots } from "../../src/core/peer.ts";
import type { RunningServer } from "../../src/server.ts";
import { listen } from "../../src/server.ts";
import { route } from "../../src/core/route.ts";
import type { UserRealtime } from "../../src/user/route.ts";
import { createUserRealtime } from "../../src/user/route.ts";
import { testConfig } from "../helpers.ts";

/** A served user API. */
export interface UserServer extends RunningServer {
  readonly user: UserRealtime;
}

/** Serves {@linkcode createUserRealtime} built from `env` and the given parts. */
export function serveUserApi(options: {
  readonly env?: Record<string, string>;
  readonly upstreamUrl: () => string;
  readonly clock?: Clock;
  readonly log?: Logger;
  readonly slots?: Slots;
  readonly handshakeTimeoutMs?: number;
  readonly shutdownTimeoutMs?: number;
}): UserServer {
  const user = createUserRealtime({
    config: testConfig(options.env),
    upstreamUrl: options.upstreamUrl,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.log ? { log: options.log } : {}),
    ...(options.slots ? { slots: options.slots } : {}),
    ...(options.handshakeTimeoutMs === undefined
      ? {}
      : { handshakeTimeoutMs: options.handshakeTimeoutMs }),
  });
  const server = listen(
    route(user.routes, () => new Response("not found", { status: 404 })),
    {
      hostname: "127.0.0.1",
      port: 0,
      onClose: () => user.close(),
      ...(options.shutdownTimeoutMs === undefined
        ? {}
        : { shutdownTimeoutMs: options.shutdownTimeoutMs }),
    },
  );
  return { ...server, user };
}
