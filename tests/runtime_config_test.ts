/**
 * The lean runtime: `deno task start`, the engine, the simulator and the Docker image use
 * `deno.json`, whose import map and lockfile hold only what they load (its `scopes` serve type
 * checking and editors, and `deno task` installs none of them); tests, the bench and the page
 * bundle use `deno.dev.json` (a superset with its own lockfile).
 */
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);
const read = async (name: string) => JSON.parse(await Deno.readTextFile(new URL(name, root)));

Deno.test("deno.json (runtime) pins the same versions as deno.dev.json", async () => {
  const full = await read("deno.dev.json");
  const runtime = await read("deno.json");
  // The scopes (what `deno check` and editors resolve test and page files with) too.
  const maps = [runtime.imports, ...Object.values(runtime.scopes ?? {})] as Record<
    string,
    string
  >[];
  for (const map of maps) {
    for (const [name, specifier] of Object.entries(map)) {
      assert.equal(specifier, full.imports[name], `${name} differs between the two configs`);
    }
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
  // The committed lock: a plain `deno check` (the lock is not frozen, so that it can resolve the
  // scoped test packages) may add to the working copy what `deno task start` would then fetch.
  const committed = await new Deno.Command("git", {
    args: ["show", "HEAD:deno.lock"],
    cwd: root,
    stdout: "piped",
    stderr: "null",
  }).output().catch(() => undefined);
  const lock = committed?.success
    ? JSON.parse(new TextDecoder().decode(committed.stdout))
    : await read("deno.lock");
  const packages = Object.keys(lock.npm ?? {});
  // What a fresh machine downloads for `deno task start` (the budget: 20).
  assert.ok(packages.length <= 20, `${packages.length} packages: ${packages.join(", ")}`);
  assert.ok(
    !packages.some((p) =>
      /^(playwright|openai|react|@openai|@types|fast-check|@modelcontextprotocol)/.test(p)
    ),
  );
});
