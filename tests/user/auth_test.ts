import assert from "node:assert/strict";
import {
  createAuthenticator,
  presentedCredentials,
  selectProtocol,
  signJwt,
} from "../../src/user/auth.ts";
import type { AuthenticatorOptions } from "../../src/user/auth.ts";

const SECRET = "a-long-enough-jwt-secret";
const NOW = 1_700_000_000_000;
const NOW_S = NOW / 1000;
const auth = (options: Partial<AuthenticatorOptions> = {}) =>
  createAuthenticator({
    tokens: ["tok-one", "tok-two"],
    jwtSecret: SECRET,
    maxIdChars: 32,
    now: () => NOW,
    ...options,
  });

const enc = (value: unknown): string =>
  new TextEncoder().encode(JSON.stringify(value)).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });

/** A JWT with any header, signed HS256 with `secret` over what is written. */
async function signRaw(header: unknown, payload: unknown, secret = SECRET): Promise<string> {
  const data = `${enc(header)}.${enc(payload)}`;
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const signature = new Uint8Array(
    await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(data)),
  );
  return `${data}.${signature.toBase64({ alphabet: "base64url", omitPadding: true })}`;
}

Deno.test("presentedCredentials() reads the header first, then a bearer.* subprotocol", () => {
  const withHeader = new Request("http://x/", {
    headers: { authorization: "Bearer from-header", "sec-websocket-protocol": "bearer.proto" },
  });
  assert.deepEqual(presentedCredentials(withHeader), {
    token: "from-header",
    protocols: ["bearer.proto"],
  });
  const withProtocol = new Request("http://x/", {
    headers: { "sec-websocket-protocol": "realtime, bearer.abc.def-_g" },
  });
  assert.deepEqual(presentedCredentials(withProtocol), {
    token: "abc.def-_g",
    protocols: ["realtime", "bearer.abc.def-_g"],
  });
  assert.equal(presentedCredentials(new Request("http://x/")).token, undefined);
});

Deno.test("selectProtocol() selects realtime and never echoes a bearer protocol", async (t) => {
  await t.step("realtime when offered", () => {
    assert.deepEqual(selectProtocol(["bearer.t", "realtime"]), { ok: true, protocol: "realtime" });
    assert.deepEqual(selectProtocol(["realtime"]), { ok: true, protocol: "realtime" });
  });
  await t.step("none when nothing or only unknown protocols are offered", () => {
    assert.deepEqual(selectProtocol([]), { ok: true, protocol: undefined });
    assert.deepEqual(selectProtocol(["chat"]), { ok: true, protocol: undefined });
  });
  await t.step("bearer.* alone is refused with a hint", () => {
    const choice = selectProtocol(["bearer.secret-token"]);
    assert.equal(choice.ok, false);
    assert.match(!choice.ok ? choice.error : "", /offer the "realtime" subprotocol alongside/);
    assert.ok(!JSON.stringify(choice).includes("secret-token"));
  });
});

Deno.test("Authenticator.verify() accepts configured static tokens only", async () => {
  const a = auth();
  assert.deepEqual(await a.verify("tok-two"), { ok: true, subject: "token", method: "token" });
  assert.deepEqual(await a.verify("tok-three"), { ok: false, error: "unknown token" });
  assert.deepEqual(await a.verify("tok-on"), { ok: false, error: "unknown token" });
  assert.deepEqual(await a.verify(undefined), { ok: false, error: "no bearer token" });
  assert.deepEqual(await a.verify(""), { ok: false, error: "no bearer token" });
});

