import assert from "node:assert/strict";
import { loadConfig, usesLocalEngine } from "../src/config.ts";

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
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-sys=hostname",
      "src/main.ts",
    ],
    env: { PORT: "not-a-port", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 1);
  assert.equal(
    new TextDecoder().decode(output.stderr).trim(),
    'Invalid configuration: PORT="not-a-port": expected a whole number',
  );
});
