/**
 * Caller audio of the benchmark, prepared once per run: speech fixtures converted to the call's
 * format and cut into 20 ms frames already base64-encoded, so sending a frame costs the bench
 * nothing but the send.
 */
import type { AudioCodesFormat } from "../../protocol/media_format.ts";
import type { ResamplerFactory } from "../../audio/resampler.ts";
import { readWav } from "../../audio/wav.ts";
import { base64Frames, encodeForFormat, silenceFrame } from "../call/format_audio.ts";

/** Duration of one caller frame, as VAIC sends them. */
export const FRAME_MS = 20;

/** One utterance as frames. */
export interface Utterance {
  readonly name: string;
  /** Base64 frames of exactly {@linkcode FRAME_MS} each; the last is padded with silence. */
  readonly frames: readonly string[];
}

/** The audio every call of a run uses. */
export interface CallAudio {
  readonly format: AudioCodesFormat;
  /** One silent frame. */
  readonly silence: string;
  /** The first utterance (answered, then barged in on) and the second (answered in full). */
  readonly first: Utterance;
  readonly second: Utterance;
}

/** The speech fixtures shipped with the repository (`tests/fixtures/speech`). */
export const FIXTURES_DIR = new URL("../../../tests/fixtures/speech/", import.meta.url);

/** Reads two WAV files and converts them to `format` frames. */
export async function prepareAudio(
  format: AudioCodesFormat,
  options: { first: string | URL; second: string | URL; resamplers: ResamplerFactory },
): Promise<CallAudio> {
  const utterance = async (path: string | URL): Promise<Utterance> => {
    const audio = readWav(await Deno.readFile(path));
    const bytes = await encodeForFormat(audio, format, { resamplers: options.resamplers });
    const name = typeof path === "string" ? path : path.pathname;
    return {
      name: name.slice(name.lastIndexOf("/") + 1),
      frames: base64Frames(bytes, format, FRAME_MS),
    };
  };
  return {
    format,
    silence: silenceFrame(format, FRAME_MS).toBase64(),
    first: await utterance(options.first),
    second: await utterance(options.second),
  };
}