Deno.test("Authenticator.verify() checks HS256 JWTs with jose", async (t) => {
  const a = auth({ clockToleranceS: 0 });
  await t.step("valid, with subject", async () => {
    const jwt = await signJwt({ sub: "user-42", exp: NOW_S + 60 }, SECRET);
    assert.deepEqual(await a.verify(jwt), { ok: true, subject: "user-42", method: "jwt" });
  });
  const refused: [string, () => Promise<string>, string][] = [
    ["no exp", () => signJwt({ sub: "u" }, SECRET), 'JWT has no "exp" claim'],
    ["no sub", () => signJwt({ exp: NOW_S + 60 }, SECRET), 'JWT has no "sub" claim'],
    ["expired", () => signJwt({ sub: "u", exp: NOW_S - 1 }, SECRET), "JWT has expired"],
    ["expiring now", () => signJwt({ sub: "u", exp: NOW_S }, SECRET), "JWT has expired"],
    [
      "not yet valid",
      () => signJwt({ sub: "u", exp: NOW_S + 60, nbf: NOW_S + 30 }, SECRET),
      "JWT is not valid yet",
    ],
    [
      "exp not a number",
      () => signJwt({ sub: "u", exp: "soon" }, SECRET),
      'JWT "exp" claim is not valid',
    ],
    [
      "wrong secret",
      () => signJwt({ sub: "x", exp: NOW_S + 60 }, "another-secret-of-length"),
      "JWT signature does not match",
    ],
    ["tampered payload", async () => {
      const [h, , s] = (await signJwt({ sub: "a", exp: NOW_S + 60 }, SECRET)).split(".");
      return `${h}.${enc({ sub: "admin", exp: NOW_S + 60 })}.${s}`;
    }, "JWT signature does not match"],
    [
      "alg none",
      () => Promise.resolve(`${enc({ alg: "none" })}.${enc({ sub: "x", exp: NOW_S + 60 })}.`),
      "JWT alg is not HS256",
    ],
    [
      "alg HS512 with the right secret",
      () => signRaw({ alg: "HS512" }, { sub: "x", exp: NOW_S + 60 }),
      "JWT alg is not HS256",
    ],
    ["garbage", () => Promise.resolve("a.b.c"), "not a valid JWT"],
    [
      "sub with a space",
      () => signJwt({ sub: "bad id", exp: NOW_S + 60 }, SECRET),
      `JWT "sub" must be 1-32 letters, digits, '.', '_', '~' or '-'`,
    ],
    [
      "sub over MAX_ID_CHARS",
      () => signJwt({ sub: "u".repeat(33), exp: NOW_S + 60 }, SECRET),
      `JWT "sub" must be 1-32 letters, digits, '.', '_', '~' or '-'`,
    ],
    [
      "sub not a string",
      () => signRaw({ alg: "HS256" }, { sub: 42, exp: NOW_S + 60 }),
      `JWT "sub" must be 1-32 letters, digits, '.', '_', '~' or '-'`,
    ],
  ];
  for (const [name, make, error] of refused) {
    await t.step(name, async () => {
      assert.deepEqual(await a.verify(await make()), { ok: false, error });
    });
  }
  await t.step("no JWTs without a secret", async () => {
    const noSecret = auth({ tokens: ["t"], jwtSecret: undefined });
    assert.deepEqual(await noSecret.verify(await signJwt({ sub: "u", exp: NOW_S + 60 }, SECRET)), {
      ok: false,
      error: "unknown token",
    });
  });
});

Deno.test("Authenticator.verify() applies the clock tolerance to exp and nbf", async () => {
  const a = auth({ clockToleranceS: 30 });
  const ok = { ok: true, subject: "u", method: "jwt" };
  assert.deepEqual(await a.verify(await signJwt({ sub: "u", exp: NOW_S - 29 }, SECRET)), ok);
  assert.deepEqual(await a.verify(await signJwt({ sub: "u", exp: NOW_S - 31 }, SECRET)), {
    ok: false,
    error: "JWT has expired",
  });
  const early = { sub: "u", exp: NOW_S + 90 };
  assert.deepEqual(await a.verify(await signJwt({ ...early, nbf: NOW_S + 29 }, SECRET)), ok);
  assert.deepEqual(await a.verify(await signJwt({ ...early, nbf: NOW_S + 31 }, SECRET)), {
    ok: false,
    error: "JWT is not valid yet",
  });
});

Deno.test("Authenticator.verify() checks iss and aud when configured", async (t) => {
  const a = auth({ jwtIssuer: "https://issuer.example", jwtAudience: "voice-gateway" });
  const claims = { sub: "u", exp: NOW_S + 60 };
  const cases: [string, Record<string, unknown>, string | undefined][] = [
    ["both right", { iss: "https://issuer.example", aud: "voice-gateway" }, undefined],
    [
      "aud in a list",
      { iss: "https://issuer.example", aud: ["other", "voice-gateway"] },
      undefined,
    ],
    ["no iss", { aud: "voice-gateway" }, 'JWT has no "iss" claim'],
    [
      "wrong iss",
      { iss: "https://evil.example", aud: "voice-gateway" },
      'JWT "iss" claim does not match',
    ],
    ["no aud", { iss: "https://issuer.example" }, 'JWT has no "aud" claim'],
    [
      "wrong aud",
      { iss: "https://issuer.example", aud: "another" },
      'JWT "aud" claim does not match',
    ],
  ];
  for (const [name, extra, error] of cases) {
    await t.step(name, async () => {
      const result = await a.verify(await signJwt({ ...claims, ...extra }, SECRET));
      assert.deepEqual(
        result,
        error === undefined ? { ok: true, subject: "u", method: "jwt" } : { ok: false, error },
      );
    });
  }
  await t.step("unchecked when not configured", async () => {
    const plain = auth();
    const jwt = await signJwt({ ...claims, iss: "anyone", aud: "anything" }, SECRET);
    assert.equal((await plain.verify(jwt)).ok, true);
  });
});

Deno.test("createAuthenticator() is disabled without any credential", () => {
  assert.equal(auth({ tokens: [], jwtSecret: undefined }).enabled, false);
  assert.equal(auth({ tokens: ["t"], jwtSecret: undefined }).enabled, true);
  assert.equal(auth({ tokens: [] }).enabled, true);
});
