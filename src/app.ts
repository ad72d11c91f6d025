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
import type { AgentFactory } from "./audiocodes/conversation.ts";
import type { Mount } from "./core/mount.ts";
import { route } from "./core/route.ts";
import type { Gateway, RunningServer } from "./server.ts";
import { clusterSummary, createGateway, listen } from "./server.ts";
import { createLocalEngine, ENGINE_PATH } from "./local/engine.ts";
import type { LocalEngine, LocalEngineOptions } from "./local/engine.ts";
import { phoneAgents } from "./audiocodes/phone_agent.ts";
import { upstreamPool } from "./bridge/from_config.ts";
import { ResamplerFactory } from "./audio/resampler.ts";
import type { UserRealtime } from "./user/route.ts";
import { createUserRealtime } from "./user/route.ts";
import { createWebPage } from "./web/route.ts";
import { cachedProbe } from "./core/upstream_probe.ts";
import { openProfileStore } from "./agents/store.ts";
import { McpPool } from "./agents/tools.ts";
import { GatewayMetrics } from "./core/metrics.ts";
import { CallCluster } from "./cluster/call_cluster.ts";
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
  /** PEM certificate and key (contents): serve `https://` and `wss://` in-process. */
  readonly tls?: { readonly cert: string; readonly key: string };
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

/** `AGENTS_FILE` cannot be used: the message has one line per problem. */
export class AgentsFileError extends Error {
  override readonly name = "AgentsFileError";
}

/** A built, not yet listening gateway (`deno serve` and Deno Deploy serve it themselves). */
export interface BuiltGateway {
  readonly gateway: Gateway;
  readonly engine: LocalEngine | undefined;
  readonly user: UserRealtime;
  /** Where Bridges connect upstream (the embedded engine's URL once the server listens). */
  readonly upstreamUrl: () => string;
  /** Tells the gateway its own base URL (`http://host:port`), where the embedded engine is. */
  listeningAt(url: string): void;
}

/** Builds the gateway from a config: the routes, the embedded engine when offline, the agents. */
export async function buildGateway(
  options: Omit<AppOptions, "hostname" | "port">,
): Promise<BuiltGateway> {
  const { config } = options;
  const resamplers = await ResamplerFactory.load();
  const log = options.log ?? silentLogger();
  const clock = options.clock ?? systemClock;
  let upstreamUrl = config.OPENAI_REALTIME_URL;
  // Agent profiles: a bad AGENTS_FILE stops start-up here, one line per problem.
  const opened = await openProfileStore({
    config,
    clock,
    log: log.child({ part: "agents" }),
    env: (name) => Deno.env.get(name),
  });
  if (!opened.ok) throw new AgentsFileError(opened.error);
  const profiles = opened.store;
  const mcp = new McpPool({ log: log.child({ part: "mcp" }) });
  // One registry for the whole gateway; the live gauges are read at scrape time, after
  // `gateway` and `user` below exist.
  const metrics = new GatewayMetrics({
    calls: () => gateway.manager.size,
    sessions: () => user.connections.size,
    enabled: config.METRICS_ENABLED,
  });
  // The shared call registry (REDIS_URL): connects in the background, never delays start-up.
  const cluster = config.REDIS_URL === undefined ? undefined : new CallCluster({
    url: config.REDIS_URL,
    leaseTtlMs: config.CLUSTER_LEASE_TTL_MS,
    resumeWaitMs: config.CLUSTER_RESUME_WAIT_MS ?? config.CLUSTER_LEASE_TTL_MS + 1000,
    graceMs: config.RESUME_GRACE_MS,
    clock,
    log,
    onOp: (op, outcome) => metrics.registryOps.inc({ op, outcome }),
  });
  // The user API closes before the engine, so its Bridges never see the upstream vanish.
  const user = createUserRealtime({
    config,
    clock,
    log: log.child({ part: "user" }),
    upstreamUrl: () => upstreamUrl,
    metrics,
    profiles: () => profiles.current,
    mcp,
    // Per-peer and per-user caps count across the cluster when there is one.
    ...(cluster ? { slots: cluster, clusterView: () => clusterSummary(cluster.view) } : {}),
  });
  const mounts: Mount[] = [user, createWebPage({ allowedOrigins: config.ALLOWED_ORIGINS }), {
    // Agents: nothing to serve; closed with the gateway (file watch, MCP clients).
    routes: [],
    close: async () => {
      await profiles.close();
      await mcp.close();
    },
  }];
  // Warm upstream sessions (UPSTREAM_POOL_SIZE); closed on drain, and before the engine.
  const pool = upstreamPool(config, {
    url: () => upstreamUrl,
    clock,
    log: log.child({ part: "upstream-pool" }),
  });
  if (pool) {
    mounts.push({
      routes: [],
      stats: () => ({ upstreamPool: { ready: pool.ready, ...pool.stats } }),
      shutdown: () => pool.close(),
      close: () => pool.close(),
    });
  }
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
  const gateway = createGateway({
    ...(cluster ? { cluster } : {}),
    config,
    log,
    clock,
    agents: options.agents ??
      phoneAgents({
        config,
        clock,
        resamplers,
        metrics,
        profiles: () => profiles.current,
        mcp,
        ...(pool ? { pool } : {}),
        upstreamUrl: () => upstreamUrl,
      }),
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
  cluster?.start();
  return {
    gateway,
    engine,
    user,
    upstreamUrl: () => upstreamUrl,
    listeningAt(url) {
      if (engine) upstreamUrl = `${url.replace(/^http/, "ws")}${ENGINE_PATH}`;
      pool?.start();
    },
  };
}

/** Builds and serves the gateway. */
export async function startApp(options: AppOptions): Promise<App> {
  const { config } = options;
  const built = await buildGateway(options);
  const { gateway } = built;
  // With TLS the public port speaks only TLS: the embedded engine then gets a plain listener of
  // its own on loopback, reachable by this process alone.
  const engine = built.engine;
  const engineServer = options.tls && engine
    ? listen(route(engine.routes, () => new Response(null, { status: 404 })), {
      hostname: "127.0.0.1",
      port: 0,
    })
    : undefined;
  const server = listen((request, info) => gateway.fetch(request, info), {
    hostname: options.hostname ?? config.HOST,
    port: options.port ?? config.PORT,
    ...(options.tls ? { tls: options.tls } : {}),
    onClose: async () => {
      await gateway.close();
      await engineServer?.close();
    },
  });
  built.listeningAt(engineServer?.url ?? `http://127.0.0.1:${server.port}`);
  return {
    ...server,
    gateway,
    upstreamUrl: built.upstreamUrl(),
    engine: built.engine,
    user: built.user,
  };
}
