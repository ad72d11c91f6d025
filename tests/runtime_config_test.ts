/**
 * The lean runtime: `deno task start`, the engine and the Docker image use `deno.json`, whose
 * import map and lockfile hold only what they load; tests, the bench, the simulator and the page
 * bundle use `deno.dev.json` (a superset with its own lockfile).
 */
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);
const read = async (name: string) => JSON.parse(await Deno.readTextFile(new URL(name, root)));

Deno.test("deno.json (runtime) pins the same versions as deno.dev.json", async () => {
  const full = await read("deno.dev.json");
  const runtime = await read("deno.json");
  for (const [name, specifier] of Object.entries(runtime.imports)) {
    assert.equal(specifier, full.imports[name], `${name} differs between the two configs`);
  }
});

Deno.test("deno.lock covers the gateway and the engine (frozen) in at most 20 packages, with no test or bundle packages", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "cache",
      "--config",
      "deno.json",
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
  const lock = await read("deno.lock");
  const packages = Object.keys(lock.npm ?? {});
  // What a fresh machine downloads for `deno task start` (the budget: 20).
  assert.ok(packages.length <= 20, `${packages.length} packages: ${packages.join(", ")}`);
  assert.ok(
    !packages.some((p) =>
      /^(playwright|openai|react|@openai|@types|fast-check|@modelcontextprotocol)/.test(p)
    ),
  );
});
