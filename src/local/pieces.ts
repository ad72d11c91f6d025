/**
 * How a response's output is cut into deltas, as the service streams it: text a few words at a
 * time, function arguments in two or three parts, audio in varying sizes (chosen by a seeded
 * PRNG, so a run is reproducible).
 */

/** A small deterministic PRNG (mulberry32) for chunk sizes. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Splits text into deltas of a few words each (spaces kept, so they concatenate back). */
export function textPieces(text: string, wordsPerPiece = 3): string[] {
  const words = text.match(/\S+\s*/g) ?? [];
  const lead = text.match(/^\s*/)?.[0] ?? "";
  const pieces: string[] = [];
  for (let i = 0; i < words.length; i += wordsPerPiece) {
    pieces.push(words.slice(i, i + wordsPerPiece).join(""));
  }
  if (pieces.length > 0) pieces[0] = lead + pieces[0];
  return pieces.length > 0 ? pieces : text === "" ? [] : [text];
}

/** Splits a JSON text into two or three argument deltas, like the service streams them. */
export function splitJson(text: string): string[] {
  if (text.length < 8) return [text];
  const third = Math.ceil(text.length / 3);
  return [text.slice(0, third), text.slice(third, 2 * third), text.slice(2 * third)].filter((s) =>
    s !== ""
  );
}
