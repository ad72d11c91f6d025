/**
 * Child processes of the benchmark (the gateway, the local engine) and what Linux says about
 * their cost: CPU seconds from `/proc/<pid>/stat`, resident memory from `/proc/<pid>/status`.
 */

/** CPU and memory of one process at one moment. */
export interface ProcessSample {
  /** User + system CPU time so far, in seconds. */
  readonly cpuSeconds: number;
  /** Resident set size now (`VmRSS`), in bytes. */
  readonly rssBytes: number;
  /** Peak resident set size so far (`VmHWM`), in bytes. */
  readonly peakRssBytes: number;
}

/** Clock ticks per second of `/proc/<pid>/stat` (USER_HZ, 100 on every Linux Deno runs on). */
const USER_HZ = 100;

let direct = true;
const textDecoder = new TextDecoder();

/**
 * Reads a `/proc` file. Deno reads `/proc` only with `--allow-all`; without it, `cat` (the bench
 * has `--allow-run` anyway) reads it.
 */
export function readProc(path: string): string {
  if (direct) {
    try {
      return Deno.readTextFileSync(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotCapable)) throw error;
      direct = false;
    }
  }
  const { success, stdout } = new Deno.Command("cat", { args: [path], stderr: "null" })
    .outputSync();
  if (!success) throw new Error(`Cannot read ${path}`);
  return textDecoder.decode(stdout);
}

/** Reads CPU time and memory of `pid` from `/proc`; `undefined` where there is no `/proc`. */
export function sampleProcess(pid: number | "self"): ProcessSample | undefined {
  try {
    const stat = readProc(`/proc/${pid === "self" ? Deno.pid : pid}/stat`);
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const status = readProc(`/proc/${pid === "self" ? Deno.pid : pid}/status`);
    const kib = (name: string) => {
      const match = status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"));
      return match ? Number(match[1]) * 1024 : 0;
    };
    return {
      cpuSeconds: (utime + stime) / USER_HZ,
      rssBytes: kib("VmRSS"),
      peakRssBytes: kib("VmHWM"),
    };
  } catch {
    return undefined;
  }
}

/** Busy and total CPU time of the whole machine so far, in seconds (`/proc/stat`). */
export function sampleSystem(): { busySeconds: number; totalSeconds: number } | undefined {
  try {
    const line = readProc("/proc/stat").split("\n")[0] ?? "";
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    const total = ticks.reduce((n, v) => n + v, 0);
    // idle and iowait are the 4th and 5th fields.
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    return { busySeconds: (total - idle) / USER_HZ, totalSeconds: total / USER_HZ };
  } catch {
    return undefined;
  }
}

