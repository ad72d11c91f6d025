/**
 * The layers of `src/` and the rule that binds them: a module imports only from its own part or
 * from a part on a lower layer, never sideways into another part of its own layer, and no chain
 * of imports returns to where it started.
 *
 * | layer | parts (a folder of `src/`, or a file at its root)    | may import                |
 * | ----- | ---------------------------------------------------- | ------------------------- |
 * | 0     | `protocol` — every wire format                       | npm packages only         |
 * | 1     | `audio`, `core`                                      | layer 0                   |
 * | 2     | `client` — the SDK                                   | `protocol`, `audio` only  |
 * | 3     | `config.ts`                                          | layers 0–2                |
 * | 4     | `realtime` — the upstream client                     | layers 0–3                |
 * | 5     | `bridge`                                             | layers 0–4                |
 * | 6     | `agents`, `cluster`                                  | layers 0–5                |
 * | 7     | `audiocodes`, `local`, `user` — the sockets we serve | layers 0–6                |
 * | 8     | `web` — the page                                     | layers 0–7                |
 * | 9     | `server.ts`                                          | layers 0–8                |
 * | 10    | `app.ts`, `tools`                                    | layers 0–9                |
 * | 11    | `main.ts`, `deploy.ts`                               | layers 0–10               |
 *
 * The graph is read from the source text of every module under `src/` (static, type-only and
 * dynamic imports alike), so a module no entry point reaches is held to the rule too.
 */
import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** The layers, lowest first; see the table above. */
const LAYERS: readonly (readonly string[])[] = [
  ["protocol"],
  ["audio", "core"],
  ["client"],
  ["config"],
  ["realtime"],
  ["bridge"],
  ["agents", "cluster"],
  ["audiocodes", "local", "user"],
  ["web"],
  ["server"],
  ["app", "tools"],
  ["main", "deploy"],
];

/** Parts with a narrower allowance than their layer gives: the SDK ships to browsers. */
const ONLY: Readonly<Record<string, readonly string[]>> = {
  client: ["protocol", "audio"],
};

const SRC = fileURLToPath(new URL("../src/", import.meta.url));

/** Static imports and re-exports at the start of a line (so not in doc comments), and dynamic ones. */
const IMPORT =
  /^(?:import|export)\b[^;]*?["'](\.{1,2}\/[^"']+)["']|^[^*\n]*?\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/gm;

function* sourceFiles(dir: string): Generator<string> {
  for (const entry of Deno.readDirSync(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) {
      if (entry.name !== "dist" && entry.name !== "node_modules") yield* sourceFiles(path);
    } else if (/\.tsx?$/.test(entry.name)) {
      yield path;
    }
  }
}

/** Every relative import of a TypeScript module inside `src/`, as `src/`-relative paths. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const path of sourceFiles(SRC)) {
    const from = relative(SRC, path);
    const targets: string[] = [];
    for (const match of Deno.readTextFileSync(path).matchAll(IMPORT)) {
      const target = relative(SRC, join(dirname(path), match[1] ?? match[2] ?? ""));
      if (target.startsWith("..") || !/\.tsx?$/.test(target)) continue;
      targets.push(target);
    }
    graph.set(from, targets);
  }
  return graph;
}

/** The part of `src/` a module belongs to: its top folder, or its own name at the root. */
function partOf(module: string): string {
  const slash = module.indexOf("/");
  return slash === -1 ? module.replace(/\.tsx?$/, "") : module.slice(0, slash);
}

function layerOf(part: string): number {
  return LAYERS.findIndex((layer) => layer.includes(part));
}

