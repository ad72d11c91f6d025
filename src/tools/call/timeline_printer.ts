/** Live terminal output of a call: timeline entries as lines, audio chunks summarised. */
import { formatPlan, isAudioCodesFormat } from "../../protocol/media_format.ts";
import type { TimelineEntry } from "./types.ts";

/** Prints timeline entries as lines, summarising audio chunks (every `every` and per stream). */
export interface TimelinePrinter {
  entry(entry: TimelineEntry): void;
  /** Prints summaries still pending (call at the end). */
  flush(): void;
}

interface ChunkRun {
  count: number;
  bytes: number;
  lastAtMs: number;
}

/** Creates a {@linkcode TimelinePrinter} that writes one line at a time. */
export function timelinePrinter(
  write: (line: string) => void,
  options: { every?: number } = {},
): TimelinePrinter {
  const every = options.every ?? 50;
  const formats = new Map<string, string>(); // streamId (or "" for the user stream) → format
  const runs = new Map<string, ChunkRun>();
  // Key of the chunk run printed last, if the last line was one: long quiet stretches (silence
  // while waiting) then print ten times less often.
  let lastRun: string | undefined;
  const line = (atMs: number, mark: string, text: string, run?: string) => {
    lastRun = run;
    write(`+${Math.round(atMs).toString().padStart(6)} ms  ${mark} ${text}`);
  };
  const flushRun = (key: string) => {
    const run = runs.get(key);
    if (!run || run.count === 0) return;
    const format = formats.get(key);
    const ms = format !== undefined && isAudioCodesFormat(format)
      ? `${Math.round(run.bytes / formatPlan(format).bytesPerMs)} ms, `
      : "";
    const [mark, type, id] = key === "" ? ["→", "userStream.chunk", ""] : [
      "←",
      "playStream.chunk",
      ` ${key}`,
    ];
    line(run.lastAtMs, mark, `${type} ×${run.count}${id} (${ms}${run.bytes} bytes)`, key);
    runs.delete(key);
  };
  const count = (key: string, entry: TimelineEntry) => {
    const run = runs.get(key) ?? { count: 0, bytes: 0, lastAtMs: 0 };
    run.count++;
    run.bytes += entry.bytes ?? 0;
    run.lastAtMs = entry.atMs;
    runs.set(key, run);
    if (run.count >= (lastRun === key ? every * 10 : every)) flushRun(key);
  };
  return {
    entry(entry) {
      if (entry.type === "userStream.chunk" && entry.direction === "sent") {
        count("", entry);
        return;
      }
      if (entry.type === "playStream.chunk" && entry.direction === "received") {
        count(entry.streamId ?? "?", entry);
        return;
      }
      const detail = entry.detail ?? {};
      if (entry.type === "session.accepted" && typeof detail.mediaFormat === "string") {
        formats.set("", detail.mediaFormat);
      }
      if (entry.type === "playStream.start" && typeof detail.mediaFormat === "string") {
        formats.set(entry.streamId ?? "?", detail.mediaFormat);
      }
      if (entry.type === "playStream.stop") flushRun(entry.streamId ?? "?");
      if (entry.direction === "sent" || entry.type === "close") flushRun("");
      switch (entry.direction) {
        case "local":
          if (entry.type === "violation") {
            line(entry.atMs, "!", `violation: ${String(detail.message)}`);
          } else {
            line(entry.atMs, "·", `${entry.type}${describe(detail)}`);
          }
          return;
        case "sent":
          line(entry.atMs, "→", `${entry.type}${describe(detail)}`);
          return;
        case "received":
          line(entry.atMs, "←", `${entry.type}${describe(detail)}`);
          return;
        default:
          entry.direction satisfies never;
      }
    },
    flush() {
      for (const key of [...runs.keys()]) flushRun(key);
    },
  };
}

function describe(detail: Readonly<Record<string, unknown>>): string {
  const text = brief(detail);
  if (text === "{}") return "";
  return ` ${text.length > 160 ? `${text.slice(0, 157)}...` : text}`;
}

function brief(value: unknown): string {
  if (typeof value === "string") {
    return /^[\w./:+@#*-]+$/.test(value) ? value : JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(brief).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    const fields = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{${fields.map(([k, v]) => `${k}: ${brief(v)}`).join(", ")}}`;
  }
  return String(value);
}
