/** Base64 checks shared by every wire that carries audio as base64 text, without decoding it. */

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Checks that a string is standard padded base64 (RFC 4648 §4) without decoding it, so the
 * pass-through path can reject garbage while never touching the audio bytes.
 */
export function isBase64(text: string): boolean {
  return text.length % 4 === 0 && BASE64.test(text);
}

/** Number of bytes a valid base64 string decodes to. */
export function base64ByteLength(text: string): number {
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  return (text.length / 4) * 3 - padding;
}
