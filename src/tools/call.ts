/**
 * The VAIC call simulator: plays AudioCodes VoiceAI Connect against a gateway's `/ws` route.
 * It places one call, streams a WAV file as the caller in 20 ms frames, records the bot's play
 * streams and checks the bot's side of the protocol (protocol doc §2, §5, §9.4).
 *
 * Library: {@linkcode runCall}. CLI: `deno task call --help`. The parts live in `./call/`: the
 * call's state, the caller's script, the checks on what the bot sends, the report, audio in the
 * `raw/*` formats, the timeline printer and the command line.
 */
import { main } from "./call/cli.ts";

export type {
  BotEvent,
  CallEnd,
  CallOptions,
  CallReport,
  DtmfPress,
  PlayStreamReport,
  TextInput,
  TimelineEntry,
  WaitUntil,
} from "./call/types.ts";
export { DEFAULT_OFFER, DEFAULT_URL } from "./call/types.ts";
export { decodeFromFormat, encodeForFormat } from "./call/format_audio.ts";
export { runCall } from "./call/simulated_call.ts";
export { jsonReport, summaryLines } from "./call/report.ts";
export type { TimelinePrinter } from "./call/timeline_printer.ts";
export { timelinePrinter } from "./call/timeline_printer.ts";
export { main };

if (import.meta.main) Deno.exit(await main(Deno.args));
