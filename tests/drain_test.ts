/**
 * Graceful drain of the real process (`src/main.ts` as deployed): SIGTERM during a live phone call
 * and a live app session.
 */
import assert from "node:assert/strict";
import { runCall } from "../src/tools/call.ts";
import { JsonSocket, TIMEOUT_SCALE } from "./helpers.ts";
import { startGatewayProcess } from "./gateway_process.ts";

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.json() };
}

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs * TIMEOUT_SCALE;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("Timed out waiting for a condition");
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("SIGTERM drains: /ready 503, new calls refused, the live call hung up, exit 0", async () => {
  await using gateway = await startGatewayProcess({ DRAIN_TIMEOUT_MS: "1500" });
  const ws = gateway.url.replace(/^http/, "ws");
  const call = runCall({
    url: `${ws}/ws`,
    formats: ["raw/lpcm16"],
    waitUntil: "timeout",
    waitMs: 30_000,
  });
  await until(async () => {
    const { body } = await getJson(`${gateway.url}/health`);
    return (body.calls as { active: number }).active === 1;
  });
  assert.equal((await getJson(`${gateway.url}/ready`)).status, 200);
  const app = new JsonSocket(`${ws}/api/v1/streaming/realtime/drain-user`);
  await app.next("session.created");

  gateway.process.kill("SIGTERM");
  await until(async () => (await getJson(`${gateway.url}/ready`)).status === 503);
  const ready = await getJson(`${gateway.url}/ready`);
  assert.deepEqual(ready.body.reasons, ["draining"]);
  assert.equal((await getJson(`${gateway.url}/health`)).body.status, "draining");
  const refused = new JsonSocket(`${ws}/ws`);
  await assert.rejects(refused.opened);
  await refused.closed;

  const report = await call;
  assert.deepEqual(report.violations, []);
  assert.equal(report.endedBy, "bot-hangup");
  const hangup = report.events.find((e) => e.name === "hangup");
  assert.deepEqual(
    (hangup?.message as { activities: { activityParams: unknown }[] }).activities[0]
      ?.activityParams,
    { hangupReason: "gateway shutting down" },
  );
  const error = await app.next("error");
  assert.equal((error.error as { code: string }).code, "server_shutting_down");
  assert.equal((await app.closed).code, 1001);
  const status = await gateway.status;
  assert.equal(status.code, 0);
});
