/**
 * A CPU profile of the gateway during a bench step, taken through the V8 inspector (the child
 * runs with `--inspect=127.0.0.1:0`): the Chrome DevTools Protocol's `Profiler` domain over a
 * WebSocket. The result is a `.cpuprofile` (open it in Chrome DevTools or speedscope) and a
 * self-time table of the hottest functions.
 */
import { z } from "zod";

/** A V8 CPU profile (CDP `Profiler.Profile`; the parts the summary reads, others kept). */
export const CpuProfile = z.looseObject({
  nodes: z.array(z.looseObject({
    id: z.number(),
    callFrame: z.looseObject({
      functionName: z.string(),
      url: z.string(),
      lineNumber: z.number(),
    }),
  })),
  startTime: z.number(),
  endTime: z.number(),
  samples: z.array(z.number()).optional(),
  timeDeltas: z.array(z.number()).optional(),
});
/** A V8 CPU profile. */
export type CpuProfile = z.infer<typeof CpuProfile>;

const StopResult = z.object({ profile: CpuProfile });

/** One function's share of the samples. */
export interface HotFunction {
  readonly name: string;
  /** `file:line`, shortened to the repository or package. */
  readonly where: string;
  readonly selfMs: number;
  readonly selfPercent: number;
}

/** An inspector session on one process. */
export class InspectorProfiler implements AsyncDisposable {
  readonly #socket: WebSocket;
  readonly #opened: Promise<void>;
  readonly #pending = new Map<number, (message: Record<string, unknown>) => void>();
  #nextId = 1;

  /** Connects to `ws://…/ws/<uuid>` as printed by `Debugger listening on`. */
  constructor(url: string) {
    this.#socket = new WebSocket(url);
    this.#opened = new Promise((resolve, reject) => {
      this.#socket.onopen = () => resolve();
      this.#socket.onerror = () => reject(new Error(`Cannot connect to the inspector at ${url}`));
    });
    this.#opened.catch(() => {});
    this.#socket.onmessage = (event: MessageEvent) => {
      if (typeof event.data !== "string") return;
      const message: unknown = JSON.parse(event.data);
      if (typeof message !== "object" || message === null || !("id" in message)) return;
      const resolve = this.#pending.get(Number(message.id));
      this.#pending.delete(Number(message.id));
      resolve?.({ ...message });
    };
  }

  async #call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    await this.#opened;
    const id = this.#nextId++;
    const reply = await new Promise<Record<string, unknown>>((resolve) => {
      this.#pending.set(id, resolve);
      this.#socket.send(JSON.stringify({ id, method, params }));
    });
    if (reply.error !== undefined) {
      throw new Error(`Inspector ${method} failed: ${JSON.stringify(reply.error)}`);
    }
    return reply.result;
  }

  /** Starts sampling every `intervalUs` microseconds. */
  async start(intervalUs = 200): Promise<void> {
    await this.#call("Profiler.enable");
    await this.#call("Profiler.setSamplingInterval", { interval: intervalUs });
    await this.#call("Profiler.start");
  }

  /** Stops sampling and returns the profile. */
  async stop(): Promise<CpuProfile> {
    const parsed = StopResult.safeParse(await this.#call("Profiler.stop"));
    if (!parsed.success) throw new Error("Inspector Profiler.stop returned no profile");
    return parsed.data.profile;
  }

  /** Closes the session. */
  async close(): Promise<void> {
    if (this.#socket.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => {
      this.#socket.onclose = () => resolve();
    });
    this.#socket.close();
    await closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Where the profile's time went, and the functions with the most self time. */
export interface ProfileSummary {
  /** Sampled wall time, in ms. */
  readonly totalMs: number;
  /** Time the process was idle (waiting for I/O or timers). */
  readonly idleMs: number;
  /** Time spent by the inspector itself (reporting to the profiler, network events). */
  readonly inspectorMs: number;
  /** Functions by self time; percents are of the busy time without the inspector's. */
  readonly hot: readonly HotFunction[];
}

const isInspector = (name: string, url: string) =>
  name.startsWith("op_inspector") || url.includes("inspector");

/** Summarises a profile: idle, inspector overhead, and the hottest functions. */
export function summarizeProfile(profile: CpuProfile, top = 30): ProfileSummary {
  const ids = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  let total = 0, idle = 0, inspector = 0;
  const deltas = profile.timeDeltas ?? [];
  (profile.samples ?? []).forEach((id, i) => {
    const us = deltas[i + 1] ?? 0;
    total += us;
    const frame = ids.get(id);
    if (frame?.functionName === "(idle)") idle += us;
    else if (frame && isInspector(frame.functionName, frame.url)) inspector += us;
  });
  return {
    totalMs: Math.round(total / 1000),
    idleMs: Math.round(idle / 1000),
    inspectorMs: Math.round(inspector / 1000),
    hot: hotFunctions(profile, top),
  };
}

/** The functions with the most self time, hottest first (idle and inspector left out). */
export function hotFunctions(profile: CpuProfile, top = 25): HotFunction[] {
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const selfUs = new Map<number, number>();
  for (let i = 0; i < samples.length; i++) {
    // A sample's time is the delta to the next one.
    const us = deltas[i + 1] ?? 0;
    selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + us);
  }
  const byFunction = new Map<string, { name: string; where: string; us: number }>();
  let total = 0;
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id);
    if (!us) continue;
    const frame = node.callFrame;
    if (frame.functionName === "(idle)" || isInspector(frame.functionName, frame.url)) continue;
    total += us;
    const name = frame.functionName || (frame.url ? "(anonymous)" : "(native)");
    const where = frame.url ? `${shorten(frame.url)}:${frame.lineNumber + 1}` : "";
    const key = `${name}@${where}`;
    const entry = byFunction.get(key) ?? { name, where, us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
  }
  return [...byFunction.values()].sort((a, b) => b.us - a.us).slice(0, top).map((e) => ({
    name: e.name,
    where: e.where,
    selfMs: Math.round(e.us / 100) / 10,
    selfPercent: Math.round((e.us / (total || 1)) * 1000) / 10,
  }));
}

function shorten(url: string): string {
  const src = url.indexOf("/src/");
  if (src >= 0 && url.startsWith("file://")) return url.slice(src + 1);
  const npm = url.match(/registry\.npmjs\.org\/(.+)$/);
  if (npm) return `npm:${npm[1]}`;
  return url.replace(/^ext:/, "ext:");
}
