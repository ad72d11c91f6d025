import assert from "node:assert/strict";
import { JsonSocket } from "../json_socket.ts";
import { appendAudio, spokenTurn, update } from "./engine_helpers.ts";

const root = new URL("../../", import.meta.url);

Deno.test("main.ts serves the engine with exactly the permissions of `deno task engine`", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    // The same flags as the `engine` task in deno.json.
    args: ["run", "--allow-net", "--allow-env", "--allow-read", "src/local/main.ts", "--port", "0"],
    cwd: root,
    env: { NO_COLOR: "1", LOG_LEVEL: "info" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) break;
    text += value;
  }
  try {
    const first = JSON.parse(text.split("\n")[0]!);
    assert.equal(first.msg, "Local realtime engine listening");
    assert.match(first.url, /^ws:\/\/127\.0\.0\.1:\d+\/v1\/realtime$/);
    await using ws = new JsonSocket(`${first.url}?model=gpt-realtime`, { unmatched: "skip" });
    await ws.next("session.created");
    const format = { type: "audio/pcmu" } as const;
    await update(ws, { audio: { input: { format }, output: { format } } });
    // VAD and resampler WASM load under these permissions too.
    appendAudio(ws, spokenTurn(format), format);
    await ws.next("input_audio_buffer.speech_started");
    await ws.next("response.done");
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await lines.cancel();
    await child.stderr.cancel();
  }
});

Deno.test("main.ts --help prints the usage and exits 0", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "--allow-read", "src/local/main.ts", "--help"],
    cwd: root,
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(output.code, 0);
  const text = new TextDecoder().decode(output.stdout);
  assert.match(text, /^Usage: deno task engine/);
  assert.match(text, /--max-session-ms/);
});

Deno.test("main.ts rejects an unknown flag with the usage and exit code 2", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "--allow-read", "src/local/main.ts", "--bogus"],
    cwd: root,
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(output.code, 2);
  const text = new TextDecoder().decode(output.stderr);
  assert.match(text, /Unknown option '--bogus'/);
  assert.match(text, /Usage: deno task engine/);
});
