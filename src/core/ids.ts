/** Id generation, injected where pure code needs ids. */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** Returns `prefix_` plus 21 random base62 characters, like OpenAI's ids. */
export function randomId(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(21));
  let out = `${prefix}_`;
  for (const b of bytes) out += ALPHABET[b % 62];
  return out;
}
