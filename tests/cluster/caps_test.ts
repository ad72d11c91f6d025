/**
 * Cluster-wide limits (issue #15): the per-address and per-user caps of app connections count
 * every instance's sockets, so a client spreading them over instances behind a balancer meets the
 * same caps as on one; `/health` and `…/status` show this instance and the cluster; with Redis
 * away each instance counts its own again (admissions never wait for Redis).
 */
import assert from "node:assert/strict";
import { eventually, probe, startClusterRig } from "./cluster_rig.ts";
import type { GatewayProcess } from "../gateway_process.ts";

/** A WebSocket that opened, or the refusal (an error before open). */
async function connect(url: string): Promise<WebSocket | undefined> {
  const socket = new WebSocket(url);
  const opened = await new Promise<boolean>((resolve) => {
    socket.onopen = () => resolve(true);
    socket.onerror = () => resolve(false);
    socket.onclose = () => resolve(false);
  });
  if (opened) return socket;
  await closed(socket);
  return undefined;
}

function closed(socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    socket.addEventListener("close", () => resolve(), { once: true });
    if (socket.readyState !== WebSocket.CLOSING) socket.close();
  });
}

const app = (gateway: GatewayProcess, user: string) =>
  `${gateway.url.replace(/^http/, "ws")}/api/v1/streaming/realtime/${user}`;
const vaic = (gateway: GatewayProcess) => `${gateway.url.replace(/^http/, "ws")}/ws`;

/** Refusal log lines of one kind on a gateway. */
function refusals(gateway: GatewayProcess, code: string): number {
  return gateway.lines.filter((text) => {
    try {
      return JSON.parse(text).code === code;
    } catch {
      return false;
    }
  }).length;
}

Deno.test("app sockets' per-address and per-user caps count across instances; Redis away: per instance", async () => {
  await using rig = await startClusterRig();
  const env = {
    REALTIME_OPEN_ROUTE: "true",
    MAX_CONNECTIONS_PER_PEER: "3",
    MAX_SESSIONS_PER_USER: "1",
    FIRST_MESSAGE_TIMEOUT_MS: "60000",
  };
  const a = await rig.gateway(env);
  const b = await rig.gateway(env);
  // Both heartbeats are in: each sees two instances.
  for (const gateway of [a, b]) {
    await eventually(async () => {
      const health = await probe(gateway, "/health");
      const cluster = health.body.cluster as { instances: number } | undefined;
      return cluster?.instances === 2 || undefined;
    }, "two instances in the cluster view");
  }
  const sockets: WebSocket[] = [];
  try {
    // One session per user across the cluster: alice on A, then alice on B is refused.
    const alice = await connect(app(a, "alice"));
    assert.ok(alice, "alice on A");
    sockets.push(alice);
    assert.equal(await connect(app(b, "alice")), undefined, "a second alice, on B");
    assert.equal(refusals(b, "too_many_sessions"), 1);

    // Three sockets per address across the cluster: alice (A), bob (B), carol (A)…
    for (const [gateway, user] of [[b, "bob"], [a, "carol"]] as const) {
      const socket = await connect(app(gateway, user));
      assert.ok(socket, `${user} connects`);
      sockets.push(socket);
    }
    // …so a fourth is refused on either instance.
    assert.equal(await connect(app(b, "dave")), undefined, "dave on B");
    assert.equal(await connect(app(a, "erin")), undefined, "erin on A");
    assert.equal(refusals(b, "too_many_connections"), 1);
    assert.equal(refusals(a, "too_many_connections"), 1);

    // `…/status` shows this instance and the cluster.
    const status = await (await fetch(`${b.url}/api/v1/streaming/realtime/status`)).json();
    assert.equal(status.connections.total, 1, "bob is B's only session");
    assert.equal(status.cluster.instances, 2);
    assert.equal(status.cluster.redis, "up");

    // alice hangs up on A: her slots are given back cluster-wide, so dave gets in on B.
    await closed(sockets.shift()!);
    const dave = await eventually(() => connect(app(b, "dave")), "dave admitted after alice left");
    sockets.push(dave);

    // Idle /ws sockets (no call yet) per address are a per-instance flood guard (3 here): a
    // fourth on A is refused, while B still takes one.
    const pending: WebSocket[] = [];
    for (let i = 0; i < 3; i++) {
      const socket = await connect(vaic(a));
      assert.ok(socket, "an idle VAIC socket on A");
      pending.push(socket);
    }
    sockets.push(...pending);
    assert.equal(await connect(vaic(a)), undefined, "a fourth idle VAIC socket on A");
    const onB = await connect(vaic(b));
    assert.ok(onB, "an idle VAIC socket on B");
    sockets.push(onB);

    // Redis away: each instance counts its own sockets only; nothing waits for Redis.
    await rig.redis.stop();
    await eventually(async () => {
      const health = await probe(b, "/health");
      return (health.body.cluster as { redis: string }).redis === "down" || undefined;
    }, "B to notice Redis is down");
    const aliceAgain = await connect(app(b, "alice"));
    assert.ok(aliceAgain, "alice on B while Redis is away (B holds no alice)");
    sockets.push(aliceAgain);
  } finally {
    await Promise.all(sockets.map(closed));
  }
});
