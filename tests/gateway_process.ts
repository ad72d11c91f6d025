/** The gateway as deployed (`deno run src/main.ts`) in a child process, for tests. */
import assert from "node:assert/strict";
import { TIMEOUT_SCALE } from "./json_socket.ts";

/** A running gateway process. */
export interface GatewayProcess extends AsyncDisposable {
  readonly url: string;
  readonly process: Deno.ChildProcess;
  /** Every stdout line so far (JSON log lines). */
  readonly lines: string[];
  readonly status: Promise<Deno.CommandStatus>;
}

/** Starts `deno run src/main.ts` on a free loopback port and waits for its start-up line. */
export async function startGatewayProcess(env: Record<string, string>): Promise<GatewayProcess> {
  const process = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--config",
      "deno.json",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-sys=hostname",
      "src/main.ts",
    ],
    env: { PORT: "0", HOST: "127.0.0.1", NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines: string[] = [];
  const { promise: listening, resolve } = Promise.withResolvers<string>();
  const reading = (async () => {
    const decoder = new TextDecoderStream();
    let buffered = "";
    for await (const text of process.stdout.pipeThrough(decoder)) {
      buffered += text;
      let newline: number;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        lines.push(line);
        try {
          const parsed = JSON.parse(line);
          if (parsed.msg === "Voice gateway listening") resolve(parsed.url);
        } catch {
          // Not a log line.
        }
      }
    }
  })();
  const timer = setTimeout(() => resolve(""), 20_000 * TIMEOUT_SCALE);
  const url = await listening;
  clearTimeout(timer);
  assert.ok(url, "the gateway did not start");
  const status = process.status.then(async (s) => {
    await reading;
    return s;
  });
  return {
    url,
    process,
    lines,
    status,
    async [Symbol.asyncDispose]() {
      try {
        process.kill("SIGKILL");
      } catch { /* exited */ }
      await status;
    },
  };
}
