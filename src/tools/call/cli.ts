/** The `deno task call` command line: options, the live timeline, the summary, exit codes. */
import { parseArgs } from "node:util";
import { formatPlan, isAudioCodesFormat } from "../../protocol/media_format.ts";
import type { PcmAudio } from "../../audio/wav.ts";
import { encodeWav, readWav } from "../../audio/wav.ts";
import type { CallOptions, CallReport, DtmfPress, TextInput, TimelineEntry } from "./types.ts";
import { DEFAULT_OFFER, DEFAULT_URL } from "./types.ts";
import { errorMessage } from "./call_core.ts";
import { runCall } from "./simulated_call.ts";
import { jsonReport, summaryLines } from "./report.ts";
import { timelinePrinter } from "./timeline_printer.ts";

const USAGE = `Usage: deno task call [options]

Plays AudioCodes VoiceAI Connect against a gateway: places one call, streams a WAV as the
caller, records the bot's audio and checks the protocol.

Options:
  --url URL              gateway WebSocket URL (default ${DEFAULT_URL})
  --token TOKEN          bearer token (default: $AUDIOCODES_BOT_TOKEN)
  --formats LIST         offered formats, comma-separated (default ${DEFAULT_OFFER.join(",")})
  --id ID                conversationId (default: random UUID)
  --caller NUMBER        caller number (default +15550100001)
  --callee NUMBER        callee number (default +15550100002)
  --bot-name NAME        botName (default simulator)
  --wav PATH             caller audio, any WAV (converted to the accepted format)
  --speed N              pacing, N x real time; 0 = as fast as possible (default 1)
  --frame-ms MS          duration of one userStream.chunk (default 20)
  --lead-silence-ms MS   silence before the audio (default 0)
  --tail-silence-ms MS   silence after the audio (default 1500)
  --text TEXT[@MS]       the caller sends TEXT (a message activity) at MS of the user stream,
                         repeatable; e.g. --text 'call get_balance {"account":"A-17"}' makes the
                         local engine call that tool
  --dtmf DIGITS[@MS]     press DIGITS at MS of the user stream (default: when the audio ends);
                         repeatable
  --wait-until WHAT      reply: stop when the bot's reply has played (default);
                         timeout: listen for the whole --wait-ms
  --wait-ms MS           longest wait after the audio (default 15000)
  --timeout-ms MS        longest wait for a protocol reply (default 5000)
  --out PATH             write the bot's audio as a WAV file
  --json                 print the report as JSON (the timeline goes to stderr)
  --quiet                no timeline
  -h, --help             this text

Exit code: 0 ok, 1 error (cannot connect, session.error, bad option), 2 protocol violations.`;

/** Runs the CLI with `args`; resolves with the exit code (0 ok, 1 error, 2 violations). */
export async function main(args: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCliArgs(args);
  } catch (error) {
    console.error(`${errorMessage(error)}\n\n${USAGE}`);
    return 1;
  }
  if (parsed === "help") {
    console.log(USAGE);
    return 0;
  }
  const { options, out, json, quiet } = parsed;
  const write = json ? (l: string) => console.error(l) : (l: string) => console.log(l);
  const printer = quiet ? undefined : timelinePrinter(write);
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  let report: CallReport;
  try {
    report = await runCall({
      ...options,
      signal: controller.signal,
      ...(printer ? { onEntry: (e: TimelineEntry) => printer.entry(e) } : {}),
    });
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    console.error(error.message);
    return 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
  printer?.flush();
  if (out !== undefined) {
    const format = report.mediaFormat;
    const audio = report.botAudio ?? {
      sampleRate: format !== undefined && isAudioCodesFormat(format)
        ? formatPlan(format).sampleRate
        : 16000,
      samples: new Int16Array(0),
    };
    await Deno.writeFile(out, encodeWav(audio.samples, audio.sampleRate));
    write(
      `Wrote ${out}: ${(audio.samples.length / audio.sampleRate).toFixed(2)} s at ` +
        `${audio.sampleRate} Hz`,
    );
  }
  if (json) console.log(JSON.stringify(jsonReport(report), null, 2));
  else for (const l of summaryLines(report)) console.log(l);
  if (report.error !== undefined) console.error(report.error);
  for (const v of report.violations) console.error(`Protocol violation: ${v}`);
  return report.violations.length > 0 ? 2 : report.error !== undefined ? 1 : 0;
}

