/**
 * Seed 001's client examples, run against a gateway on port 8000 as they are written:
 * the Python example verbatim (Debian's python3-websockets), the JavaScript example under Deno
 * with only its text send moved into `onopen`.
 */
import assert from "node:assert/strict";
import { startTestApp } from "../helpers.ts";

const PORT = 8000;
const PYTHON_EXAMPLE = new URL("../fixtures/seed001_client.py", import.meta.url);
const JS_EXAMPLE = new URL("../fixtures/web/seed001_client.js", import.meta.url);
const REQUIRED = Deno.env.get("CI") !== undefined || Deno.env.get("CI_REQUIRE_BROWSER") === "1";

function portTaken(): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port: PORT }).close();
    return false;
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) return true;
    throw error;
  }
}

/** A python3 that can import websockets: Debian's first (pyenv shims may hide its packages). */
async function findPython(): Promise<string | undefined> {
  for (const candidate of ["/usr/bin/python3", "python3"]) {
    try {
      const { success } = await new Deno.Command(candidate, {
        args: ["-c", "import websockets"],
        stdout: "null",
        stderr: "null",
      }).output();
      if (success) return candidate;
    } catch {
      // Not installed.
    }
  }
  return undefined;
}

/**
 * Runs a client that never exits on its own until its output matches `done`, then stops it.
 * Returns everything it printed.
 */
async function runUntil(
  command: string,
  args: string[],
  options: { env: Record<string, string>; done: RegExp },
): Promise<string> {
  const child = new Deno.Command(command, {
    args,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let output = "";
  const decoder = new TextDecoder();
  const reader = child.stdout.getReader();
  // The examples loop forever on the socket: a generous guard against a hang, not a timing.
  const guard = setTimeout(() => child.kill("SIGKILL"), 30_000);
  try {
    while (!options.done.test(output)) {
      const { value, done } = await reader.read();
      if (done) break;
      output += decoder.decode(value, { stream: true });
    }
  } finally {
    clearTimeout(guard);
    try {
      child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    await reader.cancel();
    await child.status;
  }
  const errors = await stderr;
  assert.match(output, options.done, `client output:\n${output}\nstderr:\n${errors}`);
  return output;
}

const taken = portTaken();
const python = await findPython();
const skipReason = taken
  ? `port ${PORT} is taken (the seed examples connect to localhost:${PORT})`
  : undefined;

if (skipReason) console.warn(`Skipping the seed 001 example tests: ${skipReason}`);

Deno.test({
  name: `seed 001 Python example runs unchanged against the gateway${
    skipReason ? ` (skipped: ${skipReason})` : python ? "" : " (python3-websockets missing)"
  }`,
  ignore: skipReason !== undefined || (python === undefined && !REQUIRED),
  async fn() {
    if (python === undefined) {
      throw new Error("Cannot run the Python example: python3 with websockets is not installed");
    }
    await using _app = await startTestApp({}, { hostname: "127.0.0.1", port: PORT });
    const output = await runUntil(python, [PYTHON_EXAMPLE.pathname], {
      // Unbuffered output so the example's prints arrive as it runs; the script is unchanged.
      env: { PYTHONUNBUFFERED: "1" },
      done: /'type': 'response\.done'/,
    });
    assert.match(
      output,
      /Received: \{'type': 'session\.update', 'session': \{'id': 'sess_\w+', 'voice': 'alloy', 'language': 'en'\}\}/,
    );
    assert.match(output, /'type': 'response\.delta', 'response': \{'delta': \{'content': /);
    assert.match(output, /'type': 'response\.audio', 'response': \{'audio': '/);
    assert.match(
      output,
      /'type': 'response\.done', 'response': \{'usage': \{'input_tokens': \d+, 'output_tokens': \d+\}/,
    );
  },
});

Deno.test({
  name: `seed 001 JavaScript example runs under Deno with its sends in onopen${
    skipReason ? ` (skipped: ${skipReason})` : ""
  }`,
  ignore: skipReason !== undefined,
  async fn() {
    await using _app = await startTestApp({}, { hostname: "127.0.0.1", port: PORT });
    const output = await runUntil(
      Deno.execPath(),
      ["run", "--no-config", "--allow-net=localhost:8000", JS_EXAMPLE.pathname],
      { env: { NO_COLOR: "1" }, done: /type: "response\.done"/ },
    );
    assert.match(
      output,
      /Received: \{[^}]*type: "session\.update",\s+session: \{ id: "sess_\w+", voice: "alloy", language: "en" \}/,
    );
    assert.match(output, /type: "response\.audio"/);
    assert.match(output, /type: "response\.delta"/);
  },
});
