/**
 * A scale-out rig: one real redis-server, one local realtime engine behind a wire tap (so the
 * test sees what every gateway sent the model), and gateway processes (`deno run src/main.ts`)
 * sharing both, as a load balancer would spread VAIC's sockets over them.
 */
import type { RunningEngine } from "../../src/local/main.ts";
import { startEngine } from "../../src/local/main.ts";
import type { GatewayProcess } from "../gateway_process.ts";
import { startGatewayProcess } from "../gateway_process.ts";
import { TIMEOUT_SCALE } from "../json_socket.ts";
import { Vaic } from "../audiocodes/rig.ts";
import { RealtimeTap } from "../realtime_tap.ts";
import { RedisServer } from "./redis_server.ts";

/** Lease TTL of the test gateways: a dead instance's calls resume after at most this. */
export const TEST_LEASE_MS = 1000;

/** Redis, engine, tap. */
export interface ClusterRig extends AsyncDisposable {
  readonly redis: RedisServer;
  readonly engine: RunningEngine;
  readonly tap: RealtimeTap;
  /** Starts one more gateway process on the shared Redis and engine. */
  gateway(env?: Record<string, string>): Promise<GatewayProcess>;
}

/** Starts Redis, the engine and the tap; gateways are started with `rig.gateway()`. */
export async function startClusterRig(): Promise<ClusterRig> {
  const redis = await RedisServer.start();
  const engine = startEngine({ port: 0 });
  const tap = new RealtimeTap(engine.url);
  const gateways: GatewayProcess[] = [];
  return {
    redis,
    engine,
    tap,
    async gateway(env = {}) {
      const gateway = await startGatewayProcess({
        REDIS_URL: redis.url,
        OPENAI_API_KEY: "sk-test-key",
        OPENAI_REALTIME_URL: tap.url,
        ALLOW_UNAUTHENTICATED_BOT: "true",
        CLUSTER_LEASE_TTL_MS: String(TEST_LEASE_MS),
        AUDIOCODES_RATE_LIMIT: "100000",
        GREETING: "false",
        LOG_LEVEL: "info",
        ...env,
      });
      gateways.push(gateway);
      return gateway;
    },
    async [Symbol.asyncDispose]() {
      for (const gateway of gateways) await gateway[Symbol.asyncDispose]();
      await tap[Symbol.asyncDispose]();
      await engine.close();
      await redis.stop();
    },
  };
}

/** Fetches a gateway's `/health` or `/ready` as JSON (with the status code). */
export async function probe(
  gateway: { url: string },
  path: "/health" | "/ready",
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${gateway.url}${path}`);
  return { status: response.status, body: await response.json() };
}

/** Polls `check` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs * TIMEOUT_SCALE;
  while (true) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A log line of a gateway process, parsed (undefined when none matches). */
export function logLine(
  gateway: GatewayProcess,
  match: (line: Record<string, unknown>) => boolean,
): Record<string, unknown> | undefined {
  for (const text of gateway.lines) {
    try {
      const line = JSON.parse(text);
      if (match(line)) return line;
    } catch {
      // Not JSON.
    }
  }
  return undefined;
}

/**
 * One VAIC call socket to a gateway, driven by hand: the phone rig's {@linkcode Vaic} plus a
 * resume and a dropped connection.
 */
export class CallLeg extends Vaic {
  /** `session.resume`; resolves with the answer (`session.accepted` or `session.error`). */
  async resume(timeoutMs = 10_000): Promise<Record<string, unknown>> {
    this.socket.send({ type: "session.resume", conversationId: this.conversationId });
    return await this.socket.next(
      (m) => m.type === "session.accepted" || m.type === "session.error",
      timeoutMs,
    );
  }

  /** Closes the socket without `session.end` (a dropped connection). */
  drop(): Promise<void> {
    return this.socket.close();
  }
}