interface CliArgs {
  readonly options: CallOptions;
  readonly out: string | undefined;
  readonly json: boolean;
  readonly quiet: boolean;
}

function parseCliArgs(args: readonly string[]): CliArgs | "help" {
  const { values } = parseArgs({
    args: [...args],
    strict: true,
    allowPositionals: false,
    options: {
      url: { type: "string" },
      token: { type: "string" },
      formats: { type: "string" },
      id: { type: "string" },
      caller: { type: "string" },
      callee: { type: "string" },
      "bot-name": { type: "string" },
      wav: { type: "string" },
      speed: { type: "string" },
      "frame-ms": { type: "string" },
      "lead-silence-ms": { type: "string" },
      "tail-silence-ms": { type: "string" },
      dtmf: { type: "string", multiple: true },
      text: { type: "string", multiple: true },
      "wait-until": { type: "string" },
      "wait-ms": { type: "string" },
      "timeout-ms": { type: "string" },
      out: { type: "string" },
      json: { type: "boolean" },
      quiet: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  const number = (name: string, value: string | undefined): number | undefined => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n < 0) {
      throw new TypeError(`Cannot parse --${name}: ${JSON.stringify(value)} is not a number >= 0`);
    }
    return n;
  };
  const waitUntil = values["wait-until"];
  if (waitUntil !== undefined && waitUntil !== "reply" && waitUntil !== "timeout") {
    throw new TypeError(
      `Cannot parse --wait-until: ${JSON.stringify(waitUntil)} is not reply or timeout`,
    );
  }
  const dtmf = (values.dtmf ?? []).map((spec): DtmfPress => {
    const match = spec.match(/^([0-9A-Da-d*#]+)(?:@(\d+))?$/);
    if (!match) {
      throw new TypeError(`Cannot parse --dtmf: ${JSON.stringify(spec)} is not DIGITS[@MS]`);
    }
    return match[2] === undefined
      ? { digits: match[1]! }
      : { digits: match[1]!, atMs: Number(match[2]) };
  });
  const texts = (values.text ?? []).map((spec): TextInput => {
    const match = spec.match(/^([\s\S]*?)(?:@(\d+))?$/);
    const text = match?.[1] ?? spec;
    if (text.trim() === "") throw new TypeError("Cannot parse --text: the text is empty");
    return match?.[2] === undefined ? { text } : { text, atMs: Number(match[2]) };
  });
  const formats = values.formats?.split(",").map((f) => f.trim()).filter((f) => f !== "");
  if (formats !== undefined && formats.length === 0) {
    throw new TypeError("Cannot parse --formats: the list is empty");
  }
  let audio: PcmAudio | undefined;
  if (values.wav !== undefined) {
    let bytes: Uint8Array;
    try {
      bytes = Deno.readFileSync(values.wav);
    } catch (cause) {
      throw new TypeError(
        `Cannot read --wav ${JSON.stringify(values.wav)}: ${errorMessage(cause)}`,
      );
    }
    audio = readWav(bytes);
  }
  const token = values.token ?? Deno.env.get("AUDIOCODES_BOT_TOKEN");
  const options: CallOptions = {
    ...(values.url === undefined ? {} : { url: values.url }),
    ...(token === undefined ? {} : { token }),
    ...(formats === undefined ? {} : { formats }),
    ...(values.id === undefined ? {} : { conversationId: values.id }),
    ...(values.caller === undefined ? {} : { caller: values.caller }),
    ...(values.callee === undefined ? {} : { callee: values.callee }),
    ...(values["bot-name"] === undefined ? {} : { botName: values["bot-name"] }),
    ...(audio === undefined ? {} : { audio }),
    speed: number("speed", values.speed),
    frameMs: number("frame-ms", values["frame-ms"]),
    leadSilenceMs: number("lead-silence-ms", values["lead-silence-ms"]),
    tailSilenceMs: number("tail-silence-ms", values["tail-silence-ms"]),
    dtmf,
    texts,
    waitUntil,
    waitMs: number("wait-ms", values["wait-ms"]),
    timeoutMs: number("timeout-ms", values["timeout-ms"]),
  };
  return { options, out: values.out, json: values.json ?? false, quiet: values.quiet ?? false };
}
