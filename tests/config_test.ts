import assert from "node:assert/strict";
import {
  Env,
  loadConfig,
  openRouteEnabled,
  securityCheck,
  usesLocalEngine,
} from "../src/config.ts";
import { testConfig } from "./helpers.ts";

Deno.test("loadConfig() applies defaults and freezes the result", () => {
  const result = loadConfig({});
  assert.ok(result.ok);
  assert.equal(result.config.PORT, 8000);
  assert.equal(result.config.HOST, "0.0.0.0");
  assert.equal(result.config.OPENAI_REALTIME_MODEL, "gpt-realtime");
  assert.deepEqual(result.config.MEDIA_FORMATS, [
    "raw/lpcm16_24",
    "raw/mulaw",
    "raw/alaw",
    "raw/lpcm16",
    "raw/lpcm16_8",
  ]);
  assert.equal(result.config.RESUME_GRACE_MS, 30_000);
  assert.equal(result.config.MAX_FRAME_BYTES, 1024 * 1024);
  assert.ok(Object.isFrozen(result.config));
  assert.ok(usesLocalEngine(result.config));
});

Deno.test("loadConfig() treats empty strings as unset and parses typed values", () => {
  const result = loadConfig({
    OPENAI_API_KEY: "",
    PORT: "9001",
    GREETING: "off",
    TRANSFER_TARGETS: "tel:+18005550100, sip:queue@cc.example.net",
    MEDIA_FORMATS: "raw/mulaw,raw/lpcm16",
  });
  assert.ok(result.ok);
  assert.equal(result.config.OPENAI_API_KEY, undefined);
  assert.equal(result.config.PORT, 9001);
  assert.equal(result.config.GREETING, false);
  assert.deepEqual(result.config.TRANSFER_TARGETS, [
    "tel:+18005550100",
    "sip:queue@cc.example.net",
  ]);
  assert.deepEqual(result.config.MEDIA_FORMATS, ["raw/mulaw", "raw/lpcm16"]);
});

Deno.test("loadConfig() rejects a bad value with one line naming the variable", async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ PORT: "eighty" }, /^Invalid configuration: PORT="eighty": expected a whole number$/],
    [{ PORT: "70000" }, /^Invalid configuration: PORT="70000": expected /],
    [{ MEDIA_FORMATS: "raw/opus" }, /^Invalid configuration: MEDIA_FORMATS="raw\/opus": expected /],
    [
      { OPENAI_REALTIME_URL: "http://x" },
      /^Invalid configuration: OPENAI_REALTIME_URL=.*wss or ws$/,
    ],
    [{ GREETING: "maybe" }, /^Invalid configuration: GREETING="maybe": expected /],
    [{ LOG_LEVEL: "loud" }, /^Invalid configuration: LOG_LEVEL="loud": expected /],
    [
      { REALTIME_JWT_SECRET: "short" },
      /^Invalid configuration: REALTIME_JWT_SECRET=\(hidden\): expected at least 16 characters$/,
    ],
  ];
  for (const [env, pattern] of cases) {
    await t.step(Object.keys(env)[0]!, () => {
      const result = loadConfig(env);
      assert.ok(!result.ok);
      assert.match(result.error, pattern);
      assert.ok(!result.error.includes("\n"));
    });
  }
});

Deno.test("main.ts stops start-up with one clear line on a bad variable", async () => {
  const { code, stderr } = await runMain({ PORT: "not-a-port" });
  assert.equal(code, 1);
  assert.equal(stderr, 'Invalid configuration: PORT="not-a-port": expected a whole number');
});

Deno.test("loadConfig() reports every bad variable at once, one line each", () => {
  const result = loadConfig({ PORT: "eighty", GREETING: "maybe", MAX_CALLS: "0" });
  assert.ok(!result.ok);
  const lines = result.error.split("\n");
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, /^Invalid configuration: PORT="eighty"/);
  assert.ok(lines.some((l) => l.startsWith('Invalid configuration: GREETING="maybe"')));
  assert.ok(lines.some((l) => l.startsWith('Invalid configuration: MAX_CALLS="0"')));
});