/** Why an import breaks the layers, or undefined when it keeps them. */
function violation(from: string, to: string): string | undefined {
  const a = partOf(from);
  const b = partOf(to);
  if (a === b) return undefined;
  const only = ONLY[a];
  if (only !== undefined && !only.includes(b)) return `${a} may import only ${only.join(", ")}`;
  const la = layerOf(a);
  const lb = layerOf(b);
  if (la === -1 || lb === -1) return `"${la === -1 ? a : b}" is in no layer`;
  if (lb > la) return `upward: layer ${la} imports layer ${lb}`;
  if (lb === la) return `sideways within layer ${la}`;
  return undefined;
}

/** Every cycle found by a depth-first walk, each as the modules along it. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (module: string): void => {
    state.set(module, "open");
    stack.push(module);
    for (const next of graph.get(module) ?? []) {
      const seen = state.get(next);
      if (seen === "open") found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (seen === undefined) visit(next);
    }
    stack.pop();
    state.set(module, "done");
  };
  for (const module of [...graph.keys()].sort()) if (!state.has(module)) visit(module);
  return found;
}

Deno.test("importGraph() reads the modules and their imports", () => {
  const graph = importGraph();
  assert.ok(graph.size > 100, `only ${graph.size} modules found under src/`);
  assert.ok(graph.get("main.ts")?.includes("app.ts"));
  // A multi-line import and a dynamic import are both seen.
  assert.ok(graph.get("bridge/bridge.ts")?.includes("protocol/openai_realtime.ts"));
  assert.ok(graph.get("client/audio.ts")?.includes("audio/resampler.ts"));
});

Deno.test("every part of src/ sits in exactly one layer", () => {
  const parts = new Set([...importGraph().keys()].map(partOf));
  for (const part of parts) {
    const layers = LAYERS.filter((layer) => layer.includes(part));
    assert.equal(layers.length, 1, `"${part}" is in ${layers.length} layers`);
  }
});

Deno.test("the import graph of src/ has no upward or sideways arrow", () => {
  const bad: string[] = [];
  for (const [from, targets] of importGraph()) {
    for (const to of targets) {
      const why = violation(from, to);
      if (why !== undefined) bad.push(`${from} -> ${to} (${why})`);
    }
  }
  assert.deepEqual(bad, []);
});

Deno.test("the import graph of src/ has no cycle", () => {
  assert.deepEqual(cycles(importGraph()).map((cycle) => cycle.join(" -> ")), []);
});

Deno.test("the SDK imports nothing from server folders", () => {
  const bad: string[] = [];
  for (const [from, targets] of importGraph()) {
    if (partOf(from) !== "client") continue;
    for (const to of targets) {
      if (!["client", "protocol", "audio"].includes(partOf(to))) bad.push(`${from} -> ${to}`);
    }
  }
  assert.deepEqual(bad, []);
});

Deno.test("the Bridge reaches the upstream wire only through the provider seam", () => {
  const bad: string[] = [];
  for (const [from, targets] of importGraph()) {
    if (partOf(from) !== "bridge") continue;
    for (const to of targets) if (to === "realtime/upstream.ts") bad.push(`${from} -> ${to}`);
  }
  assert.deepEqual(bad, []);
});

Deno.test("violation() names upward, sideways and unplaced arrows", () => {
  const cases: [string, string, string | undefined][] = [
    ["bridge/bridge.ts", "protocol/base64.ts", undefined],
    ["bridge/bridge.ts", "bridge/playout.ts", undefined],
    ["bridge/bridge.ts", "audiocodes/handlers.ts", "upward: layer 5 imports layer 7"],
    ["user/route.ts", "server.ts", "upward: layer 7 imports layer 9"],
    ["audiocodes/connection.ts", "user/route.ts", "sideways within layer 7"],
    ["client/mod.ts", "core/clock.ts", "client may import only protocol, audio"],
    ["tools/call.ts", "server.ts", undefined],
    ["tools/call.ts", "app.ts", "sideways within layer 10"],
    ["attic/old.ts", "core/clock.ts", '"attic" is in no layer'],
  ];
  for (const [from, to, expected] of cases) assert.equal(violation(from, to), expected, from);
});
