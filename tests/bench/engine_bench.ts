/**
 * Capacity benchmark of the local realtime engine (a script, not a timed test).
 *
 * Starts the engine as its own process (`src/local/main.ts --port 0`), opens N concurrent
 * sessions that each stream G.711 µ-law in real time (one 20 ms append per session every 20 ms:
 * 1.2 s of voice-like speech, then 1.8 s of silence, repeating), so the engine's server VAD
 * commits turns and streams echo replies back. Reports the engine's CPU use (from
 * /proc/<pid>/stat), turns answered, and the speech-end → first-reply-audio latency.
 *
 *   deno run --allow-net --allow-env --allow-read --allow-run tests/bench/engine_bench.ts \
 *     [--sessions 50,100,200] [--seconds 15]
 */
import { parseArgs } from "node:util";
import { encodeG711 } from "../../src/audio/g711.ts";
import { babble, samplesFor } from "../../src/local/synth.ts";

interface Result {
  sessions: number;
  seconds: number;
  cpuPercent: number;
  appends: number;
  turns: number;
  replies: number;
  errors: number;
  latencyP50: number;
  latencyP99: number;
  sendLagP99: number;
}

const FRAME = 160; // 20 ms of µ-law

function cycleAudio(): Uint8Array<ArrayBuffer> {
  const rate = 8000;
  const pcm = new Int16Array(samplesFor(3000, rate));
  pcm.set(babble(1200, rate), samplesFor(200, rate));
  return encodeG711("mulaw", pcm);
}

function cpuTicks(pid: number): number {
  // Through `cat`: Deno grants /proc reads only with --allow-all, and --allow-run is enough here.
  const out = new Deno.Command("cat", { args: [`/proc/${pid}/stat`], stdout: "piped" })
    .outputSync();
  const stat = new TextDecoder().decode(out.stdout);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the full line (12 and 13 after the command name).
  return Number(fields[11]) + Number(fields[12]);
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function startEngineProcess(): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "src/local/main.ts",
      "--port",
      "0",
    ],
    cwd: new URL("../../", import.meta.url),
    env: { LOG_LEVEL: "info" },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  let url = "";
  while (!url) {
    const { value, done } = await reader.read();
    if (done) throw new Error("Engine exited before listening");
    buffered += value;
    for (const line of buffered.split("\n")) {
      try {
        const parsed = JSON.parse(line);
        if (typeof parsed.url === "string") url = parsed.url;
      } catch { /* partial line */ }
    }
  }
  // Keep draining stdout so the child never blocks on a full pipe.
  const drain = (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })();
  return {
    url,
    pid: child.pid,
    async stop() {
      child.kill("SIGKILL");
      await child.status;
      await drain.catch(() => {});
    },
  };
}

async function run(count: number, seconds: number): Promise<Result> {
  const engine = await startEngineProcess();
  const audio = cycleAudio();
  const frames = audio.byteLength / FRAME;
  const framesB64: string[] = [];
  for (let i = 0; i < frames; i++) {
    framesB64.push(audio.subarray(i * FRAME, (i + 1) * FRAME).toBase64());
  }
  const sockets: WebSocket[] = [];
  let turns = 0;
  let replies = 0;
  let errors = 0;
  const latencies: number[] = [];
  const stoppedAt = new Map<WebSocket, number>();
  await Promise.all(Array.from({ length: count }, () =>
    new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(`${engine.url}?model=gpt-realtime`);
      sockets.push(ws);
      ws.onopen = () => {
        ws.send(JSON.stringify({
          type: "session.update",
          session: {
            type: "realtime",
            audio: {
              input: {
                format: { type: "audio/pcmu" },
                turn_detection: { type: "server_vad", silence_duration_ms: 500 },
              },
              output: { format: { type: "audio/pcmu" } },
            },
          },
        }));
      };
      ws.onmessage = (event) => {
        const data = String(event.data);
        // Cheap type sniffing: the type is the first field.
        const type = data.slice(9, data.indexOf('"', 9));
        if (type === "session.updated") resolve();
        else if (type === "input_audio_buffer.speech_stopped") {
          turns++;
          stoppedAt.set(ws, performance.now());
        } else if (type === "response.output_audio.delta") {
          const at = stoppedAt.get(ws);
          if (at !== undefined) {
            latencies.push(performance.now() - at);
            stoppedAt.delete(ws);
          }
        } else if (type === "response.done") replies++;
        else if (type === "error") errors++;
      };
      ws.onerror = () => reject(new Error("socket error"));
    })));

  const startTicks = cpuTicks(engine.pid);
  const started = performance.now();
  let tick = 0;
  let appends = 0;
  const sendLag: number[] = [];
  // Sessions start at staggered offsets in the speech cycle, like independent callers.
  const offsets = sockets.map((_, i) => Math.floor((i * frames) / count));
  await new Promise<void>((resolve) => {
    const step = () => {
      const due = started + tick * 20;
      sendLag.push(performance.now() - due);
      for (let i = 0; i < sockets.length; i++) {
        const ws = sockets[i]!;
        if (ws.readyState !== WebSocket.OPEN) continue;
        const frame = framesB64[(tick + offsets[i]!) % frames]!;
        ws.send(`{"type":"input_audio_buffer.append","audio":"${frame}"}`);
        appends++;
      }
      tick++;
      if (performance.now() - started >= seconds * 1000) {
        resolve();
        return;
      }
      setTimeout(step, Math.max(0, started + tick * 20 - performance.now()));
    };
    step();
  });
  const elapsed = (performance.now() - started) / 1000;
  const cpu = (cpuTicks(engine.pid) - startTicks) / 100;
  for (const ws of sockets) ws.close();
  await engine.stop();
  return {
    sessions: count,
    seconds: Math.round(elapsed * 10) / 10,
    cpuPercent: Math.round((cpu / elapsed) * 1000) / 10,
    appends,
    turns,
    replies,
    errors,
    latencyP50: Math.round(percentile(latencies, 50)),
    latencyP99: Math.round(percentile(latencies, 99)),
    sendLagP99: Math.round(percentile(sendLag, 99)),
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { sessions: { type: "string" }, seconds: { type: "string" } },
  });
  const counts = (values.sessions ?? "50,100,200").split(",").map(Number);
  const seconds = Number(values.seconds ?? "15");
  console.log(
    "sessions  cpu%(engine, of one core)  appends/s  turns  replies  errors  " +
      "speech_stopped→first audio p50/p99 ms  client send lag p99 ms",
  );
  for (const count of counts) {
    const r = await run(count, seconds);
    console.log(
      `${String(r.sessions).padStart(8)}  ${String(r.cpuPercent).padStart(24)}  ${
        String(Math.round(r.appends / r.seconds)).padStart(9)
      }  ${String(r.turns).padStart(5)}  ${String(r.replies).padStart(7)}  ${
        String(r.errors).padStart(6)
      }  ${`${r.latencyP50}/${r.latencyP99}`.padStart(38)}  ${String(r.sendLagP99).padStart(21)}`,
    );
  }
}
