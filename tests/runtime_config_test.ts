/**
 * The lean runtime: `deno task start`, the engine and the Docker image use `deno.runtime.json`,
 * whose import map and lockfile hold only what they load.
 */
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);
const read = async (name: string) => JSON.parse(await Deno.readTextFile(new URL(name, root)));

Deno.test("deno.runtime.json pins the same versions as deno.json", async () => {
  const full = await read("deno.json");
  const runtime = await read("deno.runtime.json");
  for (const [name, specifier] of Object.entries(runtime.imports)) {
    assert.equal(specifier, full.imports[name], `${name} differs between the two configs`);
  }
});

Deno.test("deno.runtime.lock covers the gateway and the engine (frozen), with no test or bundle packages", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "cache",
      "--config",
      "deno.runtime.json",
      "--frozen",
      "src/main.ts",
      "src/local/main.ts",
    ],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const lock = await read("deno.runtime.lock");
  const packages = Object.keys(lock.npm ?? {});
  // 11 for the gateway itself; the MCP client (12 with its helpers and YAML) is what tools cost.
  assert.ok(packages.length <= 24, `${packages.length} packages: ${packages.join(", ")}`);
  assert.ok(!packages.some((p) => /^(playwright|openai|react|@openai|@types)/.test(p)));
});
