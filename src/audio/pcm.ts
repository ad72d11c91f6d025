/**
 * PCM16 helpers. Audio is signed 16-bit little-endian mono; on little-endian hosts (every host
 * Deno ships for) an `Int16Array` view over the bytes reads it directly, without copying.
 */

/** Views the bytes of PCM16 audio as samples (no copy). The byte offset must be even. */
export function samplesOf(bytes: Uint8Array<ArrayBuffer>): Int16Array<ArrayBuffer> {
  if (bytes.byteOffset % 2 !== 0) {
    throw new RangeError(`Cannot view PCM16 samples: odd byte offset ${bytes.byteOffset}`);
  }
  return new Int16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 1);
}

/** Views samples as bytes (no copy). */
export function bytesOf(samples: Int16Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  return new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
}

/** Decodes base64 into a new byte array. */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.fromBase64(text);
}

/** Encodes bytes as standard padded base64. */
export function toBase64(bytes: Uint8Array): string {
  return bytes.toBase64();
}

/** The bytes of several arrays, one after the other, in a new array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** Milliseconds of audio in `bytes` bytes at `bytesPerMs`. */
export function durationMs(bytes: number, bytesPerMs: number): number {
  return bytes / bytesPerMs;
}
