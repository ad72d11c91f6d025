/** Helpers of the VoiceSession tests: speech fixtures as app audio, state recording. */
import { readWav } from "../../src/audio/wav.ts";
import type { SessionState, VoiceSession, VoiceSessionEvents } from "../../src/client/mod.ts";
import { TIMEOUT_SCALE } from "../helpers.ts";

/** Fast message rate: the tests send audio in 40 ms pieces faster than real time. */
export const FAST = { REALTIME_RATE_LIMIT: "10000" };

/** A wait long enough for a few turns on a loaded two-core machine. */
export const TURN_MS = 15_000 * TIMEOUT_SCALE;

/** The samples of a speech fixture, checking its rate. */
export async function speech(name: string, rate: number): Promise<Int16Array<ArrayBuffer>> {
  const wav = readWav(await Deno.readFile(new URL(`../fixtures/speech/${name}`, import.meta.url)));
  if (wav.sampleRate !== rate) throw new RangeError(`Cannot use ${name}: ${wav.sampleRate} Hz`);
  return new Int16Array(wav.samples);
}

/** `samples` followed by `silenceMs` of silence at `rate`. */
export function withSilence(
  samples: Int16Array,
  silenceMs: number,
  rate = 24000,
): Int16Array<ArrayBuffer> {
  const out = new Int16Array(samples.length + Math.round((silenceMs * rate) / 1000));
  out.set(samples);
  return out;
}

/** The bytes of samples (a view). */
export const bytes = (samples: Int16Array<ArrayBuffer>): Uint8Array<ArrayBuffer> =>
  new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);

/** Sends audio like a microphone would: 40 ms pieces, no commit. */
export async function stream(
  voice: VoiceSession,
  audio: Uint8Array,
  pieceBytes = 1920,
): Promise<void> {
  for (let i = 0; i < audio.byteLength; i += pieceBytes) {
    await voice.sendAudio(audio.subarray(i, i + pieceBytes), { commit: false });
  }
}

/** Records every state change of a session. */
export function recordStates(session: VoiceSession): SessionState[] {
  const states: SessionState[] = [session.state];
  session.on("state_change", (state) => states.push(state));
  return states;
}

/** The arguments of the next `event` of a session. */
export function once<K extends keyof VoiceSessionEvents>(
  session: VoiceSession,
  event: K,
): Promise<Parameters<VoiceSessionEvents[K]>> {
  return new Promise((resolve) => {
    const off = session.on(
      event,
      ((...args: Parameters<VoiceSessionEvents[K]>) => {
        off();
        resolve(args);
      }) as VoiceSessionEvents[K],
    );
  });
}