/** The 1-minute load average (`/proc/loadavg`), or undefined. */
export function loadAverage(): number | undefined {
  try {
    const value = Number(readProc("/proc/loadavg").split(" ")[0]);
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Follows a process's memory between two points: peak RSS seen by periodic sampling. */
export class MemoryWatch {
  readonly #pid: number | "self";
  #timer: ReturnType<typeof setInterval> | undefined;
  #peak = 0;

  constructor(pid: number | "self", everyMs = 200) {
    this.#pid = pid;
    this.#take();
    this.#timer = setInterval(() => this.#take(), everyMs);
  }

  #take(): void {
    const sample = sampleProcess(this.#pid);
    if (sample && sample.rssBytes > this.#peak) this.#peak = sample.rssBytes;
  }

  /** Highest RSS seen so far, in bytes (0 without `/proc`). */
  get peakBytes(): number {
    return this.#peak;
  }

  /** Stops sampling (after one last sample) and returns the peak. */
  stop(): number {
    if (this.#timer !== undefined) {
      this.#take();
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
    return this.#peak;
  }
}

/** Options of {@linkcode startDenoChild}. */
export interface DenoChildOptions {
  /** Script path, absolute or relative to `cwd`. */
  readonly script: string;
  readonly args?: readonly string[];
  /** The child's whole environment (nothing else is inherited). */
  readonly env: Record<string, string>;
  readonly cwd: string;
  /** `deno run` permission flags. */
  readonly permissions: readonly string[];
  /** Startup log message (`msg`) whose JSON line carries the `url` to use. */
  readonly readyMessage: string;
  /** Longest wait for that line, in ms; default 30000 (a fresh clone downloads packages). */
  readonly timeoutMs?: number;
  /** Prefix the command with `taskset -c <cpus>` (Linux). */
  readonly cpus?: string;
  /** Prefix the command with `chrt -f <priority>`: SCHED_FIFO (root). */
  readonly fifo?: number;
  /** Extra `deno run` flags, e.g. `--inspect=127.0.0.1:0`. */
  readonly flags?: readonly string[];
}

/** A running `deno run` child. */
export interface DenoChild extends AsyncDisposable {
  readonly pid: number;
  /** The `url` of its ready line. */
  readonly url: string;
  /** The last lines it wrote (stdout and stderr), for error reports. */
  tail(): string[];
  /** The V8 inspector's WebSocket URL, when started with `--inspect`. */
  readonly inspector: string | undefined;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited and its pipes closed. */
  close(graceMs?: number): Promise<void>;
}

/** Environment variables a Deno child needs to find its caches; everything else is dropped. */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };
  for (const name of ["HOME", "PATH", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR", "DENO_CERT"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/**
 * Spawns `deno run <permissions> <script> <args>` with a clean environment and resolves once it
 * logged `readyMessage` with a `url` field. Its output is drained for its whole life (a full
 * pipe would block it).
 */
export async function startDenoChild(options: DenoChildOptions): Promise<DenoChild> {
  const denoArgs = [
    "run",
    ...options.permissions,
    ...(options.flags ?? []),
    options.script,
    ...(options.args ?? []),
  ];
  // chrt and taskset exec the next program, so the child's pid stays deno's.
  const argv = [
    ...(options.fifo === undefined ? [] : ["chrt", "-f", String(options.fifo)]),
    ...(options.cpus === undefined ? [] : ["taskset", "-c", options.cpus]),
    Deno.execPath(),
    ...denoArgs,
  ];
  const command = new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    cwd: options.cwd,
    env: options.env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  const child = command.spawn();
  const lines: string[] = [];
  let url: string | undefined;
  let inspector: string | undefined;
  let wake: (() => void) | undefined;
  const onLine = (line: string) => {
    lines.push(line);
    if (lines.length > 40) lines.shift();
    inspector ??= line.match(/Debugger listening on (ws:\/\/\S+)/)?.[1];
    if (url !== undefined || !line.startsWith("{")) return;
    try {
      const entry: unknown = JSON.parse(line);
      if (
        typeof entry === "object" && entry !== null && "msg" in entry && "url" in entry &&
        entry.msg === options.readyMessage && typeof entry.url === "string"
      ) {
        url = entry.url;
        wake?.();
      }
    } catch {
      // Not a log line.
    }
  };
  const drained = Promise.all([drain(child.stdout, onLine), drain(child.stderr, onLine)]);
  const status = child.status;
  let exited = false;
  void status.then(() => {
    exited = true;
    wake?.();
  });
  let closing: Promise<void> | undefined;
  const close = (graceMs = 5000) =>
    closing ??= (async () => {
      if (!exited) {
        try {
          child.kill("SIGTERM");
        } catch { /* already gone */ }
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          status,
          new Promise<void>((resolve) => {
            timer = setTimeout(() => {
              try {
                child.kill("SIGKILL");
              } catch { /* already gone */ }
              resolve();
            }, graceMs);
          }),
        ]);
        clearTimeout(timer);
      }
      await status;
      await drained;
    })();

  const timeoutMs = options.timeoutMs ?? 30_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await new Promise<void>((resolve) => {
    wake = resolve;
    timer = setTimeout(resolve, timeoutMs);
    if (url !== undefined || exited) resolve();
  });
  clearTimeout(timer);
  wake = undefined;
  if (url === undefined) {
    await close(1000);
    throw new Error(
      `Cannot start ${options.script}: no "${options.readyMessage}" line ${
        exited ? "before it exited" : `within ${timeoutMs} ms`
      }\n${lines.join("\n")}`,
    );
  }
  const readyUrl = url;
  return {
    pid: child.pid,
    url: readyUrl,
    get inspector() {
      return inspector;
    },
    tail: () => [...lines],
    close,
    [Symbol.asyncDispose]: () => close(),
  };
}

async function drain(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let rest = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    rest += text;
    let newline = rest.indexOf("\n");
    while (newline >= 0) {
      onLine(rest.slice(0, newline));
      rest = rest.slice(newline + 1);
      newline = rest.indexOf("\n");
    }
    // A runaway line without newlines must not grow without bound.
    if (rest.length > 65536) rest = rest.slice(-65536);
  }
  if (rest) onLine(rest);
}
