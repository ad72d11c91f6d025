import assert from "node:assert/strict";
import { parseAgentsFile } from "../../src/agents/profile.ts";
import { openProfileStore } from "../../src/agents/store.ts";
import { systemClock } from "../../src/core/clock.ts";
import { silentLogger } from "../../src/core/logger.ts";
import { testConfig } from "../helpers.ts";
import { TIMEOUT_SCALE } from "../json_socket.ts";

const config = testConfig({ VOICE: "marin", INSTRUCTIONS: "Default instructions." });
const env = (name: string) => ({ BILLING_TOKEN: "s3cret" } as Record<string, string>)[name];

const YAML = `
profiles:
  - name: billing
    match: { botName: Billing_Bot }
    instructions: "You handle billing for {caller}."
    voice: cedar
    greeting: "Say you are the billing assistant."
    tools:
      - name: get_balance
        description: The balance of an account
        parameters: { type: object, properties: { account: { type: string } } }
        url: http://127.0.0.1:9/balance
        headers: { authorization: "Bearer \${BILLING_TOKEN}" }
  - name: vip
    match: { caller: "^\\\\+44", route: phone }
    turnDetection: semantic_vad
    greeting: false
    maxCallMs: 60000
`;

Deno.test("parseAgentsFile() reads YAML, fills ${ENV} headers and resolves over the defaults", () => {
  const result = parseAgentsFile(YAML, { path: "agents.yaml", config, env });
  assert.ok(result.ok, result.ok ? "" : result.error);
  const [billing, vip] = result.set.profiles;
  assert.equal(billing?.voice, "cedar");
  assert.equal(billing?.greeting, true);
  assert.equal(billing?.greetingInstructions, "Say you are the billing assistant.");
  assert.equal(billing?.tools[0]?.headers.authorization, "Bearer s3cret");
  assert.equal(billing?.tools[0]?.method, "POST");
  assert.equal(vip?.instructions, "Default instructions.");
  assert.equal(vip?.voice, "marin");
  assert.equal(vip?.greeting, false);
  assert.equal(vip?.turnDetection?.type, "semantic_vad");
  assert.equal(vip?.maxCallMs, 60_000);
});

Deno.test("ProfileSet.match() takes the first profile whose every criterion holds", () => {
  const result = parseAgentsFile(YAML, { path: "agents.yaml", config, env });
  assert.ok(result.ok);
  const { set } = result;
  assert.equal(set.match({ route: "phone", botName: "billing_bot" }).name, "billing");
  assert.equal(
    set.match({ route: "phone", botName: "other", caller: "+447700900123" }).name,
    "vip",
  );
  assert.equal(set.match({ route: "app", caller: "+447700900123" }).name, "default");
  assert.equal(set.match({ route: "phone", botName: "other", caller: "+1555" }).name, "default");
});

Deno.test("parseAgentsFile() names the path of every bad field", async (t) => {
  const cases: [string, string, RegExp][] = [
    [
      "a bad tool URL",
      JSON.stringify({
        profiles: [{ name: "a" }, {
          name: "b",
          tools: [{ name: "t", description: "d", url: "ftp://x" }],
        }],
      }),
      /^Invalid agents file agents\.json: profiles\[1\]\.tools\[0\]\.url: expected an http or https URL$/m,
    ],
    [
      "an unknown field",
      JSON.stringify({ profiles: [{ name: "a", colour: "blue" }] }),
      /profiles\[0\]: expected .*colour/m,
    ],
    [
      "a duplicate name",
      JSON.stringify({ profiles: [{ name: "a" }, { name: "a" }] }),
      /profiles\[1\]\.name: expected a unique name/m,
    ],
    [
      "a bad pattern",
      JSON.stringify({ profiles: [{ name: "a", match: { caller: "(" } }] }),
      /profiles\[0\]\.match\.caller: expected a valid regular expression/m,
    ],
    [
      "a missing secret",
      JSON.stringify({
        profiles: [{
          name: "a",
          tools: [{
            name: "t",
            description: "d",
            url: "http://x",
            headers: { authorization: "${NOT_SET}" },
          }],
        }],
      }),
      /profiles\[0\]\.tools\[0\]\.headers\.authorization: environment variable NOT_SET is not set/,
    ],
    ["not JSON", "{", /^Invalid agents file agents\.json: cannot parse: /],
  ];
  for (const [name, text, pattern] of cases) {
    await t.step(name, () => {
      const result = parseAgentsFile(text, { path: "agents.json", config, env });
      assert.ok(!result.ok);
      assert.match(result.error, pattern);
      assert.ok(!result.error.includes("s3cret"));
    });
  }
});

Deno.test("openProfileStore() reloads a changed file and keeps the old set on a bad edit", async () => {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  const write = (voice: string) =>
    Deno.writeTextFile(path, JSON.stringify({ profiles: [{ name: "p", voice }] }));
  await write("alloy");
  const opened = await openProfileStore({
    config: testConfig({ AGENTS_FILE: path, AGENTS_RELOAD_MS: "100" }),
    clock: systemClock,
    log: silentLogger(),
    env: () => undefined,
  });
  assert.ok(opened.ok);
  const { store } = opened;
  try {
    const voice = () => store.current.profiles[0]?.voice;
    const until = async (check: () => boolean) => {
      const deadline = Date.now() + 5000 * TIMEOUT_SCALE;
      while (!check()) {
        if (Date.now() > deadline) throw new Error("Timed out waiting for a reload");
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    assert.equal(voice(), "alloy");
    await write("cedar");
    await until(() => voice() === "cedar");
    await Deno.writeTextFile(path, "{ not json");
    // Give the store time to see the bad edit, then a good one: the bad one never applied.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(voice(), "cedar");
    await write("sage");
    await until(() => voice() === "sage");
  } finally {
    await store.close();
    await Deno.remove(path);
  }
});

Deno.test("a bad AGENTS_FILE stops start-up with the field named", async () => {
  const path = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeTextFile(path, "profiles:\n  - name: a\n    voice: 3\n");
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", "--allow-env", "--allow-read", "src/main.ts"],
      env: { NO_COLOR: "1", HOST: "127.0.0.1", PORT: "0", AGENTS_FILE: path },
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(output.code, 1);
    assert.equal(
      new TextDecoder().decode(output.stderr).trim(),
      `Invalid agents file ${path}: profiles[0].voice: expected string, received number`,
    );
  } finally {
    await Deno.remove(path);
  }
});
