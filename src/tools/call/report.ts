/** The report of a simulated call, as data, JSON and human lines. */
import { formatPlan, isAudioCodesFormat } from "../../protocol/media_format.ts";
import { concatBytes } from "../../audio/pcm.ts";
import { ResamplerFactory } from "../../audio/resampler.ts";
import type { PcmAudio } from "../../audio/wav.ts";
import type { CallReport, PlayStreamReport } from "./types.ts";
import type { CallCore } from "./call_core.ts";
import { decodeFromFormat, resample } from "./format_audio.ts";

/** The outcome of a call that has ended. */
export async function callReport(call: CallCore): Promise<CallReport> {
  const playStreams = call.streams.map((s): PlayStreamReport => ({
    streamId: s.streamId,
    mediaFormat: s.mediaFormat,
    altText: s.altText,
    startedAtMs: s.startedAtMs,
    firstChunkAtMs: s.firstChunkAtMs,
    lastChunkAtMs: s.lastChunkAtMs,
    stoppedAtMs: s.stoppedAtMs,
    chunks: s.chunks,
    bytes: s.bytes,
    audioMs: isAudioCodesFormat(s.mediaFormat) ? s.bytes / formatPlan(s.mediaFormat).bytesPerMs : 0,
    reply: call.isReply(s),
  }));
  // Open at a hangup or transfer is flagged when it arrives; at a dropped socket, here.
  if (call.open && call.ending === "server-close") {
    call.violation(`Play stream "${call.open.streamId}" was never stopped`);
  }
  const reply = call.streams.find((s) => call.isReply(s) && s.firstChunkAtMs !== undefined);
  const replyStartAtMs = reply?.firstChunkAtMs;
  const format = call.mediaFormat;
  const plan = format !== undefined && isAudioCodesFormat(format) ? formatPlan(format) : undefined;
  const violations = [...call.violations].map(([message, count]) =>
    count > 1 ? `${message} (×${count})` : message
  );
  return {
    url: call.url,
    conversationId: call.conversationId,
    offeredFormats: call.offered,
    mediaFormat: format,
    ok: violations.length === 0 && call.error === undefined,
    endedBy: call.ending ?? "client",
    error: call.error,
    connectedAtMs: call.connectedAtMs,
    acceptedAtMs: call.acceptedAtMs,
    userStreamStartedAtMs: call.startedAtMs,
    speechEndAtMs: call.speechEndAtMs,
    replyStartAtMs,
    replyLatencyMs: replyStartAtMs !== undefined && call.speechEndAtMs !== undefined
      ? replyStartAtMs - call.speechEndAtMs
      : undefined,
    durationMs: call.now(),
    sent: {
      chunks: call.chunksSent,
      bytes: call.bytesSent,
      audioMs: plan ? call.bytesSent / plan.bytesPerMs : 0,
      dtmf: call.dtmfSent,
    },
    playStreams,
    events: call.events,
    timeline: call.timeline,
    violations,
    botAudio: call.record ? await botAudio(call) : undefined,
  };
}

async function botAudio(call: CallCore): Promise<PcmAudio | undefined> {
  const parts: PcmAudio[] = [];
  for (const stream of call.streams) {
    const format = stream.mediaFormat;
    if (!isAudioCodesFormat(format)) continue;
    parts.push(decodeFromFormat(concatBytes(stream.pieces), format));
  }
  const first = parts[0];
  if (!first) return undefined;
  const rate = first.sampleRate;
  let resamplers = call.options.resamplers;
  const converted: Int16Array[] = [];
  for (const part of parts) {
    if (part.sampleRate !== rate) resamplers ??= await ResamplerFactory.load();
    converted.push((await resample(part, rate, resamplers)).samples);
  }
  const samples = new Int16Array(converted.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of converted) {
    samples.set(c, offset);
    offset += c.length;
  }
  return { sampleRate: rate, samples };
}

/** The report as plain JSON data: the bot's samples become their count and duration. */
export function jsonReport(report: CallReport): Record<string, unknown> {
  const { botAudio, ...rest } = report;
  return {
    ...rest,
    botAudio: botAudio && {
      sampleRate: botAudio.sampleRate,
      samples: botAudio.samples.length,
      ms: Math.round(botAudio.samples.length * 1000 / botAudio.sampleRate),
    },
  };
}

/** A human summary of a report, as lines. */
export function summaryLines(report: CallReport): string[] {
  const ms = (value: number | undefined) => value === undefined ? "-" : `+${Math.round(value)} ms`;
  const lines = [
    `Call ${report.conversationId} on ${report.url}: ${
      report.mediaFormat ? `accepted ${report.mediaFormat}` : "not accepted"
    }, ended by ${report.endedBy} after ${(report.durationMs / 1000).toFixed(2)} s`,
    `Sent ${report.sent.chunks} chunks (${Math.round(report.sent.audioMs)} ms of audio)${
      report.sent.dtmf.length ? `, DTMF ${report.sent.dtmf.join(" ")}` : ""
    }`,
  ];
  if (report.mediaFormat === undefined) return lines.slice(0, 1);
  if (report.playStreams.length === 0) lines.push("Play streams: none");
  else lines.push("Play streams:");
  for (const s of report.playStreams) {
    lines.push(
      `  ${s.streamId}  ${s.mediaFormat}  ${Math.round(s.audioMs)} ms  ${s.bytes} bytes  ` +
        `${s.chunks} chunks  start ${ms(s.startedAtMs)}  first ${ms(s.firstChunkAtMs)}  ` +
        `last ${ms(s.lastChunkAtMs)}  stop ${ms(s.stoppedAtMs)}${s.reply ? "  (reply)" : ""}${
          s.altText ? `  ${JSON.stringify(s.altText)}` : ""
        }`,
    );
  }
  if (report.events.length > 0) lines.push("Bot events:");
  for (const e of report.events) {
    const what = [e.type, e.name, e.text === undefined ? undefined : JSON.stringify(e.text)]
      .filter((part) => part !== undefined).join(" ");
    lines.push(`  ${ms(e.atMs).padStart(10)}  ${what}`);
  }
  if (report.replyLatencyMs !== undefined) {
    lines.push(`Reply latency: ${Math.round(report.replyLatencyMs)} ms after the caller's audio`);
  }
  return lines;
}
