/**
 * Fidelity: the official `openai` realtime client (which insists on `wss://`) runs turns against
 * the engine served with TLS. The client runs in a subprocess with `DENO_CERT` set to the test CA
 * (`tests/fixtures/tls/make.sh`), so certificate verification is real.
 */
import assert from "node:assert/strict";
import { startTestEngine } from "./engine_helpers.ts";

const tls = new URL("../fixtures/tls/", import.meta.url);
const root = new URL("../../", import.meta.url);

Deno.test("engine serves the openai package's realtime client over wss://", async () => {
  await using engine = startTestEngine({
    cert: await Deno.readTextFile(new URL("cert.pem", tls)),
    key: await Deno.readTextFile(new URL("key.pem", tls)),
  });
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--config",
      "deno.dev.json",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-sys",
      "tests/local/openai_client_turn.ts",
      String(engine.port),
    ],
    cwd: root,
    env: { DENO_CERT: new URL("ca.pem", tls).pathname, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout).trim();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stderr);
  const summary = JSON.parse(stdout.split("\n").at(-1)!);
  assert.equal(summary.url, `wss://127.0.0.1:${engine.port}/v1/realtime?model=gpt-realtime`);
  assert.deepEqual(summary.errors, []);
  assert.equal(summary.types[0], "session.created");
  assert.ok(summary.types.includes("session.updated"));
  assert.equal(summary.types.filter((t: string) => t === "response.done").length, 2);
  assert.deepEqual(summary.transcripts, ["You said: “Hello”", "I heard 0.5 seconds of speech."]);
  assert.ok(summary.audioBytes > 8 * 1000);
});

Deno.test("engine refuses a client that does not trust its certificate", async () => {
  await using engine = startTestEngine({
    cert: await Deno.readTextFile(new URL("cert.pem", tls)),
    key: await Deno.readTextFile(new URL("key.pem", tls)),
  });
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--config",
      "deno.dev.json",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-sys",
      "tests/local/openai_client_turn.ts",
      String(engine.port),
    ],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const summary = JSON.parse(new TextDecoder().decode(output.stdout).trim().split("\n").at(-1)!);
  assert.notDeepEqual(summary.errors, []);
  assert.equal(summary.types.length, 0);
});
