/**
 * Composition root: builds the whole gateway (AudioCodes route, local engine when there is no
 * OpenAI key, Bridge agents) from a config, and serves it.
 */
import type { Config } from "./config.ts";
import { usesLocalEngine } from "./config.ts";
import type { Clock } from "./core/clock.ts";
import { systemClock } from "./core/clock.ts";
import type { Logger } from "./core/logger.ts";
import { silentLogger } from "./core/logger.ts";
import type { AgentFactory } from "./audiocodes/conversation_manager.ts";
import type { Gateway, Mount, RunningServer } from "./server.ts";
import { createGateway, listen } from "./server.ts";
import { createLocalEngine } from "./local/engine.ts";
import type { LocalEngine, LocalEngineOptions } from "./local/engine.ts";
import { phoneAgents } from "./audiocodes/phone_agent.ts";
import { ResamplerFactory } from "./audio/resampler.ts";
import type { UserRealtime } from "./user/route.ts";
import { createUserRealtime } from "./user/route.ts";
import { createWebPage } from "./web/route.ts";
import { cachedProbe } from "./core/upstream_probe.ts";
import { GatewayMetrics } from "./core/metrics.ts";
import { commit, VERSION } from "./core/version.ts";

/** Options of {@linkcode startApp}. */
export interface AppOptions {
  readonly config: Config;
  readonly log?: Logger;
  readonly clock?: Clock;
  /** Overrides the agent of phone calls (tests). */
  readonly agents?: AgentFactory;
  /** Overrides HOST/PORT (tests use 127.0.0.1:0). */
  readonly hostname?: string;
  readonly port?: number;
  /** Extra options of the embedded local engine (tests: scenarios). */
  readonly engine?: Partial<LocalEngineOptions>;
}

/** A running gateway. */
export interface App extends RunningServer {
  readonly gateway: Gateway;
  /** Where Bridges connect upstream. */
  readonly upstreamUrl: string;
  /** The embedded local engine, when it is the upstream. */
  readonly engine: LocalEngine | undefined;
  /** The user realtime API (/api/v1/streaming/realtime). */
  readonly user: UserRealtime;
}

/** Builds and serves the gateway. */
export async function startApp(options: AppOptions): Promise<App> {
  const { config } = options;
  const resamplers = await ResamplerFactory.load();
  const log = options.log ?? silentLogger();
  const clock = options.clock ?? systemClock;
  let upstreamUrl = config.OPENAI_REALTIME_URL;
  // The user API closes before the engine, so its Bridges never see the upstream vanish.
  const user = createUserRealtime({
    config,
    clock,
    log: log.child({ part: "user" }),
    upstreamUrl: () => upstreamUrl,
  });
  const mounts: Mount[] = [user, createWebPage({ allowedOrigins: config.ALLOWED_ORIGINS })];
  const engine = usesLocalEngine(config)
    ? createLocalEngine({
      log: log.child({ part: "engine" }),
      clock,
      maxSessionMs: config.ENGINE_MAX_SESSION_MS,
      resamplers,
      ...options.engine,
    })
    : undefined;
  if (engine) mounts.push(engine);
  // One registry for the whole gateway; the live gauges read the parts once they exist.
  // (The gauges are read at scrape time, after `gateway` below exists.)
  const metrics = new GatewayMetrics({
    calls: () => gateway.manager.size,
    sessions: () => user.connections.size,
  });
  const gateway = createGateway({
    config,
    log,
    clock,
    agents: options.agents ??
      phoneAgents({ config, clock, resamplers, metrics, upstreamUrl: () => upstreamUrl }),
    mounts,
    metrics,
    build: { version: VERSION, commit: commit((name) => Deno.env.get(name)) },
    ...(engine ? {} : {
      probeUpstream: cachedProbe({
        url: config.OPENAI_REALTIME_URL,
        ttlMs: 15_000,
        timeoutMs: 3000,
        now: () => clock.monotonic(),
      }),
    }),
  });
  const server = listen((request, info) => gateway.fetch(request, info), {
    hostname: options.hostname ?? config.HOST,
    port: options.port ?? config.PORT,
    onClose: () => gateway.close(),
  });
  if (usesLocalEngine(config)) upstreamUrl = `${server.url.replace(/^http/, "ws")}/v1/realtime`;
  return { ...server, gateway, upstreamUrl, engine, user };
}
