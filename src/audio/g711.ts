/** G.711 µ-law and A-law codecs (ITU-T G.711), via the `alawmulaw` library. */
import alawmulaw from "alawmulaw";

/** A G.711 companding law. */
export type G711Law = "mulaw" | "alaw";

/** Encodes PCM16 samples to G.711 bytes. */
export function encodeG711(law: G711Law, samples: Int16Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(alawmulaw[law].encode(samples));
}

/** Decodes G.711 bytes to PCM16 samples. */
export function decodeG711(law: G711Law, bytes: Uint8Array): Int16Array<ArrayBuffer> {
  return new Int16Array(alawmulaw[law].decode(bytes));
}

/** The byte value of digital silence: µ-law 0xFF, A-law 0xD5. */
export function g711Silence(law: G711Law): number {
  return law === "mulaw" ? 0xff : 0xd5;
}
