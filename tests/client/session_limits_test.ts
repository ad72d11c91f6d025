/** VoiceSession and the gateway's session limits: the close that follows is typed and explained. */
import assert from "node:assert/strict";
import {
  ConnectionClosedError,
  ServerError,
  SessionState,
  VoiceSession,
  type VoiceSessionError,
} from "../../src/client/mod.ts";
import { startTestApp } from "../helpers.ts";
import { signJwt } from "../../src/user/auth.ts";
import { manualClock } from "../user/manual_clock.ts";
import { serveUserApi } from "../user/user_server.ts";

for (
  const [code, env, advanceMs] of [
    ["idle_timeout", { APP_IDLE_TIMEOUT_MS: "60000" }, 60_000],
    ["session_expired", { APP_IDLE_TIMEOUT_MS: "600000", APP_MAX_SESSION_MS: "60000" }, 60_000],
  ] as const
) {
  Deno.test(`VoiceSession reports a gateway ${code} as a ConnectionClosedError`, async () => {
    await using app = await startTestApp();
    const time = manualClock();
    await using api = serveUserApi({ env, upstreamUrl: () => app.upstreamUrl, clock: time.clock });
    const session = new VoiceSession({ url: api.url });
    const errors: VoiceSessionError[] = [];
    session.on("error", (e) => errors.push(e));
    await using voice = await session.connect();
    const closed = new Promise<void>((resolve) =>
      voice.on("state_change", (s) => s === SessionState.DISCONNECTED && resolve())
    );
    time.tick(advanceMs);
    await closed;
    const last = errors.at(-1);
    assert.ok(last instanceof ConnectionClosedError, String(last));
    assert.equal(last.closeCode, 1000);
    assert.ok(last.cause instanceof ServerError);
    assert.equal(last.cause.code, code);
  });
}

Deno.test("VoiceSession with a JWT offers realtime next to the token; sub is the user", async () => {
  const secret = "jwt-secret-for-the-tests";
  await using app = await startTestApp({ REALTIME_JWT_SECRET: secret });
  const token = await signJwt({ sub: "user-7", exp: Math.floor(Date.now() / 1000) + 60 }, secret);
  await using voice = await new VoiceSession({ url: app.url, token }).connect();
  const [connection] = [...app.user.connections];
  assert.equal(connection?.route, "authenticated");
  assert.equal(connection?.userId, "user-7");
  assert.equal(voice.state, SessionState.CONNECTED);
});
