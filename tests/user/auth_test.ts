import assert from "node:assert/strict";
import {
  createAuthenticator,
  presentedCredentials,
  selectProtocol,
  signJwt,
} from "../../src/user/auth.ts";

const SECRET = "a-long-enough-jwt-secret";
const NOW = 1_700_000_000_000;
const auth = () =>
  createAuthenticator({ tokens: ["tok-one", "tok-two"], jwtSecret: SECRET, now: () => NOW });

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

Deno.test("selectProtocol() prefers realtime, else echoes the bearer protocol", () => {
  assert.equal(selectProtocol(["bearer.t", "realtime"]), "realtime");
  assert.equal(selectProtocol(["bearer.t"]), "bearer.t");
  assert.equal(selectProtocol(["chat"]), undefined);
  assert.equal(selectProtocol([]), undefined);
});

Deno.test("Authenticator.verify() accepts configured static tokens only", async () => {
  const a = auth();
  assert.deepEqual(await a.verify("tok-two"), { ok: true, subject: "token", method: "token" });
  assert.deepEqual(await a.verify("tok-three"), { ok: false, error: "unknown token" });
  assert.deepEqual(await a.verify(undefined), { ok: false, error: "no bearer token" });
  assert.deepEqual(await a.verify(""), { ok: false, error: "no bearer token" });
});

Deno.test("Authenticator.verify() checks HS256 JWTs", async (t) => {
  const a = auth();
  await t.step("valid, with subject", async () => {
    const jwt = await signJwt({ sub: "user-42", exp: NOW / 1000 + 60 }, SECRET);
    assert.deepEqual(await a.verify(jwt), { ok: true, subject: "user-42", method: "jwt" });
  });
  await t.step("valid without exp or sub", async () => {
    assert.deepEqual(await a.verify(await signJwt({}, SECRET)), {
      ok: true,
      subject: "jwt",
      method: "jwt",
    });
  });
  const refused: [string, () => Promise<string>, string][] = [
    ["expired", () => signJwt({ exp: NOW / 1000 - 1 }, SECRET), "JWT has expired"],
    ["expiring now", () => signJwt({ exp: NOW / 1000 }, SECRET), "JWT has expired"],
    ["not yet valid", () => signJwt({ nbf: NOW / 1000 + 30 }, SECRET), "JWT is not valid yet"],
    ["exp not a number", () => signJwt({ exp: "soon" }, SECRET), "JWT exp is not a number"],
    [
      "wrong secret",
      () => signJwt({ sub: "x" }, "another-secret-of-length"),
      "JWT signature does not match",
    ],
    ["tampered payload", async () => {
      const [h, , s] = (await signJwt({ sub: "a" }, SECRET)).split(".");
      const payload = new TextEncoder().encode('{"sub":"admin"}').toBase64({
        alphabet: "base64url",
        omitPadding: true,
      });
      return `${h}.${payload}.${s}`;
    }, "JWT signature does not match"],
    ["alg none", () => {
      const enc = (v: unknown) =>
        new TextEncoder().encode(JSON.stringify(v)).toBase64({
          alphabet: "base64url",
          omitPadding: true,
        });
      return Promise.resolve(`${enc({ alg: "none" })}.${enc({ sub: "x" })}.`);
    }, "JWT alg is not HS256"],
    ["garbage", () => Promise.resolve("a.b.c"), "JWT alg is not HS256"],
  ];
  for (const [name, make, error] of refused) {
    await t.step(name, async () => {
      assert.deepEqual(await a.verify(await make()), { ok: false, error });
    });
  }
  await t.step("no JWTs without a secret", async () => {
    const noSecret = createAuthenticator({ tokens: ["t"], now: () => NOW });
    assert.deepEqual(await noSecret.verify(await signJwt({}, SECRET)), {
      ok: false,
      error: "unknown token",
    });
  });
});

Deno.test("createAuthenticator() is disabled without any credential", () => {
  assert.equal(createAuthenticator({ tokens: [], now: () => 0 }).enabled, false);
  assert.equal(createAuthenticator({ tokens: ["t"], now: () => 0 }).enabled, true);
  assert.equal(createAuthenticator({ tokens: [], jwtSecret: SECRET, now: () => 0 }).enabled, true);
});
