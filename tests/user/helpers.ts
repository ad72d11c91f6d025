/** Helpers of the user realtime API tests: speech audio as 40 ms base64 chunks, message types. */
import { readWav } from "../../src/audio/wav.ts";
import { bytesOf } from "../../src/audio/pcm.ts";

/** The open-route URL path for a user. */
export const openPath = (userId = "test_user"): string => `/api/v1/streaming/realtime/${userId}`;

/** 24 kHz PCM16 speech from the shared fixtures, then `silenceMs` of silence, in 40 ms pieces. */
export async function speechChunks(silenceMs = 1500): Promise<string[]> {
  const wav = readWav(
    await Deno.readFile(new URL("../fixtures/speech/long_24k.wav", import.meta.url)),
  );
  if (wav.sampleRate !== 24000) throw new RangeError(`Cannot use fixture: ${wav.sampleRate} Hz`);
  const samples = new Int16Array(wav.samples.length + silenceMs * 24);
  samples.set(wav.samples);
  const chunks: string[] = [];
  for (let i = 0; i < samples.length; i += 960) {
    chunks.push(bytesOf(samples.subarray(i, i + 960)).toBase64());
  }
  return chunks;
}

/** The seed's audio message for one chunk. */
export const audioMessage = (audio: string): Record<string, unknown> => ({
  type: "conversation.item.input",
  conversation_item_input: { type: "input_audio_buffer", audio },
});

/** The seed's text message. */
export const textMessage = (text: string): Record<string, unknown> => ({
  type: "conversation.item.input",
  conversation_item_input: { type: "input_text", text },
});