Deno.test("securityCheck() is silent offline and strict with a real key", async (t) => {
  await t.step("offline: zero-config, open route on", () => {
    const config = testConfig({});
    assert.deepEqual(securityCheck(config), { refusals: [], warnings: [] });
    assert.equal(openRouteEnabled(config), true);
  });
  await t.step("a key without a bot token refuses to start", () => {
    const config = testConfig({ OPENAI_API_KEY: "sk-real", HOST: "127.0.0.1" });
    const check = securityCheck(config);
    assert.equal(check.refusals.length, 1);
    assert.match(check.refusals[0]!, /AUDIOCODES_BOT_TOKEN/);
    assert.equal(openRouteEnabled(config), false);
  });
  await t.step("a key with a bot token and a loopback host starts without warnings", () => {
    const config = testConfig({
      OPENAI_API_KEY: "sk-real",
      AUDIOCODES_BOT_TOKEN: "t0ken-t0ken",
      HOST: "127.0.0.1",
    });
    assert.deepEqual(securityCheck(config), { refusals: [], warnings: [] });
  });
  await t.step("explicit opt-outs start with a warning each", () => {
    const config = testConfig({
      OPENAI_API_KEY: "sk-real",
      ALLOW_UNAUTHENTICATED_BOT: "true",
      REALTIME_OPEN_ROUTE: "true",
    });
    const check = securityCheck(config);
    assert.deepEqual(check.refusals, []);
    assert.equal(check.warnings.length, 3);
    assert.ok(check.warnings.some((w) => w.includes("AUDIOCODES_BOT_TOKEN is unset")));
    assert.ok(check.warnings.some((w) => w.includes("REALTIME_OPEN_ROUTE")));
    assert.ok(check.warnings.some((w) => w.includes("HOST=0.0.0.0")));
  });
});

Deno.test("main.ts refuses to start with a real key and no bot token", async () => {
  const { code, stderr } = await runMain({ OPENAI_API_KEY: "sk-never-used", PORT: "0" });
  assert.equal(code, 1);
  assert.match(stderr, /^Cannot start: OPENAI_API_KEY is set but AUDIOCODES_BOT_TOKEN is not/);
  assert.ok(!stderr.includes("sk-never-used"));
});

/** Runs `src/main.ts` with `env` until it exits; returns its code and stderr. */
async function runMain(env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "--allow-read", "src/main.ts"],
    env: { NO_COLOR: "1", HOST: "127.0.0.1", ...env },
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr).trim() };
}

Deno.test("main.ts reads ENV_FILE for unset variables only; the environment wins", async () => {
  const file = await Deno.makeTempFile({ suffix: ".env" });
  try {
    await Deno.writeTextFile(file, 'PORT=not-a-port\nGREETING="maybe"\n');
    const fromFile = await runMain({ ENV_FILE: file });
    assert.equal(fromFile.code, 1);
    assert.match(fromFile.stderr, /PORT="not-a-port"/);
    assert.match(fromFile.stderr, /GREETING="maybe"/);
    const overridden = await runMain({ ENV_FILE: file, PORT: "-1", GREETING: "true" });
    assert.equal(overridden.code, 1);
    assert.match(overridden.stderr, /PORT="-1"/);
    assert.doesNotMatch(overridden.stderr, /GREETING/);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("main.ts says in one line that the port is in use", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { code, stderr } = await runMain({ PORT: String(listener.addr.port) });
  assert.equal(code, 1);
  assert.equal(
    stderr,
    `Cannot start: 127.0.0.1:${listener.addr.port} is already in use (another gateway?). Stop it or set PORT`,
  );
});

Deno.test(".env.example lists every variable and loads as it is", async () => {
  const { parseEnv } = await import("node:util");
  const text = await Deno.readTextFile(new URL("../.env.example", import.meta.url));
  const env = Object.fromEntries(
    Object.entries(parseEnv(text)).filter((e): e is [string, string] => typeof e[1] === "string"),
  );
  const result = loadConfig(env);
  assert.ok(result.ok, result.ok ? "" : result.error);
  assert.deepEqual(Object.keys(Env.shape).filter((name) => !(name in env)), []);
});
