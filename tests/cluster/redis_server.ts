/**
 * A real `redis-server` (Debian package) for tests: started on a free loopback port with no
 * persistence, stopped and started again on the same port to play an outage or a restart.
 */
import { TIMEOUT_SCALE } from "../json_socket.ts";

/** A running redis-server child process. */
export class RedisServer implements AsyncDisposable {
  readonly port: number;
  #process: Deno.ChildProcess | undefined;

  private constructor(port: number) {
    this.port = port;
  }

  /** Starts redis-server on a free port and waits until it accepts connections. */
  static async start(): Promise<RedisServer> {
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const server = new RedisServer(port);
    await server.resume();
    return server;
  }

  /** `redis://127.0.0.1:PORT`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Whether the server process is running. */
  get running(): boolean {
    return this.#process !== undefined;
  }

  /** Starts the server (again) on its port. */
  async resume(): Promise<void> {
    if (this.#process) return;
    this.#process = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const deadline = Date.now() + 10_000 * TIMEOUT_SCALE;
    while (true) {
      try {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: this.port });
        await conn.write(new TextEncoder().encode("PING\r\n"));
        const buffer = new Uint8Array(16);
        const n = await conn.read(buffer);
        conn.close();
        if (n && new TextDecoder().decode(buffer.subarray(0, n)).startsWith("+PONG")) return;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) throw new Error(`redis-server did not start on ${this.port}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stops the server (SIGKILL: nothing is saved, like a crash). */
  async stop(): Promise<void> {
    const process = this.#process;
    if (!process) return;
    this.#process = undefined;
    try {
      process.kill("SIGKILL");
    } catch { /* exited */ }
    await process.status;
  }

  /** Runs one command with redis-cli and returns its output (trimmed). */
  async cli(...args: string[]): Promise<string> {
    const output = await new Deno.Command("redis-cli", {
      args: ["-p", String(this.port), ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(output.stdout).trim();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
