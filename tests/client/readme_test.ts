/**
 * The SDK's documentation holds: the README example runs against a live gateway, the JSDoc
 * examples run, and `deno doc --lint` finds the public surface complete.
 */
import assert from "node:assert/strict";
import { readWav } from "../../src/audio/wav.ts";
import { startTestApp } from "../helpers.ts";
import { FAST } from "./helpers.ts";

const ROOT = new URL("../../", import.meta.url);

/** Runs deno with arguments from the repository root; returns exit code and output. */
async function deno(args: string[], env: Record<string, string> = {}) {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

/** The README's SDK example, with its import pointed at this checkout. */
async function readmeExample(): Promise<string> {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const match = /<!-- readme-example:start -->\s*```ts\n([\s\S]*?)```\s*<!-- readme-example:end -->/
    .exec(readme);
  assert.ok(match, "README has the SDK example between its markers");
  const code = match[1]!;
  assert.ok(code.includes('from "./src/client/mod.ts"'));
  return code.replace(
    '"./src/client/mod.ts"',
    JSON.stringify(new URL("src/client/mod.ts", ROOT).href),
  );
}

Deno.test("the README's VoiceSession example runs against a live gateway", async () => {
  await using app = await startTestApp(FAST);
  const dir = await Deno.makeTempDir({ prefix: "readme-example-" });
  try {
    const example = `${dir}/example.ts`;
    await Deno.writeTextFile(example, await readmeExample());
    const wav = readWav(
      await Deno.readFile(new URL("tests/fixtures/speech/short_24k.wav", ROOT)),
    );
    const pcm = new Uint8Array(wav.samples.buffer, wav.samples.byteOffset, wav.samples.byteLength);
    await Deno.writeFile(`${dir}/speech.pcm`, pcm);
    const run = await deno(
      [
        "run",
        "--config",
        new URL("deno.json", ROOT).pathname,
        "--allow-net",
        "--allow-env",
        "--allow-read",
        example,
        `${dir}/speech.pcm`,
      ],
      { GATEWAY_URL: app.url },
    );
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    const out = run.stdout;
    assert.match(out, /^connected: session sess_\S+, model gpt-realtime, voice alloy$/m);
    assert.match(out, /^reply: "You said: “Hello, how are you\?”", \d+(\.\d+)? ms of audio$/m);
    assert.match(out, /^tool reply: "The tool returned: .*A-17.*shipped.*"$/m);
    assert.match(out, /^user: \([\d.]+ seconds of speech\)$/m);
    assert.match(out, /^you spoke for \d+(\.\d+)? ms$/m);
    assert.match(out, /^assistant: I heard [\d.]+ seconds of speech\.$/m);
    assert.match(out, /^played \d+(\.\d+)? ms; state idle$/m);
    assert.match(out, /^no one spoke within 500 ms$/m);
    assert.match(out, /^state: CONNECTED → PROCESSING$/m);
    assert.match(out, /^state: PROCESSING → SPEAKING$/m);
    assert.ok(!/Error/.test(run.stderr), run.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the SDK's JSDoc examples run and deno doc --lint finds its surface documented", async () => {
  const lint = await deno(["doc", "--lint", "src/client/mod.ts"]);
  assert.equal(lint.code, 0, lint.stdout + lint.stderr);
  const doc = await deno(["test", "--doc", "--allow-read", "src/client/"]);
  assert.equal(doc.code, 0, doc.stdout + doc.stderr);
  assert.match(doc.stdout, /ok \| [1-9]\d* passed \| 0 failed/);
});
